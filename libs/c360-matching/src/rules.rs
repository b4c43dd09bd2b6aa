//! Cannot-link rules: evidence that two records are different people,
//! which no amount of agreement elsewhere overrides.
//!
//! Why: a Fellegi-Sunter score assumes fields are independent, but in
//! microfinance data the phone, the address and the surname are shared by a
//! whole household. A mother and her daughter agree on all three and the
//! summed weights can look like a match. These rules look only at
//! person-level fields (given name, birth date, national ID) and veto.

use serde::{Deserialize, Serialize};

use crate::compare::level::{DOB_DIFFERENT, GIVEN_DIFFERENT};
use crate::compare::{CompareField, Levels};

/// Which rules apply. Only the national-ID rule is on by default: two valid
/// numbers of one scheme that differ are near proof of two people. A
/// different given name or birth date is evidence whose weight the model
/// learns from the data (a typo-ridden source makes it weigh less), and
/// households and twins stay apart through the model's household context
/// ([`crate::model::HouseholdModel`]), not a veto. Where the data's own
/// matches (almost) never show a different birth date or given name, the
/// model says so ([`Proven`]) and that disagreement vetoes as the
/// person-conflict rule would: near proof, learned rather than set. The
/// other two rules stay available for a deployment that wants them
/// (`[matching.rules]`); their effect on every data set is in
/// `benches/RESULTS.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Two valid national IDs of one scheme that differ by more than one
    /// edit.
    pub national_id_conflict: bool,
    /// Same surname and full birth date, different given names: twins.
    pub twins: bool,
    /// Different given names, or different birth dates, with no shared
    /// national ID or email to prove it is the same person anyway.
    pub person_conflict: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            national_id_conflict: true,
            twins: false,
            person_conflict: false,
        }
    }
}

/// Why a pair must not be linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Veto {
    NationalIdConflict,
    Twins,
    GivenNameConflict,
    BirthDateConflict,
}

impl Veto {
    /// Whether the rule proves two people whatever else agrees (different
    /// national IDs or birth dates), rather than showing what a typo can
    /// also produce (given names far apart, the twins pattern).
    pub fn is_hard(self) -> bool {
        matches!(self, Veto::NationalIdConflict | Veto::BirthDateConflict)
    }

    pub fn name(self) -> &'static str {
        match self {
            Veto::NationalIdConflict => "national_id_conflict",
            Veto::Twins => "twins",
            Veto::GivenNameConflict => "given_name_conflict",
            Veto::BirthDateConflict => "birth_date_conflict",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Veto::NationalIdConflict => {
                "two valid national IDs of one scheme differ by more than one character"
            }
            Veto::Twins => "same surname and birth date but different given names (twins)",
            Veto::GivenNameConflict => {
                "the given names are different and no national ID or email is shared"
            }
            Veto::BirthDateConflict => "the birth dates are different and no national ID is shared",
        }
    }
}

/// Person-level disagreements that a data set's own matches (almost) never
/// show, as the model learned them ([`crate::FsModel::proves`]): on such
/// data a different birth date, or a different given name, is near proof
/// of two people, and the person-conflict rule applies to it whatever the
/// settings say. Learned, so a source whose dates are typo-ridden (FEBRL,
/// m of "different" 0.07) or whose given names are nicknames and titles
/// (hist50k, 0.12) never gets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proven {
    pub given_name: bool,
    pub birth_date: bool,
}

impl Proven {
    /// Nothing proven.
    pub fn is_empty(&self) -> bool {
        *self == Proven::default()
    }
}

