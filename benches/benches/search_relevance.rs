//! Name-only search relevance, as a clerk types: the client's name and
//! nothing else (exact, surname first, one edit anywhere in the given name,
//! on its first letter, in a short given name, a spelling that sounds the
//! same), clients sampled over all clients of the index, namesakes
//! included. Reports, per kind of query, how often the client is first and
//! in the top 5, and the same counting a namesake (a client with the same
//! folded name) as right, since a name alone cannot tell them apart.
//!
//! Two data sets, indexed in process (no gRPC) one client per true entity
//! with a golden record by simple survivorship:
//! - generated records (`C360_RELEVANCE_RECORDS`, default 50,000) for each
//!   seed of `C360_RELEVANCE_SEEDS` (default "7,2024": 7 is the one ranking
//!   is tuned on, 2024 is held out);
//! - `hist50k.csv` (Splink's historical_50k, English names, 5,156 people)
//!   from `C360_HIST50K` (with its `*_truth.csv` beside it); skipped with a
//!   message when the variable is unset.
//!
//! ```text
//! C360_HIST50K=/work/shared/data/hist50k.csv cargo bench -p c360-benches --bench search_relevance
//! ```
//!
//! `C360_RELEVANCE_SAMPLE` (default 1,000) clients are drawn per data set;
//! `C360_RELEVANCE_MISSES=1` prints a few misses per kind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use c360_benches::{env_usize, read_csv, read_truth};
use c360_crypto::{KekProvider, LocalKeyring};
use c360_search::testing::{Report, clients_from_truth, generated_clients, measure};
use c360_search::{ClientDoc, Search, SearchConfig, SearchPeers};

fn index(clients: &[ClientDoc], dir: &Path) -> Search {
    let keyring = LocalKeyring::generate_text("kek-bench").expect("keyring");
    let kek: Arc<dyn KekProvider> = Arc::new(LocalKeyring::from_text(&keyring).expect("keyring"));
    let config = SearchConfig {
        commit_interval_ms: 3_600_000,
        ..SearchConfig::default()
    };
    let search = Search::open_dir(dir, config, kek, SearchPeers::default()).expect("open");
    search.upsert_many(clients.to_vec()).expect("upsert");
    search.commit().expect("commit");
    search
}

fn run(label: &str, clients: &[ClientDoc], sample: usize) {
    let dir = std::env::temp_dir().join(format!(
        "c360-bench-relevance-{}-{}",
        std::process::id(),
        label.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let search = index(clients, &dir);
    let t = Instant::now();
    let report: Report = measure(&search, clients, sample, 0x5eed);
    let queries: usize = report.kinds.values().map(|t| t.cases).sum();
    println!(
        "\n## {label}: {} clients, {} sampled ({} with a namesake, {:.1} %), {queries} queries in {:.1} s\n",
        report.clients,
        report.sampled,
        report.with_namesake,
        100.0 * report.with_namesake as f64 / report.sampled.max(1) as f64,
        t.elapsed().as_secs_f64()
    );
    print!("{}", report.table());
    if std::env::var("C360_RELEVANCE_MISSES").is_ok_and(|v| v == "1") {
        for (kind, t) in &report.kinds {
            for m in &t.misses {
                println!("  miss ({}): {m}", kind.label());
            }
        }
    }
    drop(search);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let records = env_usize("C360_RELEVANCE_RECORDS", 50_000);
    let sample = env_usize("C360_RELEVANCE_SAMPLE", 1_000);
    let seeds: Vec<u64> = std::env::var("C360_RELEVANCE_SEEDS")
        .unwrap_or_else(|_| "7,2024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for seed in seeds {
        let clients = generated_clients(records, seed);
        run(
            &format!("generated, {records} records, seed {seed}"),
            &clients,
            sample,
        );
    }
    match std::env::var_os("C360_HIST50K") {
        None => println!(
            "\nC360_HIST50K is not set: the hist50k data set is skipped \
             (set it to the path of hist50k.csv; its truth file is read from hist50k_truth.csv beside it)"
        ),
        Some(path) => {
            let path = PathBuf::from(path);
            let truth_path = path.with_file_name(format!(
                "{}_truth.csv",
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("hist50k")
            ));
            if !path.exists() || !truth_path.exists() {
                println!(
                    "\nC360_HIST50K: {} or {} is missing: the hist50k data set is skipped",
                    path.display(),
                    truth_path.display()
                );
                return;
            }
            let records = read_csv(&path, None);
            let truth: HashMap<String, String> = read_truth(&truth_path).into_iter().collect();
            let clients = clients_from_truth(records, &truth);
            run("hist50k", &clients, sample);
        }
    }
}
