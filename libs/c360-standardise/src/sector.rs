//! The Identity / Accessibility / Traceability diagram (PRODUCT.md): the
//! seven sectors of what is known of a client, from three facts each
//! service establishes from its own data.

/// A region of the diagram; `None` outside all three circles.
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

    /// The sector's letter; `None` outside the diagram.
    pub fn letter(self) -> Option<char> {
        Some(match self {
            Sector::A => 'A',
            Sector::B => 'B',
            Sector::C => 'C',
            Sector::D => 'D',
            Sector::X => 'X',
            Sector::Y => 'Y',
            Sector::Z => 'Z',
            Sector::None => return None,
        })
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
        assert_eq!(Sector::A.letter(), Some('A'));
        assert_eq!(Sector::None.letter(), None);
    }
}
