//! Data quality: the values records hold that could not be standardised.
//!
//! Such a value is kept on its record (encrypted, as given) and flagged
//! ([`ValueFlag`]: field, which value, reason; never the value), and counted
//! here per source system, field and reason. The counts follow every write
//! (a record added, updated in place or erased) and are recounted from the
//! records when the resolver starts, so they are never stored and cannot
//! drift from the records.
//!
//! Batch `dedupe` counts its input with the same [`QualityCounts`].

use std::collections::BTreeMap;

use c360_core::Field;
use c360_matching::ValueFlag;
use c360_standardise::value::Unusable;

use crate::{Error, Result};

/// Counts of one source system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Records stored from this source system.
    pub records: u64,
    /// Of them, records holding at least one flag.
    pub flagged_records: u64,
    /// Values flagged, by field and reason.
    pub flags: BTreeMap<(Field, Unusable), u64>,
}

/// Flag counts per source system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QualityCounts {
    sources: BTreeMap<String, SourceCounts>,
}

impl QualityCounts {
    /// Counts a record of `source` with its flags.
    pub fn add(&mut self, source: &str, flags: &[ValueFlag]) {
        let counts = match self.sources.get_mut(source) {
            Some(counts) => counts,
            None => self.sources.entry(source.to_string()).or_default(),
        };
        counts.records += 1;
        if !flags.is_empty() {
            counts.flagged_records += 1;
        }
        for f in flags {
            *counts.flags.entry((f.field, f.reason)).or_default() += 1;
        }
    }

    /// Uncounts a record counted with [`QualityCounts::add`].
    pub fn remove(&mut self, source: &str, flags: &[ValueFlag]) {
        let Some(counts) = self.sources.get_mut(source) else {
            return;
        };
        counts.records = counts.records.saturating_sub(1);
        if !flags.is_empty() {
            counts.flagged_records = counts.flagged_records.saturating_sub(1);
        }
        for f in flags {
            if let Some(n) = counts.flags.get_mut(&(f.field, f.reason)) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.flags.remove(&(f.field, f.reason));
                }
            }
        }
        if counts.records == 0 {
            self.sources.remove(source);
        }
    }

    /// Source systems by name, with their counts.
    pub fn sources(&self) -> impl Iterator<Item = (&str, &SourceCounts)> {
        self.sources.iter().map(|(s, c)| (s.as_str(), c))
    }

    /// Only `source`'s counts.
    pub fn only(&self, source: &str) -> QualityCounts {
        QualityCounts {
            sources: self
                .sources
                .get_key_value(source)
                .map(|(s, c)| (s.clone(), c.clone()))
                .into_iter()
                .collect(),
        }
    }

    /// (records, flagged records) over every source system.
    pub fn totals(&self) -> (u64, u64) {
        self.sources
            .values()
            .fold((0, 0), |(r, f), c| (r + c.records, f + c.flagged_records))
    }

    /// Values flagged, by field and reason, over every source system.
    pub fn by_field(&self) -> BTreeMap<(Field, Unusable), u64> {
        let mut out = BTreeMap::new();
        for counts in self.sources.values() {
            for (&key, &n) in &counts.flags {
                *out.entry(key).or_default() += n;
            }
        }
        out
    }
}

/// The wire name of a flagged value: `record.date_of_birth`, `record.phone`.
pub fn field_path(flag: &ValueFlag) -> String {
    format!("record.{}", flag.field.name())
}

/// What is wrong with a flagged value, in words: "is not a phone number",
/// "value 2 is not a phone number" for the second of several.
pub fn describe(flag: &ValueFlag) -> String {
    let reason = flag.reason.description();
    if flag.field.is_multi_valued() {
        format!("value {} {reason}", u32::from(flag.index) + 1)
    } else {
        reason.to_string()
    }
}

/// A strict request refuses a record with an unusable value: the first one
/// as INVALID_ARGUMENT naming its field.
pub fn refuse_flagged(flags: &[ValueFlag]) -> Result<()> {
    match flags.first() {
        None => Ok(()),
        Some(flag) => Err(Error::invalid(&field_path(flag), describe(flag))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flag(field: Field, index: u8, reason: Unusable) -> ValueFlag {
        ValueFlag {
            field,
            index,
            reason,
        }
    }

    #[test]
    fn counts_follow_adds_and_removes() {
        let bad_date = [flag(Field::DateOfBirth, 0, Unusable::ImpossibleDate)];
        let two_phones = [
            flag(Field::Phone, 0, Unusable::InvalidPhone),
            flag(Field::Phone, 1, Unusable::InvalidPhone),
        ];
        let mut q = QualityCounts::default();
        q.add("core_banking", &bad_date);
        q.add("core_banking", &[]);
        q.add("agent_app", &two_phones);
        assert_eq!(q.totals(), (3, 2));
        let core = q.sources().find(|(s, _)| *s == "core_banking").unwrap().1;
        assert_eq!((core.records, core.flagged_records), (2, 1));
        assert_eq!(
            core.flags[&(Field::DateOfBirth, Unusable::ImpossibleDate)],
            1
        );
        assert_eq!(q.by_field()[&(Field::Phone, Unusable::InvalidPhone)], 2);
        assert_eq!(q.only("agent_app").totals(), (1, 1));
        assert_eq!(q.only("nobody").totals(), (0, 0));

        q.remove("agent_app", &two_phones);
        q.remove("core_banking", &bad_date);
        assert_eq!(q.totals(), (1, 0));
        assert!(q.by_field().is_empty());
        assert_eq!(q.sources().count(), 1);
    }

    #[test]
    fn a_strict_request_names_the_first_field() {
        assert!(refuse_flagged(&[]).is_ok());
        let err = refuse_flagged(&[flag(Field::Email, 1, Unusable::InvalidEmail)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid record.email: value 2 is not an e-mail address"
        );
    }

    fn any_flags() -> impl Strategy<Value = Vec<ValueFlag>> {
        let fields = [Field::DateOfBirth, Field::Phone, Field::Email];
        proptest::collection::vec(
            (0..fields.len(), 0u8..3, 0..Unusable::ALL.len())
                .prop_map(move |(f, i, r)| flag(fields[f], i, Unusable::ALL[r])),
            0..3,
        )
    }

    proptest! {
        /// Counts kept incrementally equal counts made from scratch over the
        /// records that remain (what a restart does).
        #[test]
        fn incremental_counts_equal_a_recount(
            records in proptest::collection::vec((0..3usize, any_flags()), 0..40),
            removed in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let sources = ["core_banking", "agent_app", "mobile_money"];
            let mut incremental = QualityCounts::default();
            for (s, flags) in &records {
                incremental.add(sources[*s], flags);
            }
            let mut recount = QualityCounts::default();
            for ((s, flags), gone) in records.iter().zip(&removed) {
                if *gone {
                    incremental.remove(sources[*s], flags);
                } else {
                    recount.add(sources[*s], flags);
                }
            }
            prop_assert_eq!(incremental, recount);
        }
    }
}
