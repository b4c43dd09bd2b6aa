//! The Fellegi-Sunter model: per-field, per-level m and u probabilities,
//! u estimated from random pairs, m by expectation-maximisation over the
//! blocked candidate pairs (no labels), term-frequency adjusted weights for
//! names and phones, and hard rules that veto a link whatever the score.

use std::borrow::Cow;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::compare::{CompareField, Comparison, Levels, NameAlignment};

/// A training session: which candidate pairs it keeps, and the fields of
/// its rule, whose m it cannot estimate.
struct TrainingSession {
    keep: fn(&Levels) -> bool,
    fixed: &'static [CompareField],
}

/// Sessions whose rules make matches the majority of the pairs they keep.
const TRAINING_SESSIONS: &[TrainingSession] = &[
    // Same national ID: estimates every other field.
    TrainingSession {
        keep: |l| l.get(CompareField::NationalId) == 1,
        fixed: &[CompareField::NationalId],
    },
    // Same full birth date and a close surname and given name: estimates
    // the ID, the contact fields and the address.
    TrainingSession {
        keep: |l| {
            l.get(CompareField::DateOfBirth) == 1
                && matches!(l.get(CompareField::Surname), 1 | 2)
                && matches!(l.get(CompareField::GivenName), 1 | 2)
        },
        fixed: &[
            CompareField::DateOfBirth,
            CompareField::Surname,
            CompareField::GivenName,
        ],
    },
    // The same surname and given name: estimates the birth date (its
    // typos, its disagreement) where no ID is shared.
    TrainingSession {
        keep: |l| l.get(CompareField::Surname) == 1 && l.get(CompareField::GivenName) == 1,
        fixed: &[CompareField::Surname, CompareField::GivenName],
    },
    // The same full birth date: estimates the names (their typos,
    // nicknames, initials, disagreement) where no ID is shared.
    TrainingSession {
        keep: |l| l.get(CompareField::DateOfBirth) == 1,
        fixed: &[CompareField::DateOfBirth],
    },
];

/// Weight of the model's average agreement when estimating a value's
/// frequency, in records.
const TF_PSEUDO_RECORDS: f64 = 1_000.0;

/// Most bits a close or fuzzy name loses for being common, and gains for
/// being rare (measured at 1M with the `NameAddressYear` blocking key: F1
/// 0.9699 without, 0.9706 with bounds 2 and 1; 3 and 1 gave 0.9705, 2 and 2
/// lost precision).
const CLOSE_NAME_TF_PENALTY: f64 = 2.0;
const CLOSE_NAME_TF_BONUS: f64 = 1.0;

/// A session with fewer pairs than this is skipped.
const MIN_SESSION_PAIRS: u64 = 20;

/// Smallest probability a level may get (keeps weights finite).
const PROBABILITY_FLOOR: f64 = 1e-6;

/// The learned model. Serialisable so a service can persist the exact model
/// that took each decision (its [`FsModel::version`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FsModel {
    /// Share of candidate pairs that are matches.
    pub lambda: f64,
    /// `m[field][level]`: P(level | match). Index 0 (missing) unused.
    pub m: Vec<Vec<f64>>,
    /// `u[field][level]`: P(level | non-match).
    pub u: Vec<Vec<f64>>,
    /// Expected number of other records matching a record: turns into the
    /// prior for any population size (see [`FsModel::set_population`]).
    #[serde(default)]
    pub matches_per_record: f64,
    /// EM iterations run and whether it converged.
    pub em_iterations: u32,
    pub em_converged: bool,
    /// How pairs that share a household are scored, when the data has
    /// enough of them to learn it (see [`HouseholdModel`]).
    #[serde(default)]
    pub household: Option<HouseholdModel>,
    /// Hash of the settings the model was learned under
    /// ([`crate::MatchConfig::hash`]): part of [`FsModel::version`].
    #[serde(default)]
    pub settings: String,
    /// Fields whose shared values do not weigh by their frequency (bit =
    /// field index), from the settings.
    #[serde(default)]
    pub term_frequency_off: u16,
    /// Steward labels the model was taught with ([`FsModel::learn_from_labels`]):
    /// pairs said to be one person, and two people. Part of the version.
    #[serde(default)]
    pub labels: [u32; 2],
}

/// The household context: two records whose surnames agree and who share
/// a phone or an address. Household members share exactly those fields, so
/// summed as independent evidence they make a mother and her daughter, or
/// twins, look like one person. Inside the context they say only "same
/// household"; whether the two are one person is told by the person-level
/// fields ([`PERSON_FIELDS`]). Their m is the overall model's: how one
/// person's records differ does not depend on who else shares the phone.
/// Their u is learned by EM from the pairs in the context (it is not the
/// random pairs' u: among household members a shared birth date is twins,
/// about one pair in thirty, not one in twenty thousand), and so is the
/// prior, each apart for pairs that share a phone and pairs that share only
/// an address (the first are mostly one person or their household, the
/// second mostly neighbours and namesakes on one street, more of them the
/// larger the file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdModel {
    /// Share of the context's pairs sharing a phone that are one person.
    pub lambda: f64,
    /// Share of the context's pairs sharing only an address that are one
    /// person.
    #[serde(default = "half")]
    pub lambda_address: f64,
    /// `m[field][level]` and `u[field][level]` for the person-level fields
    /// (the other fields' rows are unused).
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// `u[field][level]` for pairs sharing only an address (`u` is for
    /// pairs sharing a phone).
    #[serde(default)]
    pub u_address: Vec<Vec<f64>>,
    /// Candidate pairs in the context it was learned from.
    pub pairs: u64,
}

/// The fields that tell one person from another within a household.
pub const PERSON_FIELDS: [CompareField; 5] = [
    CompareField::GivenName,
    CompareField::DateOfBirth,
    CompareField::Sex,
    CompareField::NationalId,
    CompareField::Email,
];

/// Whether a pair is in the household context: the surnames agree (or are
/// close) and a phone is shared or the addresses agree.
pub fn in_household(levels: &Levels) -> bool {
    matches!(levels.get(CompareField::Surname), 1 | 2)
        && (levels.get(CompareField::Phone) == 1
            || matches!(levels.get(CompareField::Address), 1 | 2))
}

fn half() -> f64 {
    0.5
}

/// Whether a household pair shares a phone (else only an address).
fn shares_phone(levels: &Levels) -> bool {
    levels.get(CompareField::Phone) == 1
}

/// Fewest pairs in the household context to learn its model from.
const MIN_HOUSEHOLD_PAIRS: u64 = 200;

