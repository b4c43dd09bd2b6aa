//! The platform configuration, layered: built-in defaults, then a TOML file
//! (`--config`), then `C360__SECTION__KEY` environment variables, then
//! command-line flags. `c360 serve --dump-config` prints the result.
//!
//! Layering is done on TOML tables before one typed deserialisation, so a
//! value from any layer is checked the same way and unknown keys are errors
//! wherever they come from.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Prefix of configuration environment variables (`C360__SERVER__LISTEN`).
pub const ENV_PREFIX: &str = "C360__";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub peers: PeersConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub telemetry: TelemetryConfig,
    pub resolver: ResolverSettings,
    pub vault: c360_vault::VaultConfig,
    pub search: c360_search::SearchConfig,
    pub channels: c360_channels::ChannelsConfig,
}

/// The gRPC server and where data lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// gRPC address; port 0 picks a free port.
    pub listen: String,
    /// Plain-HTTP address of the Prometheus `/metrics` endpoint; empty: off.
    pub metrics_listen: String,
    /// Where the embedded stores live (one directory per service).
    pub data_dir: PathBuf,
    /// `all`, or a comma list of `resolver`, `vault`, `search`, `channels`.
    pub services: String,
    /// Time given to in-flight calls to finish on shutdown.
    pub shutdown_grace_secs: u64,
    pub tls: TlsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:50051".into(),
            metrics_listen: String::new(),
            data_dir: PathBuf::from("./c360-data"),
            services: "all".into(),
            shutdown_grace_secs: 10,
            tls: TlsConfig::default(),
        }
    }
}

/// TLS for gRPC (rustls). Off unless a certificate and key are given; with
/// a client CA, clients must present a certificate it signed (mTLS).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
}

/// URLs of services that do not run in this process (`http://vault:50051`).
/// A service that runs here is always called in process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeersConfig {
    pub resolver: Option<String>,
    pub vault: Option<String>,
    pub search: Option<String>,
    pub channels: Option<String>,
    /// CA certificate to verify peers' TLS certificates (https:// URLs).
    pub ca_file: Option<PathBuf>,
}

/// Bearer tokens. Tokens minted by `c360 token create` live hashed in
/// `<data_dir>/tokens`; `tokens_file` adds more (e.g. a mounted Secret),
/// in the same `name role sha256hex` line format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub tokens_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest gRPC message accepted or sent.
    pub max_message_bytes: usize,
    /// Sustained calls per second per caller (token bucket); 0: unlimited.
    pub requests_per_second_per_caller: u32,
    /// Burst above the sustained rate.
    pub burst_requests: u32,
    /// Longest a call may run when the client sets no deadline.
    pub default_timeout_secs: u64,
    /// A request stream (`Ingest`) on which neither side sent anything for
    /// this long is closed with DEADLINE_EXCEEDED; 0: never.
    pub stream_idle_timeout_secs: u64,
    /// Request streams one caller may have open at once; 0: unbounded.
    pub max_streams_per_caller: usize,
    /// HTTP/2 flow-control window of one call: what a client may send
    /// ahead of the handler. Kept small so that, with messages of one DATA
    /// frame each, what waits in the HTTP/2 layer stays within its budget
    /// for small frames (see `serve.rs`).
    pub http2_stream_window_bytes: u32,
    /// HTTP/2 flow-control window of one connection (all its calls).
    pub http2_connection_window_bytes: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_bytes: 4 << 20,
            requests_per_second_per_caller: 10_000,
            burst_requests: 20_000,
            default_timeout_secs: 60,
            stream_idle_timeout_secs: 60,
            max_streams_per_caller: 16,
            http2_stream_window_bytes: 64 << 10,
            http2_connection_window_bytes: 8 << 20,
        }
    }
}

impl LimitsConfig {
    /// HTTP/2 windows are 1 KiB to 2^31 - 1 bytes (RFC 9113), and a
    /// connection's holds at least one call's.
    fn check(&self) -> anyhow::Result<()> {
        const MAX: u32 = (1 << 31) - 1;
        for (key, v) in [
            ("http2_stream_window_bytes", self.http2_stream_window_bytes),
            (
                "http2_connection_window_bytes",
                self.http2_connection_window_bytes,
            ),
        ] {
            if !(1024..=MAX).contains(&v) {
                bail!("limits.{key}: must be 1024 to {MAX} bytes, got {v}");
            }
        }
        if self.http2_connection_window_bytes < self.http2_stream_window_bytes {
            bail!(
                "limits.http2_connection_window_bytes must be at least http2_stream_window_bytes"
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Logs as JSON lines instead of text.
    pub json_logs: bool,
    /// `tracing` filter (`RUST_LOG` wins when set).
    pub log_filter: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            json_logs: false,
            log_filter: "info".into(),
        }
    }
}

/// The resolver's settings (matching thresholds and survivorship).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverSettings {
    /// Synthetic records the first model is trained on (first start only).
    pub bootstrap_records: usize,
    /// The match prior assumes at least this many records.
    pub population_floor: u64,
    /// Probability from which a record joins a client automatically.
    pub link_threshold: f64,
    /// Probability from which a steward reviews the pair.
    pub review_threshold: f64,
    /// Blocking keys held by more records than this are skipped.
    pub max_postings: usize,
    /// Per-field survivorship rules of the golden record.
    pub survivorship: c360_resolver::golden::Survivorship,
    /// Matching settings file (TOML, as `c360 dedupe --settings` reads;
    /// `c360 settings --dump` prints every key). `link_threshold` and
    /// `review_threshold` above apply over the file's.
    pub settings_file: Option<PathBuf>,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        let d = c360_resolver::ResolverConfig::default();
        ResolverSettings {
            bootstrap_records: crate::bootstrap::DEFAULT_RECORDS,
            population_floor: d.population_floor,
            link_threshold: d.matching.link_threshold,
            review_threshold: d.matching.review_threshold,
            max_postings: d.max_postings,
            survivorship: d.survivorship,
            settings_file: None,
        }
    }
}

