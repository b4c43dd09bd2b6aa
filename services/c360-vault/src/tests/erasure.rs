//! The identity feed, legal holds and erasure (with the resolver told),
//! subject export.

use super::*;

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
        VaultPeers::over_grpc(Some(resolver)),
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
