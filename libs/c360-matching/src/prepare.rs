//! Standardised records: what the comparators and blocking keys read.

use c360_core::{Field, Record};
use c360_standardise::date::PartialDate;
use c360_standardise::names::{
    NameVariants, Nicknames, is_particle, is_rank_token, is_title_token, looks_swapped, phonetic,
    split_full_name, without_particles,
};
use c360_standardise::phone::Phones;
use c360_standardise::places::country_code;
use c360_standardise::sex::{Sex, parse_sex};
use c360_standardise::text::{fold, tokens};
use c360_standardise::value::{self, Unusable};

/// A value kept on a record that could not be standardised, so matching ignores
/// it: which field, which of its values (a record may hold several phones and
/// e-mails; 0 for the other fields) and why. Never the value itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueFlag {
    pub field: Field,
    pub index: u8,
    pub reason: Unusable,
}

/// One name token in its folded form, with its phonetic key.
#[derive(Clone, PartialEq, Eq)]
pub struct NameToken {
    pub text: Box<str>,
    pub key: Box<str>,
}

impl std::fmt::Debug for NameToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NameToken(..)")
    }
}

/// A record after standardisation. Holds personal data: `Debug` is redacted.
#[derive(Clone, Default)]
pub struct Prepared {
    pub given: Vec<NameToken>,
    pub surname: Vec<NameToken>,
    /// The given-name tokens joined without spaces ("jeanmarc"), for
    /// comparing "Jean Marc" with "Jean-Marc" or "Jeanmarc".
    pub given_joined: Box<str>,
    pub surname_joined: Box<str>,
    /// Given name and surname were detected as swapped and put back.
    pub swapped: bool,
    /// The names came from one `full_name` split by guesswork (which word
    /// is the surname is not certain): comparisons also try the other splits.
    pub split_guessed: bool,
    /// Nickname groups of the given name's words and of the words joined
    /// ([`Nicknames`]), sorted: "Bill" and "William" share one.
    pub given_nicknames: Vec<u32>,
    pub dob: PartialDate,
    pub sex: Option<Sex>,
    pub national_id: Option<Box<str>>,
    /// The identity-number scheme the ID is valid in, if any
    /// ([`crate::idscheme`]): only two valid IDs of one scheme that differ
    /// are proof of two people.
    pub id_scheme: Option<u8>,
    /// Subscriber numbers (last eight digits of the E.164 form), sorted,
    /// deduplicated.
    pub phones: Vec<u64>,
    pub emails: Vec<Box<str>>,
    /// Folded address tokens, sorted and deduplicated.
    pub address: Vec<Box<str>>,
    /// The folded locality, abbreviations resolved ("abj" → "abidjan"),
    /// see [`c360_standardise::places`].
    pub locality: Box<str>,
    /// The city the locality is in when it is a commune of it ("cocody":
    /// "abidjan"); empty otherwise.
    pub city: Box<str>,
    pub postcode: Box<str>,
    pub region: Box<str>,
    /// Number of raw values that could not be standardised (bad phone,
    /// impossible date, ...; see [`ValueFlag`]): they are ignored, not guessed.
    pub rejected_values: u8,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("given_tokens", &self.given.len())
            .field("surname_tokens", &self.surname.len())
            .field("phones", &self.phones.len())
            .finish_non_exhaustive()
    }
}

/// Turns raw records into [`Prepared`] ones.
#[derive(Debug, Clone)]
pub struct Preparer {
    /// The phone rule (the record's country, the default one, then the
    /// other supported countries).
    phones: Phones,
    variants: NameVariants,
    nicknames: Nicknames,
}

impl Preparer {
    pub fn new(default_country: &str, variants: NameVariants) -> Result<Self, crate::Error> {
        Self::with_tables(default_country, variants, Nicknames::builtin())
    }

    /// A preparer with the given spelling-variant and nickname tables.
    pub fn with_tables(
        default_country: &str,
        variants: NameVariants,
        nicknames: Nicknames,
    ) -> Result<Self, crate::Error> {
        let phones = Phones::new(default_country)
            .map_err(|e| crate::Error::Config(format!("default country: {e}")))?;
        Ok(Preparer {
            phones,
            variants,
            nicknames,
        })
    }

    pub fn prepare(&self, record: &Record) -> Prepared {
        self.prepare_flagged(record).0
    }

