//! Service-level tests: relevance on generated data, the event feed
//! (merge, split, erase, restart, reset), encryption at rest, near real
//! time, roles and masking, bad input.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use c360_crypto::{KekProvider, LocalKeyring};
use c360_proto::resolver::v1::{Event, EventType};
use c360_standardise::text::fold;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::feed::{Fetched, GoldenSource};
use crate::{ClientDoc, Search, SearchConfig, SearchPeers, SearchRequest};

pub(crate) fn kek() -> Arc<dyn KekProvider> {
    let text = LocalKeyring::generate_text("kek-test").unwrap();
    Arc::new(LocalKeyring::from_text(&text).unwrap())
}

/// Commits only when a test asks (or the 10-minute interval passes).
pub(crate) fn manual_config() -> SearchConfig {
    SearchConfig {
        commit_interval_ms: 600_000,
        writer_threads: 1,
        writer_memory_bytes: 32 << 20,
        ..SearchConfig::default()
    }
}

pub(crate) fn open(dir: &Path, kek: &Arc<dyn KekProvider>, config: SearchConfig) -> Search {
    Search::open_dir(dir, config, kek.clone(), SearchPeers::default()).unwrap()
}

pub(crate) use crate::testing::generated_clients;

fn req(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.to_string(),
        ..SearchRequest::default()
    }
}

fn first_hits(search: &Search, query: &str, n: usize) -> Vec<String> {
    let mut r = req(query);
    r.page_size = n;
    search
        .search(&r)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.client_number)
        .collect()
}

// ---------------------------------------------------------------------------
// Relevance
// ---------------------------------------------------------------------------

/// One random edit, as people mistype: insert, delete, substitute or
/// transpose, never on the first letter.
fn typo(token: &str, rng: &mut ChaCha8Rng) -> String {
    let mut c: Vec<char> = token.chars().collect();
    let letters: Vec<char> = "aeiouknstrlmbdg".chars().collect();
    let at = rng.random_range(1..c.len());
    match rng.random_range(0..4) {
        0 => c.insert(at, letters[rng.random_range(0..letters.len())]),
        1 => {
            c.remove(at);
        }
        2 => {
            let old = c[at];
            let options: Vec<char> = letters.iter().copied().filter(|&l| l != old).collect();
            c[at] = options[rng.random_range(0..options.len())];
        }
        _ => {
            if at + 1 < c.len() && c[at] != c[at + 1] {
                c.swap(at, at + 1);
            } else {
                c.swap(at - 1, at);
            }
        }
    }
    c.into_iter().collect()
}

/// A spelling that sounds the same (the rewrites people make in
/// francophone West Africa), or None when no rule applies.
fn phonetic_variant(token: &str) -> Option<String> {
    const RULES: &[(&str, &str)] = &[
        ("ss", "s"),
        ("ou", "w"),
        ("w", "ou"),
        ("ph", "f"),
        ("dj", "j"),
        ("ck", "k"),
        ("qu", "k"),
        ("c", "k"),
        ("y", "i"),
        ("i", "y"),
        ("é", "e"),
        ("è", "e"),
        ("e", "é"),
        ("tt", "t"),
        ("ll", "l"),
        ("nn", "n"),
        ("s", "ss"),
        ("t", "tt"),
    ];
    let lower = token.to_lowercase();
    for (from, to) in RULES {
        // Not on the first letter, except for "ou"/"w" (Ouattara/Watara).
        let skip = if matches!(*from, "ou" | "w") { 0 } else { 1 };
        if let Some(pos) = lower[skip.min(lower.len())..].find(from) {
            let pos = pos + skip;
            let out = format!("{}{}{}", &lower[..pos], to, &lower[pos + from.len()..]);
            if c360_standardise::names::phonetic(&fold(&out))
                == c360_standardise::names::phonetic(&fold(&lower))
                && fold(&out) != fold(&lower)
            {
                return Some(out);
            }
        }
    }
    None
}

#[derive(Default)]
struct Tally {
    cases: usize,
    first: usize,
    misses: Vec<String>,
}

impl Tally {
    fn record(&mut self, ok: bool, case: String) {
        self.cases += 1;
        if ok {
            self.first += 1;
        } else {
            self.misses.push(case);
        }
    }

    fn rate(&self) -> f64 {
        self.first as f64 / self.cases.max(1) as f64
    }
}

#[test]
fn relevance_on_generated_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let search = open(tmp.path(), &kek, manual_config());
    let clients = generated_clients(8_000, 7);
    search.upsert_many(clients.clone()).unwrap();
    search.commit().unwrap();

    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut eligible = 0usize;
    let mut ambiguous = 0usize;
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for doc in clients.iter().step_by(4) {
        let given = doc.given_name.split_whitespace().next().unwrap_or("");
        let surname = doc.surname.split_whitespace().next().unwrap_or("");
        let locality = doc.locality.as_str();
        if given.chars().count() < 3 || surname.chars().count() < 3 || locality.is_empty() {
            continue;
        }
        // Cases where the clean query itself cannot single the client out
        // (a namesake in the same locality) say nothing about tolerance.
        let clean = format!("{given} {surname} {locality}");
        let mut r = req(&clean);
        r.page_size = 2;
        let hits = search.search(&r).unwrap().hits;
        let unique = hits
            .first()
            .is_some_and(|h| h.client_number == doc.client_number)
            && hits.get(1).is_none_or(|h| h.score < hits[0].score);
        if !unique {
            ambiguous += 1;
            continue;
        }
        eligible += 1;
        let top = |q: &str| first_hits(&search, q, 1).first() == Some(&doc.client_number);
        let describe = |q: &str| {
            let mut r = req(q);
            r.page_size = 3;
            let hits = search.search(&r).unwrap().hits;
            let shown: Vec<String> = hits
                .iter()
                .map(|h| format!("{} {:.2} {:?}", h.client_number, h.score, h.matched_fields))
                .collect();
            format!("{q:?} (client {}, got {shown:?})", doc.client_number)
        };
        // Typo in the longer of the two names.
        let (victim, other, victim_first) = if surname.chars().count() >= given.chars().count() {
            (surname, given, false)
        } else {
            (given, surname, true)
        };
        if victim.chars().count() >= 4 {
            let t = typo(victim, &mut rng);
            let q = if victim_first {
                format!("{t} {other} {locality}")
            } else {
                format!("{other} {t} {locality}")
            };
            tallies
                .entry("typo")
                .or_default()
                .record(top(&q), describe(&q));
        }
        let variant = phonetic_variant(surname)
            .map(|s| format!("{given} {s} {locality}"))
            .or_else(|| phonetic_variant(given).map(|g| format!("{g} {surname} {locality}")));
        if let Some(q) = variant {
            tallies
                .entry("phonetic")
                .or_default()
                .record(top(&q), describe(&q));
        }
        let q = format!("{surname} {given} {locality}");
        tallies
            .entry("swapped")
            .or_default()
            .record(top(&q), describe(&q));
    }
    println!(
        "relevance: {eligible} eligible clients, {ambiguous} skipped (namesake in the same locality)"
    );
    for (category, t) in &tallies {
        println!(
            "  {category}: {}/{} first ({:.1}%)",
            t.first,
            t.cases,
            100.0 * t.rate()
        );
        for miss in t.misses.iter().take(10) {
            println!("    miss: {miss}");
        }
    }
    assert!(eligible >= 300, "too few eligible cases: {eligible}");
    for (category, t) in &tallies {
        assert!(t.cases >= 100, "{category}: only {} cases", t.cases);
        assert!(
            t.rate() >= 0.95,
            "{category}: true client first in {:.1}% < 95%",
            100.0 * t.rate()
        );
    }
}

