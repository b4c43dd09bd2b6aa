//! The platform around the services: authentication, roles, erasure in the
//! resolver, metrics.

use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::Role;
use tonic::Code;

use crate::server::{TestServer, aminata_core, aminata_mobile, keyring_text, resolve, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_authenticated_and_role_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;

    // No token at all.
    let bare = tonic::transport::Endpoint::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = ResolverServiceClient::new(bare.clone());
    let err = anonymous
        .get_client(api::GetClientRequest {
            client_number: "C00000011".into(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A token nobody issued.
    let mut forged = ResolverServiceClient::new(
        c360_rpc::remote(bare, Some("c360_not-a-real-token"), None).unwrap(),
    );
    let err = forged
        .get_client(api::GetClientRequest {
            client_number: "C00000011".into(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A downstream app may look up but not merge, ingest or erase.
    let mut app = ResolverServiceClient::new(server.channel_as("crm", Role::App).await);
    let mut admin = server.client.clone();
    let a = resolve(&mut admin, aminata_core(), false).await;
    let found = app
        .get_client(api::GetClientRequest {
            client_number: a.client_number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.client_number, a.client_number);
    let err = app
        .merge(api::MergeRequest {
            client_numbers: vec![a.client_number.clone(), a.client_number.clone()],
            reason: "x".into(),
            actor: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = app
        .erase_client(api::EraseClientRequest {
            client_number: a.client_number.clone(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A steward's merge is signed with the steward's token name.
    let mut steward = ResolverServiceClient::new(server.channel_as("awa", Role::Steward).await);
    let b = resolve(&mut admin, aminata_mobile(), false).await;
    if b.client_number != a.client_number {
        steward
            .merge(api::MergeRequest {
                client_numbers: vec![a.client_number.clone(), b.client_number.clone()],
                reason: "same person".into(),
                actor: "someone-else".into(),
            })
            .await
            .unwrap();
        let c = admin
            .get_client(api::GetClientRequest {
                client_number: a.client_number.clone(),
                purpose: "stewardship".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let merge = c
            .lineage
            .iter()
            .find(|l| l.kind() == api::lineage_entry::Kind::Merged)
            .expect("a merge entry");
        assert_eq!(merge.actor, "awa", "a steward cannot sign for someone else");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_removes_the_client_and_its_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    let config = test_config(dir.path(), "resolver,vault");
    let server = TestServer::start_with(config.clone(), &keyring).await;
    let mut c = server.client.clone();
    let a = resolve(&mut c, aminata_core(), false).await;
    let mut other = aminata_mobile();
    other.source_system = "agent_app".into();
    other.source_record_id = "AG-1".into();
    other.date_of_birth = "1990-01-01".into();
    let b = resolve(&mut c, other, false).await;
    let survivor = if a.client_number == b.client_number {
        a.client_number.clone()
    } else {
        c.merge(api::MergeRequest {
            client_numbers: vec![a.client_number.clone(), b.client_number.clone()],
            reason: "test".into(),
            actor: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .survivor
    };
    // Erasure has one entry point, the vault (which checks legal holds):
    // not even an admin erases at the resolver.
    let err = c
        .erase_client(api::EraseClientRequest {
            client_number: b.client_number.clone(),
            reason: "request 42".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let mut vault = VaultServiceClient::new(server.channel_as("dpo", Role::Compliance).await);
    let erased = vault
        .erase_client(va::EraseClientRequest {
            client_number: b.client_number.clone(),
            reason: "request 42".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.client_number, survivor);
    assert!(erased.resolver_notified);
    for number in [&a.client_number, &b.client_number] {
        let err = c
            .get_client(api::GetClientRequest {
                client_number: number.clone(),
                purpose: "stewardship".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    }
    // The same person again is a new client: nothing was kept to match on.
    let again = resolve(&mut c, aminata_core(), true).await;
    assert_ne!(again.decision(), api::Decision::Matched);
    // The feed says so, without personal data.
    let events = server
        .resolver
        .events()
        .read_from(server.resolver.store(), 1, 100)
        .unwrap();
    let last = events.last().unwrap();
    let e = <api::Event as prost::Message>::decode(last.1.as_slice()).unwrap();
    assert_eq!(e.r#type(), api::EventType::ClientErased);
    assert_eq!(e.client_number, survivor);
    server.stop().await;

    // After a restart the erased records are still gone.
    let server = TestServer::start_with(config, &keyring).await;
    let (records, _) = server.resolver.counts();
    assert_eq!(records, 0);
    server.stop().await;
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tls")
        .join(name)
}

/// Starts a platform of `services` with `config` tweaks; returns its address,
/// an admin token and the shutdown sender.
async fn start_platform(
    mut config: c360::config::Config,
    metrics: bool,
) -> (
    std::net::SocketAddr,
    Option<std::net::SocketAddr>,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let dir = config.server.data_dir.clone();
    std::fs::create_dir_all(&dir).unwrap();
    let token = crate::server::token_for(&dir, "test-admin", Role::Admin);
    config.resolver.bootstrap_records = 2_000;
    let kek = std::sync::Arc::new(c360_crypto::LocalKeyring::from_text(&keyring_text()).unwrap());
    let platform = c360::serve::Platform::open(config, kek).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics_listener = if metrics {
        Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    } else {
        None
    };
    let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        platform
            .serve(listener, metrics_listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (addr, metrics_addr, token, tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::server::test_config(dir.path(), "resolver");
    config.server.tls.cert_file = Some(fixture("server.crt"));
    config.server.tls.key_file = Some(fixture("server.key"));
    config.server.tls.client_ca_file = Some(fixture("ca.crt"));
    let (addr, _, token, stop, task) = start_platform(config, false).await;
    let url = format!("https://localhost:{}", addr.port());
    let ca = tonic::transport::Certificate::from_pem(std::fs::read(fixture("ca.crt")).unwrap());
    let identity = tonic::transport::Identity::from_pem(
        std::fs::read(fixture("client.crt")).unwrap(),
        std::fs::read(fixture("client.key")).unwrap(),
    );

    // With the CA and a client certificate: served.
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .identity(identity)
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        ResolverServiceClient::new(c360_rpc::remote(channel, Some(&token), None).unwrap());
    let r = resolve(&mut client, aminata_core(), false).await;
    assert!(!r.client_number.is_empty());

    // Without a client certificate: the handshake or the first call fails.
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(ca)
        .domain_name("localhost");
    let refused = match tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
    {
        Err(_) => true,
        Ok(channel) => {
            let mut c =
                ResolverServiceClient::new(c360_rpc::remote(channel, Some(&token), None).unwrap());
            c.get_client(api::GetClientRequest {
                client_number: r.client_number.clone(),
                purpose: "stewardship".into(),
            })
            .await
            .is_err()
        }
    };
    assert!(refused, "mTLS must refuse a client without a certificate");

    // Plaintext to a TLS port: refused.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut c =
            ResolverServiceClient::new(c360_rpc::remote(channel, Some(&token), None).unwrap());
        assert!(
            c.get_client(api::GetClientRequest {
                client_number: r.client_number.clone(),
                purpose: "stewardship".into(),
            })
            .await
            .is_err()
        );
    }
    let _ = stop.send(());
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_per_caller_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::server::test_config(dir.path(), "resolver");
    config.limits.requests_per_second_per_caller = 1;
    config.limits.burst_requests = 3;
    let (addr, metrics_addr, token, stop, task) = start_platform(config, true).await;
    let channel = crate::server::channel_to(&format!("http://{addr}"), &token).await;
    let mut client = ResolverServiceClient::new(channel);
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = client
            .get_client(api::GetClientRequest {
                client_number: "C00000011".into(),
                purpose: "stewardship".into(),
            })
            .await;
        codes.push(r.map(|_| Code::Ok).unwrap_or_else(|e| e.code()));
    }
    assert_eq!(&codes[..3], &[Code::NotFound; 3], "the burst is served");
    assert!(
        codes[3..].contains(&Code::ResourceExhausted),
        "then the caller is slowed down: {codes:?}"
    );

    // Prometheus text over plain HTTP.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(metrics_addr.unwrap())
        .await
        .unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains(
            "c360_grpc_requests_total{method=\"/c360.resolver.v1.ResolverService/GetClient\",code=\"NOT_FOUND\"} 3"
        ),
        "{body}"
    );
    assert!(body.contains("code=\"RESOURCE_EXHAUSTED\""), "{body}");
    assert!(body.contains("c360_review_queue_size 0"), "{body}");
    assert!(
        body.contains("c360_grpc_request_duration_seconds_bucket"),
        "{body}"
    );
    let _ = stop.send(());
    let _ = task.await;
}

/// The caller's deadline covers the whole call, a stream included: an
/// ingest stream left open past it ends with DEADLINE_EXCEEDED (tonic alone
/// would let it run forever), and what was acknowledged before it stays.
/// (Unary deadlines are tested on the gate itself: tonic's client enforces
/// them too and would race the server here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_deadlines_are_honoured_for_the_whole_call() {
    use tokio_stream::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::server::test_config(dir.path(), "resolver");
    let (addr, _, token, stop, task) = start_platform(config, false).await;
    let channel = crate::server::channel_to(&format!("http://{addr}"), &token).await;
    let mut client = ResolverServiceClient::new(channel);

    let (tx, rx) = tokio::sync::mpsc::channel::<api::IngestRequest>(4);
    tx.send(api::IngestRequest {
        record: Some(aminata_core()),
        strict: false,
    })
    .await
    .unwrap();
    let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    request.set_timeout(std::time::Duration::from_millis(400));
    let mut results = client.ingest(request).await.unwrap().into_inner();
    let first = match results.next().await.unwrap().unwrap().result {
        Some(api::ingest_response::Result::Resolved(r)) => r,
        other => panic!("{other:?}"),
    };
    // The sender stays open: only the deadline can end this stream.
    let end = tokio::time::timeout(std::time::Duration::from_secs(60), results.next())
        .await
        .expect("the server ended the stream at the deadline");
    let err = end.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    drop(tx);
    let kept = client
        .get_client(api::GetClientRequest {
            client_number: first.client_number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.records.len(), 1, "the acknowledged record stays");

    let _ = stop.send(());
    let _ = task.await;
}

/// `telemetry.json_logs`: every log line is a JSON object, and a graceful
/// shutdown (SIGTERM) is logged and ends with exit status 0.
#[test]
fn json_logs_and_graceful_shutdown() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .args([
            "serve",
            "--services",
            "resolver",
            "--listen",
            "127.0.0.1:0",
            "--bootstrap-records",
            "1000",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("C360__TELEMETRY__JSON_LOGS", "true")
        .env("C360_KEK", keyring_text())
        .env(
            "C360_BOOTSTRAP_ADMIN_TOKEN",
            "c360_json-log-test-token-0123456789abcdef",
        )
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("c360 listening on"), "{line}");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "graceful shutdown exits 0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert!(logs.iter().any(|l| l.contains("shutting down")), "{stderr}");
    for l in logs {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{l}"
        );
    }
}