    /// The prepared record and the flags of the values it ignores (those
    /// [`c360_standardise::value`] refuses).
    pub fn prepare_flagged(&self, record: &Record) -> (Prepared, Vec<ValueFlag>) {
        let mut out = Prepared::default();
        let mut flags = Vec::new();
        self.prepare_names(record, &mut out);
        self.prepare_values(record, &mut out, &mut flags);
        out.sex = parse_sex(&record.sex);
        let mut address: Vec<Box<str>> = tokens(&record.address)
            .into_iter()
            .filter(|t| !c360_standardise::address::is_address_stopword(t))
            .map(Into::into)
            .collect();
        address.sort_unstable();
        address.dedup();
        out.address = address;
        let locality = fold(&record.locality);
        let (place, city) = c360_standardise::places::place(&locality);
        if city != place {
            out.city = city.into();
        }
        out.locality = place.into();
        out.postcode = fold(&record.postcode).into();
        out.region = fold(&record.region).into();
        (out, flags)
    }

    /// The flags [`Preparer::prepare_flagged`] gives `record`, without
    /// standardising its names and places.
    pub fn flags(&self, record: &Record) -> Vec<ValueFlag> {
        let mut flags = Vec::new();
        self.prepare_values(record, &mut Prepared::default(), &mut flags);
        flags
    }

    /// Birth date, national ID, phones and e-mails: each standardised, or
    /// flagged and left out.
    fn prepare_values(&self, record: &Record, out: &mut Prepared, flags: &mut Vec<ValueFlag>) {
        let mut flag = |field: Field, index: usize, reason: Unusable| {
            flags.push(ValueFlag {
                field,
                index: u8::try_from(index).unwrap_or(u8::MAX),
                reason,
            });
        };
        match value::date_of_birth(&record.date_of_birth) {
            Ok(dob) => out.dob = dob.unwrap_or_default(),
            Err(reason) => {
                flag(Field::DateOfBirth, 0, reason);
                // Flagged for a client's record, but a well-formed date of a
                // historical person (born in 1630) still tells people apart;
                // an impossible or unreadable one is ignored.
                if reason == Unusable::DateOutOfRange {
                    out.dob = salvaged_year(&record.date_of_birth);
                }
            }
        }
        match value::national_id(&record.national_id) {
            Ok(id) => {
                out.id_scheme = id.as_deref().and_then(crate::idscheme::scheme_of);
                out.national_id = id.map(|id| c360_standardise::id::national_id_core(&id).into());
            }
            Err(reason) => flag(Field::NationalId, 0, reason),
        }
        let country = country_code(&record.country);
        for (index, raw) in record.phones.iter().enumerate() {
            match value::phone(&self.phones, raw, country) {
                Ok(e164) => out.phones.extend(e164.as_deref().and_then(subscriber)),
                Err(reason) => flag(Field::Phone, index, reason),
            }
        }
        out.phones.sort_unstable();
        out.phones.dedup();
        for (index, raw) in record.emails.iter().enumerate() {
            match value::email(raw) {
                Ok(email) => out.emails.extend(email.map(Into::into)),
                Err(reason) => flag(Field::Email, index, reason),
            }
        }
        out.emails.sort_unstable();
        out.emails.dedup();
        out.rejected_values = u8::try_from(flags.len()).unwrap_or(u8::MAX);
    }

    fn prepare_names(&self, record: &Record, out: &mut Prepared) {
        let (mut given, mut surname) = (tokens(&record.given_name), tokens(&record.surname));
        given.extend(tokens(&record.middle_name));
        if given.is_empty() && surname.is_empty() && !record.full_name.trim().is_empty() {
            (given, surname) = split_full_name(&record.full_name);
            out.split_guessed = true;
        }
        // A title or a rank written as a name ("Hon. | Collier", "Sir |
        // Baronet", "2nd | Bt."): the full name may hold the real ones
        // ("Sir Edmund Loder, 2nd Baronet"). Ranks are never names.
        let given_is_title =
            !given.is_empty() && given.iter().all(|t| is_title_token(t) || is_rank_token(t));
        let surname_is_rank = !surname.is_empty() && surname.iter().all(|t| is_rank_token(t));
        given.retain(|t| !is_rank_token(t));
        surname.retain(|t| !is_rank_token(t));
        if given_is_title || surname_is_rank {
            if given_is_title {
                given.clear();
            }
            let words: Vec<String> = tokens(&record.full_name)
                .into_iter()
                .filter(|t| {
                    !is_title_token(t)
                        && !is_rank_token(t)
                        && !is_particle(t)
                        && !matches!(t.as_str(), "of" | "and")
                        && !surname.contains(t)
                        && !given.contains(t)
                })
                .collect();
            if given_is_title {
                given.extend(words.first().cloned());
            }
            if surname_is_rank && words.len() > usize::from(given_is_title) {
                surname.extend(words.last().cloned());
            }
        }
        without_particles(&mut given);
        without_particles(&mut surname);
        if looks_swapped(&given, &surname) {
            std::mem::swap(&mut given, &mut surname);
            out.swapped = true;
        }
        let mut nicknames: Vec<u32> = given
            .iter()
            .flat_map(|t| self.nicknames.groups(t).iter().copied())
            .chain(self.nicknames.groups(&given.concat()).iter().copied())
            .collect();
        nicknames.sort_unstable();
        nicknames.dedup();
        out.given_nicknames = nicknames;
        out.given_joined = self.joined(&given);
        out.surname_joined = self.joined(&surname);
        out.given = self.name_tokens(given);
        out.surname = self.name_tokens(surname);
    }

