//! The services as separate OS processes, as a deployment runs them: one
//! `c360 serve --services NAME` per service, each with its own data
//! directory, calling its peers over gRPC with a `service` token.
//!
//! Followers are asynchronous across processes, so the tests wait on
//! conditions by polling the API (never a fixed sleep); the first stdout
//! line of a process ("c360 listening on ADDR (...)") says it is ready.

use crate::scenario::{AT, DAY, check, consent, may_contact};
use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::search::v1 as se;
use c360_proto::search::v1::search_service_client::SearchServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Peer, PeerChannel, Role};
use fake_opentelemetry_collector::{ExportedSpan, FakeCollectorServer};
use tonic::Code;

use crate::server::{aminata_core, channel_to, keyring_text, resolve};

/// The admin token every process accepts (C360_BOOTSTRAP_ADMIN_TOKEN).
const ADMIN: &str = "c360_cluster-test-admin-token-0123456789";
/// How long an asynchronous follower may take to catch up.
const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// One `c360 serve` process.
struct Node {
    name: &'static str,
    child: Child,
    /// `host:port` it listens on.
    addr: String,
    /// Kept open: the process may still write to stdout.
    _stdout: BufReader<ChildStdout>,
}

/// The processes of one test, sharing a keyring, an admin token and a
/// tokens file holding each service's own `service` token (the resolver
/// erases only when the vault asks). Dropping it kills every process (also
/// when the test panics, after printing their logs).
struct Cluster {
    dir: tempfile::TempDir,
    keyring: String,
    tokens_file: PathBuf,
    peer_tokens: Vec<(Peer, String)>,
    nodes: Vec<Node>,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let tokens_file = dir.path().join("peer-tokens");
        let mut lines = String::from("# the tokens the processes call each other with\n");
        let mut peer_tokens = Vec::new();
        for peer in Peer::ALL {
            let token = c360::auth::generate_token().unwrap();
            let grants = c360::auth::Grants {
                sources: c360_rpc::Sources::None,
                peer: Some(peer),
            };
            lines.push_str(&c360::auth::token_line(
                &format!("{peer}-peer"),
                Role::Service,
                &grants,
                &token,
            ));
            lines.push('\n');
            peer_tokens.push((peer, token.expose().to_string()));
        }
        std::fs::write(&tokens_file, lines).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tokens_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Cluster {
            dir,
            keyring: keyring_text(),
            tokens_file,
            peer_tokens,
            nodes: Vec::new(),
        }
    }

    /// The token the service `name` presents to its peers.
    fn peer_token(&self, name: &str) -> &str {
        self.peer_tokens
            .iter()
            .find(|(p, _)| p.as_str() == name)
            .map(|(_, t)| t.as_str())
            .expect("a c360 service")
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    /// Starts `c360 serve --services NAME` on `listen` with its data in
    /// `<dir>/NAME` and `env` on top of the shared settings; returns its
    /// URL once it has printed its listening line.
    fn start(&mut self, name: &'static str, listen: &str, env: &[(&str, String)]) -> String {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"));
        command
            .args([
                "serve",
                "--services",
                name,
                "--listen",
                listen,
                "--data-dir",
            ])
            .arg(self.dir.path().join(name));
        if name == "resolver" {
            command.args(["--bootstrap-records", "2000"]);
        }
        // Nothing from the developer's shell: only this test's settings.
        for (key, _) in std::env::vars() {
            if key.starts_with("C360") || key.starts_with("OTEL_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command
            .env("C360_KEK", &self.keyring)
            .env("C360_BOOTSTRAP_ADMIN_TOKEN", ADMIN)
            .env("C360_TOKENS_FILE", &self.tokens_file)
            .env("C360_PEER_TOKEN", self.peer_token(name))
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = command.spawn().expect("c360 serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("listening line");
        let addr = match line.strip_prefix("c360 listening on ") {
            Some(rest) => rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{name} did not start (first line {line:?}):\n{}",
                    std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
                );
            }
        };
        let url = format!("http://{addr}");
        self.nodes.push(Node {
            name,
            child,
            addr,
            _stdout: stdout,
        });
        url
    }

    fn take(&mut self, name: &str) -> Node {
        let i = self
            .nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no running {name}"));
        self.nodes.remove(i)
    }

    /// `kill -9`; returns the address it listened on.
    fn kill(&mut self, name: &str) -> String {
        let mut node = self.take(name);
        node.child.kill().expect("SIGKILL");
        node.child.wait().expect("reaped");
        node.addr
    }

    /// SIGTERM (graceful shutdown: drain, flush stores and traces), then
    /// waits for a clean exit.
    async fn terminate(&mut self, name: &str) {
        let mut node = self.take(name);
        let sent = Command::new("kill")
            .args(["-TERM", &node.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM to {name}");
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = node.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not stop within {DEADLINE:?} of SIGTERM"
            );
            tokio::time::sleep(POLL).await;
        };
        assert!(
            status.success(),
            "{name} exited with {status} after SIGTERM:\n{}",
            std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
        if std::thread::panicking() {
            for name in ["resolver", "vault", "search", "channels"] {
                if let Ok(log) = std::fs::read_to_string(self.log_path(name)) {
                    let lines: Vec<&str> = log.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(40)..];
                    eprintln!("--- {name} log (last lines) ---\n{}", tail.join("\n"));
                }
            }
        }
    }
}

/// Polls `probe` every 50 ms until it answers `Ok`, for at most 30 s; the
/// last `Err` explains a failure.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        match probe().await {
            Ok(t) => return t,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what}: not true after {DEADLINE:?}; last seen: {last}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The ledger sequence the receipt's consent rule cites.
