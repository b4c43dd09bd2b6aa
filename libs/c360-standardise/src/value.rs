//! One rule per kind of value: what it standardises to, or why it cannot.
//!
//! Matching ignores a value these functions refuse, the resolver keeps it on the
//! record with a flag (its [`Unusable`] reason) and leaves it out of the golden
//! record, and channels refuses it as a contact point: all through the functions of
//! this module, so the three never disagree.
//!
//! Each function answers `Ok(None)` for an empty value (nothing was given: not a
//! flag), `Ok(Some(standard form))` for a usable one and `Err(reason)` otherwise.
//! The reason never contains the value.

use crate::date::{DateError, PartialDate, parse_date};
use crate::email::normalise_email;
use crate::id::normalise_national_id;
use crate::phone::Phones;

/// Why a value given on a record cannot be used. The codes are stable: they are
/// stored in data-quality counts and shown to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unusable {
    /// Not a date in any known layout ("31st of never", "12/1985/03/04").
    UnreadableDate,
    /// A month or day that does not exist ("1950-51-01", "31/02/1985").
    ImpossibleDate,
    /// A year outside 1880..=2030 ("9182-08-22").
    DateOutOfRange,
    /// Not a phone number of any supported plan ("+999 Zanzibarine", "12").
    InvalidPhone,
    /// Not an e-mail address ("x@", "neant").
    InvalidEmail,
    /// Not a national ID: no digit, or only zeros ("Zanzibarine!!", "N/A").
    InvalidNationalId,
}

impl Unusable {
    pub const ALL: [Unusable; 6] = [
        Unusable::UnreadableDate,
        Unusable::ImpossibleDate,
        Unusable::DateOutOfRange,
        Unusable::InvalidPhone,
        Unusable::InvalidEmail,
        Unusable::InvalidNationalId,
    ];

    /// The stable code (`impossible_date`, `invalid_phone`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Unusable::UnreadableDate => "unreadable_date",
            Unusable::ImpossibleDate => "impossible_date",
            Unusable::DateOutOfRange => "date_out_of_range",
            Unusable::InvalidPhone => "invalid_phone",
            Unusable::InvalidEmail => "invalid_email",
            Unusable::InvalidNationalId => "invalid_national_id",
        }
    }

    /// What is wrong, in words (never the value).
    pub fn description(self) -> &'static str {
        match self {
            Unusable::UnreadableDate => "is not a date in a known format",
            Unusable::ImpossibleDate => "is a date that does not exist",
            Unusable::DateOutOfRange => "is a date with a year outside 1880..=2030",
            Unusable::InvalidPhone => "is not a phone number",
            Unusable::InvalidEmail => "is not an e-mail address",
            Unusable::InvalidNationalId => "is not a national ID (no digit other than 0)",
        }
    }

    pub fn from_code(code: &str) -> Option<Unusable> {
        Unusable::ALL.into_iter().find(|u| u.code() == code)
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl From<DateError> for Unusable {
    fn from(e: DateError) -> Self {
        match e {
            DateError::MonthOutOfRange | DateError::DayOutOfRange => Unusable::ImpossibleDate,
            DateError::YearOutOfRange => Unusable::DateOutOfRange,
            DateError::Empty
            | DateError::UnrecognisedText
            | DateError::UnrecognisedFormat
            | DateError::MissingYear
            | DateError::Placeholder => Unusable::UnreadableDate,
        }
    }
}

/// A date of birth, possibly partial.
pub fn date_of_birth(raw: &str) -> Result<Option<PartialDate>, Unusable> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(parse_date(raw)?))
}

/// A phone number in E.164, under [`Phones`]' rule. `country` is the record's
/// country as an ISO code ([`crate::places::country_code`] of what it says).
pub fn phone(
    phones: &Phones,
    raw: &str,
    country: Option<&str>,
) -> Result<Option<String>, Unusable> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    phones
        .e164(raw, country)
        .map(Some)
        .map_err(|_| Unusable::InvalidPhone)
}

