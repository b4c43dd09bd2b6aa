//! The batch pipeline: prepare, block, learn the model, score, cluster.

use std::time::{Duration, Instant};

use c360_core::Record;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::blocking::{BlockingConfig, BlockingStats, candidate_pairs, unpack_pair};
use crate::cluster::{ClusterResult, Conflict, Edge, cluster};
use crate::compare::{CompareField, Comparison, Levels, PhoneHeat, compare, compare_unless};
use crate::labels::Label;
use crate::model::{FieldWeight, Frequencies, FsModel};
use crate::prepare::{Prepared, Preparer};
use crate::rules::{Veto, veto};
use crate::{Error, MatchConfig};

/// Prepared records plus everything derived from the whole set that scoring
/// needs (frequencies, hot phones) and the learned model.
#[derive(Debug)]
pub struct Matcher {
    pub config: MatchConfig,
    /// The prior never assumes fewer records than this (a new installation
    /// holds few records, but its clients are drawn from a large population).
    pub population_floor: u64,
    pub records: Vec<Prepared>,
    pub freqs: Frequencies,
    pub model: FsModel,
}

/// Why a pair scored what it did.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub fields: Vec<FieldWeight>,
    pub prior: f64,
    pub log_odds: f64,
    pub probability: f64,
    /// Given name and surname matched crosswise.
    pub names_swapped: bool,
    /// A cannot-link rule that fired, if any.
    pub veto: Option<Veto>,
    pub decision: PairDecision,
    pub model_version: String,
    /// Scored in the household context (same surname and a shared phone or
    /// address): the shared fields weigh nothing, the prior is the context's.
    pub household: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairDecision {
    Link,
    Review,
    Distinct,
}

/// A scored pair.
#[derive(Clone, Copy, Debug)]
pub struct PairScore {
    pub comparison: Comparison,
    pub log_odds: f64,
    /// The prior in `log_odds` (the model's, or the household context's):
    /// `log_odds - prior` is the pair's evidence.
    pub prior: f64,
    pub veto: Option<Veto>,
}

impl Matcher {
    /// An empty matcher for incremental use (records are pushed one by one).
    pub fn new(config: MatchConfig, model: FsModel) -> Self {
        Matcher {
            config,
            population_floor: 0,
            records: Vec::new(),
            freqs: Frequencies::default(),
            model,
        }
    }

    /// Adds a record; returns its index.
    pub fn push(&mut self, record: Prepared) -> u32 {
        self.freqs.add(&record);
        self.records.push(record);
        self.model
            .set_population(self.freqs.records.max(self.population_floor));
        (self.records.len() - 1) as u32
    }

    /// Adds many records at once (a restart), counting them on every core.
    pub fn extend(&mut self, records: Vec<Prepared>) {
        let added = Frequencies::of_records(&records);
        self.freqs = std::mem::take(&mut self.freqs).merged(added);
        self.records.extend(records);
        self.model
            .set_population(self.freqs.records.max(self.population_floor));
    }

    /// Replaces a record (an update from its source).
    pub fn replace(&mut self, index: u32, record: Prepared) {
        let slot = &mut self.records[index as usize];
        self.freqs.remove(slot);
        self.freqs.add(&record);
        *slot = record;
    }

    /// Blocking keys of a record under the current phone counts.
    pub fn keys(&self, record: &Prepared) -> Vec<u64> {
        let mut keys = Vec::with_capacity(12);
        crate::blocking::record_keys(record, self.heat(), &self.config.blocking, &mut keys);
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    pub fn heat(&self) -> PhoneHeat<'_> {
        PhoneHeat {
            counts: self.freqs.phone_holders.counts(),
            hot_threshold: self.config.hot_phone_holders,
        }
    }

    pub fn score_pair(&self, a: u32, b: u32) -> PairScore {
        let (pa, pb) = (&self.records[a as usize], &self.records[b as usize]);
        self.score_prepared(pa, pb)
    }

    /// [`Matcher::screen_prepared`] of two records by index.
    pub fn screen_pair(&self, a: u32, b: u32) -> PairScore {
        self.screen_prepared(&self.records[a as usize], &self.records[b as usize])
    }

    pub fn score_prepared(&self, pa: &Prepared, pb: &Prepared) -> PairScore {
        let comparison = compare(pa, pb, self.heat()).masked(&self.config.fields);
        let score = self.model.score(&comparison, pa, pb, &self.freqs);
        PairScore {
            comparison,
            log_odds: score.log_odds,
            prior: score.prior,
            veto: veto(&comparison.levels, &self.config.rules, self.model.proven),
        }
    }

