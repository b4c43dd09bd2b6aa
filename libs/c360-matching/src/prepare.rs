//! Standardised records: what the comparators and blocking keys read.

use c360_core::Record;
use c360_standardise::date::{PartialDate, parse_date};
use c360_standardise::email::normalise_email;
use c360_standardise::id::normalise_national_id;
use c360_standardise::names::{NameVariants, looks_swapped, phonetic, split_full_name};
use c360_standardise::phone::PhoneNormaliser;
use c360_standardise::sex::{Sex, parse_sex};
use c360_standardise::text::{fold, tokens};

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
    pub dob: PartialDate,
    pub sex: Option<Sex>,
    pub national_id: Option<Box<str>>,
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
    /// impossible date, ...): they are dropped, not guessed.
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
    phones: PhoneNormaliser,
    /// Normalisers for the other supported countries, tried in turn when a
    /// number does not parse under the record's or the default country.
    fallback_phones: Vec<PhoneNormaliser>,
    variants: NameVariants,
}

/// Countries whose numbering plans the fast path knows.
const PHONE_COUNTRIES: [&str; 4] = ["CI", "SN", "ML", "BF"];

/// The ISO code of a country as people write it ("Côte d'Ivoire", "CIV",
/// "Sénégal", ...), for the supported countries.
fn country_code(raw: &str) -> Option<&'static str> {
    let folded = fold(raw);
    let code = match folded.as_str() {
        "ci" | "civ" | "cote d ivoire" | "cote divoire" | "ivory coast" | "rci" => "CI",
        "sn" | "sen" | "senegal" => "SN",
        "ml" | "mli" | "mali" => "ML",
        "bf" | "bfa" | "burkina" | "burkina faso" => "BF",
        _ => return None,
    };
    Some(code)
}

/// Address tokens that carry no information ("rue", "quartier", "pres du").
const ADDRESS_STOPWORDS: &[&str] = &[
    "a",
    "au",
    "aux",
    "avenue",
    "av",
    "bd",
    "boulevard",
    "cite",
    "d",
    "de",
    "derriere",
    "des",
    "du",
    "en",
    "et",
    "face",
    "l",
    "la",
    "le",
    "les",
    "lot",
    "pres",
    "quartier",
    "qtier",
    "qt",
    "rue",
    "street",
    "st",
    "x",
];

impl Preparer {
    pub fn new(default_country: &str, variants: NameVariants) -> Result<Self, crate::Error> {
        let phones = PhoneNormaliser::new(default_country)
            .map_err(|e| crate::Error::Config(format!("default country: {e}")))?;
        let fallback_phones = PHONE_COUNTRIES
            .iter()
            .filter(|&&c| c != phones.default_country())
            .filter_map(|c| PhoneNormaliser::new(c).ok())
            .collect();
        Ok(Preparer {
            phones,
            fallback_phones,
            variants,
        })
    }

    pub fn prepare(&self, record: &Record) -> Prepared {
        let mut out = Prepared::default();
        self.prepare_names(record, &mut out);
        out.dob = match record.date_of_birth.trim() {
            "" => PartialDate::default(),
            raw => parse_date(raw).unwrap_or_else(|_| {
                out.rejected_values += 1;
                PartialDate::default()
            }),
        };
        out.sex = parse_sex(&record.sex);
        out.national_id = normalise_national_id(&record.national_id).map(|id| id_core(&id).into());
        let record_country = country_code(&record.country);
        for raw in &record.phones {
            match self.normalise_phone(raw, record_country) {
                Some(n) => out.phones.push(n),
                None => out.rejected_values = out.rejected_values.saturating_add(1),
            }
        }
        out.phones.sort_unstable();
        out.phones.dedup();
        out.emails = record
            .emails
            .iter()
            .filter_map(|e| normalise_email(e))
            .map(Into::into)
            .collect();
        out.emails.sort_unstable();
        out.emails.dedup();
        let mut address: Vec<Box<str>> = tokens(&record.address)
            .into_iter()
            .filter(|t| !ADDRESS_STOPWORDS.contains(&t.as_str()))
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
        out
    }

    /// A phone as its subscriber number: the last eight digits of its E.164
    /// form. Those survive the Ivorian 2021 renumbering (which only added a
    /// two-digit prefix) and a wrong guess of the country, so "96 99 12 41"
    /// read as Ivorian and "+223 96 99 12 41" still agree.
    fn normalise_phone(&self, raw: &str, record_country: Option<&str>) -> Option<u64> {
        let by_record = record_country
            .filter(|c| *c != self.phones.default_country())
            .and_then(|c| {
                self.fallback_phones
                    .iter()
                    .find(|p| p.default_country() == c)
            });
        let e164 = by_record
            .into_iter()
            .chain(std::iter::once(&self.phones))
            .chain(self.fallback_phones.iter())
            .find_map(|p| p.normalise(raw).ok())?;
        let digits: u64 = e164.trim_start_matches('+').parse().ok()?;
        Some(digits % 100_000_000)
    }

    fn prepare_names(&self, record: &Record, out: &mut Prepared) {
        let (mut given, mut surname) = (tokens(&record.given_name), tokens(&record.surname));
        given.extend(tokens(&record.middle_name));
        if given.is_empty() && surname.is_empty() && !record.full_name.trim().is_empty() {
            (given, surname) = split_full_name(&record.full_name);
            out.split_guessed = true;
        }
        if looks_swapped(&given, &surname) {
            std::mem::swap(&mut given, &mut surname);
            out.swapped = true;
        }
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

/// A national ID without its leading letters ("C0012345678" and
/// "CI-0012-3456-78" are one Ivorian ID written two ways), when enough is left.
fn id_core(id: &str) -> &str {
    let core = id.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    if core.len() >= 6 { core } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