impl HouseholdModel {
    /// Learns the context's model by EM over its candidate pairs (two latent
    /// classes: one person, two members of one household), m held at the
    /// overall model's, u and the two priors free. `None` when the data has
    /// too few pairs in the context.
    fn learn(global: &FsModel, patterns: &[(Levels, u64)], max_iterations: u32) -> Option<Self> {
        let selected: Vec<(Levels, u64)> = patterns
            .iter()
            .filter(|(l, _)| in_household(l))
            .map(|&(l, c)| {
                let mut only = Levels::default();
                for f in PERSON_FIELDS {
                    only.0[f as usize] = l.get(f);
                }
                only.0[CompareField::Phone as usize] = l.get(CompareField::Phone);
                (only, c)
            })
            .collect();
        let pairs: u64 = selected.iter().map(|&(_, c)| c).sum();
        if pairs < MIN_HOUSEHOLD_PAIRS {
            return None;
        }
        let m = global.m.clone();
        // Start: the overall u (the weights of a pair outside the context).
        let u = global.u.clone();
        let mut model = HouseholdModel {
            lambda: 0.5,
            lambda_address: 0.5,
            m,
            u_address: u.clone(),
            u,
            pairs,
        };
        for _ in 0..max_iterations.max(1) * 2 {
            let empty: Vec<Vec<f64>> = model.u.iter().map(|l| vec![0.0; l.len()]).collect();
            // [address only, phone shared]
            let mut u_acc = [empty.clone(), empty];
            // [address only, phone shared]
            let mut match_mass = [0.0; 2];
            let mut total = [0.0; 2];
            for &(levels, count) in &selected {
                let odds = model.log_odds(&levels);
                let p = 1.0 / (1.0 + (-odds).exp2());
                let wu = (1.0 - p) * count as f64;
                let kind = usize::from(shares_phone(&levels));
                match_mass[kind] += p * count as f64;
                total[kind] += count as f64;
                for f in PERSON_FIELDS {
                    let l = usize::from(levels.get(f));
                    if l > 0 {
                        u_acc[kind][f as usize][l] += wu;
                    }
                }
            }
            let mut delta = 0.0f64;
            for (kind, f) in [0, 1]
                .into_iter()
                .flat_map(|k| PERSON_FIELDS.map(|f| (k, f as usize)))
            {
                let acc = &mut u_acc[kind][f];
                // A pseudo-count keeps a level seen in neither class finite.
                for x in acc.iter_mut().skip(1) {
                    *x += 0.5;
                }
                normalise_with_floor(acc, M_FLOOR);
                // Sharing a household makes agreement more common and
                // disagreement rarer between two people, so it can weaken a
                // level's evidence but never reverse or strengthen it: u
                // stays between the overall u and m. Without this, a file
                // with no households (FEBRL) lets EM call its typos the
                // "other" class and a birth date one digit off weighs -6 bits.
                for (l, new) in acc.iter_mut().enumerate().skip(1) {
                    let (m, overall) = (model.m[f][l], global.u[f][l]);
                    *new = new.clamp(m.min(overall), m.max(overall));
                }
                let target = if kind == 1 {
                    &mut model.u[f]
                } else {
                    &mut model.u_address[f]
                };
                for (old, new) in target.iter_mut().zip(acc.iter()) {
                    delta = delta.max((*old - new).abs());
                    *old = *new;
                }
            }
            let share = |k: usize| {
                if total[k] > 0.0 {
                    (match_mass[k] / total[k]).clamp(1e-4, 1.0 - 1e-4)
                } else {
                    0.5
                }
            };
            let (address, phone) = (share(0), share(1));
            delta = delta
                .max((phone - model.lambda).abs())
                .max((address - model.lambda_address).abs());
            model.lambda = phone;
            model.lambda_address = address;
            if delta < 1e-6 {
                break;
            }
        }
        Some(model)
    }

    /// The context's prior for pairs sharing a phone, log2 odds.
    pub fn prior(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// The context's prior for a pair, log2 odds: sharing a phone or only an
    /// address.
    pub fn prior_of(&self, levels: &Levels) -> f64 {
        let lambda = if shares_phone(levels) {
            self.lambda
        } else {
            self.lambda_address
        };
        (lambda / (1.0 - lambda)).log2()
    }

    /// A person-level field's weight at a level for pairs sharing a phone
    /// (`phone`) or only an address.
    pub fn weight(&self, field: CompareField, level: u8, phone: bool) -> f64 {
        if level == 0 || !PERSON_FIELDS.contains(&field) {
            return 0.0;
        }
        let (f, l) = (field as usize, usize::from(level));
        let u = match self.u_address.get(f) {
            Some(u) if !phone => u,
            _ => &self.u[f],
        };
        (self.m[f][l].max(PROBABILITY_FLOOR) / u[l].max(PROBABILITY_FLOOR)).log2()
    }

    /// A person-level field's weight in a pair of the context.
    pub fn weight_of(&self, field: CompareField, levels: &Levels) -> f64 {
        self.weight(field, levels.get(field), shares_phone(levels))
    }

    fn log_odds(&self, levels: &Levels) -> f64 {
        self.prior_of(levels)
            + PERSON_FIELDS
                .iter()
                .map(|&f| self.weight_of(f, levels))
                .sum::<f64>()
    }
}

/// A pair's weight, ready for thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// log2 odds of a match (prior included).
    pub log_odds: f64,
    /// The prior it includes: the model's, or the household context's.
    pub prior: f64,
}

impl Score {
    pub fn probability(self) -> f64 {
        1.0 / (1.0 + (-self.log_odds).exp2())
    }
}

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
    /// Distinct holders of each phone (records told apart by their names,
    /// see [`holder_signature`]): what makes a phone "hot". One person's
    /// twenty records with one phone are one holder; an agent's phone typed
    /// into the records of a hundred clients is a hundred.
    pub phone_holders: FxHashMap<u64, u32>,
    /// Records per (phone, holder signature), to keep `phone_holders` right
    /// when records are updated or erased.
    phone_signatures: FxHashMap<(u64, u32), u32>,
    /// National IDs, e-mail addresses (by hash) and full birth dates
    /// ([`date_key`]): a shared ID held by one person's records is near
    /// proof, a shared "1 January 1960" is not.
    pub national_id: FxHashMap<u64, u32>,
    pub email: FxHashMap<u64, u32>,
    pub dob: FxHashMap<u32, u32>,
    /// Distinct holders of each full birth date (told apart by their
    /// names, as for phones): one person's 500 records with their birth
    /// date make it no more common than one record does.
    pub dob_holders: FxHashMap<u32, u32>,
    dob_signatures: FxHashMap<(u32, u32), u32>,
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
        // Holders are distinct signatures: a signature both sides hold is
        // one holder.
        for ((phone, signature), count) in from.phone_signatures {
            let c = into.phone_signatures.entry((phone, signature)).or_default();
            if *c == 0 {
                *into.phone_holders.entry(phone).or_default() += 1;
            }
            *c += count;
        }
        for ((dob, signature), count) in from.dob_signatures {
            let c = into.dob_signatures.entry((dob, signature)).or_default();
            if *c == 0 {
                *into.dob_holders.entry(dob).or_default() += 1;
            }
            *c += count;
        }
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
        for phone in &p.phones {
            decrement(&mut self.phone, phone);
            if let Some(c) = self.phone_signatures.get_mut(&(*phone, signature)) {
                *c -= 1;
                if *c == 0 {
                    self.phone_signatures.remove(&(*phone, signature));
                    decrement(&mut self.phone_holders, phone);
                }
            }
        }
        if let Some(id) = &p.national_id {
            decrement(&mut self.national_id, &text_key(id));
        }
        for email in &p.emails {
            decrement(&mut self.email, &text_key(email));
        }
        if let Some(d) = date_key(&p.dob) {
            decrement(&mut self.dob, &d);
            if let Some(c) = self.dob_signatures.get_mut(&(d, signature)) {
                *c -= 1;
                if *c == 0 {
                    self.dob_signatures.remove(&(d, signature));
                    decrement(&mut self.dob_holders, &d);
                }
            }
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
            let c = self.phone_signatures.entry((phone, signature)).or_default();
            *c += 1;
            if *c == 1 {
                *self.phone_holders.entry(phone).or_default() += 1;
            }
        }
        if let Some(id) = &p.national_id {
            *self.national_id.entry(text_key(id)).or_default() += 1;
        }
        for email in &p.emails {
            *self.email.entry(text_key(email)).or_default() += 1;
        }
        if let Some(d) = date_key(&p.dob) {
            *self.dob.entry(d).or_default() += 1;
            let c = self.dob_signatures.entry((d, signature)).or_default();
            *c += 1;
            if *c == 1 {
                *self.dob_holders.entry(d).or_default() += 1;
            }
        }
    }

    /// How often a value occurs: (records holding it, records in all).
    fn share(&self, count: Option<u32>) -> (f64, f64) {
        (
            f64::from(count.unwrap_or(1).max(1)),
            self.records.max(1) as f64,
        )
    }
}