    /// Like [`Matcher::score_prepared`], but a pair that a cannot-link rule
    /// vetoes stops at the person-level fields (names, birth date, ID,
    /// e-mail): its other levels stay 0 and its log-odds is -inf. For
    /// deciding, where a vetoed pair's score is never used; not for
    /// explaining.
    pub fn screen_prepared(&self, pa: &Prepared, pb: &Prepared) -> PairScore {
        match compare_unless(pa, pb, self.heat(), |l| {
            crate::rules::veto(l, &self.config.rules, self.model.proven)
        }) {
            Ok(comparison) => {
                let comparison = comparison.masked(&self.config.fields);
                let score = self.model.score(&comparison, pa, pb, &self.freqs);
                PairScore {
                    log_odds: score.log_odds,
                    prior: score.prior,
                    comparison,
                    veto: None,
                }
            }
            Err(veto) => PairScore {
                comparison: Comparison::default(),
                log_odds: f64::NEG_INFINITY,
                prior: self.model.prior(),
                veto: Some(veto),
            },
        }
    }

    pub fn decide(&self, score: &PairScore) -> PairDecision {
        let probability = 1.0 / (1.0 + (-score.log_odds).exp2());
        if score.veto.is_some() || probability < self.config.review_threshold {
            PairDecision::Distinct
        } else if probability >= self.config.link_threshold {
            PairDecision::Link
        } else {
            PairDecision::Review
        }
    }

    pub fn explain_prepared(&self, pa: &Prepared, pb: &Prepared) -> Explanation {
        let score = self.score_prepared(pa, pb);
        Explanation {
            fields: self.model.weights(&score.comparison, pa, pb, &self.freqs),
            prior: score.prior,
            log_odds: score.log_odds,
            probability: 1.0 / (1.0 + (-score.log_odds).exp2()),
            names_swapped: score.comparison.swapped,
            veto: score.veto,
            decision: self.decide(&score),
            model_version: self.model.version(),
            household: self.model.in_household_context(&score.comparison.levels),
        }
    }

    pub fn explain(&self, a: u32, b: u32) -> Explanation {
        self.explain_prepared(&self.records[a as usize], &self.records[b as usize])
    }

    /// Whether two records must not share a cluster.
    pub fn conflicts(&self, a: u32, b: u32) -> bool {
        self.conflict(a, b) != Conflict::None
    }

    /// How strongly two records say they are two people (batch clustering).
    pub fn conflict(&self, a: u32, b: u32) -> Conflict {
        let (pa, pb) = (&self.records[a as usize], &self.records[b as usize]);
        let score = self.screen_prepared(pa, pb);
        match score.veto {
            Some(v) if v.is_hard() => Conflict::Hard,
            _ if self.is_conflict(&score) => Conflict::Soft,
            _ => Conflict::None,
        }
    }

    /// Whether a scored pair is proof of two people: a cannot-link rule
    /// fired, or the evidence alone (the score without the prior) is below
    /// `conflict_evidence`.
    pub fn is_conflict(&self, score: &PairScore) -> bool {
        score.veto.is_some() || score.log_odds - score.prior < self.config.conflict_evidence
    }
}

/// Timings and counts of a batch run.
#[derive(Clone, Debug, Default)]
pub struct DedupeStats {
    pub records: usize,
    pub clients: usize,
    pub duplicate_groups: usize,
    pub largest_cluster: usize,
    pub blocking: BlockingStats,
    pub linked_pairs: usize,
    pub review_pairs: usize,
    pub vetoed_pairs: usize,
    /// Candidate pairs the model learned from (all, or an even sample).
    pub training_pairs: usize,
    pub merges_refused_conflict: usize,
    pub merges_refused_size: usize,
    pub em_iterations: u32,
    pub em_converged: bool,
    pub model_version: String,
    pub prepare_time: Duration,
    pub blocking_time: Duration,
    pub training_time: Duration,
    pub scoring_time: Duration,
    pub clustering_time: Duration,
}

#[derive(Debug)]
pub struct DedupeOutcome {
    /// Cluster index of each input record.
    pub assignment: Vec<u32>,
    pub stats: DedupeStats,
    pub matcher: Matcher,
}

/// The score a pair labelled "one person" is linked with (above any
/// evidence, so it is clustered first).
const LABELLED_LOG_ODDS: f64 = 64.0;

