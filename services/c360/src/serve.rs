//! `c360 serve`: any set of the services in one process on one gRPC port.
//!
//! Services that run here call each other in process: through the ports
//! a service owns, answered by the peer's domain (`crate::in_process`), or,
//! where a service has no port for that call, its generated client over
//! the peer's generated server (no socket). The others are reached over
//! gRPC at the URLs of `[peers]`, through the same generated clients
//! (`c360_rpc::PeerChannel`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use c360_channels::{Channels, ChannelsPeers};
use c360_crypto::{KekProvider, KeyCustodian, LocalKeyring};
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_resolver::Resolver;
use c360_resolver::grpc::ResolverGrpc;
use c360_rpc::{Caller, Peer, PeerChannel, Role};
use c360_search::{Search, SearchPeers};
use c360_storage::StorageConfig;
use c360_vault::{RemoteCustodian, Vault, VaultPeers};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

use crate::auth::{Gate, GateLayer, RateLimiter, Secret, TokenStore};
use crate::config::{Config, ServiceKind};
use crate::metrics::Metrics;

/// Environment variable holding the key-encryption keyring (text).
pub const KEK_ENV: &str = "C360_KEK";
/// Environment variable naming a keyring file (a mounted Secret).
pub const KEK_FILE_ENV: &str = "C360_KEK_FILE";
/// Environment variable with the token this process uses to call peers.
pub const PEER_TOKEN_ENV: &str = "C360_PEER_TOKEN";

/// gRPC names of the services, as health checks know them.
const RESOLVER_NAME: &str = "c360.resolver.v1.ResolverService";
const VAULT_NAME: &str = "c360.vault.v1.VaultService";
const CHANNELS_NAME: &str = "c360.channels.v1.ChannelService";
const SEARCH_NAME: &str = "c360.search.v1.SearchService";

/// Applies the message-size limits to a generated server.
macro_rules! limited {
    ($server:expr, $config:expr) => {
        $server
            .max_decoding_message_size($config.limits.max_message_bytes)
            .max_encoding_message_size($config.limits.max_message_bytes)
    };
}

/// Loads the key-encryption keyring: from `C360_KEK` (text) or
/// `C360_KEK_FILE` if set (a Kubernetes Secret), else from
/// `<data_dir>/kek.keyring`, created on first start.
pub fn load_keyring(data_dir: &Path) -> anyhow::Result<LocalKeyring> {
    if std::env::var_os(KEK_ENV).is_some() {
        return LocalKeyring::from_env(KEK_ENV).context("key-encryption key from C360_KEK");
    }
    if let Some(path) = std::env::var_os(KEK_FILE_ENV) {
        let path = PathBuf::from(path);
        crate::private::check_secret_file(&path, "the key-encryption keyring")?;
        return LocalKeyring::from_file(&path)
            .with_context(|| format!("key-encryption key {}", path.display()));
    }
    let path = data_dir.join("kek.keyring");
    if !path.exists() {
        crate::private::create_dir(data_dir)?;
        let text = LocalKeyring::generate_text("kek-1")?;
        crate::private::write_new(&path, &text)?;
        eprintln!(
            "created a key-encryption key in {} (keep it apart from backups of the data)",
            path.display()
        );
    }
    crate::private::check_secret_file(&path, "the key-encryption keyring")?;
    LocalKeyring::from_file(&path).with_context(|| format!("key-encryption key {}", path.display()))
}

/// Opens the resolver on its store (`c360_storage::open`); a new store
/// starts with a model learned from `bootstrap_records` generated records.
pub fn open_resolver(
    storage: &StorageConfig,
    config: c360_resolver::ResolverConfig,
    bootstrap_records: usize,
    kek: Arc<dyn KekProvider>,
    custodian: Option<Arc<dyn KeyCustodian>>,
) -> anyhow::Result<Arc<Resolver>> {
    let store =
        c360_storage::open(storage, &c360_resolver::STORAGE).with_context(|| {
            match storage.dir_of(&c360_resolver::STORAGE) {
                Some(dir) => format!("cannot open the store in {}", dir.display()),
                None => "cannot open the resolver's store".to_string(),
            }
        })?;
    let matching = config.matching.clone();
    let first_model = || crate::bootstrap::first_model(bootstrap_records, &matching);
    let resolver = Resolver::open_with_custodian(store, kek, config, custodian, first_model)
        .context("cannot open the resolver")?;
    Ok(Arc::new(resolver))
}

