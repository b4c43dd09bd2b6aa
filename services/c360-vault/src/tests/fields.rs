//! Encryption, fields under the policy, tokens and blind indexes.

use super::*;

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
