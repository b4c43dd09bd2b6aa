//! Helpers shared by the benchmarks.

pub mod outside;
pub mod rig;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use c360_core::{Mapping, Record, RecordReader};
use c360_matching::eval::{Evaluation, evaluate};
use c360_matching::{DedupeStats, MatchConfig, dedupe};

/// Where the shared person-matching data sets are (FEBRL, fake1000,
/// hist50k, with their truth): the directory `C360_SHARED_DATA` names.
/// Unset, a benchmark says so once and the sets are skipped (each is then
/// reported as not found); nothing outside the clone is read by default.
pub fn shared_data() -> PathBuf {
    static SAID: std::sync::Once = std::sync::Once::new();
    match std::env::var_os("C360_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => {
            SAID.call_once(|| {
                eprintln!(
                    "C360_SHARED_DATA is not set: the shared data sets (FEBRL, fake1000, hist50k) are skipped; \
                     set it to the directory holding them, e.g. C360_SHARED_DATA=../shared/data"
                );
            });
            PathBuf::from("C360_SHARED_DATA-is-not-set")
        }
    }
}

pub fn workspace_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// A size or rate from the environment, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of sorted latencies; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Peak resident memory of this process so far, in MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Reads a CSV through a mapping; panics on bad data (benchmarks use known files).
pub fn read_csv(path: &PathBuf, mapping: Option<&Mapping>) -> Vec<Record> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    RecordReader::new(std::io::BufReader::new(file), mapping)
        .expect("readable header")
        .map(|r| r.expect("valid row").1)
        .collect()
}

pub fn read_truth(path: &PathBuf) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(path).expect("truth file");
    reader
        .records()
        .map(|r| {
            let r = r.expect("truth row");
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

/// One benchmark run: dedupe then evaluate.
#[derive(Debug)]
pub struct Run {
    pub name: String,
    pub seconds: f64,
    pub stats: DedupeStats,
    pub eval: Evaluation,
}

pub fn run(
    name: &str,
    records: &[Record],
    truth: &[(String, String)],
    config: &MatchConfig,
) -> Run {
    let started = Instant::now();
    let outcome = dedupe(records, config).expect("valid config");
    let seconds = started.elapsed().as_secs_f64();
    let predicted: Vec<(String, String)> = records
        .iter()
        .zip(&outcome.assignment)
        .map(|(r, c)| (r.record_id.clone(), c.to_string()))
        .collect();
    let (eval, _) = evaluate(&predicted, truth, 3);
    Run {
        name: name.to_string(),
        seconds,
        stats: outcome.stats,
        eval,
    }
}

impl Run {
    pub fn markdown_row(&self) -> String {
        let e = &self.eval;
        format!(
            "| {} | {} | {:.2} s | {:.4} / {:.4} / **{:.4}** | {:.4} / {:.4} / **{:.4}** | {} (true {}) | {} | {} |",
            self.name,
            e.records,
            self.seconds,
            e.pairwise.precision,
            e.pairwise.recall,
            e.pairwise.f1,
            e.bcubed.precision,
            e.bcubed.recall,
            e.bcubed.f1,
            e.largest_predicted.first().map_or(0, |c| c.1),
            e.largest_true_cluster,
            e.false_merge_clusters,
            self.stats.blocking.candidate_pairs,
        )
    }

    pub const HEADER: &'static str = "| data | records | dedupe time | pairwise P / R / F1 | B-cubed P / R / F1 | largest cluster | false-merge clusters | candidate pairs |\n|---|---|---|---|---|---|---|---|";
}
