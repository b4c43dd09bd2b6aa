//! The contact policy: caps over rolling windows, minimum gap, purposes and
//! their priorities, quiet hours, hardship, opt-out keywords. Read from a
//! TOML file (see `policy.example.toml`) or the built-in default.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{Channel, QuietHours};
use crate::{Error, Result};

/// What a purpose is, which decides the rules that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurposeKind {
    /// Offers and campaigns: caps, minimum gap, quiet hours, suppressed in
    /// hardship.
    Sales,
    /// Collections and reminders: caps, minimum gap, quiet hours; not
    /// suppressed in hardship.
    Collections,
    /// Service and support: exempt from caps and the minimum gap; quiet
    /// hours apply.
    Service,
    /// Transaction alerts, one-time codes: exempt from caps, the minimum gap
    /// and quiet hours.
    Transactional,
}

impl PurposeKind {
    /// Counted by (and held to) caps and the minimum gap.
    pub fn capped(self) -> bool {
        matches!(self, PurposeKind::Sales | PurposeKind::Collections)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeSpec {
    pub kind: PurposeKind,
    /// Higher first when several purposes compete for one client's budget
    /// in a batch.
    #[serde(default)]
    pub priority: u32,
}

/// At most `max` delivered touches of capped purposes in any rolling
/// window of `window_secs` (a touch at `t` counts until `t + window`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapSpec {
    pub name: String,
    pub window_secs: u64,
    pub max: u32,
    /// Only touches on, and decisions for, these channels; empty: all.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Only touches of, and decisions for, these purposes; empty: every
    /// capped purpose.
    #[serde(default)]
    pub purposes: Vec<String>,
}

impl CapSpec {
    pub fn applies(&self, channel: Channel, purpose: &str) -> bool {
        (self.channels.is_empty() || self.channels.contains(&channel))
            && (self.purposes.is_empty() || self.purposes.iter().any(|p| p == purpose))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSpec {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The channel (or purpose) of the message answered.
    This,
    /// Every channel (or every non-transactional purpose).
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordSpec {
    pub channels: Scope,
    pub purposes: Scope,
}

/// The policy file. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Shown in every receipt.
    pub version: String,
    /// Minimum time between two delivered touches of capped purposes, on
    /// any channel.
    #[serde(default)]
    pub min_gap_secs: u64,
    /// How long a delivered action id blocks the same action on any channel.
    pub action_dedup_days: u64,
    /// Touches older than this are dropped from the history.
    pub history_retention_days: u64,
    /// Zone used when a client has none and none can be inferred; unset:
    /// such clients are not contacted (fail closed).
    #[serde(default)]
    pub default_time_zone: Option<String>,
    /// Quiet hours of clients who stated none; unset: none.
    #[serde(default)]
    pub default_quiet_hours: Option<QuietHoursSpec>,
    /// Channels quiet hours do not apply to (asynchronous ones).
    #[serde(default)]
    pub quiet_hours_exempt_channels: Vec<Channel>,
    /// DEFER delay when the vault cannot answer a consent check.
    pub consent_retry_secs: u64,
    #[serde(default)]
    pub caps: Vec<CapSpec>,
    pub purposes: BTreeMap<String, PurposeSpec>,
    /// Inbound keywords (matched on the first word, case-insensitively).
    #[serde(default)]
    pub opt_out_keywords: BTreeMap<String, KeywordSpec>,
}

/// The built-in default policy, the same text as `policy.example.toml`.
pub const DEFAULT_POLICY: &str = include_str!("../policy.example.toml");

impl Default for Policy {
    fn default() -> Self {
        Policy::parse(DEFAULT_POLICY).expect("the built-in policy is valid (tested)")
    }
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("policy file {}: {e}", path.display())))?;
        Policy::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Policy> {
        let mut policy: Policy =
            toml::from_str(text).map_err(|e| Error::Config(format!("policy: {e}")))?;
        policy.opt_out_keywords = policy
            .opt_out_keywords
            .into_iter()
            .map(|(k, v)| (k.trim().to_uppercase(), v))
            .collect();
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("policy: {what}")));
        if self.purposes.is_empty() {
            return bad("no purposes".into());
        }
        for cap in &self.caps {
            if cap.window_secs == 0 || cap.max == 0 {
                return bad(format!(
                    "cap {}: window_secs and max must be positive",
                    cap.name
                ));
            }
            for p in &cap.purposes {
                match self.purposes.get(p) {
                    Some(spec) if spec.kind.capped() => {}
                    Some(_) => {
                        return bad(format!("cap {}: purpose {p} is exempt from caps", cap.name));
                    }
                    None => return bad(format!("cap {}: unknown purpose {p}", cap.name)),
                }
            }
        }
        if let Some(zone) = &self.default_time_zone
            && jiff::tz::TimeZone::get(zone).is_err()
        {
            return bad(format!("default_time_zone {zone} is not an IANA zone"));
        }
        if let Some(q) = &self.default_quiet_hours
            && (QuietHours::parse_hhmm(&q.start).is_none()
                || QuietHours::parse_hhmm(&q.end).is_none())
        {
            return bad("default_quiet_hours: expected HH:MM".into());
        }
        if self
            .opt_out_keywords
            .keys()
            .any(|k| k.is_empty() || k.contains(char::is_whitespace))
        {
            return bad("opt_out_keywords: a keyword is one word".into());
        }
        if self.action_dedup_days == 0 || self.history_retention_days == 0 {
            return bad("action_dedup_days and history_retention_days must be positive".into());
        }
        Ok(())
    }

    pub fn purpose(&self, name: &str) -> Option<&PurposeSpec> {
        self.purposes.get(name)
    }

    pub fn default_quiet_hours(&self) -> Option<QuietHours> {
        let q = self.default_quiet_hours.as_ref()?;
        Some(QuietHours {
            start_min: QuietHours::parse_hhmm(&q.start)?,
            end_min: QuietHours::parse_hhmm(&q.end)?,
        })
    }

    /// How far back history matters: the longest of the cap windows, the
    /// minimum gap, the de-duplication window and the retention.
    pub fn retention_ms(&self) -> i64 {
        let days = self.history_retention_days.max(self.action_dedup_days);
        let longest_cap = self.caps.iter().map(|c| c.window_secs).max().unwrap_or(0);
        let secs = (days * 86_400).max(longest_cap).max(self.min_gap_secs);
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// The opt-out keyword an inbound text starts with, if any: the first
    /// word, trimmed of punctuation, uppercased.
    pub fn match_keyword(&self, inbound: &str) -> Option<(&str, &KeywordSpec)> {
        let first = inbound.split_whitespace().next()?;
        let word: String = first
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_uppercase();
        self.opt_out_keywords
            .get_key_value(&word)
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn example_policy_parses_and_is_the_default() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policy.example.toml"))
                .unwrap();
        let policy = Policy::parse(&text).unwrap();
        assert_eq!(policy, Policy::default());
        assert!(policy.purpose("marketing").unwrap().kind.capped());
        assert!(!policy.purpose("service").unwrap().kind.capped());
        assert!(!policy.caps.is_empty());
        assert!(policy.default_quiet_hours().is_some());
        for kw in ["STOP", "STOPALL", "ARRET", "ARRÊT", "UNSUBSCRIBE"] {
            assert!(policy.opt_out_keywords.contains_key(kw), "{kw}");
        }
    }

    #[test]
    fn keywords_match_first_word_any_case() {
        let policy = Policy::default();
        assert_eq!(policy.match_keyword("  stop please").unwrap().0, "STOP");
        assert_eq!(policy.match_keyword("Arrêt.").unwrap().0, "ARRÊT");
        assert_eq!(
            policy.match_keyword("STOPALL").unwrap().1.channels,
            Scope::All
        );
        assert!(policy.match_keyword("please stop").is_none());
        assert!(policy.match_keyword("").is_none());
    }

    #[test]
    fn bad_policies_are_refused() {
        let base = DEFAULT_POLICY;
        let cases = [
            format!("{base}\nunknown_key = 1\n"),
            base.replace(
                "default_time_zone = \"Africa/Abidjan\"",
                "default_time_zone = \"Mars/Olympus\"",
            ),
            format!("{base}\n[[caps]]\nname = \"x\"\nwindow_secs = 0\nmax = 1\n"),
            format!(
                "{base}\n[[caps]]\nname = \"x\"\nwindow_secs = 10\nmax = 1\npurposes = [\"service\"]\n"
            ),
            format!(
                "{base}\n[[caps]]\nname = \"x\"\nwindow_secs = 10\nmax = 1\nchannels = [\"FAX\"]\n"
            ),
        ];
        for (i, text) in cases.iter().enumerate() {
            assert!(Policy::parse(text).is_err(), "case {i} accepted");
        }
    }
}