/// The name-only relevance harness (see `testing`), for development:
/// `C360_RELEVANCE_RECORDS` (default 20,000) generated records of seed
/// `C360_RELEVANCE_SEED` (default 7), `C360_RELEVANCE_SAMPLE` clients.
/// The benchmark `search_relevance` runs the same harness on more data.
#[test]
#[ignore = "a report, not a check: run with --ignored --nocapture"]
fn relevance_report() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let tmp = tempfile::tempdir().unwrap();
    let search = open(tmp.path(), &kek(), manual_config());
    let clients = generated_clients(
        env("C360_RELEVANCE_RECORDS", 20_000),
        env("C360_RELEVANCE_SEED", 7) as u64,
    );
    search.upsert_many(clients.clone()).unwrap();
    search.commit().unwrap();
    let report =
        crate::testing::measure(&search, &clients, env("C360_RELEVANCE_SAMPLE", 500), 0x5eed);
    println!(
        "{} clients, {} sampled, {} with a namesake",
        report.clients, report.sampled, report.with_namesake
    );
    print!("{}", report.table());
    for (kind, t) in &report.kinds {
        for m in &t.misses {
            println!("  miss ({}): {m}", kind.label());
        }
    }
}

/// A client with a name, and nothing else unless a test adds it.
fn named(number: &str, given: &str, surname: &str) -> ClientDoc {
    ClientDoc {
        client_number: number.into(),
        given_name: given.into(),
        surname: surname.into(),
        ..ClientDoc::default()
    }
}

/// A crowd of generated clients for the named ones to hide in.
fn with_crowd(mut docs: Vec<ClientDoc>) -> Vec<ClientDoc> {
    let mut crowd = generated_clients(3_000, 5);
    for (i, d) in crowd.iter_mut().enumerate() {
        d.client_number = format!("G{i:07}");
    }
    docs.extend(crowd);
    docs
}

fn scored(search: &Search, query: &str, n: usize) -> Vec<(String, f32)> {
    let mut r = req(query);
    r.page_size = n;
    search
        .search(&r)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| (h.client_number, h.score))
        .collect()
}

/// Issue 17 point 5: an exact match (after folding) ranks above a variant,
/// a variant above a typo, strictly (not a tie that the index order breaks).
#[test]
fn exact_spelling_first_then_variants_then_typos() {
    let tmp = tempfile::tempdir().unwrap();
    let search = open(tmp.path(), &kek(), manual_config());
    let mut fatoumata = named("C2", "Fatoumata", "KONE");
    // One of her records calls her Fatou.
    fatoumata.other_names = vec!["Fatou Kone".into()];
    // Inserted first, so that the index order favours the wrong ones.
    let docs = vec![
        fatoumata,
        named("C1", "Fatou", "KONÉ"),
        named("I1", "Idrissa", "SANOGO"),
        named("I2", "Drissa", "SANOGO"),
        named("I3", "Idrisa", "SANOGO"),
        named("I4", "Idriss", "SANOGO"),
    ];
    search.upsert_many(with_crowd(docs)).unwrap();
    search.commit().unwrap();

    let hits = scored(&search, "FATOU KONE", 5);
    assert_eq!(hits[0].0, "C1", "{hits:?}");
    assert!(hits[0].1 > hits[1].1, "exact strictly above: {hits:?}");
    assert_eq!(hits[1].0, "C2", "{hits:?}");

    let hits = scored(&search, "IDRISS SANOGO", 5);
    assert_eq!(hits[0].0, "I4", "{hits:?}");
    assert!(hits[0].1 > hits[1].1, "exact strictly above: {hits:?}");
    let rank = |n: &str| hits.iter().position(|h| h.0 == n).unwrap();
    // Idrissa and Drissa are variants of Idriss; Idrisa is one edit from
    // it and sounds otherwise (nothing in the table knows it).
    assert!(
        rank("I1") < rank("I3") && rank("I2") < rank("I3"),
        "{hits:?}"
    );
    let score = |n: &str| hits[rank(n)].1;
    assert!(score("I2") > score("I3"), "a variant strictly above a typo");

    // The exact spelling wins whichever order the words come in.
    assert_eq!(scored(&search, "sanogo idrissa", 1)[0].0, "I1");
}

