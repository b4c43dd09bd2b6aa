//! What the service benchmarks share, written once: a run's data directory
//! and keyring, the vault opened there, the runtime, a gRPC service served
//! on loopback with connections to it, and calls sent at a fixed rate.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use c360_crypto::LocalKeyring;
use c360_rpc::{Lookup, LookupFuture, NumberIssuer, NumberStatus};
use c360_storage::StorageConfig;
use c360_vault::{Vault, VaultConfig, VaultPeers};
use tonic::service::Routes;

use crate::percentile;

/// One run's data: a directory of its own
/// (`<temp>/c360-bench-<name>-<pid>`, created) and a fresh key-encryption
/// keyring (its text, to reopen the data with).
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    pub keyring: String,
}

impl Run {
    pub fn new(name: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("c360-bench-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("bench dir");
        let keyring = LocalKeyring::generate_text("kek-bench").expect("keyring");
        Run { dir, keyring }
    }

    /// The keyring as a key-encryption key provider.
    pub fn kek(&self) -> Arc<LocalKeyring> {
        Arc::new(LocalKeyring::from_text(&self.keyring).expect("keyring"))
    }

    /// Sled stores under the run's directory.
    pub fn storage(&self) -> StorageConfig {
        StorageConfig::sled(&self.dir)
    }

    /// The vault on the run's storage (default configuration), calling
    /// `peers`.
    pub fn open_vault(&self, peers: VaultPeers) -> Vault {
        Vault::open(&self.storage(), VaultConfig::default(), self.kek(), peers).expect("vault")
    }
}

/// A resolver, as the vault calls it, that issued every number (the vault
/// asks before it seals a value or records a consent) and has nothing to
/// erase.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssuesEveryNumber;

impl NumberIssuer for IssuesEveryNumber {
    fn lookup(&self, numbers: Vec<String>) -> LookupFuture<'_> {
        Box::pin(std::future::ready(Ok(Lookup {
            statuses: vec![NumberStatus::Active; numbers.len()],
            feed_offset: 0,
        })))
    }
}

impl c360_vault::Resolver for IssuesEveryNumber {
    fn erase<'a>(
        &'a self,
        _number: &'a str,
        _reason: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(std::future::ready(true))
    }

    fn issuer(&self) -> Arc<dyn NumberIssuer> {
        Arc::new(IssuesEveryNumber)
    }
}

/// The multi-threaded runtime the benchmarks run in.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A service served on loopback until [`Served::stop`].
#[derive(Debug)]
pub struct Served {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Served {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves `routes` (`Routes::new(service)`) on a 127.0.0.1:0 listener,
/// accepted sockets without Nagle, as `c360 serve` sets them.
pub async fn serve(routes: Routes) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            s.inspect(|s| {
                let _ = s.set_nodelay(true);
            })
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        // The builder's own TCP settings do not reach sockets given as
        // `incoming`: Nagle is turned off on each above.
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    Served { addr, stop, task }
}

/// `n` connections to `addr` (without Nagle).
pub async fn connect(addr: SocketAddr, n: usize) -> Vec<tonic::transport::Channel> {
    let mut pool = Vec::with_capacity(n);
    for _ in 0..n {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect");
        pool.push(channel);
    }
    pool
}

/// Calls made at a fixed rate: how long each took, sorted, the rate
/// achieved, and what each answered (in the order made).
#[derive(Debug)]
pub struct Paced<T> {
    pub latencies: Vec<Duration>,
    pub achieved: f64,
    pub answers: Vec<T>,
}

impl<T> Paced<T> {
    /// "p50 … ms, p99 … ms, max … ms".
    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(percentile(&self.latencies, 0.50)),
            ms(percentile(&self.latencies, 0.99)),
            ms(self.latencies.last().copied().unwrap_or_default()),
        )
    }
}

/// `total` calls started at `rate` per second whatever the answers' pace
/// (many in flight), each in its own task: `call(i)` makes the `i`-th, and
/// is timed from when its task first runs it.
pub async fn at_rate<T, F, Fut>(rate: usize, total: usize, mut call: F) -> Paced<T>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut handles = Vec::with_capacity(total);
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let made = call(i);
        handles.push(tokio::spawn(async move {
            let sent = Instant::now();
            let answer = made.await;
            (sent.elapsed(), answer)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut answers = Vec::with_capacity(total);
    for h in handles {
        let (latency, answer) = h.await.expect("join");
        latencies.push(latency);
        answers.push(answer);
    }
    let achieved = total as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Paced {
        latencies,
        achieved,
        answers,
    }
}
