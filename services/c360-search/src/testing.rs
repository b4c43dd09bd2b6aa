//! What tests and benchmarks share (feature `testing`): clients built from
//! generated or CSV records, and the name-only relevance harness, which
//! types names the way a clerk at a branch does.
//!
//! The harness samples clients over the whole index (namesakes included),
//! writes each client's name as one kind of query (exact, swapped, a typo
//! anywhere in the given name, on its first letter, in a short given name,
//! a spelling that sounds the same), searches with the name and nothing
//! else, and counts where the client lands. Because a name alone cannot
//! tell namesakes apart, a hit also counts "by name" when it carries the
//! client's exact name (folded): that is the share ranking controls.

use std::collections::{BTreeMap, HashMap, HashSet};

use c360_standardise::names::phonetic;
use c360_standardise::text::{fold, tokens};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{ClientDoc, Search, SearchRequest};

/// The most frequent non-empty value (compared folded), first seen on ties.
fn most_frequent<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(String, usize, &'a str)> = Vec::new();
    for v in values.filter(|v| !v.trim().is_empty()) {
        let key = fold(v);
        match counts.iter_mut().find(|c| c.0 == key) {
            Some(c) => c.1 += 1,
            None => counts.push((key, 1, v)),
        }
    }
    let best = counts.iter().map(|c| c.1).max().unwrap_or(0);
    counts
        .into_iter()
        .find(|c| c.1 == best)
        .map(|c| c.2.trim().to_string())
        .unwrap_or_default()
}

fn push_new(list: &mut Vec<String>, value: &str) {
    if !value.is_empty() && !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

/// One client per group of records of the same person, with a golden
/// record by simple survivorship (the most frequent value of each field)
/// and every record's spellings, ids, phones, e-mails and systems.
pub fn client_from_records(number: String, records: &[c360_core::Record]) -> ClientDoc {
    let pick = |f: fn(&c360_core::Record) -> &str| most_frequent(records.iter().map(f));
    let mut doc = ClientDoc {
        client_number: number,
        given_name: pick(|r| &r.given_name),
        middle_name: pick(|r| &r.middle_name),
        surname: pick(|r| &r.surname),
        full_name: pick(|r| &r.full_name),
        date_of_birth: pick(|r| &r.date_of_birth),
        address: pick(|r| &r.address),
        locality: pick(|r| &r.locality),
        region: pick(|r| &r.region),
        country: pick(|r| &r.country),
        ..ClientDoc::default()
    };
    for r in records {
        let name = [&r.given_name, &r.middle_name, &r.surname, &r.full_name]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        push_new(&mut doc.other_names, &name);
        push_new(&mut doc.national_ids, &r.national_id);
        push_new(&mut doc.source_systems, &r.source_system);
        for p in &r.phones {
            push_new(&mut doc.phones, p);
        }
        for e in &r.emails {
            push_new(&mut doc.emails, e);
        }
    }
    doc
}

/// Clients from generated records: one per true entity.
pub fn generated_clients(records: usize, seed: u64) -> Vec<ClientDoc> {
    let mut by_entity: BTreeMap<String, Vec<c360_core::Record>> = BTreeMap::new();
    for g in c360_datagen::generate(&c360_datagen::GenConfig { records, seed }) {
        by_entity.entry(g.entity_id).or_default().push(g.record);
    }
    by_entity
        .into_values()
        .enumerate()
        .map(|(i, recs)| client_from_records(format!("C{i:08}"), &recs))
        .collect()
}

/// Clients from records and their truth (`record_id → entity id`): one per
/// entity, in the order entities first appear. Records without an entity
/// are clients of their own.
pub fn clients_from_truth(
    records: Vec<c360_core::Record>,
    truth: &HashMap<String, String>,
) -> Vec<ClientDoc> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<c360_core::Record>> = HashMap::new();
    for r in records {
        let entity = truth
            .get(&r.record_id)
            .cloned()
            .unwrap_or_else(|| format!("record:{}", r.record_id));
        let group = groups.entry(entity.clone()).or_default();
        if group.is_empty() {
            order.push(entity);
        }
        group.push(r);
    }
    order
        .iter()
        .enumerate()
        .map(|(i, e)| client_from_records(format!("C{i:08}"), &groups[e]))
        .collect()
}

