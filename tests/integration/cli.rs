//! The batch CLI end to end: gen, dedupe, eval, and its errors.

use std::fs;

use crate::common::{c360, fixture, read_csv_rows, stderr, workspace_file};

fn eval_f1(dir: &std::path::Path, predicted: &str, truth: &str) -> (f64, f64) {
    let out = c360(dir, &["eval", "--predicted", predicted, "--truth", truth]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let f1_of = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line in {text}"));
        line.rsplit("F1 ")
            .next()
            .expect("F1")
            .trim()
            .parse()
            .expect("number")
    };
    (f1_of("pairwise"), f1_of("B-cubed"))
}

#[test]
fn gen_dedupe_eval_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out = c360(
        d,
        &[
            "gen",
            "--records",
            "3000",
            "--seed",
            "7",
            "--output",
            "data.csv",
            "--truth",
            "truth.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = c360(d, &["dedupe", "--input", "data.csv", "--output", "out.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("3000 records ->"), "{}", stderr(&out));

    let rows = read_csv_rows(&d.join("out.csv"));
    assert_eq!(rows[0], vec!["record_id", "client_id"]);
    assert_eq!(rows.len(), 3001, "one row per input record");
    let input = read_csv_rows(&d.join("data.csv"));
    for (i, row) in rows.iter().enumerate().skip(1) {
        assert_eq!(row[0], input[i][0], "output keeps the input order");
    }

    let (pairwise, bcubed) = eval_f1(d, "out.csv", "truth.csv");
    assert!(pairwise > 0.9, "pairwise F1 {pairwise}");
    assert!(bcubed > 0.9, "B-cubed F1 {bcubed}");
}

#[test]
fn gen_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for (out, truth) in [("a.csv", "at.csv"), ("b.csv", "bt.csv")] {
        let o = c360(
            d,
            &[
                "gen",
                "--records",
                "500",
                "--seed",
                "3",
                "--output",
                out,
                "--truth",
                truth,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        fs::read(d.join("a.csv")).unwrap(),
        fs::read(d.join("b.csv")).unwrap()
    );
    assert_eq!(
        fs::read(d.join("at.csv")).unwrap(),
        fs::read(d.join("bt.csv")).unwrap()
    );
}

#[test]
fn febrl1_with_its_mapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = fixture("febrl1/febrl1.csv");
    let truth = fixture("febrl1/febrl1_truth.csv");
    let mapping = workspace_file("examples/mappings/febrl.toml");
    let out = c360(
        d,
        &[
            "dedupe",
            "--input",
            data.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
            "--output",
            "out.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (pairwise, _) = eval_f1(d, "out.csv", truth.to_str().unwrap());
    assert!(pairwise >= 0.99, "FEBRL1 pairwise F1 {pairwise}");
}

#[test]
fn bad_rows_are_reported_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(
        d.join("in.csv"),
        "record_id,given_name,surname\nr1,Awa,Traoré\n,Fatou,Diop\nr3,Moussa\nr1,Awa,Traore\nr5,Ali,Ba\n",
    )
    .unwrap();
    let out = c360(
        d,
        &[
            "dedupe",
            "--input",
            "in.csv",
            "--output",
            "out.csv",
            "--on-error",
            "fail",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("line 3, column 1") && err.contains("record_id is empty"),
        "{err}"
    );
    assert!(!d.join("out.csv").exists(), "nothing written on failure");

    let out = c360(d, &["dedupe", "--input", "in.csv", "--output", "out.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("line 3, column 1"), "{err}");
    assert!(err.contains("line 4, column 3"), "{err}");
    assert!(
        err.contains("line 5: record_id `r1` already used on line 2"),
        "{err}"
    );
    assert!(err.contains("3 bad rows skipped"), "{err}");
    let rows = read_csv_rows(&d.join("out.csv"));
    let ids: Vec<&str> = rows.iter().skip(1).map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["r1", "r5"]);
    // No personal value of a bad row is echoed.
    assert!(!err.contains("Fatou") && !err.contains("Moussa"), "{err}");
}

#[test]
fn mapping_errors_name_the_field_or_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(d.join("in.csv"), "rec_id,first,last\nr1,Awa,Traore\n").unwrap();
    fs::write(
        d.join("unknown.toml"),
        "[fields]\nrecord_id = \"rec_id\"\nfirstname = \"first\"\n",
    )
    .unwrap();
    fs::write(
        d.join("missing.toml"),
        "[fields]\nrecord_id = \"rec_id\"\nsurname = \"nom\"\n",
    )
    .unwrap();
    let out = c360(
        d,
        &[
            "dedupe",
            "--input",
            "in.csv",
            "--mapping",
            "unknown.toml",
            "--output",
            "o.csv",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown canonical field `firstname`"),
        "{}",
        stderr(&out)
    );
    let out = c360(
        d,
        &[
            "dedupe",
            "--input",
            "in.csv",
            "--mapping",
            "missing.toml",
            "--output",
            "o.csv",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("column `nom`"), "{}", stderr(&out));
    assert!(!d.join("o.csv").exists());
}

/// The README's first command: the platform with demo data, walked through.
#[test]
fn quickstart_walks_through_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .args([
            "quickstart",
            "--listen",
            "127.0.0.1:0",
            "--records",
            "400",
            "--exit",
        ])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    for step in [
        "== 1. ingesting 400",
        "== 2. client",
        "== 3. a steward merge",
        "CheckConsent: allowed=true",
        "consent                Pass granted by entry",
        "== 6. search",
        "created an admin token",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    assert!(
        !stderr.contains("WARN") && !stderr.contains("ERROR"),
        "the services should not complain:\n{stderr}"
    );
    assert!(data.join("quickstart.token").exists());
}
