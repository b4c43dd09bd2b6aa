//! The consent additions through the gRPC API: record ids given, kept and
//! returned; bad ones and claims too far ahead refused, naming the field,
//! with nothing written.

use c360_proto::resolver::v1 as rapi;
use c360_proto::vault::v1 as api;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Caller, PeerChannel, Role, in_process};
use tonic::Code;

use crate::vault::now_ms;

fn client(vault: &crate::Vault) -> VaultServiceClient<PeerChannel> {
    VaultServiceClient::new(in_process(
        vault.grpc(),
        Caller::new("compliance-1", Role::Compliance),
    ))
}

fn grant(number: &str, records: &[&str]) -> api::RecordConsentRequest {
    api::RecordConsentRequest {
        client_number: number.into(),
        purpose: "marketing".into(),
        decision: api::ConsentDecision::Granted as i32,
        record_ids: records.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

fn field_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("bad request details")
        .field_violations[0]
        .field
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_ids_are_kept_checked_and_named() {
    let (vault, _) = crate::tests::memory_vault();
    let mut c = client(&vault);
    vault
        .apply_events(&[
            rapi::Event {
                offset: 1,
                r#type: rapi::EventType::ClientCreated as i32,
                client_number: "C1".into(),
                record_id: "R0000000001".into(),
                ..Default::default()
            },
            rapi::Event {
                offset: 2,
                r#type: rapi::EventType::RecordAttached as i32,
                client_number: "C1".into(),
                record_id: "R0000000002".into(),
                ..Default::default()
            },
        ])
        .unwrap();

    // Not given: the records the number stands for.
    let e = c
        .record_consent(grant("C1", &[]))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(e.record_ids, ["R0000000001", "R0000000002"]);
    // Given: kept sorted and once each, and returned in every view.
    let e = c
        .record_consent(grant("C1", &["R0000000002", "R0000000002"]))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(e.record_ids, ["R0000000002"]);
    let view = c
        .get_consents(api::GetConsentsRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.history[1].record_ids, ["R0000000002"]);
    // A number the vault has not heard of yet: no records (they are read
    // from the number at a split).
    let e = c
        .record_consent(grant("C9", &[]))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert!(e.record_ids.is_empty());

    let before = vault.verify_ledger().unwrap().checked;
    let too_many: Vec<String> = (0..65).map(|i| format!("R{i:010}")).collect();
    let refused = [
        (grant("C1", &["R 1"]), "record_ids[0]"),
        (grant("C1", &["R1", ""]), "record_ids[1]"),
        (
            api::RecordConsentRequest {
                record_ids: too_many,
                ..grant("C1", &[])
            },
            "record_ids",
        ),
        (
            api::RecordConsentRequest {
                captured_at_unix_ms: now_ms() + 3_600_000,
                ..grant("C1", &[])
            },
            "captured_at_unix_ms",
        ),
    ];
    for (request, field) in refused {
        let err = c.record_consent(request).await.unwrap_err();
        assert_eq!(field_of(&err), field);
    }
    let batch = c
        .record_consents(api::RecordConsentsRequest {
            consents: vec![grant("C1", &[]), grant("C1", &["R/1?"])],
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&batch), "consents[1].record_ids[0]");
    assert_eq!(
        vault.verify_ledger().unwrap().checked,
        before,
        "nothing written"
    );
}