pub fn veto(levels: &Levels, rules: &Rules, proven: Proven) -> Option<Veto> {
    let id = levels.get(CompareField::NationalId);
    let given = levels.get(CompareField::GivenName);
    let surname = levels.get(CompareField::Surname);
    let dob = levels.get(CompareField::DateOfBirth);
    let email = levels.get(CompareField::Email);
    let id_same = id == 1;
    if rules.national_id_conflict && id == 4 {
        return Some(Veto::NationalIdConflict);
    }
    if rules.twins
        && (surname == 1 || surname == 2)
        && dob == 1
        && given == GIVEN_DIFFERENT
        && !id_same
    {
        return Some(Veto::Twins);
    }
    if (rules.person_conflict || proven.given_name)
        && given == GIVEN_DIFFERENT
        && !id_same
        && email != 1
    {
        return Some(Veto::GivenNameConflict);
    }
    if (rules.person_conflict || proven.birth_date) && dob == DOB_DIFFERENT && !id_same {
        return Some(Veto::BirthDateConflict);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(pairs: &[(CompareField, u8)]) -> Levels {
        let mut l = Levels::default();
        for &(f, v) in pairs {
            l.0[f as usize] = v;
        }
        l
    }

    const ALL_ON: Rules = Rules {
        national_id_conflict: true,
        twins: true,
        person_conflict: true,
    };

    /// What the data proves vetoes whatever the settings say: a
    /// different given name (unless an e-mail is shared) and a different
    /// birth date (unless the national ID is), each on its own.
    #[test]
    fn proven_disagreements_veto_without_a_setting() {
        let given = levels(&[(CompareField::GivenName, 6), (CompareField::Surname, 1)]);
        let dob = levels(&[(CompareField::DateOfBirth, 5), (CompareField::Surname, 1)]);
        let off = Rules::default();
        let given_only = Proven {
            given_name: true,
            birth_date: false,
        };
        let dob_only = Proven {
            given_name: false,
            birth_date: true,
        };
        assert_eq!(veto(&given, &off, Proven::default()), None);
        assert_eq!(
            veto(&given, &off, given_only),
            Some(Veto::GivenNameConflict)
        );
        assert_eq!(veto(&given, &off, dob_only), None);
        assert_eq!(veto(&dob, &off, dob_only), Some(Veto::BirthDateConflict));
        assert_eq!(veto(&dob, &off, given_only), None);
        let mut shared_email = given;
        shared_email.0[CompareField::Email as usize] = 1;
        assert_eq!(veto(&shared_email, &off, given_only), None);
        let mut shared_id = dob;
        shared_id.0[CompareField::NationalId as usize] = 1;
        assert_eq!(veto(&shared_id, &off, dob_only), None);
    }

    #[test]
    fn twins_are_vetoed_when_the_rule_is_on() {
        let l = levels(&[
            (CompareField::Surname, 1),
            (CompareField::DateOfBirth, 1),
            (CompareField::GivenName, 6),
            (CompareField::Phone, 1),
            (CompareField::Address, 1),
        ]);
        assert_eq!(veto(&l, &ALL_ON, Proven::default()), Some(Veto::Twins));
        // By default the model weighs it.
        assert_eq!(veto(&l, &Rules::default(), Proven::default()), None);
    }

    #[test]
    fn mother_and_daughter_are_vetoed_when_the_rule_is_on() {
        let l = levels(&[
            (CompareField::Surname, 1),
            (CompareField::GivenName, 1),
            (CompareField::DateOfBirth, 5),
            (CompareField::Phone, 1),
        ]);
        assert_eq!(
            veto(&l, &ALL_ON, Proven::default()),
            Some(Veto::BirthDateConflict)
        );
        assert_eq!(veto(&l, &Rules::default(), Proven::default()), None);
    }

    #[test]
    fn a_shared_national_id_overrides_person_conflicts() {
        let l = levels(&[
            (CompareField::NationalId, 1),
            (CompareField::GivenName, 6),
            (CompareField::DateOfBirth, 5),
        ]);
        assert_eq!(veto(&l, &ALL_ON, Proven::default()), None);
    }

    /// Only two valid IDs of one scheme that differ are vetoed; IDs of no
    /// known scheme that differ are evidence.
    #[test]
    fn only_valid_ids_of_one_scheme_veto() {
        let l = levels(&[(CompareField::NationalId, 3)]);
        assert_eq!(veto(&l, &Rules::default(), Proven::default()), None);
    }

    #[test]
    fn rules_can_be_switched_off() {
        let l = levels(&[(CompareField::NationalId, 4)]);
        assert_eq!(
            veto(&l, &Rules::default(), Proven::default()),
            Some(Veto::NationalIdConflict)
        );
        let off = Rules {
            national_id_conflict: false,
            ..Rules::default()
        };
        assert_eq!(veto(&l, &off, Proven::default()), None);
    }
}
