//! The search index: building it from scratch (encrypted files, durable
//! commit) and fuzzy name queries on it.
//!
//! Each generated record is indexed as one client (numbers `C0000000`..),
//! through the same `upsert` path the feed handler uses. Queries are a
//! given name and a surname of an indexed client with one typo in the
//! surname, run one at a time after a warm-up, in process (no gRPC); then
//! the same clients' names as a clerk types them (the relevance
//! benchmark's kinds in turn: exact, surname first, one edit anywhere in
//! the given name, on its first letter, in a short given name, a
//! sound-alike spelling).
//!
//! ```text
//! C360_BENCH_CLIENTS=1000000 cargo bench -p c360-benches --bench search
//! ```
//!
//! Sizes: `C360_BENCH_CLIENTS` (default 100,000), `C360_BENCH_QUERIES`
//! (default 2,000).

use c360_benches::{env_usize, percentile};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use c360_benches::peak_rss_mib;
use c360_crypto::{KekProvider, LocalKeyring};
use c360_search::testing::{Kind, query as typed_query, typed_name};
use c360_search::{ClientDoc, Search, SearchConfig, SearchPeers, SearchRequest};
use rand::SeedableRng;

fn bench_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("c360-bench-search-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn client(i: usize, r: &c360_core::Record) -> ClientDoc {
    ClientDoc {
        client_number: format!("C{i:07}"),
        given_name: r.given_name.clone(),
        middle_name: r.middle_name.clone(),
        surname: r.surname.clone(),
        full_name: r.full_name.clone(),
        date_of_birth: r.date_of_birth.clone(),
        national_ids: if r.national_id.is_empty() {
            Vec::new()
        } else {
            vec![r.national_id.clone()]
        },
        phones: r.phones.clone(),
        emails: r.emails.clone(),
        address: r.address.clone(),
        locality: r.locality.clone(),
        region: r.region.clone(),
        country: r.country.clone(),
        source_systems: vec![r.source_system.clone()],
        ..ClientDoc::default()
    }
}

/// A deterministic typo: one character deleted, doubled or swapped with
/// its neighbour, never the first one.
fn typo(word: &str, seed: &mut u64) -> String {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let mut c: Vec<char> = word.chars().collect();
    if c.len() < 4 {
        return word.to_string();
    }
    let at = 1 + (*seed as usize % (c.len() - 2));
    match (*seed >> 32) % 3 {
        0 => {
            c.remove(at);
        }
        1 => c.insert(at, c[at]),
        _ => c.swap(at, at + 1),
    }
    c.into_iter().collect()
}