/// One field's part in a pair's score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldWeight {
    pub field: CompareField,
    pub level: &'static str,
    pub weight: f64,
    /// Set when the weight was adjusted for the frequency of the shared value.
    pub term_frequency: Option<f64>,
}

impl FsModel {
    /// A starting point for EM: agreement likely among matches.
    pub fn initial(u: Vec<Vec<f64>>) -> Self {
        let m = CompareField::ALL
            .iter()
            .map(|f| {
                let n = f.level_count();
                let mut levels = vec![0.0; n];
                // Level 1 (agreement) gets most of the mass, the rest decays.
                let mut mass = 0.9;
                for l in levels.iter_mut().skip(1) {
                    *l = mass;
                    mass *= 0.1;
                }
                normalise(&mut levels);
                levels
            })
            .collect();
        FsModel {
            lambda: 0.1,
            m,
            u,
            matches_per_record: 0.0,
            em_iterations: 0,
            em_converged: false,
            household: None,
            settings: String::new(),
            term_frequency_off: 0,
            labels: [0, 0],
        }
    }

    /// A short, stable identifier of the parameters.
    pub fn version(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        let household = self.household.iter().flat_map(|h| {
            [h.lambda, h.lambda_address]
                .into_iter()
                .chain(h.m.iter().flatten().copied())
                .chain(h.u.iter().flatten().copied())
                .chain(h.u_address.iter().flatten().copied())
        });
        for v in std::iter::once(self.matches_per_record)
            .chain(self.m.iter().flatten().copied())
            .chain(self.u.iter().flatten().copied())
            .chain(household)
        {
            v.to_bits().hash(&mut h);
        }
        if self.labels != [0, 0] {
            self.labels.hash(&mut h);
        }
        let parameters = format!("fs-{:012x}", h.finish() & 0xffff_ffff_ffff);
        if self.settings.is_empty() {
            parameters
        } else {
            format!("{parameters}.{}", self.settings)
        }
    }

    /// Estimates u from the levels of random pairs.
    pub fn estimate_u(random_pairs: impl Iterator<Item = Levels>) -> Vec<Vec<f64>> {
        let mut counts: Vec<Vec<f64>> = CompareField::ALL
            .iter()
            .map(|f| vec![0.0; f.level_count()])
            .collect();
        for levels in random_pairs {
            for (f, &l) in levels.0.iter().enumerate() {
                if l > 0 {
                    counts[f][usize::from(l)] += 1.0;
                }
            }
        }
        for levels in &mut counts {
            // Laplace smoothing: an unseen level is rare, not impossible.
            for l in levels.iter_mut().skip(1) {
                *l += 1.0;
            }
            normalise(levels);
        }
        counts
    }

    /// Estimates m in training sessions, Splink-style: each session keeps
    /// only the candidate pairs that satisfy a deterministic rule (so that
    /// matches dominate), fixes the fields of that rule, and runs EM for the
    /// others with u held fixed. A field's m is the mean of its estimates
    /// over the sessions where it was free. The prior (lambda) is then
    /// estimated over all candidate pairs with m and u fixed, and turned into
    /// the chance that two *random* records match (expected matches over
    /// all pairs of the `records`), so that a score means the same for any
    /// pair, blocked or not, and grows with the evidence it needs as the
    /// data grows.
    ///
    /// Plain EM over all blocked pairs fails here: candidate pairs are
    /// dominated by neighbours and relatives who share a locality, a phone
    /// or a surname, and the "match" class drifts to describe them.
    pub fn train(&mut self, patterns: &[(Levels, u64)], records: u64, max_iterations: u32) {
        self.train_labelled(patterns, &[], records, max_iterations, 0.0);
    }

    /// [`FsModel::train`], with m then taught by steward labels (the levels
    /// of labelled pairs, see [`FsModel::learn_from_labels`]) before the
    /// household context and the prior are learned.
    pub fn train_labelled(
        &mut self,
        patterns: &[(Levels, u64)],
        labelled: &[(Levels, bool)],
        records: u64,
        max_iterations: u32,
        label_pseudo_pairs: f64,
    ) {
        let mut sums: Vec<Vec<f64>> = self.m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut sessions_per_field = [0u32; crate::compare::FIELD_COUNT];
        for session in TRAINING_SESSIONS {
            let mut selected: Vec<(Levels, u64)> = patterns
                .iter()
                .filter(|(l, _)| (session.keep)(l))
                .map(|&(mut l, c)| {
                    for f in session.fixed {
                        l.0[*f as usize] = 0;
                    }
                    (l, c)
                })
                .collect();
            selected.retain(|(l, _)| l.0.iter().any(|&x| x > 0));
            if selected.iter().map(|&(_, c)| c).sum::<u64>() < MIN_SESSION_PAIRS {
                continue;
            }
            let mut session_model = FsModel {
                lambda: 0.5,
                ..self.clone()
            };
            session_model.em(&selected, max_iterations, true);
            self.em_iterations += session_model.em_iterations;
            for field in CompareField::ALL {
                let f = field as usize;
                // A field is estimated by the first session (the sessions
                // go from the most match-dominated rule to the least) that
                // frees it and sees it in enough pairs: averaging in a
                // later session's estimate let namesakes who share a name
                // and a town pass for matches with different birth dates
                // (generated 100k: m of a different birth date 0.31 instead
                // of about 0.01).
                let observed: u64 = selected
                    .iter()
                    .filter(|(l, _)| l.0[f] > 0)
                    .map(|&(_, c)| c)
                    .sum();
                if session.fixed.contains(&field)
                    || sessions_per_field[f] > 0
                    || observed < MIN_SESSION_PAIRS
                {
                    continue;
                }
                sessions_per_field[f] += 1;
                for (sum, m) in sums[f].iter_mut().zip(&session_model.m[f]) {
                    *sum += m;
                }
            }
        }
        for (f, sum) in sums.iter_mut().enumerate() {
            if sessions_per_field[f] > 0 {
                normalise_with_floor(sum, M_FLOOR);
                self.m[f] = sum.clone();
            }
        }
        if !labelled.is_empty() {
            self.learn_from_labels(labelled, label_pseudo_pairs);
        }
        self.household = HouseholdModel::learn(self, patterns, max_iterations);
        self.lambda = 0.01;
        self.em(patterns, max_iterations, false);
        let candidates: f64 = patterns.iter().map(|&(_, c)| c as f64).sum();
        let expected_matches = (self.lambda * candidates).max(1.0);
        self.matches_per_record = expected_matches / records.max(1) as f64;
        self.set_population(records);
        self.em_converged = true;
    }

