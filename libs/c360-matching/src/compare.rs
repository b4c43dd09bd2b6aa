//! Pairwise comparison: each field of two prepared records is put in one of
//! a few agreement levels. Level 0 always means "missing on one side" and
//! weighs nothing (missing values are neutral).

use crate::edit::{osa_within, osa_within_ascii, with_ascii_pair};
use crate::jaro::{jaro_winkler, jaro_winkler_ascii};
use c360_standardise::date::PartialDate;

use crate::prepare::{NameToken, Prepared};

/// The compared fields, in the order of a [`Levels`] vector.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CompareField {
    Surname,
    GivenName,
    DateOfBirth,
    Sex,
    NationalId,
    Phone,
    Email,
    Address,
    Locality,
    Postcode,
}

pub const FIELD_COUNT: usize = 10;

/// Levels that rules and the model name outside comparison (each checked
/// against [`CompareField::level_names`] in the tests).
pub mod level {
    /// Given names: "different".
    pub const GIVEN_DIFFERENT: u8 = 6;
    /// Birth dates: "within_year".
    pub const DOB_WITHIN_YEAR: u8 = 4;
    /// Birth dates: "different".
    pub const DOB_DIFFERENT: u8 = 5;
}

impl CompareField {
    pub const ALL: [CompareField; FIELD_COUNT] = [
        CompareField::Surname,
        CompareField::GivenName,
        CompareField::DateOfBirth,
        CompareField::Sex,
        CompareField::NationalId,
        CompareField::Phone,
        CompareField::Email,
        CompareField::Address,
        CompareField::Locality,
        CompareField::Postcode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompareField::Surname => "surname",
            CompareField::GivenName => "given_name",
            CompareField::DateOfBirth => "date_of_birth",
            CompareField::Sex => "sex",
            CompareField::NationalId => "national_id",
            CompareField::Phone => "phone",
            CompareField::Email => "email",
            CompareField::Address => "address",
            CompareField::Locality => "locality",
            CompareField::Postcode => "postcode",
        }
    }

    /// Names of the levels, index = level (index 0 is "missing").
    pub fn level_names(self) -> &'static [&'static str] {
        match self {
            CompareField::Surname => &["missing", "exact", "close", "fuzzy", "different"],
            CompareField::GivenName => &[
                "missing",
                "exact",
                "close",
                "nickname",
                "initial",
                "fuzzy",
                "different",
            ],
            CompareField::DateOfBirth => &[
                "missing",
                "exact",
                "near",
                "partial",
                "within_year",
                "different",
            ],
            CompareField::NationalId => &[
                "missing",
                "exact",
                "one_edit",
                "different",
                "different_valid",
            ],
            CompareField::Address => &["missing", "same", "similar", "overlap", "different"],
            CompareField::Locality => &["missing", "exact", "close", "different"],
            CompareField::Email => &["missing", "exact", "close", "fuzzy", "different"],
            CompareField::Sex | CompareField::Phone | CompareField::Postcode => {
                &["missing", "exact", "different"]
            }
        }
    }

    /// Whether a level is a softer form of the field's last level
    /// ("different"): birth dates apart by less than a year. Where matches
    /// never show it, it weighs as "different" does.
    pub fn is_softer_disagreement(self, level: u8) -> bool {
        matches!(self, CompareField::DateOfBirth) && level == level::DOB_WITHIN_YEAR
    }

    pub fn level_count(self) -> usize {
        self.level_names().len()
    }

    /// A surname or a given name: fields whose close and fuzzy levels are
    /// adjusted by the frequency of the more common of the two names too.
    pub fn is_name(self) -> bool {
        matches!(self, CompareField::Surname | CompareField::GivenName)
    }

    /// Whether a level of a name field is "close" or "fuzzy" (a typo or
    /// two, weighed by the more common of the two names).
    pub fn is_close_name_level(self, level: u8) -> bool {
        match self {
            CompareField::Surname => matches!(level, 2 | 3),
            CompareField::GivenName => matches!(level, 2 | 5),
            _ => false,
        }
    }

    /// Whether the exact level's weight is adjusted by how frequent the
    /// shared value is (a common name weighs less than a rare one; an ID
    /// held by one person's records weighs more as the data grows, which a
    /// level's average agreement estimated from a sample of random pairs
    /// cannot show). E-mails too: a mail provider gives an address to one
    /// holder, and the random-pair sample holds only a few thousand pairs
    /// where both records show one, so its average agreement stays near
    /// 1 in 3,600 (about 11.7 bits) whatever the size of the data, while
    /// the prior falls with it; an address held by a few records of a
    /// million is much rarer than that. An address written for a whole
    /// family is held by the family's records and weighs accordingly.
    pub fn term_frequency_adjusted(self) -> bool {
        matches!(
            self,
            CompareField::Surname
                | CompareField::GivenName
                | CompareField::Phone
                | CompareField::NationalId
                | CompareField::DateOfBirth
                | CompareField::Email
        )
    }
}

