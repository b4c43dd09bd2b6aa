//! Cannot-link rules: evidence that two records are different people,
//! which no amount of agreement elsewhere overrides.
//!
//! Why: a Fellegi-Sunter score assumes fields are independent, but in
//! microfinance data the phone, the address and the surname are shared by a
//! whole household. A mother and her daughter agree on all three and the
//! summed weights can look like a match. These rules look only at
//! person-level fields (given name, birth date, national ID) and veto.

use serde::{Deserialize, Serialize};

use crate::compare::{CompareField, Levels};

/// Which rules apply. Only the national-ID rule is on by default: two valid
/// numbers of one scheme that differ are near proof of two people. A
/// different given name or birth date is evidence whose weight the model
/// learns from the data (a typo-ridden source makes it weigh less), and
/// households and twins stay apart through the model's household context
/// ([`crate::model::HouseholdModel`]), not a veto. The other two rules stay
/// available for a deployment that wants them (`[matching.rules]`); their
/// effect on every data set is in `benches/RESULTS.md`.
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

pub fn veto(levels: &Levels, rules: &Rules) -> Option<Veto> {
    let id = levels.get(CompareField::NationalId);
    let given = levels.get(CompareField::GivenName);
    let surname = levels.get(CompareField::Surname);
    let dob = levels.get(CompareField::DateOfBirth);
    let email = levels.get(CompareField::Email);
    let id_same = id == 1;
    if rules.national_id_conflict && id == 4 {
        return Some(Veto::NationalIdConflict);
    }
    if rules.twins && (surname == 1 || surname == 2) && dob == 1 && given == 6 && !id_same {
        return Some(Veto::Twins);
    }
    if rules.person_conflict {
        if given == 6 && !id_same && email != 1 {
            return Some(Veto::GivenNameConflict);
        }
        if dob == 5 && !id_same {
            return Some(Veto::BirthDateConflict);
        }
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

    #[test]
    fn twins_are_vetoed_when_the_rule_is_on() {
        let l = levels(&[
            (CompareField::Surname, 1),
            (CompareField::DateOfBirth, 1),
            (CompareField::GivenName, 6),
            (CompareField::Phone, 1),
            (CompareField::Address, 1),
        ]);
        assert_eq!(veto(&l, &ALL_ON), Some(Veto::Twins));
        // By default the model weighs it.
        assert_eq!(veto(&l, &Rules::default()), None);
    }

    #[test]
    fn mother_and_daughter_are_vetoed_when_the_rule_is_on() {
        let l = levels(&[
            (CompareField::Surname, 1),
            (CompareField::GivenName, 1),
            (CompareField::DateOfBirth, 5),
            (CompareField::Phone, 1),
        ]);
        assert_eq!(veto(&l, &ALL_ON), Some(Veto::BirthDateConflict));
        assert_eq!(veto(&l, &Rules::default()), None);
    }

    #[test]
    fn a_shared_national_id_overrides_person_conflicts() {
        let l = levels(&[
            (CompareField::NationalId, 1),
            (CompareField::GivenName, 6),
            (CompareField::DateOfBirth, 5),
        ]);
        assert_eq!(veto(&l, &ALL_ON), None);
    }

    /// Only two valid IDs of one scheme that differ are vetoed; IDs of no
    /// known scheme that differ are evidence.
    #[test]
    fn only_valid_ids_of_one_scheme_veto() {
        let l = levels(&[(CompareField::NationalId, 3)]);
        assert_eq!(veto(&l, &Rules::default()), None);
    }

    #[test]
    fn rules_can_be_switched_off() {
        let l = levels(&[(CompareField::NationalId, 4)]);
        assert_eq!(veto(&l, &Rules::default()), Some(Veto::NationalIdConflict));
        let off = Rules {
            national_id_conflict: false,
            ..Rules::default()
        };
        assert_eq!(veto(&l, &off), None);
    }
}