    /// Sets the prior for a population of `records`: the chance that two
    /// random records match is the expected matches over all pairs.
    pub fn set_population(&mut self, records: u64) {
        let n = records.max(2) as f64;
        let expected_matches = (self.matches_per_record * n).max(1.0);
        let all_pairs = n * (n - 1.0) / 2.0;
        self.lambda = (expected_matches / all_pairs).clamp(1e-12, 0.5);
    }

    /// EM iterations. With `update_m` false only lambda moves.
    fn em(&mut self, patterns: &[(Levels, u64)], max_iterations: u32, update_m: bool) {
        let total: f64 = patterns.iter().map(|&(_, c)| c as f64).sum();
        if total == 0.0 {
            return;
        }
        self.em_converged = false;
        for iteration in 1..=max_iterations {
            let mut m_acc: Vec<Vec<f64>> = self.m.iter().map(|l| vec![0.0; l.len()]).collect();
            let mut match_mass = 0.0;
            for &(levels, count) in patterns {
                let p = self.match_probability_untuned(levels);
                let w = p * count as f64;
                match_mass += w;
                for (f, &l) in levels.0.iter().enumerate() {
                    if l > 0 {
                        m_acc[f][usize::from(l)] += w;
                    }
                }
            }
            let new_lambda = (match_mass / total).clamp(1e-9, 1.0 - 1e-6);
            let mut delta = (new_lambda - self.lambda).abs();
            if update_m {
                for (f, acc) in m_acc.iter_mut().enumerate() {
                    if acc.iter().sum::<f64>() <= 0.0 {
                        continue;
                    }
                    normalise(acc);
                    for (old, new) in self.m[f].iter_mut().zip(acc.iter()) {
                        delta = delta.max((*old - new).abs());
                        *old = *new;
                    }
                }
            }
            self.lambda = new_lambda;
            self.em_iterations = iteration;
            if delta < 1e-6 {
                self.em_converged = true;
                break;
            }
        }
    }

    fn match_probability_untuned(&self, levels: Levels) -> f64 {
        let mut log_ratio = (self.lambda / (1.0 - self.lambda)).log2();
        for (f, &l) in levels.0.iter().enumerate() {
            if l > 0 {
                let l = usize::from(l);
                log_ratio += (self.m[f][l] / self.u[f][l]).log2();
            }
        }
        1.0 / (1.0 + (-log_ratio).exp2())
    }

    /// The weight of one field at one level, with term-frequency adjustment
    /// of exact agreement on names, phones, IDs, e-mails and birth dates, and
    /// of close and fuzzy names. `tf` is (records holding the shared value,
    /// or the more common of two close names, records in all).
    pub fn field_weight(
        &self,
        field: CompareField,
        level: u8,
        tf: Option<(f64, f64)>,
    ) -> (f64, Option<f64>) {
        if level == 0 {
            return (0.0, None);
        }
        let f = field as usize;
        let l = usize::from(level);
        let m = self.m[f][l].max(PROBABILITY_FLOOR);
        let u = self.u[f][l].max(PROBABILITY_FLOOR);
        // A level that EM saw (almost) never among matches is no evidence
        // for a match, however rare it is among random pairs (an "initial"
        // level that no pair showed would weigh +8 bits otherwise).
        let base = if m <= M_FLOOR * 1.000_001 {
            (m / u).log2().min(0.0)
        } else {
            (m / u).log2()
        };
        match tf {
            Some((count, records)) if level == 1 && field.term_frequency_adjusted() => {
                let share = smoothed_share(count, records, u);
                // The chance that two random records share this very value
                // is its frequency; a rare value is strong evidence, but not
                // more than a few bits beyond the average agreement.
                let adjusted = (m / share.max(PROBABILITY_FLOOR)).log2();
                let bounded = adjusted.clamp(base - 8.0, base + 4.0);
                (bounded, Some(share))
            }
            Some((count, records)) if field.is_close_name_level(level) => {
                // How common the name is against the average exact
                // agreement: a typo of "Aminata" is a weaker sign than a
                // typo of a rare name. Bounded tighter than exact agreement:
                // the level's own m and u already average over names.
                let average = self.u[f][1].max(PROBABILITY_FLOOR);
                let share = smoothed_share(count, records, average);
                let adjustment = (average / share.max(PROBABILITY_FLOOR))
                    .log2()
                    .clamp(-CLOSE_NAME_TF_PENALTY, CLOSE_NAME_TF_BONUS);
                (base + adjustment, Some(share))
            }
            _ => (base, None),
        }
    }

    /// Scores a comparison: prior plus the weight of every field.
    pub fn score(
        &self,
        comparison: &Comparison,
        a: &crate::Prepared,
        b: &crate::Prepared,
        freqs: &Frequencies,
    ) -> Score {
        let prior = self.prior_for(&comparison.levels);
        let mut log_odds = prior;
        for field in CompareField::ALL {
            log_odds += self.weight_in(field, comparison, a, b, freqs).0;
        }
        Score { log_odds, prior }
    }

    /// The household model when a pair is in its context.
    fn household_of(&self, levels: &Levels) -> Option<&HouseholdModel> {
        self.household.as_ref().filter(|_| in_household(levels))
    }

    /// Whether a pair is scored by the household context's model.
    pub fn in_household_context(&self, levels: &Levels) -> bool {
        self.household_of(levels).is_some()
    }

    /// The prior a pair is scored with: the household context's inside it.
    pub fn prior_for(&self, levels: &Levels) -> f64 {
        self.household_of(levels)
            .map_or_else(|| self.prior(), |h| h.prior_of(levels))
    }

