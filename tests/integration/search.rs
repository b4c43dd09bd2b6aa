//! Search end to end (issue 17, points 5 to 7): records resolved through
//! the resolver reach the index through the feed; namesakes are told apart
//! by what the hit shows and narrowed by a birth year or a phone ending;
//! a phone the normaliser cannot place is found by its digits; over gRPC
//! and from the command line.

use std::process::Command;

use c360_proto::common::v1::Record;
use c360_proto::search::v1 as se;
use c360_proto::search::v1::search_service_client::SearchServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::Role;

use crate::server::{TestServer, keyring_text, record, resolve, test_config, token_for};

fn aminata(id: &str, dob: &str, national_id: &str, phone: &str, locality: &str) -> Record {
    Record {
        given_name: "Aminata".into(),
        surname: "Traoré".into(),
        sex: "F".into(),
        date_of_birth: dob.into(),
        national_id: national_id.into(),
        phone: vec![phone.into()],
        locality: locality.into(),
        ..record("core_banking", id)
    }
}

async fn search(
    search: &mut SearchServiceClient<c360_rpc::PeerChannel>,
    q: &str,
    purpose: &str,
) -> se::SearchResponse {
    search
        .search(se::SearchRequest {
            query: q.to_string(),
            filters: None,
            page_size: 10,
            page_token: String::new(),
            purpose: purpose.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Hits as a downstream system servicing its clients sees them.
async fn hits(s: &mut SearchServiceClient<c360_rpc::PeerChannel>, q: &str) -> Vec<se::SearchHit> {
    search(s, q, "service").await.hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesakes_and_unplaceable_phones_over_grpc_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "all");
    let server = TestServer::start_with(config, &keyring_text()).await;
    let mut resolver = server.client.clone();
    let mut numbers = Vec::new();
    for r in [
        aminata("CBS-1", "12/03/1985", "C0012345678", "0707123456", "Abobo"),
        aminata("CBS-2", "04/11/1990", "C0098765432", "0505998814", "Cocody"),
        aminata("CBS-3", "01/07/1972", "C0055511122", "0101020399", "Bouaké"),
        Record {
            given_name: "Mariam".into(),
            surname: "Sylla".into(),
            date_of_birth: "1979".into(),
            phone: vec!["2256779717514".into()],
            ..record("agent_app", "AGT-9")
        },
    ] {
        numbers.push(resolve(&mut resolver, r, false).await.client_number);
    }
    let mut distinct = numbers.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "four people: {numbers:?}");
    server.wait_for_followers().await;

    // The index commits within half a second of the feed.
    let mut app = SearchServiceClient::new(server.channel_as("crm", Role::App).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let all = loop {
        let found = hits(&mut app, "Aminata Traore").await;
        if found.len() == 3 {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "{found:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut apart: Vec<(u32, String, String)> = all
        .iter()
        .map(|h| (h.birth_year, h.locality.clone(), h.phone_ending.clone()))
        .collect();
    apart.sort();
    assert_eq!(
        apart,
        [
            (1972, "Bouaké".into(), "99".into()),
            (1985, "Abobo".into(), "56".into()),
            (1990, "Cocody".into(), "14".into()),
        ]
    );
    // The vault's policy: names in clear for servicing; the birth date is
    // masked for an app, which still shows its year.
    assert!(
        all.iter().all(|h| h.display_name == "TRAORÉ Aminata"),
        "{all:?}"
    );
    let page = search(&mut app, "Aminata Traore", "service").await;
    assert_eq!(page.masked_fields, ["date_of_birth"]);
    assert!(page.withheld_fields.is_empty(), "{page:?}");
    // Marketing rests on consent, and none was given: hits show nothing
    // personal, only the client numbers.
    let bare = search(&mut app, "Aminata Traore", "marketing").await;
    assert_eq!(bare.hits.len(), 3);
    for h in &bare.hits {
        assert_eq!(
            (
                h.display_name.as_str(),
                h.birth_year,
                h.locality.as_str(),
                h.phone_ending.as_str()
            ),
            ("", 0, "", ""),
            "{h:?}"
        );
    }
    assert_eq!(
        bare.withheld_fields,
        [
            "date_of_birth",
            "given_name",
            "locality",
            "phone",
            "surname"
        ]
    );
    // No purpose, no search.
    let err = app
        .search(se::SearchRequest {
            query: "Aminata Traore".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("purpose"), "{err:?}");
    // Every disclosure is in the vault's access log, per client shown.
    let mut dpo = VaultServiceClient::new(server.channel_as("dpo", Role::Compliance).await);
    let log = dpo
        .query_access_log(va::QueryAccessLogRequest {
            client_number: numbers[0].clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let searched: Vec<_> = log
        .iter()
        .filter(|e| e.operation == "search.Search" && e.actor == "crm")
        .collect();
    assert!(searched.iter().any(|e| e.purpose == "service"), "{log:?}");
    assert!(searched.iter().any(|e| e.purpose == "marketing"), "{log:?}");

    let narrowed = hits(&mut app, "Aminata Traore 1990").await;
    assert_eq!(narrowed.len(), 1);
    assert_eq!(narrowed[0].client_number, numbers[1]);
    let narrowed = hits(&mut app, "Aminata Traore 99").await;
    assert_eq!(narrowed.len(), 1);
    assert_eq!(narrowed[0].client_number, numbers[2]);
    let found = hits(&mut app, "2256779717514").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].client_number, numbers[3]);

    // The command line shows the same, to a steward.
    let token = token_for(&server.dir, "awa", Role::Steward);
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_c360-test-cli"))
            .args(args)
            .args(["--server", &server.url])
            .env("C360_TOKEN", &token)
            .output()
            .expect("cli runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stdout}{stderr}");
        stdout
    };
    let out = cli(&[
        "search",
        "Aminata",
        "Traore",
        "1985",
        "--purpose",
        "stewardship",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains(&numbers[0]) && out.contains("TRAORÉ Aminata") && out.contains("born 1985"),
        "{out}"
    );
    assert!(out.contains("Abobo") && out.contains("phone ..56"), "{out}");
    let out = cli(&["search", "phone:2256779717514", "--purpose", "stewardship"]);
    assert!(
        out.contains(&numbers[3]) && out.contains("SYLLA Mariam"),
        "{out}"
    );
    server.stop().await;
}
