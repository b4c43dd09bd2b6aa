//! Service-level tests: the gRPC API over an in-process channel (no
//! sockets), the feed handler, sled reopening, and a scan of the data
//! directory for plaintext.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use c360_crypto::{KekProvider, LocalKeyring};
use c360_proto::resolver::v1 as rapi;
use c360_proto::resolver::v1::resolver_service_server::{ResolverService, ResolverServiceServer};
use c360_proto::vault::v1 as api;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Caller, PeerChannel, Role, in_process};
use c360_storage::{Batch, MemoryStore, Store};
use tokio_stream::StreamExt;
use tonic::{Code, Request, Response, Status};

use crate::vault::{FieldRef, FieldResult, Plain};
use crate::{Vault, VaultConfig, VaultPeers};

const KEK_1: [u8; 32] = [7; 32];
const KEK_2: [u8; 32] = [9; 32];

fn keyring(keys: &[(&str, [u8; 32])]) -> Arc<dyn KekProvider> {
    let text: String = keys
        .iter()
        .map(|(id, k)| {
            format!(
                "{id}:{}\n",
                base64::engine::general_purpose::STANDARD.encode(k)
            )
        })
        .collect();
    Arc::new(LocalKeyring::from_text(&text).unwrap())
}

fn kek() -> Arc<dyn KekProvider> {
    keyring(&[("kek-1", KEK_1)])
}

