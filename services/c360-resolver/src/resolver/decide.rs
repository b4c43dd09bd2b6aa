//! The decision for one record, pure over the state: score the candidates
//! the index gives, keep per client the best member that does not conflict,
//! exclude a client a member conflicts with (hard, or softly beyond batch
//! clustering's share), then link, review or new.

use c360_matching::{Conflict, PairScore, Prepared, groups_conflict, soft_conflicts_allowed};
use rustc_hash::FxHashMap;

use super::{ResolverConfig, State, pair};
use crate::answers::{Candidate, Decision, Resolution};
use crate::number::ClientNumber;

/// Candidates from which a decision scores them on every core.
const PARALLEL_SCORING_MIN: usize = 256;

impl State {
    /// How strongly two stored records say they are two people. A
    /// steward's "not the same person" is as final as two national IDs.
    pub(super) fn conflict(&self, a: u32, b: u32) -> Conflict {
        if self.cannot_link.contains(&pair(a, b)) {
            return Conflict::Hard;
        }
        self.matcher.conflict(a, b)
    }

    /// The conflict a new record's score against a member shows, and its
    /// name for `Candidate.excluded_by`. Against one record at a time the
    /// bar is the score with its prior (`conflict_log_odds`).
    fn score_conflict(&self, score: &PairScore) -> Option<(Conflict, &'static str)> {
        match score.veto {
            Some(v) if v.is_hard() => Some((Conflict::Hard, v.name())),
            Some(v) => Some((Conflict::Soft, v.name())),
            None if score.log_odds < self.matcher.config.conflict_log_odds => {
                Some((Conflict::Soft, "conflicting_evidence"))
            }
            None => None,
        }
    }

    /// Soft conflicts tolerated among `pairs` record pairs, as in batch
    /// clustering (`soft_conflict_share`).
    fn soft_conflicts_allowed(&self, pairs: usize) -> usize {
        soft_conflicts_allowed(self.matcher.config.soft_conflict_share, pairs)
    }