/// The comparison vector of a pair: one level per field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Levels(pub [u8; FIELD_COUNT]);

impl Levels {
    pub fn get(&self, field: CompareField) -> u8 {
        self.0[field as usize]
    }

    /// Packs the vector in a `u64` (4 bits per field) for pattern counting.
    pub fn pack(&self) -> u64 {
        self.0
            .iter()
            .enumerate()
            .fold(0u64, |acc, (i, &l)| acc | (u64::from(l) << (4 * i)))
    }

    pub fn unpack(packed: u64) -> Self {
        let mut levels = [0u8; FIELD_COUNT];
        for (i, l) in levels.iter_mut().enumerate() {
            *l = ((packed >> (4 * i)) & 0xF) as u8;
        }
        Levels(levels)
    }
}

/// What a comparison found besides the levels: the shared values whose
/// frequency adjusts the weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub levels: Levels,
    /// Given name and surname matched crosswise (one record has them swapped).
    pub swapped: bool,
    /// How the names were aligned (which words counted as the surname).
    pub alignment: NameAlignment,
    /// The shared phone with the fewest holders, when phones agree.
    pub shared_phone: Option<u64>,
}

impl Comparison {
    /// The comparison with the fields the settings do not compare set to
    /// "missing" (they weigh nothing).
    pub fn masked(mut self, fields: &crate::config::Fields) -> Self {
        for field in CompareField::ALL {
            if !fields.get(field).compare {
                self.levels.0[field as usize] = 0;
                if field == CompareField::Phone {
                    self.shared_phone = None;
                }
            }
        }
        self
    }
}

/// Which words of the two records were compared as surnames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameAlignment {
    /// Each record's surname with the other's surname.
    #[default]
    AsWritten,
    /// Given name and surname crossed (one record has them swapped).
    Crossed,
    /// The first record's name was a guessed split of a full name: its
    /// word at this position (given words first, then surname words) is the
    /// surname, the others the given name.
    FirstResplit(u8),
    /// The same for the second record.
    SecondResplit(u8),
}

/// Phone numbers held by more records than this are "hot" (an agent's or a
/// shop's phone): they neither block nor count as evidence.
#[derive(Clone, Copy, Debug)]
pub struct PhoneHeat<'a> {
    pub counts: &'a rustc_hash::FxHashMap<u64, u32>,
    pub hot_threshold: u32,
}

impl PhoneHeat<'_> {
    pub fn is_hot(&self, phone: u64) -> bool {
        self.counts.get(&phone).copied().unwrap_or(0) > self.hot_threshold
    }

    pub fn count(&self, phone: u64) -> u32 {
        self.counts.get(&phone).copied().unwrap_or(1)
    }
}

pub fn compare(a: &Prepared, b: &Prepared, heat: PhoneHeat<'_>) -> Comparison {
    let (levels, alignment) = person_levels(a, b);
    complete(a, b, heat, levels, alignment)
}

/// Compares the person-level fields first (names, birth date, national ID,
/// email) and stops there when `stop` says so (a cannot-link rule fires:
/// most candidate pairs are neighbours and relatives, and their other
/// fields do not matter). The rules are the caller's: comparison knows
/// levels, not what they forbid.
pub fn compare_unless<E>(
    a: &Prepared,
    b: &Prepared,
    heat: PhoneHeat<'_>,
    stop: impl FnOnce(&Levels) -> Option<E>,
) -> Result<Comparison, E> {
    let (levels, alignment) = person_levels(a, b);
    if let Some(reason) = stop(&Levels(levels)) {
        return Err(reason);
    }
    Ok(complete(a, b, heat, levels, alignment))
}

