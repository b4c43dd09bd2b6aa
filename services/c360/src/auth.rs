//! Bearer-token authentication, per-caller rate limits and the per-RPC
//! span, as one tower layer in front of every service.
//!
//! Tokens are random (`c360_` + 43 base64url characters, 256 bits) and
//! stored only as SHA-256 hashes, one `name role sha256hex` line each: in
//! `<data_dir>/tokens` (written by `c360 token create` and by the first
//! start) and in an optional extra file (a mounted Kubernetes Secret). A
//! token may also come from `C360_BOOTSTRAP_ADMIN_TOKEN` (automation,
//! tests). There is no built-in secret: a store with no token at all gets
//! a fresh admin token on first start, printed once.
//!
//! The layer never rejects a call for lacking a token, so health checks and
//! reflection stay open; it attaches the [`Caller`] when the token is valid
//! and each c360 RPC then checks its roles (`c360_rpc::authorize`). A token
//! that is presented but unknown is rejected at once with UNAUTHENTICATED.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use base64::Engine;
use c360_rpc::{Caller, Peer, Role, Sources};
use tonic::body::Body;
use tracing::Instrument;

/// Environment variable with a plaintext admin token to accept.
pub const BOOTSTRAP_ENV: &str = "C360_BOOTSTRAP_ADMIN_TOKEN";
/// Environment variable naming an extra tokens file.
pub const TOKENS_FILE_ENV: &str = "C360_TOKENS_FILE";
const TOKEN_PREFIX: &str = "c360_";
/// Shortest token a person may choose (bootstrap, `c360 token hash`).
pub const MIN_TOKEN_CHARS: usize = 32;
/// Fewest distinct characters in a chosen token ("aaaa…" is not a secret).
const MIN_TOKEN_DISTINCT: usize = 10;

/// A plaintext token, redacted in `Debug`.
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

fn hash(token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token.
pub fn generate_token() -> anyhow::Result<Secret> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no system randomness"))?;
    Ok(Secret(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// What a token grants besides its role: the source systems whose records
/// it may write, and for a `service` token, which c360 service holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub sources: Sources,
    pub peer: Option<Peer>,
}

impl Grants {
    /// Checks the grants fit the role: a source system's token names the
    /// sources it writes; only a service token names a peer.
    pub fn check(&self, role: Role) -> anyhow::Result<()> {
        if role == Role::Source && self.sources.is_none() {
            bail!(
                "a source token must name the source systems it writes (--sources core_banking,...)"
            );
        }
        if role == Role::Admin && !self.sources.is_none() {
            bail!("an admin token writes every source system already: no --sources");
        }
        if self.peer.is_some() && role != Role::Service {
            bail!("only a service token names a peer (--peer)");
        }
        Ok(())
    }

    fn columns(&self) -> String {
        let mut out = String::new();
        if !self.sources.is_none() {
            out.push_str(&format!(" sources={}", self.sources));
        }
        if let Some(p) = self.peer {
            out.push_str(&format!(" peer={p}"));
        }
        out
    }
}

/// The tokens-file line for a token:
/// `name role sha256hex [sources=a,b|*] [peer=vault]`.
pub fn token_line(name: &str, role: Role, grants: &Grants, token: &Secret) -> String {
    format!("{name} {role} {}{}", hash(token.expose()), grants.columns())
}

/// Refuses a token a person chose that is too short or too plain to resist
/// guessing (generated tokens carry 256 bits).
pub fn check_strength(token: &str, what: &str) -> anyhow::Result<()> {
    let distinct = token
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if token.chars().count() < MIN_TOKEN_CHARS || distinct < MIN_TOKEN_DISTINCT {
        bail!(
            "{what} is too weak: use at least {MIN_TOKEN_CHARS} random characters (`c360 token create` mints 43)"
        );
    }
    Ok(())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
    {
        bail!("token name must be non-empty letters, digits or - _ . : @");
    }
    Ok(())
}

fn parse_tokens(text: &str, path: &Path) -> anyhow::Result<Vec<(String, Caller)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [name, role, digest, ref extra @ ..] = parts[..] else {
            bail!(
                "{} line {}: expected `name role sha256hex [sources=a,b] [peer=service]`",
                path.display(),
                i + 1
            );
        };
        let role: Role = role
            .parse()
            .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1))?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "{} line {}: the third column must be a SHA-256 hex digest (use `c360 token hash`)",
                path.display(),
                i + 1
            );
        }
        let at = |e: String| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1);
        let mut grants = Grants::default();
        for column in extra {
            match column.split_once('=') {
                Some(("sources", v)) => grants.sources = Sources::parse(v).map_err(at)?,
                Some(("peer", v)) => grants.peer = Some(v.parse().map_err(at)?),
                _ => {
                    return Err(at(format!(
                        "unknown column {column:?} (expected sources=... or peer=...)"
                    )));
                }
            }
        }
        grants.check(role).map_err(|e| at(e.to_string()))?;
        out.push((
            digest.to_ascii_lowercase(),
            Caller::new(name, role)
                .with_sources(grants.sources)
                .with_peer(grants.peer),
        ));
    }
    Ok(out)
}

