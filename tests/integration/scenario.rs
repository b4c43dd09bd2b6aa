//! The cross-service scenario in one process: records resolved, consent
//! recorded and checked, a may-contact decision, a merge that consent and
//! contact points follow, an erasure that leaves nothing behind.

use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::resolver::v1 as api;
use c360_proto::search::v1 as se;
use c360_proto::search::v1::search_service_client::SearchServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::Role;
use tonic::Code;

use crate::server::{TestServer, aminata_core, keyring_text, resolve, test_config};

/// Wednesday 25 November 2026, 10:00 in Abidjan (UTC+0): no quiet hours.
pub(crate) const AT: i64 = 1_795_600_800_000;
pub(crate) const DAY: i64 = 86_400_000;

pub(crate) fn consent(
    number: &str,
    decision: va::ConsentDecision,
    at: i64,
) -> va::RecordConsentRequest {
    va::RecordConsentRequest {
        client_number: number.to_string(),
        purpose: "marketing".into(),
        channel: "SMS".into(),
        decision: decision as i32,
        lawful_basis: va::LawfulBasis::Consent as i32,
        evidence_ref: "form-17".into(),
        source_system: "agent_app".into(),
        notice_version: "2026-01".into(),
        captured_at_unix_ms: at,
        expires_at_unix_ms: 0,
        record_ids: Vec::new(),
    }
}

pub(crate) fn check(number: &str) -> va::CheckConsentRequest {
    va::CheckConsentRequest {
        client_number: number.to_string(),
        purpose: "marketing".into(),
        channel: "SMS".into(),
        at_unix_ms: AT,
    }
}