/// Deduplicates a batch of records.
pub fn dedupe(records: &[Record], config: &MatchConfig) -> Result<DedupeOutcome, Error> {
    dedupe_labelled(records, config, &[])
}

/// Deduplicates a batch of records taught by steward labels (record
/// indices): the model learns from them ([`FsModel::train_labelled`]), a
/// pair labelled "one person" is linked and one labelled "two people" is
/// never in one cluster.
pub fn dedupe_labelled(
    records: &[Record],
    config: &MatchConfig,
    labels: &[Label],
) -> Result<DedupeOutcome, Error> {
    config.validate()?;
    if let Some(l) = labels
        .iter()
        .find(|l| l.a as usize >= records.len() || l.b as usize >= records.len() || l.a == l.b)
    {
        return Err(Error::Config(format!(
            "label ({}, {}) does not name two records of the batch",
            l.a, l.b
        )));
    }
    let mut stats = DedupeStats {
        records: records.len(),
        ..DedupeStats::default()
    };
    let started = Instant::now();
    let (variants, nicknames) = config.name_tables()?;
    let preparer = Preparer::with_tables(&config.default_country, variants, nicknames)?;
    let prepared: Vec<Prepared> = records.par_iter().map(|r| preparer.prepare(r)).collect();
    // Matched in name order, put back in input order at the end.
    let (order, prepared) = in_name_order(prepared);
    let mut position = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        position[old as usize] = new as u32;
    }
    let labels: Vec<Label> = labels
        .iter()
        .map(|l| Label {
            a: position[l.a as usize],
            b: position[l.b as usize],
            same: l.same,
        })
        .collect();
    let labels = &labels[..];
    let freqs = Frequencies::of_records(&prepared);
    stats.prepare_time = started.elapsed();
    let (model, candidates) = learn(
        &prepared,
        Some(&position),
        &freqs,
        config,
        labels,
        &mut stats,
    );
    let matcher = Matcher {
        config: config.clone(),
        population_floor: 0,
        records: prepared,
        freqs,
        model,
    };

    let started = Instant::now();
    // Every candidate is scored once, on every core, straight into the
    // links: no score is kept (at 1M, 16M kept scores took a gigabyte).
    // Pairs the training pass did not screen stop at a cannot-link rule
    // here.
    let (mut edges, review_pairs, vetoed_here) = candidates
        .par_chunks(16_384)
        .map(|chunk| {
            let mut edges = Vec::new();
            let (mut review, mut vetoed) = (0usize, 0usize);
            for &p in chunk {
                let (a, b) = unpack_pair(p);
                let s = matcher.screen_pair(a, b);
                if s.veto.is_some() {
                    vetoed += 1;
                    continue;
                }
                match matcher.decide(&s) {
                    PairDecision::Link => edges.push(Edge {
                        a,
                        b,
                        log_odds: s.log_odds,
                    }),
                    PairDecision::Review => review += 1,
                    PairDecision::Distinct => {}
                }
            }
            (edges, review, vetoed)
        })
        .reduce(
            || (Vec::new(), 0, 0),
            |(mut ea, ra, va), (mut eb, rb, vb)| {
                ea.append(&mut eb);
                (ea, ra + rb, va + vb)
            },
        );
    drop(candidates);
    stats.review_pairs = review_pairs;
    stats.vetoed_pairs += vetoed_here;
    // A steward's word is final: "one person" links, "two people" never
    // share a cluster.
    let mut different = rustc_hash::FxHashSet::default();
    for label in labels {
        if label.same {
            let (a, b) = label.key();
            edges.push(Edge {
                a,
                b,
                log_odds: LABELLED_LOG_ODDS,
            });
        } else {
            different.insert(label.key());
        }
    }
    stats.linked_pairs = edges.len();
    stats.scoring_time = started.elapsed();

    let started = Instant::now();
    let ClusterResult {
        assignment,
        clusters,
        rejected_by_conflict,
        rejected_by_size,
    } = cluster(
        matcher.records.len(),
        edges,
        config.max_cluster_size,
        config.soft_conflict_share,
        |a, b| {
            let key = if a < b { (a, b) } else { (b, a) };
            if different.contains(&key) {
                Conflict::Hard
            } else {
                matcher.conflict(a, b)
            }
        },
    );
    stats.clusters_from(&assignment, clusters);
    stats.merges_refused_conflict = rejected_by_conflict;
    stats.merges_refused_size = rejected_by_size;
    stats.clustering_time = started.elapsed();
    let mut matcher = matcher;
    let records = std::mem::take(&mut matcher.records);
    let (assignment, records) = in_input_order(&order, &assignment, records);
    matcher.records = records;
    Ok(DedupeOutcome {
        assignment,
        stats,
        matcher,
    })
}