fn main() {
    let clients = env_usize("C360_BENCH_CLIENTS", 100_000);
    let queries = env_usize("C360_BENCH_QUERIES", 2_000);
    let dir = bench_dir();
    let keyring = LocalKeyring::generate_text("kek-bench").expect("keyring");
    let kek: Arc<dyn KekProvider> = Arc::new(LocalKeyring::from_text(&keyring).expect("keyring"));
    let config = SearchConfig {
        writer_memory_bytes: 256 << 20,
        writer_threads: 2,
        // The benchmark commits itself.
        commit_interval_ms: 3_600_000,
        ..SearchConfig::default()
    };
    let search =
        Search::open_dir(&dir, config.clone(), kek.clone(), SearchPeers::default()).expect("open");

    // 1. Index from scratch, streaming generated records in chunks.
    let step = (clients / queries.max(1)).max(1);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut probes: Vec<(String, String)> = Vec::new();
    let mut typed: Vec<String> = Vec::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut chunk = Vec::with_capacity(10_000);
    let mut indexing = Duration::ZERO;
    let started = Instant::now();
    let gen_config = c360_datagen::GenConfig {
        records: clients,
        seed: 42,
    };
    let generated = c360_datagen::generate(&gen_config);
    for (i, g) in generated.enumerate() {
        let r = &g.record;
        if i % step == 0
            && probes.len() < queries
            && !r.given_name.is_empty()
            && r.surname.len() >= 4
        {
            let given = r
                .given_name
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            let surname = r
                .surname
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            probes.push((
                format!("{given} {}", typo(&surname, &mut seed)),
                r.locality.clone(),
            ));
        }
        let doc = client(i, r);
        if i % step == step / 2
            && typed.len() < queries
            && let Some((given, surname)) = typed_name(&doc)
        {
            let kind = Kind::ALL[typed.len() % Kind::ALL.len()];
            let kind = if kind == Kind::ShortGiven && given.len() > 4 {
                Kind::Typo
            } else {
                kind
            };
            typed.extend(typed_query(kind, &given, &surname, &mut rng));
        }
        chunk.push(doc);
        if chunk.len() == 10_000 {
            let t = Instant::now();
            search
                .upsert_many(std::mem::take(&mut chunk))
                .expect("upsert");
            indexing += t.elapsed();
        }
    }
    let t = Instant::now();
    search.upsert_many(chunk).expect("upsert");
    search.commit().expect("commit");
    indexing += t.elapsed();
    let total = started.elapsed();
    let stats = search.stats();
    println!(
        "index: {clients} clients in {:.1} s of indexing ({:.1} s with generation) = {:.0} clients/s; \
         {} segments, {:.0} MiB encrypted on disk, {:.0} MiB decrypted in memory; peak RSS {:.0} MiB",
        indexing.as_secs_f64(),
        total.as_secs_f64(),
        clients as f64 / indexing.as_secs_f64(),
        stats.segments,
        stats.disk_bytes as f64 / (1 << 20) as f64,
        stats.decrypted_bytes as f64 / (1 << 20) as f64,
        peak_rss_mib().unwrap_or(0.0)
    );

    // 2. Fuzzy name queries, one at a time.
    let run = |label: &str, search: &Search, with_place: bool| {
        let mut latencies = Vec::with_capacity(probes.len());
        let mut found = 0usize;
        for (round, (name, place)) in probes.iter().enumerate() {
            let query = if with_place {
                format!("{name} {place}")
            } else {
                name.clone()
            };
            let request = SearchRequest {
                query,
                page_size: 10,
                ..SearchRequest::default()
            };
            let t = Instant::now();
            let page = search.search(&request).expect("search");
            let elapsed = t.elapsed();
            found += usize::from(!page.hits.is_empty());
            // The first 10% warm caches.
            if round >= probes.len() / 10 {
                latencies.push(elapsed);
            }
        }
        latencies.sort();
        println!(
            "{label}: {} queries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({found} with hits)",
            latencies.len(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
    };
    run(
        "fuzzy name query (given + surname with a typo)",
        &search,
        false,
    );
    run("fuzzy name + locality query", &search, true);
    let mut latencies = Vec::with_capacity(typed.len());
    for (round, q) in typed.iter().enumerate() {
        let request = SearchRequest {
            query: q.clone(),
            page_size: 10,
            ..SearchRequest::default()
        };
        let t = Instant::now();
        search.search(&request).expect("search");
        if round >= typed.len() / 10 {
            latencies.push(t.elapsed());
        }
    }
    latencies.sort();
    println!(
        "name-only queries as a clerk types them (kinds in turn): {} queries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );

    // 3. Reopen: every file is decrypted into memory.
    drop(search);
    let t = Instant::now();
    let search = Search::open_dir(&dir, config, kek, SearchPeers::default()).expect("reopen");
    let request = SearchRequest {
        query: probes
            .first()
            .map(|p| p.0.clone())
            .unwrap_or_else(|| "konan".into()),
        ..SearchRequest::default()
    };
    search.search(&request).expect("search");
    println!(
        "reopen + first query: {:.2} s; peak RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        peak_rss_mib().unwrap_or(0.0)
    );
    drop(search);
    let _ = std::fs::remove_dir_all(&dir);
}
