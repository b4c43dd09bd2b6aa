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
    /// The version of a model stored under an earlier level layout and
    /// read into today's ([`FsModel::into_current_layout`]): its parameters
    /// are the ones it was learned with, so it keeps its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_kept: Option<String>,
    /// The disagreements that veto a link because the data this model was
    /// learned from proved them ([`FsModel::proves`], set by training):
    /// part of the model, so a stored model keeps deciding as it did, and
    /// of its version. Empty for a model stored before it existed.
    #[serde(default, skip_serializing_if = "crate::rules::Proven::is_empty")]
    pub proven: crate::rules::Proven,
}

/// A field's levels in an earlier version, for
/// [`FsModel::into_current_layout`]: a level added since weighs as the
/// level its pairs fell into before it existed.
struct EarlierLayout {
    field: CompareField,
    levels: &'static [&'static str],
    /// Each added level, with the earlier level its pairs fell into.
    added: &'static [(&'static str, &'static str)],
}

const EARLIER_LAYOUTS: &[EarlierLayout] = &[
    EarlierLayout {
        field: CompareField::DateOfBirth,
        levels: &["missing", "exact", "near", "partial", "different"],
        added: &[("within_year", "different")],
    },
    EarlierLayout {
        field: CompareField::Email,
        levels: &["missing", "exact", "different"],
        added: &[("close", "different"), ("fuzzy", "different")],
    },
];

/// One field's row (m or u, by level) from an earlier layout into today's.
fn row_in_current_layout(field: CompareField, row: &[f64]) -> Option<Vec<f64>> {
    let names = field.level_names();
    if row.len() == names.len() {
        return Some(row.to_vec());
    }
    let earlier = EARLIER_LAYOUTS
        .iter()
        .find(|e| e.field == field && e.levels.len() == row.len())?;
    names
        .iter()
        .map(|name| {
            let was = earlier
                .added
                .iter()
                .find(|(new, _)| new == name)
                .map_or(*name, |(_, was)| *was);
            earlier
                .levels
                .iter()
                .position(|o| *o == was)
                .map(|i| row[i])
        })
        .collect()
}

mod frequencies;
mod household;

pub use frequencies::*;
pub use household::*;

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
            version_kept: None,
            proven: crate::rules::Proven::default(),
        }
    }

    /// A model as a service stored it, in today's level layout: a field
    /// whose levels have changed since (a level added) gets its earlier
    /// m and u, a new level those of the level its pairs fell into before,
    /// so every pair scores as it did; the model keeps its version. An
    /// unknown layout is an error naming the field.
    pub fn into_current_layout(mut self) -> Result<Self, String> {
        let version = self.version();
        let mut changed = false;
        let mut upgrade = |rows: &mut Vec<Vec<f64>>| -> Result<(), String> {
            if rows.is_empty() {
                return Ok(());
            }
            for field in CompareField::ALL {
                let row = rows
                    .get_mut(field as usize)
                    .ok_or_else(|| format!("the model has no row for {}", field.name()))?;
                if row.len() != field.level_count() {
                    *row = row_in_current_layout(field, row).ok_or_else(|| {
                        format!(
                            "the model's levels of {} are of no known layout",
                            field.name()
                        )
                    })?;
                    changed = true;
                }
            }
            Ok(())
        };
        upgrade(&mut self.m)?;
        upgrade(&mut self.u)?;
        if let Some(h) = &mut self.household {
            upgrade(&mut h.m)?;
            upgrade(&mut h.u)?;
            upgrade(&mut h.u_address)?;
        }
        if changed && self.version_kept.is_none() {
            self.version_kept = Some(version);
        }
        Ok(self)
    }

    /// The person-level disagreements this model's matches (almost) never
    /// show: m of the field's "different" level at most [`NEAR_PROOF_M`].
    /// Training sets [`FsModel::proven`] from it.
    pub fn proves(&self) -> crate::rules::Proven {
        use crate::compare::level::{DOB_DIFFERENT, GIVEN_DIFFERENT};
        // The levels the vetoes read.
        let never = |field: CompareField, level: u8| {
            self.m
                .get(field as usize)
                .and_then(|levels| levels.get(usize::from(level)))
                .is_some_and(|&m| m <= NEAR_PROOF_M)
        };
        crate::rules::Proven {
            given_name: never(CompareField::GivenName, GIVEN_DIFFERENT),
            birth_date: never(CompareField::DateOfBirth, DOB_DIFFERENT),
        }
    }

    /// A short, stable identifier of the parameters.
    pub fn version(&self) -> String {
        if let Some(kept) = &self.version_kept {
            return kept.clone();
        }
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
        if !self.proven.is_empty() {
            self.proven.hash(&mut h);
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
        // New parameters, a new version.
        self.version_kept = None;
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
            if field.is_softer_disagreement(level) {
                // A softer disagreement that matches never show (birth
                // dates within a year in a source whose dates are typed,
                // never estimated) is a disagreement like the field's
                // last level: its rarity among random pairs says nothing.
                let last = self.m[f].len() - 1;
                (self.m[f][last].max(PROBABILITY_FLOOR) / self.u[f][last].max(PROBABILITY_FLOOR))
                    .log2()
                    .min((m / u).log2())
                    .min(0.0)
            } else {
                (m / u).log2().min(0.0)
            }
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
            .map(|p| freqs.share(freqs.phone_holders.get(&p))),
        CompareField::NationalId => a
            .national_id
            .as_deref()
            .and_then(|id| freqs.national_id.get(&text_key(id)))
            .map(|&c| freqs.share(Some(c))),
        // By its holders, like phones; of several shared addresses, the
        // most common one (the cautious choice).
        CompareField::Email => a
            .emails
            .iter()
            .filter(|e| b.emails.binary_search(e).is_ok())
            .filter_map(|e| freqs.email_holders.get(&text_key(e)))
            .max()
            .map(|c| freqs.share(Some(c))),
        // By its holders, like phones.
        CompareField::DateOfBirth => date_key(&a.dob)
            .and_then(|d| freqs.dob_holders.get(&d))
            .map(|c| freqs.share(Some(c))),
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

/// Largest m of a person-level field's "different" level that makes it
/// near proof of two people ([`FsModel::proves`]): one match in 200. On
/// generated microfinance data EM finds 0.002 to 0.003 (birth dates and
/// given names are typed with typos, never replaced); on FEBRL, fake1000
/// and hist50k 0.02 to 0.28.
const NEAR_PROOF_M: f64 = 0.005;

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
mod tests;

#[cfg(test)]
mod holder_tests;
