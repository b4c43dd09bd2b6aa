//! Compatibility fixtures (issue 19, point 7): a resolver store and a search
//! index written by an earlier version are committed under
//! `tests/fixtures/compat/` (see its README), and the current code opens
//! them and finds what they held. A change of either format must come with
//! a migration, and these tests say so by failing.
//!
//! The fixtures are text: one line a stored key (`space \t key \t value`,
//! hex) for the resolver, one line a file (`path \t content`, hex) for the
//! search index, as the vault's consent fixture is written. Their key
//! material is the fixture keyring below, made for these tests and used
//! nowhere else. `write_the_compatibility_fixtures` (ignored) wrote them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use c360_core::Record;
use c360_crypto::{KekProvider, LocalKeyring};
use c360_proto::resolver::v1 as api;
use c360_resolver::{Decision, NumberState, Resolver, ResolverConfig};
use c360_search::{ClientDoc, Fetched, GoldenSource, Search, SearchConfig, SearchPeers};
use c360_storage::{Batch, MemoryStore, Store};
use prost::Message;

const RESOLVER_FIXTURE: &str = "tests/fixtures/compat/resolver-store.tsv";
const SEARCH_FIXTURE: &str = "tests/fixtures/compat/search-index.tsv";

/// The fixtures' key-encryption keyring: made for these tests (32 bytes of
/// 0x2a), never a real key.
const FIXTURE_KEK: &str = "kek-1:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=\n";

fn kek() -> Arc<dyn KekProvider> {
    Arc::new(LocalKeyring::from_text(FIXTURE_KEK).unwrap())
}

fn fixture_path(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join(relative)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A record of the fixture's source system.
fn person(id: &str, given: &str, surname: &str, dob: &str, phone: &str, nid: &str) -> Record {
    Record {
        record_id: id.into(),
        source_system: "core_banking".into(),
        given_name: given.into(),
        surname: surname.into(),
        sex: if given == "Moussa" { "M" } else { "F" }.into(),
        date_of_birth: dob.into(),
        national_id: nid.into(),
        phones: vec![phone.into()],
        locality: "Abobo".into(),
        country: "CI".into(),
        ..Record::default()
    }
}

fn fixture_records() -> Vec<Record> {
    vec![
        person(
            "A1",
            "Aminata",
            "Traoré",
            "1985-03-12",
            "0707123456",
            "CI0012345678",
        ),
        person(
            "A2",
            "Aminata",
            "TRAORE",
            "12/03/1985",
            "07 07 12 34 56",
            "CI0012345678",
        ),
        person(
            "M1",
            "Moussa",
            "Koné",
            "1979-11-02",
            "0505998814",
            "CI0087654321",
        ),
        person(
            "W1",
            "Awa",
            "Diallo",
            "1992-06-30",
            "0101020304",
            "CI0011223344",
        ),
        person("W2", "Awa", "Diallo", "1992-06-30", "0101020304", ""),
        person(
            "F1",
            "Fatou",
            "Coulibaly",
            "1968-01-15",
            "0708091011",
            "CI0055667788",
        ),
    ]
}

// ---------------------------------------------------------------------------
// The resolver's store
// ---------------------------------------------------------------------------

fn load_resolver_store() -> Arc<dyn Store> {
    let text = std::fs::read_to_string(fixture_path(RESOLVER_FIXTURE)).unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(c360_resolver::SPACES));
    let mut batch = Batch::new();
    for line in text.lines() {
        let mut cells = line.split('\t');
        let (space, key, value) = (
            cells.next().unwrap(),
            cells.next().unwrap(),
            cells.next().unwrap_or(""),
        );
        batch.put(space, unhex(key), unhex(value));
    }
    store.commit(batch).unwrap();
    store
}

/// Opens the fixture: a store with a model never asks for a first one.
fn open_resolver_fixture() -> Resolver {
    Resolver::open(
        load_resolver_store(),
        kek(),
        ResolverConfig::default(),
        || Err("the stored model must be used"),
    )
    .unwrap()
}

fn events(resolver: &Resolver) -> Vec<api::Event> {
    resolver
        .events()
        .read_from(resolver.store(), 1, 1_000)
        .unwrap()
        .into_iter()
        .map(|(offset, payload)| {
            let mut e = api::Event::decode(payload.as_slice()).unwrap();
            e.offset = offset;
            e
        })
        .collect()
}

