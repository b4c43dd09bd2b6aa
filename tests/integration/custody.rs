//! Key custody (issue 4): the resolver writes its records under data keys
//! held by the vault, so an erasure in the vault leaves every copy of the
//! resolver's store, backups included, unreadable for that client.

use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::Role;
use tonic::Code;

use crate::resolver::walk;
use crate::server::{TestServer, aminata_core, keyring_text, moussa, resolve, test_config};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for file in walk(from) {
        let dest = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&file, &dest).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_in_the_vault_defeats_a_backup_of_the_resolver() {
    let dir = tempfile::tempdir().unwrap();
    let backup = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    let config = test_config(dir.path(), "resolver,vault");

    let server = TestServer::start_with(config.clone(), &keyring).await;
    let mut c = server.client.clone();
    let aminata = resolve(&mut c, aminata_core(), false).await.client_number;
    let moussa = resolve(&mut c, moussa(), false).await.client_number;
    // Their keys are the vault's: a service can fetch them (wrapped).
    let mut as_service = VaultServiceClient::new(server.channel_as("peer", Role::Service).await);
    let keys = as_service
        .get_wrapped_data_keys(va::GetWrappedDataKeysRequest {
            key_ids: vec![aminata.clone(), moussa.clone()],
            create: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(keys.keys.iter().all(|k| k.present), "{:?}", keys.keys.len());
    server.wait_for_followers().await;
    // Open connections would keep the stores open past the stop.
    drop((c, as_service));
    server.stop().await;

    // A backup of the resolver's store, taken before the erasure.
    copy_dir(&dir.path().join("resolver"), backup.path());

    let server = TestServer::start_with(config.clone(), &keyring).await;
    let mut vault = VaultServiceClient::new(server.channel_as("dpo", Role::Compliance).await);
    let erased = vault
        .erase_client(va::EraseClientRequest {
            client_number: aminata.clone(),
            reason: "erasure request 2026-131".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(erased.resolver_notified);
    drop(vault);
    server.stop().await;

    // The backup comes back in place of the live store, under the live
    // vault: Aminata's records are there, encrypted, but nothing can open
    // them any more; Moussa's are intact.
    std::fs::remove_dir_all(dir.path().join("resolver")).unwrap();
    copy_dir(backup.path(), &dir.path().join("resolver"));
    let server = TestServer::start_with(config, &keyring).await;
    // Read as a data steward: personal values are disclosed under the
    // vault's policy, which gives an administrator none.
    let mut c = ResolverServiceClient::new(server.channel_as("awa", Role::Steward).await);
    let restored = c
        .get_client(api::GetClientRequest {
            client_number: aminata.clone(),
            purpose: "stewardship".into(),
        })
        .await;
    match restored {
        Ok(r) => {
            let r = r.into_inner();
            assert!(
                r.records.is_empty() && r.golden.is_empty(),
                "{:?}",
                r.records.len()
            );
        }
        Err(e) => assert_eq!(e.code(), Code::NotFound, "{e:?}"),
    }
    let kept = c
        .get_client(api::GetClientRequest {
            client_number: moussa.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.records.len(), 1);
    assert_eq!(
        kept.records[0].record.as_ref().unwrap().given_name,
        "Moussa"
    );
    // Nothing of hers matches any more: the same record is a stranger.
    let again = resolve(&mut c, aminata_core(), true).await;
    assert_ne!(again.decision(), api::Decision::Matched);
    server.stop().await;
}