/// Issue 17 point 4: a typo of a variant spelling reaches every variant the
/// clean spelling reaches, and the right client first.
#[test]
fn typos_on_variant_spellings_reach_the_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let search = open(tmp.path(), &kek(), manual_config());
    let ibrahims = [
        "Ibrahima", "Ibrahim", "Brahima", "Ibrahime", "Brahim", "Ibrahima",
    ];
    let mut docs: Vec<ClientDoc> = ibrahims
        .iter()
        .enumerate()
        .map(|(i, g)| named(&format!("B{i}"), g, ["TRAORE", "KONE", "DIALLO"][i % 3]))
        .collect();
    docs.extend([
        named("S1", "Ibrahim", "SORO"),
        named("S2", "Moussa", "SORO"),
        named("S3", "Adama", "SORO"),
        named("K1", "Joseph", "KOUAME"),
        named("K2", "Konan", "KOUAME"),
        named("K3", "Awa", "KOUAME"),
        named("O1", "Kadiatou", "OUATTARA"),
        named("O2", "Karim", "OUATTARA"),
        named("O3", "Aminata", "OUATTARA"),
        named("A1", "Awa", "KONE"),
        named("A2", "Ama", "TRAORE"),
        named("D1", "Kadidia", "BA"),
        named("D2", "Khadija", "CISSE"),
    ]);
    search.upsert_many(with_crowd(docs)).unwrap();
    search.commit().unwrap();

    // A typo reaches every client the clean spelling finds as the same
    // name (spelling, variant or sound): the issue saw 2 against 54.
    let all = |q: &str| {
        let mut r = req(q);
        r.page_size = 100;
        let mut found = Vec::new();
        loop {
            let page = search.search(&r).unwrap();
            found.extend(page.hits);
            if page.next_page_token.is_empty() {
                return found;
            }
            r.page_token = page.next_page_token;
        }
    };
    for (typo, clean) in [
        ("name:IBRAIM", "name:IBRAHIM"),
        ("name:KADIATOUU", "name:KADIATOU"),
    ] {
        let same_name: Vec<String> = all(clean)
            .into_iter()
            .filter(|h| {
                h.matched_fields
                    .iter()
                    .any(|f| ["name", "name_variant", "name_phonetic"].contains(f))
            })
            .map(|h| h.client_number)
            .collect();
        assert!(same_name.len() >= 2, "{clean}: {same_name:?}");
        let reached: Vec<String> = all(typo).into_iter().map(|h| h.client_number).collect();
        for n in &same_name {
            assert!(
                reached.contains(n),
                "{typo} misses {n}, which {clean} finds"
            );
        }
    }
    let ibrahims: Vec<String> = all("name:IBRAIM")
        .into_iter()
        .map(|h| h.client_number)
        .filter(|n| n.starts_with('B'))
        .collect();
    assert_eq!(
        ibrahims.len(),
        6,
        "every spelling of the name: {ibrahims:?}"
    );

    for (query, right) in [
        ("IBRAIM SORO", "S1"),
        ("JOSEF KOUAME", "K1"),
        ("CADIATOU OUATTARA", "O1"),
        ("KADIATOUU OUATTARA", "O1"),
        // Short given names and first-letter edits.
        ("SWA KONE", "A1"),
        ("AWA KOME", "A1"),
        ("WAA KONE", "A1"),
    ] {
        let hits = scored(&search, query, 5);
        assert_eq!(
            hits.first().map(|h| h.0.as_str()),
            Some(right),
            "{query}: {hits:?}"
        );
    }
}

