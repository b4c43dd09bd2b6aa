//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the c360 CLI with arguments, in `dir`.
pub fn c360(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("c360 runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A committed test fixture (`tests/fixtures/...`).
pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

pub fn workspace_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

pub fn read_csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let mut rows = vec![
        reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect(),
    ];
    for r in reader.records() {
        rows.push(r.expect("row").iter().map(String::from).collect());
    }
    rows
}