fn person_levels(a: &Prepared, b: &Prepared) -> ([u8; FIELD_COUNT], NameAlignment) {
    let mut levels = [0u8; FIELD_COUNT];
    let (surname, given, alignment) = compare_names(a, b);
    levels[CompareField::Surname as usize] = surname;
    levels[CompareField::GivenName as usize] = given_level(given, a, b, alignment);
    levels[CompareField::DateOfBirth as usize] = compare_dates(&a.dob, &b.dob);
    levels[CompareField::NationalId as usize] = match (&a.national_id, &b.national_id) {
        (Some(x), Some(y)) => match compare_ids(x, y) {
            // Two valid numbers of one scheme that differ: two people.
            3 if a.id_scheme.is_some() && a.id_scheme == b.id_scheme => 4,
            level => level,
        },
        _ => 0,
    };
    levels[CompareField::Email as usize] = compare_emails(&a.emails, &b.emails);
    (levels, alignment)
}

fn complete(
    a: &Prepared,
    b: &Prepared,
    heat: PhoneHeat<'_>,
    mut levels: [u8; FIELD_COUNT],
    alignment: NameAlignment,
) -> Comparison {
    levels[CompareField::Sex as usize] = match (a.sex, b.sex) {
        (Some(x), Some(y)) => 1 + u8::from(x != y),
        _ => 0,
    };
    let (phone, shared_phone) = compare_phones(&a.phones, &b.phones, heat);
    levels[CompareField::Phone as usize] = phone;
    levels[CompareField::Address as usize] = compare_addresses(&a.address, &b.address);
    levels[CompareField::Locality as usize] = compare_localities(a, b);
    levels[CompareField::Postcode as usize] = match (&*a.postcode, &*b.postcode) {
        ("", _) | (_, "") => 0,
        (x, y) => 1 + u8::from(x != y),
    };
    Comparison {
        levels: Levels(levels),
        swapped: alignment == NameAlignment::Crossed,
        alignment,
        shared_phone,
    }
}

/// Compares the names in both alignments (as written, and given name and
/// surname crossed) and keeps the better one. A name that was a guessed
/// split of a full name of three words or more is also tried with each of
/// its words as the surname ("DIENG Aminata Ngoné" may have been split as
/// given "dieng aminata", surname "ngone").
///
/// An alignment replaces the best one only when its sum of levels is
/// strictly lower, and a level is at least 1 when both sides have words:
/// a level that could not make the sum lower is not computed, and one that
/// could only by being exact is only checked for that.
fn compare_names(a: &Prepared, b: &Prepared) -> (u8, u8, NameAlignment) {
    let (surname, given, alignment) = compare_written_names(a, b);
    if surname + given <= 2 {
        return (surname, given, alignment);
    }
    let mut best = (surname, given, alignment);
    let sum = |x: &(u8, u8, NameAlignment)| x.0 + x.1;
    for (guessed, other, first) in [(a, b, true), (b, a, false)] {
        let words = guessed.given.len() + guessed.surname.len();
        if !guessed.split_guessed || !(3..=MAX_RESPLIT_WORDS).contains(&words) {
            continue;
        }
        let mut words_of = guessed.given.iter().chain(&guessed.surname);
        let Some(first_word) = words_of.next() else {
            continue;
        };
        let mut all: [&NameToken; MAX_RESPLIT_WORDS] = [first_word; MAX_RESPLIT_WORDS];
        for (slot, t) in all[1..].iter_mut().zip(words_of) {
            *slot = t;
        }
        let all = &all[..words];
        // The given name has two words or more: its level is 0 only when
        // the other record has no given name.
        let given_floor = u8::from(!other.given.is_empty());
        for k in 0..words {
            let surname = &all[k..=k];
            let Some(s) = level_below(
                surname,
                &surname[0].text,
                &other.surname[..],
                &other.surname_joined,
                sum(&best) - given_floor,
            ) else {
                continue;
            };
            let mut given: [&NameToken; MAX_RESPLIT_WORDS - 1] = [all[0]; MAX_RESPLIT_WORDS - 1];
            for (slot, t) in given.iter_mut().zip(
                all.iter()
                    .enumerate()
                    .filter(|&(i, _)| i != k)
                    .map(|(_, &t)| t),
            ) {
                *slot = t;
            }
            let given = &given[..words - 1];
            let joined = Joined::new(given);
            let Some(g) = level_below(
                given,
                joined.as_str(),
                &other.given[..],
                &other.given_joined,
                sum(&best) - s,
            ) else {
                continue;
            };
            let alignment = if first {
                NameAlignment::FirstResplit(k as u8)
            } else {
                NameAlignment::SecondResplit(k as u8)
            };
            best = (s, g, alignment);
        }
    }
    best
}