/// Appends a new token to `<data_dir>/tokens` and returns it (shown once).
pub fn create_token(
    data_dir: &Path,
    name: &str,
    role: Role,
    grants: &Grants,
) -> anyhow::Result<Secret> {
    check_name(name)?;
    grants.check(role)?;
    crate::private::create_dir(data_dir)?;
    let path = data_dir.join("tokens");
    if path.exists() {
        let existing = parse_tokens(&std::fs::read_to_string(&path)?, &path)?;
        if existing.iter().any(|(_, c)| c.id == name) {
            bail!("a token named {name:?} already exists");
        }
    }
    let token = generate_token()?;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{}", token_line(name, role, grants, &token))?;
    file.sync_all()?;
    Ok(token)
}

struct Loaded {
    by_hash: HashMap<String, Caller>,
    stamps: Vec<Stamp>,
}

/// The known tokens, reloaded when their files change.
pub struct TokenStore {
    files: Vec<PathBuf>,
    bootstrap: Option<String>,
    loaded: RwLock<Loaded>,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl TokenStore {
    /// Opens the tokens of `data_dir` plus `extra_file`; with no token
    /// anywhere, creates an admin token and returns it to be shown once.
    pub fn open(
        data_dir: &Path,
        extra_file: Option<&Path>,
        bootstrap: Option<String>,
    ) -> anyhow::Result<(TokenStore, Option<Secret>)> {
        let mut files = vec![data_dir.join("tokens")];
        files.extend(extra_file.map(Path::to_path_buf));
        for file in &files {
            crate::private::check_secret_file(file, "the tokens file")?;
        }
        let bootstrap = bootstrap.filter(|t| !t.is_empty());
        if let Some(t) = &bootstrap {
            check_strength(t, BOOTSTRAP_ENV)?;
        }
        let mut store = TokenStore {
            files,
            bootstrap: bootstrap.map(|t| hash(&t)),
            loaded: RwLock::new(Loaded {
                by_hash: HashMap::new(),
                stamps: Vec::new(),
            }),
        };
        let loaded = store.load()?;
        let mut created = None;
        if loaded.by_hash.is_empty() {
            created = Some(create_token(
                data_dir,
                "admin",
                Role::Admin,
                &Grants::default(),
            )?);
            store.loaded = RwLock::new(store.load()?);
        } else {
            store.loaded = RwLock::new(loaded);
        }
        Ok((store, created))
    }

    fn load(&self) -> anyhow::Result<Loaded> {
        let mut by_hash = HashMap::new();
        let mut stamps = Vec::new();
        for path in &self.files {
            stamps.push(stamp(path));
            if !path.exists() {
                continue;
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            by_hash.extend(parse_tokens(&text, path)?);
        }
        if let Some(h) = &self.bootstrap {
            by_hash.insert(h.clone(), Caller::new("bootstrap-admin", Role::Admin));
        }
        Ok(Loaded { by_hash, stamps })
    }

    /// The caller a presented token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let h = hash(token);
        {
            let l = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = l.by_hash.get(&h) {
                return Some(c.clone());
            }
            // Unknown: reload if a file changed (a stat per file; a
            // token minted a moment ago works at once).
            let now: Vec<Stamp> = self.files.iter().map(|p| stamp(p)).collect();
            if now == l.stamps {
                return None;
            }
        }
        let mut l = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        let now: Vec<Stamp> = self.files.iter().map(|p| stamp(p)).collect();
        if now != l.stamps {
            match self.load() {
                Ok(fresh) => *l = fresh,
                Err(e) => tracing::warn!(error = %e, "cannot reload tokens; keeping the old ones"),
            }
        }
        l.by_hash.get(&h).cloned()
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-caller token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(per_second).max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call from `caller`'s bucket; false when it is empty.
    pub fn allow(&self, caller: &str) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = b.entry(caller.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the layer needs, shared by every connection.
#[derive(Debug)]
pub struct Gate {
    pub tokens: TokenStore,
    pub limiter: RateLimiter,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How long a call may take to start answering when the caller set no
    /// deadline (a stream, once started, runs on).
    pub default_timeout: Duration,
    /// The methods served: metric labels and which calls stream requests.
    pub methods: crate::methods::Methods,
    /// Open request streams per caller, bounded.
    pub streams: Arc<crate::streams::StreamSlots>,
    /// A request stream idle this long is closed; `None`: never.
    pub stream_idle_timeout: Option<Duration>,
    /// Largest request message (checked on the wire, for every service).
    pub max_message_bytes: usize,
}

/// The tower layer: authentication, rate limit, deadline, span, metrics.
#[derive(Clone, Debug)]
pub struct GateLayer(pub Arc<Gate>);

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            gate: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GateService<S> {
    gate: Arc<Gate>,
    inner: S,
}

fn reject(status: tonic::Status) -> http::Response<Body> {
    status.into_http()
}

fn bearer(headers: &http::HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    let text = value.to_str().map_err(|_| ()).ok();
    // The scheme is case-insensitive (RFC 6750 via RFC 7235): "Bearer",
    // "bearer", "BEARER" alike.
    let token = text.and_then(|t| {
        let (scheme, rest) = t.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    Some(token.filter(|t| !t.is_empty()).ok_or(()))
}

impl<S> tower::Service<http::Request<Body>> for GateService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The ready inner service goes with this call; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        // Unknown paths share one label: made-up methods cannot grow metrics.
        let method = gate.methods.label(req.uri().path()).to_string();
        let streaming = gate.methods.client_streaming(req.uri().path());
        let parent = crate::telemetry::extract_context(req.headers());
        Box::pin(async move {
            let caller = match bearer(req.headers()) {
                None => None,
                Some(Err(())) => {
                    return Ok(reject(tonic::Status::unauthenticated(
                        "malformed authorization header (expected `Bearer <token>`)",
                    )));
                }
                Some(Ok(token)) => match gate.tokens.authenticate(token) {
                    Some(c) => Some(c),
                    None => {
                        gate.metrics.request(&method, "UNAUTHENTICATED", 0.0);
                        return Ok(reject(tonic::Status::unauthenticated("unknown token")));
                    }
                },
            };
            let role = caller.as_ref().map_or("none", |c| c.role.as_str());
            if let Some(c) = &caller {
                if !gate.limiter.allow(&c.id) {
                    gate.metrics.request(&method, "RESOURCE_EXHAUSTED", 0.0);
                    return Ok(reject(tonic::Status::resource_exhausted(
                        "rate limit exceeded for this caller",
                    )));
                }
                req.extensions_mut().insert(c.clone());
            }
            let slot = match (&caller, streaming) {
                (Some(c), true) => match gate.streams.take(&c.id) {
                    Some(slot) => Some(slot),
                    None => {
                        gate.metrics.request(&method, "RESOURCE_EXHAUSTED", 0.0);
                        return Ok(reject(tonic::Status::resource_exhausted(format!(
                            "this caller already has {} streams open (limits.max_streams_per_caller)",
                            gate.streams.max()
                        ))));
                    }
                },
                _ => None,
            };
            let activity = streaming.then(crate::streams::Activity::new);
            let idle = gate.stream_idle_timeout.zip(activity.clone());
            let max_message_bytes = gate.max_message_bytes;
            let req = req.map(|b| crate::streams::RequestBody::wrap(b, max_message_bytes, idle));
            let span = tracing::info_span!(
                "grpc",
                otel.name = %method,
                otel.kind = "server",
                rpc.system = "grpc",
                rpc.method = %method,
                caller.role = role,
                grpc.status = tracing::field::Empty,
            );
            crate::telemetry::set_parent(&span, parent);
            let start = Instant::now();
            let now = tokio::time::Instant::now();
            let caller_deadline = match crate::deadline::parse_grpc_timeout(req.headers()) {
                Ok(t) => t.map(|t| crate::deadline::server_deadline(now, t)),
                Err(why) => {
                    gate.metrics.request(&method, "INVALID_ARGUMENT", 0.0);
                    return Ok(reject(tonic::Status::invalid_argument(why)));
                }
            };
            if caller_deadline.is_some_and(|d| d <= now) {
                gate.metrics.request(&method, "DEADLINE_EXCEEDED", 0.0);
                return Ok(reject(tonic::Status::deadline_exceeded(
                    "deadline exceeded before the call started",
                )));
            }
            let start_by = caller_deadline.map_or(now + gate.default_timeout, |d| {
                d.min(now + gate.default_timeout)
            });
            let call = inner.call(req).instrument(span.clone());
            let result = match tokio::time::timeout_at(start_by, call).await {
                Ok(result) => result.map(|resp| {
                    let resp = match activity {
                        Some(a) => resp.map(|b| crate::streams::ResponseBody::wrap(b, a, slot)),
                        None => resp,
                    };
                    match caller_deadline {
                        Some(d) => resp.map(|body| crate::deadline::DeadlineBody::wrap(body, d)),
                        None => resp,
                    }
                }),
                Err(_elapsed) => Ok(reject(tonic::Status::deadline_exceeded(
                    if caller_deadline == Some(start_by) {
                        "deadline exceeded".to_string()
                    } else {
                        format!(
                            "no answer within the server's default timeout of {} s",
                            gate.default_timeout.as_secs()
                        )
                    },
                ))),
            };
            if let Ok(resp) = &result {
                let code = resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("OK", code_name);
                span.record("grpc.status", code);
                gate.metrics
                    .request(&method, code, start.elapsed().as_secs_f64());
            }
            result
        })
    }
}

fn code_name(code: i32) -> &'static str {
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tower::Layer;

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
}
