//! Blocking: which pairs of records are compared at all.
//!
//! Every record emits several keys at once (national ID, each phone, email,
//! swap-insensitive phonetic name pair with birth year or locality, surname
//! or given name with full birth date, one name with an address word and
//! the birth year). Records sharing a key form a block.
//!
//! Hot-key protection: a phone held by more than `hot_phone_holders`
//! people (an agent's or a shop's phone; holders are told apart by their
//! names) emits no key at all, and any block larger than `max_block_size`
//! is not expanded into all its pairs: its members are sorted by name and
//! birth date and only neighbours within a window of `window` are paired
//! (sorted neighbourhood). So one value shared by hundreds of records
//! neither explodes the candidate set nor, through the scoring's own
//! hot-phone rule, glues those people together.

use std::hash::{Hash, Hasher};

use rayon::prelude::*;
use rustc_hash::FxHasher;

use crate::compare::PhoneHeat;
use crate::prepare::Prepared;

#[derive(Clone, Copy, Debug)]
pub struct BlockingConfig {
    pub max_block_size: usize,
    pub window: usize,
    /// Which keys are built.
    pub keys: crate::config::Blocking,
}

impl BlockingConfig {
    /// The blocking part of the matching settings.
    pub fn of(config: &crate::MatchConfig) -> Self {
        BlockingConfig {
            max_block_size: config.max_block_size,
            window: config.window,
            keys: config.blocking,
        }
    }
}

/// Statistics of a blocking run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockingStats {
    pub keys: usize,
    pub oversized_blocks: usize,
    pub candidate_pairs: usize,
}

/// The kinds of key, used to keep equal strings of different kinds apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum KeyKind {
    NationalId,
    Phone,
    Email,
    NamesYear,
    NamesLocality,
    SurnameDob,
    GivenDob,
    SurnameLocality,
    AddressLocality,
    IdHalf,
    NamesAddress,
    DobInitial,
    NameAddressYear,
    NameYear,
    Postcode,
    EmailPrefix,
    NamesAlone,
    GivenLocality,
}

/// A part of a blocking key.
#[derive(Hash)]
enum Part<'a> {
    Text(&'a str),
    Number(u64),
}

/// The top bit of a key marks kinds whose oversized blocks are dropped
/// rather than paired by sorted neighbourhood: a landmark word shared by
/// hundreds of addresses ("marche", "pharmacie") says nothing.
pub(crate) const DROP_WHEN_OVERSIZED: u64 = 1 << 63;

/// Whether a key is of a kind whose oversized blocks are dropped.
pub(crate) fn dropped_when_oversized(key: u64) -> bool {
    key & DROP_WHEN_OVERSIZED != 0
}