/// The given-name level from the name comparison's (1 exact, 2 close, 3
/// fuzzy, 4 different), with two levels of their own when the names were
/// compared as written: 3 "nickname" (Bill / William, Fatou / Fatoumata)
/// and 4 "initial" ("J" / "John"); fuzzy becomes 5 and different 6.
fn given_level(level: u8, a: &Prepared, b: &Prepared, alignment: NameAlignment) -> u8 {
    if !matches!(level, 3 | 4) {
        return level;
    }
    if alignment == NameAlignment::AsWritten {
        if sorted_intersect(&a.given_nicknames, &b.given_nicknames) {
            return 3;
        }
        if level == 4 && is_initial_of(a, b) {
            return 4;
        }
    }
    if level == 3 { 5 } else { 6 }
}

/// One given name is a single letter, the first letter of the other's.
fn is_initial_of(a: &Prepared, b: &Prepared) -> bool {
    let (Some(x), Some(y)) = (a.given.first(), b.given.first()) else {
        return false;
    };
    let (short, long) = if x.text.len() <= y.text.len() {
        (x, y)
    } else {
        (y, x)
    };
    short.text.len() == 1 && long.text.as_bytes().first() == short.text.as_bytes().first()
}

/// Longest guessed full name whose other splits are tried.
const MAX_RESPLIT_WORDS: usize = 4;

/// Words joined without spaces, on the stack when short (as names are).
enum Joined {
    Stack([u8; 64], usize),
    Heap(String),
}

impl Joined {
    fn new(words: &[&NameToken]) -> Self {
        let mut buf = [0u8; 64];
        let mut len = 0;
        for w in words {
            let Some(slot) = buf.get_mut(len..len + w.text.len()) else {
                return Joined::Heap(words.iter().map(|t| &*t.text).collect());
            };
            slot.copy_from_slice(w.text.as_bytes());
            len += w.text.len();
        }
        Joined::Stack(buf, len)
    }

    fn as_str(&self) -> &str {
        match self {
            // Whole `str`s, so whole characters, were copied.
            Joined::Stack(buf, len) => std::str::from_utf8(&buf[..*len]).expect("joined strs"),
            Joined::Heap(s) => s,
        }
    }
}

/// [`name_level`] when it is below `bound`, else `None`. Nothing more is
/// computed than what tells: below 1 (missing), below 2 (exact).
fn level_below<'a, 'b>(
    a: impl Words<'a>,
    a_joined: &str,
    b: impl Words<'b>,
    b_joined: &str,
    bound: u8,
) -> Option<u8> {
    let missing = a.count() == 0 || b.count() == 0;
    let level = match bound {
        0 => return None,
        1 | 2 if missing => 0,
        2 if exact(a, a_joined, b, b_joined) => 1,
        1 | 2 => return None,
        _ => name_level(a, a_joined, b, b_joined),
    };
    (level < bound).then_some(level)
}