    /// A field's weight in a comparison (and the frequency it was adjusted
    /// by): nothing for a field implied by another ([`implied`]).
    fn weight_in(
        &self,
        field: CompareField,
        comparison: &Comparison,
        a: &crate::Prepared,
        b: &crate::Prepared,
        freqs: &Frequencies,
    ) -> (f64, Option<f64>) {
        let household = self.household_of(&comparison.levels);
        if let Some(household) = household
            && PERSON_FIELDS.contains(&field)
        {
            return (household.weight_of(field, &comparison.levels), None);
        }
        if implied(field, &comparison.levels) {
            return (0.0, None);
        }
        let level = comparison.levels.get(field);
        let tf = if self.term_frequency_off & (1 << field as u16) != 0 {
            None
        } else {
            tf_share(field, level, comparison, a, b, freqs)
        };
        let (weight, tf) = self.field_weight(field, level, tf);
        if household.is_some() {
            // In the household context, what a household shares (its
            // surname, phone, address, place) says nothing more; what the two
            // do not share still counts against one person: two records with
            // one surname and one street but two phones are two members far
            // more often than one person.
            return (weight.min(0.0), None);
        }
        (weight, tf)
    }

    pub fn prior(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// Every field's level and weight, for explanations.
    pub fn weights(
        &self,
        comparison: &Comparison,
        a: &crate::Prepared,
        b: &crate::Prepared,
        freqs: &Frequencies,
    ) -> Vec<FieldWeight> {
        CompareField::ALL
            .iter()
            .map(|&field| {
                let level = comparison.levels.get(field);
                let (weight, term_frequency) = self.weight_in(field, comparison, a, b, freqs);
                FieldWeight {
                    field,
                    level: field.level_names()[usize::from(level)],
                    weight,
                    term_frequency,
                }
            })
            .collect()
    }
}

/// A value's share of the records, smoothed towards the field's average
/// agreement: with few records, frequencies say little and the base
/// weight holds.
fn smoothed_share(count: f64, records: f64, average: f64) -> f64 {
    (count + TF_PSEUDO_RECORDS * average) / (records + TF_PSEUDO_RECORDS)
}

/// Whether a field's agreement is implied by another's and so not counted
/// again:
/// - an address that agrees ("same" or "similar") is in the same locality,
///   so a locality that agrees too adds nothing (counted, it added about
///   3.5 bits to every household pair sharing an address; measured at 1M:
///   precision 0.9908 → 0.9926 at the same link threshold);
/// - an address that only overlaps (one shared word, mostly the commune or
///   the quarter: "Cocody II Plateaux" and "Cocody Riviera") says little
///   more than a locality that agrees, so it adds nothing then (1M
///   precision 0.9906 → 0.9914, recall 0.9534 → 0.9531).
fn implied(field: CompareField, levels: &Levels) -> bool {
    let locality_agrees = matches!(levels.get(CompareField::Locality), 1 | 2);
    let address = levels.get(CompareField::Address);
    match field {
        CompareField::Locality => locality_agrees && matches!(address, 1 | 2),
        CompareField::Address => locality_agrees && address == 3,
        _ => false,
    }
}

fn tf_share(
    field: CompareField,
    level: u8,
    comparison: &Comparison,
    a: &crate::Prepared,
    b: &crate::Prepared,
    freqs: &Frequencies,
) -> Option<(f64, f64)> {
    if field.is_close_name_level(level) {
        // Two names that are close: a typo of the more common of them is
        // the cautious reading.
        let count = |p: &crate::Prepared, first: bool| {
            let (surname, given) = aligned_names(p, comparison.alignment, first);
            match field {
                CompareField::Surname => freqs.surname.get(&*surname).copied(),
                _ => freqs.given.get(&*given).copied(),
            }
        };
        return count(a, true)
            .max(count(b, false))
            .map(|c| freqs.share(Some(c)));
    }
    if level != 1 {
        return None;
    }
    // A value the counts do not hold (a split that no record was written
    // with) weighs as the field's average, not as a rare value.
    match field {
        CompareField::Surname | CompareField::GivenName => {
            // Each record's names as the comparison aligned them, and the
            // more common reading of the two: a pair matched crosswise or
            // through a re-split full name holds the shared name in the
            // other field of one of its records ("Aissata Diarra" written
            // as one full name meets "Jara Aïchata": counted only as a
            // surname, "aissata" was unknown and weighed as a rare name).
            let share = |p: &crate::Prepared, first: bool| {
                let (surname, given) = aligned_names(p, comparison.alignment, first);
                name_share(field, comparison, &surname, &given, freqs)
            };
            let (x, y) = (share(a, true), share(b, false));
            match (x, y) {
                (Some(x), Some(y)) => Some(if x.0 / x.1 >= y.0 / y.1 { x } else { y }),
                (x, y) => x.or(y),
            }
        }
        CompareField::Phone => comparison
            .shared_phone
            // By its holders, not its records: one person's ten records
            // with one phone make it no less theirs (measured: 1M recall
            // 0.9531 → 0.9534 at the same precision).
            .map(|p| freqs.share(freqs.phone_holders.get(&p).copied())),
        CompareField::NationalId => a
            .national_id
            .as_deref()
            .and_then(|id| freqs.national_id.get(&text_key(id)))
            .map(|&c| freqs.share(Some(c))),
        // With several addresses, the most common one (the cautious choice).
        CompareField::Email => a
            .emails
            .iter()
            .filter_map(|e| freqs.email.get(&text_key(e)).copied())
            .max()
            .map(|c| freqs.share(Some(c))),
        // By its holders, like phones.
        CompareField::DateOfBirth => date_key(&a.dob)
            .and_then(|d| freqs.dob_holders.get(&d))
            .map(|&c| freqs.share(Some(c))),
        _ => None,
    }
}

/// How common one record's shared name is (exact level): a surname among
/// all records, a given name among the holders of the shared surname.
fn name_share(
    field: CompareField,
    comparison: &Comparison,
    surname: &str,
    given: &str,
    freqs: &Frequencies,
) -> Option<(f64, f64)> {
    // Matched crosswise or through a re-split, a name's field is a guess
    // ("KABORE ADJARATOU" with the given name first): it is counted in
    // both fields and the more common count holds.
    let either = comparison.alignment != crate::NameAlignment::AsWritten;
    let count = |own: &FxHashMap<Box<str>, u32>, other: &FxHashMap<Box<str>, u32>, v: &str| {
        let c = own.get(v).copied();
        if either {
            c.max(other.get(v).copied())
        } else {
            c
        }
    };
    let given_share = || count(&freqs.given, &freqs.surname, given).map(|c| freqs.share(Some(c)));
    match field {
        CompareField::Surname => {
            count(&freqs.surname, &freqs.given, surname).map(|c| freqs.share(Some(c)))
        }
        // Given the shared surname, how common is this given name with it.
        CompareField::GivenName if comparison.levels.get(CompareField::Surname) == 1 => {
            let with_surname = freqs.full_name.get(&full_name_key(surname, given));
            match (with_surname, freqs.surname.get(surname)) {
                (Some(&both), Some(&holders)) if !either => {
                    Some((f64::from(both.max(1)), f64::from(holders.max(both).max(1))))
                }
                (Some(&both), Some(&holders)) => {
                    let within = (f64::from(both.max(1)), f64::from(holders.max(both).max(1)));
                    // The more common of the two readings.
                    Some(match given_share() {
                        Some(g) if g.0 / g.1 > within.0 / within.1 => g,
                        _ => within,
                    })
                }
                _ => given_share(),
            }
        }
        _ => given_share(),
    }
}

/// The surname and given name of a record of a compared pair (`first`: the
/// pair's first record) as the comparison aligned them: with crossed
/// names, the first record's given name is its surname and vice versa;
/// with a record's full name split again, its surname is one of its words.
fn aligned_names(
    p: &crate::Prepared,
    alignment: NameAlignment,
    first: bool,
) -> (Cow<'_, str>, Cow<'_, str>) {
    let resplit = match alignment {
        NameAlignment::Crossed if first => {
            return (
                Cow::Borrowed(&p.given_joined),
                Cow::Borrowed(&p.surname_joined),
            );
        }
        NameAlignment::FirstResplit(k) if first => k,
        NameAlignment::SecondResplit(k) if !first => k,
        _ => {
            return (
                Cow::Borrowed(&p.surname_joined),
                Cow::Borrowed(&p.given_joined),
            );
        }
    };
    let words: Vec<&str> = p.given.iter().chain(&p.surname).map(|t| &*t.text).collect();
    let k = usize::from(resplit).min(words.len().saturating_sub(1));
    let given: String = words
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != k)
        .map(|(_, w)| *w)
        .collect();
    (
        Cow::Borrowed(words.get(k).copied().unwrap_or("")),
        Cow::Owned(given),
    )
}

