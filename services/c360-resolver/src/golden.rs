//! The golden record: one value per field, chosen among a client's records
//! by survivorship rules.
//!
//! Rules, in order: the value given by the most records (after folding case
//! and accents) wins; ties go to the most trusted source (core banking, then
//! loan origination, legacy MFI, agent app, mobile money, then any other);
//! remaining ties to the most recent record. Phones and emails keep every
//! distinct value, most recent first.

use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_standardise::text::fold;

const TRUST: &[&str] = &[
    "core_banking",
    "loan_origination",
    "legacy_mfi",
    "agent_app",
    "mobile_money",
];

fn trust(source: &str) -> usize {
    TRUST
        .iter()
        .position(|&s| s == source)
        .unwrap_or(TRUST.len())
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

pub fn golden_record<'a>(
    members: impl Iterator<Item = (&'a str, &'a pb::Record, i64)>,
) -> Vec<api::FieldValue> {
    let members: Vec<(&str, &pb::Record, i64)> = members.collect();
    let mut out = Vec::new();
    for &(field, get) in FIELDS {
        let values: Vec<(&str, &pb::Record, i64, String)> = members
            .iter()
            .filter(|(_, r, _)| !get(r).trim().is_empty())
            .map(|&(id, r, at)| (id, r, at, fold(get(r))))
            .collect();
        let best = values.iter().max_by(|a, b| {
            let count = |k: &str| values.iter().filter(|v| v.3 == k).count();
            count(&a.3)
                .cmp(&count(&b.3))
                .then(trust(&b.1.source_system).cmp(&trust(&a.1.source_system)))
                .then(a.2.cmp(&b.2))
        });
        if let Some((id, r, _, key)) = best {
            let frequency = values.iter().filter(|v| &v.3 == key).count();
            let rule = if frequency > 1 {
                "most_frequent"
            } else if values.len() > 1 {
                "most_trusted_source"
            } else {
                "only_value"
            };
            out.push(api::FieldValue {
                field: field.to_string(),
                value: get(r).trim().to_string(),
                record_id: id.to_string(),
                rule: rule.to_string(),
            });
        }
    }
    let mut by_recency = members.clone();
    by_recency.sort_by_key(|m| std::cmp::Reverse(m.2));
    for (field, list) in [("phone", true), ("email", false)] {
        let mut seen = Vec::new();
        for &(id, r, _) in &by_recency {
            let values = if list { &r.phone } else { &r.email };
            for v in values {
                let key = v
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '@')
                    .collect::<String>();
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
