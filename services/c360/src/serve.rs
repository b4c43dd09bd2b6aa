//! `c360 serve`: the services in one process on one gRPC port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use c360_crypto::{KekProvider, LocalKeyring};
use c360_resolver::grpc::ResolverGrpc;
use c360_resolver::{Resolver, ResolverConfig};
use c360_storage::SledStore;
use tokio::net::TcpListener;

/// Largest gRPC message accepted (a record is a few hundred bytes).
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;
/// Environment variable holding the key-encryption keyring.
pub const KEK_ENV: &str = "C360_KEK";

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub resolver: ResolverConfig,
}

/// Loads the key-encryption keyring: from `C360_KEK` if set (a Kubernetes
/// Secret), else from `<data_dir>/kek.keyring`, created on first start.
pub fn load_keyring(data_dir: &Path) -> anyhow::Result<LocalKeyring> {
    if std::env::var_os(KEK_ENV).is_some() {
        return LocalKeyring::from_env(KEK_ENV).context("key-encryption key from C360_KEK");
    }
    let path = data_dir.join("kek.keyring");
    if !path.exists() {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let text = LocalKeyring::generate_text("kek-1")?;
        write_private(&path, &text)?;
        eprintln!(
            "created a key-encryption key in {} (keep it apart from backups of the data)",
            path.display()
        );
    }
    LocalKeyring::from_file(&path).with_context(|| format!("key-encryption key {}", path.display()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Opens the resolver on its sled store under `data_dir`.
pub fn open_resolver(
    config: &ServeConfig,
    kek: Arc<dyn KekProvider>,
) -> anyhow::Result<Arc<Resolver>> {
    let dir = config.data_dir.join("resolver");
    let store = SledStore::open(&dir, c360_resolver::SPACES)
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    let resolver = Resolver::open(Arc::new(store), kek, config.resolver.clone())
        .context("cannot open the resolver")?;
    Ok(Arc::new(resolver))
}

/// Serves until `shutdown` resolves. Tests pass a port-0 listener.
pub async fn run(
    resolver: Arc<Resolver>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    type ResolverServer =
        c360_proto::resolver::v1::resolver_service_server::ResolverServiceServer<ResolverGrpc>;
    health_reporter.set_serving::<ResolverServer>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(c360_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(c360_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let resolver_service = ResolverGrpc::new(resolver)
        .into_server()
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let reporter = health_reporter.clone();
    let shutdown = async move {
        shutdown.await;
        reporter.set_not_serving::<ResolverServer>().await;
    };
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(resolver_service)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the embedded stores live.
    #[arg(long, default_value = "./c360-data")]
    data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Synthetic records the first matching model is trained on, when the
    /// store has no model yet.
    #[arg(long, default_value_t = 20_000)]
    bootstrap_records: usize,
}

pub fn command(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let config = ServeConfig {
            data_dir: args.data_dir,
            resolver: ResolverConfig {
                bootstrap_records: args.bootstrap_records,
                ..ResolverConfig::default()
            },
        };
        let kek: Arc<dyn KekProvider> = Arc::new(load_keyring(&config.data_dir)?);
        let resolver = open_resolver(&config, kek)?;
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let (records, clients) = resolver.counts();
        // Tests and scripts read this line to find the port.
        println!(
            "c360 listening on {} ({records} records, {clients} clients)",
            listener.local_addr()?
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        run(resolver, listener, shutdown).await
    })
}
