//! A resolver server in process, on a port-0 listener, with a real client.

use std::path::Path;
use std::sync::Arc;

use c360::config::Config;
use c360::serve::Platform;
use c360_crypto::LocalKeyring;
use c360_proto::common::v1::Record;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_resolver::Resolver;
use c360_rpc::{PeerChannel, Role};

pub type Client = ResolverServiceClient<PeerChannel>;

pub struct TestServer {
    pub client: Client,
    pub url: String,
    /// An admin token.
    pub token: String,
    pub resolver: Arc<Resolver>,
    pub dir: std::path::PathBuf,
    #[allow(dead_code)] // read once vault, search and channels follow the feed
    pub platform_progress: Vec<(&'static str, c360_rpc::FeedProgress)>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A keyring shared by a test's restarts.
pub fn keyring_text() -> String {
    LocalKeyring::generate_text("kek-test").expect("keyring")
}

/// The configuration tests run with: a small bootstrap model.
pub fn test_config(dir: &Path, services: &str) -> Config {
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    config.server.services = services.to_string();
    config.resolver.bootstrap_records = 3_000;
    config
}

/// A token of `role` named `name`, minted once per data directory (kept in
/// a file beside the store so restarts reuse it). A source system's token
/// may write any source system's records.
pub fn token_for(dir: &Path, name: &str, role: Role) -> String {
    let grants = c360::auth::Grants {
        sources: if role == Role::Source {
            c360_rpc::Sources::Any
        } else {
            c360_rpc::Sources::None
        },
        peer: None,
    };
    token_with(dir, name, role, &grants)
}

/// A token of `role` named `name` with `grants`, minted once per data
/// directory.
pub fn token_with(dir: &Path, name: &str, role: Role, grants: &c360::auth::Grants) -> String {
    let path = dir.join(format!("{name}.test-token"));
    if let Ok(t) = std::fs::read_to_string(&path) {
        return t;
    }
    let t = c360::auth::create_token(dir, name, role, grants).expect("token");
    std::fs::write(&path, t.expose()).expect("keep token");
    t.expose().to_string()
}

/// A channel to `url` carrying `token`.
pub async fn channel_to(url: &str, token: &str) -> PeerChannel {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    c360_rpc::remote(channel, Some(token), None).expect("channel")
}

impl TestServer {
    pub async fn start(dir: &Path, keyring: &str) -> TestServer {
        Self::start_with(test_config(dir, "resolver"), keyring).await
    }

    pub async fn start_with(config: Config, keyring: &str) -> TestServer {
        let dir = config.server.data_dir.clone();
        std::fs::create_dir_all(&dir).expect("data dir");
        let token = token_for(&dir, "test-admin", Role::Admin);
        let kek = Arc::new(LocalKeyring::from_text(keyring).expect("keyring"));
        let platform = Platform::open(config, kek).await.expect("platform opens");
        let resolver = platform.resolver().cloned().expect("a resolver");
        let platform_progress = ["vault", "search", "channels"]
            .into_iter()
            .filter_map(|n| platform.feed_progress(n).map(|p| (n, p)))
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            platform
                .serve(listener, None, async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
        });
        let url = format!("http://{addr}");
        let client = ResolverServiceClient::new(channel_to(&url, &token).await);
        TestServer {
            client,
            url,
            token,
            resolver,
            dir,
            platform_progress,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A fresh admin channel to the server, for other services' clients.
    pub async fn channel(&self) -> PeerChannel {
        channel_to(&self.url, &self.token).await
    }

    /// A channel authenticated with a token of `role`.
    pub async fn channel_as(&self, name: &str, role: Role) -> PeerChannel {
        let token = token_for(&self.dir, name, role);
        channel_to(&self.url, &token).await
    }

    /// Waits until the follower `name` has applied the resolver's feed up
    /// to its current head.
    #[allow(dead_code)] // used once vault, search and channels follow the feed
    pub async fn wait_for_followers(&self) {
        let head = self.resolver.events().head();
        for (name, progress) in &self.platform_progress {
            let mut p = progress.clone();
            let waited =
                tokio::time::timeout(std::time::Duration::from_secs(60), p.wait_for(head)).await;
            assert!(
                matches!(waited, Ok(true)),
                "follower {name} stuck at {} of {head}",
                p.applied()
            );
        }
    }

    /// Stops the server. Once every clone of its channels is dropped too,
    /// its connections close and the stores are released when this returns.
    pub async fn stop(mut self) {
        // Our own connection would keep the graceful shutdown waiting.
        self.client = ResolverServiceClient::new(c360_rpc::LatePeer::default().channel());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Open watch streams keep a graceful shutdown waiting; the test
            // is over, so do not wait for them for long.
            let mut task = task;
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                // Cancelled, and then awaited: only then are the services
                // (and their stores' locks) dropped.
                task.abort();
                let _ = task.await;
            }
        }
    }
}

pub fn record(source: &str, id: &str) -> Record {
    Record {
        source_system: source.to_string(),
        source_record_id: id.to_string(),
        ..Record::default()
    }
}

pub async fn resolve(client: &mut Client, record: Record, dry_run: bool) -> api::ResolveResponse {
    client
        .resolve(api::ResolveRequest {
            record: Some(record),
            dry_run,
            strict: false,
        })
        .await
        .expect("resolve")
        .into_inner()
}

/// Aminata Traoré as the core banking system knows her.
pub fn aminata_core() -> Record {
    Record {
        given_name: "Aminata".into(),
        surname: "Traoré".into(),
        sex: "F".into(),
        date_of_birth: "12/03/1985".into(),
        national_id: "CI 0012 3456 78".into(),
        phone: vec!["07 07 12 34 56".into()],
        address: "Cocody II Plateaux, Ilot 20".into(),
        locality: "Abidjan".into(),
        ..record("core_banking", "CBS-0001")
    }
}

/// The same woman in the mobile-money system.
pub fn aminata_mobile() -> Record {
    Record {
        full_name: "TRAORE Aminata".into(),
        date_of_birth: "1985-03-12".into(),
        phone: vec!["+225 0707123456".into()],
        locality: "Abidjan".into(),
        ..record("mobile_money", "MM-77")
    }
}

/// Her daughter: same surname, phone and address, another person.
pub fn fatou_daughter() -> Record {
    Record {
        given_name: "Fatou".into(),
        surname: "Traoré".into(),
        sex: "F".into(),
        date_of_birth: "04/07/2004".into(),
        phone: vec!["0707123456".into()],
        address: "Cocody II Plateaux, Ilot 20".into(),
        locality: "Abidjan".into(),
        ..record("agent_app", "AGT-5")
    }
}

/// An unrelated man.
pub fn moussa() -> Record {
    Record {
        given_name: "Moussa".into(),
        surname: "Diallo".into(),
        sex: "M".into(),
        date_of_birth: "01/01/1970".into(),
        national_id: "1751198501234".into(),
        phone: vec!["+221 77 123 45 67".into()],
        locality: "Dakar".into(),
        country: "SN".into(),
        ..record("core_banking", "CBS-0002")
    }
}
