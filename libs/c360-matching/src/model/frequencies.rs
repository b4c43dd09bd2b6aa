//! Value frequencies for term-frequency adjustment.

use super::*;

/// Value frequencies for term-frequency adjustment, over the records the
/// model sees. `Debug` shows sizes only (the keys are names).
#[derive(Clone, Default, PartialEq)]
pub struct Frequencies {
    pub records: u64,
    pub surname: FxHashMap<Box<str>, u32>,
    pub given: FxHashMap<Box<str>, u32>,
    /// Surname and given name together ([`full_name_key`]): given names
    /// run in families and peoples ("Serge" is far more common among the
    /// Gnahoré than overall), so a shared given name weighs by how common
    /// it is among holders of the shared surname.
    pub full_name: FxHashMap<u64, u32>,
    pub phone: FxHashMap<u64, u32>,
    /// Distinct holders of each phone: what makes a phone "hot", and what
    /// a shared phone weighs by. One person's twenty records with one phone
    /// are one holder; an agent's phone typed into the records of a hundred
    /// clients is a hundred.
    pub phone_holders: Holders<u64>,
    /// National IDs, e-mail addresses (by hash) and full birth dates
    /// ([`date_key`]): a shared ID held by one person's records is near
    /// proof, a shared "1 January 1960" is not.
    pub national_id: FxHashMap<u64, u32>,
    pub email: FxHashMap<u64, u32>,
    /// Distinct holders of each e-mail address, what a shared address
    /// weighs by (as for phones): one person's five records with their
    /// address make it no more common than one record does, a family's
    /// address written for each member is held by each.
    pub email_holders: Holders<u64>,
    pub dob: FxHashMap<u32, u32>,
    /// Distinct holders of each full birth date (as for phones).
    pub dob_holders: Holders<u32>,
}

/// Distinct holders of each value of a field: records told apart by their
/// names ([`holder_signature`]), kept right when records are updated or
/// erased.
#[derive(Clone, Debug, PartialEq)]
pub struct Holders<K: std::hash::Hash + Eq> {
    holders: FxHashMap<K, u32>,
    /// Records per (value, holder signature).
    signatures: FxHashMap<(K, u32), u32>,
}

impl<K: std::hash::Hash + Eq> Default for Holders<K> {
    fn default() -> Self {
        Holders {
            holders: FxHashMap::default(),
            signatures: FxHashMap::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Copy> Holders<K> {
    /// Holders of each value.
    pub fn counts(&self) -> &FxHashMap<K, u32> {
        &self.holders
    }

    pub fn get(&self, value: &K) -> Option<u32> {
        self.holders.get(value).copied()
    }

    fn add(&mut self, value: K, signature: u32) {
        let c = self.signatures.entry((value, signature)).or_default();
        *c += 1;
        if *c == 1 {
            *self.holders.entry(value).or_default() += 1;
        }
    }

    fn remove(&mut self, value: K, signature: u32) {
        if let Some(c) = self.signatures.get_mut(&(value, signature)) {
            *c -= 1;
            if *c == 0 {
                self.signatures.remove(&(value, signature));
                if let Some(h) = self.holders.get_mut(&value) {
                    *h = h.saturating_sub(1);
                }
            }
        }
    }

    /// Holders are distinct signatures: a signature both sides hold is one
    /// holder.
    fn merge(&mut self, from: Holders<K>) {
        for ((value, signature), count) in from.signatures {
            let c = self.signatures.entry((value, signature)).or_default();
            if *c == 0 {
                *self.holders.entry(value).or_default() += 1;
            }
            *c += count;
        }
    }
}

/// Who holds a phone, as far as the names tell: the phonetic keys of the
/// first given-name and surname words, in either order (a record with the
/// names swapped is the same holder). Typos that change a phonetic key make
/// a few more "holders" of one person's phone; a household's members, with
/// their different given names, count one each.
pub fn holder_signature(p: &crate::Prepared) -> u32 {
    let given = p.given.first().map_or("", |t| &*t.key);
    let surname = p.surname.first().map_or("", |t| &*t.key);
    fx_hash(&(given.min(surname), given.max(surname))) as u32
}

/// The key of a surname and given name pair in [`Frequencies::full_name`].
pub fn full_name_key(surname: &str, given: &str) -> u64 {
    fx_hash(&(surname, given))
}

/// The key of a full birth date in [`Frequencies::dob`].
pub fn date_key(d: &c360_standardise::date::PartialDate) -> Option<u32> {
    match (d.year, d.month, d.day) {
        (Some(y), Some(m), Some(day)) => {
            Some((u32::from(y) << 16) | (u32::from(m) << 8) | u32::from(day))
        }
        _ => None,
    }
}

/// The key of a text value (an ID or an e-mail) in [`Frequencies`].
pub fn text_key(s: &str) -> u64 {
    fx_hash(s)
}

/// One hash for the keys of [`Frequencies`] (in memory only).
fn fx_hash<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    value.hash(&mut h);
    h.finish()
}

impl std::fmt::Debug for Frequencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frequencies")
            .field("records", &self.records)
            .field("surnames", &self.surname.len())
            .field("given_names", &self.given.len())
            .field("phones", &self.phone.len())
            .finish_non_exhaustive()
    }
}

