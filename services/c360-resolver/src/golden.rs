//! The golden record: one value per field, chosen among a client's records
//! by survivorship rules, configurable per field.
//!
//! Default: the value given by the most records (after folding case and
//! accents) wins; ties go to the most trusted source (core banking, then
//! loan origination, legacy MFI, agent app, mobile money, then any other);
//! remaining ties to the most recent record. Phones and emails keep every
//! distinct value, most recent first.
//!
//! Only usable values take part: a value flagged as unusable (a birth date
//! "1950-51-01", a phone "+999 Zanzibarine", see [`crate::quality`]) stays
//! on its record but is never shown as the client's. Bidirectional control
//! characters are stripped from the values shown.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use c360_core::{Field, Record};
use c360_matching::ValueFlag;
use c360_standardise::text::{fold, strip_bidi_controls};
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

/// One field of the golden record: its value, the record it was taken
/// from and the survivorship rule that chose it.
#[derive(Clone, PartialEq, Eq)]
pub struct GoldenValue {
    pub field: &'static str,
    pub value: String,
    pub record_id: String,
    pub rule: &'static str,
}

impl std::fmt::Debug for GoldenValue {
    /// The field, record and rule; never the value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoldenValue")
            .field("field", &self.field)
            .field("record_id", &self.record_id)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

type Getter = fn(&Record) -> &str;

const FIELDS: &[(Field, Getter)] = &[
    (Field::GivenName, |r| &r.given_name),
    (Field::MiddleName, |r| &r.middle_name),
    (Field::Surname, |r| &r.surname),
    (Field::FullName, |r| &r.full_name),
    (Field::Sex, |r| &r.sex),
    (Field::DateOfBirth, |r| &r.date_of_birth),
    (Field::NationalId, |r| &r.national_id),
    (Field::Address, |r| &r.address),
    (Field::Locality, |r| &r.locality),
    (Field::Postcode, |r| &r.postcode),
    (Field::Region, |r| &r.region),
    (Field::Country, |r| &r.country),
];

/// One member record: its id, its values, when it was last updated and the
/// flags of its unusable values.
pub type Member<'a> = (&'a str, &'a Record, i64, &'a [ValueFlag]);

fn flagged(flags: &[ValueFlag], field: Field, index: usize) -> bool {
    flags
        .iter()
        .any(|f| f.field == field && usize::from(f.index) == index)
}

/// A value as the golden record shows it.
fn shown(value: &str) -> String {
    strip_bidi_controls(value.trim()).trim().to_string()
}

struct Candidate<'a> {
    record_id: &'a str,
    record: &'a Record,
    updated_ms: i64,
    key: String,
}

pub fn golden_record<'a>(
    members: impl Iterator<Item = Member<'a>>,
    rules: &Survivorship,
) -> Vec<GoldenValue> {
    let members: Vec<Member<'a>> = members.collect();
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
            .filter(|(_, r, _, flags)| !get(r).trim().is_empty() && !flagged(flags, field, 0))
            .map(|&(record_id, record, updated_ms, _)| Candidate {
                record_id,
                record,
                updated_ms,
                key: fold(get(record)),
            })
            .collect();
        let chain = rules
            .fields
            .get(field.name())
            .unwrap_or(&rules.default_rules);
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
        out.push(GoldenValue {
            field: field.name(),
            value: shown(get(best.record)),
            record_id: best.record_id.to_string(),
            rule,
        });
    }
    let mut by_recency = members.clone();
    by_recency.sort_by_key(|m| std::cmp::Reverse(m.2));
    for field in [Field::Phone, Field::Email] {
        let mut seen = Vec::new();
        for &(id, r, _, flags) in &by_recency {
            let values = if field == Field::Phone {
                &r.phones
            } else {
                &r.emails
            };
            for (index, v) in values.iter().enumerate() {
                if flagged(flags, field, index) {
                    continue;
                }
                let key: String = v
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '@')
                    .collect();
                if key.is_empty() || seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                out.push(GoldenValue {
                    field: field.name(),
                    value: shown(v),
                    record_id: id.to_string(),
                    rule: "all_values_most_recent_first",
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(source: &str, surname: &str, address: &str) -> Record {
        Record {
            source_system: source.into(),
            surname: surname.into(),
            address: address.into(),
            ..Record::default()
        }
    }

    fn value<'a>(golden: &'a [GoldenValue], field: &str) -> &'a GoldenValue {
        golden.iter().find(|f| f.field == field).unwrap()
    }

    #[test]
    fn default_rules() {
        let a = rec("mobile_money", "TRAORE", "Abobo");
        let b = rec("core_banking", "Traoré", "Cocody");
        let c = rec("agent_app", "traore", "Yopougon");
        let members: Vec<Member<'_>> =
            vec![("r1", &a, 1, &[]), ("r2", &b, 2, &[]), ("r3", &c, 3, &[])];
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
        let members: Vec<Member<'_>> =
            vec![("r1", &a, 1, &[]), ("r2", &b, 2, &[]), ("r3", &c, 3, &[])];
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

    #[test]
    fn flagged_values_never_reach_the_golden_record() {
        use c360_standardise::value::Unusable;
        let flag = |field, index, reason| ValueFlag {
            field,
            index,
            reason,
        };
        // The most trusted and most recent record holds the bad values.
        let bad = Record {
            source_system: "core_banking".into(),
            surname: "Tra\u{202E}oré".into(),
            date_of_birth: "1950-51-01".into(),
            national_id: "Zanzibarine!!".into(),
            phones: vec!["+999 Zanzibarine".into(), "0707123456".into()],
            emails: vec!["x@".into()],
            ..Record::default()
        };
        let bad_flags = [
            flag(Field::DateOfBirth, 0, Unusable::ImpossibleDate),
            flag(Field::NationalId, 0, Unusable::InvalidNationalId),
            flag(Field::Phone, 0, Unusable::InvalidPhone),
            flag(Field::Email, 0, Unusable::InvalidEmail),
        ];
        let good = Record {
            source_system: "agent_app".into(),
            date_of_birth: "12/03/1985".into(),
            ..Record::default()
        };
        let members: Vec<Member<'_>> = vec![("r1", &bad, 2, &bad_flags), ("r2", &good, 1, &[])];
        let g = golden_record(members.into_iter(), &Survivorship::default());
        assert_eq!(value(&g, "date_of_birth").value, "12/03/1985");
        assert_eq!(value(&g, "date_of_birth").record_id, "r2");
        assert_eq!(
            value(&g, "surname").value,
            "Traoré",
            "bidi controls stripped"
        );
        assert!(
            g.iter()
                .all(|f| f.field != "national_id" && f.field != "email")
        );
        let phones: Vec<&str> = g
            .iter()
            .filter(|f| f.field == "phone")
            .map(|f| f.value.as_str())
            .collect();
        assert_eq!(phones, ["0707123456"]);
    }
}
