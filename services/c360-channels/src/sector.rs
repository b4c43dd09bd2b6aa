//! Identity/Accessibility/Traceability sectors (PRODUCT.md): which of the
//! three parts of knowing a client the registry has for each client (the
//! diagram itself is `c360_standardise::sector`, shared with search).
//!
//! - Identity: the resolver's golden record has a surname, a given name and
//!   a birth date or a national id.
//! - Accessibility: at least one active contact point.
//! - Traceability: an interaction under the client number: a record from a
//!   transactional source system (configured), or a delivered touch or an
//!   inbound reply in the contact history.

use crate::model::{ClientState, Outcome, PointStatus};

pub use c360_standardise::sector::Sector;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectorInfo {
    pub identity: bool,
    pub accessibility: bool,
    pub traceability: bool,
    pub sector: Sector,
}

pub fn classify(state: &ClientState) -> SectorInfo {
    let identity = state.profile.identity;
    let accessibility = state.points.iter().any(|p| p.status == PointStatus::Active);
    let traceability = state.profile.transactions
        || state
            .history
            .iter()
            .any(|t| t.outcome == Outcome::Delivered || !t.keyword.is_empty());
    SectorInfo {
        identity,
        accessibility,
        traceability,
        sector: Sector::of(identity, accessibility, traceability),
    }
}