fn key_hash(kind: KeyKind, parts: &[Part<'_>]) -> u64 {
    let mut h = FxHasher::default();
    kind.hash(&mut h);
    parts.hash(&mut h);
    let hash = (h.finish() & !DROP_WHEN_OVERSIZED & !(u64::from(KIND_MASK) << KIND_SHIFT))
        | ((kind as u64) << KIND_SHIFT);
    if matches!(
        kind,
        KeyKind::AddressLocality
            | KeyKind::NameAddressYear
            | KeyKind::NameYear
            | KeyKind::Postcode
            | KeyKind::EmailPrefix
            | KeyKind::NamesAlone
            | KeyKind::GivenLocality
    ) {
        hash | DROP_WHEN_OVERSIZED
    } else {
        hash
    }
}

/// The blocking keys of one record.
pub fn record_keys(
    p: &Prepared,
    heat: PhoneHeat<'_>,
    use_keys: &crate::config::Blocking,
    out: &mut Vec<u64>,
) {
    let start = out.len();
    record_keys_all(p, heat, out);
    if *use_keys == crate::config::Blocking::default() {
        return;
    }
    let mut kept = start;
    for i in start..out.len() {
        if use_keys.builds(out[i]) {
            out[kept] = out[i];
            kept += 1;
        }
    }
    out.truncate(kept);
}

impl crate::config::Blocking {
    /// Whether a key (built by [`record_keys_all`]) is of a kind switched on.
    fn builds(&self, key: u64) -> bool {
        let kind = (key >> KIND_SHIFT) as u8 & KIND_MASK;
        match kind {
            k if k == KeyKind::NationalId as u8 || k == KeyKind::IdHalf as u8 => self.national_id,
            k if k == KeyKind::Phone as u8 => self.phone,
            k if k == KeyKind::Email as u8 => self.email,
            k if k == KeyKind::NamesYear as u8
                || k == KeyKind::NamesLocality as u8
                || k == KeyKind::NamesAddress as u8 =>
            {
                self.names
            }
            k if k == KeyKind::SurnameDob as u8
                || k == KeyKind::GivenDob as u8
                || k == KeyKind::DobInitial as u8 =>
            {
                self.birth_date
            }
            k if k == KeyKind::NameAddressYear as u8 => self.name_address_year,
            k if k == KeyKind::NameYear as u8 => self.name_year,
            k if k == KeyKind::SurnameLocality as u8 => self.surname_locality,
            k if k == KeyKind::AddressLocality as u8 => self.address_locality,
            k if k == KeyKind::Postcode as u8 => self.postcode,
            k if k == KeyKind::EmailPrefix as u8 => self.email_prefix,
            k if k == KeyKind::NamesAlone as u8 => self.names_alone,
            k if k == KeyKind::GivenLocality as u8 => self.given_locality,
            _ => true,
        }
    }
}

/// Where a key's kind is kept in the key (bits 56 to 60), so that keys can
/// be switched off by kind after they are built.
const KIND_SHIFT: u32 = 56;
const KIND_MASK: u8 = 0x1f;

fn record_keys_all(p: &Prepared, heat: PhoneHeat<'_>, out: &mut Vec<u64>) {
    if let Some(id) = &p.national_id {
        out.push(key_hash(KeyKind::NationalId, &[Part::Text(id)]));
        // One typo leaves one half intact.
        if id.len() >= 6 && id.is_ascii() {
            let mid = id.len() / 2;
            out.push(key_hash(
                KeyKind::IdHalf,
                &[Part::Number(0), Part::Text(&id[..mid])],
            ));
            out.push(key_hash(
                KeyKind::IdHalf,
                &[Part::Number(1), Part::Text(&id[mid..])],
            ));
        }
    }
    for &phone in &p.phones {
        if !heat.is_hot(phone) {
            out.push(key_hash(KeyKind::Phone, &[Part::Number(phone)]));
        }
    }
    for email in &p.emails {
        out.push(key_hash(KeyKind::Email, &[Part::Text(email)]));
        if let Some(prefix) = email_prefix(email) {
            out.push(key_hash(KeyKind::EmailPrefix, &[Part::Text(&prefix)]));
        }
    }
    if !p.postcode.is_empty() {
        out.push(key_hash(KeyKind::Postcode, &[Part::Text(&p.postcode)]));
    }
    let given = p.given.first().map(|t| &*t.key);
    let surname = p.surname.first().map(|t| &*t.key);
    let words = address_words(p);
    if let (Some(g), Some(s)) = (given, surname) {
        // Sorted so that a swapped given name and surname give the same key.
        let (lo, hi) = if g <= s { (g, s) } else { (s, g) };
        // The names alone: a record with no birth year, locality or address
        // word in common with its twin record still meets it when the name
        // is rare (a common name's block is dropped).
        out.push(key_hash(
            KeyKind::NamesAlone,
            &[Part::Text(lo), Part::Text(hi)],
        ));
        if let Some(year) = p.dob.year {
            out.push(key_hash(
                KeyKind::NamesYear,
                &[
                    Part::Text(lo),
                    Part::Text(hi),
                    Part::Number(u64::from(year)),
                ],
            ));
        }
        if !p.locality.is_empty() {
            out.push(key_hash(
                KeyKind::NamesLocality,
                &[Part::Text(lo), Part::Text(hi), Part::Text(&p.locality)],
            ));
        }
        // The names with a street or landmark word, for records without a
        // locality or birth date ("Yopougon Sicogi").
        for &w in words.iter().take(2) {
            out.push(key_hash(
                KeyKind::NamesAddress,
                &[Part::Text(lo), Part::Text(hi), Part::Text(w)],
            ));
        }
    }
    // Initials survive typos that change a phonetic key ("Ainata Babma").
    let initial = |t: Option<&crate::prepare::NameToken>| t.and_then(|t| t.text.chars().next());
    let initials = (initial(p.given.first()), initial(p.surname.first()));
    if p.dob.is_complete() {
        let dob = p.dob.to_iso();
        for i in [initials.0, initials.1].into_iter().flatten() {
            out.push(key_hash(
                KeyKind::DobInitial,
                &[Part::Text(&dob), Part::Number(u64::from(i))],
            ));
        }
    }
    // One name with a street or landmark word and the birth year: a typo
    // in the other name breaks the key of both names ("Srrge Couassi" and
    // "Serge Kouassi", both of "Cocody Angré, Ilot 3", born 1999). The year
    // keeps a household (one address, one surname) out of one block.
    if let (Some(year), Some(word)) = (p.dob.year, words.first()) {
        for name in [given, surname].into_iter().flatten() {
            out.push(key_hash(
                KeyKind::NameAddressYear,
                &[
                    Part::Text(name),
                    Part::Text(word),
                    Part::Number(u64::from(year)),
                ],
            ));
        }
    }
    // One name with the birth year: a typo or a missing value in the
    // other name ("Dylan" against "Dylan Robert", "Edwin" against "Eddy
    // Patchitt") breaks every key of both names. Only small blocks are
    // paired (a rare name in a year): a common name's block is dropped.
    if let Some(year) = p.dob.year {
        for name in [given, surname].into_iter().flatten() {
            out.push(key_hash(
                KeyKind::NameYear,
                &[Part::Text(name), Part::Number(u64::from(year))],
            ));
        }
    }
    if !p.locality.is_empty() {
        if let Some(s) = surname {
            out.push(key_hash(
                KeyKind::SurnameLocality,
                &[Part::Text(s), Part::Text(&p.locality)],
            ));
        }
        if let Some(g) = given {
            out.push(key_hash(
                KeyKind::GivenLocality,
                &[Part::Text(g), Part::Text(&p.locality)],
            ));
        }
        for &w in words.iter().take(2) {
            out.push(key_hash(
                KeyKind::AddressLocality,
                &[Part::Text(w), Part::Text(&p.locality)],
            ));
        }
    }
    if p.dob.is_complete() {
        let dob = p.dob.to_iso();
        if let Some(s) = surname {
            out.push(key_hash(
                KeyKind::SurnameDob,
                &[Part::Text(s), Part::Text(&dob)],
            ));
        }
        if let Some(g) = given {
            out.push(key_hash(
                KeyKind::GivenDob,
                &[Part::Text(g), Part::Text(&dob)],
            ));
        }
    }
}

/// The first six letters of an e-mail's local part (digits and dots left
/// out), when it has at least four: "harley.rose50@sawyer-lin.orng" meets
/// "harley.rose50@sawyer-lin.org", a mistyped domain.
fn email_prefix(email: &str) -> Option<String> {
    let local = email.split('@').next()?;
    let letters: String = local
        .chars()
        .filter(|c| c.is_alphabetic())
        .take(EMAIL_PREFIX_LETTERS)
        .collect();
    (letters.chars().count() >= 4).then_some(letters)
}

const EMAIL_PREFIX_LETTERS: usize = 6;

/// The words of the address longest first (street or landmark names).
fn address_words(p: &Prepared) -> Vec<&str> {
    let mut words: Vec<&str> = p
        .address
        .iter()
        .map(|t| &**t)
        .filter(|t| t.len() >= 5 && t.bytes().all(|b| b.is_ascii_alphabetic()))
        .collect();
    words.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    words
}

/// Packs a pair of record indices (smaller first).
pub fn pack_pair(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

pub fn unpack_pair(p: u64) -> (u32, u32) {
    ((p >> 32) as u32, p as u32)
}

/// All candidate pairs of a set of records, sorted and deduplicated.
pub fn candidate_pairs(
    records: &[Prepared],
    heat: PhoneHeat<'_>,
    config: BlockingConfig,
) -> (Vec<u64>, BlockingStats) {
    let mut entries: Vec<(u64, u32)> = records
        .par_iter()
        .enumerate()
        .fold(Vec::new, |mut acc, (i, p)| {
            let mut keys = Vec::with_capacity(8);
            record_keys(p, heat, &config.keys, &mut keys);
            keys.sort_unstable();
            keys.dedup();
            acc.extend(keys.into_iter().map(|k| (k, i as u32)));
            acc
        })
        .reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            a
        });
    entries.par_sort_unstable();
    let keys = entries.len();

    // Split into blocks (runs of equal keys).
    let mut blocks: Vec<&[(u64, u32)]> = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[start].0 {
            if i - start >= 2 {
                blocks.push(&entries[start..i]);
            }
            start = i;
        }
    }
    let oversized_blocks = blocks
        .iter()
        .filter(|b| b.len() > config.max_block_size)
        .count();

    let mut pairs: Vec<u64> = blocks
        .par_iter()
        .fold(Vec::new, |mut acc, block| {
            block_pairs(block, records, config, &mut acc);
            acc
        })
        .reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            a
        });
    pairs.par_sort_unstable();
    pairs.dedup();
    let candidate_pairs = pairs.len();
    (
        pairs,
        BlockingStats {
            keys,
            oversized_blocks,
            candidate_pairs,
        },
    )
}

