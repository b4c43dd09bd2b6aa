//! The protocol edges as outside clients meet them: a client that sends
//! one HTTP/2 DATA frame per message at full speed (as grpcio, grpc-go and
//! grpc-java do), Python grpcio itself, raw bytes that are not valid
//! messages, oversized messages, made-up paths, idle streams, and logs
//! written to a pipe.
//!
//! The raw client speaks HTTP/2 with the `h2` crate directly, so what goes
//! on the wire is exactly what the test says: one frame per message, no
//! coalescing by a gRPC library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use c360::config::Config;
use c360::serve::Platform;
use c360_crypto::LocalKeyring;
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_rpc::Role;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{keyring_text, test_config, token_for};

const INGEST: &str = "/c360.resolver.v1.ResolverService/Ingest";
const RESOLVE: &str = "/c360.resolver.v1.ResolverService/Resolve";

/// A `c360 serve` in this process, with its gRPC and metrics addresses.
struct Served {
    addr: SocketAddr,
    metrics: SocketAddr,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    async fn start(config: Config) -> Served {
        let dir = config.server.data_dir.clone();
        std::fs::create_dir_all(&dir).unwrap();
        let kek = Arc::new(LocalKeyring::from_text(&keyring_text()).unwrap());
        let platform = Platform::open(config, kek).await.expect("platform opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (addr, metrics_addr) = (
            listener.local_addr().unwrap(),
            metrics.local_addr().unwrap(),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            platform
                .serve(listener, Some(metrics), async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
        });
        Served {
            addr,
            metrics: metrics_addr,
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    fn token(&self, name: &str, role: Role) -> String {
        token_for(&self.dir, name, role)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
    }

    /// The body of `GET /metrics`.
    async fn scrape(&self) -> String {
        let mut s = tokio::net::TcpStream::connect(self.metrics).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
        body.to_string()
    }
}

/// One gRPC message on the wire: flag, length, bytes.
fn framed(message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(message.len() + 5);
    b.extend_from_slice(&[0]);
    b.extend_from_slice(&(message.len() as u32).to_be_bytes());
    b.extend_from_slice(message);
    b.freeze()
}

/// Splits gRPC framing off `buf`, returning the complete messages.
fn unframe(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut out = Vec::new();
    while buf.len() >= 5 {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if buf.len() < 5 + len {
            break;
        }
        buf.advance(5);
        out.push(buf.split_to(len).freeze());
    }
    out
}

/// The status of a finished call: from the trailers, or from the headers
/// of a trailers-only answer.
fn status_of(headers: &http::HeaderMap) -> Option<(tonic::Code, String)> {
    let s = tonic::Status::from_header_map(headers)?;
    Some((s.code(), s.message().to_string()))
}

/// An HTTP/2 connection speaking gRPC by hand.
struct RawConn {
    send: h2::client::SendRequest<Bytes>,
    addr: SocketAddr,
    token: String,
}

/// A call in progress: its request stream and its answer.
struct RawCall {
    send: h2::SendStream<Bytes>,
    response: h2::client::ResponseFuture,
}

/// What came back: the messages and the final status.
#[derive(Debug)]
struct Answer {
    messages: Vec<Bytes>,
    code: tonic::Code,
    message: String,
}

impl RawConn {
    async fn open(addr: SocketAddr, token: &str) -> RawConn {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (send, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        RawConn {
            send,
            addr,
            token: token.to_string(),
        }
    }

    async fn start(&mut self, path: &str) -> RawCall {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", format!("Bearer {}", self.token))
            .body(())
            .unwrap();
        let mut send = self.send.clone().ready().await.expect("connection usable");
        let (response, stream) = send.send_request(request, false).expect("request sent");
        RawCall {
            send: stream,
            response,
        }
    }

    /// A unary call with `body` sent as one DATA frame, as is.
    async fn unary(&mut self, path: &str, body: Bytes) -> Answer {
        let mut call = self.start(path).await;
        send_frame(&mut call.send, body, true).await;
        read_answer(call.response).await
    }
}

/// Sends `data` as one DATA frame, waiting for flow-control capacity
/// rather than letting h2 buffer or split it. False when the server has
/// already ended the call (its answer says why).
async fn send_frame(send: &mut h2::SendStream<Bytes>, data: Bytes, end: bool) -> bool {
    let len = data.len();
    if len > 0 {
        send.reserve_capacity(len);
        while send.capacity() < len {
            match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(_)) => {}
                _ => return false,
            }
        }
    }
    send.send_data(data, end).is_ok()
}

async fn read_answer(response: h2::client::ResponseFuture) -> Answer {
    let response = response.await.expect("response headers");
    if let Some((code, message)) = status_of(response.headers()) {
        return Answer {
            messages: Vec::new(),
            code,
            message,
        };
    }
    let mut body = response.into_body();
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("response data");
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
        messages.extend(unframe(&mut buf));
    }
    let trailers = body
        .trailers()
        .await
        .expect("trailers")
        .expect("some trailers");
    let (code, message) = status_of(&trailers).expect("a grpc-status");
    Answer {
        messages,
        code,
        message,
    }
}

