use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Configuration of the vault (`[vault]` in the `c360 serve` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// Access policy (TOML, see `policy.example.toml`); unset: the built-in
    /// default policy, which is that example file.
    pub policy_file: Option<PathBuf>,
    /// How many unwrapped data keys are kept in memory at most.
    pub key_cache_entries: usize,
    /// How long an unwrapped data key stays cached, in seconds (0: no cache).
    pub key_cache_ttl_secs: u64,
    /// Fields kept in blind indexes for exact lookups ("phone", "email",
    /// "national_id"; other names are indexed under their own domain).
    pub blind_index_fields: Vec<String>,
    /// How often a pending resolver erasure is retried, in seconds.
    pub erasure_retry_secs: u64,
    /// Largest number of items (fields, checks, tokens) in one request.
    pub max_batch_items: usize,
    /// Largest personal value accepted, in bytes.
    pub max_value_bytes: usize,
    /// Size of the chunks of `ExportConsents`, in bytes.
    pub export_chunk_bytes: usize,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            policy_file: None,
            key_cache_entries: 100_000,
            key_cache_ttl_secs: 300,
            blind_index_fields: vec!["phone".into(), "email".into(), "national_id".into()],
            erasure_retry_secs: 30,
            max_batch_items: 10_000,
            max_value_bytes: 64 * 1024,
            export_chunk_bytes: 64 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_unknown_keys_are_refused() {
        let text = serde_json::to_string(&VaultConfig::default()).expect("serialize");
        let back: VaultConfig = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, VaultConfig::default());
        let empty: VaultConfig = toml::from_str("").expect("parse");
        assert_eq!(empty, VaultConfig::default());
        let partial: VaultConfig = toml::from_str("key_cache_ttl_secs = 5\n").expect("parse");
        assert_eq!(partial.key_cache_ttl_secs, 5);
        assert_eq!(partial.max_batch_items, 10_000);
        assert!(toml::from_str::<VaultConfig>("key_cache_ttl = 5\n").is_err());
    }
}