#[test]
fn a_resolver_store_of_an_earlier_version_opens_and_answers_as_it_did() {
    let resolver = open_resolver_fixture();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_path("tests/fixtures/compat/resolver-expected.json"))
            .unwrap(),
    )
    .unwrap();
    // The model it stored, not a new one.
    assert_eq!(resolver.model_version(), expected["model_version"]);
    let (records, clients) = resolver.counts();
    assert_eq!(records as u64, expected["records"]);
    assert_eq!(clients as u64, expected["clients"]);
    assert_eq!(resolver.open_reviews() as u64, expected["open_reviews"]);

    // Every client it held: members (its ids and the sources'), golden
    // values (decrypted with keys unwrapped by the fixture keyring),
    // aliases and lineage.
    for c in expected["clients_held"].as_array().unwrap() {
        let number = c["number"].as_str().unwrap();
        let client = resolver.get_client(number).unwrap();
        assert_eq!(client.number.to_string(), c["survivor"], "{number}");
        let members: Vec<(String, String)> = client
            .members
            .iter()
            .map(|m| (m.record_id.clone(), m.record.record_id.clone()))
            .collect();
        let want: Vec<(String, String)> = serde_json::from_value(c["members"].clone()).unwrap();
        assert_eq!(members, want, "{number}");
        let golden: BTreeMap<String, String> = client
            .golden
            .iter()
            .filter(|g| ["given_name", "surname", "date_of_birth"].contains(&g.field))
            .map(|g| (g.field.to_string(), g.value.clone()))
            .collect();
        let want: BTreeMap<String, String> = serde_json::from_value(c["golden"].clone()).unwrap();
        assert_eq!(golden, want, "{number}");
        let aliases: Vec<String> = client.aliases.iter().map(ToString::to_string).collect();
        let want: Vec<String> = serde_json::from_value(c["aliases"].clone()).unwrap();
        assert_eq!(aliases, want, "{number}");
        let lineage: Vec<String> = client
            .lineage
            .iter()
            .map(|l| format!("{:?}", l.kind))
            .collect();
        let want: Vec<String> = serde_json::from_value(c["lineage"].clone()).unwrap();
        assert_eq!(lineage, want, "{number}");
    }

    // The erased client stays erased; its number is known as such.
    let erased = expected["erased"].as_str().unwrap();
    assert!(matches!(
        resolver.get_client(erased),
        Err(c360_resolver::Error::NotFound(_))
    ));
    let (states, head) = resolver.lookup_numbers(&[erased.to_string()]).unwrap();
    assert_eq!(states, [NumberState::Erased]);

    // The feed: every event it published, in order, with no gap.
    let feed = events(&resolver);
    assert_eq!(head, feed.len() as u64);
    let kinds: Vec<i32> = feed.iter().map(|e| e.r#type).collect();
    let want: Vec<i32> = serde_json::from_value(expected["event_types"].clone()).unwrap();
    assert_eq!(kinds, want);
    assert!(
        feed.iter()
            .enumerate()
            .all(|(i, e)| e.offset == i as u64 + 1)
    );

    // It decides with what it loaded: a record it holds again is an update
    // in place, a new one of a person it holds joins that person's client.
    let records = fixture_records();
    let again = resolver.resolve(records[0].clone(), false).unwrap();
    assert!(again.updated);
    assert_eq!(again.client.unwrap().to_string(), expected["aminata"]);
    let mut new_record = records[0].clone();
    new_record.record_id = "A3".into();
    let joined = resolver.resolve(new_record, true).unwrap();
    assert_eq!(joined.decision, Decision::Matched);
    assert_eq!(joined.client.unwrap().to_string(), expected["aminata"]);
    // The new writes carry on the feed after the stored events.
    let after = events(&resolver);
    assert_eq!(after.len(), feed.len() + 1);
    assert_eq!(
        after.last().unwrap().r#type,
        api::EventType::RecordUpdated as i32
    );
}

// ---------------------------------------------------------------------------
// The search index
// ---------------------------------------------------------------------------

/// Golden records from a map, for the search feed.
struct Goldens(Mutex<BTreeMap<String, ClientDoc>>);

