//! The attacks that found the holes at the edges, replayed against a running
//! platform: each must now be refused and change nothing.

use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_resolver::ClientNumber;
use c360_rpc::{Role, Sources};
use tonic::Code;

use crate::server::{
    TestServer, aminata_core, channel_to, keyring_text, moussa, resolve, test_config, token_with,
};

async fn platform(dir: &std::path::Path) -> TestServer {
    TestServer::start_with(
        test_config(dir, "resolver,vault,search,channels"),
        &keyring_text(),
    )
    .await
}

/// A platform holding Aminata, followed by every service: the server and
/// her client number.
async fn with_aminata(dir: &std::path::Path) -> (TestServer, String) {
    let server = platform(dir).await;
    let mut admin = server.client.clone();
    let number = resolve(&mut admin, aminata_core(), false)
        .await
        .client_number;
    server.wait_for_followers().await;
    (server, number)
}

/// A channel as a token of `role` writing for `sources` (empty: none).
async fn as_role(
    server: &TestServer,
    name: &str,
    role: Role,
    sources: &str,
) -> c360_rpc::PeerChannel {
    let sources = if sources.is_empty() {
        Sources::None
    } else {
        Sources::parse(sources).unwrap()
    };
    with_grants(
        server,
        name,
        role,
        c360::auth::Grants {
            sources,
            peer: None,
        },
    )
    .await
}