/// An e-mail address, lowercased.
pub fn email(raw: &str) -> Result<Option<String>, Unusable> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    normalise_email(raw).map(Some).ok_or(Unusable::InvalidEmail)
}

/// A national ID, uppercase letters and digits without a country prefix.
pub fn national_id(raw: &str) -> Result<Option<String>, Unusable> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    normalise_national_id(raw)
        .map(Some)
        .ok_or(Unusable::InvalidNationalId)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_from_the_field() {
        let phones = Phones::new("CI").unwrap();
        assert_eq!(date_of_birth("  "), Ok(None));
        assert_eq!(date_of_birth("1950-51-01"), Err(Unusable::ImpossibleDate));
        assert_eq!(date_of_birth("31/02/1985"), Err(Unusable::ImpossibleDate));
        assert_eq!(date_of_birth("9182-08-22"), Err(Unusable::DateOutOfRange));
        assert_eq!(date_of_birth("hier"), Err(Unusable::UnreadableDate));
        assert!(matches!(date_of_birth("12/03/1985"), Ok(Some(d)) if d.is_complete()));

        assert_eq!(
            phone(&phones, "+999 Zanzibarine", None),
            Err(Unusable::InvalidPhone)
        );
        assert_eq!(phone(&phones, "12", None), Err(Unusable::InvalidPhone));
        assert_eq!(phone(&phones, "", None), Ok(None));
        assert_eq!(
            phone(&phones, "07 07 12 34 56", None).unwrap().as_deref(),
            Some("+2250707123456")
        );
        // A Senegalese number written nationally, in an Ivorian file: the
        // other supported countries are tried.
        assert_eq!(
            phone(&phones, "77 123 45 67", None).unwrap().as_deref(),
            Some("+221771234567")
        );
        // The record's country comes first: eight digits are Malian in Mali.
        assert_eq!(
            phone(&phones, "76 12 34 56", Some("ML"))
                .unwrap()
                .as_deref(),
            Some("+22376123456")
        );

        assert_eq!(email("x@"), Err(Unusable::InvalidEmail));
        assert_eq!(email(""), Ok(None));
        assert_eq!(
            email("Awa@Orange.CI").unwrap().as_deref(),
            Some("awa@orange.ci")
        );

        assert_eq!(
            national_id("Zanzibarine!!"),
            Err(Unusable::InvalidNationalId)
        );
        assert_eq!(national_id("N/A"), Err(Unusable::InvalidNationalId));
        assert_eq!(national_id(" "), Ok(None));
        assert_eq!(
            national_id("CI 004 520 376").unwrap().as_deref(),
            Some("004520376")
        );
    }

    #[test]
    fn codes_round_trip_and_never_repeat() {
        let mut codes: Vec<&str> = Unusable::ALL.iter().map(|u| u.code()).collect();
        for u in Unusable::ALL {
            assert_eq!(Unusable::from_code(u.code()), Some(u));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Unusable::ALL.len());
        assert_eq!(Unusable::from_code("fine"), None);
    }

    proptest! {
        /// A usable value's standard form is usable again, and stays the same.
        #[test]
        fn standard_forms_are_usable(raw in any::<String>()) {
            let phones = Phones::new("CI").unwrap();
            if let Ok(Some(e164)) = phone(&phones, &raw, None) {
                prop_assert_eq!(phone(&phones, &e164, None), Ok(Some(e164.clone())));
            }
            if let Ok(Some(e)) = email(&raw) {
                prop_assert_eq!(email(&e), Ok(Some(e.clone())));
            }
            if let Ok(Some(id)) = national_id(&raw) {
                prop_assert!(national_id(&id).is_ok());
            }
            if let Ok(Some(d)) = date_of_birth(&raw) {
                prop_assert_eq!(date_of_birth(&d.to_iso()), Ok(Some(d)));
            }
        }
    }
}
