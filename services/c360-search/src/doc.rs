//! What is indexed about a client, and how it is analysed.
//!
//! Names go through `c360-standardise` exactly as matching does (folding,
//! name-variant canonical spellings, phonetic keys), so search and matching
//! agree on what "the same name" is; the spellings themselves are kept too,
//! so an exact spelling can outrank a variant (see [`crate::evidence`]).
//! Phones the normaliser cannot place are indexed by their digits.

use std::collections::BTreeSet;
use std::fmt;

use c360_standardise::address::is_address_stopword;
use c360_standardise::date::parse_date;
use c360_standardise::email::normalise_email;
use c360_standardise::id::{national_id_core, normalise_national_id};
use c360_standardise::names::{NameVariants, split_full_name};
use c360_standardise::phone::PhoneNormaliser;
use c360_standardise::places::country_code;
use c360_standardise::sector::Sector;
use c360_standardise::text::{fold, tokens};

use crate::evidence::{NameSets, NameTable};

/// One client as the index sees it: raw values from its golden record (and
/// the other spellings its member records carry). `Debug` shows the number
/// only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientDoc {
    pub client_number: String,
    pub given_name: String,
    pub middle_name: String,
    pub surname: String,
    pub full_name: String,
    /// Other spellings of the name found in member records, raw.
    pub other_names: Vec<String>,
    pub date_of_birth: String,
    pub national_ids: Vec<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub address: String,
    pub locality: String,
    pub region: String,
    pub country: String,
    /// Source systems of the member records.
    pub source_systems: Vec<String>,
}

impl fmt::Debug for ClientDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientDoc")
            .field("client_number", &self.client_number)
            .finish_non_exhaustive()
    }
}