/// The records sorted by their first surname and given-name keys and birth
/// year, and where each came from: the records a blocking key brings
/// together are then mostly neighbours in memory, so scoring a candidate
/// pair reads what is already cached (in input order, at 1M records, the
/// second record of almost every pair was a cache miss).
fn in_name_order(prepared: Vec<Prepared>) -> (Vec<u32>, Vec<Prepared>) {
    fn key(p: &Prepared) -> (&str, &str, Option<u16>) {
        (
            p.surname.first().map_or("", |t| &*t.key),
            p.given.first().map_or("", |t| &*t.key),
            p.dob.year,
        )
    }
    let mut indexed: Vec<(u32, Prepared)> = (0u32..).zip(prepared).collect();
    indexed.par_sort_unstable_by(|(i, a), (j, b)| key(a).cmp(&key(b)).then(i.cmp(j)));
    indexed.into_iter().unzip()
}

/// The clusters and records back in input order, clusters numbered in
/// order of their first record.
fn in_input_order(
    order: &[u32],
    assignment: &[u32],
    records: Vec<Prepared>,
) -> (Vec<u32>, Vec<Prepared>) {
    let mut clusters = vec![0u32; order.len()];
    for (&old, &cluster) in order.iter().zip(assignment) {
        clusters[old as usize] = cluster;
    }
    let mut back: Vec<(u32, Prepared)> = order.iter().copied().zip(records).collect();
    back.par_sort_unstable_by_key(|&(i, _)| i);
    let (assignment, _) = crate::cluster::numbered_by_first_record(&clusters);
    (assignment, back.into_iter().map(|(_, p)| p).collect())
}

/// The model learned from prepared records and steward labels, as a batch
/// run learns it: the resolver's re-training.
pub fn learn_model(prepared: &[Prepared], config: &MatchConfig, labels: &[Label]) -> FsModel {
    let freqs = Frequencies::of_records(prepared);
    learn(
        prepared,
        None,
        &freqs,
        config,
        labels,
        &mut DedupeStats::default(),
    )
    .0
}

