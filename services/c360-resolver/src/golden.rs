//! The golden record: one value per field, chosen among a client's records
//! by survivorship rules, configurable per field.
//!
//! Default: the value given by the most records (after folding case and
//! accents) wins; ties go to the most trusted source (core banking, then
//! loan origination, legacy MFI, agent app, mobile money, then any other);
//! remaining ties to the most recent record. Phones and emails keep every
//! distinct value, most recent first.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_standardise::text::fold;
use serde::{Deserialize, Serialize};

/// One survivorship rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The value given by the most records.
    MostFrequent,
    /// The value from the most trusted source system.
    MostTrustedSource,
    /// The value from the most recently updated record.
    MostRecent,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::MostFrequent => "most_frequent",
            Rule::MostTrustedSource => "most_trusted_source",
            Rule::MostRecent => "most_recent",
        }
    }
}

/// Survivorship settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Survivorship {
    /// Source systems, most trusted first; others rank after them.
    pub source_trust: Vec<String>,
    /// Rules applied in order to fields without their own list.
    pub default_rules: Vec<Rule>,
    /// Rules for particular fields (`address = ["most_recent"]`).
    pub fields: BTreeMap<String, Vec<Rule>>,
}

impl Default for Survivorship {
    fn default() -> Self {
        Survivorship {
            source_trust: [
                "core_banking",
                "loan_origination",
                "legacy_mfi",
                "agent_app",
                "mobile_money",
            ]
            .map(String::from)
            .to_vec(),
            default_rules: vec![
                Rule::MostFrequent,
                Rule::MostTrustedSource,
                Rule::MostRecent,
            ],
            fields: BTreeMap::from([(
                "address".to_string(),
                vec![Rule::MostRecent, Rule::MostTrustedSource],
            )]),
        }
    }
}

type Getter = fn(&pb::Record) -> &str;

const FIELDS: &[(&str, Getter)] = &[
    ("given_name", |r| &r.given_name),
    ("middle_name", |r| &r.middle_name),
    ("surname", |r| &r.surname),
    ("full_name", |r| &r.full_name),
    ("sex", |r| &r.sex),
    ("date_of_birth", |r| &r.date_of_birth),
    ("national_id", |r| &r.national_id),
    ("address", |r| &r.address),
    ("locality", |r| &r.locality),
    ("postcode", |r| &r.postcode),
    ("region", |r| &r.region),
    ("country", |r| &r.country),
];

struct Candidate<'a> {
    record_id: &'a str,
    record: &'a pb::Record,
    updated_ms: i64,
    key: String,
}

pub fn golden_record<'a>(
    members: impl Iterator<Item = (&'a str, &'a pb::Record, i64)>,
    rules: &Survivorship,
) -> Vec<api::FieldValue> {
    let members: Vec<(&str, &pb::Record, i64)> = members.collect();
    let trust = |source: &str| {
        rules
            .source_trust
            .iter()
            .position(|s| s == source)
            .unwrap_or(rules.source_trust.len())
    };
    let mut out = Vec::new();
    for &(field, get) in FIELDS {
        let candidates: Vec<Candidate<'_>> = members
            .iter()
            .filter(|(_, r, _)| !get(r).trim().is_empty())
            .map(|&(record_id, record, updated_ms)| Candidate {
                record_id,
                record,
                updated_ms,
                key: fold(get(record)),
            })
            .collect();
        let chain = rules.fields.get(field).unwrap_or(&rules.default_rules);
        let count = |k: &str| candidates.iter().filter(|c| c.key == k).count();
        // Better first: compares two candidates by one rule.
        let by = |rule: Rule, a: &Candidate<'_>, b: &Candidate<'_>| match rule {
            Rule::MostFrequent => count(&b.key).cmp(&count(&a.key)),
            Rule::MostTrustedSource => {
                trust(&a.record.source_system).cmp(&trust(&b.record.source_system))
            }
            Rule::MostRecent => b.updated_ms.cmp(&a.updated_ms),
        };
        let mut ranked: Vec<&Candidate<'_>> = candidates.iter().collect();
        ranked.sort_by(|a, b| {
            chain
                .iter()
                .map(|&rule| by(rule, a, b))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
                .then(a.record_id.cmp(b.record_id))
        });
        let Some(best) = ranked.first() else {
            continue;
        };
        let runner_up = ranked.iter().find(|c| c.key != best.key);
        let rule = match runner_up {
            None if candidates.len() == 1 => "only_value",
            None => "unanimous",
            Some(other) => chain
                .iter()
                .find(|&&rule| by(rule, best, other) == Ordering::Less)
                .map_or("first_record", |r| r.name()),
        };
        out.push(api::FieldValue {
            field: field.to_string(),
            value: get(best.record).trim().to_string(),
            record_id: best.record_id.to_string(),
            rule: rule.to_string(),
        });
    }
    let mut by_recency = members.clone();
    by_recency.sort_by_key(|m| std::cmp::Reverse(m.2));
    for (field, phones) in [("phone", true), ("email", false)] {
        let mut seen = Vec::new();
        for &(id, r, _) in &by_recency {
            let values = if phones { &r.phone } else { &r.email };
            for v in values {
                let key: String = v
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '@')
                    .collect();
                if key.is_empty() || seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                out.push(api::FieldValue {
                    field: field.to_string(),
                    value: v.trim().to_string(),
                    record_id: id.to_string(),
                    rule: "all_values_most_recent_first".to_string(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(source: &str, surname: &str, address: &str) -> pb::Record {
        pb::Record {
            source_system: source.into(),
            surname: surname.into(),
            address: address.into(),
            ..pb::Record::default()
        }
    }

    fn value<'a>(golden: &'a [api::FieldValue], field: &str) -> &'a api::FieldValue {
        golden.iter().find(|f| f.field == field).unwrap()
    }

    #[test]
    fn default_rules() {
        let a = rec("mobile_money", "TRAORE", "Abobo");
        let b = rec("core_banking", "Traoré", "Cocody");
        let c = rec("agent_app", "traore", "Yopougon");
        let members = vec![("r1", &a, 1), ("r2", &b, 2), ("r3", &c, 3)];
        let g = golden_record(members.clone().into_iter(), &Survivorship::default());
        // Three spellings fold to one: most frequent, then the core banking one.
        assert_eq!(value(&g, "surname").value, "Traoré");
        assert_eq!(value(&g, "surname").rule, "unanimous");
        // Addresses: the most recent wins.
        assert_eq!(value(&g, "address").value, "Yopougon");
        assert_eq!(value(&g, "address").rule, "most_recent");
    }

    #[test]
    fn rules_are_configurable() {
        let a = rec("mobile_money", "Kone", "Abobo");
        let b = rec("core_banking", "Koné", "Cocody");
        let c = rec("agent_app", "Konaté", "Yopougon");
        let members = vec![("r1", &a, 1), ("r2", &b, 2), ("r3", &c, 3)];
        let trusted_first = Survivorship {
            default_rules: vec![Rule::MostTrustedSource],
            fields: BTreeMap::new(),
            ..Survivorship::default()
        };
        let g = golden_record(members.clone().into_iter(), &trusted_first);
        assert_eq!(value(&g, "address").value, "Cocody");
        assert_eq!(value(&g, "address").rule, "most_trusted_source");
        let recent_first = Survivorship {
            default_rules: vec![Rule::MostRecent],
            fields: BTreeMap::new(),
            ..Survivorship::default()
        };
        let g = golden_record(members.into_iter(), &recent_first);
        assert_eq!(value(&g, "surname").value, "Konaté");
        assert_eq!(value(&g, "surname").rule, "most_recent");
    }
}
