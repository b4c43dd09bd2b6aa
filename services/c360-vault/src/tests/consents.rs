//! Consents and the ledger: recording and checking (fail closed), bad
//! input, tamper evidence, the auditor's export.

use super::*;

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