fn normalise(levels: &mut [f64]) {
    normalise_with_floor(levels, PROBABILITY_FLOOR);
}

/// Smallest m a level may get: a single field that disagrees (a sex or a
/// postcode typed wrong) costs at most about 8 bits, it cannot sink a pair
/// on its own. Proof of two people is the cannot-link rules' job.
const M_FLOOR: f64 = 0.002;

fn normalise_with_floor(levels: &mut [f64], floor: f64) {
    let sum: f64 = levels.iter().skip(1).sum();
    if sum > 0.0 {
        for l in levels.iter_mut().skip(1) {
            *l = (*l / sum).max(floor);
        }
    }
}

/// Counts identical comparison vectors.
pub fn count_patterns(levels: impl Iterator<Item = Levels>) -> Vec<(Levels, u64)> {
    let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
    for l in levels {
        *counts.entry(l.pack()).or_default() += 1;
    }
    let mut patterns: Vec<(Levels, u64)> = counts
        .into_iter()
        .map(|(packed, c)| (Levels::unpack(packed), c))
        .collect();
    patterns.sort_unstable_by_key(|&(l, _)| l.pack());
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arbitrary_model() -> impl Strategy<Value = FsModel> {
        let tables = || {
            CompareField::ALL
                .iter()
                .map(|f| proptest::collection::vec(0.001f64..1.0, f.level_count()))
                .collect::<Vec<_>>()
        };
        (1e-6f64..0.5, tables(), tables()).prop_map(|(lambda, mut m, mut u)| {
            m.iter_mut().for_each(|l| normalise(l));
            u.iter_mut().for_each(|l| normalise(l));
            FsModel {
                lambda,
                m,
                u,
                matches_per_record: 0.0,
                em_iterations: 0,
                em_converged: true,
                household: None,
                settings: String::new(),
                term_frequency_off: 0,
                labels: [0, 0],
            }
        })
    }

    fn arbitrary_levels() -> impl Strategy<Value = Levels> {
        CompareField::ALL
            .map(|f| 0u8..f.level_count() as u8)
            .prop_map(Levels)
    }

    proptest! {
        /// The summed log weights give the same match probability as the
        /// textbook product formula λ·Πm / (λ·Πm + (1-λ)·Πu).
        #[test]
        fn score_matches_the_naive_product(model in arbitrary_model(), levels in arbitrary_levels()) {
            let (mut pm, mut pu) = (model.lambda, 1.0 - model.lambda);
            for (f, &l) in levels.0.iter().enumerate() {
                if l > 0 {
                    pm *= model.m[f][usize::from(l)];
                    pu *= model.u[f][usize::from(l)];
                }
            }
            let naive = pm / (pm + pu);
            let log_odds = model.prior()
                + CompareField::ALL
                    .iter()
                    .map(|&f| model.field_weight(f, levels.get(f), None).0)
                    .sum::<f64>();
            let ours = Score { log_odds, prior: model.prior() }.probability();
            prop_assert!((naive - ours).abs() < 1e-9, "naive {naive} ours {ours}");
        }

        /// A rarer shared value never weighs less than a more common one.
        #[test]
        fn term_frequency_is_monotone(model in arbitrary_model(), a in 1u32..100_000, b in 1u32..100_000) {
            let (rare, common) = if a <= b { (a, b) } else { (b, a) };
            for field in [CompareField::Surname, CompareField::GivenName, CompareField::Phone] {
                let w_rare = model.field_weight(field, 1, Some((f64::from(rare), 1e6))).0;
                let w_common = model.field_weight(field, 1, Some((f64::from(common), 1e6))).0;
                prop_assert!(w_rare >= w_common);
            }
            // Close and fuzzy names too, within their bounds.
            for field in [CompareField::Surname, CompareField::GivenName] {
                for level in [2, 3] {
                    let base = model.field_weight(field, level, None).0;
                    let w_rare = model.field_weight(field, level, Some((f64::from(rare), 1e6))).0;
                    let w_common = model.field_weight(field, level, Some((f64::from(common), 1e6))).0;
                    prop_assert!(w_rare >= w_common);
                    prop_assert!(w_common >= base - CLOSE_NAME_TF_PENALTY - 1e-9);
                    prop_assert!(w_rare <= base + CLOSE_NAME_TF_BONUS + 1e-9);
                }
            }
        }
    }

    #[test]
    fn a_shared_email_weighs_more_as_the_data_grows() {
        // u(agree) as the random-pair sample estimates it at any size.
        let u: Vec<Vec<f64>> = CompareField::ALL
            .iter()
            .map(|f| {
                let n = f.level_count();
                let mut levels = vec![0.0; n];
                levels[1] = 0.0003;
                for l in levels.iter_mut().skip(2) {
                    *l = (1.0 - 0.0003) / (n - 2) as f64;
                }
                levels
            })
            .collect();
        let model = FsModel::initial(u);
        let email = CompareField::Email;
        let (base, _) = model.field_weight(email, 1, None);
        let (thousand, _) = model.field_weight(email, 1, Some((2.0, 1_000.0)));
        let (million, tf) = model.field_weight(email, 1, Some((2.0, 1_000_000.0)));
        assert!(tf.is_some());
        assert!(million > thousand + 3.0, "{million} vs {thousand}");
        assert!(million > base + 3.0, "{million} vs {base}");
    }

    /// An agreeing address implies the locality: the locality's agreement
    /// is not counted again (households share both), its disagreement is.
    #[test]
    fn locality_is_not_counted_again_when_the_address_agrees() {
        let levels = |address: u8, locality: u8| {
            let mut l = [0u8; crate::compare::FIELD_COUNT];
            l[CompareField::Address as usize] = address;
            l[CompareField::Locality as usize] = locality;
            Levels(l)
        };
        for address in [1, 2] {
            for locality in [1, 2] {
                assert!(implied(CompareField::Locality, &levels(address, locality)));
            }
            assert!(!implied(CompareField::Locality, &levels(address, 3)));
            assert!(!implied(CompareField::Address, &levels(address, 1)));
        }
        for address in [0, 3, 4] {
            assert!(!implied(CompareField::Locality, &levels(address, 1)));
        }
        // One shared address word says no more than the locality.
        for locality in [1, 2] {
            assert!(implied(CompareField::Address, &levels(3, locality)));
        }
        for locality in [0, 3] {
            assert!(!implied(CompareField::Address, &levels(3, locality)));
        }
        assert!(!implied(CompareField::Address, &levels(4, 1)));
    }

    #[test]
    fn missing_values_are_neutral() {
        let model = FsModel::initial(FsModel::estimate_u(std::iter::empty()));
        for field in CompareField::ALL {
            assert_eq!(model.field_weight(field, 0, None).0, 0.0);
        }
    }

    /// EM in sessions recovers m from unlabelled pairs drawn from a known model.
    #[test]
    fn training_recovers_a_known_model() {
        use rand::{Rng, SeedableRng};
        let truth_m: Vec<Vec<f64>> = CompareField::ALL
            .iter()
            .map(|f| {
                let mut v = vec![0.0; f.level_count()];
                v[1] = 0.85;
                for l in v.iter_mut().skip(2) {
                    *l = 0.15 / (f.level_count() - 2) as f64;
                }
                v
            })
            .collect();
        let truth_u: Vec<Vec<f64>> = CompareField::ALL
            .iter()
            .map(|f| {
                let mut v = vec![0.0; f.level_count()];
                v[1] = 0.02;
                for l in v.iter_mut().skip(2) {
                    *l = 0.98 / (f.level_count() - 2) as f64;
                }
                v
            })
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut draw = |table: &Vec<Vec<f64>>| {
            let mut levels = [0u8; crate::compare::FIELD_COUNT];
            for (f, probs) in table.iter().enumerate() {
                let x: f64 = rng.random();
                let mut acc = 0.0;
                levels[f] = (probs.len() - 1) as u8;
                for (l, p) in probs.iter().enumerate().skip(1) {
                    acc += p;
                    if x < acc {
                        levels[f] = l as u8;
                        break;
                    }
                }
            }
            Levels(levels)
        };
        let pairs: Vec<Levels> = (0..20_000)
            .map(|i| {
                if i % 5 == 0 {
                    draw(&truth_m)
                } else {
                    draw(&truth_u)
                }
            })
            .collect();
        let mut model = FsModel::initial(truth_u.clone());
        model.train(&count_patterns(pairs.into_iter()), 1_000, 100);
        for field in [
            CompareField::Phone,
            CompareField::Email,
            CompareField::Address,
        ] {
            let f = field as usize;
            assert!(
                (model.m[f][1] - 0.85).abs() < 0.05,
                "{field:?}: m(agree) = {}",
                model.m[f][1]
            );
        }
    }
}