fn generated(n: usize, seed: u64) -> Vec<pb::Record> {
    c360_datagen::generate(&c360_datagen::GenConfig { records: n, seed })
        .map(|g| c360_resolver::convert::from_core(&g.record))
        .collect()
}

fn config(dir: &Path) -> Config {
    let mut config = test_config(dir, "resolver");
    config.resolver.bootstrap_records = 2_000;
    config
}

/// Streams `records` one DATA frame per message as fast as flow control
/// allows, reading answers meanwhile.
async fn stream_one_frame_per_message(conn: &mut RawConn, records: &[pb::Record]) -> Answer {
    let RawCall { mut send, response } = conn.start(INGEST).await;
    let reader = tokio::spawn(read_answer(response));
    for r in records {
        let message = api::IngestRequest {
            record: Some(r.clone()),
            strict: false,
        };
        if !send_frame(&mut send, framed(&message.encode_to_vec()), false).await {
            break;
        }
    }
    let _ = send.send_data(Bytes::new(), true);
    reader.await.expect("reader")
}

/// The acknowledgements of an ingest answer, checked to be one per record,
/// in order.
fn acknowledged(answer: &Answer, sent: usize) -> usize {
    let mut resolved = 0;
    for (i, m) in answer.messages.iter().enumerate() {
        let r = api::IngestResponse::decode(m.clone()).expect("an IngestResponse");
        assert_eq!(r.index, i as u64, "acknowledged in order");
        if let Some(api::ingest_response::Result::Resolved(_)) = r.result {
            resolved += 1;
        }
    }
    assert_eq!(
        answer.messages.len(),
        sent,
        "one answer per record: {answer:?}"
    );
    resolved
}

fn resolve_request(record: pb::Record) -> Bytes {
    framed(
        &api::ResolveRequest {
            record: Some(record),
            dry_run: true,
            strict: false,
        }
        .encode_to_vec(),
    )
}

/// Issue 16 point 7: 100,000 records, one DATA frame each, at full speed.
/// Before the fix h2 closed the connection (GOAWAY ENHANCE_YOUR_CALM,
/// "too_many_data_frames") after a few thousand, which also killed every
/// other call on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_frame_per_message_at_full_speed_is_ingested_completely() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(config(dir.path())).await;
    let token = served.token("core", Role::Source);
    let mut conn = RawConn::open(served.addr, &token).await;
    let records = generated(100_000, 16);
    let answer = stream_one_frame_per_message(&mut conn, &records).await;
    assert_eq!(answer.code, tonic::Code::Ok, "{}", answer.message);
    let resolved = acknowledged(&answer, records.len());
    assert!(resolved > 95_000, "{resolved} of 100,000 resolved");
    // The connection is still good for another call.
    let again = conn
        .unary(RESOLVE, resolve_request(records[0].clone()))
        .await;
    assert_eq!(again.code, tonic::Code::Ok, "{}", again.message);
    let r = api::ResolveResponse::decode(again.messages[0].clone()).unwrap();
    assert!(
        !r.client_number.is_empty(),
        "the first record is found again"
    );
    served.stop().await;
}

