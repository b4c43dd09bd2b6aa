//! Durability and nothing in clear at rest, KEK rotation, key custody.

use super::*;

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
