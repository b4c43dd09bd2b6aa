//! Consent across the platform (resolver, vault, channels in one process):
//! the three cases of issue 17 where a person who said no would have been
//! contacted, each reproduced through the public gRPC API.

use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{PeerChannel, Role};

use crate::scenario::{check, consent, may_contact};
use crate::server::{TestServer, aminata_core, keyring_text, moussa, resolve, test_config};

struct Clients {
    resolver: ResolverServiceClient<PeerChannel>,
    steward: ResolverServiceClient<PeerChannel>,
    vault: VaultServiceClient<PeerChannel>,
    channels: ChannelServiceClient<PeerChannel>,
}

async fn platform(dir: &std::path::Path) -> (TestServer, Clients) {
    let server = TestServer::start_with(test_config(dir, "all"), &keyring_text()).await;
    let clients = Clients {
        resolver: server.client.clone(),
        steward: ResolverServiceClient::new(server.channel_as("awa", Role::Steward).await),
        vault: VaultServiceClient::new(server.channel_as("compliance", Role::Compliance).await),
        channels: ChannelServiceClient::new(server.channel_as("crm", Role::App).await),
    };
    (server, clients)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap()
}

async fn allowed_at(c: &mut Clients, number: &str, at: i64) -> va::CheckConsentResponse {
    c.vault
        .check_consent(va::CheckConsentRequest {
            at_unix_ms: at,
            ..check(number)
        })
        .await
        .unwrap()
        .into_inner()
}

async fn may_contact_at(c: &mut Clients, number: &str, at: i64) -> ch::Verdict {
    c.channels
        .may_contact(ch::MayContactRequest {
            at_unix_ms: at,
            ..may_contact(number)
        })
        .await
        .unwrap()
        .into_inner()
        .verdict()
}

