//! A resolver server in process, on a port-0 listener, with a real client.

use std::path::Path;
use std::sync::Arc;

use c360::serve::{ServeConfig, open_resolver, run};
use c360_crypto::LocalKeyring;
use c360_proto::common::v1::Record;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_resolver::{Resolver, ResolverConfig};
use tonic::transport::Channel;

pub type Client = ResolverServiceClient<Channel>;

pub struct TestServer {
    pub client: Client,
    pub url: String,
    pub resolver: Arc<Resolver>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A keyring shared by a test's restarts.
pub fn keyring_text() -> String {
    LocalKeyring::generate_text("kek-test").expect("keyring")
}

pub fn test_config(dir: &Path) -> ServeConfig {
    ServeConfig {
        data_dir: dir.to_path_buf(),
        resolver: ResolverConfig {
            bootstrap_records: 3_000,
            ..ResolverConfig::default()
        },
    }
}

impl TestServer {
    pub async fn start(dir: &Path, keyring: &str) -> TestServer {
        let kek = Arc::new(LocalKeyring::from_text(keyring).expect("keyring"));
        let config = test_config(dir);
        let resolver = tokio::task::spawn_blocking(move || open_resolver(&config, kek))
            .await
            .expect("join")
            .expect("resolver opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let r = resolver.clone();
        let task = tokio::spawn(async move {
            run(r, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        let url = format!("http://{addr}");
        let client = ResolverServiceClient::connect(url.clone())
            .await
            .expect("connect");
        TestServer {
            client,
            url,
            resolver,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A fresh channel to the server, for other services' clients.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .expect("url")
            .connect()
            .await
            .expect("connect")
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Open watch streams keep a graceful shutdown waiting; the test
            // is over, so do not wait for them for long.
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
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