fn compare_written_names(a: &Prepared, b: &Prepared) -> (u8, u8, NameAlignment) {
    let straight_surname = name_level(
        &a.surname[..],
        &a.surname_joined,
        &b.surname[..],
        &b.surname_joined,
    );
    let straight_given = name_level(&a.given[..], &a.given_joined, &b.given[..], &b.given_joined);
    let straight = (straight_surname, straight_given, NameAlignment::AsWritten);
    // Crossing only helps when both sides have both parts.
    if a.given.is_empty() || a.surname.is_empty() || b.given.is_empty() || b.surname.is_empty() {
        return straight;
    }
    if straight_surname == 1 && straight_given == 1 {
        return straight;
    }
    // Both crossed levels are at least 1 (every part has words) and only a
    // lower sum replaces the names as written.
    let straight_sum = straight_surname + straight_given;
    let Some(crossed_a) = level_below(
        &a.surname[..],
        &a.surname_joined,
        &b.given[..],
        &b.given_joined,
        straight_sum - 1,
    ) else {
        return straight;
    };
    let Some(crossed_b) = level_below(
        &a.given[..],
        &a.given_joined,
        &b.surname[..],
        &b.surname_joined,
        straight_sum - crossed_a,
    ) else {
        return straight;
    };
    // Which record has its names swapped is unknown, so which crossed
    // comparison is "the given name" is too. Keep the result symmetric and
    // cautious: the worse agreement counts as the given name. "Yao Josiane"
    // against "Franck Yao" is a shared family name with two given names (a
    // household), not one given name with two surnames.
    (
        crossed_a.min(crossed_b),
        crossed_a.max(crossed_b),
        NameAlignment::Crossed,
    )
}

/// The words of one side of a name comparison: a record's tokens, or some
/// of them (another split of a guessed full name).
trait Words<'a>: Copy {
    fn count(self) -> usize;
    fn tokens(self) -> impl Iterator<Item = &'a NameToken>;
}

impl<'a> Words<'a> for &'a [NameToken] {
    fn count(self) -> usize {
        self.len()
    }

    fn tokens(self) -> impl Iterator<Item = &'a NameToken> {
        self.iter()
    }
}

impl<'a> Words<'a> for &[&'a NameToken] {
    fn count(self) -> usize {
        self.len()
    }

    fn tokens(self) -> impl Iterator<Item = &'a NameToken> {
        self.iter().copied()
    }
}

/// Level 1 of [`name_level`] (both sides have words).
fn exact<'a, 'b>(a: impl Words<'a>, a_joined: &str, b: impl Words<'b>, b_joined: &str) -> bool {
    same_text(a_joined, b_joined) || same_token_set(a, b)
}

/// 1 exact, 2 close, 3 fuzzy, 4 different, 0 missing.
fn name_level<'a, 'b>(a: impl Words<'a>, a_joined: &str, b: impl Words<'b>, b_joined: &str) -> u8 {
    if a.count() == 0 || b.count() == 0 {
        return 0;
    }
    if exact(a, a_joined, b, b_joined) {
        return 1;
    }
    let shortest = a_joined.len().min(b_joined.len());
    if a.count() <= b.count() {
        inexact_level(a, b, a_joined, b_joined, shortest)
    } else {
        inexact_level(b, a, a_joined, b_joined, shortest)
    }
}

/// The rest of [`name_level`], with the side with fewer words as `short`.
#[inline]
fn inexact_level<'s, 'l>(
    short: impl Words<'s>,
    long: impl Words<'l>,
    a_joined: &str,
    b_joined: &str,
    shortest: usize,
) -> u8 {
    let all_short_in_long = short.tokens().all(|s| {
        long.tokens()
            .any(|l| same_text(&l.text, &s.text) || same_text(&l.key, &s.key))
    });
    if all_short_in_long {
        return 2;
    }
    // Both measures look up the bytes of `a` in `b`: index `b` once.
    with_ascii_pair!(a_joined, b_joined, |x, p| {
        let edits = osa_within_ascii(x, &p, 3);
        fuzzy_level(edits, shortest, || jaro_winkler_ascii(x, &p), short, long)
    })
    .unwrap_or_else(|| {
        let edits = osa_within(a_joined, b_joined, 3);
        fuzzy_level(
            edits,
            shortest,
            || jaro_winkler(a_joined, b_joined),
            short,
            long,
        )
    })
}

