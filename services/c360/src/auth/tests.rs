//! The tokens, the rate limiter and the gate.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use c360_rpc::{Caller, Peer, Role, Sources};
use tonic::body::Body;
use tower::Layer;

use super::gate::bearer;
use super::*;

/// A bootstrap admin token strong enough to be accepted.
const BOOT: &str = "c360_test-bootstrap-0123456789abcdefXYZ";

/// Writes a tokens file readable by its owner only.
fn write_secret(path: &Path, text: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn first_start_creates_one_admin_token_stored_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, created) = TokenStore::open(dir.path(), None, None).unwrap();
    let token = created.expect("an admin token on first start");
    assert_eq!(format!("{token:?}"), "Secret(…)");
    let caller = store.authenticate(token.expose()).unwrap();
    assert_eq!(caller.role, Role::Admin);
    let on_disk = std::fs::read_to_string(dir.path().join("tokens")).unwrap();
    assert!(!on_disk.contains(token.expose()), "only the hash is stored");
    // A second start creates nothing.
    let (_, again) = TokenStore::open(dir.path(), None, None).unwrap();
    assert!(again.is_none());
    assert!(store.authenticate("c360_wrong").is_none());
}

#[test]
fn tokens_from_a_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("secret-tokens");
    let app = generate_token().unwrap();
    std::fs::write(
        &extra,
        format!(
            "# mounted\n{}\n",
            token_line("crm", Role::App, &Grants::default(), &app)
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&extra, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (store, created) =
        TokenStore::open(&dir.path().join("data"), Some(&extra), Some(BOOT.into())).unwrap();
    assert!(
        created.is_none(),
        "provisioned tokens: no admin token minted"
    );
    assert_eq!(
        store.authenticate(app.expose()).unwrap(),
        Caller::new("crm", Role::App)
    );
    assert_eq!(store.authenticate(BOOT).unwrap().role, Role::Admin);
}

#[test]
fn bad_token_lines_are_errors_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("t");
    write_secret(&extra, "a admin 00\n");
    let err = TokenStore::open(dir.path(), Some(&extra), None).unwrap_err();
    assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    write_secret(&extra, format!("a root {}\n", "0".repeat(64)));
    let err = TokenStore::open(dir.path(), Some(&extra), None).unwrap_err();
    assert!(format!("{err:#}").contains("unknown role"), "{err:#}");
}

#[test]
fn create_token_refuses_duplicates_and_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let none = Grants::default();
    create_token(dir.path(), "ops", Role::Steward, &none).unwrap();
    assert!(create_token(dir.path(), "ops", Role::App, &none).is_err());
    assert!(create_token(dir.path(), "two words", Role::App, &none).is_err());
}

#[test]
fn tokens_carry_their_sources_and_peer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let core = Grants {
        sources: Sources::parse("core_banking,agent_app").unwrap(),
        peer: None,
    };
    let source = create_token(d, "cbs", Role::Source, &core).unwrap();
    let vault = Grants {
        sources: Sources::None,
        peer: Some(Peer::Vault),
    };
    let peer = create_token(d, "vault-peer", Role::Service, &vault).unwrap();
    let (store, _) = TokenStore::open(d, None, None).unwrap();
    let c = store.authenticate(source.expose()).unwrap();
    assert!(c.may_write("core_banking") && c.may_write("agent_app"));
    assert!(!c.may_write("mobile_money"));
    let p = store.authenticate(peer.expose()).unwrap();
    assert_eq!(p.peer, Some(Peer::Vault));
    assert!(p.check_peer(Peer::Vault, "test").is_ok());
    assert!(!p.may_write("core_banking"));

    // A source token must name what it writes; only services name a peer.
    let err = create_token(d, "bare", Role::Source, &Grants::default()).unwrap_err();
    assert!(err.to_string().contains("--sources"), "{err}");
    assert!(create_token(d, "crm", Role::App, &vault).is_err());
    let file = d.join("extra");
    write_secret(&file, format!("x source {} sources=\n", "0".repeat(64)));
    let err = TokenStore::open(d, Some(&file), None).unwrap_err();
    assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    write_secret(&file, format!("x app {} colour=red\n", "0".repeat(64)));
    let err = TokenStore::open(d, Some(&file), None).unwrap_err();
    assert!(format!("{err:#}").contains("unknown column"), "{err:#}");
}