/// Blocks, compares and trains: the model and the candidate pairs to score
/// (packed, [`unpack_pair`]; without those the training pass already found
/// vetoed, when it compared them all).
fn learn(
    prepared: &[Prepared],
    position: Option<&[u32]>,
    freqs: &Frequencies,
    config: &MatchConfig,
    labels: &[Label],
    stats: &mut DedupeStats,
) -> (FsModel, Vec<u64>) {
    let started = Instant::now();
    let heat = PhoneHeat {
        counts: freqs.phone_holders.counts(),
        hot_threshold: config.hot_phone_holders,
    };
    let (pairs, blocking) = candidate_pairs(prepared, heat, BlockingConfig::of(config));
    stats.blocking = blocking;
    stats.blocking_time = started.elapsed();

    let started = Instant::now();
    let u = FsModel::estimate_u(random_pair_levels(prepared, position, heat, config));
    let untrained = || {
        let mut model = FsModel::initial(u.clone());
        model.settings = config.hash();
        model.term_frequency_off = CompareField::ALL
            .iter()
            .filter(|&&f| !config.fields.get(f).term_frequency)
            .fold(0, |bits, &f| bits | (1 << f as u16));
        model
    };
    let mut model = untrained();
    // Above `training_pairs` candidates, every k-th pair is compared and
    // counted k times: the pattern shares EM learns from are the same, the
    // counts keep their scale (the prior and the labels' weight read them).
    let stride = training_stride(pairs.len(), config.training_pairs);
    let sample: Vec<u64>;
    let trained_on: &[u64] = if stride > 1 {
        sample = pairs.iter().step_by(stride).copied().collect();
        &sample
    } else {
        &pairs
    };
    stats.training_pairs = trained_on.len();
    // Vetoed pairs stop at the person-level fields and take no part in
    // training (they are non-matches by rule).
    let rules = config.rules;
    let (pattern_counts, kept, vetoed) = trained_on
        .par_chunks(16_384)
        .map(|chunk| {
            let mut counts: rustc_hash::FxHashMap<u64, u64> = rustc_hash::FxHashMap::default();
            let mut kept = Vec::new();
            let mut vetoed = 0usize;
            for &p in chunk {
                let (a, b) = unpack_pair(p);
                match compare_unless(&prepared[a as usize], &prepared[b as usize], heat, |l| {
                    // What the data proves is not known before it is learned.
                    crate::rules::veto(l, &rules, crate::rules::Proven::default())
                }) {
                    Ok(c) => {
                        let c = c.masked(&config.fields);
                        *counts.entry(c.levels.pack()).or_default() += stride as u64;
                        if stride == 1 {
                            kept.push(p);
                        }
                    }
                    Err(_) => vetoed += 1,
                }
            }
            (counts, kept, vetoed)
        })
        .reduce(
            || (rustc_hash::FxHashMap::default(), Vec::new(), 0),
            |(mut ca, mut ka, va), (cb, mut kb, vb)| {
                for (k, v) in cb {
                    *ca.entry(k).or_default() += v;
                }
                ka.append(&mut kb);
                (ca, ka, va + vb)
            },
        );
    // Compared in full: only the pairs kept are left to score. Sampled:
    // every pair is, and scoring screens them.
    let candidates = if stride == 1 {
        drop(pairs);
        stats.vetoed_pairs = vetoed;
        kept
    } else {
        pairs
    };

    let mut patterns: Vec<(Levels, u64)> = pattern_counts
        .into_iter()
        .map(|(k, c)| (Levels::unpack(k), c))
        .collect();
    patterns.sort_unstable_by_key(|&(l, _)| l.pack());
    let labelled: Vec<(Levels, bool)> = labels
        .iter()
        .map(|l| {
            let (a, b) = (&prepared[l.a as usize], &prepared[l.b as usize]);
            (compare(a, b, heat).masked(&config.fields).levels, l.same)
        })
        .collect();
    let train = |model: &mut FsModel, patterns: &[(Levels, u64)]| {
        model.train_labelled(
            patterns,
            &labelled,
            prepared.len() as u64,
            config.em_max_iterations,
            config.label_pseudo_pairs,
        );
    };
    train(&mut model, &patterns);
    let proven = model.proves();
    if !proven.is_empty() {
        // The data proves some disagreements: the pairs showing them are
        // two people, and take no part in training, as vetoed pairs do.
        patterns.retain(|(levels, _)| crate::rules::veto(levels, &rules, proven).is_none());
        let first = model.em_iterations;
        model = untrained();
        train(&mut model, &patterns);
        model.em_iterations += first;
        model.proven = proven;
    }
    stats.em_iterations = model.em_iterations;
    stats.em_converged = model.em_converged;
    stats.model_version = model.version();
    stats.training_time = started.elapsed();
    (model, candidates)
}

/// Every how many candidate pairs one is compared for training: 1 (all)
/// up to `cap` pairs (0: no cap).
fn training_stride(pairs: usize, cap: usize) -> usize {
    if cap == 0 || pairs <= cap {
        1
    } else {
        pairs.div_ceil(cap)
    }
}

impl DedupeStats {
    fn clusters_from(&mut self, assignment: &[u32], clusters: usize) {
        let mut sizes = vec![0usize; clusters];
        for &c in assignment {
            sizes[c as usize] += 1;
        }
        self.clients = clusters;
        self.duplicate_groups = sizes.iter().filter(|&&s| s > 1).count();
        self.largest_cluster = sizes.iter().copied().max().unwrap_or(0);
    }
}

/// Comparison levels of seeded random pairs, to estimate u. The pairs are
/// drawn by input position (`position`: where each input record now is), so
/// the records' order in memory does not change the sample.
fn random_pair_levels<'a>(
    prepared: &'a [Prepared],
    position: Option<&[u32]>,
    heat: PhoneHeat<'a>,
    config: &MatchConfig,
) -> impl Iterator<Item = Levels> + 'a {
    let n = prepared.len();
    let samples = if n < 2 {
        0
    } else {
        config.u_sample_pairs.min(n * (n - 1) / 2)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let pairs: Vec<(usize, usize)> = (0..samples)
        .map(|_| {
            let a = rng.random_range(0..n);
            let mut b = rng.random_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            match position {
                Some(at) => (at[a] as usize, at[b] as usize),
                None => (a, b),
            }
        })
        .collect();
    let levels: Vec<Levels> = pairs
        .par_iter()
        .map(|&(a, b)| {
            compare(&prepared[a], &prepared[b], heat)
                .masked(&config.fields)
                .levels
        })
        .collect();
    levels.into_iter()
}