impl GoldenSource for Goldens {
    fn fetch(&self, numbers: &[String]) -> c360_search::Result<Vec<Fetched>> {
        let map = self.0.lock().unwrap();
        Ok(numbers
            .iter()
            .map(|n| match map.get(n) {
                Some(doc) => Fetched::Current(doc.clone()),
                None => Fetched::Gone,
            })
            .collect())
    }
}

fn search_config() -> SearchConfig {
    SearchConfig {
        commit_interval_ms: 600_000,
        writer_threads: 1,
        writer_memory_bytes: 32 << 20,
        ..SearchConfig::default()
    }
}

fn fixture_docs() -> Vec<ClientDoc> {
    let doc = |n: &str, given: &str, surname: &str, dob: &str, phone: &str| ClientDoc {
        client_number: n.into(),
        given_name: given.into(),
        surname: surname.into(),
        date_of_birth: dob.into(),
        phones: vec![phone.into()],
        locality: "Abobo".into(),
        country: "CI".into(),
        source_systems: vec!["core_banking".into()],
        ..ClientDoc::default()
    };
    vec![
        doc("C1", "Aminata", "Traoré", "1985-03-12", "0707123456"),
        doc("C2", "Moussa", "Koné", "1979-11-02", "0505998814"),
        doc("C3", "Awa", "Diallo", "1992-06-30", "0101020304"),
        doc("C4", "Fatou", "Coulibaly", "1968-01-15", "0708091011"),
    ]
}

fn feed_event(offset: u64, kind: api::EventType, number: &str) -> api::Event {
    api::Event {
        offset,
        r#type: kind as i32,
        client_number: number.into(),
        ..api::Event::default()
    }
}

fn first_hit(search: &Search, query: &str) -> Option<String> {
    let request = c360_search::SearchRequest {
        query: query.into(),
        ..c360_search::SearchRequest::default()
    };
    search
        .search(&request)
        .unwrap()
        .hits
        .into_iter()
        .next()
        .map(|h| h.client_number)
}

#[test]
fn a_search_index_of_an_earlier_version_opens_without_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture_path(SEARCH_FIXTURE)).unwrap();
    for line in text.lines() {
        let (path, content) = line.split_once('\t').unwrap();
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, unhex(content)).unwrap();
    }
    let search =
        Search::open_dir(dir.path(), search_config(), kek(), SearchPeers::default()).unwrap();
    // Opened as written: an index of another schema would have been
    // replaced by an empty generation to rebuild from the feed.
    let stats = search.stats();
    assert_eq!(stats.clients, 4);
    assert_eq!(stats.committed_offset, 5);
    assert_eq!(search.committed_offset(), 5);
    assert_eq!(first_hit(&search, "Aminata Traore").as_deref(), Some("C1"));
    assert_eq!(first_hit(&search, "KONE Moussa").as_deref(), Some("C2"));
    assert_eq!(first_hit(&search, "0101020304").as_deref(), Some("C3"));
    // C5 was erased: its document is gone.
    assert_eq!(first_hit(&search, "Mariam Sylla"), None);
}

// ---------------------------------------------------------------------------
// Writing the fixtures (by hand, with the version they stand for)
// ---------------------------------------------------------------------------

fn dump_store(store: &dyn Store) -> String {
    let mut out = String::new();
    for space in c360_resolver::SPACES {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store
                .scan_prefix(space, b"", after.as_deref(), 1_000)
                .unwrap();
            for (k, v) in &page {
                out.push_str(&format!("{space}\t{}\t{}\n", hex(k), hex(v)));
            }
            if page.len() < 1_000 {
                break;
            }
            after = page.last().map(|(k, _)| k.clone());
        }
    }
    out
}

