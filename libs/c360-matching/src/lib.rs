//! The c360 matching engine: standardised records are blocked on several
//! keys at once, compared field by field into agreement levels, scored by a
//! Fellegi-Sunter model learned without labels, vetoed by cannot-link rules
//! and clustered without chaining.
//!
//! How the design guards against merging two people (worse than missing a
//! duplicate):
//! - hot phones (agent or shop phones) neither block nor count as evidence;
//! - common names weigh less than rare ones (term-frequency adjustment);
//! - cannot-link rules veto on person-level evidence (different national
//!   IDs, twins, different given names or birth dates with no shared ID),
//!   because household fields (phone, address, surname) are not independent;
//! - clusters join only when no pair across them conflicts, and never past a
//!   size cap, so a chain of look-alikes does not become one client;
//! - the link threshold is a high probability (0.95 by default), and the
//!   band below it goes to review instead of being merged.

mod blocking;
mod cluster;
mod compare;
mod config;
mod edit;
mod engine;
pub mod eval;
pub mod idscheme;
mod index;
mod jaro;
mod labels;
mod model;
mod prepare;
pub mod profile;
mod rules;

pub use blocking::{
    BlockingConfig, BlockingStats, candidate_pairs, pack_pair, record_keys, unpack_pair,
};
pub use cluster::{
    ClusterResult, Conflict, Edge, cluster, groups_conflict, soft_conflicts_allowed,
};
pub use compare::{CompareField, Comparison, Levels, NameAlignment, PhoneHeat, compare};
pub use config::{Blocking, FieldUse, Fields, MatchConfig, Names};
pub use engine::{
    DedupeOutcome, DedupeStats, Explanation, Matcher, PairDecision, PairScore, dedupe,
    dedupe_labelled, learn_model,
};
pub use index::BlockIndex;
pub use labels::Label;
pub use model::{
    FieldWeight, Frequencies, FsModel, HouseholdModel, PERSON_FIELDS, Score, count_patterns,
    in_household,
};
pub use prepare::{NameToken, Prepared, Preparer, ValueFlag};
pub use rules::{Proven, Rules, Veto};

/// Errors of the matching engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid matching configuration: {0}")]
    Config(String),
}