    fn name_tokens(&self, tokens: Vec<String>) -> Vec<NameToken> {
        tokens
            .into_iter()
            .map(|t| {
                let canonical = self.variants.canonical(&t);
                NameToken {
                    key: phonetic(canonical).into(),
                    text: canonical.into(),
                }
            })
            .collect()
    }

    fn joined(&self, tokens: &[String]) -> Box<str> {
        tokens.concat().into()
    }
}

/// A birth date out of the range a client's is checked against: whole when it
/// is a well-formed ISO date from the year 1000 on, else its four-digit year
/// from 1000 to 2100 at its start or its end as a year-only date; nothing
/// otherwise. The value stays flagged.
fn salvaged_year(raw: &str) -> PartialDate {
    let digits: Vec<&str> = raw
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    // A well-formed ISO date out of the range a client's birth date is
    // checked against (a historical person born in 1630): whole.
    if let [y, m, d] = digits.as_slice()
        && (y.len(), m.len(), d.len()) == (4, 2, 2)
        && let (Ok(year), Ok(month), Ok(day)) = (y.parse::<u16>(), m.parse::<u8>(), d.parse::<u8>())
        && (1000..=2100).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
    {
        return PartialDate {
            year: Some(year),
            month: Some(month),
            day: Some(day),
        };
    }
    let year = [digits.first(), digits.last()]
        .into_iter()
        .flatten()
        .filter(|p| p.len() == 4)
        .filter_map(|p| p.parse::<u16>().ok())
        .find(|y| (1000..=2100).contains(y));
    PartialDate {
        year,
        month: None,
        day: None,
    }
}