/// Opens a sled vault. sled releases its directory lock when its last
/// background job finishes, which can lag the drop of the previous handle
/// by a moment: a lock error is retried (bounded), anything else fails.
fn open_sled(path: &Path, kek: Arc<dyn KekProvider>) -> crate::Result<Vault> {
    for _ in 0..200 {
        match Vault::open(path, VaultConfig::default(), kek.clone(), registry()) {
            Err(crate::Error::Storage(e)) if e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
    Vault::open(path, VaultConfig::default(), kek, registry())
}

/// Numbers the test resolver says were never issued.
const UNISSUED: &str = "C0000099Z";

/// Peers whose resolver says every number but [`UNISSUED`] was issued.
fn registry() -> VaultPeers {
    VaultPeers {
        resolver: Some(rapi::resolver_service_client::ResolverServiceClient::new(
            in_process(
                ResolverServiceServer::new(FakeResolver::default()),
                Caller::peer(c360_rpc::Peer::Vault),
            ),
        )),
    }
}

pub(crate) fn memory_vault() -> (Vault, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(crate::vault::SPACES));
    let vault = Vault::with_store(
        Path::new("memory"),
        store.clone(),
        VaultConfig::default(),
        kek(),
        registry(),
    )
    .unwrap();
    (vault, store)
}

/// A client of `vault` as a caller of `role` (a source system's token
/// writes for the "crm" source, as the tests' consents say).
fn client(vault: &Vault, role: Role) -> VaultServiceClient<PeerChannel> {
    let mut caller = Caller::new(format!("{role}-1"), role);
    if role == Role::Source {
        caller = caller.with_sources(c360_rpc::Sources::parse("crm").unwrap());
    }
    client_as(vault, caller)
}

fn client_as(vault: &Vault, caller: Caller) -> VaultServiceClient<PeerChannel> {
    VaultServiceClient::new(in_process(vault.grpc(), caller))
}

mod edges;

fn fref(client: &str, record: &str, field: &str) -> api::FieldRef {
    api::FieldRef {
        client_number: client.into(),
        record_id: record.into(),
        field: field.into(),
    }
}

fn plain(client: &str, record: &str, field: &str, value: &str) -> api::PlainField {
    api::PlainField {
        r#ref: Some(fref(client, record, field)),
        value: value.into(),
    }
}

fn consent(
    client: &str,
    purpose: &str,
    channel: &str,
    d: i32,
    at: i64,
) -> api::RecordConsentRequest {
    api::RecordConsentRequest {
        client_number: client.into(),
        purpose: purpose.into(),
        channel: channel.into(),
        decision: d,
        lawful_basis: api::LawfulBasis::Consent as i32,
        evidence_ref: "form-1".into(),
        source_system: "crm".into(),
        notice_version: "v3".into(),
        captured_at_unix_ms: at,
        expires_at_unix_ms: 0,
        record_ids: Vec::new(),
    }
}

const GRANTED: i32 = api::ConsentDecision::Granted as i32;
const DENIED: i32 = api::ConsentDecision::Denied as i32;
const WITHDRAWN: i32 = api::ConsentDecision::Withdrawn as i32;

fn check(client: &str, purpose: &str, channel: &str, at: i64) -> api::CheckConsentRequest {
    api::CheckConsentRequest {
        client_number: client.into(),
        purpose: purpose.into(),
        channel: channel.into(),
        at_unix_ms: at,
    }
}

fn bad_field(status: &Status) -> String {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let br = status
        .get_details_bad_request()
        .expect("bad request details");
    br.field_violations[0].field.clone()
}

fn value_of(r: &api::DecryptResult) -> Option<&str> {
    match &r.result {
        Some(api::decrypt_result::Result::Value(v)) => Some(v),
        _ => None,
    }
}

fn masked_of(r: &api::DecryptResult) -> Option<&str> {
    match &r.result {
        Some(api::decrypt_result::Result::Masked(v)) => Some(v),
        _ => None,
    }
}

fn error_of(r: &api::DecryptResult) -> Option<&str> {
    match &r.result {
        Some(api::decrypt_result::Result::Error(v)) => Some(v),
        _ => None,
    }
}

fn event(
    offset: u64,
    t: rapi::EventType,
    client: &str,
    record: &str,
    related: &[&str],
    records: &[&str],
) -> rapi::Event {
    rapi::Event {
        offset,
        r#type: t as i32,
        client_number: client.into(),
        record_id: record.into(),
        related_clients: related.iter().map(|s| s.to_string()).collect(),
        record_ids: records.iter().map(|s| s.to_string()).collect(),
        at_unix_ms: 1_000,
    }
}

// ------------------------------------------------------------- consents

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_and_check_consent_fail_closed() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    let mut app = client(&vault, Role::App);

    let none = app
        .check_consent(check("C1", "marketing", "SMS", 0))
        .await
        .unwrap()
        .into_inner();
    assert!(!none.allowed);
    assert!(none.deciding_entry.is_none());
    assert_eq!(none.reason, "no consent recorded");

    let e1 = src
        .record_consent(consent("C1", "marketing", "", GRANTED, 1_000))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(
        (e1.sequence, e1.actor.as_str(), e1.kind.as_str()),
        (1, "source-1", "consent")
    );
    assert_eq!(e1.prev_hash, vec![0; 32]);
    let ok = app
        .check_consent(check("C1", "marketing", "sms", 2_000))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.allowed, "{}", ok.reason);
    assert_eq!(ok.deciding_entry.as_ref().unwrap().sequence, 1);
    assert_eq!(ok.client_number, "C1");

    let e2 = src
        .record_consent(consent("C1", "marketing", "SMS", WITHDRAWN, 3_000))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(e2.prev_hash, e1.hash);
    let no = app
        .check_consent(check("C1", "marketing", "SMS", 4_000))
        .await
        .unwrap()
        .into_inner();
    assert!(!no.allowed);
    assert_eq!(no.deciding_entry.unwrap().sequence, 2);
    assert_eq!(no.reason, "withdrawn by entry 2");
    // Other channels keep the every-channel grant; the past is answerable.
    let batch = app
        .check_consents(api::CheckConsentsRequest {
            checks: vec![
                check("C1", "marketing", "EMAIL", 4_000),
                check("C1", "marketing", "SMS", 2_500),
                check("C1", "collections", "SMS", 4_000),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let allowed: Vec<bool> = batch.results.iter().map(|r| r.allowed).collect();
    assert_eq!(allowed, [true, true, false]);

    // Expiry.
    let mut exp = consent("C1", "profiling", "", GRANTED, 1_000);
    exp.expires_at_unix_ms = 5_000;
    src.record_consent(exp).await.unwrap();
    assert!(
        app.check_consent(check("C1", "profiling", "", 4_999))
            .await
            .unwrap()
            .into_inner()
            .allowed
    );
    let expired = app
        .check_consent(check("C1", "profiling", "", 5_000))
        .await
        .unwrap()
        .into_inner();
    assert!(!expired.allowed);
    assert!(expired.reason.starts_with("expired"), "{}", expired.reason);

    // Batch record: one write, sequences consecutive.
    let many = src
        .record_consents(api::RecordConsentsRequest {
            consents: vec![
                consent("C2", "marketing", "", GRANTED, 1_000),
                consent("C3", "marketing", "", DENIED, 1_000),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let seqs: Vec<u64> = many.entries.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [4, 5]);

    // GetConsents: current state and history.
    let view = app
        .get_consents(api::GetConsentsRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.history.len(), 3);
    let sms = view
        .current
        .iter()
        .find(|s| s.purpose == "marketing" && s.channel == "SMS")
        .unwrap();
    assert!(!sms.allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field_and_roles_are_enforced() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    let mut app = client(&vault, Role::App);
    let cases: Vec<(api::RecordConsentRequest, &str)> = vec![
        (consent("", "marketing", "", GRANTED, 1), "client_number"),
        (consent("C 1", "marketing", "", GRANTED, 1), "client_number"),
        (consent("C1", "Marketing!", "", GRANTED, 1), "purpose"),
        (consent("C1", "marketing", "S M S", GRANTED, 1), "channel"),
        (consent("C1", "marketing", "FAX", GRANTED, 1), "channel"),
        (consent("C1", "marketing", "", 0, 1), "decision"),
        (
            consent("C1", "marketing", "", GRANTED, i64::MAX),
            "captured_at_unix_ms",
        ),
        (
            api::RecordConsentRequest {
                expires_at_unix_ms: 1,
                ..consent("C1", "marketing", "", GRANTED, 10)
            },
            "expires_at_unix_ms",
        ),
        (
            api::RecordConsentRequest {
                lawful_basis: 42,
                ..consent("C1", "marketing", "", GRANTED, 10)
            },
            "lawful_basis",
        ),
    ];
    for (req, field) in cases {
        let err = src.record_consent(req).await.unwrap_err();
        assert_eq!(bad_field(&err), field);
    }
    let err = app
        .encrypt(api::EncryptRequest {
            fields: vec![
                plain("C1", "r1", "phone", "x"),
                plain("C1", "r 1", "phone", "x"),
            ],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "fields[1].ref.record_id");
    let err = app
        .check_consents(api::CheckConsentsRequest {
            checks: vec![check("C1", "marketing", "", 0), check("C1", "", "", 0)],
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "checks[1].purpose");

    // Roles.
    let err = app
        .record_consent(consent("C1", "marketing", "", GRANTED, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = src
        .check_consent(check("C1", "marketing", "", 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .verify_ledger(api::VerifyLedgerRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut compliance = client(&vault, Role::Compliance);
    let err = compliance
        .rotate_kek(api::RotateKekRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let bare = c360_rpc::authorize(&Request::new(()), &[Role::App]).unwrap_err();
    assert_eq!(bare.code(), Code::Unauthenticated);
}

// --------------------------------------------------------------- ledger

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bit_flip_of_a_ledger_entry_is_reported() {
    let (vault, store) = memory_vault();
    let mut src = client(&vault, Role::Source);
    for i in 0..4 {
        src.record_consent(consent("C1", "marketing", "", GRANTED, 1_000 + i))
            .await
            .unwrap();
    }
    let mut compliance = client(&vault, Role::Compliance);
    let ok = compliance
        .verify_ledger(api::VerifyLedgerRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(ok.ok);
    assert_eq!(ok.entries_checked, 4);
    assert_eq!(ok.head_hash.len(), 32);

    let key = 2u64.to_be_bytes();
    let original = store.get("ledger", &key).unwrap().unwrap();
    for byte in 0..original.len() {
        for bit in 0..8 {
            let mut bad = original.clone();
            bad[byte] ^= 1 << bit;
            let mut b = Batch::new();
            b.put("ledger", key.to_vec(), bad);
            store.commit(b).unwrap();
            let report = vault.verify_ledger().unwrap();
            assert!(!report.ok, "flip {byte}/{bit} accepted");
            assert_eq!(report.first_bad, 2, "flip {byte}/{bit}: {}", report.problem);
            assert_eq!(report.checked, 1);
        }
    }
    // A deleted entry is a gap.
    let mut b = Batch::new();
    b.delete("ledger", key.to_vec());
    store.commit(b).unwrap();
    let report = compliance
        .verify_ledger(api::VerifyLedgerRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, 2);
    assert!(report.problem.contains("gap"), "{}", report.problem);
    let mut b = Batch::new();
    b.put("ledger", key.to_vec(), original);
    store.commit(b).unwrap();
    assert!(vault.verify_ledger().unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditor_export_in_json_lines_and_csv() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    for c in ["C1", "C2", "C1"] {
        src.record_consent(consent(c, "marketing", "", GRANTED, 1_000))
            .await
            .unwrap();
    }
    let mut compliance = client(&vault, Role::Compliance);
    let export = |format: api::ExportFormat, client: &str| api::ExportConsentsRequest {
        format: format as i32,
        client_number: client.into(),
        from_sequence: 0,
    };
    let mut collect = async |req| {
        let mut stream = compliance.export_consents(req).await.unwrap().into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend(chunk.unwrap().data);
        }
        String::from_utf8(out).unwrap()
    };
    let jsonl = collect(export(api::ExportFormat::JsonLines, "")).await;
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["client_number"], "C2");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    let csv = collect(export(api::ExportFormat::Csv, "C1")).await;
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(rows[0].starts_with("sequence,kind,client_number"));
    assert_eq!(rows.len(), 3, "{csv}");
    let err = compliance
        .export_consents(export(api::ExportFormat::Unspecified, ""))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "format");
}

// ------------------------------------------------------- encryption

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_format_round_trip_tamper_and_context() {
    let (vault, _) = memory_vault();
    let mut svc = client(&vault, Role::Service);
    let ct = svc
        .encrypt(api::EncryptRequest {
            fields: vec![plain("C000001", "r-1", "phone", "+2250701020378")],
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertexts
        .remove(0);
    // Version 1 envelope: version, algorithm, key id (the client number),
    // key version 1, 12-byte nonce, ciphertext, 16-byte tag.
    assert_eq!(&ct[..3], &[1, 1, 7]);
    assert_eq!(&ct[3..10], b"C000001");
    assert_eq!(&ct[10..14], &1u32.to_be_bytes());
    assert_eq!(ct.len(), 3 + 7 + 4 + 12 + 14 + 16);
    let sealed = |r: api::FieldRef, c: Vec<u8>| api::SealedField {
        r#ref: Some(r),
        ciphertext: c,
    };
    let decrypt = |fields: Vec<api::SealedField>| api::DecryptRequest {
        purpose: "service".into(),
        fields,
    };
    let out = svc
        .decrypt(decrypt(vec![
            sealed(fref("C000001", "r-1", "phone"), ct.clone()),
            // Moved to another client, record or field: rejected.
            sealed(fref("C000002", "r-1", "phone"), ct.clone()),
            sealed(fref("C000001", "r-2", "phone"), ct.clone()),
            sealed(fref("C000001", "r-1", "mobile"), ct.clone()),
        ]))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(value_of(&out[0]), Some("+2250701020378"));
    for r in &out[1..] {
        let e = error_of(r).unwrap();
        assert!(e.contains("rejected"), "{e}");
        assert!(!e.contains("0701"), "{e}");
    }
    // Every bit flip is rejected (domain call: one access-log write each).
    let caller = Caller::new("svc", Role::Service);
    let r = FieldRef {
        client_number: "C000001".into(),
        record_id: "r-1".into(),
        field: "phone".into(),
    };
    for byte in 0..ct.len() {
        for bit in 0..8 {
            let mut bad = ct.clone();
            bad[byte] ^= 1 << bit;
            let res = vault
                .decrypt(&caller, "service", &[(r.clone(), bad)])
                .unwrap();
            assert!(
                matches!(res[0], FieldResult::Error(_)),
                "flip {byte}/{bit} accepted"
            );
        }
    }
    // Wrong key: another client's data key under a relabelled envelope.
    let other = vault
        .encrypt(&[(
            FieldRef {
                client_number: "C000002".into(),
                ..r.clone()
            },
            Plain("x".into()),
        )])
        .unwrap()
        .remove(0);
    let mut relabelled = ct.clone();
    relabelled[3..10].copy_from_slice(&other[3..10]);
    let res = vault
        .decrypt(&caller, "service", &[(r.clone(), relabelled)])
        .unwrap();
    assert!(matches!(&res[0], FieldResult::Error(e) if e.contains("rejected")));
    // The debug form of results never shows values.
    let res = vault.decrypt(&caller, "service", &[(r, ct)]).unwrap();
    let shown = format!("{res:?} {vault:?}");
    assert!(!shown.contains("0701"), "{shown}");
}

#[test]
fn wrong_kek_cannot_open_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault");
    open_sled(&path, kek()).unwrap();
    let err = open_sled(&path, keyring(&[("kek-1", KEK_2)])).unwrap_err();
    assert!(matches!(err, crate::Error::Crypto(_)), "{err}");
    let err = open_sled(&path, keyring(&[("kek-9", KEK_1)])).unwrap_err();
    assert!(err.to_string().contains("kek-1"), "{err}");
}

// ----------------------------------------------------- fields, policy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purpose_bound_reads_policy_denials_and_access_log() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    let mut app = client(&vault, Role::App);
    let mut steward = client(&vault, Role::Steward);
    let mut compliance = client(&vault, Role::Compliance);
    src.put_fields(api::PutFieldsRequest {
        fields: vec![
            plain("C1", "", "name", "Aminata Koné"),
            plain("C1", "", "phone", "+2250701020378"),
            plain("C1", "", "national_id", "CI0012345678"),
        ],
    })
    .await
    .unwrap();
    let read = |purpose: &str| api::ReadFieldsRequest {
        client_number: "C1".into(),
        purpose: purpose.into(),
        fields: vec![],
        record_id: String::new(),
    };
    let out = app.read_fields(read("service")).await.unwrap().into_inner();
    let by_field: std::collections::BTreeMap<String, api::DecryptResult> = out
        .fields
        .iter()
        .map(|f| {
            (
                f.r#ref.as_ref().unwrap().field.clone(),
                f.result.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(value_of(&by_field["name"]), Some("Aminata Koné"));
    assert_eq!(value_of(&by_field["phone"]), Some("+2250701020378"));
    assert_eq!(masked_of(&by_field["national_id"]), Some("**********78"));
    assert!(out.access_log_sequence > 0);

    let masked = steward
        .read_fields(read("data_quality"))
        .await
        .unwrap()
        .into_inner();
    let phone = masked
        .fields
        .iter()
        .find(|f| f.r#ref.as_ref().unwrap().field == "phone")
        .unwrap();
    assert_eq!(
        masked_of(phone.result.as_ref().unwrap()),
        Some("+225 07 ** ** ** 78")
    );

    // Not in the policy: denied and logged.
    let err = app.read_fields(read("audit")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(!err.message().contains("0701"));
    // Consent-based purpose without consent: denied, logged.
    let err = app.read_fields(read("marketing")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains("no valid consent"),
        "{}",
        err.message()
    );
    // With a consent: allowed, and the read names the consent entry.
    let grant = src
        .record_consent(consent("C1", "marketing", "", GRANTED, 1_000))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    let ok = app
        .read_fields(api::ReadFieldsRequest {
            fields: vec!["phone".into(), "national_id".into()],
            ..read("marketing")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.consent_sequence, grant.sequence);
    let results: Vec<&api::DecryptResult> = ok
        .fields
        .iter()
        .map(|f| f.result.as_ref().unwrap())
        .collect();
    assert_eq!(value_of(results[1]), Some("+2250701020378"));
    assert!(error_of(results[0]).unwrap().contains("denied by policy"));
    // A role the method does not admit at all.
    let err = src.read_fields(read("service")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // The access log, for compliance.
    let log = compliance
        .query_access_log(api::QueryAccessLogRequest {
            client_number: "C1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let outcomes: Vec<(String, i32, String)> = log
        .iter()
        .map(|e| (e.actor.clone(), e.outcome, e.purpose.clone()))
        .collect();
    use api::AccessOutcome as O;
    assert_eq!(
        outcomes,
        [
            ("app-1".into(), O::Masked as i32, "service".into()),
            ("steward-1".into(), O::Masked as i32, "data_quality".into()),
            ("app-1".into(), O::Denied as i32, "audit".into()),
            ("app-1".into(), O::Denied as i32, "marketing".into()),
            ("app-1".into(), O::Partial as i32, "marketing".into()),
        ]
    );
    assert_eq!(log[4].consent_sequence, grant.sequence);
    assert!(
        log[3].reason.contains("no consent recorded"),
        "{}",
        log[3].reason
    );
    // Filters and paging.
    let page = compliance
        .query_access_log(api::QueryAccessLogRequest {
            actor: "app-1".into(),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.entries.len(), 2);
    let next = compliance
        .query_access_log(api::QueryAccessLogRequest {
            actor: "app-1".into(),
            limit: 2,
            after_sequence: page.next_after_sequence,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.entries.len(), 2);
    assert!(next.entries[0].sequence > page.entries[1].sequence);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_blind_index_lookups() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    let mut app = client(&vault, Role::App);
    src.put_fields(api::PutFieldsRequest {
        fields: vec![
            plain("C1", "", "phone", "+225 07 01 02 03 78"),
            plain("C2", "", "phone", "+2250701020378"),
            plain("C2", "", "email", "Awa.Diallo@Example.SN"),
        ],
    })
    .await
    .unwrap();
    let lookup = |domain: &str, value: &str| api::LookupBlindIndexRequest {
        domain: domain.into(),
        value: value.into(),
        purpose: "service".into(),
    };
    let found = app
        .lookup_blind_index(lookup("phone", "+225-0701020378"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.client_numbers, ["C1", "C2"]);
    let found = app
        .lookup_blind_index(lookup("email", " awa.diallo@example.sn "))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.client_numbers, ["C2"]);
    // Replacing a value drops its old index entry.
    src.put_fields(api::PutFieldsRequest {
        fields: vec![plain("C1", "", "phone", "+221771234567")],
    })
    .await
    .unwrap();
    let found = app
        .lookup_blind_index(lookup("phone", "+2250701020378"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.client_numbers, ["C2"]);
    let err = app
        .lookup_blind_index(lookup("name", "x"))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "domain");
    let err = app
        .lookup_blind_index(api::LookupBlindIndexRequest {
            purpose: "audit".into(),
            ..lookup("phone", "+2250701020378")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let tokens = src
        .tokenize(api::TokenizeRequest {
            fields: vec![
                plain("C1", "", "phone", "+2250709090909"),
                plain("C1", "", "national_id", "CI77"),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert!(
        tokens[0].starts_with("tok_") && tokens[0].len() == 26,
        "{}",
        tokens[0]
    );
    assert_ne!(tokens[0], tokens[1]);
    let out = app
        .detokenize(api::DetokenizeRequest {
            purpose: "service".into(),
            tokens: vec![tokens[0].clone(), tokens[1].clone(), "tok_nope".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(value_of(&out[0]), Some("+2250709090909"));
    assert_eq!(masked_of(&out[1]), Some("****"));
    assert!(error_of(&out[2]).is_some());
    // Source may tokenize but not detokenize.
    let err = src
        .detokenize(api::DetokenizeRequest {
            purpose: "service".into(),
            tokens: vec![tokens[0].clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

// ---------------------------------------------------- identity feed

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_follows_merges_and_splits() {
    use rapi::EventType as T;
    let (vault, _) = memory_vault();
    let feed = vault.feed_handler();
    let mut src = client(&vault, Role::Source);
    let mut app = client(&vault, Role::App);
    feed.apply(&[
        event(1, T::ClientCreated, "C1", "r1", &[], &[]),
        event(2, T::ClientCreated, "C2", "r2", &[], &[]),
        event(3, T::RecordAttached, "C2", "r3", &[], &[]),
    ])
    .unwrap();
    assert_eq!(feed.applied(), 3);
    // C1 granted marketing; C2 withdrew it later.
    src.record_consent(consent("C1", "marketing", "", GRANTED, 1_000))
        .await
        .unwrap();
    src.record_consent(consent("C2", "marketing", "", GRANTED, 500))
        .await
        .unwrap();
    src.record_consent(consent("C2", "marketing", "", WITHDRAWN, 2_000))
        .await
        .unwrap();
    src.record_consent(consent("C2", "collections", "SMS", GRANTED, 2_000))
        .await
        .unwrap();
    let at = 3_000;
    let allowed = async |app: &mut VaultServiceClient<PeerChannel>, c: &str, p: &str, ch: &str| {
        app.check_consent(check(c, p, ch, at))
            .await
            .unwrap()
            .into_inner()
    };
    assert!(allowed(&mut app, "C1", "marketing", "SMS").await.allowed);
    assert!(!allowed(&mut app, "C2", "marketing", "SMS").await.allowed);

    feed.apply(&[event(4, T::ClientsMerged, "C1", "", &["C2"], &[])])
        .unwrap();
    // The withdrawal on C2 beats the older grant on C1; the absorbed
    // number answers for the survivor.
    let merged = allowed(&mut app, "C1", "marketing", "SMS").await;
    assert!(!merged.allowed);
    assert_eq!(merged.deciding_entry.unwrap().client_number, "C2");
    let via_alias = allowed(&mut app, "C2", "collections", "SMS").await;
    assert!(via_alias.allowed);
    assert_eq!(via_alias.client_number, "C1");
    let view = app
        .get_consents(api::GetConsentsRequest {
            client_number: "C2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.client_number, "C1");
    assert_eq!(view.member_numbers, ["C1", "C2"]);
    let kinds: Vec<&str> = view.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["consent", "consent", "consent", "consent", "merge"]);
    assert_eq!(view.history[4].related_clients, ["C2"]);

    // Split C2's records off to C3: each side gets its own history back.
    feed.apply(&[event(5, T::ClientSplit, "C1", "", &["C3"], &["r2", "r3"])])
        .unwrap();
    assert!(allowed(&mut app, "C1", "marketing", "SMS").await.allowed);
    assert!(!allowed(&mut app, "C1", "collections", "SMS").await.allowed);
    let c3 = allowed(&mut app, "C3", "collections", "SMS").await;
    assert!(c3.allowed);
    assert_eq!(c3.client_number, "C3");
    let c2 = allowed(&mut app, "C2", "marketing", "SMS").await;
    assert_eq!((c2.allowed, c2.client_number.as_str()), (false, "C3"));

    // Replayed events change nothing (exactly-once with the checkpoint).
    feed.apply(&[event(4, T::ClientsMerged, "C1", "", &["C2"], &[])])
        .unwrap();
    assert!(allowed(&mut app, "C1", "marketing", "SMS").await.allowed);
    assert_eq!(feed.applied(), 5);
    assert!(vault.verify_ledger().unwrap().ok);
}

// ------------------------------------------------------------ erasure

#[derive(Debug, Default)]
struct FakeResolver {
    erase_calls: AtomicUsize,
    fail_first: usize,
}

type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ResolverService for FakeResolver {
    async fn resolve(
        &self,
        _: Request<rapi::ResolveRequest>,
    ) -> Result<Response<rapi::ResolveResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    type IngestStream = Stream<rapi::IngestResponse>;
    async fn ingest(
        &self,
        _: Request<tonic::Streaming<rapi::IngestRequest>>,
    ) -> Result<Response<Self::IngestStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_client(
        &self,
        _: Request<rapi::GetClientRequest>,
    ) -> Result<Response<rapi::GetClientResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn merge(
        &self,
        _: Request<rapi::MergeRequest>,
    ) -> Result<Response<rapi::MergeResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn split(
        &self,
        _: Request<rapi::SplitRequest>,
    ) -> Result<Response<rapi::SplitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_review_tasks(
        &self,
        _: Request<rapi::ListReviewTasksRequest>,
    ) -> Result<Response<rapi::ListReviewTasksResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn decide_review_task(
        &self,
        _: Request<rapi::DecideReviewTaskRequest>,
    ) -> Result<Response<rapi::DecideReviewTaskResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn explain(
        &self,
        _: Request<rapi::ExplainRequest>,
    ) -> Result<Response<rapi::ExplainResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_quality_summary(
        &self,
        _: Request<rapi::GetQualitySummaryRequest>,
    ) -> Result<Response<rapi::GetQualitySummaryResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn retrain(
        &self,
        _: Request<rapi::RetrainRequest>,
    ) -> Result<Response<rapi::RetrainResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    type WatchEventsStream = Stream<rapi::Event>;
    async fn watch_events(
        &self,
        _: Request<rapi::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn lookup_numbers(
        &self,
        request: Request<rapi::LookupNumbersRequest>,
    ) -> Result<Response<rapi::LookupNumbersResponse>, Status> {
        let numbers = request
            .into_inner()
            .client_numbers
            .into_iter()
            .map(|n| {
                let issued = n != UNISSUED;
                rapi::NumberLookup {
                    state: if issued {
                        rapi::NumberState::Active
                    } else {
                        rapi::NumberState::Unknown
                    } as i32,
                    survivor: if issued { n.clone() } else { String::new() },
                    client_number: n,
                }
            })
            .collect();
        Ok(Response::new(rapi::LookupNumbersResponse {
            numbers,
            feed_offset: 0,
        }))
    }
    async fn erase_client(
        &self,
        request: Request<rapi::EraseClientRequest>,
    ) -> Result<Response<rapi::EraseClientResponse>, Status> {
        let n = self.erase_calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            return Err(Status::unavailable("resolver restarting"));
        }
        let caller = c360_rpc::authorize(&request, &[Role::Service])?;
        assert_eq!(caller.id, "vault");
        Ok(Response::new(rapi::EraseClientResponse {
            client_number: request.into_inner().client_number,
            ..Default::default()
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_holds_and_resolver_retry() {
    use rapi::EventType as T;
    let fake = Arc::new(FakeResolver {
        fail_first: 1,
        ..Default::default()
    });
    let resolver = rapi::resolver_service_client::ResolverServiceClient::new(in_process(
        ResolverServiceServer::from_arc(fake.clone()),
        Caller::new("vault", Role::Service),
    ));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(crate::vault::SPACES));
    let vault = Vault::with_store(
        Path::new("memory"),
        store,
        VaultConfig::default(),
        kek(),
        VaultPeers {
            resolver: Some(resolver),
        },
    )
    .unwrap();
    let mut src = client(&vault, Role::Source);
    let mut svc = client(&vault, Role::Service);
    let mut app = client(&vault, Role::App);
    let mut compliance = client(&vault, Role::Compliance);
    vault
        .feed_handler()
        .apply(&[event(1, T::ClientsMerged, "C1", "", &["C2"], &[])])
        .unwrap();
    src.put_fields(api::PutFieldsRequest {
        fields: vec![
            plain("C1", "", "phone", "+2250701020378"),
            plain("C2", "r9", "name", "Awa Diallo"),
        ],
    })
    .await
    .unwrap();
    src.record_consent(consent("C2", "marketing", "", GRANTED, 1_000))
        .await
        .unwrap();
    let token = src
        .tokenize(api::TokenizeRequest {
            fields: vec![plain("C2", "", "email", "awa@example.sn")],
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .remove(0);
    let ct = svc
        .encrypt(api::EncryptRequest {
            fields: vec![plain("C2", "r1", "phone", "+2250701020378")],
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertexts
        .remove(0);

    // A legal hold refuses erasure, with its reason.
    let hold = compliance
        .set_legal_hold(api::SetLegalHoldRequest {
            client_number: "C2".into(),
            basis: "litigation 2024-17".into(),
            expires_at_unix_ms: 0,
            release: false,
        })
        .await
        .unwrap()
        .into_inner()
        .hold
        .unwrap();
    assert_eq!(hold.client_number, "C1");
    let erase = api::EraseClientRequest {
        client_number: "C2".into(),
        reason: "request 88".into(),
    };
    let err = compliance.erase_client(erase.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("legal hold") && err.message().contains("litigation 2024-17"));
    // A hold that would expire in the past is refused and changes nothing.
    let err = compliance
        .set_legal_hold(api::SetLegalHoldRequest {
            client_number: "C1".into(),
            basis: "old".into(),
            expires_at_unix_ms: 1,
            release: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_field(&err), "expires_at_unix_ms");
    let err = compliance.erase_client(erase.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "the hold still holds");
    // A released hold does not block.
    compliance
        .set_legal_hold(api::SetLegalHoldRequest {
            client_number: "C1".into(),
            basis: String::new(),
            expires_at_unix_ms: 0,
            release: true,
        })
        .await
        .unwrap();
    let err = app.erase_client(erase.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let out = compliance
        .erase_client(erase.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.client_number, "C1");
    assert_eq!(out.erased_numbers, ["C1", "C2"]);
    assert_eq!((out.fields_deleted, out.tokens_deleted), (2, 1));
    assert_eq!(out.erasure_entry.as_ref().unwrap().kind, "erasure");
    // The resolver failed once: pending, then retried.
    assert!(!out.resolver_notified);
    assert_eq!(vault.pending_erasures().unwrap().len(), 1);
    assert_eq!(vault.retry_pending_erasures().await.unwrap(), 0);
    assert!(vault.pending_erasures().unwrap().is_empty());
    assert_eq!(fake.erase_calls.load(Ordering::SeqCst), 2);

    // Nothing comes back any more.
    let err = app
        .read_fields(api::ReadFieldsRequest {
            client_number: "C2".into(),
            purpose: "service".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let dec = svc
        .decrypt(api::DecryptRequest {
            purpose: "service".into(),
            fields: vec![api::SealedField {
                r#ref: Some(fref("C2", "r1", "phone")),
                ciphertext: ct,
            }],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(error_of(&dec[0]).unwrap().contains("destroyed"));
    let det = app
        .detokenize(api::DetokenizeRequest {
            purpose: "service".into(),
            tokens: vec![token],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(error_of(&det[0]).is_some());
    let found = app
        .lookup_blind_index(api::LookupBlindIndexRequest {
            domain: "phone".into(),
            value: "+2250701020378".into(),
            purpose: "service".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(found.client_numbers.is_empty());
    let export = compliance
        .export_client(api::ExportClientRequest {
            client_number: "C2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let doc = String::from_utf8(export.json).unwrap();
    assert!(
        !doc.contains("0701020378") && !doc.contains("Diallo") && !doc.contains("awa@"),
        "{doc}"
    );
    assert!(doc.contains("\"erased\": true"));
    let chk = app
        .check_consent(check("C2", "marketing", "", 0))
        .await
        .unwrap()
        .into_inner();
    assert!(!chk.allowed);
    assert!(chk.reason.contains("erased"), "{}", chk.reason);
    let err = src
        .put_fields(api::PutFieldsRequest {
            fields: vec![plain("C2", "", "phone", "+2250701020378")],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = svc
        .encrypt(api::EncryptRequest {
            fields: vec![plain("C1", "r1", "phone", "x")],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // Again: refused, already done. The chain still verifies.
    let err = compliance.erase_client(erase).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(vault.verify_ledger().unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_client_returns_everything_held() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    let mut compliance = client(&vault, Role::Compliance);
    src.put_fields(api::PutFieldsRequest {
        fields: vec![
            plain("C1", "", "phone", "+2250701020378"),
            plain("C1", "r2", "name", "Awa"),
        ],
    })
    .await
    .unwrap();
    src.tokenize(api::TokenizeRequest {
        fields: vec![plain("C1", "", "email", "awa@example.sn")],
    })
    .await
    .unwrap();
    src.record_consent(consent("C1", "marketing", "", GRANTED, 1_000))
        .await
        .unwrap();
    let out = compliance
        .export_client(api::ExportClientRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let doc: serde_json::Value = serde_json::from_slice(&out.json).unwrap();
    assert_eq!(doc["fields"].as_array().unwrap().len(), 2);
    assert_eq!(doc["fields"][0]["value"], "+2250701020378");
    assert_eq!(doc["tokens"][0]["field"], "email");
    assert_eq!(doc["blind_index"][0]["domain"], "phone");
    assert_eq!(doc["consents"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(doc["erased"], false);
    // The export itself is in the access log.
    let log = vault
        .query_access_log(&crate::AccessQuery {
            client_number: "C1".into(),
            ..Default::default()
        })
        .unwrap()
        .0;
    assert_eq!(log.last().unwrap().operation, "export_client");
}

// ------------------------------------------- durability and at rest

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_reopen_and_nothing_is_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault");
    let names = ["Aminata Kouassi-Yao", "Mamadou Traoré", "Adjoa Mensah"];
    let phones = ["+2250701020378", "+221771234567", "+22670112233"];
    let ids = ["CI0012345678", "SN1987654321", "BF5550001112"];
    let emails = [
        "aminata.kouassi@example.ci",
        "m.traore@example.sn",
        "adjoa@example.bf",
    ];
    {
        let vault = open_sled(&path, kek()).unwrap();
        let mut src = client(&vault, Role::Source);
        for i in 0..3 {
            let c = format!("C{i}");
            src.put_fields(api::PutFieldsRequest {
                fields: vec![
                    plain(&c, "", "name", names[i]),
                    plain(&c, "", "phone", phones[i]),
                    plain(&c, "", "national_id", ids[i]),
                    plain(&c, "", "email", emails[i]),
                ],
            })
            .await
            .unwrap();
            src.tokenize(api::TokenizeRequest {
                fields: vec![plain(&c, "", "phone", phones[i])],
            })
            .await
            .unwrap();
            src.record_consent(consent(&c, "marketing", "SMS", GRANTED, 1_000))
                .await
                .unwrap();
        }
        let mut app = client(&vault, Role::App);
        app.read_fields(api::ReadFieldsRequest {
            client_number: "C0".into(),
            purpose: "service".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        // Dropped without any shutdown step: every answer above was durable.
    }
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for v in names.iter().chain(&phones).chain(&ids).chain(&emails) {
        needles.push(v.as_bytes().to_vec());
        needles.push(v.to_lowercase().into_bytes());
    }
    needles.extend(phones.iter().map(|p| p.as_bytes()[4..].to_vec()));
    needles.extend(["Traor", "Kouassi", "Mensah", "0701020378"].map(|s| s.as_bytes().to_vec()));
    let mut files = 0;
    let mut stack = vec![path.clone()];
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).unwrap() {
            let entry = entry.unwrap().path();
            if entry.is_dir() {
                stack.push(entry);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&entry).unwrap();
            for n in &needles {
                assert!(
                    !bytes.windows(n.len()).any(|w| w == n.as_slice()),
                    "plaintext found in {}",
                    entry.display()
                );
            }
        }
    }
    assert!(files > 0);

    let vault = open_sled(&path, kek()).unwrap();
    let mut app = client(&vault, Role::App);
    let chk = app
        .check_consent(check("C2", "marketing", "SMS", 0))
        .await
        .unwrap()
        .into_inner();
    assert!(chk.allowed);
    let read = app
        .read_fields(api::ReadFieldsRequest {
            client_number: "C1".into(),
            purpose: "service".into(),
            fields: vec!["name".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        value_of(read.fields[0].result.as_ref().unwrap()),
        Some("Mamadou Traoré")
    );
    // The chain continues where it stopped; the access log too.
    let mut src = client(&vault, Role::Source);
    let e = src
        .record_consent(consent("C1", "marketing", "", DENIED, 2_000))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(e.sequence, 4);
    assert!(vault.verify_ledger().unwrap().ok);
    assert_eq!(read.access_log_sequence, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kek_rotation_rewraps_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault");
    {
        let vault = open_sled(&path, kek()).unwrap();
        client(&vault, Role::Source)
            .put_fields(api::PutFieldsRequest {
                fields: vec![
                    plain("C1", "", "phone", "+2250701020378"),
                    plain("C2", "", "name", "Awa"),
                ],
            })
            .await
            .unwrap();
    }
    let both = keyring(&[("kek-1", KEK_1), ("kek-2", KEK_2)]);
    {
        let vault = open_sled(&path, both).unwrap();
        let mut admin = client(&vault, Role::Admin);
        let out = admin
            .rotate_kek(api::RotateKekRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (out.kek_id.as_str(), out.rewrapped, out.already_current),
            ("kek-2", 3, 0)
        );
        let again = admin
            .rotate_kek(api::RotateKekRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!((again.rewrapped, again.already_current), (0, 3));
    }
    // kek-1 can now be dropped from the keyring.
    let only_new = keyring(&[("kek-2", KEK_2)]);
    let vault = open_sled(&path, only_new).unwrap();
    let read = client(&vault, Role::App)
        .read_fields(api::ReadFieldsRequest {
            client_number: "C1".into(),
            purpose: "service".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        value_of(read.fields[0].result.as_ref().unwrap()),
        Some("+2250701020378")
    );
}

#[test]
fn debug_output_is_redacted() {
    let r = FieldResult::Clear(Plain("Aminata".into()));
    let m = FieldResult::Masked(Plain("A***".into()));
    let shown = format!("{r:?} {m:?}");
    assert!(
        !shown.contains("Aminata") && !shown.contains("A***"),
        "{shown}"
    );
    let (vault, _) = memory_vault();
    let shown = format!("{vault:?} {:?}", vault.feed_handler().applied());
    assert!(shown.contains("kek-1"), "{shown}");
}

#[test]
fn the_vault_is_the_key_custodian() {
    use c360_crypto::{FieldContext, KeyCustodian};
    let (vault, _) = memory_vault();
    let custodian: Arc<dyn KeyCustodian> = Arc::new(vault.clone());
    assert!(custodian.existing_data_key("C7").unwrap().is_none());
    let key = custodian.data_key("C7").unwrap();
    let ctx = FieldContext {
        client: "C7",
        record: "r1",
        field: "phone",
    };
    let env = key.encrypt(&ctx, b"+2250701020378").unwrap();
    // Same key for everyone, and the vault's Decrypt opens it.
    let again = custodian.existing_data_key("C7").unwrap().unwrap();
    assert_eq!(again.decrypt(&ctx, &env).unwrap(), b"+2250701020378");
    let r = FieldRef {
        client_number: "C7".into(),
        record_id: "r1".into(),
        field: "phone".into(),
    };
    let caller = Caller::new("svc", Role::Service);
    let out = vault
        .decrypt(&caller, "service", &[(r.clone(), env.clone())])
        .unwrap();
    assert_eq!(out[0], FieldResult::Clear(Plain("+2250701020378".into())));
    // Erasure destroys it for every holder of the custodian.
    vault
        .erase_client(&Caller::new("dpo", Role::Compliance), "C7", "request 1")
        .unwrap();
    assert!(custodian.existing_data_key("C7").unwrap().is_none());
    let err = custodian.data_key("C7").unwrap_err();
    assert!(err.to_string().contains("erased"), "{err}");
    let out = vault.decrypt(&caller, "service", &[(r, env)]).unwrap();
    assert!(matches!(&out[0], FieldResult::Error(e) if e.contains("destroyed")));
}

/// Custody for other processes: `GetWrappedDataKeys` hands out keys
/// wrapped by the KEK (never in clear) to the `service` role only; a
/// `RemoteCustodian` unwraps them with the same keyring, creates many in one
/// call, and an erased client's key comes back absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_custody_hands_out_wrapped_keys_to_services_only() {
    use c360_crypto::{FieldContext, KeyCustodian};
    let (vault, _) = memory_vault();
    let request = || api::GetWrappedDataKeysRequest {
        key_ids: vec!["C7".into(), "C8".into()],
        create: true,
    };
    for role in [Role::App, Role::Steward, Role::Compliance, Role::Admin] {
        let err = client(&vault, role)
            .get_wrapped_data_keys(request())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{role:?}");
    }
    let mut svc = client(&vault, Role::Service);
    let err = svc
        .get_wrapped_data_keys(api::GetWrappedDataKeysRequest {
            key_ids: vec!["C7".into(), "no good".into()],
            create: true,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&err), "key_ids[1]");
    let absent = svc
        .get_wrapped_data_keys(api::GetWrappedDataKeysRequest {
            create: false,
            ..request()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        absent
            .keys
            .iter()
            .all(|k| !k.present && k.wrapped.is_empty())
    );
    let made = svc
        .get_wrapped_data_keys(request())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.keys.len(), 2);
    let c7 = &made.keys[0];
    assert!(c7.present && c7.key_id == "C7");
    assert!(c7.wrapped.len() > 32, "wrapped, with its KEK id and tag");

    let custodian = crate::RemoteCustodian::new(client(&vault, Role::Service), kek(), 100);
    let local = vault.clone();
    let erased = tokio::task::spawn_blocking(move || {
        // The remote copy and the vault's own open each other's envelopes.
        let remote = custodian.data_key("C7").unwrap();
        let own = KeyCustodian::data_key(&local, "C7").unwrap();
        let ctx = FieldContext {
            client: "C7",
            record: "r1",
            field: "phone",
        };
        let env = remote.encrypt(&ctx, b"+2250701020378").unwrap();
        assert_eq!(own.decrypt(&ctx, &env).unwrap(), b"+2250701020378");
        // Many at once, created in one call.
        let ids: Vec<String> = (100..400).map(|n| format!("C{n}")).collect();
        assert_eq!(custodian.data_keys(&ids).unwrap().len(), 300);
        assert!(local.existing_data_key("C399").unwrap().is_some());
        local
            .erase_client(&Caller::new("dpo", Role::Compliance), "C8", "request 2")
            .unwrap();
        custodian.forget(&["C8".to_string()]);
        (
            custodian.existing_data_key("C8").unwrap().is_none(),
            custodian.data_key("C8").unwrap_err().to_string(),
        )
    })
    .await
    .unwrap();
    assert!(erased.0, "an erased client's key is absent");
    assert!(erased.1.contains("destroyed"), "{}", erased.1);
}
