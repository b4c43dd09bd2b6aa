//! Dry-run `Resolve` latency as an outside client sees it (issue 16 point
//! 9): a release `c360 serve` process holding N generated clients, an
//! open-loop client that sends at a fixed rate whatever the answers do and
//! measures each call from its scheduled send time (so a stall counts for
//! every call it delays), on one HTTP/2 connection as a typical client
//! library uses.
//!
//! Two query sets: other generated records (same generator, another seed),
//! and records carrying the most common full names of the loaded data with
//! a random birth date (the worst case for candidate counts).
//!
//! ```text
//! cargo build --release -p c360
//! C360_BENCH_RECORDS=1000000 C360_BENCH_RATE=1000 C360_BENCH_SECONDS=30 \
//!   C360_BENCH_SERVER_CPUS=0 C360_BENCH_KEEP=/tmp/outside-1m \
//!   taskset -c 1 cargo bench -p c360-benches --bench outside_latency
//! ```
//!
//! With `C360_BENCH_KEEP` the loaded data (and its KEK) stay there and the
//! next run skips the load. Targets: p99 ≤ 10 ms at 1,000/s with 1M
//! clients, server on one core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use c360_benches::outside::ServerProcess;
use c360_benches::{env_usize, percentile};
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_rpc::{PeerChannel, Role};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const KEK_FILE: &str = "bench.kek";
const LOADED: &str = "bench.loaded";

fn main() {
    let records = env_usize("C360_BENCH_RECORDS", 100_000);
    let rate = env_usize("C360_BENCH_RATE", 1_000);
    let seconds = env_usize("C360_BENCH_SECONDS", 20);
    let dir = std::env::var_os("C360_BENCH_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("c360-outside-{}", std::process::id()))
        });
    std::fs::create_dir_all(&dir).expect("bench dir");
    let keyring = match std::fs::read_to_string(dir.join(KEK_FILE)) {
        Ok(k) => k,
        Err(_) => {
            let k = c360_crypto::LocalKeyring::generate_text("kek-bench").expect("keyring");
            std::fs::write(dir.join(KEK_FILE), &k).expect("keep the KEK");
            k
        }
    };
    let source = token(&dir, "bench-source", Role::Source);
    let app = token(&dir, "bench-app", Role::App);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let loaded: Vec<pb::Record> =
        c360_datagen::generate(&c360_datagen::GenConfig { records, seed: 1 })
            .map(|g| c360_resolver::convert::from_core(&g.record))
            .collect();
    let server = ServerProcess::start(&dir.join("data"), &keyring);
    runtime.block_on(async {
        if !dir.join(LOADED).exists() {
            let t = Instant::now();
            let n = load(&server.url(), &source, loaded.clone()).await;
            println!(
                "loaded {n} records in {:.1?} ({:.0}/s)",
                t.elapsed(),
                n as f64 / t.elapsed().as_secs_f64()
            );
            std::fs::write(dir.join(LOADED), records.to_string()).expect("marker");
        }
        let channel = connect(&server.url(), &app).await;
        let total = rate * seconds;
        let others: Vec<pb::Record> = c360_datagen::generate(&c360_datagen::GenConfig {
            records: total,
            seed: 99,
        })
        .map(|g| c360_resolver::convert::from_core(&g.record))
        .collect();
        let common = common_names(&loaded, total);
        let pid = server.child.id();
        // Warm up the connection and the server's caches a little.
        open_loop(&channel, Query::Resolve(others[..rate.min(others.len())].to_vec()), rate).await;
        let health: Vec<()> = vec![(); total];
        for (name, queries) in [
            ("health checks (transport and gate only)", Query::Health(health)),
            ("generated records", Query::Resolve(others)),
            ("common names", Query::Resolve(common)),
        ] {
            let cpu = cpu_seconds(pid);
            let r = open_loop(&channel, queries, rate).await;
            let cpu = cpu_seconds(pid) - cpu;
            let calls = r.latencies.len().max(1);
            println!(
                "{name}: {} calls at {rate}/s over {records} loaded: p50 {:.2?} p90 {:.2?} p99 {:.2?} p99.9 {:.2?} max {:.2?}; {} errors; server CPU {:.3} ms a call; mean candidates {:.1}",
                r.latencies.len(),
                percentile(&r.latencies, 0.50),
                percentile(&r.latencies, 0.90),
                percentile(&r.latencies, 0.99),
                percentile(&r.latencies, 0.999),
                r.latencies.last().copied().unwrap_or_default(),
                r.errors,
                cpu * 1000.0 / calls as f64,
                r.candidates as f64 / calls as f64,
            );
        }
    });
    server.stop();
    if std::env::var_os("C360_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn token(dir: &Path, name: &str, role: Role) -> String {
    let path = dir.join(format!("{name}.token"));
    if let Ok(t) = std::fs::read_to_string(&path) {
        return t;
    }
    // Writing roles write every source system's records here.
    let sources = match role {
        Role::Source | Role::Steward => c360_rpc::Sources::Any,
        _ => c360_rpc::Sources::None,
    };
    let grants = c360::auth::Grants {
        sources,
        peer: None,
    };
    let t = c360::auth::create_token(&dir.join("data"), name, role, &grants).expect("token");
    std::fs::write(&path, t.expose()).expect("keep the token");
    t.expose().to_string()
}