/// Issue 17 point 6: namesakes show what tells them apart, and a second
/// term narrows the list.
#[test]
fn namesakes_told_apart_and_narrowed() {
    let tmp = tempfile::tempdir().unwrap();
    let search = open(tmp.path(), &kek(), manual_config());
    let aminata = |n: &str, dob: &str, locality: &str, phone: &str| ClientDoc {
        date_of_birth: dob.into(),
        locality: locality.into(),
        phones: vec![phone.into()],
        ..named(n, "Aminata", "TRAORE")
    };
    search
        .upsert_many(with_crowd(vec![
            aminata("N1", "12/03/1985", "Abobo", "07 07 12 34 56"),
            aminata("N2", "1990", "Cocody", "0505998814"),
            aminata("N3", "1985-07-01", "Bouaké", "+225 01 02 03 04 99"),
        ]))
        .unwrap();
    search.commit().unwrap();

    let mut r = req("Aminata Traore");
    r.page_size = 3;
    let hits = search.search(&r).unwrap().hits;
    let mut seen: Vec<(String, Option<u16>, String, String)> = hits
        .iter()
        .map(|h| {
            (
                h.client_number.clone(),
                h.person.birth_year,
                h.person.locality.clone(),
                h.person.phone_ending.clone(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("N1".into(), Some(1985), "Abobo".into(), "56".into()),
            ("N2".into(), Some(1990), "Cocody".into(), "14".into()),
            ("N3".into(), Some(1985), "Bouaké".into(), "99".into()),
        ]
    );
    // The namesakes left (others born that year or with that ending, who
    // share one of the names, may follow them).
    let numbers = |q: &str| {
        let mut all: Vec<String> = first_hits(&search, q, 20)
            .into_iter()
            .filter(|n| n.starts_with('N'))
            .collect();
        all.sort();
        all
    };
    assert_eq!(numbers("Aminata Traore 1990"), ["N2"]);
    assert_eq!(first_hits(&search, "Aminata Traore 1990", 1), ["N2"]);
    assert_eq!(numbers("Aminata Traore 1985"), ["N1", "N3"]);
    assert_eq!(numbers("Aminata Traore 14"), ["N2"]);
    assert_eq!(numbers("Aminata Traore 8814"), ["N2"]);
    assert_eq!(numbers("Aminata Traore 1985 99"), ["N3"]);
    assert!(numbers("Aminata Traore 1970").is_empty());
    // A locality puts its namesake first.
    assert_eq!(first_hits(&search, "Aminata Traore Bouake", 1), ["N3"]);
    let page = search.search(&req("Aminata Traore 1990")).unwrap();
    assert!(page.hits[0].matched_fields.contains(&"birth_year"));
}

/// Issue 17 point 7: a phone the normaliser cannot place is found by its
/// digits.
#[test]
fn a_phone_that_cannot_be_placed_is_found_by_its_digits() {
    let tmp = tempfile::tempdir().unwrap();
    let search = open(tmp.path(), &kek(), manual_config());
    let analyzer = search.inner.analyzer.clone();
    assert!(
        analyzer.phone("2256779717514", None).is_none(),
        "the example must be one the normaliser cannot place"
    );
    let odd = ClientDoc {
        phones: vec!["2256779717514".into()],
        ..named("P1", "Mariam", "SYLLA")
    };
    search.upsert_many(with_crowd(vec![odd])).unwrap();
    search.commit().unwrap();
    for q in ["2256779717514", "phone:2256779717514", "225 67 79 71 75 14"] {
        assert_eq!(first_hits(&search, q, 5), ["P1"], "{q}");
    }
    assert_eq!(first_hits(&search, "Mariam Sylla 14", 5), ["P1"]);
}

/// An index written with another schema (an older version) is rebuilt from
/// the feed, not refused.
#[test]
fn an_index_of_another_schema_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let search = open(tmp.path(), &kek, manual_config());
    search.upsert(named("C1", "Awa", "KONE")).unwrap();
    search.commit().unwrap();
    drop(search);
    crate::index::rewrite_with_other_schema(&tmp.path().join("gen-000001"), &*kek);
    let search = open(tmp.path(), &kek, manual_config());
    assert_eq!(search.stats().clients, 0);
    assert_eq!(
        search.committed_offset(),
        0,
        "the feed rebuilds it from the start"
    );
    let current = std::fs::read_to_string(tmp.path().join("CURRENT")).unwrap();
    assert_eq!(current.trim(), "gen-000002");
    assert!(!tmp.path().join("gen-000001").exists());
    search.upsert(named("C1", "Awa", "KONE")).unwrap();
    search.commit().unwrap();
    assert_eq!(first_hits(&search, "Awa Kone", 1), ["C1"]);
}

#[test]
fn phone_id_and_email_lookups() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let search = open(tmp.path(), &kek, manual_config());
    let doc = ClientDoc {
        client_number: "C00000001".into(),
        given_name: "Konan".into(),
        surname: "KOUASSI".into(),
        national_ids: vec!["C0012345678".into()],
        phones: vec!["07 07 12 34 56".into()],
        emails: vec!["konan.k@mail.ci".into()],
        locality: "Abobo".into(),
        country: "CI".into(),
        ..ClientDoc::default()
    };
    let other = ClientDoc {
        client_number: "C00000002".into(),
        given_name: "Awa".into(),
        surname: "KONE".into(),
        phones: vec!["+225 05 05 99 88 77".into()],
        ..ClientDoc::default()
    };
    search.upsert_many(vec![doc, other]).unwrap();
    search.commit().unwrap();
    for q in [
        "phone:0707123456",
        "phone:+2250707123456",
        "phone:07123456",
        "phone: 07 07 12 34 56",
        "07 12 34 56",
        "id:C0012345678",
        "id:\"CI 0012 3456 78\"",
        "C0012345678",
        "email:KONAN.K@mail.ci",
        "Kouasi Konan",
        "KONAN kouassi abobo",
    ] {
        assert_eq!(first_hits(&search, q, 5), ["C00000001"], "query {q}");
    }
    let page = search.search(&req("phone:0707123456")).unwrap();
    assert_eq!(page.hits[0].matched_fields, ["phone"]);
    let page = search.search(&req("Kouasi Konan")).unwrap();
    assert!(page.hits[0].matched_fields.contains(&"name_phonetic"));
    assert!(page.hits[0].matched_fields.contains(&"name"));
}

#[test]
fn filters_and_paging() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let search = open(tmp.path(), &kek, manual_config());
    let docs: Vec<ClientDoc> = (0..45)
        .map(|i| ClientDoc {
            client_number: format!("C{i:08}"),
            given_name: "Aminata".into(),
            surname: "TRAORE".into(),
            region: if i % 3 == 0 { "Lagunes" } else { "Dakar" }.into(),
            date_of_birth: "1990".into(),
            phones: vec![format!("070700{i:04}")],
            source_systems: vec![
                if i % 2 == 0 {
                    "core_banking"
                } else {
                    "agent_app"
                }
                .into(),
            ],
            ..ClientDoc::default()
        })
        .collect();
    search.upsert_many(docs).unwrap();
    search.commit().unwrap();

    let mut r = req("Aminata Traore");
    r.page_size = 20;
    let mut seen = Vec::new();
    loop {
        let page = search.search(&r).unwrap();
        seen.extend(page.hits.into_iter().map(|h| h.client_number));
        if page.next_page_token.is_empty() {
            break;
        }
        r.page_token = page.next_page_token;
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 45);

    let mut r = req("Aminata Traore");
    r.page_size = 100;
    r.filters.regions = vec!["lagunes".into()];
    assert_eq!(search.search(&r).unwrap().hits.len(), 15);
    r.filters.sectors = vec!["a".into()];
    let hits = search.search(&r).unwrap().hits;
    // Region Lagunes (i % 3 == 0) and core banking (i % 2 == 0): i % 6 == 0.
    assert_eq!(hits.len(), 8);
    assert!(hits.iter().all(|h| h.sector == "A"));
    r.filters.sectors.clear();
    r.filters.source_systems = vec!["agent_app".into()];
    assert_eq!(search.search(&r).unwrap().hits.len(), 7);
}

// ---------------------------------------------------------------------------
// The feed
// ---------------------------------------------------------------------------

/// A resolver stand-in: current clients, absorbed numbers, erased ones.
#[derive(Default)]
struct FakeResolver {
    clients: Mutex<HashMap<String, ClientDoc>>,
    aliases: Mutex<HashMap<String, String>>,
    fail: Mutex<bool>,
}

impl FakeResolver {
    fn put(&self, doc: ClientDoc) {
        self.clients
            .lock()
            .unwrap()
            .insert(doc.client_number.clone(), doc);
    }
}