impl Frequencies {
    /// The counts of many records, built on every core: the same as adding
    /// them one by one.
    pub fn of_records(records: &[crate::Prepared]) -> Self {
        use rayon::prelude::*;
        records
            .par_chunks(16_384)
            .map(|chunk| {
                let mut f = Frequencies::default();
                chunk.iter().for_each(|p| f.add(p));
                f
            })
            .reduce(Frequencies::default, |a, b| a.merged(b))
    }

    /// The counts of two disjoint sets of records together.
    pub fn merged(self, other: Frequencies) -> Self {
        let (mut into, from) = if self.records >= other.records {
            (self, other)
        } else {
            (other, self)
        };
        fn sum<K: std::hash::Hash + Eq>(into: &mut FxHashMap<K, u32>, from: FxHashMap<K, u32>) {
            for (key, count) in from {
                *into.entry(key).or_default() += count;
            }
        }
        into.records += from.records;
        sum(&mut into.surname, from.surname);
        sum(&mut into.given, from.given);
        sum(&mut into.full_name, from.full_name);
        sum(&mut into.phone, from.phone);
        sum(&mut into.national_id, from.national_id);
        sum(&mut into.email, from.email);
        sum(&mut into.dob, from.dob);
        into.phone_holders.merge(from.phone_holders);
        into.email_holders.merge(from.email_holders);
        into.dob_holders.merge(from.dob_holders);
        into
    }

    /// Takes a record out of the counts (it was updated or erased).
    pub fn remove(&mut self, p: &crate::Prepared) {
        self.records = self.records.saturating_sub(1);
        fn decrement<K: std::hash::Hash + Eq>(map: &mut FxHashMap<K, u32>, key: &K) {
            if let Some(c) = map.get_mut(key) {
                *c = c.saturating_sub(1);
            }
        }
        decrement(&mut self.surname, &p.surname_joined);
        decrement(&mut self.given, &p.given_joined);
        if !p.surname_joined.is_empty() && !p.given_joined.is_empty() {
            decrement(
                &mut self.full_name,
                &full_name_key(&p.surname_joined, &p.given_joined),
            );
        }
        let signature = holder_signature(p);
        for &phone in &p.phones {
            decrement(&mut self.phone, &phone);
            self.phone_holders.remove(phone, signature);
        }
        if let Some(id) = &p.national_id {
            decrement(&mut self.national_id, &text_key(id));
        }
        for email in &p.emails {
            let key = text_key(email);
            decrement(&mut self.email, &key);
            self.email_holders.remove(key, signature);
        }
        if let Some(d) = date_key(&p.dob) {
            decrement(&mut self.dob, &d);
            self.dob_holders.remove(d, signature);
        }
    }

    pub fn add(&mut self, p: &crate::Prepared) {
        self.records += 1;
        if !p.surname_joined.is_empty() {
            *self.surname.entry(p.surname_joined.clone()).or_default() += 1;
        }
        if !p.given_joined.is_empty() {
            *self.given.entry(p.given_joined.clone()).or_default() += 1;
        }
        if !p.surname_joined.is_empty() && !p.given_joined.is_empty() {
            *self
                .full_name
                .entry(full_name_key(&p.surname_joined, &p.given_joined))
                .or_default() += 1;
        }
        let signature = holder_signature(p);
        for &phone in &p.phones {
            *self.phone.entry(phone).or_default() += 1;
            self.phone_holders.add(phone, signature);
        }
        if let Some(id) = &p.national_id {
            *self.national_id.entry(text_key(id)).or_default() += 1;
        }
        for email in &p.emails {
            let key = text_key(email);
            *self.email.entry(key).or_default() += 1;
            self.email_holders.add(key, signature);
        }
        if let Some(d) = date_key(&p.dob) {
            *self.dob.entry(d).or_default() += 1;
            self.dob_holders.add(d, signature);
        }
    }

    /// How often a value occurs: (records holding it, records in all).
    pub(super) fn share(&self, count: Option<u32>) -> (f64, f64) {
        (
            f64::from(count.unwrap_or(1).max(1)),
            self.records.max(1) as f64,
        )
    }
}