#[test]
fn weak_chosen_tokens_and_open_token_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = TokenStore::open(dir.path(), None, Some("admin123".into())).unwrap_err();
    assert!(err.to_string().contains("too weak"), "{err}");
    let plain = "a".repeat(40);
    assert!(check_strength(&plain, "token").is_err());
    assert!(check_strength(BOOT, "token").is_ok());
    assert!(check_strength(generate_token().unwrap().expose(), "token").is_ok());

    use std::os::unix::fs::PermissionsExt;
    let extra = dir.path().join("tokens-secret");
    let app = generate_token().unwrap();
    std::fs::write(
        &extra,
        token_line("crm", Role::App, &Grants::default(), &app),
    )
    .unwrap();
    std::fs::set_permissions(&extra, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = TokenStore::open(dir.path(), Some(&extra), None).unwrap_err();
    assert!(err.to_string().contains("open to other users"), "{err}");
    std::fs::set_permissions(&extra, std::fs::Permissions::from_mode(0o440)).unwrap();
    assert!(TokenStore::open(dir.path(), Some(&extra), None).is_ok());
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let header = |v: &str| {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
        h
    };
    for v in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc "] {
        assert_eq!(bearer(&header(v)), Some(Ok("abc")), "{v}");
    }
    for v in ["Basic abc", "Bearer", "Bearerabc", "Bearer  "] {
        assert_eq!(bearer(&header(v)), Some(Err(())), "{v}");
    }
    assert_eq!(bearer(&http::HeaderMap::new()), None);
}

fn gate_over<S>(dir: &Path, inner: S, default_timeout: Duration) -> GateService<S> {
    let (tokens, _) = TokenStore::open(dir, None, Some(BOOT.into())).unwrap();
    GateLayer(Arc::new(Gate {
        tokens,
        limiter: RateLimiter::new(0, 0),
        metrics: Arc::new(crate::metrics::Metrics::new()),
        default_timeout,
        methods: crate::methods::Methods::served().unwrap(),
        streams: crate::streams::StreamSlots::new(0),
        stream_idle_timeout: None,
        max_message_bytes: 4 << 20,
    }))
    .layer(inner)
}

fn call_with(timeout: Option<&str>) -> http::Request<Body> {
    let mut b = http::Request::builder()
        .uri("/c360.resolver.v1.ResolverService/GetClient")
        .header("authorization", format!("Bearer {BOOT}"));
    if let Some(t) = timeout {
        b = b.header("grpc-timeout", t);
    }
    b.body(Body::empty()).unwrap()
}

fn status_of(resp: &http::Response<Body>) -> (tonic::Code, String) {
    let s = tonic::Status::from_header_map(resp.headers()).unwrap();
    (s.code(), s.message().to_string())
}

#[tokio::test]
async fn deadlines_are_answered_with_deadline_exceeded() {
    use tower::{Service, ServiceExt};
    let dir = tempfile::tempdir().unwrap();
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = started.clone();
    // A handler that never answers.
    let never = tower::service_fn(move |_req: http::Request<Body>| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::pending::<Result<http::Response<Body>, std::convert::Infallible>>()
    });
    let mut gate = gate_over(dir.path(), never, Duration::from_millis(80));

    // Expired on arrival: refused without running the handler.
    let resp = gate
        .ready()
        .await
        .unwrap()
        .call(call_with(Some("1u")))
        .await
        .unwrap();
    assert_eq!(status_of(&resp).0, tonic::Code::DeadlineExceeded);
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The caller's deadline passes while the handler runs.
    let resp = gate
        .ready()
        .await
        .unwrap()
        .call(call_with(Some("30m")))
        .await
        .unwrap();
    assert_eq!(
        status_of(&resp),
        (tonic::Code::DeadlineExceeded, "deadline exceeded".into())
    );

    // No caller deadline: the server's default timeout.
    let resp = gate
        .ready()
        .await
        .unwrap()
        .call(call_with(None))
        .await
        .unwrap();
    let (code, message) = status_of(&resp);
    assert_eq!(code, tonic::Code::DeadlineExceeded);
    assert!(message.contains("default timeout"), "{message}");
    assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 2);

    // A malformed deadline is named.
    let resp = gate
        .ready()
        .await
        .unwrap()
        .call(call_with(Some("soon")))
        .await
        .unwrap();
    let (code, message) = status_of(&resp);
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert!(message.contains("grpc-timeout"), "{message}");
}

#[test]
fn rate_limiter_allows_the_burst_then_refuses() {
    let l = RateLimiter::new(1, 3);
    assert!(l.allow("a") && l.allow("a") && l.allow("a"));
    assert!(!l.allow("a"));
    assert!(l.allow("b"), "buckets are per caller");
    assert!(RateLimiter::new(0, 0).allow("x"));
}