impl GoldenSource for FakeResolver {
    fn fetch(&self, numbers: &[String]) -> crate::Result<Vec<Fetched>> {
        if *self.fail.lock().unwrap() {
            return Err(crate::Error::Unavailable("resolver down".into()));
        }
        let clients = self.clients.lock().unwrap();
        let aliases = self.aliases.lock().unwrap();
        Ok(numbers
            .iter()
            .map(|n| match aliases.get(n) {
                Some(survivor) => clients
                    .get(survivor)
                    .map_or(Fetched::Gone, |d| Fetched::Moved(d.clone())),
                None => clients
                    .get(n)
                    .map_or(Fetched::Gone, |d| Fetched::Current(d.clone())),
            })
            .collect())
    }
}

fn event(offset: u64, kind: EventType, client: &str, related: &[&str]) -> Event {
    Event {
        offset,
        r#type: kind as i32,
        client_number: client.to_string(),
        related_clients: related.iter().map(|s| s.to_string()).collect(),
        ..Event::default()
    }
}

fn person(number: &str, given: &str, surname: &str, id: &str, phone: &str) -> ClientDoc {
    ClientDoc {
        client_number: number.into(),
        given_name: given.into(),
        surname: surname.into(),
        national_ids: vec![id.into()],
        phones: vec![phone.into()],
        source_systems: vec!["core_banking".into()],
        ..ClientDoc::default()
    }
}

#[test]
fn feed_merge_split_erase_restart_and_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let resolver = Arc::new(FakeResolver::default());
    let search = open(tmp.path(), &kek, manual_config());
    let feed = search.feed_handler_with(resolver.clone());

    // Two records of one person arrive as two clients.
    resolver.put(person(
        "C1",
        "Konan",
        "KOUASSI",
        "C0011111111",
        "0707111111",
    ));
    resolver.put(person("C2", "Konan", "KOUASI", "C0011111112", "0707111112"));
    feed.apply(&[
        event(1, EventType::ClientCreated, "C1", &[]),
        event(2, EventType::ClientCreated, "C2", &[]),
    ])
    .unwrap();
    assert_eq!(feed.applied(), 2);
    assert_eq!(search.commit().unwrap(), 2);
    assert_eq!(search.stats().clients, 2);

    // Merge: C2 absorbed into C1; one document holds both numbers' data.
    let mut merged = person("C1", "Konan", "KOUASSI", "C0011111111", "0707111111");
    merged.phones.push("0707111112".into());
    merged.national_ids.push("C0011111112".into());
    resolver.put(merged);
    resolver.clients.lock().unwrap().remove("C2");
    resolver
        .aliases
        .lock()
        .unwrap()
        .insert("C2".into(), "C1".into());
    feed.apply(&[event(3, EventType::ClientsMerged, "C1", &["C2"])])
        .unwrap();
    search.commit().unwrap();
    assert_eq!(search.stats().clients, 1);
    assert_eq!(first_hits(&search, "phone:0707111112", 5), ["C1"]);
    assert_eq!(first_hits(&search, "Konan Kouassi", 5), ["C1"]);

    // Split: C3 takes the second record back.
    resolver.put(person(
        "C1",
        "Konan",
        "KOUASSI",
        "C0011111111",
        "0707111111",
    ));
    resolver.put(person("C3", "Konan", "KOUASI", "C0011111112", "0707111112"));
    feed.apply(&[event(4, EventType::ClientSplit, "C1", &["C3"])])
        .unwrap();
    search.commit().unwrap();
    assert_eq!(search.stats().clients, 2);
    assert_eq!(first_hits(&search, "phone:0707111112", 5), ["C3"]);

    // Erase C3: no document, and no segment holds its terms any more.
    resolver.clients.lock().unwrap().remove("C3");
    let engine = search.engine_for_tests();
    assert!(engine.segments_hold("number", "C3"));
    feed.apply(&[event(5, EventType::ClientErased, "C3", &[])])
        .unwrap();
    search.commit().unwrap();
    assert_eq!(search.stats().clients, 1);
    assert!(first_hits(&search, "phone:0707111112", 5).is_empty());
    assert!(!engine.segments_hold("number", "C3"));
    assert!(!engine.segments_hold("national_id", "0011111112"));
    assert!(!engine.segments_hold("phone8", "07111112"));
    assert!(engine.segments_hold("number", "C1"));

    // Replayed events are skipped; a gap is refused without effect.
    feed.apply(&[event(5, EventType::ClientErased, "C3", &[])])
        .unwrap();
    assert!(
        feed.apply(&[event(9, EventType::ClientCreated, "C1", &[])])
            .is_err()
    );
    // A failing source leaves the batch unapplied.
    *resolver.fail.lock().unwrap() = true;
    let err = feed
        .apply(&[event(6, EventType::RecordUpdated, "C1", &[])])
        .unwrap_err();
    assert!(!err.contains("Konan"));
    assert_eq!(feed.applied(), 5);
    *resolver.fail.lock().unwrap() = false;

    // Restart: the checkpoint comes back with the committed index.
    drop(feed);
    drop(engine);
    drop(search);
    let search = open(tmp.path(), &kek, manual_config());
    let feed = search.feed_handler_with(resolver.clone());
    assert_eq!(feed.applied(), 5);
    assert_eq!(search.committed_offset(), 5);
    assert_eq!(first_hits(&search, "Konan Kouassi", 5), ["C1"]);

    // Reset: empty index, checkpoint 0; replaying the feed converges on
    // the resolver's current state.
    search.reset().unwrap();
    assert_eq!(feed.applied(), 0);
    assert_eq!(search.stats().clients, 0);
    let generations = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("gen-")
        })
        .count();
    assert_eq!(generations, 1);
    feed.apply(&[
        event(1, EventType::ClientCreated, "C1", &[]),
        event(2, EventType::ClientCreated, "C2", &[]),
        event(3, EventType::ClientsMerged, "C1", &["C2"]),
        event(4, EventType::ClientSplit, "C1", &["C3"]),
        event(5, EventType::ClientErased, "C3", &[]),
    ])
    .unwrap();
    search.commit().unwrap();
    assert_eq!(search.stats().clients, 1);
    assert_eq!(first_hits(&search, "Konan Kouassi", 5), ["C1"]);
}