/// Point 10: bytes that are not a valid message are the caller's fault
/// (INVALID_ARGUMENT naming the field), and a message over the limit is
/// RESOURCE_EXHAUSTED naming the limit; the connection stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_messages_get_the_right_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.limits.max_message_bytes = 4096;
    let served = Served::start(config).await;
    let token = served.token("core", Role::Source);
    let mut conn = RawConn::open(served.addr, &token).await;

    // ResolveRequest.record (field 1) → Record.surname (field 5) holding
    // the bytes ff fe, which are not UTF-8.
    let not_utf8 = framed(&[0x0a, 0x04, 0x2a, 0x02, 0xff, 0xfe]);
    let a = conn.unary(RESOLVE, not_utf8).await;
    assert_eq!(a.code, tonic::Code::InvalidArgument, "{}", a.message);
    assert!(a.message.contains("record.surname"), "{}", a.message);

    // The same inside an Ingest stream: the stream ends with the same code.
    let mut call = conn.start(INGEST).await;
    let bad_record = [0x0a, 0x04, 0x2a, 0x02, 0xff, 0xfe];
    send_frame(&mut call.send, framed(&bad_record), true).await;
    let a = read_answer(call.response).await;
    assert_eq!(a.code, tonic::Code::InvalidArgument, "{}", a.message);

    // Oversized: announced and sent in full, unary and streamed.
    let mut big = pb::Record {
        source_system: "core".into(),
        source_record_id: "big".into(),
        ..Default::default()
    };
    big.address = "x".repeat(5000);
    let a = conn.unary(RESOLVE, resolve_request(big.clone())).await;
    assert_eq!(a.code, tonic::Code::ResourceExhausted, "{}", a.message);
    assert!(a.message.contains("max_message_bytes"), "{}", a.message);
    let mut call = conn.start(INGEST).await;
    let small = api::IngestRequest {
        record: Some(generated(1, 3)[0].clone()),
        strict: false,
    };
    send_frame(&mut call.send, framed(&small.encode_to_vec()), false).await;
    let huge = api::IngestRequest {
        record: Some(big),
        strict: false,
    };
    send_frame(&mut call.send, framed(&huge.encode_to_vec()), true).await;
    let a = read_answer(call.response).await;
    assert_eq!(a.code, tonic::Code::ResourceExhausted, "{}", a.message);

    // Nothing of it was stored, and the connection still works.
    let ok = conn
        .unary(RESOLVE, resolve_request(generated(1, 4)[0].clone()))
        .await;
    assert_eq!(ok.code, tonic::Code::Ok, "{}", ok.message);
    served.stop().await;
}

/// Point 5: made-up paths are answered UNIMPLEMENTED and counted under
/// one label, so they cannot grow /metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_paths_share_one_metric_label() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(config(dir.path())).await;
    let token = served.token("core", Role::Source);
    let mut conn = RawConn::open(served.addr, &token).await;
    let known = conn
        .unary(RESOLVE, resolve_request(generated(1, 5)[0].clone()))
        .await;
    assert_eq!(known.code, tonic::Code::Ok);
    let before = served.scrape().await;
    for i in 0..2_000 {
        let path = format!("/made.up.v{i}.Service{i}/Method{i}");
        let a = conn.unary(&path, framed(b"")).await;
        assert_eq!(a.code, tonic::Code::Unimplemented, "{path}: {}", a.message);
    }
    let after = served.scrape().await;
    assert!(
        after.contains("c360_grpc_requests_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 2000"),
        "{after}"
    );
    assert!(!after.contains("made.up"), "no made-up path is a label");
    assert!(
        after.len() < before.len() + 4096,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        after.contains(&format!("method=\"{RESOLVE}\"")),
        "known methods keep their name"
    );
    served.stop().await;
}

/// Point 8: a stream on which nothing is sent is closed after the idle
/// timeout, and a caller's streams are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_streams_are_closed_and_streams_per_caller_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.limits.stream_idle_timeout_secs = 1;
    config.limits.max_streams_per_caller = 2;
    let served = Served::start(config).await;
    let token = served.token("core", Role::Source);
    let mut conn = RawConn::open(served.addr, &token).await;

    // Two streams open (their response headers came back: the gate took
    // their slots); a third is refused at once.
    let first = conn.start(INGEST).await;
    let second = conn.start(INGEST).await;
    let first_headers = first.response.await.expect("first stream accepted");
    assert!(
        status_of(first_headers.headers()).is_none(),
        "first stream open"
    );
    let second_headers = second.response.await.expect("second stream accepted");
    assert!(status_of(second_headers.headers()).is_none());
    let third = conn.start(INGEST).await;
    let refused = read_answer(third.response).await;
    assert_eq!(
        refused.code,
        tonic::Code::ResourceExhausted,
        "{}",
        refused.message
    );
    assert!(
        refused.message.contains("max_streams_per_caller"),
        "{}",
        refused.message
    );
    // Another caller is not affected.
    let other = served.token("other", Role::Source);
    let mut other_conn = RawConn::open(served.addr, &other).await;
    let mut call = other_conn.start(INGEST).await;
    send_frame(&mut call.send, Bytes::new(), true).await;
    let a = read_answer(call.response).await;
    assert_eq!(a.code, tonic::Code::Ok, "{}", a.message);

    // Both idle streams end with DEADLINE_EXCEEDED once idle for 1 s.
    for headers in [first_headers, second_headers] {
        let mut body = headers.into_body();
        while let Some(chunk) = body.data().await {
            chunk.expect("data");
        }
        let trailers = body.trailers().await.unwrap().unwrap();
        let (code, message) = status_of(&trailers).unwrap();
        assert_eq!(code, tonic::Code::DeadlineExceeded, "{message}");
        assert!(message.contains("idle"), "{message}");
    }
    drop((first.send, second.send));
    // Their slots are free again: a stream that sends works.
    let records = generated(3, 8);
    let answer = stream_one_frame_per_message(&mut conn, &records).await;
    assert_eq!(answer.code, tonic::Code::Ok, "{}", answer.message);
    acknowledged(&answer, 3);
    served.stop().await;
}

