//! A source's profile, for a steward to see in a minute what the data is
//! like before trusting it: per field, how often it is filled, how many
//! distinct values it holds, the formats seen, how many values could not
//! be standardised; and after training, the weight the model learned for
//! each level of each compared field.
//!
//! Formats are shapes (`9999-99-99`, `+999 99 99 99 99`), never values, so
//! a profile holds no personal data and may be shared.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use c360_core::Record;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::compare::CompareField;
use crate::model::{FsModel, PERSON_FIELDS};
use crate::prepare::Prepared;

/// One raw field's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldProfile {
    pub field: &'static str,
    /// Records with a value.
    pub filled: usize,
    /// Distinct values (exact text).
    pub distinct: usize,
    /// Most common shapes of the values, with their counts.
    pub formats: Vec<(String, usize)>,
    /// Values the standardisation could not read (dates, phones, IDs,
    /// e-mails), dropped from matching.
    pub unusable: usize,
}

/// A source's profile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub records: usize,
    pub fields: Vec<FieldProfile>,
}

/// How many shapes are shown per field.
const SHOWN_FORMATS: usize = 4;

/// The shape of a value: digits as `9`, letters as `a`, other characters
/// kept, runs of letters shortened to one `a` (names have no useful shape).
fn shape(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(24));
    let mut last_letter = false;
    for c in value.trim().chars().take(24) {
        if c.is_ascii_digit() {
            out.push('9');
            last_letter = false;
        } else if c.is_alphabetic() {
            if !last_letter {
                out.push('a');
            }
            last_letter = true;
        } else {
            out.push(c);
            last_letter = false;
        }
    }
    out
}

/// Profiles raw records with their standardised forms (same order).
pub fn profile(records: &[Record], prepared: &[Prepared]) -> Profile {
    type Getter = fn(&Record) -> Vec<&str>;
    let fields: [(&'static str, Getter, bool); 12] = [
        ("given_name", |r| vec![r.given_name.as_str()], false),
        ("surname", |r| vec![r.surname.as_str()], false),
        ("full_name", |r| vec![r.full_name.as_str()], false),
        ("sex", |r| vec![r.sex.as_str()], true),
        ("date_of_birth", |r| vec![r.date_of_birth.as_str()], true),
        ("national_id", |r| vec![r.national_id.as_str()], true),
        (
            "phone",
            |r| r.phones.iter().map(String::as_str).collect(),
            true,
        ),
        (
            "email",
            |r| r.emails.iter().map(String::as_str).collect(),
            true,
        ),
        ("address", |r| vec![r.address.as_str()], false),
        ("locality", |r| vec![r.locality.as_str()], false),
        ("postcode", |r| vec![r.postcode.as_str()], true),
        ("country", |r| vec![r.country.as_str()], false),
    ];
    let mut out = Profile {
        records: records.len(),
        fields: Vec::new(),
    };
    for (name, get, show_shapes) in fields {
        let mut distinct: FxHashSet<&str> = FxHashSet::default();
        let mut shapes: FxHashMap<String, usize> = FxHashMap::default();
        let mut filled = 0;
        for r in records {
            let values: Vec<&str> = get(r)
                .into_iter()
                .filter(|v| !v.trim().is_empty())
                .collect();
            if values.is_empty() {
                continue;
            }
            filled += 1;
            for v in values {
                distinct.insert(v);
                if show_shapes {
                    *shapes.entry(shape(v)).or_default() += 1;
                }
            }
        }
        let mut formats: Vec<(String, usize)> = shapes.into_iter().collect();
        formats.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        formats.truncate(SHOWN_FORMATS);
        let unusable = records
            .iter()
            .zip(prepared)
            .map(|(r, p)| unusable(name, r, p))
            .sum();
        out.fields.push(FieldProfile {
            field: name,
            filled,
            distinct: distinct.len(),
            formats,
            unusable,
        });
    }
    out
}

/// Values of a field present in the record but not in its standardised form.
fn unusable(field: &str, r: &Record, p: &Prepared) -> usize {
    let filled = |s: &str| !s.trim().is_empty();
    match field {
        "date_of_birth" => usize::from(
            filled(&r.date_of_birth)
                && c360_standardise::date::parse_date(r.date_of_birth.trim()).is_err(),
        ),
        "national_id" => usize::from(filled(&r.national_id) && p.national_id.is_none()),
        "phone" => r
            .phones
            .iter()
            .filter(|v| filled(v))
            .count()
            .saturating_sub(p.phones.len()),
        "email" => r
            .emails
            .iter()
            .filter(|v| filled(v))
            .count()
            .saturating_sub(p.emails.len()),
        "sex" => usize::from(filled(&r.sex) && p.sex.is_none()),
        _ => 0,
    }
}

impl Profile {
    /// The profile as text, and the model's learned weights after it.
    pub fn render(&self, model: Option<&FsModel>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "records {}", self.records);
        let _ = writeln!(
            s,
            "{:<14} {:>7} {:>9} {:>10}  formats (most common first)",
            "field", "filled", "distinct", "unusable"
        );
        for f in &self.fields {
            let share = if self.records == 0 {
                0.0
            } else {
                100.0 * f.filled as f64 / self.records as f64
            };
            let formats: Vec<String> = f
                .formats
                .iter()
                .map(|(shape, n)| format!("{shape} ({n})"))
                .collect();
            let _ = writeln!(
                s,
                "{:<14} {:>6.1}% {:>9} {:>10}  {}",
                f.field,
                share,
                f.distinct,
                f.unusable,
                formats.join(", ")
            );
        }
        if let Some(model) = model {
            s.push_str(&weights(model));
        }
        s
    }
}

