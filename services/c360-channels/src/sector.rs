//! Identity/Accessibility/Traceability sectors (PRODUCT.md): which of the
//! three parts of knowing a client the registry has for each client.
//!
//! - Identity: the resolver's golden record has a surname, a given name and
//!   a birth date or a national id.
//! - Accessibility: at least one active contact point.
//! - Traceability: an interaction under the client number: a record from a
//!   transactional source system (configured), or a delivered touch or an
//!   inbound reply in the contact history.

use crate::model::{ClientState, Outcome, PointStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sector {
    A,
    B,
    C,
    D,
    X,
    Y,
    Z,
    None,
}

impl Sector {
    pub const ALL: [Sector; 8] = [
        Sector::A,
        Sector::B,
        Sector::C,
        Sector::D,
        Sector::X,
        Sector::Y,
        Sector::Z,
        Sector::None,
    ];

    pub fn of(identity: bool, accessibility: bool, traceability: bool) -> Sector {
        match (identity, accessibility, traceability) {
            (true, true, true) => Sector::A,
            (true, true, false) => Sector::B,
            (true, false, false) => Sector::C,
            (false, true, true) => Sector::D,
            (false, false, true) => Sector::X,
            (false, true, false) => Sector::Y,
            (true, false, true) => Sector::Z,
            (false, false, false) => Sector::None,
        }
    }

    /// Reachable: A, B, D, Y.
    pub fn active(self) -> bool {
        matches!(self, Sector::A | Sector::B | Sector::D | Sector::Y)
    }

    pub fn to_proto(self) -> i32 {
        use c360_proto::channels::v1::Sector as P;
        (match self {
            Sector::A => P::A,
            Sector::B => P::B,
            Sector::C => P::C,
            Sector::D => P::D,
            Sector::X => P::X,
            Sector::Y => P::Y,
            Sector::Z => P::Z,
            Sector::None => P::None,
        }) as i32
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seven_regions_and_activity() {
        let cases = [
            ((true, true, true), Sector::A, true),
            ((true, true, false), Sector::B, true),
            ((true, false, false), Sector::C, false),
            ((false, true, true), Sector::D, true),
            ((false, false, true), Sector::X, false),
            ((false, true, false), Sector::Y, true),
            ((true, false, true), Sector::Z, false),
            ((false, false, false), Sector::None, false),
        ];
        for ((i, a, t), sector, active) in cases {
            assert_eq!(Sector::of(i, a, t), sector);
            assert_eq!(sector.active(), active, "{sector:?}");
        }
    }
}