/// A Python with grpcio: the system's when it has grpcio, else a venv
/// under the target directory with the pinned grpcio installed once.
fn python_with_grpcio() -> PathBuf {
    let system = PathBuf::from("python3");
    let has = |python: &Path| {
        Command::new(python)
            .args(["-c", "import grpc"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(&system) {
        return system;
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("grpcio-venv");
    let python = venv.join("bin/python");
    if has(&python) {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv runs (CPython 3 is needed for the grpcio test)");
    assert!(status.success(), "cannot create {}", venv.display());
    let requirements = crate::common::workspace_file("tests/clients/requirements.txt");
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(requirements)
        .status()
        .expect("pip runs");
    assert!(
        status.success(),
        "cannot install grpcio into {}",
        venv.display()
    );
    python
}

/// Length-prefixed IngestRequest bytes, as tests/clients/ingest.py reads.
fn write_requests(path: &Path, records: &[pb::Record]) {
    let mut out = Vec::new();
    for r in records {
        let m = api::IngestRequest {
            record: Some(r.clone()),
            strict: false,
        }
        .encode_to_vec();
        out.extend_from_slice(&(m.len() as u32).to_be_bytes());
        out.extend_from_slice(&m);
    }
    std::fs::write(path, out).unwrap();
}

fn read_responses(path: &Path) -> Vec<api::IngestResponse> {
    let mut bytes = Bytes::from(std::fs::read(path).unwrap());
    let mut out = Vec::new();
    while bytes.remaining() >= 4 {
        let n = bytes.get_u32() as usize;
        out.push(api::IngestResponse::decode(bytes.split_to(n)).unwrap());
    }
    out
}

/// Point 7 with the real thing: Python grpcio streams 30,000 generated
/// records as fast as it can; every one is acknowledged, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_streams_ingest_completely() {
    let python = python_with_grpcio();
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(config(dir.path())).await;
    let token = served.token("core", Role::Source);
    let records = generated(30_000, 17);
    let (requests, responses) = (
        dir.path().join("requests.bin"),
        dir.path().join("responses.bin"),
    );
    write_requests(&requests, &records);
    let script = crate::common::workspace_file("tests/clients/ingest.py");
    let addr = served.addr.to_string();
    let answers = responses.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([addr.as_str(), token.as_str()])
            .args([&requests, &answers])
            .output()
            .expect("the client runs")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = read_responses(&responses);
    assert_eq!(got.len(), records.len(), "{report}");
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.index, i as u64);
        assert!(
            matches!(r.result, Some(api::ingest_response::Result::Resolved(_)))
                || matches!(r.result, Some(api::ingest_response::Result::Error(_))),
            "record {i} answered"
        );
    }
    served.stop().await;
}

/// Point 15: logs written to a pipe carry no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_to_a_pipe_are_plain_text() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .args(["serve", "--services", "resolver", "--listen", "127.0.0.1:0"])
        .args(["--bootstrap-records", "500", "--data-dir"])
        .arg(dir.path())
        .env("C360_KEK", keyring_text())
        .env(
            "C360_BOOTSTRAP_ADMIN_TOKEN",
            "c360_log-test-token-0123456789abcdefghij",
        )
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("c360 listening on"), "{line}");
    // SIGTERM: the server logs its shutdown and exits.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in piped logs: {logs:?}"
    );
}