fn cited_consent(decision: &ch::MayContactResponse) -> Option<u64> {
    decision
        .receipt
        .as_ref()?
        .rules
        .iter()
        .find(|r| r.rule == "consent")?
        .consent_entry
        .as_ref()
        .map(|e| e.sequence)
}

/// Contact points of `number` once the channels process has some.
async fn contact_points(
    channels: &ChannelServiceClient<PeerChannel>,
    number: &str,
    at_least: usize,
) -> ch::ListContactPointsResponse {
    eventually(
        &format!("channels lists {at_least}+ contact points of {number}"),
        || {
            let mut c = channels.clone();
            let number = number.to_string();
            async move {
                match c
                    .list_contact_points(ch::ListContactPointsRequest {
                        client_number: number,
                    })
                    .await
                {
                    Ok(r) if r.get_ref().contact_points.len() >= at_least => Ok(r.into_inner()),
                    Ok(r) => Err(format!("{} points", r.get_ref().contact_points.len())),
                    Err(e) => Err(e.to_string()),
                }
            }
        },
    )
    .await
}

async fn search_until(
    search: &SearchServiceClient<PeerChannel>,
    what: &str,
    done: impl Fn(&[se::SearchHit]) -> bool,
) -> Vec<se::SearchHit> {
    eventually(what, || {
        let mut s = search.clone();
        let done = &done;
        async move {
            let hits = s
                .search(se::SearchRequest {
                    query: "Aminata Traore".into(),
                    filters: None,
                    page_size: 10,
                    page_token: String::new(),
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner()
                .hits;
            if done(&hits) {
                Ok(hits)
            } else {
                Err(format!(
                    "hits {:?}",
                    hits.iter().map(|h| &h.client_number).collect::<Vec<_>>()
                ))
            }
        }
    })
    .await
}

/// Issue 8 part 5: resolver, vault, search and channels as four processes;
/// the vault is killed with SIGKILL, a merge happens while it is down, and
/// the restarted vault keeps its acknowledged consent and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_as_processes_survive_a_restart() {
    let started = Instant::now();
    let mut cluster = Cluster::new();
    let resolver_url = cluster.start("resolver", "127.0.0.1:0", &[]);
    let follows = [("C360__PEERS__RESOLVER", resolver_url.clone())];
    let vault_url = cluster.start("vault", "127.0.0.1:0", &follows);
    let search_url = cluster.start("search", "127.0.0.1:0", &follows);
    let channels_url = cluster.start(
        "channels",
        "127.0.0.1:0",
        &[
            ("C360__PEERS__RESOLVER", resolver_url.clone()),
            ("C360__PEERS__VAULT", vault_url.clone()),
        ],
    );
    let mut resolver = ResolverServiceClient::new(channel_to(&resolver_url, ADMIN).await);
    let mut vault = VaultServiceClient::new(channel_to(&vault_url, ADMIN).await);
    let search = SearchServiceClient::new(channel_to(&search_url, ADMIN).await);
    let mut channels = ChannelServiceClient::new(channel_to(&channels_url, ADMIN).await);

    // Two records of one woman the engine cannot join on its own.
    let a = resolve(&mut resolver, aminata_core(), false).await;
    let mut other = aminata_core();
    other.source_system = "agent_app".into();
    other.source_record_id = "AG-77".into();
    other.date_of_birth = String::new();
    other.national_id = String::new();
    other.phone = vec!["+225 05 44 33 22 11".into()];
    other.given_name = "Amy".into();
    let b = resolve(&mut resolver, other, false).await;
    assert_ne!(a.client_number, b.client_number, "kept apart by the engine");
    contact_points(&channels, &a.client_number, 1).await;

    // She agreed to marketing SMS; the channels process decides through
    // the vault process and cites the ledger entry.
    let entry = vault
        .record_consent(consent(
            &a.client_number,
            va::ConsentDecision::Granted,
            AT - 10 * DAY,
        ))
        .await
        .unwrap()
        .into_inner()
        .entry
        .expect("the recorded entry");
    let granted = vault
        .check_consent(check(&a.client_number))
        .await
        .unwrap()
        .into_inner();
    assert!(granted.allowed, "{}", granted.reason);
    let decision = channels
        .may_contact(may_contact(&a.client_number))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        decision.verdict(),
        ch::Verdict::Allow,
        "{:?}",
        decision.receipt.as_ref().map(|r| &r.deciding_rule)
    );
    assert_eq!(cited_consent(&decision), Some(entry.sequence));

    // kill -9 the vault; a steward merges the two while it is down.
    let vault_addr = cluster.kill("vault");
    let merged = resolver
        .merge(api::MergeRequest {
            client_numbers: vec![a.client_number.clone(), b.client_number.clone()],
            reason: "same woman, confirmed at the branch".into(),
            actor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let survivor = merged.survivor.clone();

    // Back on the same address (the channels' peer URL) and data dir.
    let restarted = cluster.start("vault", &vault_addr, &follows);
    assert_eq!(restarted, vault_url, "the vault is back on its address");
    let mut vault = VaultServiceClient::new(channel_to(&vault_url, ADMIN).await);
    // It follows the merge it missed: the absorbed number answers for the
    // survivor, with the consent acknowledged before the kill.
    let want = survivor.as_str();
    for number in [&a.client_number, &b.client_number] {
        let after = eventually(&format!("the vault answers {number} for {want}"), || {
            let mut v = vault.clone();
            let number = number.clone();
            async move {
                let r = v
                    .check_consent(check(&number))
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                if r.client_number == want {
                    Ok(r)
                } else {
                    Err(format!("answered for {}", r.client_number))
                }
            }
        })
        .await;
        assert!(
            after.allowed,
            "the grant survived kill -9: {}",
            after.reason
        );
        assert_eq!(
            after.deciding_entry.as_ref().map(|e| e.sequence),
            Some(entry.sequence)
        );
    }
    let verify = vault
        .verify_ledger(va::VerifyLedgerRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verify.ok, "{}", verify.problem);
    assert_eq!(
        verify.entries_checked, 2,
        "the grant and the merge entry the vault wrote when it followed the merge"
    );

    // The channels process decides through the restarted vault again (its
    // connection to the old process died with it: poll until it is back).
    let decision = eventually("MayContact allows through the restarted vault", || {
        let mut c = channels.clone();
        let (number, survivor) = (b.client_number.clone(), survivor.clone());
        async move {
            let d = c
                .may_contact(may_contact(&number))
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            let on = d.receipt.as_ref().map(|r| r.client_number.clone());
            if d.verdict() == ch::Verdict::Allow && on.as_deref() == Some(survivor.as_str()) {
                Ok(d)
            } else {
                Err(format!(
                    "{:?} for {on:?} by {:?}",
                    d.verdict(),
                    d.receipt.as_ref().map(|r| &r.deciding_rule)
                ))
            }
        }
    })
    .await;
    assert_eq!(cited_consent(&decision), Some(entry.sequence));
    contact_points(&channels, &survivor, 2).await;
    let hits = search_until(&search, "search finds the survivor alone", |hits| {
        hits.len() == 1 && hits[0].client_number == survivor
    })
    .await;
    assert_eq!(hits[0].display_name, "TRAORÉ Aminata");

    // kill -9 the resolver; back on its address with the vault as its key
    // custodian. Its older clients stay readable under its own keys; a new
    // client's records go under a key the vault process holds and hands
    // out (wrapped) to services only.
    let resolver_addr = cluster.kill("resolver");
    let back = cluster.start(
        "resolver",
        &resolver_addr,
        &[("C360__PEERS__VAULT", vault_url.clone())],
    );
    assert_eq!(back, resolver_url);
    let mut resolver = ResolverServiceClient::new(channel_to(&resolver_url, ADMIN).await);
    let kept = resolver
        .get_client(api::GetClientRequest {
            client_number: survivor.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.records.len(), 2);
    let newcomer = resolve(&mut resolver, crate::server::moussa(), false).await;
    assert_eq!(newcomer.decision(), api::Decision::New);
    let mut as_peer =
        VaultServiceClient::new(channel_to(&vault_url, cluster.peer_token("resolver")).await);
    let key_of = |number: &str| va::GetWrappedDataKeysRequest {
        key_ids: vec![number.to_string()],
        create: false,
    };
    let held = as_peer
        .get_wrapped_data_keys(key_of(&newcomer.client_number))
        .await
        .unwrap()
        .into_inner();
    assert!(held.keys[0].present, "the vault holds the newcomer's key");
    let err = vault
        .get_wrapped_data_keys(key_of(&newcomer.client_number))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "keys are for services");

    // Erasure, asked of the vault, reaches every process.
    let erased = vault
        .erase_client(va::EraseClientRequest {
            client_number: b.client_number.clone(),
            reason: "erasure request 2026-118".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.client_number, survivor);
    assert!(erased.resolver_notified, "the vault told the resolver");
    for number in [&survivor, &a.client_number, &b.client_number] {
        let err = resolver
            .get_client(api::GetClientRequest {
                client_number: number.clone(),
                purpose: "stewardship".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{number}: {err}");
    }
    search_until(&search, "search forgets the erased client", |hits| {
        hits.is_empty()
    })
    .await;
    eventually("channels forgets the erased client", || {
        let mut c = channels.clone();
        let survivor = survivor.clone();
        async move {
            match c
                .list_contact_points(ch::ListContactPointsRequest {
                    client_number: survivor,
                })
                .await
            {
                Ok(r) if r.get_ref().contact_points.is_empty() => Ok(()),
                Ok(r) => Err(format!("{} points", r.get_ref().contact_points.len())),
                Err(e) if e.code() == Code::NotFound => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await;
    if let Ok(d) = channels.may_contact(may_contact(&b.client_number)).await {
        assert_ne!(d.get_ref().verdict(), ch::Verdict::Allow, "erased");
    }
    // Asked about now (AT is a fixed date that the machine clock may have
    // passed: the erasure only closes consent from the time it is recorded).
    let now = va::CheckConsentRequest {
        at_unix_ms: 0,
        ..check(&survivor)
    };
    let after = vault.check_consent(now).await.unwrap().into_inner();
    assert!(
        !after.allowed && after.reason.contains("erased"),
        "no consent outlives the erasure: {}",
        after.reason
    );
    // The newcomer's erasure destroys the key the resolver wrote under.
    let erased = vault
        .erase_client(va::EraseClientRequest {
            client_number: newcomer.client_number.clone(),
            reason: "erasure request 2026-119".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(erased.resolver_notified);
    let gone = as_peer
        .get_wrapped_data_keys(key_of(&newcomer.client_number))
        .await
        .unwrap()
        .into_inner();
    assert!(!gone.keys[0].present, "destroyed with the erasure");
    drop(cluster);
    eprintln!(
        "services_as_processes_survive_a_restart: {:?}",
        started.elapsed()
    );
}

/// One fake OTLP collector per process (spans carry no resource, so the
/// collector tells which process a span came from), drained continuously
/// so a full channel never holds an exporter back.
struct Collector {
    endpoint: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<ExportedSpan>>,
}

impl Collector {
    async fn start() -> Collector {
        let mut server = FakeCollectorServer::start().await.expect("collector");
        let endpoint = server.endpoint();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut spans = Vec::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    got = server.exported_spans(1, Duration::from_millis(100)) => spans.extend(got),
                }
            }
            spans.extend(server.exported_spans(0, Duration::ZERO).await);
            server.abort();
            spans
        });
        Collector {
            endpoint,
            stop,
            task,
        }
    }

    fn env(&self, service_name: &str) -> [(&'static str, String); 2] {
        [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.clone()),
            ("OTEL_SERVICE_NAME", service_name.to_string()),
        ]
    }

    /// Every span received (call once the process has exited).
    async fn spans(self) -> Vec<ExportedSpan> {
        let _ = self.stop.send(());
        self.task.await.expect("collector task")
    }
}

/// Issue 7 point 4: a MayContact call to the channels process and the
/// CheckConsents call it makes to the vault process are one trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_channels_and_vault() {
    let started = Instant::now();
    let mut cluster = Cluster::new();
    let (resolver_otel, vault_otel, channels_otel) = (
        Collector::start().await,
        Collector::start().await,
        Collector::start().await,
    );
    let resolver_url = cluster.start(
        "resolver",
        "127.0.0.1:0",
        &resolver_otel.env("c360-resolver"),
    );
    let peer = ("C360__PEERS__RESOLVER", resolver_url.clone());
    let [e1, e2] = vault_otel.env("c360-vault");
    let vault_url = cluster.start("vault", "127.0.0.1:0", &[peer.clone(), e1, e2]);
    let [e1, e2] = channels_otel.env("c360-channels");
    let channels_url = cluster.start(
        "channels",
        "127.0.0.1:0",
        &[peer, ("C360__PEERS__VAULT", vault_url.clone()), e1, e2],
    );
    {
        let mut resolver = ResolverServiceClient::new(channel_to(&resolver_url, ADMIN).await);
        let mut vault = VaultServiceClient::new(channel_to(&vault_url, ADMIN).await);
        let mut channels = ChannelServiceClient::new(channel_to(&channels_url, ADMIN).await);
        let a = resolve(&mut resolver, aminata_core(), false).await;
        contact_points(&channels, &a.client_number, 1).await;
        vault
            .record_consent(consent(
                &a.client_number,
                va::ConsentDecision::Granted,
                AT - 10 * DAY,
            ))
            .await
            .unwrap();
        let decision = channels
            .may_contact(may_contact(&a.client_number))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(decision.verdict(), ch::Verdict::Allow);
    }
    // Graceful stops flush the batch exporters; callers first.
    for name in ["channels", "vault", "resolver"] {
        cluster.terminate(name).await;
    }
    let channels_spans = channels_otel.spans().await;
    let vault_spans = vault_otel.spans().await;
    let resolver_spans = resolver_otel.spans().await;
    let names = |spans: &[ExportedSpan]| {
        spans
            .iter()
            .map(|s| format!("{} {} <- {}", s.name, s.trace_id, s.parent_span_id))
            .collect::<Vec<_>>()
    };

    let may = channels_spans
        .iter()
        .find(|s| s.name == "/c360.channels.v1.ChannelService/MayContact")
        .unwrap_or_else(|| {
            panic!(
                "no MayContact span from channels: {:?}",
                names(&channels_spans)
            )
        });
    assert_eq!(may.kind, "SPAN_KIND_SERVER");
    // Channels asks for consent in one batch call (CheckConsents).
    let consent = vault_spans
        .iter()
        .find(|s| {
            s.name
                .starts_with("/c360.vault.v1.VaultService/CheckConsent")
                && s.trace_id == may.trace_id
        })
        .unwrap_or_else(|| {
            panic!(
                "no consent-check span from the vault in trace {}: vault {:?}, channels {:?}",
                may.trace_id,
                names(&vault_spans),
                names(&channels_spans)
            )
        });
    assert_eq!(consent.kind, "SPAN_KIND_SERVER");
    // Its parent is a span of the channels process, under MayContact.
    let mut parent = channels_spans
        .iter()
        .find(|s| s.span_id == consent.parent_span_id)
        .unwrap_or_else(|| {
            panic!(
                "the vault span's parent {} is not a channels span: {:?}",
                consent.parent_span_id,
                names(&channels_spans)
            )
        });
    while parent.span_id != may.span_id {
        parent = channels_spans
            .iter()
            .find(|s| s.span_id == parent.parent_span_id)
            .unwrap_or_else(|| panic!("{} is not under MayContact", parent.name));
    }

    // Spans carry numbers and methods, never personal values.
    let personal = [
        "Aminata",
        "AMINATA",
        "Traor",
        "TRAOR",
        "0707123456",
        "07 07 12 34 56",
        "07123456",
        "0012 3456",
        "Cocody",
        "12/03/1985",
    ];
    for span in channels_spans
        .iter()
        .chain(&vault_spans)
        .chain(&resolver_spans)
    {
        let texts = std::iter::once(&span.name)
            .chain(span.attributes.values())
            .chain(
                span.events
                    .iter()
                    .flat_map(|e| std::iter::once(&e.name).chain(e.attributes.values())),
            );
        for text in texts {
            for value in personal {
                assert!(
                    !text.contains(value),
                    "span {} carries a personal value: {text}",
                    span.name
                );
            }
        }
    }
    drop(cluster);
    eprintln!(
        "one_trace_spans_channels_and_vault: {:?}",
        started.elapsed()
    );
}