/// The background committer makes an applied event searchable without a
/// manual commit. How soon is measured in a benchmark, not asserted here:
/// the wait below is only a bound against hanging.
#[test]
fn applied_events_become_searchable_without_a_manual_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let config = SearchConfig {
        commit_interval_ms: 200,
        ..manual_config()
    };
    let search = open(tmp.path(), &kek, config);
    let resolver = Arc::new(FakeResolver::default());
    let feed = search.feed_handler_with(resolver.clone());
    resolver.put(person(
        "C7",
        "Fatou",
        "DIOP",
        "1234567890123",
        "+221771234567",
    ));
    feed.apply(&[event(1, EventType::ClientCreated, "C7", &[])])
        .unwrap();
    assert!(search.wait_committed(1, Duration::from_secs(60)));
    assert_eq!(first_hits(&search, "Fatou Diop", 5), ["C7"]);
}

// ---------------------------------------------------------------------------
// Encryption at rest
// ---------------------------------------------------------------------------

fn all_files(dir: &Path, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(std::fs::read(&path).unwrap());
        }
    }
}

#[test]
fn plaintext_scan_of_the_index_directory_finds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let kek = kek();
    let search = open(tmp.path(), &kek, manual_config());
    let clients = generated_clients(2_000, 3);
    search.upsert_many(clients.clone()).unwrap();
    search.commit().unwrap();
    let analyzer = search.inner.analyzer.clone();
    drop(search);

    let mut needles: Vec<Vec<u8>> = Vec::new();
    for doc in &clients {
        let a = analyzer.analyse(doc);
        for v in a.names.tokens().chain(a.ids.iter()).chain(a.emails.iter()) {
            if v.len() >= 6 {
                needles.push(v.as_bytes().to_vec());
            }
        }
        for v in a.phones.iter().chain(a.phone8.iter()) {
            needles.push(v.as_bytes().to_vec());
        }
        for raw in [&doc.surname, &doc.given_name] {
            if raw.len() >= 6 {
                needles.push(raw.as_bytes().to_vec());
            }
        }
    }
    needles.sort();
    needles.dedup();
    assert!(needles.len() > 1_000);
    let mut files = Vec::new();
    all_files(tmp.path(), &mut files);
    assert!(files.len() > 5);
    let mut found = 0;
    for bytes in &files {
        for needle in &needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found += 1;
            }
        }
    }
    assert_eq!(
        found, 0,
        "personal values found in clear in the index files"
    );

    // The same index opens again with the KEK, and not without it.
    let search = open(tmp.path(), &kek, manual_config());
    assert_eq!(search.stats().clients as usize, clients.len());
    drop(search);
    let other = self::kek();
    assert!(Search::open_dir(tmp.path(), manual_config(), other, SearchPeers::default()).is_err());
}

#[test]
fn the_index_lives_where_the_storage_keeps_searchs_data() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = c360_storage::StorageConfig::sled(tmp.path());
    let search = Search::open(&storage, manual_config(), kek(), SearchPeers::default()).unwrap();
    drop(search);
    assert!(tmp.path().join("search").join("CURRENT").is_file());
    // Files, not a store: no directory, no index.
    let memory = c360_storage::StorageConfig::Memory;
    assert!(Search::open(&memory, manual_config(), kek(), SearchPeers::default()).is_err());
}

// ---------------------------------------------------------------------------
// gRPC: roles, masking, bad input
// ---------------------------------------------------------------------------

mod grpc {
    use c360_proto::search::v1 as api;
    use c360_proto::search::v1::search_service_server::SearchService;
    use c360_rpc::{Caller, Role, with_caller};
    use tonic::{Code, Request};
    use tonic_types::StatusExt;

    use super::*;
    use crate::SearchGrpc;

    fn as_role<T>(msg: T, role: Role) -> Request<T> {
        with_caller(Request::new(msg), Caller::new("tester", role))
    }

    fn query(q: &str) -> api::SearchRequest {
        api::SearchRequest {
            query: q.into(),
            purpose: "stewardship".into(),
            ..api::SearchRequest::default()
        }
    }

    #[tokio::test]
    async fn roles_masking_and_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let kek = kek();
        let search = open(tmp.path(), &kek, manual_config());
        search
            .upsert(ClientDoc {
                date_of_birth: "02/03/1985".into(),
                locality: "Abobo".into(),
                ..person("C1", "Konan", "KOUASSI", "C0012345678", "0707123456")
            })
            .unwrap();
        search.commit().unwrap();
        // No vault here: hits disclose nothing personal to an outside
        // caller (what the vault's policy lets each role see is tested
        // end to end with a real vault in tests/integration/search.rs).
        let grpc = SearchGrpc::new(search.clone());
        for role in [Role::Steward, Role::Compliance, Role::App, Role::Service] {
            let page = grpc
                .search(as_role(query("Konan Kouassi"), role))
                .await
                .unwrap()
                .into_inner();
            let hit = &page.hits[0];
            assert_eq!(hit.client_number, "C1");
            assert_eq!(
                (
                    hit.display_name.as_str(),
                    hit.birth_year,
                    hit.locality.as_str()
                ),
                ("", 0, "")
            );
            assert!(hit.phone_ending.is_empty());
            assert_eq!(page.withheld_fields.len(), 5, "{:?}", page.withheld_fields);
        }
        // c360's own services read in clear: what tells namesakes apart
        // too (two digits of the phone only).
        let peer = with_caller(
            Request::new(api::SearchRequest {
                query: "Konan Kouassi".into(),
                ..api::SearchRequest::default()
            }),
            Caller::peer(c360_rpc::Peer::Channels),
        );
        let hit = grpc.search(peer).await.unwrap().into_inner().hits.remove(0);
        assert_eq!(hit.display_name, "KOUASSI Konan");
        assert_eq!(hit.birth_year, 1985);
        assert_eq!(hit.locality, "Abobo");
        assert_eq!(hit.phone_ending, "56", "two digits only");
        // An outside caller states why it searches.
        let no_purpose = grpc
            .search(as_role(
                api::SearchRequest {
                    purpose: String::new(),
                    ..query("Konan")
                },
                Role::App,
            ))
            .await
            .unwrap_err();
        assert_eq!(no_purpose.code(), Code::InvalidArgument);
        assert_eq!(
            no_purpose
                .get_details_bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "purpose"
        );

