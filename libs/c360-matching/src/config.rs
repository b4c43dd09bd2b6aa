use serde::{Deserialize, Serialize};

use crate::rules::Rules;

/// Matching settings. Every field has a default; a mapping file's
/// `[matching]` table overrides some of them for its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// ISO country for phone numbers written without a country prefix.
    pub default_country: String,
    /// Match probability from which a pair is linked automatically.
    pub link_threshold: f64,
    /// Match probability from which a pair goes to a steward for review
    /// (below `link_threshold`).
    pub review_threshold: f64,
    /// A pair scoring below this log2-odds is proof of two people for
    /// one-at-a-time resolution (the resolver), whose prior is fixed by its
    /// population floor.
    pub conflict_log_odds: f64,
    /// A pair whose evidence (log2 Bayes factor: its score without the
    /// prior) is below this is proof of two people: batch clustering never
    /// joins two clusters holding such a pair. Without the prior, the bar
    /// does not move with the number of records (with `conflict_log_odds`
    /// at a million records, any pair short of 3.5 bits of evidence for a
    /// match was a conflict: measured, recall 0.911 instead of 0.918 at
    /// the same precision).
    pub conflict_evidence: f64,
    /// Batch clustering: the share of pairs across two clusters that may be
    /// soft conflicts (a given name two typos away, the twins pattern on a
    /// mistyped name, a low score) when the two are joined; 0 refuses any.
    /// Different national IDs or birth dates always refuse.
    pub soft_conflict_share: f64,
    /// A phone held by more people than this is ignored (an agent's or a
    /// shop's phone). Holders are told apart by their names
    /// ([`crate::model::holder_signature`]), so one person's many records
    /// with their own phone do not make it hot.
    #[serde(alias = "hot_phone_records")]
    pub hot_phone_holders: u32,
    /// Blocks larger than this are paired by sorted neighbourhood.
    pub max_block_size: usize,
    /// Window of the sorted neighbourhood in oversized blocks.
    pub window: usize,
    /// No cluster grows past this many records.
    pub max_cluster_size: usize,
    /// Random pairs drawn to estimate u.
    pub u_sample_pairs: usize,
    pub em_max_iterations: u32,
    /// Seed of the random pair sampler (results are reproducible).
    pub seed: u64,
    pub rules: Rules,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            default_country: "CI".to_string(),
            link_threshold: 0.95,
            review_threshold: 0.5,
            conflict_log_odds: -14.0,
            conflict_evidence: -5.0,
            soft_conflict_share: 0.25,
            hot_phone_holders: 15,
            max_block_size: 40,
            window: 12,
            max_cluster_size: 40,
            u_sample_pairs: 150_000,
            em_max_iterations: 50,
            seed: 0x00c3_6000,
            rules: Rules::default(),
        }
    }
}

impl MatchConfig {
    /// Applies a `[matching]` table (from a mapping file) over these settings.
    pub fn with_overrides(&self, table: &toml::Table) -> Result<Self, crate::Error> {
        let mut merged =
            toml::Table::try_from(self).map_err(|e| crate::Error::Config(e.to_string()))?;
        merge(&mut merged, table);
        toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| {
                crate::Error::Config(format!("[matching]: {}", e.message()))
            })
    }

    pub fn validate(&self) -> Result<(), crate::Error> {
        let probability = |name: &str, v: f64| {
            if (0.0..1.0).contains(&v) && v > 0.0 {
                Ok(())
            } else {
                Err(crate::Error::Config(format!(
                    "{name} must be in (0, 1), got {v}"
                )))
            }
        };
        probability("link_threshold", self.link_threshold)?;
        probability("review_threshold", self.review_threshold)?;
        if self.review_threshold > self.link_threshold {
            return Err(crate::Error::Config(
                "review_threshold must not exceed link_threshold".to_string(),
            ));
        }
        if !(0.0..1.0).contains(&self.soft_conflict_share) {
            return Err(crate::Error::Config(format!(
                "soft_conflict_share must be in [0, 1), got {}",
                self.soft_conflict_share
            )));
        }
        if self.max_cluster_size < 1 || self.max_block_size < 2 || self.window < 1 {
            return Err(crate::Error::Config(
                "max_cluster_size, max_block_size and window must be positive".to_string(),
            ));
        }
        Ok(())
    }
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}