/// Whether opening the resolver failed for want of its key custodian.
fn custody_failed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<c360_resolver::Error>(),
            Some(c360_resolver::Error::Crypto(c360_crypto::Error::Custody(_)))
        )
    })
}

/// The identity of an in-process call that no service named (none should:
/// each co-located service calls its peers as itself, `as_caller`).
fn unnamed_peer() -> Caller {
    Caller::new("internal", Role::Service)
}

/// An endpoint for `url`; `https://` URLs get TLS with the web roots and,
/// when given, `ca_file` (shared by peers and the CLI).
pub fn endpoint(url: &str, ca_file: Option<&Path>) -> anyhow::Result<tonic::transport::Endpoint> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_string())
        .with_context(|| format!("invalid server address {url:?}"))?
        .connect_timeout(Duration::from_secs(5));
    if url.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls)?;
    }
    Ok(endpoint)
}

/// A channel to a remote peer (`http://` or `https://` URL).
async fn remote_peer(url: &str, config: &Config) -> anyhow::Result<PeerChannel> {
    let endpoint = endpoint(url, config.peers.ca_file.as_deref())
        .with_context(|| format!("peers: {url:?}"))?;
    let token = std::env::var(PEER_TOKEN_ENV).ok();
    c360_rpc::remote(
        endpoint.connect_lazy(),
        token.as_deref(),
        Some(crate::telemetry::inject_hook()),
    )
    .map_err(|e| anyhow::anyhow!("peer {url}: {e}"))
}