pub(crate) fn push_distinct(list: &mut Vec<String>, value: &str) {
    let value = value.trim();
    if !value.is_empty() && !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

impl ClientDoc {
    fn has_name(&self) -> bool {
        [&self.given_name, &self.surname, &self.full_name]
            .iter()
            .any(|s| !s.trim().is_empty())
    }

    /// The client's sector in the Identity / Accessibility / Traceability
    /// diagram: Identity = a name and a birth date or national id;
    /// Accessibility = a phone, e-mail or address; Traceability = a record
    /// in a transactional source system (`transactional`).
    pub fn sector(&self, transactional: &[String]) -> Option<char> {
        let identity =
            self.has_name() && (!self.date_of_birth.is_empty() || !self.national_ids.is_empty());
        let access =
            !self.phones.is_empty() || !self.emails.is_empty() || !self.address.trim().is_empty();
        let trace = self
            .source_systems
            .iter()
            .any(|s| transactional.iter().any(|t| t == s));
        Sector::of(identity, access, trace).letter()
    }

    /// (surname words, given words) for display, as written when the record
    /// splits them, else guessed from the full name.
    pub fn display_parts(&self) -> (String, String) {
        let given = [self.given_name.trim(), self.middle_name.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let surname = self.surname.trim().to_string();
        if !surname.is_empty() || !given.is_empty() {
            return (surname, given);
        }
        let (given, surname) = split_full_name(&self.full_name);
        (title_case(&surname), title_case(&given))
    }
}

fn title_case(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The display name: surname in capitals, then the given names.
pub fn display_name(surname: &str, given: &str, masked: bool) -> String {
    let surname: Vec<String> = surname
        .split_whitespace()
        .map(|w| {
            if masked {
                let initial: String = w.chars().take(1).flat_map(char::to_uppercase).collect();
                format!("{initial}*****")
            } else {
                w.to_uppercase()
            }
        })
        .collect();
    let mut out = surname.join(" ");
    if !given.trim().is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(given.trim());
    }
    out
}

/// Countries whose numbering plans the fast path of the normaliser knows.
const PHONE_COUNTRIES: [&str; 4] = ["CI", "SN", "ML", "BF"];

/// The analysis shared by indexing and querying.
#[derive(Debug, Clone)]
pub struct Analyzer {
    names: NameTable,
    /// The default country first, then the other supported ones.
    phones: Vec<PhoneNormaliser>,
}

/// A client's values as index terms.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Analysed {
    pub names: NameSets,
    pub grams: BTreeSet<String>,
    /// E.164 numbers, and the digits of phones that could not be placed.
    pub phones: BTreeSet<String>,
    pub phone8: BTreeSet<String>,
    /// The last 2 to 7 digits of each phone (a phone ending narrows a
    /// search among namesakes).
    pub phone_ends: BTreeSet<String>,
    /// Year of birth, when the birth date has one.
    pub birth_year: Option<u16>,
    pub ids: BTreeSet<String>,
    pub emails: BTreeSet<String>,
    pub places: BTreeSet<String>,
    pub address: BTreeSet<String>,
    pub region: String,
}

impl Analyzer {
    /// `default_country`: ISO code used for phone numbers written without
    /// a country prefix when the record names no country.
    pub fn new(default_country: &str) -> Result<Analyzer, String> {
        let default =
            PhoneNormaliser::new(default_country).map_err(|e| format!("default_country: {e}"))?;
        let mut phones = vec![default];
        for c in PHONE_COUNTRIES {
            if c != phones[0].default_country() {
                phones.extend(PhoneNormaliser::new(c).ok());
            }
        }
        Ok(Analyzer {
            names: NameTable::new(NameVariants::builtin()),
            phones,
        })
    }

    /// Folded name tokens, as spelled.
    pub fn name_tokens(&self, text: &str) -> Vec<String> {
        tokens(text)
            .into_iter()
            .filter(|t| t.bytes().any(|b| b.is_ascii_alphabetic()))
            .collect()
    }

    /// The name-variant table.
    pub fn names(&self) -> &NameTable {
        &self.names
    }

    /// A phone in E.164, read in the record's country first.
    pub fn phone(&self, raw: &str, country: Option<&str>) -> Option<String> {
        let by_country =
            country.and_then(|c| self.phones.iter().find(|p| p.default_country() == c));
        by_country
            .into_iter()
            .chain(self.phones.iter())
            .find_map(|p| p.normalise(raw).ok())
    }

    pub fn analyse(&self, doc: &ClientDoc) -> Analysed {
        let mut a = Analysed::default();
        let golden = [
            &doc.given_name,
            &doc.middle_name,
            &doc.surname,
            &doc.full_name,
        ]
        .into_iter()
        .flat_map(|text| self.name_tokens(text));
        let other: Vec<String> = doc
            .other_names
            .iter()
            .flat_map(|text| self.name_tokens(text))
            .collect();
        a.names = NameSets::new(self.names.variants(), golden, &other);
        for t in a.names.tokens() {
            a.grams.extend(trigrams(t));
        }
        let country = country_code(&doc.country);
        for raw in &doc.phones {
            // A phone the normaliser cannot place is still findable by its
            // digits (it is kept and flagged upstream, not dropped).
            let value = match self.phone(raw, country) {
                Some(e164) => e164,
                None => raw.chars().filter(char::is_ascii_digit).collect(),
            };
            if value.len() < 2 {
                continue;
            }
            a.phone8.insert(last8(&value));
            a.phone_ends.extend(phone_ends(&value));
            a.phones.insert(value);
        }
        a.birth_year = parse_date(&doc.date_of_birth).ok().and_then(|d| d.year);
        a.ids
            .extend(doc.national_ids.iter().filter_map(|i| national_id(i)));
        a.emails
            .extend(doc.emails.iter().filter_map(|e| normalise_email(e)));
        for text in [&doc.locality, &doc.region] {
            a.places.extend(tokens(text));
        }
        a.address.extend(
            tokens(&doc.address)
                .into_iter()
                .filter(|t| !is_address_stopword(t) && t.len() > 1),
        );
        a.region = fold(&doc.region);
        a
    }
}

/// A national id as matching compares it: normalised (separators and
/// country prefix removed), then leading letters dropped when at least six
/// characters remain (`C0012345678` and `CI 0012 3456 78` agree).
pub fn national_id(raw: &str) -> Option<String> {
    let id = normalise_national_id(raw)?;
    Some(national_id_core(&id).to_string())
}

/// The last 8 digits of a phone (the subscriber number, stable across the
/// Ivorian 2021 renumbering and a wrong guess of the country).
pub fn last8(digits_or_e164: &str) -> String {
    let digits: Vec<u8> = digits_or_e164.bytes().filter(u8::is_ascii_digit).collect();
    let start = digits.len().saturating_sub(8);
    String::from_utf8_lossy(&digits[start..]).into_owned()
}

/// Shortest and longest phone ending indexed (8 digits is a phone).
pub const PHONE_END_DIGITS: std::ops::RangeInclusive<usize> = 2..=7;

/// The last 2 to 7 digits of a phone (`…14`, `…514`, …).
pub fn phone_ends(digits_or_e164: &str) -> Vec<String> {
    let digits: Vec<u8> = digits_or_e164.bytes().filter(u8::is_ascii_digit).collect();
    PHONE_END_DIGITS
        .filter(|&n| n < digits.len())
        .map(|n| String::from_utf8_lossy(&digits[digits.len() - n..]).into_owned())
        .collect()
}

/// Character trigrams of a token padded with `^` and `$`, for tokens too
/// mangled for edit distance and phonetics.
pub fn trigrams(token: &str) -> Vec<String> {
    let padded: Vec<char> = format!("^{token}$").chars().collect();
    padded
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kouassi() -> ClientDoc {
        ClientDoc {
            client_number: "C0000012K".into(),
            given_name: "Konan".into(),
            surname: "KOUASSI".into(),
            date_of_birth: "1985-03-02".into(),
            national_ids: vec!["CI-0012-3456-78".into()],
            phones: vec!["07 07 12 34 56".into()],
            emails: vec!["K.Kouassi@Mail.CI".into()],
            address: "Rue des Jardins, près de la pharmacie".into(),
            locality: "Abobo".into(),
            region: "Lagunes".into(),
            country: "CI".into(),
            source_systems: vec!["core_banking".into()],
            ..ClientDoc::default()
        }
    }

    #[test]
    fn analysis_uses_standardised_forms() {
        let a = Analyzer::new("CI").unwrap().analyse(&kouassi());
        assert!(a.names.golden.contains("kouassi") && a.names.golden.contains("konan"));
        assert!(
            a.names
                .phonetic
                .contains(&c360_standardise::names::phonetic("kouasi"))
        );
        assert!(a.phones.contains("+2250707123456"));
        assert!(a.phone8.contains("07123456"));
        assert!(a.phone_ends.contains("56") && a.phone_ends.contains("7123456"));
        assert_eq!(a.birth_year, Some(1985));
        assert!(a.ids.contains("0012345678"));
        assert_eq!(national_id("C0012345678").as_deref(), Some("0012345678"));
        assert!(a.emails.contains("k.kouassi@mail.ci"));
        assert!(a.places.contains("abobo") && a.places.contains("lagunes"));
        assert!(a.address.contains("jardins") && !a.address.contains("rue"));
        assert_eq!(a.region, "lagunes");
        assert!(trigrams("ab").contains(&"^ab".to_string()));
    }

    #[test]
    fn sectors_follow_the_diagram() {
        let tx = vec!["core_banking".to_string()];
        let mut d = kouassi();
        assert_eq!(d.sector(&tx), Some('A'));
        d.source_systems = vec!["agent_app".into()];
        assert_eq!(d.sector(&tx), Some('B'));
        d.phones.clear();
        d.emails.clear();
        d.address.clear();
        assert_eq!(d.sector(&tx), Some('C'));
        let lottery = ClientDoc {
            phones: vec!["0707123456".into()],
            ..ClientDoc::default()
        };
        assert_eq!(lottery.sector(&tx), Some('Y'));
    }

    #[test]
    fn display_and_masking() {
        let (s, g) = kouassi().display_parts();
        assert_eq!(display_name(&s, &g, false), "KOUASSI Konan");
        assert_eq!(display_name(&s, &g, true), "K***** Konan");
        let full = ClientDoc {
            full_name: "KONE Awa".into(),
            ..ClientDoc::default()
        };
        let (s, g) = full.display_parts();
        assert_eq!(display_name(&s, &g, false), "KONE Awa");
        assert_eq!(
            format!("{:?}", kouassi()),
            "ClientDoc { client_number: \"C0000012K\", .. }"
        );
    }
}