// ---------------------------------------------------------------------------
// Queries as a clerk types them
// ---------------------------------------------------------------------------

/// How a name query is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The client's name as the golden record has it: given then surname.
    Exact,
    /// Surname first.
    Swapped,
    /// One random edit (insert, delete, substitute, transpose) anywhere in
    /// the given name.
    Typo,
    /// One edit on the first letter of the given name.
    FirstLetter,
    /// One random edit in a given name of four letters or fewer.
    ShortGiven,
    /// A spelling that sounds the same, in the given name or the surname:
    /// ou/u, oua/wa, a doubled or undoubled consonant, c/k, dj/j, h dropped.
    Phonetic,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Exact,
        Kind::Swapped,
        Kind::Typo,
        Kind::FirstLetter,
        Kind::ShortGiven,
        Kind::Phonetic,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Exact => "exact name",
            Kind::Swapped => "surname first",
            Kind::Typo => "one edit in the given name",
            Kind::FirstLetter => "edit on the first letter",
            Kind::ShortGiven => "one edit, given name of 4 letters or fewer",
            Kind::Phonetic => "phonetic variant (ou/u, oua/wa, doubled, c/k, dj/j, h)",
        }
    }
}

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

fn random_letter(rng: &mut ChaCha8Rng, not: char) -> char {
    loop {
        let c = char::from(LETTERS[rng.random_range(0..LETTERS.len())]);
        if c != not {
            return c;
        }
    }
}

/// One edit at `at` of a lower-case word: insert, delete, substitute or
/// transpose with the next letter (the previous one at the end).
pub fn edit_at(word: &str, at: usize, rng: &mut ChaCha8Rng) -> String {
    let mut c: Vec<char> = word.chars().collect();
    if c.is_empty() {
        return word.to_string();
    }
    let at = at.min(c.len() - 1);
    match rng.random_range(0..4) {
        0 => {
            let l = random_letter(rng, '\0');
            c.insert(at, l);
        }
        1 if c.len() > 2 => {
            c.remove(at);
        }
        2 | 1 => {
            let l = random_letter(rng, c[at]);
            c[at] = l;
        }
        _ if c.len() >= 2 => {
            let other = if at + 1 < c.len() { at + 1 } else { at - 1 };
            if c[at] == c[other] {
                let l = random_letter(rng, c[at]);
                c[at] = l;
            } else {
                c.swap(at, other);
            }
        }
        _ => {
            let l = random_letter(rng, c[at]);
            c[at] = l;
        }
    }
    c.into_iter().collect()
}

fn is_vowel(c: char) -> bool {
    "aeiouy".contains(c)
}

/// Every spelling of `word` (lower case, folded) that sounds the same by
/// the rewrites clerks make: ou/u, oua/wa, a consonant doubled between
/// vowels or a double one undoubled, c/k, dj/j, h dropped.
pub fn sound_alikes(word: &str) -> Vec<String> {
    let w: Vec<char> = word.chars().collect();
    let s = |v: &[char]| v.iter().collect::<String>();
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: String| {
        if v != word && !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    };
    for (from, to) in [
        ("oua", "wa"),
        ("wa", "oua"),
        ("ou", "u"),
        ("dj", "j"),
        ("c", "k"),
        ("k", "c"),
        ("h", ""),
    ] {
        // One occurrence at a time; c/k only before a, o, u or a consonant
        // (before e and i a c sounds like s).
        let mut start = 0;
        while let Some(pos) = word[start..].find(from) {
            let pos = start + pos;
            start = pos + from.len();
            let next = word[pos + from.len()..].chars().next();
            if matches!(from, "c" | "k") && matches!(next, Some('e' | 'i' | 'y') | None) {
                continue;
            }
            if from == "ou" && word[pos..].starts_with("oua") {
                continue;
            }
            add(format!("{}{to}{}", &word[..pos], &word[pos + from.len()..]));
        }
    }
    for i in 1..w.len() {
        let c = w[i];
        if is_vowel(c) || !c.is_ascii_alphabetic() {
            continue;
        }
        if w[i - 1] == c {
            // Undouble.
            let mut v = w.clone();
            v.remove(i);
            add(s(&v));
        } else if is_vowel(w[i - 1]) && w.get(i + 1).is_some_and(|&n| is_vowel(n)) {
            let mut v = w.clone();
            v.insert(i, c);
            add(s(&v));
        }
    }
    out
}

