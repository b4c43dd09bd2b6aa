//! Acknowledged writes survive `kill -9`: a real `c360 serve` process is
//! killed in the middle of a bulk load and restarted.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use tokio_stream::StreamExt;

use crate::server::{channel_to, keyring_text};

/// The admin token the spawned servers accept (C360_BOOTSTRAP_ADMIN_TOKEN).
const TOKEN: &str = "c360_durability-test-token-0123456789abc";

fn spawn_server(dir: &std::path::Path, keyring: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bootstrap-records",
            "2000",
            "--data-dir",
        ])
        .arg(dir)
        .env("C360_KEK", keyring)
        .env("C360_BOOTSTRAP_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    let (mut child, url) = spawn_server(dir.path(), &keyring);
    let mut client = ResolverServiceClient::new(channel_to(&url, TOKEN).await);

    let records: Vec<pb::Record> = c360_datagen::generate(&c360_datagen::GenConfig {
        records: 1500,
        seed: 11,
    })
    .map(|g| c360_resolver::convert::from_core(&g.record))
    .collect();
    let requests = tokio_stream::iter(records.into_iter().map(|r| api::IngestRequest {
        record: Some(r),
        strict: false,
    }));
    let mut responses = client.ingest(requests).await.expect("ingest").into_inner();
    let mut acked: Vec<api::ResolveResponse> = Vec::new();
    while let Some(Ok(r)) = responses.next().await {
        if let Some(api::ingest_response::Result::Resolved(res)) = r.result {
            acked.push(res);
        }
        if acked.len() == 300 {
            child.kill().expect("SIGKILL");
            break;
        }
    }
    child.wait().expect("reaped");
    drop(responses);
    assert_eq!(acked.len(), 300, "the load was killed midway");

    let (mut child, url) = spawn_server(dir.path(), &keyring);
    let mut client = ResolverServiceClient::new(channel_to(&url, TOKEN).await);
    for res in &acked {
        let got = client
            .get_client(api::GetClientRequest {
                client_number: res.client_number.clone(),
                purpose: "stewardship".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged client {} lost: {e}", res.client_number))
            .into_inner();
        assert!(
            got.records.iter().any(|m| m.record_id == res.record_id),
            "acknowledged record {} lost",
            res.record_id
        );
    }
    // No half-applied change: every attached record of the feed is readable
    // under a client that lists it.
    let mut feed = client
        .watch_events(api::WatchEventsRequest { from_offset: 1 })
        .await
        .unwrap()
        .into_inner();
    let mut attached = 0;
    let mut last = 0;
    while let Ok(Some(Ok(event))) =
        tokio::time::timeout(std::time::Duration::from_secs(2), feed.next()).await
    {
        assert_eq!(event.offset, last + 1, "offsets have no gaps");
        last = event.offset;
        if event.r#type() == api::EventType::RecordAttached {
            attached += 1;
            let got = client
                .get_client(api::GetClientRequest {
                    client_number: event.client_number.clone(),
                    purpose: "stewardship".into(),
                })
                .await
                .expect("client of an attached record")
                .into_inner();
            assert!(got.records.iter().any(|m| m.record_id == event.record_id));
        }
    }
    assert!(
        attached >= acked.len(),
        "{attached} attached events for {} acknowledged records",
        acked.len()
    );
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

/// The day-to-day CLI against a running server: ingest a CSV, read a
/// client, list the review queue; a mistyped number is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_talks_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    let (mut child, url) = spawn_server(dir.path(), &keyring);
    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "record_id,given_name,surname,date_of_birth,phone,locality\n\
         CBS-1,Aminata,Traoré,12/03/1985,0707123456,Abidjan\n\
         CBS-2,TRAORE,AMINATA,1985-03-12,+225 07 07 12 34 56,Abidjan\n\
         CBS-3,Moussa,Diallo,01/01/1970,+221771234567,Dakar\n",
    )
    .unwrap();
    let cli_as = |token: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
            .args(args)
            .args(["--server", &url])
            .env("C360_TOKEN", token)
            .output()
            .expect("cli runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let cli = |args: &[&str]| cli_as(TOKEN, args);
    // A compliance officer's token, minted beside the running server's
    // data (it reloads its tokens): a subject access export is theirs.
    let minted = crate::common::c360(
        dir.path(),
        &[
            "token",
            "create",
            "--role",
            "compliance",
            "--name",
            "dpo",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(
        minted.status.success(),
        "{}",
        crate::common::stderr(&minted)
    );
    let dpo = String::from_utf8_lossy(&minted.stdout).trim().to_string();
    let results = dir.path().join("results.csv");
    let (ok, _, err) = cli(&[
        "ingest",
        csv.to_str().unwrap(),
        "--source",
        "core_banking",
        "--output",
        results.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("3 records sent") && err.contains("1 matched"),
        "{err}"
    );
    // Each source record's client number, for the source system to keep.
    assert_eq!(
        std::fs::read_to_string(&results).unwrap(),
        "line,source_system,source_record_id,client_number,decision,confidence,error,flags\n\
         2,core_banking,CBS-1,C00000011,new,0.0000,,\n\
         3,core_banking,CBS-2,C00000011,matched,1.0000,,\n\
         4,core_banking,CBS-3,C00000022,new,0.0000,,\n"
    );
    let (ok, out, err) = cli(&["client", "get", "C00000011", "--purpose", "stewardship"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("client C00000011") && out.contains("CBS-1") && out.contains("CBS-2"),
        "{out}"
    );
    let (ok, out, err) = cli(&["client", "explain", "C00000011"]);
    assert!(ok, "{err}");
    assert!(out.contains(" ~ ") && out.contains("log-odds"), "{out}");
    let (ok, out, _) = cli(&["review", "list"]);
    assert!(ok);
    assert!(out.contains("0 open"), "{out}");
    let (ok, _, err) = cli(&["client", "get", "C00000012", "--purpose", "stewardship"]);
    assert!(!ok);
    assert!(
        err.contains("InvalidArgument") && err.contains("check"),
        "{err}"
    );

    // Consent, contact and erasure from the command line.
    let (ok, out, err) = cli(&[
        "consent",
        "record",
        "C00000011",
        "--purpose",
        "marketing",
        "--channel",
        "SMS",
        "--decision",
        "granted",
        "--evidence",
        "form-1",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("recorded #1"), "{out}");
    let (ok, out, err) = cli(&[
        "consent",
        "check",
        "C00000011",
        "--purpose",
        "marketing",
        "--channel",
        "SMS",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("allowed"), "{out}");
    let (ok, out, err) = cli(&["consent", "verify"]);
    assert!(ok && out.contains("ledger OK"), "{out}{err}");
    let (ok, out, err) = cli(&["consent", "export", "--format", "csv"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "header and one entry: {out}");
    let (ok, out, err) = cli(&[
        "contact",
        "may",
        "C00000011",
        "--purpose",
        "marketing",
        "--channels",
        "SMS",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("receipt for C00000011") && out.contains("consent"),
        "{out}"
    );
    let (ok, _, err) = cli(&[
        "contact",
        "may",
        "C00000011",
        "--purpose",
        "marketing",
        "--channels",
        "FAX",
    ]);
    assert!(!ok && err.contains("FAX"), "{err}");
    // Contact points, preferences, hardship and sectors.
    let (ok, out, err) = cli(&["contact", "points", "C00000011"]);
    assert!(ok && out.contains("Sms"), "{out}{err}");
    assert!(!out.contains("07123456"), "values are masked: {out}");
    let (ok, out, err) = cli(&[
        "contact",
        "prefs",
        "C00000011",
        "--time-zone",
        "Africa/Abidjan",
        "--quiet-hours",
        "21:00-07:00",
        "--prefer",
        "marketing=WHATSAPP",
    ]);
    assert!(ok && out.contains("Africa/Abidjan"), "{out}{err}");
    let (ok, _, err) = cli(&[
        "contact",
        "prefs",
        "C00000011",
        "--time-zone",
        "Mars/Olympus",
    ]);
    assert!(!ok && err.contains("time_zone"), "{err}");
    let (ok, out, err) = cli(&["contact", "hardship", "C00000011", "--reason", "late-3"]);
    assert!(ok && out.contains("flagged"), "{out}{err}");
    let (ok, out, err) = cli(&["contact", "may", "C00000011", "--purpose", "marketing"]);
    assert!(ok && out.contains("hardship"), "{out}{err}");
    assert!(
        !out.starts_with("ALLOW"),
        "no sales offer in hardship: {out}"
    );
    let (ok, out, err) = cli(&["contact", "sector", "C00000011"]);
    assert!(ok && out.contains("sector"), "{out}{err}");
    let (ok, out, err) = cli(&["contact", "sectors"]);
    assert!(ok && out.contains("by region"), "{out}{err}");

    // Search from the command line (the index commits twice a second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (ok, out, err) = cli_as(&dpo, &["search", "Aminata", "Traore", "--purpose", "audit"]);
        assert!(ok, "{err}");
        if out.contains("C00000011") {
            assert!(out.contains("TRAOR"), "{out}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never found: {out}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (ok, _, err) = cli(&["search", "phone:", "--limit", "1000", "--purpose", "audit"]);
    assert!(!ok && err.contains("InvalidArgument"), "{err}");

    // A legal hold blocks erasure until it is released.
    let (ok, _, err) = cli(&["vault", "hold", "C00000011", "--basis", "court order 12"]);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&["erase", "C00000011", "--reason", "request 7"]);
    assert!(!ok && err.contains("FailedPrecondition"), "{err}");
    let (ok, _, err) = cli(&["vault", "hold", "C00000011", "--release"]);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&["vault", "export-client", "C00000011"]);
    assert!(
        !ok && err.contains("PermissionDenied"),
        "not an admin's: {err}"
    );
    let (ok, out, err) = cli_as(&dpo, &["vault", "export-client", "C00000011"]);
    assert!(ok && out.contains("C00000011"), "{out}{err}");
    let (ok, _, err) = cli(&["vault", "access-log", "--client", "C00000011"]);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&["vault", "rotate-kek"]);
    assert!(ok && out.contains("re-wrapped"), "{out}{err}");
    let (ok, out, err) = cli(&["erase", "C00000011", "--reason", "request 7"]);
    assert!(ok, "{err}");
    assert!(out.contains("erased C00000011"), "{out}");
    let (ok, _, err) = cli(&["client", "get", "C00000011", "--purpose", "stewardship"]);
    assert!(!ok && err.contains("NotFound"), "{err}");
    child.kill().expect("kill");
    child.wait().expect("reaped");
}