/// A phone as its subscriber number: the last eight digits of its E.164
/// form. Those survive the Ivorian 2021 renumbering (which only added a
/// two-digit prefix) and a wrong guess of the country, so "96 99 12 41"
/// read as Ivorian and "+223 96 99 12 41" still agree.
fn subscriber(e164: &str) -> Option<u64> {
    let digits: u64 = e164.trim_start_matches('+').parse().ok()?;
    Some(digits % 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_birth_date_keeps_its_year() {
        assert_eq!(salvaged_year("1855-86-20").year, Some(1855));
        assert_eq!(salvaged_year("55/12/1819").year, Some(1819));
        assert_eq!(salvaged_year("12/99/55").year, None);
        let old = salvaged_year("1630-08-01");
        assert_eq!(
            (old.year, old.month, old.day),
            (Some(1630), Some(8), Some(1))
        );
        let preparer = Preparer::new("CI", NameVariants::builtin()).expect("CI");
        let p = preparer.prepare(&Record {
            date_of_birth: "1819-12-55".to_string(),
            ..Record::default()
        });
        assert_eq!(
            (p.dob.year, p.dob.month, p.rejected_values),
            (Some(1819), None, 1)
        );
    }

    /// A title in the given-name field gives way to the given name of the
    /// full name; particles go; "Мария Иванова" reads as "Maria Ivanova".
    #[test]
    fn titles_particles_and_other_scripts() {
        let preparer = Preparer::new("CI", NameVariants::builtin()).expect("CI");
        let p = preparer.prepare(&Record {
            given_name: "Hon.".to_string(),
            surname: "Collier".to_string(),
            full_name: "Hon. John Collier".to_string(),
            ..Record::default()
        });
        assert_eq!(&*p.given_joined, "john");
        let p = preparer.prepare(&Record {
            given_name: "Ludwig".to_string(),
            surname: "van Beethoven".to_string(),
            ..Record::default()
        });
        assert_eq!(&*p.surname_joined, "beethoven");
        let p = preparer.prepare(&Record {
            full_name: "Мария Иванова".to_string(),
            ..Record::default()
        });
        assert_eq!(&*p.surname_joined, "ivanova");
        assert_eq!(p.given[0].key, phonetic("maria").into());
    }

    /// Ranks are never names; a name field holding only a title or a rank
    /// takes the full name's words instead.
    #[test]
    fn ranks_give_way_to_the_full_name() {
        let preparer = Preparer::new("CI", NameVariants::builtin()).expect("CI");
        let names = |given: &str, surname: &str, full: &str| {
            let p = preparer.prepare(&Record {
                given_name: given.to_string(),
                surname: surname.to_string(),
                full_name: full.to_string(),
                ..Record::default()
            });
            (p.given_joined.to_string(), p.surname_joined.to_string())
        };
        let pair = |g: &str, s: &str| (g.to_string(), s.to_string());
        assert_eq!(
            names("Sir", "Baronet", "Sir Edmund Giles Loder, 2nd Baronet"),
            pair("edmund", "loder")
        );
        assert_eq!(
            names("2nd", "Bt.", "2nd Edmond Gilles Bt."),
            pair("edmond", "gilles")
        );
        assert_eq!(
            names("Ernie", "1st", "Ernie Pollock, 1st"),
            pair("ernie", "pollock")
        );
        // Nothing but titles and ranks: no name at all, rather than a rank.
        assert_eq!(names("Sir", "Baronet", "Sir Baronet"), pair("", ""));
        // A rank beside a name is dropped; the name stays.
        assert_eq!(names("John 3rd", "Smith", ""), pair("john", "smith"));
    }

    fn phones_of(raw: &[&str]) -> Vec<u64> {
        let preparer = Preparer::new("CI", NameVariants::builtin()).expect("CI");
        let record = Record {
            phones: raw.iter().map(|s| s.to_string()).collect(),
            ..Record::default()
        };
        preparer.prepare(&record).phones
    }

    /// One line written the ways the sources write it, including a 10-digit
    /// Ivorian mobile whose leading zero a spreadsheet dropped and an old
    /// 8-digit Ivorian number starting with 00.
    #[test]
    fn one_phone_written_many_ways_is_one_subscriber() {
        let cases: &[&[&str]] = &[
            &[
                "05 44 55 66 77",
                "544556677",
                "+2250544556677",
                "44 55 66 77",
            ],
            &["01 23 45 67 89", "123456789", "(225) 0123456789"],
            &["07 07 12 34 56", "707123456", "07 12 34 56"],
            &["77 123 45 67", "+221 77 123 45 67", "221771234567"],
            &["01 00 45 92 67", "00 45 92 67", "(225) 0100459267"],
        ];
        for written in cases {
            let all = phones_of(written);
            assert_eq!(all.len(), 1, "{written:?} gave {} numbers", all.len());
            for one in *written {
                assert_eq!(phones_of(&[one]), all, "{one}");
            }
        }
    }

    /// A value that cannot be standardised is flagged (field, which value,
    /// why) and ignored; the usable ones beside it are kept.
    #[test]
    fn unusable_values_are_flagged_and_ignored() {
        let preparer = Preparer::new("CI", NameVariants::builtin()).expect("CI");
        let record = Record {
            given_name: "Awa".into(),
            date_of_birth: "1950-51-01".into(),
            national_id: "Zanzibarine!!".into(),
            phones: vec!["07 07 12 34 56".into(), "+999 Zanzibarine".into()],
            emails: vec!["x@".into(), "awa@orange.ci".into()],
            ..Record::default()
        };
        let (prepared, flags) = preparer.prepare_flagged(&record);
        let flag = |field, index, reason| ValueFlag {
            field,
            index,
            reason,
        };
        assert_eq!(
            flags,
            vec![
                flag(Field::DateOfBirth, 0, Unusable::ImpossibleDate),
                flag(Field::NationalId, 0, Unusable::InvalidNationalId),
                flag(Field::Phone, 1, Unusable::InvalidPhone),
                flag(Field::Email, 0, Unusable::InvalidEmail),
            ]
        );
        assert_eq!(preparer.flags(&record), flags);
        assert_eq!(prepared.rejected_values, 4);
        assert_eq!(prepared.dob, PartialDate::default());
        assert_eq!(prepared.national_id, None);
        assert_eq!(prepared.phones, vec![7_123_456]);
        assert_eq!(prepared.emails.len(), 1);
        assert_eq!(prepared.given.len(), 1);
        let clean = Record {
            date_of_birth: "12/03/1985".into(),
            ..record.clone()
        };
        assert!(!preparer.flags(&clean).contains(&flags[0]));
    }
}
