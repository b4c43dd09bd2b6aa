//! Which client holds which consent entry as identity changes: the rules a
//! compliance officer can check, as pure functions the vault's feed handler
//! applies (it knows nothing of the store here).
//!
//! # Rules
//!
//! 1. **An entry is recorded for records.** Each consent entry names the
//!    resolver records it was recorded for (`record_ids`): those the caller
//!    gave (the records a contact point was read from, for a STOP received
//!    through channels), else the records its number *stands for* at that
//!    moment. A number stands for its own records: the record it was
//!    created with, records attached under it, records a split moved to it.
//!    A number whose own records have all left in a split (the survivor
//!    whose own record was split out) stands for the records of the client
//!    it still names.
//! 2. **Merge: union.** A merged client holds every entry of every client
//!    merged into it, and is evaluated over all of them (`ledger.rs`).
//! 3. **Split: entries follow their records.** When a split moves records
//!    out of a client to a new number, an entry whose records (those the
//!    client holds) all move goes to the new client, and one whose records
//!    all stay stays, whichever number survives on either side.
//! 4. **Split: an entry whose records are on both sides** (recorded for a
//!    number that stood for records now told apart) stays with the client
//!    keeping the original number; if it is a withdrawal or a denial it
//!    also goes to the new client: we cannot tell whose it was, so neither
//!    side is contacted against it.
//! 5. **Numbers follow their records.** A number merged into the client
//!    whose own records all move names the new client afterwards (a
//!    question about it is answered for the new client); the original
//!    number always names the side that stays; the moved records become the
//!    new number's own.
//!
//! Entries never change: the ledger is append-only. What moves is the
//! vault's index of which number an entry is filed under
//! (`consent_idx`), and the split itself is a ledger entry naming the new
//! number and the numbers that went with it.

use std::collections::BTreeSet;

/// Where a consent entry goes in a split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Kept,
    Moved,
    /// Held by both sides (a restriction whose records are on both).
    Both,
}

/// Rules 3 and 4: the side of an entry recorded for `records`, when
/// `moving` leave a client holding `client_records`.
pub fn side_of(
    records: &BTreeSet<String>,
    client_records: &BTreeSet<String>,
    moving: &BTreeSet<String>,
    restrictive: bool,
) -> Side {
    let held: Vec<&String> = records
        .iter()
        .filter(|r| client_records.contains(*r))
        .collect();
    let going = held.iter().filter(|r| moving.contains(**r)).count();
    match (going, held.len() - going) {
        (g, 0) if g > 0 => Side::Moved,
        (0, s) if s > 0 => Side::Kept,
        _ if restrictive => Side::Both,
        _ => Side::Kept,
    }
}

/// Rule 1: what a number stands for, given its own records and those of
/// the client it names (both empty when the vault has not heard of it yet:
/// then nothing, and the split reads the number's records when it comes).
pub fn stood_for(own: &BTreeSet<String>, client_records: &BTreeSet<String>) -> BTreeSet<String> {
    if own.is_empty() {
        client_records.clone()
    } else {
        own.clone()
    }
}

/// A number of the client being split, and its own records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub number: String,
    pub own: BTreeSet<String>,
}

/// A consent entry as filed under one of the client's numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filed {
    /// The number the index files it under.
    pub under: String,
    pub sequence: u64,
    /// The records it was recorded for; empty: not known when recorded
    /// (then what `under` stands for at the split).
    pub records: Vec<String>,
    pub restrictive: bool,
}

/// What a split changes in the vault's identity and consent index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitPlan {
    /// Numbers that name the new client from now on (rule 5).
    pub moved_numbers: BTreeSet<String>,
    /// Numbers that stay with the original client.
    pub kept_numbers: BTreeSet<String>,
    /// Index entries to remove and to add: (number, sequence).
    pub unfile: Vec<(String, u64)>,
    pub file: Vec<(String, u64)>,
    /// Own records that become the new number's: (old owner, record).
    pub rehome: Vec<(String, String)>,
}

