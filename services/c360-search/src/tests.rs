//! Service-level tests: relevance on generated data, the event feed
//! (merge, split, erase, restart, reset), encryption at rest, near real
//! time, roles and masking, bad input.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    Search::open(dir, config, kek.clone(), SearchPeers::default()).unwrap()
}

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

/// Clients from generated records: one per true entity, with a golden
/// record by simple survivorship (most frequent value per field).
pub(crate) fn generated_clients(records: usize, seed: u64) -> Vec<ClientDoc> {
    let mut by_entity: BTreeMap<String, Vec<c360_core::Record>> = BTreeMap::new();
    for g in c360_datagen::generate(&c360_datagen::GenConfig { records, seed }) {
        by_entity.entry(g.entity_id).or_default().push(g.record);
    }
    by_entity
        .into_values()
        .enumerate()
        .map(|(i, recs)| {
            let pick = |f: fn(&c360_core::Record) -> &str| most_frequent(recs.iter().map(f));
            let mut doc = ClientDoc {
                client_number: format!("C{i:08}"),
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
            for r in &recs {
                let name = [&r.given_name, &r.middle_name, &r.surname, &r.full_name]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                for (list, value) in [
                    (&mut doc.other_names, name.as_str()),
                    (&mut doc.national_ids, r.national_id.as_str()),
                    (&mut doc.source_systems, r.source_system.as_str()),
                ] {
                    if !value.is_empty() && !list.iter().any(|v| v == value) {
                        list.push(value.to_string());
                    }
                }
                for p in &r.phones {
                    if !doc.phones.contains(p) {
                        doc.phones.push(p.clone());
                    }
                }
                for e in &r.emails {
                    if !doc.emails.contains(e) {
                        doc.emails.push(e.clone());
                    }
                }
            }
            doc
        })
        .collect()
}

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
        .search(&r, false)
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
        let hits = search.search(&r, false).unwrap().hits;
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
            let hits = search.search(&r, false).unwrap().hits;
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
    let page = search.search(&req("phone:0707123456"), false).unwrap();
    assert_eq!(page.hits[0].matched_fields, ["phone"]);
    let page = search.search(&req("Kouasi Konan"), false).unwrap();
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
        let page = search.search(&r, false).unwrap();
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
    assert_eq!(search.search(&r, false).unwrap().hits.len(), 15);
    r.filters.sectors = vec!["a".into()];
    let hits = search.search(&r, false).unwrap().hits;
    // Region Lagunes (i % 3 == 0) and core banking (i % 2 == 0): i % 6 == 0.
    assert_eq!(hits.len(), 8);
    assert!(hits.iter().all(|h| h.sector == "A"));
    r.filters.sectors.clear();
    r.filters.source_systems = vec!["agent_app".into()];
    assert_eq!(search.search(&r, false).unwrap().hits.len(), 7);
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

#[test]
fn near_real_time_within_a_second() {
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
    let started = Instant::now();
    feed.apply(&[event(1, EventType::ClientCreated, "C7", &[])])
        .unwrap();
    assert!(search.wait_committed(1, Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(1));
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
        for v in a.names.iter().chain(a.ids.iter()).chain(a.emails.iter()) {
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
    assert!(Search::open(tmp.path(), manual_config(), other, SearchPeers::default()).is_err());
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
            ..api::SearchRequest::default()
        }
    }

    #[tokio::test]
    async fn roles_masking_and_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let kek = kek();
        let search = open(tmp.path(), &kek, manual_config());
        search
            .upsert(person(
                "C1",
                "Konan",
                "KOUASSI",
                "C0012345678",
                "0707123456",
            ))
            .unwrap();
        search.commit().unwrap();
        let grpc = SearchGrpc::new(search.clone());

        let clear = grpc
            .search(as_role(query("Konan Kouassi"), Role::Steward))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(clear.hits[0].display_name, "KOUASSI Konan");
        assert_eq!(clear.hits[0].client_number, "C1");
        for role in [Role::App, Role::Service] {
            let masked = grpc
                .search(as_role(query("Konan Kouassi"), role))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(masked.hits[0].display_name, "K***** Konan");
        }
        let compliance = grpc
            .search(as_role(query("Konan Kouassi"), Role::Compliance))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(compliance.hits[0].display_name, "KOUASSI Konan");

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
        for text in [format!("{doc:?}"), format!("{r:?}")] {
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
        let search = Search::open(
            tmp.path(),
            config,
            kek.clone(),
            SearchPeers {
                resolver: Some(client.clone()),
            },
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
        let hit = &search.search(&req("phone:0505123456"), true).unwrap().hits[0];
        assert_eq!(hit.display_name, "K***** Awa");
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