#[cfg(test)]
mod holder_tests {
    use c360_core::Record;
    use c360_standardise::names::NameVariants;

    use super::Frequencies;
    use crate::Preparer;

    fn record(given: &str, surname: &str, phone: &str) -> crate::Prepared {
        let preparer = Preparer::new("CI", NameVariants::builtin()).unwrap();
        preparer.prepare(&Record {
            given_name: given.to_string(),
            surname: surname.to_string(),
            phones: vec![phone.to_string()],
            ..Record::default()
        })
    }

    #[test]
    fn one_persons_records_are_one_holder_of_their_phone() {
        let mut freqs = Frequencies::default();
        // Twenty records of one person, names swapped in some of them.
        for i in 0..20 {
            let r = if i % 3 == 0 {
                record("Kouassi", "Serge", "0708292982")
            } else {
                record("Serge", "Kouassi", "0708292982")
            };
            freqs.add(&r);
        }
        // An agent's phone typed into the records of thirty clients.
        let given = ["Awa", "Fatou", "Mamadou", "Adama", "Aya", "Ibrahim"];
        let surnames = ["Traore", "Kone", "Diallo", "Ouattara", "Bamba"];
        let agent: Vec<_> = (0..30)
            .map(|i| record(given[i % 6], surnames[i % 5], "0102030405"))
            .collect();
        agent.iter().for_each(|r| freqs.add(r));
        let own = record("Serge", "Kouassi", "0708292982").phones[0];
        let shop = agent[0].phones[0];
        assert_eq!(freqs.phone[&own], 20);
        assert_eq!(freqs.phone_holders[&own], 1);
        assert_eq!(freqs.phone_holders[&shop], 30);
        // Updates and erasures keep the holders right.
        agent.iter().take(29).for_each(|r| freqs.remove(r));
        assert_eq!(freqs.phone_holders[&shop], 1);
        freqs.remove(&agent[29]);
        assert_eq!(freqs.phone_holders[&shop], 0);
    }

    /// Counting on every core (chunks merged) gives the counts of adding
    /// one by one, holders included: a holder seen in two chunks is one.
    #[test]
    fn counts_built_in_parallel_equal_counts_built_one_by_one() {
        let given = [
            "Awa", "Fatou", "Mamadou", "Adama", "Aya", "Ibrahim", "Serge",
        ];
        let surnames = ["Traore", "Kone", "Diallo", "Ouattara", "Bamba", "Kouassi"];
        let phones = ["0708292982", "0102030405", "0505050505", "0707070707"];
        // More than one chunk of 16,384, the same holders across chunks.
        let records: Vec<_> = (0..40_000usize)
            .map(|i| {
                record(
                    given[i % given.len()],
                    surnames[i / given.len() % surnames.len()],
                    phones[i / 42 % phones.len()],
                )
            })
            .collect();
        let mut one_by_one = Frequencies::default();
        records.iter().for_each(|r| one_by_one.add(r));
        let parallel = Frequencies::of_records(&records);
        assert_eq!(parallel.records, 40_000);
        assert!(one_by_one.phone_holders.values().all(|&h| h == 42));
        assert!(parallel == one_by_one, "{parallel:?} != {one_by_one:?}");
        let (head, tail) = records.split_at(12_345);
        let merged = Frequencies::of_records(tail).merged(Frequencies::of_records(head));
        assert!(merged == one_by_one);
    }

