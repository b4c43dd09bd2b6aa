//! The vault's edges, tried as an attacker would: writes naming a number
//! never issued, a source system's token writing as another, keys made
//! ahead by someone other than the resolver, disclosure decisions for the
//! other services, and the contact points channels seals read back.

use c360_rpc::{Caller, Peer, Role, Sources};
use tonic::Code;

use super::{GRANTED, UNISSUED, client, client_as, consent, memory_vault, plain, value_of};
use crate::policy::Access;
use c360_proto::vault::v1 as api;

const ISSUED: &str = "C0000012K";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_naming_a_number_never_issued_are_not_found_and_change_nothing() {
    let (vault, _) = memory_vault();
    let mut src = client(&vault, Role::Source);
    let mut svc = client(&vault, Role::Service);
    let mut dpo = client(&vault, Role::Compliance);

    let forged = consent(UNISSUED, "marketing", "SMS", GRANTED, 0);
    let err = src.record_consent(forged.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains(UNISSUED), "{err:?}");
    // A batch with one such number records none of it.
    let ok = consent(ISSUED, "marketing", "SMS", GRANTED, 0);
    let err = src
        .record_consents(api::RecordConsentsRequest {
            consents: vec![ok.clone(), forged],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let history = app_history(&vault, ISSUED).await;
    assert!(history.is_empty(), "nothing recorded: {history:?}");

    let phone = || vec![plain(UNISSUED, "r1", "phone", "+2250701020304")];
    for (what, code) in [
        (
            "put_fields",
            src.put_fields(api::PutFieldsRequest { fields: phone() })
                .await
                .map(|_| ()),
        ),
        (
            "encrypt",
            svc.encrypt(api::EncryptRequest { fields: phone() })
                .await
                .map(|_| ()),
        ),
        (
            "tokenize",
            svc.tokenize(api::TokenizeRequest { fields: phone() })
                .await
                .map(|_| ()),
        ),
        (
            "set_legal_hold",
            dpo.set_legal_hold(api::SetLegalHoldRequest {
                client_number: UNISSUED.into(),
                basis: "litigation 12".into(),
                expires_at_unix_ms: 0,
                release: false,
            })
            .await
            .map(|_| ()),
        ),
    ]
    .map(|(w, r)| (w, r.map_err(|e| e.code())))
    {
        assert_eq!(code, Err(Code::NotFound), "{what}");
    }
    // The same writes for an issued number go through.
    src.record_consent(ok).await.unwrap();
    src.put_fields(api::PutFieldsRequest {
        fields: vec![plain(ISSUED, "r1", "phone", "+2250701020304")],
    })
    .await
    .unwrap();
}

async fn app_history(vault: &crate::Vault, number: &str) -> Vec<api::ConsentEntry> {
    client(vault, Role::App)
        .get_consents(api::GetConsentsRequest {
            client_number: number.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .history
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_resolver_has_keys_made_for_a_number_not_yet_issued() {
    let (vault, _) = memory_vault();
    let ask = |create| api::GetWrappedDataKeysRequest {
        key_ids: vec![UNISSUED.into()],
        create,
    };
    let mut channels = client_as(&vault, Caller::peer(Peer::Channels));
    let err = channels.get_wrapped_data_keys(ask(true)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let none = channels.get_wrapped_data_keys(ask(false)).await.unwrap();
    assert!(!none.into_inner().keys[0].present);
    // The resolver issues numbers and has their keys made just before.
    let mut resolver = client_as(&vault, Caller::peer(Peer::Resolver));
    let made = resolver.get_wrapped_data_keys(ask(true)).await.unwrap();
    assert!(made.into_inner().keys[0].present);
    // Not even an admin gets key material.
    let mut admin = client(&vault, Role::Admin);
    let err = admin.get_wrapped_data_keys(ask(false)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_token_records_consent_only_for_its_own_source_systems() {
    let (vault, _) = memory_vault();
    let mut cbs = client_as(
        &vault,
        Caller::new("cbs", Role::Source).with_sources(Sources::parse("core_banking").unwrap()),
    );
    let mut as_crm = consent(ISSUED, "marketing", "SMS", GRANTED, 0);
    let err = cbs.record_consent(as_crm.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    as_crm.source_system = "core_banking".into();
    cbs.record_consent(as_crm).await.unwrap();
}

fn reads(role: &str, purpose: &str, fields: &[&str]) -> api::AuthorizeReadsRequest {
    api::AuthorizeReadsRequest {
        actor: format!("{role}-7"),
        role: role.into(),
        purpose: purpose.into(),
        operation: "resolver.GetClient".into(),
        targets: vec![api::ReadTarget {
            client_number: ISSUED.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }],
    }
}

fn accesses(r: &api::AuthorizeReadsResponse) -> Vec<api::FieldAccess> {
    r.grants[0].fields.iter().map(|f| f.access()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_services_disclose_under_the_vaults_policy_and_log_it() {
    use api::FieldAccess as F;
    let (vault, _) = memory_vault();
    let mut resolver = client_as(&vault, Caller::peer(Peer::Resolver));
    let fields = ["given_name", "national_id", "date_of_birth", "phone"];

    let app = resolver
        .authorize_reads(reads("app", "service", &fields))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accesses(&app), [F::Clear, F::Masked, F::Masked, F::Clear]);
    let steward = resolver
        .authorize_reads(reads("steward", "stewardship", &fields))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        accesses(&steward),
        [F::Clear, F::Masked, F::Clear, F::Clear]
    );
    // A consent-based purpose without a consent discloses nothing.
    let marketing = resolver
        .authorize_reads(reads("app", "marketing", &fields))
        .await
        .unwrap()
        .into_inner();
    assert!(accesses(&marketing).iter().all(|a| *a == F::Deny));
    assert!(marketing.grants[0].reason.contains("consent"));
    // A role the policy gives nothing (admin, source) sees nothing.
    let admin = resolver
        .authorize_reads(reads("admin", "service", &fields))
        .await
        .unwrap()
        .into_inner();
    assert!(accesses(&admin).iter().all(|a| *a == F::Deny));

    // Every decision is in the access log, under the path it came from.
    let log = client(&vault, Role::Compliance)
        .query_access_log(api::QueryAccessLogRequest {
            client_number: ISSUED.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|e| e.operation == "resolver.GetClient"));
    assert_eq!(log[0].actor, "app-7");
    assert_eq!(log[3].role, "admin");
    assert_eq!(log[0].sequence, app.grants[0].access_log_sequence);

    // Only services ask; a malformed request names its field.
    let mut app_client = client(&vault, Role::App);
    let err = app_client
        .authorize_reads(reads("app", "service", &fields))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut bad = reads("app", "service", &fields);
    bad.role = "root".into();
    let err = resolver.authorize_reads(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("role"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_channels_seals_is_read_back_through_decrypt_for_servicing() {
    let (vault, _) = memory_vault();
    let mut channels = client_as(&vault, Caller::peer(Peer::Channels));
    let sealed = channels
        .encrypt(api::EncryptRequest {
            fields: vec![plain(ISSUED, "r1", "contact_point_sms", "+2250701020304")],
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertexts
        .remove(0);
    for (role, purpose) in [
        (Role::App, "service"),
        (Role::App, "collections"),
        (Role::Service, "service"),
    ] {
        let out = client(&vault, role)
            .decrypt(api::DecryptRequest {
                purpose: purpose.into(),
                fields: vec![api::SealedField {
                    r#ref: Some(super::fref(ISSUED, "r1", "contact_point_sms")),
                    ciphertext: sealed.clone(),
                }],
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            value_of(&out.results[0]),
            Some("+2250701020304"),
            "{role} {purpose}"
        );
    }
    // The policy's decision for the field, for the record.
    assert_eq!(
        crate::policy::Policy::load(None).unwrap().access(
            Role::App,
            "contact_point_whatsapp",
            "service"
        ),
        Access::Clear
    );
}