/// Every level's m, u and weight (log2 m/u), per field; then the household
/// context's, when the data had one.
pub fn weights(model: &FsModel) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model {} (prior {:.2} bits, {:.3} matches per record)",
        model.version(),
        model.prior(),
        model.matches_per_record
    );
    let _ = writeln!(s, "learned weight per level (bits; m / u):");
    let mut rows: BTreeMap<usize, String> = BTreeMap::new();
    for field in CompareField::ALL {
        let f = field as usize;
        let levels: Vec<String> = (1..field.level_count())
            .map(|l| {
                format!(
                    "{} {:+.1} ({:.3}/{:.4})",
                    field.level_names()[l],
                    model.field_weight(field, l as u8, None).0,
                    model.m[f][l],
                    model.u[f][l]
                )
            })
            .collect();
        rows.insert(f, format!("  {:<14} {}", field.name(), levels.join(", ")));
    }
    for row in rows.values() {
        let _ = writeln!(s, "{row}");
    }
    if let Some(h) = &model.household {
        let _ = writeln!(
            s,
            "household context (same surname and a shared phone or address; {} pairs, prior {:.2} bits sharing a phone, {:.2} only an address; weights sharing a phone/only an address):",
            h.pairs,
            h.prior(),
            (h.lambda_address / (1.0 - h.lambda_address)).log2()
        );
        for field in PERSON_FIELDS {
            let levels: Vec<String> = (1..field.level_count())
                .map(|l| {
                    format!(
                        "{} {:+.1}/{:+.1}",
                        field.level_names()[l],
                        h.weight(field, l as u8, true),
                        h.weight(field, l as u8, false)
                    )
                })
                .collect();
            let _ = writeln!(s, "  {:<14} {}", field.name(), levels.join(", "));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_hide_values() {
        assert_eq!(shape("1985-03-07"), "9999-99-99");
        assert_eq!(shape("+225 07 07 12 34 56"), "+999 99 99 99 99 99");
        assert_eq!(shape("Aminata"), "a");
        assert_eq!(shape("aminata.traore@gmail.com"), "a.a@a.a");
    }

    #[test]
    fn fill_rates_formats_and_unusable_values() {
        let preparer =
            crate::Preparer::new("CI", c360_standardise::names::NameVariants::builtin()).unwrap();
        let records = vec![
            Record {
                given_name: "Awa".into(),
                date_of_birth: "1985-03-07".into(),
                phones: vec!["07 07 12 34 56".into()],
                ..Record::default()
            },
            Record {
                given_name: "Awa".into(),
                date_of_birth: "not a date".into(),
                phones: vec!["12".into()],
                ..Record::default()
            },
            Record::default(),
        ];
        let prepared: Vec<Prepared> = records.iter().map(|r| preparer.prepare(r)).collect();
        let p = profile(&records, &prepared);
        let get = |name: &str| p.fields.iter().find(|f| f.field == name).unwrap().clone();
        assert_eq!(p.records, 3);
        let given = get("given_name");
        assert_eq!((given.filled, given.distinct), (2, 1));
        let dob = get("date_of_birth");
        assert_eq!((dob.filled, dob.unusable), (2, 1));
        assert_eq!(dob.formats[0].1, 1);
        assert_eq!(get("phone").unusable, 1);
        let text = p.render(None);
        assert!(text.contains("given_name") && !text.contains("Awa"));
    }
}
