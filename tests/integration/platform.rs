//! The platform around the services: authentication, roles, erasure in the
//! resolver, metrics.

use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_rpc::Role;
use tonic::Code;

use crate::server::{TestServer, aminata_core, aminata_mobile, keyring_text, resolve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_authenticated_and_role_checked() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;

    // No token at all.
    let bare = tonic::transport::Endpoint::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = ResolverServiceClient::new(bare.clone());
    let err = anonymous
        .get_client(api::GetClientRequest {
            client_number: "C00000011".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A token nobody issued.
    let mut forged = ResolverServiceClient::new(
        c360_rpc::remote(bare, Some("c360_not-a-real-token"), None).unwrap(),
    );
    let err = forged
        .get_client(api::GetClientRequest {
            client_number: "C00000011".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A downstream app may look up but not merge, ingest or erase.
    let mut app = ResolverServiceClient::new(server.channel_as("crm", Role::App).await);
    let mut admin = server.client.clone();
    let a = resolve(&mut admin, aminata_core(), false).await;
    let found = app
        .get_client(api::GetClientRequest {
            client_number: a.client_number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.client_number, a.client_number);
    let err = app
        .merge(api::MergeRequest {
            client_numbers: vec![a.client_number.clone(), a.client_number.clone()],
            reason: "x".into(),
            actor: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = app
        .erase_client(api::EraseClientRequest {
            client_number: a.client_number.clone(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A steward's merge is signed with the steward's token name.
    let mut steward = ResolverServiceClient::new(server.channel_as("awa", Role::Steward).await);
    let b = resolve(&mut admin, aminata_mobile(), false).await;
    if b.client_number != a.client_number {
        steward
            .merge(api::MergeRequest {
                client_numbers: vec![a.client_number.clone(), b.client_number.clone()],
                reason: "same person".into(),
                actor: "someone-else".into(),
            })
            .await
            .unwrap();
        let c = admin
            .get_client(api::GetClientRequest {
                client_number: a.client_number.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let merge = c
            .lineage
            .iter()
            .find(|l| l.kind() == api::lineage_entry::Kind::Merged)
            .expect("a merge entry");
        assert_eq!(merge.actor, "awa", "a steward cannot sign for someone else");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_removes_the_client_and_its_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    let server = TestServer::start(dir.path(), &keyring).await;
    let mut c = server.client.clone();
    let a = resolve(&mut c, aminata_core(), false).await;
    let mut other = aminata_mobile();
    other.source_system = "agent_app".into();
    other.source_record_id = "AG-1".into();
    other.date_of_birth = "1990-01-01".into();
    let b = resolve(&mut c, other, false).await;
    let survivor = if a.client_number == b.client_number {
        a.client_number.clone()
    } else {
        c.merge(api::MergeRequest {
            client_numbers: vec![a.client_number.clone(), b.client_number.clone()],
            reason: "test".into(),
            actor: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .survivor
    };
    let erased = c
        .erase_client(api::EraseClientRequest {
            client_number: b.client_number.clone(),
            reason: "request 42".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.client_number, survivor);
    assert_eq!(erased.record_ids.len(), 2);
    for number in [&a.client_number, &b.client_number] {
        let err = c
            .get_client(api::GetClientRequest {
                client_number: number.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    }
    // The same person again is a new client: nothing was kept to match on.
    let again = resolve(&mut c, aminata_core(), true).await;
    assert_ne!(again.decision(), api::Decision::Matched);
    // The feed says so, without personal data.
    let events = server
        .resolver
        .events()
        .read_from(server.resolver.store(), 1, 100)
        .unwrap();
    let last = events.last().unwrap();
    let e = <api::Event as prost::Message>::decode(last.1.as_slice()).unwrap();
    assert_eq!(e.r#type(), api::EventType::ClientErased);
    assert_eq!(e.client_number, survivor);
    server.stop().await;

    // After a restart the erased records are still gone.
    let server = TestServer::start(dir.path(), &keyring).await;
    let (records, _) = server.resolver.counts();
    assert_eq!(records, 0);
    server.stop().await;
}