fn block_pairs(
    block: &[(u64, u32)],
    records: &[Prepared],
    config: BlockingConfig,
    out: &mut Vec<u64>,
) {
    if block.len() > config.max_block_size && dropped_when_oversized(block[0].0) {
        return;
    }
    if block.len() <= config.max_block_size {
        for (i, &(_, a)) in block.iter().enumerate() {
            for &(_, b) in &block[i + 1..] {
                out.push(pack_pair(a, b));
            }
        }
        return;
    }
    // Sorted neighbourhood inside an oversized block.
    let mut members: Vec<(String, u32)> = block
        .iter()
        .map(|&(_, r)| {
            let p = &records[r as usize];
            (
                format!("{} {} {}", p.surname_joined, p.given_joined, p.dob.to_iso()),
                r,
            )
        })
        .collect();
    members.sort_unstable();
    for (i, (_, a)) in members.iter().enumerate() {
        for (_, b) in members.iter().skip(i + 1).take(config.window) {
            out.push(pack_pair(*a, *b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::Preparer;
    use c360_core::Record;
    use c360_standardise::names::NameVariants;

    fn record(given: &str, surname: &str, dob: &str, address: &str) -> Prepared {
        let preparer = Preparer::new("CI", NameVariants::builtin()).unwrap();
        preparer.prepare(&Record {
            given_name: given.to_string(),
            surname: surname.to_string(),
            date_of_birth: dob.to_string(),
            address: address.to_string(),
            ..Record::default()
        })
    }

    fn pairs(records: &[Prepared]) -> Vec<u64> {
        let counts = rustc_hash::FxHashMap::default();
        let heat = PhoneHeat {
            counts: &counts,
            hot_threshold: 15,
        };
        let config = BlockingConfig::of(&crate::MatchConfig::default());
        candidate_pairs(records, heat, config).0
    }

    /// A typo in each record's other name breaks every key of both names;
    /// one name, the street and the birth year still bring them together,
    /// and a relative at the same address born another year is not paired.
    #[test]
    fn a_typo_in_one_name_still_meets_by_the_other_an_address_word_and_the_year() {
        let records = [
            record("Srrge", "Couassi", "1999-05", "Cocody Angré, Ilot N°3"),
            record("Serge", "Kouassi", "19990520", "COCODY ANGRE, ILOT N°3"),
            record("Awa", "Kouassi", "2004", "COCODY ANGRE, ILOT N°3"),
        ];
        assert_eq!(pairs(&records), vec![pack_pair(0, 1)]);
        // Without the address, the surname's sound and the birth year
        // still pair them (a small block: a rare name in one year).
        let records = [
            record("Srrge", "Couassi", "1999-05", ""),
            record("Serge", "Kouassi", "19990520", ""),
        ];
        assert_eq!(pairs(&records), vec![pack_pair(0, 1)]);
        // Different sounds and no address: nothing pairs them.
        let records = [
            record("Srrge", "Bamba", "1999-05", ""),
            record("Serge", "Kouassi", "19990520", ""),
        ];
        assert!(pairs(&records).is_empty());
    }

    fn with(mut p: Record, postcode: &str, email: &str) -> Prepared {
        p.postcode = postcode.to_string();
        if !email.is_empty() {
            p.emails = vec![email.to_string()];
        }
        let preparer = Preparer::new("GB", NameVariants::builtin()).unwrap();
        preparer.prepare(&p)
    }

    fn named(given: &str, surname: &str, dob: &str) -> Record {
        Record {
            given_name: given.to_string(),
            surname: surname.to_string(),
            date_of_birth: dob.to_string(),
            ..Record::default()
        }
    }

    /// Records that share no birth year, locality or address word still
    /// meet by their names alone, by a postcode or by the start of an
    /// e-mail address (a mistyped domain); a name held by more records
    /// than a block may hold pairs nobody through that key.
    #[test]
    fn names_alone_a_postcode_or_an_email_prefix_pair_records() {
        let records = [
            with(named("Flora", "Bernard", "1845"), "", ""),
            with(named("Flora", "Bernard", ""), "", ""),
        ];
        assert_eq!(pairs(&records), vec![pack_pair(0, 1)]);
        let records = [
            with(named("Charles", "Benazech", "1767"), "SW1A 2AD", ""),
            with(named("", "Benatzech", ""), "SW1A 2AD", ""),
            with(named("", "Benatzech", ""), "SW1A 2AE", ""),
        ];
        assert_eq!(pairs(&records), vec![pack_pair(0, 1)]);
        let records = [
            with(
                named("Hraley", "Rose", "2001"),
                "",
                "harley.rose50@sawyer-lin.orng",
            ),
            with(
                named("Harley", "Ros", "2000"),
                "",
                "harley.rose50@sawyer-lin.org",
            ),
        ];
        assert_eq!(pairs(&records), vec![pack_pair(0, 1)]);
        // One name in 41 records of 41 different years: no key pairs them.
        let crowd: Vec<Prepared> = (0..41)
            .map(|i| with(named("John", "Smith", &(1900 + i).to_string()), "", ""))
            .collect();
        assert!(pairs(&crowd).is_empty());
    }

    /// The given name with the locality pairs records whose surnames share
    /// no sound and that have no birth date; a given name held by more
    /// records of one locality than a block may hold pairs nobody.
    #[test]
    fn a_given_name_and_a_locality_pair_records() {
        let at = |given: &str, surname: &str, locality: &str| {
            let preparer = Preparer::new("GB", NameVariants::builtin()).unwrap();
            preparer.prepare(&Record {
                given_name: given.to_string(),
                surname: surname.to_string(),
                locality: locality.to_string(),
                ..Record::default()
            })
        };
        let records = [
            at("Esther", "Burney", "East Hertfordshire"),
            at("Esther", "Xurnwy", "East Hertfordshire"),
            at("Esther", "Pemberton", "Leeds"),
        ];
        assert_eq!(pairs(&records), vec![pack_pair(0, 1)]);
        let counts = rustc_hash::FxHashMap::default();
        let heat = PhoneHeat {
            counts: &counts,
            hot_threshold: 15,
        };
        let mut config = BlockingConfig::of(&crate::MatchConfig::default());
        config.keys.given_locality = false;
        assert!(candidate_pairs(&records, heat, config).0.is_empty());
        let crowd: Vec<Prepared> = (0..41)
            .map(|i| at("John", &format!("Q{}", "x".repeat(i)), "Leeds"))
            .collect();
        assert!(pairs(&crowd).is_empty());
    }
}