        let denied = grpc
            .search(as_role(query("Konan"), Role::Source))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        let anonymous = grpc.search(Request::new(query("Konan"))).await.unwrap_err();
        assert_eq!(anonymous.code(), Code::Unauthenticated);

        let bad = |r: api::SearchRequest, field: &str| {
            let grpc = grpc.clone();
            let field = field.to_string();
            async move {
                let status = grpc.search(as_role(r, Role::Steward)).await.unwrap_err();
                assert_eq!(status.code(), Code::InvalidArgument);
                let violations = status.get_details_bad_request().unwrap().field_violations;
                assert_eq!(violations[0].field, field);
                assert!(!status.message().contains("Kouassi"));
            }
        };
        bad(
            api::SearchRequest {
                page_size: 1000,
                ..query("Kouassi")
            },
            "page_size",
        )
        .await;
        bad(
            api::SearchRequest {
                page_token: "nonsense".into(),
                ..query("Kouassi")
            },
            "page_token",
        )
        .await;
        bad(query("Kouassi:Konan"), "query").await;
        bad(query(""), "query").await;
        bad(query("1985 14"), "query").await;
        bad(
            api::SearchRequest {
                filters: Some(api::SearchFilters {
                    sectors: vec!["Q".into()],
                    ..api::SearchFilters::default()
                }),
                ..query("Kouassi")
            },
            "filters.sectors",
        )
        .await;

        let stats = grpc
            .get_index_stats(as_role(api::GetIndexStatsRequest {}, Role::Service))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stats.clients, 1);
        assert!(stats.disk_bytes > 0);
        assert_eq!(
            grpc.get_index_stats(as_role(api::GetIndexStatsRequest {}, Role::App))
                .await
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        assert_eq!(
            grpc.reindex(as_role(api::ReindexRequest {}, Role::Steward))
                .await
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        grpc.reindex(as_role(api::ReindexRequest {}, Role::Admin))
            .await
            .unwrap();
        assert_eq!(search.stats().clients, 0);
    }

    #[test]
    fn debug_output_has_no_personal_data() {
        let doc = person("C1", "Konan", "KOUASSI", "C0012345678", "0707123456");
        let r = SearchRequest {
            query: "Konan Kouassi".into(),
            ..SearchRequest::default()
        };
        let hit = crate::Hit {
            client_number: "C1".into(),
            score: 1.0,
            matched_fields: vec!["name"],
            sector: "A".into(),
            person: crate::HitPerson {
                surname: "KOUASSI".into(),
                given: "Konan".into(),
                birth_year: Some(1985),
                locality: "Abobo".into(),
                phone_ending: "56".into(),
            },
        };
        for text in [format!("{doc:?}"), format!("{r:?}"), format!("{hit:?}")] {
            assert!(!text.contains("Abobo") && !text.contains("1985"), "{text}");
            assert!(!text.contains("Konan") && !text.contains("0707"), "{text}");
        }
    }
}

#[test]
fn config_parses_with_defaults_and_rejects_unknown_keys() {
    let c: SearchConfig = toml::from_str("commit_interval_ms = 250").unwrap();
    assert_eq!(c.commit_interval_ms, 250);
    assert_eq!(c.writer_threads, SearchConfig::default().writer_threads);
    let text = toml::to_string(&SearchConfig::default()).unwrap();
    assert_eq!(
        toml::from_str::<SearchConfig>(&text).unwrap(),
        SearchConfig::default()
    );
    assert!(toml::from_str::<SearchConfig>("commit_interval = 250").is_err());
}

// ---------------------------------------------------------------------------
// The production path: the follower over a resolver peer (GetClient)
// ---------------------------------------------------------------------------

mod resolver_peer {
    use c360_proto::common::v1 as pb;
    use c360_proto::resolver::v1 as api;
    use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
    use c360_proto::resolver::v1::resolver_service_server::{
        ResolverService, ResolverServiceServer,
    };
    use c360_rpc::{Caller, Role, follow_feed, in_process};
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;
    use tonic::{Request, Response, Status, Streaming};

    use super::*;

    type EventSender = mpsc::Sender<Result<Event, Status>>;

    /// Serves GetClient from a map and WatchEvents from a list; the rest
    /// is unimplemented.
    #[derive(Clone, Default)]
    struct PeerResolver {
        clients: Arc<Mutex<HashMap<String, api::GetClientResponse>>>,
        events: Arc<Mutex<Vec<Event>>>,
        streams: Arc<Mutex<Vec<EventSender>>>,
    }

    fn golden(number: &str, given: &str, surname: &str, phone: &str) -> api::GetClientResponse {
        let field = |f: &str, v: &str| api::FieldValue {
            field: f.into(),
            value: v.into(),
            record_id: "R1".into(),
            rule: "only_value".into(),
        };
        api::GetClientResponse {
            client_number: number.into(),
            requested_number: number.into(),
            golden: vec![
                field("given_name", given),
                field("surname", surname),
                field("phone", phone),
                field("locality", "Abobo"),
                field("country", "CI"),
            ],
            records: vec![api::MemberRecord {
                record_id: "R1".into(),
                source_system: "agent_app".into(),
                record: Some(pb::Record {
                    source_system: "agent_app".into(),
                    given_name: given.to_lowercase(),
                    surname: surname.to_lowercase(),
                    ..pb::Record::default()
                }),
                ..api::MemberRecord::default()
            }],
            ..api::GetClientResponse::default()
        }
    }

    impl PeerResolver {
        async fn publish(&self, e: Event) {
            self.events.lock().unwrap().push(e.clone());
            let senders = self.streams.lock().unwrap().clone();
            for s in senders {
                let _ = s.send(Ok(e.clone())).await;
            }
        }
    }

    type Stream<T> = ReceiverStream<Result<T, Status>>;