pub(crate) fn may_contact(number: &str) -> ch::MayContactRequest {
    ch::MayContactRequest {
        client_number: number.to_string(),
        purpose: "marketing".into(),
        allowed_channels: vec![ch::Channel::Sms as i32],
        action_id: "campaign-1".into(),
        at_unix_ms: AT,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_and_contact_follow_identity_and_erasure_leaves_nothing() {
    let _ = c360::telemetry::init(&c360::config::TelemetryConfig::default(), "test");
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "all");
    let server = TestServer::start_with(config, &keyring_text()).await;
    let mut resolver = server.client.clone();
    let mut steward = c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient::new(
        server.channel_as("awa", Role::Steward).await,
    );
    let mut vault =
        VaultServiceClient::new(server.channel_as("compliance", Role::Compliance).await);
    let mut app_vault = VaultServiceClient::new(server.channel_as("crm", Role::App).await);
    let mut channels = ChannelServiceClient::new(server.channel_as("crm", Role::App).await);
    let mut search = SearchServiceClient::new(server.channel_as("awa", Role::Steward).await);

    // Two records of one woman the engine cannot join on its own.
    let a = resolve(&mut resolver, aminata_core(), false).await;
    let mut other = aminata_core();
    other.source_system = "agent_app".into();
    other.source_record_id = "AG-77".into();
    other.date_of_birth = String::new();
    other.national_id = String::new();
    other.phone = vec!["+225 05 44 33 22 11".into()];
    other.given_name = "Amy".into();
    let b = resolve(&mut resolver, other, false).await;
    assert_ne!(a.client_number, b.client_number, "kept apart by the engine");
    server.wait_for_followers().await;

    // She agreed to marketing SMS on one side.
    vault
        .record_consent(consent(
            &a.client_number,
            va::ConsentDecision::Granted,
            AT - 10 * DAY,
        ))
        .await
        .unwrap();
    let granted = app_vault
        .check_consent(check(&a.client_number))
        .await
        .unwrap()
        .into_inner();
    assert!(granted.allowed, "{}", granted.reason);
    let decision = channels
        .may_contact(may_contact(&a.client_number))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        decision.verdict(),
        ch::Verdict::Allow,
        "{:?}",
        decision.receipt.as_ref().map(|r| &r.deciding_rule)
    );
    assert_eq!(decision.channel(), ch::Channel::Sms);
    assert!(!decision.contact_point_id.is_empty());
    let receipt = decision.receipt.unwrap();
    let consent_rule = receipt
        .rules
        .iter()
        .find(|r| r.rule == "consent")
        .expect("the receipt names the consent check");
    assert_eq!(
        consent_rule.consent_entry.as_ref().map(|e| e.sequence),
        granted.deciding_entry.as_ref().map(|e| e.sequence)
    );

    // ... and withdrew it later on the other side.
    vault
        .record_consent(consent(
            &b.client_number,
            va::ConsentDecision::Withdrawn,
            AT - DAY,
        ))
        .await
        .unwrap();

    // A steward merges them: the withdrawal wins over the older grant.
    let merged = steward
        .merge(api::MergeRequest {
            client_numbers: vec![a.client_number.clone(), b.client_number.clone()],
            reason: "same woman, confirmed at the branch".into(),
            actor: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    server.wait_for_followers().await;
    let survivor = merged.survivor.clone();
    for number in [&a.client_number, &b.client_number] {
        let after = app_vault
            .check_consent(check(number))
            .await
            .unwrap()
            .into_inner();
        assert!(!after.allowed, "a withdrawal on either side wins");
        assert_eq!(after.client_number, survivor);
        assert_eq!(
            after.deciding_entry.as_ref().map(|e| e.decision()),
            Some(va::ConsentDecision::Withdrawn)
        );
    }
    let decision = channels
        .may_contact(may_contact(&b.client_number))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(decision.verdict(), ch::Verdict::Allow);
    assert_eq!(decision.receipt.as_ref().unwrap().client_number, survivor);
    // Search finds one client, the survivor, within a second or so.
    let hits = search_until(&mut search, "Aminata Traore", |hits| {
        hits.len() == 1 && hits[0].client_number == survivor
    })
    .await;
    assert_eq!(hits[0].display_name, "TRAORÉ Aminata");
    // Contact points of both sides are now the survivor's.
    let points = channels
        .list_contact_points(ch::ListContactPointsRequest {
            client_number: survivor.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        points.contact_points.len() >= 2,
        "{}",
        points.contact_points.len()
    );

    // Erasure, asked of the vault, reaches every service.
    let erased = vault
        .erase_client(va::EraseClientRequest {
            client_number: b.client_number.clone(),
            reason: "erasure request 2026-118".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(erased.client_number, survivor);
    assert!(erased.resolver_notified);
    server.wait_for_followers().await;
    let err = resolver
        .get_client(api::GetClientRequest {
            client_number: survivor.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    for at in [AT, 0] {
        let after = app_vault
            .check_consent(va::CheckConsentRequest {
                at_unix_ms: at,
                ..check(&survivor)
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!after.allowed);
        assert!(after.reason.contains("erased"), "{}", after.reason);
    }
    match channels
        .list_contact_points(ch::ListContactPointsRequest {
            client_number: survivor.clone(),
        })
        .await
    {
        Ok(r) => assert!(r.into_inner().contact_points.is_empty()),
        Err(e) => assert_eq!(e.code(), Code::NotFound),
    }
    search_until(&mut search, "Aminata Traore", |hits| hits.is_empty()).await;
    let verify = vault
        .verify_ledger(va::VerifyLedgerRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verify.ok, "erasure keeps the ledger chain intact");
    server.stop().await;

    // Nothing readable is left on disk, in any service's directory.
    let needles: &[&[u8]] = &[
        b"Aminata",
        b"AMINATA",
        b"Traor",
        b"TRAORE",
        b"0707123456",
        b"07123456",
        b"0544332211",
        b"44332211",
        b"Cocody",
        b"Abidjan",
    ];
    for entry in crate::resolver::walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == *needle),
                "{} holds {:?} in clear",
                entry.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
}

/// Searches until `done` holds for the hits (the index commits every half
/// second), for at most 10 seconds.
async fn search_until(
    search: &mut SearchServiceClient<c360_rpc::PeerChannel>,
    query: &str,
    done: impl Fn(&[se::SearchHit]) -> bool,
) -> Vec<se::SearchHit> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let hits = search
            .search(se::SearchRequest {
                query: query.to_string(),
                filters: None,
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .hits;
        if done(&hits) {
            return hits;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "search never converged: {:?}",
            hits.iter().map(|h| &h.client_number).collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
