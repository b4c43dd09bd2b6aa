//! The name comparison as it was first written (per-pair allocations,
//! strsim's measures), kept for the tests: the optimised one must give the
//! same levels and alignment for every pair.

use strsim::jaro_winkler;

use super::NameAlignment;
use crate::prepare::{NameToken, Prepared};

fn osa_within(a: &str, b: &str, k: usize) -> Option<usize> {
    let d = strsim::osa_distance(a, b);
    (d <= k).then_some(d)
}

/// Compares the names in both alignments (as written, and given name and
/// surname crossed) and keeps the better one. A name that was a guessed
/// split of a full name of three words or more is also tried with each of
/// its words as the surname ("DIENG Aminata Ngoné" may have been split as
/// given "dieng aminata", surname "ngone").
pub(super) fn compare_names(a: &Prepared, b: &Prepared) -> (u8, u8, NameAlignment) {
    let (surname, given, alignment) = compare_written_names(a, b);
    if surname + given <= 2 {
        return (surname, given, alignment);
    }
    let mut best = (surname, given, alignment);
    let sum = |x: &(u8, u8, NameAlignment)| u16::from(x.0) + u16::from(x.1);
    for (guessed, other, first) in [(a, b, true), (b, a, false)] {
        let words = guessed.given.len() + guessed.surname.len();
        if !guessed.split_guessed || !(3..=MAX_RESPLIT_WORDS).contains(&words) {
            continue;
        }
        let all: Vec<&NameToken> = guessed.given.iter().chain(&guessed.surname).collect();
        for k in 0..words {
            let surname = [all[k].clone()];
            let given: Vec<NameToken> = all
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != k)
                .map(|(_, t)| (*t).clone())
                .collect();
            let given_joined: String = given.iter().map(|t| &*t.text).collect();
            let s = name_level(
                &surname,
                &surname[0].text,
                &other.surname,
                &other.surname_joined,
            );
            let g = name_level(&given, &given_joined, &other.given, &other.given_joined);
            let alignment = if first {
                NameAlignment::FirstResplit(k as u8)
            } else {
                NameAlignment::SecondResplit(k as u8)
            };
            let candidate = (s, g, alignment);
            if sum(&candidate) < sum(&best) {
                best = candidate;
            }
        }
    }
    best
}

/// Longest guessed full name whose other splits are tried.
const MAX_RESPLIT_WORDS: usize = 4;

fn compare_written_names(a: &Prepared, b: &Prepared) -> (u8, u8, NameAlignment) {
    let straight_surname = name_level(&a.surname, &a.surname_joined, &b.surname, &b.surname_joined);
    let straight_given = name_level(&a.given, &a.given_joined, &b.given, &b.given_joined);
    let straight = (straight_surname, straight_given, NameAlignment::AsWritten);
    // Crossing only helps when both sides have both parts.
    if a.given.is_empty() || a.surname.is_empty() || b.given.is_empty() || b.surname.is_empty() {
        return straight;
    }
    if straight_surname == 1 && straight_given == 1 {
        return straight;
    }
    let crossed_a = name_level(&a.surname, &a.surname_joined, &b.given, &b.given_joined);
    let crossed_b = name_level(&a.given, &a.given_joined, &b.surname, &b.surname_joined);
    if u16::from(crossed_a) + u16::from(crossed_b)
        < u16::from(straight_surname) + u16::from(straight_given)
    {
        // Which record has its names swapped is unknown, so which crossed
        // comparison is "the given name" is too. Keep the result symmetric
        // and cautious: the worse agreement counts as the given name. "Yao
        // Josiane" against "Franck Yao" is a shared family name with two
        // given names (a household), not one given name with two surnames.
        (
            crossed_a.min(crossed_b),
            crossed_a.max(crossed_b),
            NameAlignment::Crossed,
        )
    } else {
        straight
    }
}

/// 1 exact, 2 close, 3 fuzzy, 4 different, 0 missing.
fn name_level(a: &[NameToken], a_joined: &str, b: &[NameToken], b_joined: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    if a_joined == b_joined || same_token_set(a, b) {
        return 1;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let all_short_in_long = short
        .iter()
        .all(|s| long.iter().any(|l| l.text == s.text || l.key == s.key));
    if all_short_in_long {
        return 2;
    }
    let shortest = a_joined.len().min(b_joined.len());
    // Only "at most 1, 2 or 3 edits" matters: a bounded check.
    let edits = osa_within(a_joined, b_joined, 3).unwrap_or(usize::MAX);
    if edits <= 1 && shortest >= 5 {
        return 2;
    }
    let joined_similarity = jaro_winkler(a_joined, b_joined);
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
    let shares_token = short.iter().any(|s| {
        long.iter().any(|l| {
            l.key == s.key || similar_keys(&l.key, &s.key) || similar_tokens(&l.text, &s.text)
        })
    });
    if shares_token { 3 } else { 4 }
}

/// Two name tokens that a typo or two could turn into each other, or an
/// abbreviation ("jea", "k") of the other.
fn similar_tokens(a: &str, b: &str) -> bool {
    let shortest = a.len().min(b.len());
    if shortest >= 1 && (a.starts_with(b) || b.starts_with(a)) {
        return true;
    }
    let same_start = a.as_bytes().first() == b.as_bytes().first();
    if shortest >= 3 && same_start && (is_subsequence(a, b) || is_subsequence(b, a)) {
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

fn similar_keys(a: &str, b: &str) -> bool {
    a.len().min(b.len()) >= 4
        && a.chars().next() == b.chars().next()
        && strsim::osa_distance(a, b) <= 1
}

/// Whether `short` is `long` with some letters left out.
fn is_subsequence(short: &str, long: &str) -> bool {
    let long: Vec<char> = long.chars().collect();
    let mut at = 0;
    for c in short.chars() {
        match long[at..].iter().position(|&d| d == c) {
            Some(i) => at += i + 1,
            None => return false,
        }
    }
    true
}

fn same_token_set(a: &[NameToken], b: &[NameToken]) -> bool {
    a.len() == b.len() && a.iter().all(|t| b.iter().any(|u| u.text == t.text))
}