async fn merge(c: &mut Clients, numbers: &[&str]) -> String {
    c.steward
        .merge(api::MergeRequest {
            client_numbers: numbers.iter().map(|n| n.to_string()).collect(),
            reason: "same person, confirmed at the branch".into(),
            actor: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .survivor
}

async fn split(c: &mut Clients, number: &str, records: &[&str]) -> String {
    c.steward
        .split(api::SplitRequest {
            client_number: number.into(),
            record_ids: records.iter().map(|r| r.to_string()).collect(),
            reason: "two people".into(),
            actor: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .new_client_number
}

/// Case 1: a grant dated ahead of the ledger's clock must not undo a
/// withdrawal recorded after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_dated_in_the_future_never_overtakes_a_later_withdrawal() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut c) = platform(dir.path()).await;
    let a = resolve(&mut c.resolver, aminata_core(), false).await;
    server.wait_for_followers().await;
    let n = a.client_number.as_str();

    let now = now_ms();
    let grant = c
        .vault
        .record_consent(consent(n, va::ConsentDecision::Granted, now + 20_000))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    // The source's claim is kept as evidence.
    assert_eq!(grant.captured_at_unix_ms, now + 20_000);
    c.vault
        .record_consent(consent(n, va::ConsentDecision::Withdrawn, 0))
        .await
        .unwrap();
    for at in [0, now_ms(), now + 21_000, now + 3_600_000] {
        let v = allowed_at(&mut c, n, at).await;
        assert!(!v.allowed, "at {at}: {}", v.reason);
        assert!(v.reason.starts_with("withdrawn"), "{}", v.reason);
        assert_ne!(may_contact_at(&mut c, n, at).await, ch::Verdict::Allow);
    }
    // Beyond the tolerated clock skew, the claim is refused, naming it.
    let err = c
        .vault
        .record_consent(consent(n, va::ConsentDecision::Granted, now + 3_600_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("captured_at"), "{}", err.message());
    server.stop().await;
}

/// Case 2: the survivor's own record is split out; its consents go with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_of_the_survivors_own_record_takes_its_consents() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut c) = platform(dir.path()).await;
    let a = resolve(&mut c.resolver, aminata_core(), false).await;
    let b = resolve(&mut c.resolver, moussa(), false).await;
    server.wait_for_followers().await;
    c.vault
        .record_consent(consent(
            &a.client_number,
            va::ConsentDecision::Granted,
            crate::scenario::AT - crate::scenario::DAY,
        ))
        .await
        .unwrap();
    let survivor = merge(&mut c, &[&a.client_number, &b.client_number]).await;
    assert_eq!(survivor, a.client_number, "the older number survives");
    server.wait_for_followers().await;
    assert!(allowed_at(&mut c, &b.client_number, 0).await.allowed);

    let new = split(&mut c, &survivor, &[&a.record_id]).await;
    server.wait_for_followers().await;
    // Number A now holds only B's record: B never granted.
    let kept = allowed_at(&mut c, &a.client_number, 0).await;
    assert!(!kept.allowed, "{}", kept.reason);
    assert_eq!(kept.reason, "no consent recorded");
    assert_ne!(
        may_contact_at(&mut c, &a.client_number, crate::scenario::AT).await,
        ch::Verdict::Allow
    );
    // The new number holds A's record, and A's grant with it.
    let moved = allowed_at(&mut c, &new, 0).await;
    assert!(moved.allowed, "{}", moved.reason);
    assert_eq!(moved.client_number, new);
    assert_eq!(
        moved.deciding_entry.map(|e| e.client_number),
        Some(a.client_number.clone())
    );
    let verify = c
        .vault
        .verify_ledger(va::VerifyLedgerRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verify.ok);
    server.stop().await;
}

/// Case 3: a STOP received through channels on an absorbed number's phone
/// stays with the person who said it when the merge is undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_on_an_absorbed_numbers_phone_stays_with_its_sender_after_a_split() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut c) = platform(dir.path()).await;
    let a = resolve(&mut c.resolver, aminata_core(), false).await;
    let b = resolve(&mut c.resolver, moussa(), false).await;
    server.wait_for_followers().await;
    for n in [&a.client_number, &b.client_number] {
        c.vault
            .record_consent(consent(
                n,
                va::ConsentDecision::Granted,
                crate::scenario::AT - 2 * crate::scenario::DAY,
            ))
            .await
            .unwrap();
    }
    let survivor = merge(&mut c, &[&a.client_number, &b.client_number]).await;
    server.wait_for_followers().await;
    let points = c
        .channels
        .list_contact_points(ch::ListContactPointsRequest {
            client_number: survivor.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    let b_phone = points
        .iter()
        .find(|p| p.channel() == ch::Channel::Sms && p.record_ids == [b.record_id.clone()])
        .expect("B's phone is a point of the merged client");
    // Both ways of naming the sender: B's number, or the survivor's with
    // B's phone.
    for (number, point) in [(&b.client_number, ""), (&survivor, b_phone.id.as_str())] {
        let r = c
            .channels
            .record_contact(ch::RecordContactRequest {
                client_number: number.clone(),
                channel: ch::Channel::Sms as i32,
                purpose: "marketing".into(),
                action_id: format!("campaign-1{point}"),
                outcome: ch::Outcome::Delivered as i32,
                inbound_keyword: "STOP".into(),
                contact_point_id: point.into(),
                at_unix_ms: crate::scenario::AT - crate::scenario::DAY,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.withdrawals.len(), 1);
        assert_eq!(r.withdrawals[0].client_number, b.client_number);
    }
    assert!(!allowed_at(&mut c, &survivor, 0).await.allowed);

    let new = split(&mut c, &survivor, &[&b.record_id]).await;
    server.wait_for_followers().await;
    // A never said STOP: her grant stands.
    let kept = allowed_at(&mut c, &a.client_number, 0).await;
    assert!(kept.allowed, "{}", kept.reason);
    assert_eq!(
        may_contact_at(&mut c, &a.client_number, crate::scenario::AT).await,
        ch::Verdict::Allow
    );
    // B did: denied under the new number and under B's own.
    for n in [&new, &b.client_number] {
        let v = allowed_at(&mut c, n, 0).await;
        assert!(!v.allowed, "{n}: {}", v.reason);
        assert!(v.reason.starts_with("withdrawn"), "{}", v.reason);
    }
    assert_ne!(
        may_contact_at(&mut c, &new, crate::scenario::AT).await,
        ch::Verdict::Allow
    );

    // The CLI: B grants again, for B's record; the history shows the
    // records of every entry.
    let cli = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--server", &server.url, "--token", &server.token]);
        let out = crate::common::c360(dir.path(), &all);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let recorded = cli(&[
        "consent",
        "record",
        &new,
        "--purpose",
        "marketing",
        "--channel",
        "SMS",
        "--decision",
        "granted",
        "--evidence",
        "form-9",
        "--record",
        &b.record_id,
    ]);
    assert!(
        recorded.contains(&format!("records={}", b.record_id)),
        "{recorded}"
    );
    let check = cli(&[
        "consent",
        "check",
        &new,
        "--purpose",
        "marketing",
        "--channel",
        "SMS",
    ]);
    assert!(check.starts_with("allowed"), "{check}");
    let shown = cli(&["consent", "show", &new]);
    assert!(
        shown.contains(&format!("#{} consent {} ", 4, b.client_number)),
        "the STOP is in B's history: {shown}"
    );
    server.stop().await;
}

/// In one process channels calls the vault's and the resolver's domains
/// (`c360::in_process`), not their gRPC services; what it gets must be what
/// those services would have answered its peer identity. The feed reads
/// her record from the resolver and has the vault seal her phone; a
/// receipt carries the vault's deciding entry exactly as the ledger holds
/// it; a STOP is written to the ledger as channels' own withdrawal, filed
/// under the point's record, and answered with that very entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_one_process_channels_reads_the_vaults_own_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut c) = platform(dir.path()).await;
    let a = resolve(&mut c.resolver, aminata_core(), false).await;
    server.wait_for_followers().await;
    let points = c
        .channels
        .list_contact_points(ch::ListContactPointsRequest {
            client_number: a.client_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    let sms = points
        .iter()
        .find(|p| p.channel() == ch::Channel::Sms)
        .expect("her phone became a contact point through the feed");
    assert_eq!(sms.record_ids, std::slice::from_ref(&a.record_id));
    let sealed = sms.sealed.clone().expect("the point is sealed");
    assert!(!sealed.ciphertext.is_empty());
    assert!(
        !String::from_utf8_lossy(&sealed.ciphertext).contains("0707123456"),
        "sealed, not in clear"
    );

    c.vault
        .record_consent(consent(
            &a.client_number,
            va::ConsentDecision::Granted,
            crate::scenario::AT - 2 * crate::scenario::DAY,
        ))
        .await
        .unwrap();
    let decided = c
        .channels
        .may_contact(may_contact(&a.client_number))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.verdict(), ch::Verdict::Allow);
    let deciding = decided
        .receipt
        .unwrap()
        .rules
        .into_iter()
        .find_map(|r| r.consent_entry.filter(|_| r.rule == "consent"))
        .expect("the consent rule names its entry");

    let stop = c
        .channels
        .record_contact(ch::RecordContactRequest {
            client_number: a.client_number.clone(),
            channel: ch::Channel::Sms as i32,
            purpose: "marketing".into(),
            action_id: "campaign-1".into(),
            outcome: ch::Outcome::Delivered as i32,
            inbound_keyword: "STOP".into(),
            contact_point_id: sms.id.clone(),
            at_unix_ms: crate::scenario::AT - crate::scenario::DAY,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stop.withdrawals.len(), 1);
    let withdrawal = stop.withdrawals[0].clone();
    assert_eq!(withdrawal.decision(), va::ConsentDecision::Withdrawn);
    assert_eq!(
        withdrawal.actor,
        c360_rpc::Caller::peer(c360_rpc::Peer::Channels).id
    );
    assert_eq!(withdrawal.source_system, "c360-channels");
    assert_eq!(withdrawal.record_ids, std::slice::from_ref(&a.record_id));

    let ledger = c
        .vault
        .get_consents(va::GetConsentsRequest {
            client_number: a.client_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .history;
    let held = |sequence: u64| ledger.iter().find(|e| e.sequence == sequence).cloned();
    assert_eq!(held(deciding.sequence), Some(deciding));
    assert_eq!(held(withdrawal.sequence), Some(withdrawal));
    assert!(!allowed_at(&mut c, &a.client_number, 0).await.allowed);
    server.stop().await;
}
