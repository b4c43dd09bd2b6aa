//! Stewards teach the model: labelled re-training through gRPC and the CLI
//! records a new model version, and decisions and explanations name it.

use std::process::Command;

use c360_proto::resolver::v1 as api;
use tonic::Code;

use crate::common::{c360, stderr};
use crate::server::*;

/// Same name, birth year and town, different phones: an uncertain pair.
fn awa(id: &str, phone: &str, surname: &str) -> c360_proto::common::v1::Record {
    c360_proto::common::v1::Record {
        given_name: "Awa".into(),
        surname: surname.into(),
        sex: "F".into(),
        date_of_birth: "1990".into(),
        phone: vec![phone.into()],
        locality: "Bouaké".into(),
        ..record("agent_app", id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retraining_on_steward_decisions_moves_the_model_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    let first = resolve(&mut c, awa("A1", "0102030405", "Sanogo"), false).await;
    let second = resolve(&mut c, awa("A2", "0504030201", "Sanogo"), false).await;
    assert_eq!(second.decision(), api::Decision::Review, "{second:?}");
    let before = second.model_version.clone();
    assert_eq!(first.model_version, before);
    let task = c
        .list_review_tasks(api::ListReviewTasksRequest {
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .tasks[0]
        .clone();
    c.decide_review_task(api::DecideReviewTaskRequest {
        task_id: task.task_id,
        accept: true,
        reason: "confirmed by phone".into(),
        actor: "steward-1".into(),
    })
    .await
    .unwrap();

    // Stewards decide; only an admin re-trains.
    let mut steward = Client::new(server.channel_as("steward", c360_rpc::Role::Steward).await);
    let denied = steward.retrain(api::RetrainRequest {}).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    let r = c
        .retrain(api::RetrainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.previous_model_version, before);
    assert_ne!(r.model_version, before, "{r:?}");
    assert_eq!((r.labelled_same, r.labelled_different), (1, 0), "{r:?}");
    assert_eq!(r.records, 2);

    // Decisions and explanations name the new version.
    let lookup = resolve(&mut c, awa("A3", "0102030405", "Sanogo"), true).await;
    assert_eq!(lookup.model_version, r.model_version);
    let e = c
        .explain(api::ExplainRequest {
            target: Some(api::explain_request::Target::Pair(api::RecordPair {
                record_a: first.record_id.clone(),
                record_b: second.record_id.clone(),
            })),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.pairs[0].model_version, r.model_version);

    // The CLI asks the same of a running server.
    let out = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
        .current_dir(dir.path())
        .args(["retrain", "--server", &server.url])
        .env("C360_TOKEN", &server.token)
        .output()
        .expect("cli runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("model {} -> ", r.model_version)) && text.contains("1 one person"),
        "{text}"
    );
    server.stop().await;
}

/// `c360 train`: labelled pairs change the model version; bad labels are
/// refused with their line and column.
#[test]
fn train_with_labels_changes_the_model_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out = c360(
        d,
        &[
            "gen",
            "--records",
            "2000",
            "--seed",
            "11",
            "--output",
            "data.csv",
            "--truth",
            "truth.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let truth = crate::common::read_csv_rows(&d.join("truth.csv"));
    // Label the first ten pairs of one entity's records "one person" and
    // ten pairs of different entities "two people".
    let mut by_entity: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for row in truth.iter().skip(1) {
        by_entity.entry(&row[1]).or_default().push(&row[0]);
    }
    let mut labels = String::from("record_a,record_b,same\n");
    let multi: Vec<&Vec<&str>> = by_entity
        .values()
        .filter(|r| r.len() > 1)
        .take(10)
        .collect();
    for records in &multi {
        labels.push_str(&format!("{},{},1\n", records[0], records[1]));
    }
    for pair in multi.windows(2) {
        labels.push_str(&format!("{},{},0\n", pair[0][0], pair[1][0]));
    }
    std::fs::write(d.join("labels.csv"), labels).unwrap();
    let out = c360(
        d,
        &[
            "train",
            "--input",
            "data.csv",
            "--labels",
            "labels.csv",
            "--output",
            "out.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {text}"))
            .trim()
            .to_string()
    };
    let (without, with) = (
        version("model without labels"),
        version("model with labels"),
    );
    assert!(
        without.starts_with("fs-") && with.starts_with("fs-"),
        "{text}"
    );
    assert_ne!(without, with, "{text}");
    assert!(
        text.contains("19 labelled pairs (10 one person, 9 two people)"),
        "{text}"
    );
    assert_eq!(crate::common::read_csv_rows(&d.join("out.csv")).len(), 2001);

    std::fs::write(d.join("bad.csv"), "record_a,record_b,same\nX-404,X-405,1\n").unwrap();
    let out = c360(d, &["train", "--input", "data.csv", "--labels", "bad.csv"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("line 2, column 1: no such record_id"),
        "{}",
        stderr(&out)
    );
}
