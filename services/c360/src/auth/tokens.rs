//! Tokens: generated, hashed, stored one line each, reloaded when their
//! files change.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use base64::Engine;
use c360_rpc::{Caller, Peer, Role, Sources};

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