/// Plans the split of `original` (numbers `members`, entries `filed`)
/// sending `moving` to the new number `new`.
pub fn plan_split(
    original: &str,
    new: &str,
    moving: &BTreeSet<String>,
    members: &[Member],
    filed: &[Filed],
) -> SplitPlan {
    let mut plan = SplitPlan::default();
    let client_records: BTreeSet<String> =
        members.iter().flat_map(|m| m.own.iter().cloned()).collect();
    for m in members {
        let all_leave = !m.own.is_empty() && m.own.is_subset(moving);
        if m.number != original && all_leave {
            plan.moved_numbers.insert(m.number.clone());
        } else {
            plan.kept_numbers.insert(m.number.clone());
        }
        for r in m.own.intersection(moving) {
            plan.rehome.push((m.number.clone(), r.clone()));
        }
    }
    for f in filed {
        let records: BTreeSet<String> = if f.records.is_empty() {
            let own = members
                .iter()
                .find(|m| m.number == f.under)
                .map(|m| m.own.clone())
                .unwrap_or_default();
            stood_for(&own, &client_records)
        } else {
            f.records.iter().cloned().collect()
        };
        let side = side_of(&records, &client_records, moving, f.restrictive);
        let under_moves = plan.moved_numbers.contains(&f.under);
        let (to_kept, to_moved) = match side {
            Side::Kept => (true, false),
            Side::Moved => (false, true),
            Side::Both => (true, true),
        };
        // The number it is filed under carries it to its side; the other
        // side, when it must hold it too, files it under its own number.
        let (stays_filed, other, other_number) = if under_moves {
            (to_moved, to_kept, original)
        } else {
            (to_kept, to_moved, new)
        };
        if !stays_filed {
            plan.unfile.push((f.under.clone(), f.sequence));
        }
        if other {
            plan.file.push((other_number.to_string(), f.sequence));
        }
    }
    plan
}

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod upgrade_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Numbers A (own record rA) and B (own record rB) of one client.
    fn a_and_b() -> [Member; 2] {
        [("A", "rA"), ("B", "rB")].map(|(n, r)| Member {
            number: n.into(),
            own: set(&[r]),
        })
    }

    fn filed(under: &str, sequence: u64, records: &[&str], restrictive: bool) -> Filed {
        Filed {
            under: under.into(),
            sequence,
            records: records.iter().map(|r| r.to_string()).collect(),
            restrictive,
        }
    }

    #[test]
    fn entries_follow_their_records() {
        let client = set(&["rA", "rB", "rX"]);
        let moving = set(&["rA"]);
        assert_eq!(side_of(&set(&["rA"]), &client, &moving, false), Side::Moved);
        assert_eq!(side_of(&set(&["rB"]), &client, &moving, true), Side::Kept);
        // Records on both sides: a grant stays, a restriction goes to both.
        let both = set(&["rA", "rX"]);
        assert_eq!(side_of(&both, &client, &moving, false), Side::Kept);
        assert_eq!(side_of(&both, &client, &moving, true), Side::Both);
        // Records the client no longer holds do not count.
        assert_eq!(
            side_of(&set(&["rA", "rGone"]), &client, &moving, false),
            Side::Moved
        );
        assert_eq!(
            side_of(&set(&["rGone"]), &client, &moving, true),
            Side::Both
        );
    }

    /// Issue 17, case 2: A's grant is filed under A; A's own record leaves.
    #[test]
    fn the_survivors_own_record_takes_its_entries() {
        let members = a_and_b();
        let filed = [
            filed("A", 1, &["rA"], false),
            filed("B", 2, &["rB"], true),
            // Recorded before the vault knew A's records.
            filed("A", 3, &[], false),
        ];
        let plan = plan_split("A", "N", &set(&["rA"]), &members, &filed);
        assert_eq!(plan.kept_numbers, set(&["A", "B"]));
        assert!(
            plan.moved_numbers.is_empty(),
            "A still names the side that stays"
        );
        assert_eq!(plan.unfile, [("A".to_string(), 1), ("A".to_string(), 3)]);
        assert_eq!(plan.file, [("N".to_string(), 1), ("N".to_string(), 3)]);
        assert_eq!(plan.rehome, [("A".to_string(), "rA".to_string())]);
    }

    /// Issue 17, case 3: B's STOP, filed under the survivor A but recorded
    /// for B's records, leaves with B; B's number goes too.
    #[test]
    fn a_stop_goes_with_the_records_it_came_from() {
        let members = a_and_b();
        let filed = [
            filed("A", 4, &["rB"], true),
            filed("B", 5, &["rA", "rB"], true),
            filed("B", 6, &["rA", "rB"], false),
        ];
        let plan = plan_split("A", "N", &set(&["rB"]), &members, &filed);
        assert_eq!(plan.moved_numbers, set(&["B"]));
        // 4 moves to N; 5 (both sides, a restriction) stays filed under B,
        // now N's, and is filed under A too; 6 (a grant on both sides) goes
        // back to the side keeping the original number.
        assert_eq!(plan.unfile, [("A".to_string(), 4), ("B".to_string(), 6)]);
        assert_eq!(
            plan.file,
            [
                ("N".to_string(), 4),
                ("A".to_string(), 5),
                ("A".to_string(), 6)
            ]
        );
    }
}
