//! Purpose-bound access: which role may read which field for which purpose,
//! in clear, masked or not at all; and the masks.

use std::collections::BTreeSet;
use std::path::Path;

use c360_rpc::Role;
use serde::Deserialize;

use crate::{Error, Result};

/// The default policy: the commented example shipped with the crate.
pub const DEFAULT_POLICY: &str = include_str!("../policy.example.toml");

/// How a field may be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Deny,
    Masked,
    Clear,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    consent_purposes: Vec<String>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    roles: Vec<String>,
    fields: Vec<String>,
    purposes: Vec<String>,
    access: Access,
}

/// The fields a rule names: exact names and prefixes (`contact_point_*`).
#[derive(Debug, Clone)]
struct Fields {
    exact: BTreeSet<String>,
    prefixes: Vec<String>,
}

impl Fields {
    fn new(names: BTreeSet<String>) -> Fields {
        let (prefixes, exact): (BTreeSet<String>, BTreeSet<String>) =
            names.into_iter().partition(|n| n.ends_with('*'));
        Fields {
            exact,
            prefixes: prefixes
                .into_iter()
                .map(|p| p.trim_end_matches('*').to_string())
                .collect(),
        }
    }

    fn contains(&self, field: &str) -> bool {
        self.exact.contains(field) || self.prefixes.iter().any(|p| field.starts_with(p.as_str()))
    }
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None`: any role.
    roles: Option<BTreeSet<Role>>,
    fields: Option<Fields>,
    purposes: Option<BTreeSet<String>>,
    access: Access,
}

/// A parsed access policy (holds no personal data).
#[derive(Debug, Clone)]
pub struct Policy {
    consent_purposes: BTreeSet<String>,
    rules: Vec<Rule>,
}

fn set_or_any(values: Vec<String>) -> Option<BTreeSet<String>> {
    if values.iter().any(|v| v == "*") {
        None
    } else {
        Some(values.into_iter().collect())
    }
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| Error::Policy(e.to_string()))?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        for (i, r) in raw.rule.into_iter().enumerate() {
            let roles = if r.roles.iter().any(|v| v == "*") {
                None
            } else {
                let parsed = r
                    .roles
                    .iter()
                    .map(|s| s.parse::<Role>())
                    .collect::<std::result::Result<BTreeSet<_>, _>>()
                    .map_err(|e| Error::Policy(format!("rule {}: {e}", i + 1)))?;
                Some(parsed)
            };
            if r.fields.is_empty() || r.purposes.is_empty() || r.roles.is_empty() {
                return Err(Error::Policy(format!(
                    "rule {}: roles, fields and purposes must not be empty",
                    i + 1
                )));
            }
            rules.push(Rule {
                roles,
                fields: set_or_any(r.fields).map(Fields::new),
                purposes: set_or_any(r.purposes),
                access: r.access,
            });
        }
        Ok(Policy {
            consent_purposes: raw.consent_purposes.into_iter().collect(),
            rules,
        })
    }

    pub fn load(path: Option<&Path>) -> Result<Policy> {
        match path {
            None => Policy::parse(DEFAULT_POLICY),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::Policy(format!("cannot read {}: {e}", p.display())))?;
                Policy::parse(&text).map_err(|e| Error::Policy(format!("{}: {e}", p.display())))
            }
        }
    }

    /// The first matching rule decides; none: denied.
    pub fn access(&self, role: Role, field: &str, purpose: &str) -> Access {
        self.rules
            .iter()
            .find(|r| {
                r.roles.as_ref().is_none_or(|s| s.contains(&role))
                    && r.fields.as_ref().is_none_or(|s| s.contains(field))
                    && r.purposes.as_ref().is_none_or(|s| s.contains(purpose))
            })
            .map_or(Access::Deny, |r| r.access)
    }

    /// Whether reads for `purpose` need a valid consent.
    pub fn needs_consent(&self, purpose: &str) -> bool {
        self.consent_purposes.contains(purpose)
    }
}

pub use c360_standardise::mask::mask;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_is_the_default_and_parses() {
        let p = Policy::load(None).expect("default policy");
        assert!(p.needs_consent("marketing"));
        assert!(!p.needs_consent("service"));
        assert_eq!(p.access(Role::Compliance, "phone", "audit"), Access::Clear);
        assert_eq!(p.access(Role::App, "phone", "service"), Access::Clear);
        assert_eq!(
            p.access(Role::App, "national_id", "service"),
            Access::Masked
        );
        assert_eq!(
            p.access(Role::App, "national_id", "marketing"),
            Access::Deny
        );
        assert_eq!(
            p.access(Role::Steward, "phone", "data_quality"),
            Access::Masked
        );
        assert_eq!(p.access(Role::Source, "phone", "service"), Access::Deny);
        // What channels seals reads back for servicing, through the vault.
        for role in [Role::App, Role::Service] {
            for purpose in ["service", "collections"] {
                assert_eq!(p.access(role, "contact_point_sms", purpose), Access::Clear);
            }
        }
        assert_eq!(
            p.access(Role::Steward, "given_name", "stewardship"),
            Access::Clear
        );
        assert_eq!(
            p.access(Role::Steward, "national_id", "stewardship"),
            Access::Masked
        );
        assert_eq!(p.access(Role::Steward, "phone", "service"), Access::Deny);
        assert_eq!(p.access(Role::Admin, "phone", "service"), Access::Deny);
        assert_eq!(
            p.access(Role::App, "phone", "no_such_purpose"),
            Access::Deny
        );
        let from_file = Policy::load(Some(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.example.toml"),
        ))
        .expect("file");
        assert_eq!(from_file.rules.len(), p.rules.len());
    }

    #[test]
    fn first_match_wins_and_bad_files_are_refused() {
        let p = Policy::parse(
            "[[rule]]\nroles=[\"app\"]\nfields=[\"phone\"]\npurposes=[\"*\"]\naccess=\"deny\"\n\
             [[rule]]\nroles=[\"*\"]\nfields=[\"*\"]\npurposes=[\"*\"]\naccess=\"clear\"\n",
        )
        .expect("parse");
        assert_eq!(p.access(Role::App, "phone", "x"), Access::Deny);
        assert_eq!(p.access(Role::App, "email", "x"), Access::Clear);
        for bad in [
            "[[rule]]\nroles=[\"root\"]\nfields=[\"*\"]\npurposes=[\"*\"]\naccess=\"clear\"\n",
            "[[rule]]\nroles=[\"app\"]\nfields=[\"*\"]\npurposes=[\"*\"]\naccess=\"open\"\n",
            "[[rule]]\nroles=[]\nfields=[\"*\"]\npurposes=[\"*\"]\naccess=\"clear\"\n",
            "unknown_key = 1\n",
        ] {
            assert!(matches!(Policy::parse(bad), Err(Error::Policy(_))), "{bad}");
        }
    }
}