    #[tonic::async_trait]
    impl ResolverService for PeerResolver {
        async fn resolve(
            &self,
            _: Request<api::ResolveRequest>,
        ) -> Result<Response<api::ResolveResponse>, Status> {
            Err(Status::unimplemented("resolve"))
        }
        type IngestStream = Stream<api::IngestResponse>;
        async fn ingest(
            &self,
            _: Request<Streaming<api::IngestRequest>>,
        ) -> Result<Response<Self::IngestStream>, Status> {
            Err(Status::unimplemented("ingest"))
        }
        async fn get_client(
            &self,
            request: Request<api::GetClientRequest>,
        ) -> Result<Response<api::GetClientResponse>, Status> {
            let n = request.into_inner().client_number;
            let clients = self.clients.lock().unwrap();
            let found = clients.get(&n).cloned().or_else(|| {
                clients
                    .values()
                    .find(|c| c.aliases.contains(&n))
                    .cloned()
                    .map(|mut c| {
                        c.redirected = true;
                        c.requested_number = n.clone();
                        c
                    })
            });
            found
                .map(Response::new)
                .ok_or_else(|| Status::not_found(format!("client {n}")))
        }
        async fn merge(
            &self,
            _: Request<api::MergeRequest>,
        ) -> Result<Response<api::MergeResponse>, Status> {
            Err(Status::unimplemented("merge"))
        }
        async fn split(
            &self,
            _: Request<api::SplitRequest>,
        ) -> Result<Response<api::SplitResponse>, Status> {
            Err(Status::unimplemented("split"))
        }
        async fn list_review_tasks(
            &self,
            _: Request<api::ListReviewTasksRequest>,
        ) -> Result<Response<api::ListReviewTasksResponse>, Status> {
            Err(Status::unimplemented("list"))
        }
        async fn decide_review_task(
            &self,
            _: Request<api::DecideReviewTaskRequest>,
        ) -> Result<Response<api::DecideReviewTaskResponse>, Status> {
            Err(Status::unimplemented("decide"))
        }
        async fn explain(
            &self,
            _: Request<api::ExplainRequest>,
        ) -> Result<Response<api::ExplainResponse>, Status> {
            Err(Status::unimplemented("explain"))
        }
        async fn get_quality_summary(
            &self,
            _: Request<api::GetQualitySummaryRequest>,
        ) -> Result<Response<api::GetQualitySummaryResponse>, Status> {
            Err(Status::unimplemented("quality"))
        }
        async fn retrain(
            &self,
            _: Request<api::RetrainRequest>,
        ) -> Result<Response<api::RetrainResponse>, Status> {
            Err(Status::unimplemented("retrain"))
        }
        type WatchEventsStream = Stream<Event>;
        async fn watch_events(
            &self,
            request: Request<api::WatchEventsRequest>,
        ) -> Result<Response<Self::WatchEventsStream>, Status> {
            let from = request.into_inner().from_offset;
            let (tx, rx) = mpsc::channel(1024);
            let backlog: Vec<Event> = self
                .events
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.offset >= from)
                .cloned()
                .collect();
            for e in backlog {
                tx.send(Ok(e))
                    .await
                    .map_err(|_| Status::internal("closed"))?;
            }
            self.streams.lock().unwrap().push(tx);
            Ok(Response::new(ReceiverStream::new(rx)))
        }
        async fn erase_client(
            &self,
            _: Request<api::EraseClientRequest>,
        ) -> Result<Response<api::EraseClientResponse>, Status> {
            Err(Status::unimplemented("erase"))
        }
        async fn lookup_numbers(
            &self,
            _: Request<api::LookupNumbersRequest>,
        ) -> Result<Response<api::LookupNumbersResponse>, Status> {
            Err(Status::unimplemented("lookup"))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follower_over_the_resolver_peer() {
        let tmp = tempfile::tempdir().unwrap();
        let kek = kek();
        let peer = PeerResolver::default();
        let channel = in_process(
            ResolverServiceServer::new(peer.clone()),
            Caller::new("search", Role::Service),
        );
        let client = ResolverServiceClient::new(channel);
        let config = SearchConfig {
            commit_interval_ms: 100,
            ..manual_config()
        };
        let search = Search::open_dir(
            tmp.path(),
            config,
            kek.clone(),
            SearchPeers::over_grpc(Some(client.clone())),
        )
        .unwrap();
        let (mut progress, task) = follow_feed(client, search.feed_handler(), "search");

        peer.clients
            .lock()
            .unwrap()
            .insert("C1".into(), golden("C1", "Konan", "KOUASSI", "0707123456"));
        peer.clients
            .lock()
            .unwrap()
            .insert("C2".into(), golden("C2", "Awa", "KONE", "0505123456"));
        peer.publish(event(1, EventType::ClientCreated, "C1", &[]))
            .await;
        peer.publish(event(2, EventType::ClientCreated, "C2", &[]))
            .await;
        assert!(progress.wait_for(2).await);
        let s = search.clone();
        let visible =
            tokio::task::spawn_blocking(move || s.wait_committed(2, Duration::from_secs(1)))
                .await
                .unwrap();
        assert!(visible, "not searchable within a second of being applied");
        assert_eq!(first_hits(&search, "Kouasi Konan", 5), ["C1"]);
        let hit = &search.search(&req("phone:0505123456")).unwrap().hits[0];
        assert_eq!(hit.display_name(), "KONE Awa");
        assert_eq!(
            hit.sector, "Y",
            "name without birth date or id, a phone, no transactions"
        );

        // C2 absorbed into C1: one document, found by C2's phone.
        {
            let mut clients = peer.clients.lock().unwrap();
            clients.remove("C2");
            let c1 = clients.get_mut("C1").unwrap();
            c1.aliases.push("C2".into());
            c1.golden.push(api::FieldValue {
                field: "phone".into(),
                value: "0505123456".into(),
                ..api::FieldValue::default()
            });
        }
        peer.publish(event(3, EventType::ClientsMerged, "C1", &["C2"]))
            .await;
        assert!(progress.wait_for(3).await);
        let s = search.clone();
        assert!(
            tokio::task::spawn_blocking(move || s.wait_committed(3, Duration::from_secs(1)))
                .await
                .unwrap()
        );
        assert_eq!(first_hits(&search, "phone:0505123456", 5), ["C1"]);
        assert_eq!(search.stats().clients, 1);
        task.stop().await;
    }
}