    #[test]
    fn a_given_name_weighs_by_its_frequency_within_the_surname() {
        use crate::compare::{CompareField, Comparison, Levels};
        let mut freqs = Frequencies::default();
        // "Serge" is half the Gnahoré, one in a hundred of the Traoré.
        for i in 0..20 {
            let given = if i % 2 == 0 { "Serge" } else { "Awa" };
            freqs.add(&record(given, "Gnahore", "0708000000"));
        }
        freqs.add(&record("Serge", "Traore", "0708000001"));
        for _ in 0..99 {
            freqs.add(&record("Mamadou", "Traore", "0708000002"));
        }
        let mut levels = [0u8; crate::compare::FIELD_COUNT];
        levels[CompareField::Surname as usize] = 1;
        levels[CompareField::GivenName as usize] = 1;
        let both = Comparison {
            levels: Levels(levels),
            ..Comparison::default()
        };
        let share = |a: &crate::Prepared, c: &Comparison| {
            super::tf_share(CompareField::GivenName, 1, c, a, a, &freqs).unwrap()
        };
        assert_eq!(share(&record("Serge", "Gnahore", ""), &both), (10.0, 20.0));
        assert_eq!(share(&record("Serge", "Traore", ""), &both), (1.0, 100.0));
        // Without the surname in common, the given name's overall share.
        levels[CompareField::Surname as usize] = 2;
        let given_only = Comparison {
            levels: Levels(levels),
            ..Comparison::default()
        };
        assert_eq!(
            share(&record("Serge", "Gnahore", ""), &given_only),
            (11.0, 120.0)
        );
    }

    /// A name matched crosswise ("KABORE ADJARATOU" written given name
    /// first) weighs by the more common reading of the shared value, in
    /// either record and either field: "adjaratou" written once as a
    /// surname is a common given name, not a rare surname.
    #[test]
    fn a_crossed_name_weighs_by_its_more_common_reading() {
        use crate::compare::{CompareField, Comparison, Levels, NameAlignment};
        let mut freqs = Frequencies::default();
        for i in 0..50 {
            freqs.add(&record("Adjaratou", &format!("Surname{i}"), ""));
        }
        for i in 0..50 {
            freqs.add(&record(&format!("Given{i}"), "Kabore", ""));
        }
        freqs.add(&record("Kabore", "Adjaratou", ""));
        let mut levels = [0u8; crate::compare::FIELD_COUNT];
        levels[CompareField::Surname as usize] = 1;
        levels[CompareField::GivenName as usize] = 1;
        let crossed = Comparison {
            levels: Levels(levels),
            alignment: NameAlignment::Crossed,
            swapped: true,
            ..Comparison::default()
        };
        let (swapped, written) = (
            record("Kabore", "Adjaratou", ""),
            record("Adjaratou", "Kabore", ""),
        );
        for (a, b) in [(&swapped, &written), (&written, &swapped)] {
            let surname =
                super::tf_share(CompareField::Surname, 1, &crossed, a, b, &freqs).unwrap();
            // The shared value, counted in both fields: 50 of 101 records.
            assert_eq!(surname, (50.0, 101.0));
        }
        let as_written = Comparison {
            levels: Levels(levels),
            ..Comparison::default()
        };
        // As written, a surname is counted among surnames only.
        let own = super::tf_share(
            CompareField::Surname,
            1,
            &as_written,
            &swapped,
            &swapped,
            &freqs,
        );
        assert_eq!(own, Some((1.0, 101.0)));
    }

    /// A close given name weighs by the more common of the two names, the
    /// same whichever record comes first: a typo of "Aminata" says less than
    /// a typo of "Bibata", within bounds.
    #[test]
    fn a_close_name_weighs_by_the_more_common_of_the_two() {
        use crate::compare::{CompareField, Comparison, Levels, compare};
        let mut model = super::FsModel::initial(super::FsModel::estimate_u(std::iter::empty()));
        // Random pairs share a given name once in a hundred.
        model.u[CompareField::GivenName as usize] = vec![0.0, 0.01, 0.02, 0.03, 0.94];
        let mut freqs = Frequencies::default();
        for i in 0..2_000 {
            let given = if i % 4 == 0 { "Aminata" } else { "Awa" };
            freqs.add(&record(given, &format!("Surname{i}"), ""));
        }
        freqs.add(&record("Bibata", "Ouedraogo", ""));
        let counts = rustc_hash::FxHashMap::default();
        let heat = crate::compare::PhoneHeat {
            counts: &counts,
            hot_threshold: 15,
        };
        let given_weight = |x: &crate::Prepared, y: &crate::Prepared| {
            let c = compare(x, y, heat);
            assert_eq!(c.levels.get(CompareField::GivenName), 2);
            let weights = model.weights(&c, x, y, &freqs);
            let w = weights[CompareField::GivenName as usize].clone();
            assert_eq!(
                model.score(&c, x, y, &freqs),
                model.score(&compare(y, x, heat), y, x, &freqs)
            );
            (w.weight, w.term_frequency)
        };
        let (aminata, typo) = (record("Aminata", "Kone", ""), record("Aminta", "Kone", ""));
        let (bibata, bibta) = (record("Bibata", "Kone", ""), record("Bibta", "Kone", ""));
        let (common, common_share) = given_weight(&aminata, &typo);
        assert_eq!(given_weight(&typo, &aminata), (common, common_share));
        let (rare, _) = given_weight(&bibta, &bibata);
        let mut levels = Levels::default();
        levels.0[CompareField::GivenName as usize] = 2;
        let plain = Comparison {
            levels,
            ..Comparison::default()
        };
        let base = model.weights(&plain, &aminata, &typo, &Frequencies::default())
            [CompareField::GivenName as usize]
            .weight;
        assert!(common_share.is_some());
        assert!(common < base && common >= base - super::CLOSE_NAME_TF_PENALTY);
        assert!(rare > base && rare <= base + super::CLOSE_NAME_TF_BONUS);
    }

    /// A locality that agrees with an address that agrees adds nothing to
    /// the score or the explanation; with a different address it counts.
    #[test]
    fn a_shared_address_scores_its_locality_once() {
        use crate::compare::{CompareField, Comparison, Levels};
        let model = super::FsModel::initial(super::FsModel::estimate_u(std::iter::empty()));
        let freqs = Frequencies::default();
        let a = record("Serge", "Gnahore", "");
        let score = |address: u8, locality: u8| {
            let mut levels = [0u8; crate::compare::FIELD_COUNT];
            levels[CompareField::Address as usize] = address;
            levels[CompareField::Locality as usize] = locality;
            let c = Comparison {
                levels: Levels(levels),
                ..Comparison::default()
            };
            let locality_weight = model
                .weights(&c, &a, &a, &freqs)
                .into_iter()
                .find(|w| w.field == CompareField::Locality)
                .map(|w| w.weight);
            (model.score(&c, &a, &a, &freqs).log_odds, locality_weight)
        };
        let (same_address, shown) = score(1, 1);
        assert_eq!(same_address, score(1, 0).0);
        assert_eq!(shown, Some(0.0));
        let (overlap, shown) = score(3, 1);
        assert!(overlap > score(3, 0).0);
        assert!(shown.unwrap() > 0.0);
    }
}
