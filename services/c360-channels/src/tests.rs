//! The service over gRPC (in process), with the test vault and resolver
//! (port fakes, `crate::testing`):
//! roles, validation, opt-out keywords, fail-closed consent, identity
//! changes through the feed, crash safety, sectors, no clear text on disk.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use c360_crypto::LocalKeyring;
use c360_proto::channels::v1 as api;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::common::v1::Record;
use c360_proto::resolver::v1::{self as res, Event, EventType};
use c360_proto::vault::v1 as vault;
use c360_rpc::{Caller, PeerChannel, Role, in_process};
use c360_storage::MemoryStore;

use crate::testing::{MemoryResolver, MemoryVault};
use crate::{Channels, ChannelsConfig, ChannelsPeers};

/// Today at 12:00 UTC (history older than the policy's retention is
/// pruned, so tests cannot use a fixed date).
fn noon() -> i64 {
    const DAY: i64 = 86_400_000;
    crate::service::now_ms() / DAY * DAY + DAY / 2
}
const HOUR: i64 = 3_600_000;

struct World {
    channels: Channels,
    vault: MemoryVault,
    resolver: MemoryResolver,
}

fn kek() -> Arc<LocalKeyring> {
    Arc::new(LocalKeyring::from_text(&LocalKeyring::generate_text("kek-test").unwrap()).unwrap())
}

fn world() -> World {
    let vault = MemoryVault::new();
    let resolver = MemoryResolver::new();
    let peers = ChannelsPeers {
        vault: Some(Arc::new(vault.clone())),
        resolver: Some(Arc::new(resolver.clone())),
    };
    let store = Arc::new(MemoryStore::new(crate::SPACES));
    let channels = Channels::open_store(store, ChannelsConfig::default(), kek(), peers).unwrap();
    World {
        channels,
        vault,
        resolver,
    }
}

mod edges;

fn client_as(channels: &Channels, role: Role) -> ChannelServiceClient<PeerChannel> {
    ChannelServiceClient::new(in_process(channels.grpc(), Caller::new("test", role)))
}