fn write_resolver_fixture() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(c360_resolver::SPACES));
    let config = ResolverConfig::default();
    let matching = config.matching.clone();
    let resolver = Resolver::open(store.clone(), kek(), config, || {
        c360::bootstrap::first_model(500, &matching)
    })
    .unwrap();
    let records = fixture_records();
    let resolved: Vec<_> = resolver
        .resolve_many(records.clone())
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let number = |i: usize| resolved[i].client.unwrap().to_string();
    // A steward merges Awa's two clients if the resolver kept them apart,
    // splits the national-ID-less record out again, and the vault erases
    // Fatou.
    if number(3) != number(4) {
        resolver
            .merge(&[number(3), number(4)], "steward", "same person")
            .unwrap();
    }
    let awa = resolver.get_client(&number(3)).unwrap();
    let w2 = awa
        .members
        .iter()
        .find(|m| m.record.record_id == "W2")
        .unwrap()
        .record_id
        .clone();
    let (_, split_out) = resolver
        .split(&awa.number.to_string(), &[w2], "steward", "no national id")
        .unwrap();
    resolver
        .erase(&number(5), "vault", "erasure request")
        .unwrap();

    let mut held = Vec::new();
    let mut numbers: Vec<String> = (0..5).map(number).collect();
    numbers.push(split_out.to_string());
    numbers.sort();
    numbers.dedup();
    for n in numbers {
        let c = resolver.get_client(&n).unwrap();
        held.push(serde_json::json!({
            "number": n,
            "survivor": c.number.to_string(),
            "members": c.members.iter().map(|m| (m.record_id.clone(), m.record.record_id.clone())).collect::<Vec<_>>(),
            "golden": c.golden.iter()
                .filter(|g| ["given_name", "surname", "date_of_birth"].contains(&g.field))
                .map(|g| (g.field.to_string(), g.value.clone()))
                .collect::<BTreeMap<_, _>>(),
            "aliases": c.aliases.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "lineage": c.lineage.iter().map(|l| format!("{:?}", l.kind)).collect::<Vec<_>>(),
        }));
    }
    let (records_held, clients) = resolver.counts();
    let mut expected = serde_json::json!({
        "records": records_held,
        "clients": clients,
        "open_reviews": resolver.open_reviews(),
        "clients_held": held,
        "erased": number(5),
        "aminata": number(0),
        "event_types": events(&resolver).iter().map(|e| e.r#type).collect::<Vec<_>>(),
    });
    drop(resolver);
    std::fs::write(fixture_path(RESOLVER_FIXTURE), dump_store(store.as_ref())).unwrap();
    // The version of the model as a restart reads it back from the store
    // (its parameters go through JSON, which may move a last bit).
    expected["model_version"] = open_resolver_fixture().model_version().into();
    std::fs::write(
        fixture_path("tests/fixtures/compat/resolver-expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}

fn write_search_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let search =
        Search::open_dir(dir.path(), search_config(), kek(), SearchPeers::default()).unwrap();
    let mut docs: BTreeMap<String, ClientDoc> = fixture_docs()
        .into_iter()
        .map(|d| (d.client_number.clone(), d))
        .collect();
    docs.insert(
        "C5".into(),
        ClientDoc {
            client_number: "C5".into(),
            given_name: "Mariam".into(),
            surname: "Sylla".into(),
            ..ClientDoc::default()
        },
    );
    let goldens = Arc::new(Goldens(Mutex::new(docs)));
    let handler = search.feed_handler_with(goldens.clone());
    let created: Vec<api::Event> = ["C1", "C2", "C3", "C4", "C5"]
        .iter()
        .enumerate()
        .map(|(i, n)| feed_event(i as u64 + 1, api::EventType::ClientCreated, n))
        .collect();
    handler.apply(&created[..4]).unwrap();
    search.commit().unwrap();
    // C5 created then erased in one batch: never in a committed segment.
    goldens.0.lock().unwrap().remove("C5");
    handler.apply(&created[4..]).unwrap();
    search.commit().unwrap();
    assert!(search.wait_committed(5, Duration::from_secs(10)));
    drop(handler);
    drop(search);
    let mut files = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = String::new();
    for path in files {
        let relative = path.strip_prefix(dir.path()).unwrap().to_string_lossy();
        out.push_str(&format!(
            "{relative}\t{}\n",
            hex(&std::fs::read(&path).unwrap())
        ));
    }
    std::fs::write(fixture_path(SEARCH_FIXTURE), out).unwrap();
}

/// Writes the fixtures with the code of this checkout. Run by hand
/// (`cargo test -p c360-tests --test integration -- --ignored
/// write_the_compatibility_fixtures`) only with a migration for the
/// version the committed fixtures stand for; then say in the README which
/// commit wrote the new ones.
#[test]
#[ignore = "writes tests/fixtures/compat/; run by hand"]
fn write_the_compatibility_fixtures() {
    write_resolver_fixture();
    write_search_fixture();
}