impl ResolverSettings {
    pub fn to_resolver_config(&self) -> anyhow::Result<c360_resolver::ResolverConfig> {
        if !(0.0..=1.0).contains(&self.review_threshold)
            || !(0.0..=1.0).contains(&self.link_threshold)
            || self.review_threshold > self.link_threshold
        {
            bail!("resolver: need 0 <= review_threshold <= link_threshold <= 1");
        }
        let matching = match &self.settings_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("resolver.settings_file: cannot read {}", path.display())
                })?;
                c360_matching::MatchConfig::from_toml(&text)
                    .with_context(|| format!("resolver.settings_file {}", path.display()))?
            }
            None => c360_matching::MatchConfig::default(),
        };
        let mut c = c360_resolver::ResolverConfig {
            population_floor: self.population_floor,
            max_postings: self.max_postings,
            survivorship: self.survivorship.clone(),
            matching,
        };
        c.matching.link_threshold = self.link_threshold;
        c.matching.review_threshold = self.review_threshold;
        Ok(c)
    }
}

/// The services one process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    Resolver,
    Vault,
    Search,
    Channels,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 4] = [
        ServiceKind::Resolver,
        ServiceKind::Vault,
        ServiceKind::Search,
        ServiceKind::Channels,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Resolver => "resolver",
            ServiceKind::Vault => "vault",
            ServiceKind::Search => "search",
            ServiceKind::Channels => "channels",
        }
    }
}

impl Config {
    /// The services to run, from `server.services`.
    pub fn services(&self) -> anyhow::Result<Vec<ServiceKind>> {
        parse_services(&self.server.services)
    }

    /// Layers `file`, the environment and `flags` over the defaults.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: toml::Table,
    ) -> anyhow::Result<Config> {
        let mut table = toml::Table::try_from(Config::default())
            .context("cannot represent the default configuration")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            // Parse the file on its own first: its errors then carry its
            // line and column.
            toml::from_str::<Config>(&text).with_context(|| format!("in {}", path.display()))?;
            let layer: toml::Table = toml::from_str(&text)?;
            merge(&mut table, layer);
        }
        for (name, value) in env {
            let Some(path) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
            if keys.iter().any(|k| k.is_empty()) {
                bail!("environment variable {name}: empty key segment");
            }
            set_path(&mut table, &keys, env_value(&value))
                .with_context(|| format!("environment variable {name}"))?;
        }
        merge(&mut table, flags);
        let config: Config = toml::Value::Table(table)
            .try_into()
            .context("invalid configuration")?;
        config.services()?;
        config.resolver.to_resolver_config()?;
        config.limits.check()?;
        Ok(config)
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}

fn parse_services(text: &str) -> anyhow::Result<Vec<ServiceKind>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "all" {
            out.extend(ServiceKind::ALL);
            continue;
        }
        let Some(kind) = ServiceKind::ALL.into_iter().find(|k| k.name() == part) else {
            bail!(
                "server.services: unknown service {part:?} (expected all, resolver, vault, search, channels)"
            );
        };
        out.push(kind);
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        bail!("server.services: names no service");
    }
    Ok(out)
}

/// An environment value is read as a TOML value when it is one (`true`,
/// `42`, `["a"]`), else as a string.
fn env_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> anyhow::Result<()> {
    let (last, parents) = keys.split_last().context("empty key")?;
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else {
            bail!("{key} is not a section");
        };
        current = t;
    }
    current.insert(last.clone(), value);
    Ok(())
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Table, layer: toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(l)) => merge(b, l),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../c360.example.toml");
        let config = Config::load(Some(&path), Vec::new(), toml::Table::new()).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"0.0.0.0:1\"\nservices = \"vault\"\n[limits]\nburst_requests = 5\n",
        )
        .unwrap();
        let mut flags = toml::Table::new();
        let mut server = toml::Table::new();
        server.insert("listen".into(), "0.0.0.0:3".into());
        flags.insert("server".into(), toml::Value::Table(server));
        let c = Config::load(
            Some(&file),
            env(&[
                ("C360__SERVER__LISTEN", "0.0.0.0:2"),
                ("C360__LIMITS__BURST_REQUESTS", "7"),
                ("C360__TELEMETRY__JSON_LOGS", "true"),
                ("OTHER", "x"),
            ]),
            flags,
        )
        .unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:3", "flags win");
        assert_eq!(c.limits.burst_requests, 7, "env beats file");
        assert!(c.telemetry.json_logs);
        assert_eq!(c.services().unwrap(), vec![ServiceKind::Vault]);
        assert_eq!(
            c.server.data_dir,
            PathBuf::from("./c360-data"),
            "default kept"
        );
    }

    #[test]
    fn errors_name_the_key_and_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nlisten = \"x\"\nlisen = 1\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&file), Vec::new(), toml::Table::new()).unwrap_err()
        );
        assert!(err.contains("lisen") && err.contains("line 3"), "{err}");
        let err = format!(
            "{:#}",
            Config::load(
                None,
                env(&[("C360__SERVER__NOPE", "1")]),
                toml::Table::new()
            )
            .unwrap_err()
        );
        assert!(err.contains("nope"), "{err}");
        let err = format!(
            "{:#}",
            Config::load(
                None,
                env(&[("C360__SERVER__SERVICES", "resolver,mail")]),
                toml::Table::new()
            )
            .unwrap_err()
        );
        assert!(err.contains("mail"), "{err}");
    }

    #[test]
    fn dump_round_trips() {
        let c = Config::default();
        let text = c.to_toml().unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