async fn upsert(
    c: &mut ChannelServiceClient<PeerChannel>,
    number: &str,
    channel: api::Channel,
    value: &str,
) -> api::UpsertContactPointResponse {
    c.upsert_contact_point(api::UpsertContactPointRequest {
        client_number: number.into(),
        channel: channel as i32,
        value: value.into(),
        verified: true,
        source_system: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

async fn set_zone(c: &mut ChannelServiceClient<PeerChannel>, number: &str) {
    c.set_preferences(api::SetPreferencesRequest {
        client_number: number.into(),
        preferences: Some(api::Preferences {
            time_zone: "Africa/Abidjan".into(),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
}

fn may(
    number: &str,
    purpose: &str,
    channels: &[api::Channel],
    action: &str,
    at: i64,
) -> api::MayContactRequest {
    api::MayContactRequest {
        client_number: number.into(),
        purpose: purpose.into(),
        allowed_channels: channels.iter().map(|c| *c as i32).collect(),
        action_id: action.into(),
        at_unix_ms: at,
    }
}

fn record(
    number: &str,
    channel: api::Channel,
    purpose: &str,
    action: &str,
    outcome: api::Outcome,
    keyword: &str,
    at: i64,
) -> api::RecordContactRequest {
    api::RecordContactRequest {
        client_number: number.into(),
        channel: channel as i32,
        purpose: purpose.into(),
        action_id: action.into(),
        outcome: outcome as i32,
        inbound_keyword: keyword.into(),
        contact_point_id: String::new(),
        at_unix_ms: at,
    }
}

#[tokio::test]
async fn allow_then_the_same_action_is_not_repeated_on_another_channel() {
    let w = world();
    let mut c = client_as(&w.channels, Role::App);
    let first = upsert(&mut c, "C1", api::Channel::Sms, "07 07 12 34 56").await;
    assert!(first.created);
    let point = first.contact_point.unwrap();
    assert_eq!(point.masked_value, "+225 07 ** ** ** 56");
    let again = upsert(&mut c, "C1", api::Channel::Sms, "+225 0707123456").await;
    assert!(!again.created, "the same number written another way");
    upsert(&mut c, "C1", api::Channel::Voice, "0707123456").await;
    set_zone(&mut c, "C1").await;
    w.vault.grant("C1", "marketing", "");

    let r = c
        .may_contact(may("C1", "marketing", &[api::Channel::Sms], "A-1", noon()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict(), api::Verdict::Allow);
    assert_eq!(r.contact_point_id, point.id);
    assert_eq!(r.masked_value, "+225 07 ** ** ** 56");
    assert!(r.sealed.as_ref().is_some_and(|s| !s.ciphertext.is_empty()));
    let receipt = r.receipt.unwrap();
    assert_eq!(receipt.deciding_rule, "allow");
    assert_eq!(receipt.policy_version, "builtin-1");
    let consent = receipt.rules.iter().find(|x| x.rule == "consent").unwrap();
    assert_eq!(consent.consent_entry.as_ref().unwrap().sequence, 1);

    let rec = c
        .record_contact(record(
            "C1",
            api::Channel::Sms,
            "marketing",
            "A-1",
            api::Outcome::Delivered,
            "",
            noon(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(rec.recorded);
    let retry = c
        .record_contact(record(
            "C1",
            api::Channel::Sms,
            "marketing",
            "A-1",
            api::Outcome::Delivered,
            "",
            noon(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !retry.recorded,
        "a retried RecordContact is not counted twice"
    );

    let r = c
        .may_contact(may(
            "C1",
            "marketing",
            &[api::Channel::Voice],
            "A-1",
            noon() + 10 * HOUR,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict(), api::Verdict::Deny);
    assert_eq!(r.receipt.unwrap().deciding_rule, "action_dedup");
    let history = c
        .get_contact_history(api::GetContactHistoryRequest {
            client_number: "C1".into(),
            since_unix_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.records.len(), 1);
}

#[tokio::test]
async fn opt_out_keywords_withdraw_consent_in_the_vault() {
    let w = world();
    let mut c = client_as(&w.channels, Role::App);
    upsert(&mut c, "C1", api::Channel::Sms, "0707123456").await;
    upsert(&mut c, "C1", api::Channel::Email, "awa@example.com").await;
    set_zone(&mut c, "C1").await;
    w.vault.grant("C1", "marketing", "");
    w.vault.grant("C1", "service", "");

    let r = c
        .record_contact(record(
            "C1",
            api::Channel::Sms,
            "marketing",
            "",
            api::Outcome::OptedOut,
            "Arrêt svp",
            noon(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.opt_out_keyword, "ARRÊT");
    assert_eq!(r.withdrawals.len(), 1);
    assert_eq!(r.withdrawals[0].channel, "SMS");
    assert_eq!(
        r.withdrawals[0].decision,
        vault::ConsentDecision::Withdrawn as i32
    );
    let sms = c
        .may_contact(may(
            "C1",
            "marketing",
            &[api::Channel::Sms],
            "",
            noon() + HOUR,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sms.verdict(), api::Verdict::Deny);
    assert_eq!(sms.receipt.unwrap().deciding_rule, "consent");
    let email = c
        .may_contact(may(
            "C1",
            "marketing",
            &[api::Channel::Email],
            "",
            noon() + HOUR,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        email.verdict(),
        api::Verdict::Allow,
        "STOP withdraws one channel"
    );

    let all = c
        .record_contact(record(
            "C1",
            api::Channel::Sms,
            "service",
            "",
            api::Outcome::Delivered,
            "stopall",
            noon() + 2 * HOUR,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.opt_out_keyword, "STOPALL");
    assert!(all.withdrawals.iter().all(|e| e.channel.is_empty()));
    let purposes: Vec<&str> = all.withdrawals.iter().map(|e| e.purpose.as_str()).collect();
    assert!(purposes.contains(&"marketing") && purposes.contains(&"service"));
    assert!(!purposes.contains(&"transactional"));
    let email = c
        .may_contact(may(
            "C1",
            "service",
            &[api::Channel::Email],
            "",
            noon() + 3 * HOUR,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(email.verdict(), api::Verdict::Deny);
}

#[tokio::test]
async fn an_unreachable_vault_means_not_now_and_no_lost_opt_out() {
    let w = world();
    let mut c = client_as(&w.channels, Role::Service);
    let mut app = client_as(&w.channels, Role::App);
    upsert(&mut app, "C1", api::Channel::Sms, "0707123456").await;
    set_zone(&mut app, "C1").await;
    w.vault.grant("C1", "marketing", "");
    w.vault.set_unavailable(true);
    let r = c
        .may_contact(may("C1", "marketing", &[], "", noon()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.verdict(), api::Verdict::Defer);
    assert_eq!(r.allowed_at_unix_ms, noon() + 300_000);
    assert_eq!(r.receipt.unwrap().deciding_rule, "consent");
    let err = c
        .record_contact(record(
            "C1",
            api::Channel::Sms,
            "marketing",
            "",
            api::Outcome::OptedOut,
            "STOP",
            noon(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    let history = app
        .get_contact_history(api::GetContactHistoryRequest {
            client_number: "C1".into(),
            since_unix_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        history.records.is_empty(),
        "nothing recorded until the withdrawal is"
    );
    // A value cannot be stored without the vault sealing it.
    let err = app
        .upsert_contact_point(api::UpsertContactPointRequest {
            client_number: "C1".into(),
            channel: api::Channel::Email as i32,
            value: "awa@example.com".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
}

#[tokio::test]
async fn roles_and_invalid_arguments() {
    let w = world();
    let mut source = client_as(&w.channels, Role::Source);
    let err = source
        .may_contact(may("C1", "marketing", &[], "", 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let mut app = client_as(&w.channels, Role::App);
    let err = app
        .sector_report(api::SectorReportRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let mut steward = client_as(&w.channels, Role::Steward);
    assert!(
        steward
            .sector_report(api::SectorReportRequest {})
            .await
            .is_ok()
    );
    let err = steward
        .may_contact(may("C1", "marketing", &[], "", 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    use c360_proto::channels::v1::channel_service_server::ChannelService;
    let bare = crate::grpc::ChannelsGrpc::new(w.channels.service.clone());
    let err = bare
        .may_contact(tonic::Request::new(may("C1", "marketing", &[], "", 0)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    let err = app
        .may_contact(may("c-1!", "marketing", &[], "", 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("client_number"), "{}", err.message());
    let err = app
        .may_contact(may("C1", "", &[], "", 0))
        .await
        .unwrap_err();
    assert!(err.message().contains("purpose"));
    let mut bad_channel = may("C1", "marketing", &[], "", 0);
    bad_channel.allowed_channels = vec![99];
    let err = app.may_contact(bad_channel).await.unwrap_err();
    assert!(err.message().contains("allowed_channels"));
    // A time no calendar holds (i64::MAX), for a decision or a touch.
    let err = app
        .may_contact(may("C1", "marketing", &[], "", i64::MAX))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("at_unix_ms"), "{}", err.message());
    let err = app
        .record_contact(record(
            "C1",
            api::Channel::Sms,
            "marketing",
            "",
            api::Outcome::Delivered,
            "",
            i64::MAX,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("at_unix_ms"), "{}", err.message());
    let err = app
        .upsert_contact_point(api::UpsertContactPointRequest {
            client_number: "C1".into(),
            channel: api::Channel::Sms as i32,
            value: "call me 0707999888x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("value") && !err.message().contains("0707999888"),
        "{}",
        err.message()
    );
    let err = app
        .set_preferences(api::SetPreferencesRequest {
            client_number: "C1".into(),
            preferences: Some(api::Preferences {
                time_zone: "Africa/Atlantis".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("preferences.time_zone"));
    let mut batch = api::MayContactBatchRequest {
        requests: vec![
            may("C1", "marketing", &[], "", 0),
            may("C1", "marketing", &[], "", -5),
        ],
    };
    let err = app.may_contact_batch(batch.clone()).await.unwrap_err();
    assert!(
        err.message().contains("requests[1].at_unix_ms"),
        "{}",
        err.message()
    );
    batch.requests.pop();
    assert!(app.may_contact_batch(batch).await.is_ok());
}

#[tokio::test]
async fn a_batch_decides_by_purpose_priority_and_counts_its_own_allows() {
    let w = world();
    let mut c = client_as(&w.channels, Role::App);
    upsert(&mut c, "C1", api::Channel::Sms, "0707123456").await;
    set_zone(&mut c, "C1").await;
    w.vault.grant("C1", "marketing", "");
    w.vault.grant("C1", "cross_sell", "");
    w.vault.grant("C1", "service", "");
    let r = c
        .may_contact_batch(api::MayContactBatchRequest {
            requests: vec![
                may("C1", "marketing", &[], "", noon()),
                may("C1", "cross_sell", &[], "", noon()),
                may("C1", "service", &[], "", noon()),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let verdicts: Vec<api::Verdict> = r.responses.iter().map(|x| x.verdict()).collect();
    // cross_sell (priority 20) goes first; marketing then waits for the gap;
    // service is exempt.
    assert_eq!(
        verdicts,
        [
            api::Verdict::Defer,
            api::Verdict::Allow,
            api::Verdict::Allow
        ]
    );
    // The latest of the rules deferring it decides: one SMS a day.
    assert_eq!(
        r.responses[0].receipt.as_ref().unwrap().deciding_rule,
        "cap:sms-day"
    );
    assert_eq!(w.vault.checks(), 3, "one consent round trip for the batch");
}

fn member(record_id: &str, source: &str, phones: &[&str], emails: &[&str]) -> res::MemberRecord {
    res::MemberRecord {
        record_id: record_id.into(),
        source_system: source.into(),
        record: Some(Record {
            source_system: source.into(),
            phone: phones.iter().map(|p| p.to_string()).collect(),
            email: emails.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn golden(fields: &[(&str, &str)]) -> Vec<res::FieldValue> {
    fields
        .iter()
        .map(|(f, v)| res::FieldValue {
            field: f.to_string(),
            value: v.to_string(),
            ..Default::default()
        })
        .collect()
}

fn event(
    offset: u64,
    kind: EventType,
    client: &str,
    record: &str,
    related: &[&str],
    records: &[&str],
) -> Event {
    Event {
        offset,
        r#type: kind as i32,
        client_number: client.into(),
        record_id: record.into(),
        related_clients: related.iter().map(|s| s.to_string()).collect(),
        record_ids: records.iter().map(|s| s.to_string()).collect(),
        at_unix_ms: noon(),
    }
}

async fn apply(channels: &Channels, events: Vec<Event>) {
    let h = channels.feed_handler();
    tokio::task::spawn_blocking(move || h.apply(&events))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_follows_merges_splits_and_erasures() {
    let w = world();
    w.resolver.set(
        "C1",
        res::GetClientResponse {
            client_number: "C1".into(),
            golden: golden(&[
                ("surname", "KONE"),
                ("given_name", "AWA"),
                ("date_of_birth", "1990"),
                ("region", "Abidjan"),
            ]),
            records: vec![member(
                "R1",
                "core_banking",
                &["0707123456"],
                &["awa@example.com"],
            )],
            ..Default::default()
        },
    );
    w.resolver.set(
        "C2",
        res::GetClientResponse {
            client_number: "C2".into(),
            records: vec![member("R2", "agent_app", &["0505123456"], &[])],
            ..Default::default()
        },
    );
    w.resolver.set(
        "C4",
        res::GetClientResponse {
            client_number: "C4".into(),
            records: vec![member("R4", "lottery", &["07 07 12 34 56"], &[])],
            ..Default::default()
        },
    );
    apply(
        &w.channels,
        vec![
            event(1, EventType::ClientCreated, "C1", "R1", &[], &[]),
            event(2, EventType::RecordAttached, "C1", "R1", &[], &[]),
            event(3, EventType::ClientCreated, "C2", "R2", &[], &[]),
            event(4, EventType::RecordAttached, "C2", "R2", &[], &[]),
            event(5, EventType::RecordAttached, "C4", "R4", &[], &[]),
        ],
    )
    .await;
    assert_eq!(w.channels.feed_handler().applied(), 5);
    let mut c = client_as(&w.channels, Role::App);
    let list = |n: &str| api::ListContactPointsRequest {
        client_number: n.into(),
    };
    let points = c
        .list_contact_points(list("C1"))
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    // SMS + VOICE for the phone, EMAIL.
    assert_eq!(points.len(), 3);
    assert!(
        points
            .iter()
            .filter(|p| p.channel() != api::Channel::Email)
            .all(|p| p.shared),
        "C4 has the same phone"
    );
    assert!(points.iter().all(|p| p.record_ids == ["R1"]));

    // A touch on each before the merge; caps count the merged history.
    set_zone(&mut c, "C1").await;
    set_zone(&mut c, "C2").await;
    w.vault.grant("C1", "marketing", "");
    for (n, at) in [
        ("C1", noon() - 30 * HOUR),
        ("C2", noon() - 20 * HOUR),
        ("C1", noon() - 10 * HOUR),
    ] {
        c.record_contact(record(
            n,
            api::Channel::Sms,
            "marketing",
            "",
            api::Outcome::Delivered,
            "",
            at,
        ))
        .await
        .unwrap();
    }
    c.set_hardship(api::SetHardshipRequest {
        client_number: "C2".into(),
        hardship: true,
        reason_code: "arrears-30".into(),
    })
    .await
    .unwrap();
    apply(
        &w.channels,
        vec![event(6, EventType::ClientsMerged, "C1", "", &["C2"], &[])],
    )
    .await;
    let merged = c
        .list_contact_points(list("C2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        merged.client_number, "C1",
        "an absorbed number resolves to the survivor"
    );
    assert_eq!(merged.contact_points.len(), 5);
    let r = c
        .may_contact(may("C2", "collections", &[api::Channel::Sms], "", noon()))
        .await
        .unwrap()
        .into_inner();
    let receipt = r.receipt.unwrap();
    assert_eq!(receipt.client_number, "C1");
    let week = receipt
        .rules
        .iter()
        .find(|x| x.rule == "cap:any-channel-week")
        .unwrap();
    assert_eq!(week.count, 3, "the merged history counts");
    let prefs = c
        .get_preferences(api::GetPreferencesRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(prefs.hardship, "hardship of the absorbed client is kept");

    // Split R2 back out into C3: its points and their touches go with it.
    apply(
        &w.channels,
        vec![event(7, EventType::ClientSplit, "C1", "", &["C3"], &["R2"])],
    )
    .await;
    let c1 = c
        .list_contact_points(list("C1"))
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    let c3 = c
        .list_contact_points(list("C3"))
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    assert_eq!((c1.len(), c3.len()), (3, 2));
    assert!(c3.iter().all(|p| p.record_ids == ["R2"]));

    // Erasure removes the client and its aliases.
    apply(
        &w.channels,
        vec![event(8, EventType::ClientErased, "C1", "", &[], &[])],
    )
    .await;
    let gone = c
        .list_contact_points(list("C2"))
        .await
        .unwrap()
        .into_inner();
    assert!(gone.contact_points.is_empty());
    assert_eq!(gone.client_number, "C2", "the alias went with the erasure");
    let history = c
        .get_contact_history(api::GetContactHistoryRequest {
            client_number: "C1".into(),
            since_unix_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(history.records.is_empty());
    // The family phone is no longer shared.
    let c4 = c
        .list_contact_points(list("C4"))
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    assert!(c4.iter().all(|p| !p.shared));
    assert_eq!(w.channels.feed_handler().applied(), 8);
}

/// Issue 17, case 3: an opt-out received after a merge is filed under the
/// number and records of the point it came through, not the survivor, so a
/// later split keeps it with the person who said it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_after_a_merge_is_filed_with_whoever_said_it() {
    let w = world();
    for (n, r, phone) in [("C1", "R1", "0707123456"), ("C2", "R2", "0505123456")] {
        w.resolver.set(
            n,
            res::GetClientResponse {
                client_number: n.into(),
                records: vec![member(r, "core_banking", &[phone], &[])],
                ..Default::default()
            },
        );
    }
    apply(
        &w.channels,
        vec![
            event(1, EventType::ClientCreated, "C1", "R1", &[], &[]),
            event(2, EventType::RecordAttached, "C1", "R1", &[], &[]),
            event(3, EventType::ClientCreated, "C2", "R2", &[], &[]),
            event(4, EventType::RecordAttached, "C2", "R2", &[], &[]),
            event(5, EventType::ClientsMerged, "C1", "", &["C2"], &[]),
        ],
    )
    .await;
    let mut c = client_as(&w.channels, Role::App);
    let points = c
        .list_contact_points(api::ListContactPointsRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    let b_sms = points
        .iter()
        .find(|p| p.channel() == api::Channel::Sms && p.record_ids == ["R2"])
        .expect("C2's phone is on the merged client");
    let stop = |number: &str, point: &str, at: i64| api::RecordContactRequest {
        contact_point_id: point.into(),
        ..record(
            number,
            api::Channel::Sms,
            "marketing",
            "",
            api::Outcome::Delivered,
            "STOP",
            at,
        )
    };
    // Through the survivor's number and C2's phone: C2's, with R2.
    let r = c
        .record_contact(stop("C1", &b_sms.id, noon()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.client_number, "C1");
    assert_eq!(r.withdrawals.len(), 1);
    assert_eq!(r.withdrawals[0].client_number, "C2");
    assert_eq!(r.withdrawals[0].record_ids, ["R2"]);
    // Through the absorbed number without a point: that number's.
    let r = c
        .record_contact(stop("C2", "", noon() + HOUR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.withdrawals[0].client_number, "C2");
    assert!(r.withdrawals[0].record_ids.is_empty());
    // An unknown point changes nothing, in the vault or here.
    let before = w.vault.entries().len();
    let err = c
        .record_contact(stop("C1", "P9999999999", noon() + 2 * HOUR))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(w.vault.entries().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sectors_and_the_report() {
    let w = world();
    w.resolver.set(
        "C1",
        res::GetClientResponse {
            client_number: "C1".into(),
            golden: golden(&[
                ("surname", "KONE"),
                ("given_name", "AWA"),
                ("national_id", "CI-1"),
                ("region", "Abidjan"),
            ]),
            records: vec![member("R1", "core_banking", &["0707123456"], &[])],
            ..Default::default()
        },
    );
    w.resolver.set(
        "C2",
        res::GetClientResponse {
            client_number: "C2".into(),
            golden: golden(&[("surname", "TRAORE"), ("region", "Bouaké")]),
            records: vec![member("R2", "lottery", &["0505123456"], &[])],
            ..Default::default()
        },
    );
    w.resolver.set(
        "C3",
        res::GetClientResponse {
            client_number: "C3".into(),
            golden: golden(&[
                ("surname", "DIALLO"),
                ("given_name", "ISSA"),
                ("date_of_birth", "1980-01-02"),
            ]),
            records: vec![member("R3", "legacy_mfi", &[], &[])],
            ..Default::default()
        },
    );
    apply(
        &w.channels,
        vec![
            event(1, EventType::RecordAttached, "C1", "R1", &[], &[]),
            event(2, EventType::RecordAttached, "C2", "R2", &[], &[]),
            event(3, EventType::RecordAttached, "C3", "R3", &[], &[]),
        ],
    )
    .await;
    let mut steward = client_as(&w.channels, Role::Steward);
    let sector = |n: &str| api::GetSectorRequest {
        client_number: n.into(),
    };
    let s1 = steward.get_sector(sector("C1")).await.unwrap().into_inner();
    assert_eq!((s1.sector(), s1.active), (api::Sector::A, true));
    let s2 = steward.get_sector(sector("C2")).await.unwrap().into_inner();
    assert_eq!((s2.sector(), s2.active), (api::Sector::Y, true));
    let s3 = steward.get_sector(sector("C3")).await.unwrap().into_inner();
    assert_eq!((s3.sector(), s3.active), (api::Sector::C, false));
    // A delivered touch makes C2 traceable: Y -> D.
    let mut app = client_as(&w.channels, Role::App);
    app.record_contact(record(
        "C2",
        api::Channel::Sms,
        "service",
        "",
        api::Outcome::Delivered,
        "",
        noon(),
    ))
    .await
    .unwrap();
    let s2 = steward.get_sector(sector("C2")).await.unwrap().into_inner();
    assert_eq!(s2.sector(), api::Sector::D);
    assert_eq!(
        steward.get_sector(sector("C9")).await.unwrap_err().code(),
        tonic::Code::NotFound
    );

    let report = steward
        .sector_report(api::SectorReportRequest {})
        .await
        .unwrap()
        .into_inner();
    let total = report.total.unwrap();
    assert_eq!((total.clients, total.active, total.passive), (3, 2, 1));
    let abidjan = report
        .by_region
        .iter()
        .find(|b| b.key == "Abidjan")
        .unwrap();
    assert_eq!(
        abidjan.sectors,
        [api::SectorCount {
            sector: api::Sector::A as i32,
            clients: 1
        }]
    );
    assert!(report.by_region.iter().any(|b| b.key == "unknown"));
    let lottery = report
        .by_source_system
        .iter()
        .find(|b| b.key == "lottery")
        .unwrap();
    assert_eq!(lottery.sectors[0].sector(), api::Sector::D);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_reopen_and_nothing_is_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = LocalKeyring::generate_text("kek-test").unwrap();
    let vault = MemoryVault::new();
    let resolver = MemoryResolver::new();
    resolver.set(
        "C7",
        res::GetClientResponse {
            client_number: "C7".into(),
            records: vec![member(
                "R7",
                "core_banking",
                &["0101987654"],
                &["moussa.traore@example.org"],
            )],
            ..Default::default()
        },
    );
    let peers = || ChannelsPeers {
        vault: Some(Arc::new(vault.clone())),
        resolver: Some(Arc::new(resolver.clone())),
    };
    let open = || {
        Channels::open(
            &c360_storage::StorageConfig::sled(dir.path()),
            ChannelsConfig::default(),
            Arc::new(LocalKeyring::from_text(&keyring).unwrap()),
            peers(),
        )
        .unwrap()
    };
    let first_id;
    {
        let channels = open();
        let mut c = client_as(&channels, Role::App);
        first_id = upsert(&mut c, "C1", api::Channel::Sms, "0707123456")
            .await
            .contact_point
            .unwrap()
            .id;
        upsert(&mut c, "C1", api::Channel::Email, "awa.kone@example.com").await;
        set_zone(&mut c, "C1").await;
        c.record_contact(record(
            "C1",
            api::Channel::Sms,
            "marketing",
            "A",
            api::Outcome::Delivered,
            "",
            noon(),
        ))
        .await
        .unwrap();
        apply(
            &channels,
            vec![event(1, EventType::RecordAttached, "C7", "R7", &[], &[])],
        )
        .await;
    }
    let channels = open();
    assert_eq!(channels.feed_handler().applied(), 1);
    let mut c = client_as(&channels, Role::App);
    let points = c
        .list_contact_points(api::ListContactPointsRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact_points;
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].id, first_id);
    let prefs = c
        .get_preferences(api::GetPreferencesRequest {
            client_number: "C1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(prefs.preferences.unwrap().time_zone, "Africa/Abidjan");
    let history = c
        .get_contact_history(api::GetContactHistoryRequest {
            client_number: "C1".into(),
            since_unix_ms: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.records.len(), 1);
    // Ids are not reused after a restart.
    let next = upsert(&mut c, "C1", api::Channel::Voice, "0505000000")
        .await
        .contact_point
        .unwrap()
        .id;
    assert!(next > first_id && !points.iter().any(|p| p.id == next));
    drop(c);
    drop(channels);

    // No phone or e-mail in clear anywhere in the data directory.
    let mut bytes = Vec::new();
    for entry in walk(dir.path()) {
        bytes.extend(std::fs::read(entry).unwrap());
    }
    for needle in [
        "0707123456",
        "707123456",
        "awa.kone",
        "0101987654",
        "101987654",
        "moussa.traore",
        "0505000000",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} found in clear"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn config_round_trips_and_refuses_unknown_keys() {
    let config = ChannelsConfig::default();
    let text = toml::to_string(&config).unwrap();
    let back: ChannelsConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, config);
    let partial: ChannelsConfig = toml::from_str("vault_timeout_ms = 250\n").unwrap();
    assert_eq!(partial.vault_timeout_ms, 250);
    assert_eq!(partial.default_country, "CI");
    assert!(toml::from_str::<ChannelsConfig>("vault_timeout = 1\n").is_err());
}

#[test]
fn debug_output_holds_no_contact_data() {
    let w = world();
    let shown = format!("{:?} {:?}", w.channels, w.channels.policy());
    assert!(!shown.contains("0707"));
}

#[test]
fn client_numbers_with_every_check_symbol_are_accepted() {
    use crate::service::check_number;
    // The resolver's check symbols include * ~ $ = (Crockford mod 37).
    for n in [
        "C00001BW=",
        "C00001BW*",
        "C00001BW~",
        "C00001BW$",
        "C00001BWU",
        "C000001YS",
    ] {
        assert!(check_number("client_number", n).is_ok(), "{n}");
    }
    for n in [
        "",
        "C0000=1BW",
        "c00001bw",
        "C00001BWé",
        "C00 001BW",
        &"C".repeat(33),
    ] {
        assert!(check_number("client_number", n).is_err(), "{n:?}");
    }
}