async fn with_grants(
    server: &TestServer,
    name: &str,
    role: Role,
    grants: c360::auth::Grants,
) -> c360_rpc::PeerChannel {
    channel_to(&server.url, &token_with(&server.dir, name, role, &grants)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_can_be_planted_for_the_next_client_number() {
    let dir = tempfile::tempdir().unwrap();
    let server = platform(dir.path()).await;
    let mut admin = server.client.clone();
    let first = resolve(&mut admin, moussa(), false).await.client_number;
    let seq = first.parse::<ClientNumber>().unwrap().sequence();
    let next = ClientNumber::from_sequence(seq + 1).to_string();

    // A source system tries to grant marketing consent and plant a phone
    // for the number the next new person will get.
    let src = as_role(&server, "cbs", Role::Source, "core_banking").await;
    let mut vault = VaultServiceClient::new(src.clone());
    let err = vault
        .record_consent(va::RecordConsentRequest {
            client_number: next.clone(),
            purpose: "marketing".into(),
            decision: va::ConsentDecision::Granted as i32,
            lawful_basis: va::LawfulBasis::Consent as i32,
            evidence_ref: "forged".into(),
            source_system: "core_banking".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = vault
        .put_fields(va::PutFieldsRequest {
            fields: vec![va::PlainField {
                r#ref: Some(va::FieldRef {
                    client_number: next.clone(),
                    record_id: String::new(),
                    field: "phone".into(),
                }),
                value: "+2250101010101".into(),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let mut channels = ChannelServiceClient::new(src);
    let err = channels
        .upsert_contact_point(ch::UpsertContactPointRequest {
            client_number: next.clone(),
            channel: ch::Channel::Sms as i32,
            value: "+225 01 01 01 01 01".into(),
            verified: true,
            source_system: "core_banking".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // The next person arrives and gets that number, with nothing planted.
    let aminata = resolve(&mut admin, aminata_core(), false).await;
    assert_eq!(aminata.client_number, next);
    server.wait_for_followers().await;
    let app = as_role(&server, "crm", Role::App, "").await;
    let check = VaultServiceClient::new(app.clone())
        .check_consent(va::CheckConsentRequest {
            client_number: next.clone(),
            purpose: "marketing".into(),
            channel: "SMS".into(),
            at_unix_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!check.allowed, "{}", check.reason);
    let may = ChannelServiceClient::new(app)
        .may_contact(ch::MayContactRequest {
            client_number: next.clone(),
            purpose: "marketing".into(),
            allowed_channels: vec![ch::Channel::Sms as i32],
            action_id: "offer-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(may.verdict(), ch::Verdict::Allow);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_cannot_overwrite_a_source_systems_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = platform(dir.path()).await;
    let mut admin = server.client.clone();
    let original = resolve(&mut admin, aminata_core(), false).await;

    let mut app = ResolverServiceClient::new(as_role(&server, "crm", Role::App, "").await);
    let mut forged = aminata_core();
    forged.phone = vec!["01 01 01 01 01".into()];
    forged.address = "somewhere else".into();
    let err = app
        .resolve(api::ResolveRequest {
            record: Some(forged.clone()),
            dry_run: false,
            strict: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // A lookup is what a downstream system may do.
    let lookup = app
        .resolve(api::ResolveRequest {
            record: Some(forged.clone()),
            dry_run: true,
            strict: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lookup.client_number, original.client_number);
    // A source system's token writes only its own systems' records.
    let mut agents =
        ResolverServiceClient::new(as_role(&server, "agents", Role::Source, "agent_app").await);
    let err = agents
        .resolve(api::ResolveRequest {
            record: Some(forged),
            dry_run: false,
            strict: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // The record is as core banking sent it.
    let mut steward = ResolverServiceClient::new(as_role(&server, "awa", Role::Steward, "").await);
    let client = steward
        .get_client(api::GetClientRequest {
            client_number: original.client_number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let record = client.records[0].record.as_ref().unwrap();
    assert_eq!(record.phone, ["07 07 12 34 56"]);
    assert_eq!(record.address, "Cocody II Plateaux, Ilot 20");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_client_discloses_under_the_vault_policy_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (server, number) = with_aminata(dir.path()).await;
    let mut admin = server.client.clone();

    let mut app = ResolverServiceClient::new(as_role(&server, "crm", Role::App, "").await);
    let ask = |purpose: &str| api::GetClientRequest {
        client_number: number.clone(),
        purpose: purpose.into(),
    };
    let err = app.get_client(ask("")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("purpose"), "{err:?}");

    let seen = app.get_client(ask("service")).await.unwrap().into_inner();
    let golden = |name: &str| {
        seen.golden
            .iter()
            .find(|f| f.field == name)
            .map(|f| f.value.clone())
    };
    // Identity documents masked, contact in clear, as the policy says.
    assert_eq!(golden("given_name").as_deref(), Some("Aminata"));
    let id = golden("national_id").unwrap();
    assert!(id.contains('*') && !id.contains("3456"), "{id}");
    assert_eq!(golden("date_of_birth").as_deref(), Some("**/**/1985"));
    assert!(seen.masked_fields.contains(&"national_id".to_string()));
    let record = seen.records[0].record.as_ref().unwrap();
    assert!(record.national_id.contains('*'), "{}", record.national_id);
    assert!(seen.access_log_sequence > 0);

    // Marketing rests on consent, and there is none: nothing personal.
    let bare = app.get_client(ask("marketing")).await.unwrap().into_inner();
    assert!(bare.golden.is_empty(), "{:?}", bare.golden.len());
    assert!(bare.withheld_fields.contains(&"phone".to_string()));
    let record = bare.records[0].record.as_ref().unwrap();
    assert!(record.given_name.is_empty() && record.phone.is_empty());
    // An administrator operates the platform and reads no personal value.
    let admin_view = admin.get_client(ask("service")).await.unwrap().into_inner();
    assert!(admin_view.golden.is_empty());

    // Each read is in the vault's access log, under the path it took.
    let mut dpo = VaultServiceClient::new(as_role(&server, "dpo", Role::Compliance, "").await);
    let log = dpo
        .query_access_log(va::QueryAccessLogRequest {
            client_number: number.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let reads: Vec<_> = log
        .iter()
        .filter(|e| e.operation == "resolver.GetClient")
        .collect();
    assert_eq!(reads.len(), 3, "{log:?}");
    assert_eq!(reads[0].actor, "crm");
    assert_eq!(reads[0].purpose, "service");
    assert_eq!(reads[0].sequence, seen.access_log_sequence);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legal_hold_holds_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let (server, number) = with_aminata(dir.path()).await;
    let mut admin = server.client.clone();
    let mut dpo = VaultServiceClient::new(as_role(&server, "dpo", Role::Compliance, "").await);
    dpo.set_legal_hold(va::SetLegalHoldRequest {
        client_number: number.clone(),
        basis: "litigation 2026-7".into(),
        expires_at_unix_ms: 0,
        release: false,
    })
    .await
    .unwrap();
    let err = dpo
        .erase_client(va::EraseClientRequest {
            client_number: number.clone(),
            reason: "request 9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // The resolver's own erase is the vault's alone: an admin is refused.
    let err = admin
        .erase_client(api::EraseClientRequest {
            client_number: number.clone(),
            reason: "bypass".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // So is any other service.
    let grants = c360::auth::Grants {
        sources: Sources::None,
        peer: Some(c360_rpc::Peer::Search),
    };
    let search_peer = with_grants(&server, "search-peer", Role::Service, grants).await;
    let err = ResolverServiceClient::new(search_peer)
        .erase_client(api::EraseClientRequest {
            client_number: number.clone(),
            reason: "bypass".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Still there, in both services.
    let mut steward = ResolverServiceClient::new(as_role(&server, "awa", Role::Steward, "").await);
    let client = steward
        .get_client(api::GetClientRequest {
            client_number: number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(client.records.len(), 1);
    server.stop().await;
}