    /// Scores a prepared record against the index. Returns the resolution,
    /// the clients it links to (best first, mutually compatible), and the
    /// record to review it with when uncertain.
    pub(super) fn decide(
        &self,
        prepared: &Prepared,
        config: &ResolverConfig,
    ) -> (Resolution, Vec<u64>, Option<u32>) {
        let keys = self.matcher.keys(prepared);
        let candidates =
            self.index
                .candidates(&keys, config.max_postings, config.matching.max_block_size);
        // Scoring is most of the work of a decision: spread it over the
        // cores when there is enough of it (the scores, and so the
        // decision, do not depend on how it is spread).
        let score = |&c: &u32| {
            let slot = &self.slots[c as usize];
            slot.alive.then(|| {
                let s = self
                    .matcher
                    .screen_prepared(prepared, &self.matcher.records[c as usize]);
                (c, self.resolve_alias(slot.client), s)
            })
        };
        // One allocation of the exact size, in candidate order (not a list
        // of chunks grown and appended, nor a vector grown one by one).
        let scores: Vec<Option<_>> = if candidates.len() >= PARALLEL_SCORING_MIN {
            use rayon::prelude::*;
            let mut scores = Vec::with_capacity(candidates.len());
            candidates
                .par_iter()
                .map(score)
                .collect_into_vec(&mut scores);
            scores
        } else {
            candidates.iter().map(score).collect()
        };
        // Best score per client, and its members' conflicts with the
        // record: any hard one, or more soft ones than batch clustering
        // tolerates, keeps the record out of that client.
        #[derive(Default)]
        struct Evidence {
            probability: f64,
            best: u32,
            hard: Option<&'static str>,
            soft: usize,
            soft_reason: Option<&'static str>,
        }
        impl Evidence {
            fn add(&mut self, conflict: Option<(Conflict, &'static str)>) {
                match conflict {
                    Some((Conflict::Hard, reason)) => {
                        self.hard.get_or_insert(reason);
                    }
                    Some((_, reason)) => {
                        self.soft += 1;
                        self.soft_reason.get_or_insert(reason);
                    }
                    None => {}
                }
            }

            /// What keeps the record out of the client, if anything.
            fn exclusion(&self, allowed: usize) -> Option<&'static str> {
                self.hard
                    .or(self.soft_reason.filter(|_| self.soft > allowed))
            }
        }
        let mut per_client: FxHashMap<u64, Evidence> = FxHashMap::default();
        for (c, client, score) in scores.into_iter().flatten() {
            let probability = 1.0 / (1.0 + (-score.log_odds).exp2());
            let entry = per_client.entry(client).or_insert_with(|| Evidence {
                best: c,
                ..Evidence::default()
            });
            let conflict = self.score_conflict(&score);
            // A member the record conflicts with does not vouch for it.
            if conflict.is_none() && probability > entry.probability {
                entry.probability = probability;
                entry.best = c;
            }
            entry.add(conflict);
        }
        // Members that were not candidates can still conflict (candidates
        // are sorted: a binary search tells which were).
        let scored = |m: &u32| candidates.binary_search(m).is_ok();
        let mut ranked: Vec<(u64, f64, u32, Option<&'static str>)> = per_client
            .into_iter()
            .map(|(client, mut evidence)| {
                let members = &self.clients[&client].members;
                let allowed = self.soft_conflicts_allowed(members.len());
                // Score the other members only while the answer is open.
                if evidence.exclusion(allowed).is_none() {
                    for &m in members.iter().filter_map(|id| self.by_record.get(id)) {
                        if scored(&m) {
                            continue;
                        }
                        let s = self
                            .matcher
                            .screen_prepared(prepared, &self.matcher.records[m as usize]);
                        evidence.add(
                            self.score_conflict(&s)
                                .map(|(kind, _)| (kind, "conflict_with_a_member")),
                        );
                        if evidence.exclusion(allowed).is_some() {
                            break;
                        }
                    }
                }
                (
                    client,
                    evidence.probability,
                    evidence.best,
                    evidence.exclusion(allowed),
                )
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let link = self.matcher.config.link_threshold;
        let review = self.matcher.config.review_threshold;
        let mut linked: Vec<u64> = Vec::new();
        let mut review_with = None;
        for &(client, p, best, conflict) in &ranked {
            if conflict.is_some() {
                continue;
            }
            if p >= link {
                // Join further clients only if no pair across them conflicts.
                let compatible = linked
                    .iter()
                    .all(|&other| !self.clients_conflict(client, other));
                if compatible {
                    linked.push(client);
                }
            } else if p >= review && linked.is_empty() && review_with.is_none() {
                review_with = Some(best);
            }
        }
        let best = ranked.iter().find(|r| r.3.is_none());
        let (decision, confidence, client) = if let Some(&c) = linked.first() {
            let p = ranked.iter().find(|r| r.0 == c).map_or(0.0, |r| r.1);
            (Decision::Matched, p, Some(ClientNumber::from_sequence(c)))
        } else if review_with.is_some() {
            (Decision::Review, best.map_or(0.0, |r| r.1), None)
        } else {
            (Decision::New, best.map_or(0.0, |r| r.1).max(0.0), None)
        };
        let candidates = ranked
            .iter()
            .take(10)
            .map(|&(c, p, _, conflict)| Candidate {
                client: ClientNumber::from_sequence(c),
                probability: p,
                excluded_by: conflict,
            })
            .collect();
        (
            Resolution {
                client,
                decision,
                confidence,
                candidates,
                record_id: String::new(),
                updated: false,
                flags: Vec::new(),
            },
            linked,
            review_with,
        )
    }

    fn clients_conflict(&self, a: u64, b: u64) -> bool {
        let members = |c: u64| -> Vec<u32> {
            self.clients
                .get(&c)
                .map(|s| {
                    s.members
                        .iter()
                        .filter_map(|id| self.by_record.get(id).copied())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (ma, mb) = (members(a), members(b));
        let allowed = self.soft_conflicts_allowed(ma.len() * mb.len());
        groups_conflict(&ma, &mb, allowed, |x, y| self.conflict(x, y))
    }
}