/// The words of a client's name as a clerk would type them: the first
/// given name and the whole surname, folded (None without both).
pub fn typed_name(doc: &ClientDoc) -> Option<(String, String)> {
    let (surname, given) = doc.display_parts();
    let given = fold(given.split_whitespace().next().unwrap_or(""));
    let surname = fold(&surname);
    let letters = |s: &str| s.chars().filter(char::is_ascii_alphabetic).count();
    if letters(&given) < 2 || letters(&surname) < 2 || given.contains(' ') {
        return None;
    }
    Some((given, surname))
}

/// The query of `kind` for a client named `given surname`, if that kind
/// applies to the name.
pub fn query(kind: Kind, given: &str, surname: &str, rng: &mut ChaCha8Rng) -> Option<String> {
    let n = given.chars().count();
    let q = match kind {
        Kind::Exact => format!("{given} {surname}"),
        Kind::Swapped => format!("{surname} {given}"),
        Kind::Typo => {
            let at = rng.random_range(0..n);
            format!("{} {surname}", edit_at(given, at, rng))
        }
        Kind::FirstLetter => format!("{} {surname}", edit_at(given, 0, rng)),
        Kind::ShortGiven if n <= 4 => {
            let at = rng.random_range(0..n);
            format!("{} {surname}", edit_at(given, at, rng))
        }
        Kind::ShortGiven => return None,
        Kind::Phonetic => {
            let mut options: Vec<String> = sound_alikes(given)
                .into_iter()
                .map(|g| format!("{g} {surname}"))
                .collect();
            // The surname's variants, one word at a time.
            let words: Vec<&str> = surname.split(' ').collect();
            for (i, w) in words.iter().enumerate() {
                for v in sound_alikes(w) {
                    let mut changed = words.clone();
                    changed[i] = &v;
                    options.push(format!("{given} {}", changed.join(" ")));
                }
            }
            if options.is_empty() {
                return None;
            }
            options.swap_remove(rng.random_range(0..options.len()))
        }
    };
    Some(q)
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

/// Counts for one kind of query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub cases: usize,
    /// The client itself is the first hit.
    pub first: usize,
    /// The first hit is the client or a namesake (same folded name).
    pub first_by_name: usize,
    /// The client itself is in the first five hits.
    pub top5: usize,
    /// The client or a namesake is in the first five hits.
    pub top5_by_name: usize,
    /// Misses whose first hit has every word of the query as typed (in
    /// any of its records): the query spells another client's name, and
    /// the exact spelling ranks first by rule.
    pub another_exact: usize,
    /// Other misses whose first hit has a spelling that sounds like each
    /// word of the query: the query is a variant of another client's name,
    /// which ranks above a typo by rule.
    pub another_sound: usize,
    /// A few queries whose first hit was neither the client nor a
    /// namesake, with what came first (for diagnosis).
    pub misses: Vec<String>,
}

impl Tally {
    pub fn rate(n: usize, of: usize) -> f64 {
        100.0 * n as f64 / of.max(1) as f64
    }
}

/// What one run of the harness measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub clients: usize,
    pub sampled: usize,
    /// Sampled clients that share their exact name with another client.
    pub with_namesake: usize,
    pub kinds: BTreeMap<Kind, Tally>,
}

impl Report {
    /// A Markdown table: one row per kind.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| query | cases | first (the client) | first (client or namesake) | top 5 (the client) | top 5 (client or namesake) | misses: the query spells another client's name | misses: it sounds like another client's name |\n|---|---|---|---|---|---|---|---|\n",
        );
        for (kind, t) in &self.kinds {
            let r = |n| Tally::rate(n, t.cases);
            out.push_str(&format!(
                "| {} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % |\n",
                kind.label(),
                t.cases,
                r(t.first),
                r(t.first_by_name),
                r(t.top5),
                r(t.top5_by_name),
                r(t.another_exact),
                r(t.another_sound)
            ));
        }
        out
    }
}

/// The folded words of a client's golden name (given, middle, surname
/// and full name).
fn golden_words(doc: &ClientDoc) -> HashSet<String> {
    [
        &doc.given_name,
        &doc.middle_name,
        &doc.surname,
        &doc.full_name,
    ]
    .iter()
    .flat_map(|t| tokens(t))
    .collect()
}