/// The open services of one process, ready to serve.
pub struct Platform {
    config: Config,
    services: Vec<ServiceKind>,
    resolver: Option<Arc<Resolver>>,
    /// The vault the resolver asks what it may disclose (GetClient).
    resolver_vault: Option<VaultServiceClient<PeerChannel>>,
    /// The vault as search calls it, to decide what hits disclose.
    search_vault: Option<VaultServiceClient<PeerChannel>>,
    vault: Option<Vault>,
    search: Option<Search>,
    channels: Option<Channels>,
    followers: Vec<(&'static str, c360_rpc::FeedProgress, c360_rpc::Follower)>,
    gate: Arc<Gate>,
    metrics: Arc<Metrics>,
    created_admin_token: Option<Secret>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// Opens the configured services (blocking work runs off the runtime).
    pub async fn open(config: Config, kek: Arc<dyn KekProvider>) -> anyhow::Result<Platform> {
        let services = config.services()?;
        let data_dir = config.server.data_dir.clone();
        crate::private::create_dir(&data_dir)?;
        // Where and in which engine every service keeps its state (search
        // its index files, in its directory of the same root).
        let storage = StorageConfig::sled(&data_dir);
        let (tokens, created_admin_token) = TokenStore::open(
            &data_dir,
            config
                .auth
                .tokens_file
                .clone()
                .or_else(|| std::env::var_os(crate::auth::TOKENS_FILE_ENV).map(PathBuf::from))
                .as_deref(),
            std::env::var(crate::auth::BOOTSTRAP_ENV).ok(),
        )?;
        let metrics = Arc::new(Metrics::new());
        let gate = Arc::new(Gate {
            tokens,
            limiter: RateLimiter::new(
                config.limits.requests_per_second_per_caller,
                config.limits.burst_requests,
            ),
            metrics: metrics.clone(),
            default_timeout: Duration::from_secs(config.limits.default_timeout_secs),
            methods: crate::methods::Methods::served()?,
            streams: crate::streams::StreamSlots::new(config.limits.max_streams_per_caller),
            stream_idle_timeout: match config.limits.stream_idle_timeout_secs {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
            max_message_bytes: config.limits.max_message_bytes,
        });

        // The vault opens first: it holds the data keys the resolver writes
        // its records under. It calls the resolver back (erasure) through a
        // channel bound once the resolver is open.
        let late_resolver = c360_rpc::LatePeer::default();
        let resolver_peer: Option<PeerChannel> = match (
            services.contains(&ServiceKind::Resolver),
            &config.peers.resolver,
        ) {
            (true, _) => Some(late_resolver.channel()),
            (false, Some(url)) => Some(remote_peer(url, &config).await?),
            (false, None) => None,
        };
        // Each co-located service calls the resolver as itself.
        let resolver_client = |me: Peer| {
            resolver_peer
                .clone()
                .map(|c| ResolverServiceClient::new(c360_rpc::as_caller(c, Caller::peer(me))))
        };
        let needs_resolver = |service: &str| {
            anyhow::anyhow!(
                "{service} follows the resolver's event feed: run the resolver in this process or set peers.resolver"
            )
        };

        // With the resolver in this process, the vault's resolver port is
        // its domain, bound once it is open; else its gRPC client.
        let local_resolver = services
            .contains(&ServiceKind::Resolver)
            .then(crate::in_process::LocalResolver::default);
        let resolver_for_vault = local_resolver
            .clone()
            .map(crate::in_process::ResolverForVault);
        let vault = if services.contains(&ServiceKind::Vault) {
            let (c, k) = (config.vault.clone(), kek.clone());
            let peers = match &resolver_for_vault {
                Some(port) => VaultPeers {
                    resolver: Some(Arc::new(port.clone())),
                },
                None => VaultPeers::over_grpc(resolver_client(Peer::Vault)),
            };
            let storage = storage.clone();
            let v = tokio::task::spawn_blocking(move || Vault::open(&storage, c, k, peers))
                .await?
                .context("cannot open the vault")?;
            Some(v)
        } else {
            None
        };

        let resolver = if services.contains(&ServiceKind::Resolver) {
            // Key custody: the vault in this process, else the remote vault
            // when one is configured, else the resolver keeps its own keys.
            let remote_custody = vault.is_none() && config.peers.vault.is_some();
            let custodian: Option<Arc<dyn KeyCustodian>> = match (&vault, &config.peers.vault) {
                (Some(v), _) => Some(Arc::new(v.custodian())),
                (None, Some(url)) => Some(Arc::new(RemoteCustodian::new(
                    VaultServiceClient::new(remote_peer(url, &config).await?),
                    kek.clone(),
                    config.vault.key_cache_entries,
                ))),
                (None, None) => None,
            };
            // Stored records are decrypted at open: with a remote vault
            // that is not up yet, wait for it rather than exit.
            let mut backoff = Duration::from_millis(500);
            let r = loop {
                let rc = config.resolver.to_resolver_config()?;
                let bootstrap = config.resolver.bootstrap_records;
                let (k, c) = (kek.clone(), custodian.clone());
                let storage = storage.clone();
                match tokio::task::spawn_blocking(move || {
                    open_resolver(&storage, rc, bootstrap, k, c)
                })
                .await?
                {
                    Ok(r) => break r,
                    Err(e) if remote_custody && custody_failed(&e) => {
                        tracing::warn!(error = %format!("{e:#}"), "the vault holding the resolver's keys is not reachable yet; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                    Err(e) => return Err(e),
                }
            };
            let probe = r.clone();
            metrics.watch_review_queue(move || probe.open_reviews() as i64);
            if let Some(local) = &local_resolver {
                local.bind(r.clone());
            }
            late_resolver.bind(c360_rpc::in_process(
                limited!(ResolverGrpc::new(r.clone()).into_server(), config),
                unnamed_peer(),
            ));
            Some(r)
        } else {
            None
        };
        let vault_peer = match (&vault, &config.peers.vault) {
            (Some(v), _) => Some(c360_rpc::in_process(
                limited!(v.grpc(), config),
                unnamed_peer(),
            )),
            (None, Some(url)) => Some(remote_peer(url, &config).await?),
            (None, None) => None,
        };

        let vault_as = |me: Peer| {
            vault_peer
                .clone()
                .map(|c| VaultServiceClient::new(c360_rpc::as_caller(c, Caller::peer(me))))
        };
        let resolver_vault = vault_as(Peer::Resolver);
        let search_vault = vault_as(Peer::Search);

        let search = if services.contains(&ServiceKind::Search) {
            let (c, k) = (config.search.clone(), kek.clone());
            let storage = storage.clone();
            // The resolver's domain when it runs here, else its gRPC client.
            let peers = match &resolver {
                Some(r) => SearchPeers {
                    resolver: Some(Arc::new(crate::in_process::ResolverGolden(r.clone()))),
                },
                None => SearchPeers::over_grpc(resolver_client(Peer::Search)),
            };
            let s = tokio::task::spawn_blocking(move || Search::open(&storage, c, k, peers))
                .await?
                .context("cannot open the search index")?;
            Some(s)
        } else {
            None
        };

        let channels = if services.contains(&ServiceKind::Channels) {
            let (c, k) = (config.channels.clone(), kek.clone());
            let storage = storage.clone();
            // The vault's and the resolver's domains when they run here,
            // else their gRPC clients.
            let mut peers =
                ChannelsPeers::over_grpc(vault_as(Peer::Channels), resolver_client(Peer::Channels));
            if let Some(v) = &vault {
                peers.vault = Some(Arc::new(crate::in_process::VaultForChannels::new(
                    v.clone(),
                )));
            }
            if let Some(local) = &local_resolver {
                peers.resolver = Some(Arc::new(crate::in_process::ResolverForChannels(
                    local.clone(),
                )));
            }
            let ch = tokio::task::spawn_blocking(move || Channels::open(&storage, c, k, peers))
                .await?
                .context("cannot open the channels service")?;
            Some(ch)
        } else {
            None
        };

        let mut handlers: Vec<(&'static str, Peer, Arc<dyn c360_rpc::FeedHandler>)> = Vec::new();
        if let Some(v) = &vault {
            handlers.push(("vault", Peer::Vault, v.feed_handler()));
        }
        if let Some(s) = &search {
            handlers.push(("search", Peer::Search, s.feed_handler()));
        }
        if let Some(c) = &channels {
            handlers.push(("channels", Peer::Channels, c.feed_handler()));
        }
        let mut followers = Vec::new();
        for (name, peer, handler) in handlers {
            let client = resolver_client(peer).ok_or_else(|| needs_resolver(name))?;
            let (progress, task) = c360_rpc::follow_feed(client, handler, name);
            if let Some(r) = &resolver {
                let (r, p) = (r.clone(), progress.clone());
                metrics.watch_feed_lag(name, move || {
                    r.events().head().saturating_sub(p.applied()) as i64
                });
            }
            followers.push((name, progress, task));
        }
        Ok(Platform {
            config,
            services,
            resolver,
            resolver_vault,
            search_vault,
            vault,
            search,
            channels,
            followers,
            gate,
            metrics,
            created_admin_token,
        })
    }

    pub fn resolver(&self) -> Option<&Arc<Resolver>> {
        self.resolver.as_ref()
    }

    pub fn search(&self) -> Option<&Search> {
        self.search.as_ref()
    }

    /// The admin token minted because the store had none (show it once).
    pub fn take_created_admin_token(&mut self) -> Option<Secret> {
        self.created_admin_token.take()
    }

    /// Progress of the event-feed followers (for tests and metrics).
    pub fn feed_progress(&self, follower: &str) -> Option<c360_rpc::FeedProgress> {
        self.followers
            .iter()
            .find(|(n, _, _)| *n == follower)
            .map(|(_, p, _)| p.clone())
    }

    /// Serves until `shutdown` resolves, then: health NOT_SERVING, drain
    /// in-flight calls (up to `server.shutdown_grace_secs`), stop the
    /// followers, flush the stores.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        metrics_listener: Option<TcpListener>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let mut names: Vec<&'static str> = vec![""];
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(c360_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(c360_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        // Timeouts are the gate's (see `crate::deadline`), not tonic's.
        //
        // Flow control: clients such as grpcio send each message as its own
        // DATA frame. h2 charges every small frame waiting for the handler
        // against a connection budget of half the connection window and
        // closes the connection (GOAWAY ENHANCE_YOUR_CALM,
        // "too_many_data_frames") when it runs out. Handlers read their
        // request streams continuously into bounded queues (`Ingest`), so
        // frames wait in h2 only while a queue is full, and then at most a
        // call's window of them: a small call window under a large
        // connection window keeps that within the budget (a 64 KiB window of
        // ~100-byte messages charges ~94 KiB of a 4 MiB budget).
        let limits = &self.config.limits;
        let mut builder = tonic::transport::Server::builder()
            .initial_stream_window_size(limits.http2_stream_window_bytes)
            .initial_connection_window_size(limits.http2_connection_window_bytes);
        if let Some(tls) = server_tls(&self.config)? {
            builder = builder.tls_config(tls)?;
        }
        let mut router = builder
            .layer(GateLayer(self.gate.clone()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        if let Some(r) = &self.resolver {
            router = router.add_service(limited!(
                ResolverGrpc::new(r.clone())
                    .with_vault(self.resolver_vault.clone())
                    .into_server(),
                self.config
            ));
            names.push(RESOLVER_NAME);
        }
        if let Some(v) = &self.vault {
            router = router.add_service(limited!(v.grpc(), self.config));
            names.push(VAULT_NAME);
        }
        if let Some(s) = &self.search {
            router = router.add_service(limited!(s.grpc(self.search_vault.clone()), self.config));
            names.push(SEARCH_NAME);
        }
        if let Some(c) = &self.channels {
            router = router.add_service(limited!(c.grpc(), self.config));
            names.push(CHANNELS_NAME);
        }
        for name in &names {
            health_reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }

        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics_task = metrics_listener.map(|l| {
            let m = self.metrics.clone();
            tokio::spawn(async move {
                let stop = async {
                    let _ = metrics_stopped.await;
                };
                if let Err(e) = crate::metrics::serve(m, l, stop).await {
                    tracing::warn!(error = %e, "metrics endpoint failed");
                }
            })
        });

        let reporter = health_reporter.clone();
        let grace = Duration::from_secs(self.config.server.shutdown_grace_secs);
        let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutting down: health NOT_SERVING, draining");
            for name in &names {
                reporter
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
            let _ = drain_tx.send(());
        };
        // Small request/response calls: no Nagle delay on accepted sockets.
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |conn| {
                conn.inspect(|s| {
                    let _ = s.set_nodelay(true);
                })
            },
        );
        let serving = router.serve_with_incoming_shutdown(incoming, stop);
        tokio::pin!(serving);
        // Serve; once shutdown starts, give in-flight calls `grace` to end.
        let result = tokio::select! {
            r = &mut serving => r,
            _ = async {
                let _ = drain_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("grace period over; closing remaining calls");
                Ok(())
            }
        };
        // Stop the followers and wait until they are gone: they hold the
        // services (and so their stores) until dropped.
        for (_, _, follower) in std::mem::take(&mut self.followers) {
            follower.stop().await;
        }
        if let Some(v) = &self.vault {
            v.stop_background().await;
        }
        let _ = stop_metrics.send(());
        if let Some(t) = metrics_task {
            let _ = t.await;
        }
        if let Some(r) = &self.resolver {
            let r = r.clone();
            tokio::task::spawn_blocking(move || r.store().flush())
                .await?
                .context("cannot flush the resolver store")?;
        }
        result?;
        Ok(())
    }
}

fn server_tls(config: &Config) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    let tls = &config.server.tls;
    let (cert, key) = match (&tls.cert_file, &tls.key_file) {
        (None, None) => {
            if tls.client_ca_file.is_some() {
                bail!("server.tls.client_ca_file needs cert_file and key_file");
            }
            return Ok(None);
        }
        (Some(c), Some(k)) => (c, k),
        _ => bail!("server.tls: set both cert_file and key_file"),
    };
    let read =
        |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let mut out = tonic::transport::ServerTlsConfig::new().identity(
        tonic::transport::Identity::from_pem(read(cert)?, read(key)?),
    );
    if let Some(ca) = &tls.client_ca_file {
        out = out.client_ca_root(tonic::transport::Certificate::from_pem(read(ca)?));
    }
    Ok(Some(out))
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML configuration file (see c360.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Which services to run: all, or a comma list of resolver, vault,
    /// search, channels.
    #[arg(long)]
    services: Option<String>,
    /// Where the embedded stores live.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// gRPC address (port 0 picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// Address of the Prometheus /metrics endpoint.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Synthetic records the first matching model is trained on, when the
    /// store has no model yet.
    #[arg(long)]
    bootstrap_records: Option<usize>,
    /// Print the merged configuration and exit.
    #[arg(long)]
    dump_config: bool,
}

impl Args {
    fn flags(&self) -> toml::Table {
        let mut server = toml::Table::new();
        if let Some(s) = &self.services {
            server.insert("services".into(), s.clone().into());
        }
        if let Some(d) = &self.data_dir {
            server.insert("data_dir".into(), d.display().to_string().into());
        }
        if let Some(l) = &self.listen {
            server.insert("listen".into(), l.clone().into());
        }
        if let Some(m) = &self.metrics_listen {
            server.insert("metrics_listen".into(), m.clone().into());
        }
        let mut flags = toml::Table::new();
        flags.insert("server".into(), toml::Value::Table(server));
        if let Some(n) = self.bootstrap_records {
            let mut resolver = toml::Table::new();
            resolver.insert("bootstrap_records".into(), (n as i64).into());
            flags.insert("resolver".into(), toml::Value::Table(resolver));
        }
        flags
    }
}

/// Parses an address for a listener.
fn parse_addr(text: &str, what: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .with_context(|| format!("{what}: not an address like 0.0.0.0:50051: {text:?}"))
}

pub fn command(args: Args) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), std::env::vars(), args.flags())?;
    if args.dump_config {
        print!("{}", config.to_toml()?);
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let telemetry = crate::telemetry::init(&config.telemetry, "c360")?;
        let listen = parse_addr(&config.server.listen, "server.listen")?;
        let metrics_listener = match config.server.metrics_listen.as_str() {
            "" => None,
            text => {
                let addr = parse_addr(text, "server.metrics_listen")?;
                Some(
                    TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("cannot listen on {addr}"))?,
                )
            }
        };
        let kek: Arc<dyn KekProvider> = Arc::new(load_keyring(&config.server.data_dir)?);
        let mut platform = Platform::open(config, kek).await?;
        if let Some(token) = platform.take_created_admin_token() {
            println!(
                "created an admin token (shown once; keep it safe): {}",
                token.expose()
            );
        }
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let shutdown = shutdown_signal();
        let names: Vec<&str> = platform.services.iter().map(|s| s.name()).collect();
        let counts = platform
            .resolver()
            .map(|r| {
                let (records, clients) = r.counts();
                format!(", {records} records, {clients} clients")
            })
            .unwrap_or_default();
        // Tests and scripts read this line to find the port.
        println!(
            "c360 listening on {} ({}{counts})",
            listener.local_addr()?,
            names.join(",")
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        let result = platform.serve(listener, metrics_listener, shutdown).await;
        telemetry.shutdown();
        result
    })
}

/// Ctrl-C or SIGTERM (Kubernetes stops pods with SIGTERM). The SIGTERM
/// handler is installed when this is called, not when the future is first
/// polled, so a signal right after the "listening" line is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