/// The end of [`name_level`], for names that are neither equal nor one
/// contained in the other: by the edit distance of the joined names (when
/// at most 3), their Jaro-Winkler similarity (computed only when needed),
/// and whether a token is shared.
#[inline(always)]
fn fuzzy_level<'s, 'l>(
    edits: Option<usize>,
    shortest: usize,
    jaro_winkler: impl FnOnce() -> f64,
    short: impl Words<'s>,
    long: impl Words<'l>,
) -> u8 {
    let edits = edits.unwrap_or(usize::MAX);
    if edits <= 1 && shortest >= 5 {
        return 2;
    }
    let joined_similarity = jaro_winkler();
    if joined_similarity >= 0.92 {
        return 2;
    }
    if joined_similarity >= 0.80
        || edits <= 1
        || edits <= 2 && shortest >= 4
        || edits <= 3 && shortest >= 7
    {
        return 3;
    }
    let shares_token = short.tokens().any(|s| {
        long.tokens().any(|l| {
            same_text(&l.key, &s.key)
                || similar_keys(&l.key, &s.key)
                || similar_tokens(&l.text, &s.text)
        })
    });
    if shares_token { 3 } else { 4 }
}

/// Two phonetic keys of four letters or more one edit apart, starting
/// alike: the sound of a name with one typo in it ("kwsi" for "Kouassi":
/// keys "kusi" and "kuasi").
fn similar_keys(a: &str, b: &str) -> bool {
    a.len().min(b.len()) >= 4
        && a.as_bytes().first() == b.as_bytes().first()
        && within_one_edit(a.as_bytes(), b.as_bytes())
}

/// Whether an optimal-string-alignment distance of at most 1 separates two
/// byte strings (one substitution, insertion, deletion or swap of
/// neighbours), in one pass: it runs on most candidate pairs.
fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let p = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if p == short.len() {
        return true;
    }
    if short.len() < long.len() {
        return short[p..] == long[p + 1..];
    }
    short[p + 1..] == long[p + 1..]
        || (p + 1 < short.len()
            && short[p] == long[p + 1]
            && short[p + 1] == long[p]
            && short[p + 2..] == long[p + 2..])
}

/// The shorter of two tokens, three letters or more, is the longer one with
/// letters left out and starts alike: a prefix, or an abbreviation written
/// without vowels ("msa" for "moussa").
fn abbreviates(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.len() < 3 || short.as_bytes().first() != long.as_bytes().first() {
        return false;
    }
    let mut rest = long.bytes();
    short.bytes().all(|c| rest.any(|d| d == c))
}

/// Two name tokens that a typo or two could turn into each other, or an
/// abbreviation ("jea", "k") of the other.
fn similar_tokens(a: &str, b: &str) -> bool {
    let shortest = a.len().min(b.len());
    let same_start = a.as_bytes().first() == b.as_bytes().first();
    // (A prefix of the other starts the same: checked first, it is cheap.)
    if shortest >= 1 && same_start && (a.starts_with(b) || b.starts_with(a)) {
        return true;
    }
    if abbreviates(a, b) {
        return true;
    }
    if same_start && shortest >= 2 && a.len().max(b.len()) <= 4 {
        return osa_within(a, b, 2).is_some();
    }
    // A typo on each side of a short name ("ftou", "fatuo").
    if same_start && shortest >= 4 && osa_within(a, b, 2).is_some() {
        return true;
    }
    if shortest < 4 || a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    (same_start && jaro_winkler(a, b) >= 0.85) || (shortest >= 5 && osa_within(a, b, 2).is_some())
}

fn same_token_set<'a, 'b>(a: impl Words<'a>, b: impl Words<'b>) -> bool {
    a.count() == b.count()
        && a.tokens()
            .all(|t| b.tokens().any(|u| same_text(&u.text, &t.text)))
}

/// `a == b`, deciding most unequal names by their length and first byte
/// before comparing the rest (a call to `memcmp`).
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// `a.cmp(b)`, deciding by the first byte when it differs (as it mostly
/// does) before comparing the rest.
#[inline]
fn cmp_text(a: &str, b: &str) -> std::cmp::Ordering {
    a.as_bytes()
        .first()
        .cmp(&b.as_bytes().first())
        .then_with(|| a.cmp(b))
}

mod fields;

pub use fields::compare_dates;
use fields::{
    compare_addresses, compare_emails, compare_ids, compare_localities, compare_phones,
    sorted_intersect,
};

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests;