/// Runs every kind of query for `sample` clients drawn (with `seed`) from
/// all of `clients`, which must be what `search` holds.
///
/// A namesake of a client is another client whose golden name has every
/// word the client's typed name has ("KONE Mamadou Ibrahim" for "Ibrahim
/// Kone"): a name-only search has nothing to tell them apart by.
pub fn measure(search: &Search, clients: &[ClientDoc], sample: usize, seed: u64) -> Report {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Every spelling of every record, and their sounds.
    let spellings: HashMap<&str, HashSet<String>> = clients
        .iter()
        .map(|d| {
            let mut all = golden_words(d);
            all.extend(d.other_names.iter().flat_map(|n| tokens(n)));
            (d.client_number.as_str(), all)
        })
        .collect();
    let sounds: HashMap<&str, HashSet<String>> = spellings
        .iter()
        .map(|(n, all)| (*n, all.iter().map(|w| phonetic(w)).collect()))
        .collect();
    let words: HashMap<&str, HashSet<String>> = clients
        .iter()
        .map(|d| (d.client_number.as_str(), golden_words(d)))
        .collect();
    let mut holders: HashMap<&str, Vec<&str>> = HashMap::new();
    for (number, set) in &words {
        for w in set {
            holders.entry(w.as_str()).or_default().push(number);
        }
    }
    let mut eligible: Vec<&ClientDoc> =
        clients.iter().filter(|d| typed_name(d).is_some()).collect();
    eligible.shuffle(&mut rng);
    eligible.truncate(sample);
    let mut report = Report {
        clients: clients.len(),
        sampled: eligible.len(),
        ..Report::default()
    };
    for doc in eligible {
        let Some((given, surname)) = typed_name(doc) else {
            continue;
        };
        let typed: Vec<String> = tokens(&format!("{given} {surname}"));
        let has_name = |n: &str| {
            words
                .get(n)
                .is_some_and(|set| typed.iter().all(|w| set.contains(w)))
        };
        let namesakes = holders
            .get(typed[0].as_str())
            .map_or(0, |list| list.iter().filter(|n| has_name(n)).count());
        if namesakes > 1 {
            report.with_namesake += 1;
        }
        for kind in Kind::ALL {
            let Some(q) = query(kind, &given, &surname, &mut rng) else {
                continue;
            };
            let request = SearchRequest {
                query: q.clone(),
                page_size: 5,
                ..SearchRequest::default()
            };
            let hits = search.search(&request).map(|p| p.hits);
            let hits = hits.unwrap_or_default();
            let is_client = |n: &str| n == doc.client_number;
            let by_name = |n: &str| is_client(n) || has_name(n);
            let t = report.kinds.entry(kind).or_default();
            t.cases += 1;
            let first = hits.first().map(|h| h.client_number.as_str());
            t.first += usize::from(first.is_some_and(is_client));
            t.first_by_name += usize::from(first.is_some_and(by_name));
            t.top5 += usize::from(hits.iter().any(|h| is_client(&h.client_number)));
            t.top5_by_name += usize::from(hits.iter().any(|h| by_name(&h.client_number)));
            let query_words = tokens(&q);
            let spells_another = first.is_some_and(|n| {
                !by_name(n)
                    && spellings
                        .get(n)
                        .is_some_and(|set| query_words.iter().all(|w| set.contains(w)))
            });
            let sounds_like_another = first.is_some_and(|n| {
                !by_name(n)
                    && !spells_another
                    && sounds
                        .get(n)
                        .is_some_and(|set| query_words.iter().all(|w| set.contains(&phonetic(w))))
            });
            t.another_exact += usize::from(spells_another);
            t.another_sound += usize::from(sounds_like_another);
            let rule_bound = spells_another || sounds_like_another;
            if !first.is_some_and(by_name) && !rule_bound && t.misses.len() < 20 {
                let shown: Vec<String> = hits
                    .iter()
                    .take(3)
                    .map(|h| format!("{} {:.2}", h.display_name(), h.score))
                    .collect();
                let rank = hits.iter().position(|h| by_name(&h.client_number));
                t.misses.push(format!(
                    "{q:?} for {given} {surname} (rank {}): {shown:?}",
                    rank.map_or("> 5".to_string(), |r| (r + 1).to_string())
                ));
            }
        }
    }
    report
}
