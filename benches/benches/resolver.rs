//! The resolver over gRPC on loopback, on sled, with durable writes:
//! bulk `Ingest` throughput, `Resolve` dry-run latency at a fixed request
//! rate, and the time to reopen the store.
//!
//! ```text
//! C360_BENCH_RECORDS=100000 cargo bench -p c360-benches --bench resolver
//! C360_BENCH_SERVICES=resolver,vault ...   # keys held by the vault
//! C360_BENCH_MAX_POSTINGS=80 ...            # the resolver's hot-key bar
//! C360_BENCH_KEEP=/tmp/r1m ...              # keep the data (and its KEK) there
//! C360_BENCH_RESTARTS=3 C360_BENCH_KEEP=/tmp/r1m ...  # only time restarts of kept data
//! RUST_LOG=c360_resolver=info ...           # logs, e.g. the restart's phases
//! ```

use c360_benches::env_usize;
use c360_benches::rig;
use std::sync::Arc;
use std::time::Instant;

use c360::config::Config;
use c360::serve::{Platform, open_resolver};
use c360_benches::peak_rss_mib;
use c360_crypto::LocalKeyring;
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_resolver::ResolverConfig;
use tokio_stream::StreamExt;

fn main() {
    let _telemetry = std::env::var_os("RUST_LOG")
        .map(|_| c360::telemetry::init(&Default::default(), "c360-bench").expect("logs"));
    let records = env_usize("C360_BENCH_RECORDS", 100_000);
    let rate = env_usize("C360_BENCH_RATE", 2_000);
    let seconds = env_usize("C360_BENCH_SECONDS", 10);
    let runtime = rig::runtime();
    // C360_BENCH_KEEP: a directory that keeps the data and its KEK after
    // the run; with C360_BENCH_RESTARTS=N and data already there, only the
    // restart is timed, N times.
    let keep = std::env::var_os("C360_BENCH_KEEP").map(std::path::PathBuf::from);
    if let Some(dir) = keep.as_ref().filter(|d| d.join(KEK_FILE).exists()) {
        let keyring = std::fs::read_to_string(dir.join(KEK_FILE)).expect("kept KEK");
        let services = std::env::var("C360_BENCH_SERVICES").unwrap_or_else(|_| "resolver".into());
        for _ in 0..env_usize("C360_BENCH_RESTARTS", 1) {
            restart(dir, &keyring, &services);
        }
        return;
    }
    runtime.block_on(async move {
        let dir = keep.clone().unwrap_or_else(tempfile_dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let keyring = LocalKeyring::generate_text("kek-bench").expect("keyring");
        let mut config = Config::default();
        config.server.data_dir = dir.clone();
        // `resolver,vault` measures the resolver with the vault as the
        // custodian of its keys (the all-in-one default).
        let services = std::env::var("C360_BENCH_SERVICES").unwrap_or_else(|_| "resolver".into());
        config.server.services = services.clone();
        config.limits.requests_per_second_per_caller = 0;
        // C360_BENCH_MAX_POSTINGS: the resolver's hot-key bar (default 160).
        config.resolver.max_postings = env_usize("C360_BENCH_MAX_POSTINGS", config.resolver.max_postings);
        let token = c360::auth::create_token(&dir, "bench", c360_rpc::Role::Admin, &Default::default()).expect("token");
        let kek = Arc::new(LocalKeyring::from_text(&keyring).expect("keyring"));
        let platform = Platform::open(config, kek.clone()).await.expect("platform");
        let resolver = platform.resolver().cloned().expect("resolver");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(platform.serve(listener, None, async {
            let _ = stop_rx.await;
        }));
        let mut client = {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .expect("url")
                .connect()
                .await
                .expect("connect");
            ResolverServiceClient::new(c360_rpc::remote(channel, Some(token.expose()), None).expect("channel"))
        };

        // 1. Ingest, durable.
        let generated: Vec<pb::Record> = c360_datagen::generate(&c360_datagen::GenConfig { records, seed: 42 })
            .map(|g| c360_resolver::convert::from_core(&g.record))
            .collect();
        let probes: Vec<pb::Record> = generated.iter().step_by(7).take(5_000).cloned().collect();
        let started = Instant::now();
        let requests = tokio_stream::iter(generated.into_iter().map(|r| api::IngestRequest { record: Some(r), strict: false }));
        let mut responses = client.ingest(requests).await.expect("ingest").into_inner();
        let mut done = 0usize;
        while let Some(r) = responses.next().await {
            r.expect("ingest response");
            done += 1;
        }
        let ingest_secs = started.elapsed().as_secs_f64();
        println!(
            "ingest: {done} records in {ingest_secs:.1} s = {:.0} records/s (durable, one commit per stream chunk)",
            done as f64 / ingest_secs
        );

        // 2. Resolve dry-run at a fixed rate, many in flight.
        let total = rate * seconds;
        let paced = rig::at_rate(rate, total, |i| {
            let mut c = client.clone();
            let probe = probes[i % probes.len()].clone();
            async move {
                c.resolve(api::ResolveRequest { record: Some(probe), dry_run: true, strict: false }).await.expect("resolve");
            }
        })
        .await;
        println!("resolve dry-run: {total} requests at {:.0}/s offered {rate}/s: {}", paced.achieved, paced.summary());
        let _ = stop_tx.send(());
        let _ = server.await;
        drop(client);
        drop(resolver);

        // 3. Restart: reopen the store and rebuild the in-memory index.
        restart(&dir, &keyring, &services);
        if let Some(mib) = peak_rss_mib() {
            println!("peak RSS: {mib:.0} MiB");
        }
        if keep.is_some() {
            std::fs::write(dir.join(KEK_FILE), &keyring).expect("keep the KEK");
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
}

/// Where a kept run stores its KEK (bench data only).
const KEK_FILE: &str = "bench-kek.txt";

/// Reopens the store and rebuilds the in-memory index, timed.
fn restart(dir: &std::path::Path, keyring: &str, services: &str) {
    let started = Instant::now();
    let kek = Arc::new(LocalKeyring::from_text(keyring).expect("keyring"));
    // With the vault as custodian, its keys are fetched in one batch.
    let vault = services.contains("vault").then(|| {
        c360_vault::Vault::open(
            &c360_storage::StorageConfig::sled(dir),
            Default::default(),
            kek.clone(),
            Default::default(),
        )
        .expect("vault reopens")
    });
    let custodian = vault
        .as_ref()
        .map(|v| Arc::new(v.custodian()) as Arc<dyn c360_crypto::KeyCustodian>);
    let reopened = open_resolver(
        &c360_storage::StorageConfig::sled(dir),
        ResolverConfig {
            max_postings: env_usize(
                "C360_BENCH_MAX_POSTINGS",
                ResolverConfig::default().max_postings,
            ),
            ..ResolverConfig::default()
        },
        c360::bootstrap::DEFAULT_RECORDS,
        kek,
        custodian,
    )
    .expect("reopen");
    println!(
        "restart to serving: {:.1} s for {} records",
        started.elapsed().as_secs_f64(),
        reopened.counts().0
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("c360-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}