async fn connect(url: &str, token: &str) -> PeerChannel {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    c360_rpc::remote(channel, Some(token), None).expect("channel")
}

async fn load(url: &str, token: &str, records: Vec<pb::Record>) -> usize {
    let mut client = ResolverServiceClient::new(connect(url, token).await);
    let requests = tokio_stream::iter(records.into_iter().map(|r| api::IngestRequest {
        record: Some(r),
        strict: false,
    }));
    let mut answers = client.ingest(requests).await.expect("ingest").into_inner();
    let mut n = 0;
    while let Some(a) = answers.next().await {
        a.expect("ingest answer");
        n += 1;
    }
    n
}

/// `n` queries with the commonest (given name, surname) pairs of the
/// loaded records, each with a random birth date and nothing else.
fn common_names(loaded: &[pb::Record], n: usize) -> Vec<pb::Record> {
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for r in loaded {
        if !r.given_name.is_empty() && !r.surname.is_empty() {
            *counts.entry((&r.given_name, &r.surname)).or_default() += 1;
        }
    }
    let mut top: Vec<((&str, &str), usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(100);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..n)
        .map(|i| {
            let ((given, surname), _) = top[i % top.len()];
            pb::Record {
                source_system: "bench".into(),
                source_record_id: format!("q{i}"),
                given_name: given.to_string(),
                surname: surname.to_string(),
                date_of_birth: format!(
                    "{}-{:02}-{:02}",
                    rng.random_range(1950..2005),
                    rng.random_range(1..13),
                    rng.random_range(1..29)
                ),
                ..Default::default()
            }
        })
        .collect()
}

/// The server process's CPU time so far (user + system), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 14th field, stime the 15th, in clock ticks (100 a second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

enum Query {
    Resolve(Vec<pb::Record>),
    /// grpc.health.v1 Check: the same transport and gate, no work.
    Health(Vec<()>),
}

struct Measured {
    /// Sorted, from each call's scheduled send time.
    latencies: Vec<Duration>,
    errors: usize,
    candidates: usize,
}

/// Sends `queries` at `rate` per second on schedule, whatever the answers
/// do, and measures each from its scheduled time.
async fn open_loop(channel: &PeerChannel, queries: Query, rate: usize) -> Measured {
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = tokio::task::JoinSet::new();
    let mut m = Measured {
        latencies: Vec::new(),
        errors: 0,
        candidates: 0,
    };
    let note = |m: &mut Measured, (took, r): (Duration, Result<usize, tonic::Status>)| {
        m.latencies.push(took);
        match r {
            Ok(c) => m.candidates += c,
            Err(_) => m.errors += 1,
        }
    };
    let (records, checks) = match queries {
        Query::Resolve(r) => (r, 0),
        Query::Health(h) => (Vec::new(), h.len()),
    };
    let mut records = records.into_iter();
    for i in 0..records.len() + checks {
        let at = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(at).await;
        let channel = channel.clone();
        let record = records.next();
        tasks.spawn(async move {
            let r = match record {
                Some(record) => ResolverServiceClient::new(channel)
                    .resolve(api::ResolveRequest {
                        record: Some(record),
                        dry_run: true,
                        strict: false,
                    })
                    .await
                    .map(|r| r.into_inner().candidates.len()),
                None => HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(|_| 0),
            };
            (at.elapsed(), r)
        });
        while let Some(done) = tasks.try_join_next() {
            note(&mut m, done.expect("call task"));
        }
    }
    while let Some(done) = tasks.join_next().await {
        note(&mut m, done.expect("call task"));
    }
    m.latencies.sort();
    m
}
