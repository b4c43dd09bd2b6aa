//! Python grpcio streams generated records into a release `c360 serve`
//! (issue 16 point 7): first all of them, then a second load that is
//! killed with SIGKILL midway; after a restart every record the client saw
//! acknowledged is looked up by its source id.
//!
//! ```text
//! cargo build --release -p c360
//! python3 -m venv /tmp/grpcio && /tmp/grpcio/bin/pip install -r tests/clients/requirements.txt
//! C360_PYTHON=/tmp/grpcio/bin/python C360_BENCH_RECORDS=1000000 \
//!   cargo bench -p c360-benches --bench python_ingest
//! C360_BENCH_KILL_AFTER=300000 ...  # acknowledgements before the SIGKILL
//! C360_BENCH_SERVER_CPUS=0 ...      # pin the server (taskset)
//! ```
//!
//! The client is tests/clients/ingest.py: one DATA frame per message, as
//! fast as flow control allows, every response written to a file as it
//! arrives.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use c360_benches::env_usize;
use c360_benches::outside::{ADMIN_TOKEN, ServerProcess};
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use prost::Message;

const SOURCE_TOKEN_NAME: &str = "bench-source";

fn main() {
    let records = env_usize("C360_BENCH_RECORDS", 1_000_000);
    let kill_after = env_usize("C360_BENCH_KILL_AFTER", records * 3 / 10);
    let python = std::env::var("C360_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_grpc = Command::new(&python)
        .args(["-c", "import grpc"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_grpc {
        eprintln!(
            "{python} has no grpcio: install tests/clients/requirements.txt (see this file's head) and set C360_PYTHON"
        );
        std::process::exit(2);
    }
    let work = tempfile_dir();
    let started = Instant::now();
    let sent: Vec<pb::Record> = c360_datagen::generate(&c360_datagen::GenConfig {
        records,
        seed: 2026,
    })
    .map(|g| c360_resolver::convert::from_core(&g.record))
    .collect();
    let requests = work.join("requests.bin");
    write_requests(&requests, &sent);
    let bytes = std::fs::metadata(&requests).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {records} records (seed 2026), {:.1} bytes per message on average, in {:.1?}",
        bytes as f64 / records as f64 - 4.0,
        started.elapsed()
    );
    let keyring = c360_crypto::LocalKeyring::generate_text("kek-bench").expect("keyring");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // 1. Everything, to the end.
    let dir = work.join("full");
    let server = ServerProcess::start(&dir, &keyring);
    let token = source_token(&dir);
    let responses = work.join("responses-full.bin");
    let t = Instant::now();
    let report = run_client(&python, &server.addr, &token, &requests, &responses)
        .wait_with_output()
        .expect("client");
    let elapsed = t.elapsed();
    let got = read_responses(&responses);
    // Bytes of one framed response, on average: to time the SIGKILL below.
    let average = std::fs::metadata(&responses).map_or(0, |m| m.len()) / got.len().max(1) as u64;
    let resolved = got
        .iter()
        .filter(|r| matches!(r.result, Some(api::ingest_response::Result::Resolved(_))))
        .count();
    println!(
        "full run: {} of {records} acknowledged ({resolved} resolved, {} rejected) in {:.1?}, {:.0} records/s; client said {}",
        got.len(),
        got.len() - resolved,
        elapsed,
        got.len() as f64 / elapsed.as_secs_f64(),
        String::from_utf8_lossy(&report.stdout).trim()
    );
    server.stop();

    // 2. Killed midway, restarted, every acknowledged record looked up.
    let dir = work.join("killed");
    let server = ServerProcess::start(&dir, &keyring);
    let token = source_token(&dir);
    let responses = work.join("responses-killed.bin");
    let mut client = run_client(&python, &server.addr, &token, &requests, &responses);
    // The client writes each response as it arrives (buffered by Python):
    // kill once the file holds about `kill_after` of them.
    while std::fs::metadata(&responses).map_or(0, |m| m.len()) < kill_after as u64 * average {
        if client.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    let report = client.wait_with_output().expect("client");
    let acked = read_responses(&responses);
    println!(
        "killed run: SIGKILL after {} acknowledgements; client said {}",
        acked.len(),
        String::from_utf8_lossy(&report.stdout).trim()
    );
    let server = ServerProcess::start(&dir, &keyring);
    let t = Instant::now();
    let (checked, missing) = runtime.block_on(check_acknowledged(&server.url(), &acked, &sent));
    println!(
        "after restart: {checked} acknowledged records looked up by source id in {:.1?}: {missing} missing",
        t.elapsed()
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&work);
    assert_eq!(missing, 0, "acknowledged records lost");
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("c360-python-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

fn source_token(dir: &Path) -> String {
    let grants = c360::auth::Grants {
        sources: c360_rpc::Sources::Any,
        peer: None,
    };
    c360::auth::create_token(dir, SOURCE_TOKEN_NAME, c360_rpc::Role::Source, &grants)
        .expect("token")
        .expose()
        .to_string()
}

fn run_client(python: &str, addr: &str, token: &str, requests: &Path, responses: &Path) -> Child {
    Command::new(python)
        .arg(c360_benches::workspace_file("tests/clients/ingest.py"))
        .args([addr, token])
        .args([requests, responses])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python client")
}

fn write_requests(path: &Path, records: &[pb::Record]) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("requests file"));
    for r in records {
        let m = api::IngestRequest {
            record: Some(r.clone()),
            strict: false,
        }
        .encode_to_vec();
        out.write_all(&(m.len() as u32).to_be_bytes())
            .expect("write");
        out.write_all(&m).expect("write");
    }
    out.flush().expect("flush");
}

/// The complete responses in the file (a torn last one is not counted).
fn read_responses(path: &Path) -> Vec<api::IngestResponse> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let n =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let Some(m) = bytes.get(at + 4..at + 4 + n) else {
            break;
        };
        out.push(api::IngestResponse::decode(m).expect("a response"));
        at += 4 + n;
    }
    out
}

/// Looks every acknowledged record up under its client by (source system,
/// source record id); returns how many were checked and how many are
/// missing.
async fn check_acknowledged(
    url: &str,
    acked: &[api::IngestResponse],
    sent: &[pb::Record],
) -> (usize, usize) {
    let channel = tonic::transport::Endpoint::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let channel = c360_rpc::remote(channel, Some(ADMIN_TOKEN), None).expect("channel");
    let client = ResolverServiceClient::new(channel);
    let mut by_client: std::collections::HashMap<String, Vec<(String, String)>> =
        std::collections::HashMap::new();
    let mut checked = 0;
    for r in acked {
        if let Some(api::ingest_response::Result::Resolved(res)) = &r.result {
            let s = &sent[r.index as usize];
            by_client
                .entry(res.client_number.clone())
                .or_default()
                .push((s.source_system.clone(), s.source_record_id.clone()));
            checked += 1;
        }
    }
    let mut missing = 0;
    let mut tasks = tokio::task::JoinSet::new();
    for (number, wanted) in by_client {
        while tasks.len() >= 16 {
            missing += tasks.join_next().await.expect("a task").expect("lookup");
        }
        let mut c = client.clone();
        tasks.spawn(async move {
            let got = c
                .get_client(api::GetClientRequest {
                    client_number: number,
                    purpose: "audit".into(),
                })
                .await;
            let present: HashSet<(String, String)> = match got {
                Ok(r) => r
                    .into_inner()
                    .records
                    .into_iter()
                    .map(|m| (m.source_system, m.source_record_id))
                    .collect(),
                Err(_) => HashSet::new(),
            };
            wanted.iter().filter(|w| !present.contains(w)).count()
        });
    }
    while let Some(n) = tasks.join_next().await {
        missing += n.expect("lookup");
    }
    (checked, missing)
}
