//! The resolver over gRPC: resolve, update, golden record, steward
//! operations, review queue, explanations, the event feed, bad input and
//! what is on disk.

use c360_proto::resolver::v1 as api;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::server::*;

async fn events_from(client: &mut Client, from: u64, count: usize) -> Vec<api::Event> {
    let mut stream = client
        .watch_events(api::WatchEventsRequest { from_offset: from })
        .await
        .expect("watch")
        .into_inner();
    let mut out = Vec::new();
    while out.len() < count {
        let event = stream.next().await.expect("an event").expect("ok");
        out.push(event);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_update_and_golden_record() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "resolver,vault");
    let server = TestServer::start_with(config, &keyring_text()).await;
    let mut c = server.client.clone();
    // Personal values are read as a data steward, under the vault's policy.
    let mut steward = api::resolver_service_client::ResolverServiceClient::new(
        server.channel_as("awa", c360_rpc::Role::Steward).await,
    );

    // A dry run stores nothing.
    let dry = resolve(&mut c, aminata_core(), true).await;
    assert_eq!(dry.decision(), api::Decision::New);
    assert!(dry.client_number.is_empty());
    assert_eq!(server.resolver.counts().0, 0);

    let first = resolve(&mut c, aminata_core(), false).await;
    assert_eq!(first.decision(), api::Decision::New);
    let number = first.client_number.clone();
    assert!(number.starts_with('C') && number.len() == 9, "{number}");

    // The same person from another system, written differently.
    let second = resolve(&mut c, aminata_mobile(), false).await;
    assert_eq!(second.decision(), api::Decision::Matched, "{second:?}");
    assert_eq!(second.client_number, number);
    assert!(second.confidence >= 0.95);

    // A dry run now finds her.
    let lookup = resolve(&mut c, aminata_mobile(), true).await;
    assert_eq!(lookup.client_number, number);

    // Her daughter shares phone, surname and address but is someone else.
    let daughter = resolve(&mut c, fatou_daughter(), false).await;
    assert_ne!(daughter.client_number, number, "{daughter:?}");

    // The same source record again updates instead of adding.
    let mut changed = aminata_core();
    changed.address = "Yopougon Niangon, près du marché".into();
    let update = resolve(&mut c, changed, false).await;
    assert!(update.updated);
    assert_eq!(update.client_number, number);
    assert_eq!(server.resolver.counts().0, 3);

    let client = steward
        .get_client(api::GetClientRequest {
            client_number: number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!client.redirected);
    assert_eq!(client.records.len(), 2);
    let golden = |field: &str| {
        client
            .golden
            .iter()
            .find(|f| f.field == field)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(golden("given_name"), "Aminata");
    assert_eq!(golden("address"), "Yopougon Niangon, près du marché");
    assert!(
        client
            .lineage
            .iter()
            .any(|l| l.kind() == api::lineage_entry::Kind::Created)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_redirects_and_split_separates() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    let a = resolve(&mut c, aminata_core(), false).await.client_number;
    let m = resolve(&mut c, moussa(), false).await.client_number;
    assert_ne!(a, m);

    let merged = c
        .merge(api::MergeRequest {
            client_numbers: vec![m.clone(), a.clone()],
            reason: "same person per branch visit".into(),
            actor: "steward-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // The client created first survives.
    assert_eq!(merged.survivor, a);
    assert_eq!(merged.absorbed, vec![m.clone()]);

    let via_old = c
        .get_client(api::GetClientRequest {
            client_number: m.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(via_old.redirected);
    assert_eq!(via_old.client_number, a);
    assert_eq!(via_old.records.len(), 2);
    assert_eq!(via_old.aliases, vec![m.clone()]);
    let merge_entry = via_old
        .lineage
        .iter()
        .find(|l| l.kind() == api::lineage_entry::Kind::Merged)
        .expect("merge in lineage");
    assert_eq!(merge_entry.actor, "steward-1");
    assert_eq!(merge_entry.reason, "same person per branch visit");
    assert!(!merge_entry.model_version.is_empty());

    // Split Moussa's record back out.
    let moussa_record = via_old
        .records
        .iter()
        .find(|r| r.source_record_id == "CBS-0002")
        .unwrap()
        .record_id
        .clone();
    let split = c
        .split(api::SplitRequest {
            client_number: a.clone(),
            record_ids: vec![moussa_record.clone()],
            reason: "wrong merge".into(),
            actor: "steward-2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(split.new_client_number, a);
    assert_ne!(split.new_client_number, m, "numbers are never reused");
    let after = c
        .get_client(api::GetClientRequest {
            client_number: a.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.records.len(), 1);
    let new = c
        .get_client(api::GetClientRequest {
            client_number: split.new_client_number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(new.records[0].record_id, moussa_record);

    // A split cannot leave a client empty, and names only its own records.
    let err = c
        .split(api::SplitRequest {
            client_number: a.clone(),
            record_ids: vec![moussa_record],
            reason: String::new(),
            actor: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_ordered_and_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    resolve(&mut c, aminata_core(), false).await; // CLIENT_CREATED, RECORD_ATTACHED
    resolve(&mut c, aminata_mobile(), false).await; // RECORD_ATTACHED
    let first = events_from(&mut c, 0, 3).await;
    let offsets: Vec<u64> = first.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, vec![1, 2, 3]);
    assert_eq!(first[0].r#type(), api::EventType::ClientCreated);
    assert_eq!(first[1].r#type(), api::EventType::RecordAttached);

    // New events while nobody watches; a consumer resumes after its last offset.
    resolve(&mut c, moussa(), false).await;
    let resumed = events_from(&mut c, 4, 2).await;
    assert_eq!(
        resumed.iter().map(|e| e.offset).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert!(resumed.iter().all(|e| !e.client_number.is_empty()));

    // A live watcher sees events as they are committed.
    let mut stream = c
        .watch_events(api::WatchEventsRequest { from_offset: 6 })
        .await
        .unwrap()
        .into_inner();
    let mut writer = c.clone();
    let mut daughter = fatou_daughter();
    daughter.source_record_id = "AGT-77".into();
    resolve(&mut writer, daughter, false).await;
    let live = stream.next().await.unwrap().unwrap();
    assert_eq!(live.offset, 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_by_field_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    let head = server.resolver.events().head();

    let mut bad_date = aminata_core();
    bad_date.date_of_birth = "31/02/1985".into();
    let mut no_source = aminata_core();
    no_source.source_record_id.clear();
    let mut long = aminata_core();
    long.surname = "x".repeat(10_000);
    // A record malformed as a whole is refused whatever the request says;
    // a value that cannot be standardised only when the request is strict
    // (otherwise it is kept and flagged: see quality.rs).
    for (record, field, strict) in [
        (bad_date, "record.date_of_birth", true),
        (no_source, "record.source_record_id", false),
        (long, "record.surname", false),
    ] {
        let err = c
            .resolve(api::ResolveRequest {
                record: Some(record),
                dry_run: false,
                strict,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        let details = err.get_details_bad_request().expect("BadRequest details");
        assert_eq!(details.field_violations[0].field, field);
        assert!(!err.message().contains("Aminata") && !err.message().contains("Traor"));
    }
    let err = c
        .get_client(api::GetClientRequest {
            client_number: "C00000012".into(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "a mistyped number is rejected"
    );
    assert!(err.message().contains("check"), "{}", err.message());
    assert_eq!(server.resolver.events().head(), head, "nothing written");
    assert_eq!(server.resolver.counts().0, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_of_one_person_share_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let (mut c1, mut c2) = (server.client.clone(), server.client.clone());
    let (a, b) = tokio::join!(
        resolve(&mut c1, aminata_core(), false),
        resolve(&mut c2, aminata_mobile(), false)
    );
    assert_eq!(a.client_number, b.client_number);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_streams_a_result_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    let mut bad = moussa();
    bad.date_of_birth = "not a date".into();
    // The same flawed record, strict then not, then corrected.
    let records = [
        (aminata_core(), false),
        (aminata_mobile(), false),
        (bad.clone(), true),
        (bad, false),
        (moussa(), false),
    ];
    let requests = tokio_stream::iter(records.into_iter().map(|(r, strict)| api::IngestRequest {
        record: Some(r),
        strict,
    }));
    let mut responses = c.ingest(requests).await.unwrap().into_inner();
    let mut out = Vec::new();
    while let Some(r) = responses.next().await {
        out.push(r.unwrap());
    }
    assert_eq!(
        out.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    let resolved = |i: usize| match &out[i].result {
        Some(api::ingest_response::Result::Resolved(r)) => r.clone(),
        other => panic!("record {i}: {other:?}"),
    };
    assert_eq!(resolved(0).client_number, resolved(1).client_number);
    match &out[2].result {
        Some(api::ingest_response::Result::Error(e)) => assert_eq!(e.field, "record.date_of_birth"),
        other => panic!("{other:?}"),
    }
    // Accepted with a warning: the birth date is kept, flagged, unused.
    let flagged = resolved(3);
    assert_ne!(flagged.client_number, resolved(0).client_number);
    assert_eq!(flagged.flags.len(), 1);
    assert_eq!(
        (
            flagged.flags[0].field.as_str(),
            flagged.flags[0].reason.as_str()
        ),
        ("date_of_birth", "unreadable_date")
    );
    // Corrected at the source: the same record, updated, without a flag.
    let fixed = resolved(4);
    assert!(fixed.updated && fixed.flags.is_empty(), "{fixed:?}");
    assert_eq!(fixed.client_number, flagged.client_number);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_gives_levels_and_weights() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    let a = resolve(&mut c, aminata_core(), false).await;
    let b = resolve(&mut c, aminata_mobile(), false).await;
    let e = c
        .explain(api::ExplainRequest {
            target: Some(api::explain_request::Target::Pair(api::RecordPair {
                record_a: a.record_id.clone(),
                record_b: b.record_id.clone(),
            })),
        })
        .await
        .unwrap()
        .into_inner();
    let pair = &e.pairs[0];
    assert_eq!(pair.decision, "link");
    let phone = pair.fields.iter().find(|f| f.field == "phone").unwrap();
    assert_eq!(phone.level, "exact");
    // One surname and one phone: a household's context when the model has
    // learned one, where the shared phone says only "same household" and
    // the birth date tells who is who.
    if pair.household_context {
        assert_eq!(phone.weight, 0.0);
        let dob = pair
            .fields
            .iter()
            .find(|f| f.field == "date_of_birth")
            .unwrap();
        assert!(dob.weight > 0.0, "{dob:?}");
    } else {
        assert!(phone.weight > 0.0);
    }
    assert!(
        pair.names_swapped
            || pair
                .fields
                .iter()
                .any(|f| f.field == "surname" && f.level == "exact")
    );
    let by_client = c
        .explain(api::ExplainRequest {
            target: Some(api::explain_request::Target::ClientNumber(
                a.client_number.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_client.pairs.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_in_clear_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = keyring_text();
    let server = TestServer::start(dir.path(), &keyring).await;
    let mut c = server.client.clone();
    for r in [aminata_core(), aminata_mobile(), fatou_daughter(), moussa()] {
        resolve(&mut c, r, false).await;
    }
    server.stop().await;
    let needles: &[&[u8]] = &[
        b"Aminata",
        b"AMINATA",
        b"aminata",
        b"Traor",
        b"TRAORE",
        b"traore",
        b"Fatou",
        b"Diallo",
        b"Moussa",
        b"0707123456",
        b"07 07 12 34 56",
        b"07123456",
        b"0012",
        b"1751198501234",
        b"Cocody",
        b"Plateaux",
        b"Dakar",
        b"Abidjan",
    ];
    let mut files = 0;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for needle in needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == *needle),
                "{} holds {:?} in clear",
                entry.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    assert!(files > 0);
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_queue_accept_and_reject_stick() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let mut c = server.client.clone();
    // Same name, birth year and town, different phones: not sure.
    let awa = |id: &str, phone: &str, surname: &str| c360_proto::common::v1::Record {
        given_name: "Awa".into(),
        surname: surname.into(),
        sex: "F".into(),
        date_of_birth: "1990".into(),
        phone: vec![phone.into()],
        locality: "Bouaké".into(),
        ..record("agent_app", id)
    };
    let first = resolve(&mut c, awa("A1", "0102030405", "Koné"), false).await;
    let second = resolve(&mut c, awa("A2", "0504030201", "Kone"), false).await;
    assert_eq!(second.decision(), api::Decision::Review, "{second:?}");
    assert_ne!(second.client_number, first.client_number);
    let page = c
        .list_review_tasks(api::ListReviewTasksRequest {
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total_open, 1);
    let task = page.tasks[0].clone();
    // Reject: the pair is never merged automatically afterwards.
    c.decide_review_task(api::DecideReviewTaskRequest {
        task_id: task.task_id.clone(),
        accept: false,
        reason: "different mothers' names".into(),
        actor: "steward-1".into(),
    })
    .await
    .unwrap();
    let again = c
        .decide_review_task(api::DecideReviewTaskRequest {
            task_id: task.task_id.clone(),
            accept: true,
            reason: String::new(),
            actor: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // A third record tying both (same phone as each) must not join them.
    let mut bridge = awa("A3", "0102030405", "Koné");
    bridge.phone.push("0504030201".into());
    bridge.date_of_birth = "12/05/1990".into();
    let b = resolve(&mut c, bridge, false).await;
    let one = c
        .get_client(api::GetClientRequest {
            client_number: first.client_number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let two = c
        .get_client(api::GetClientRequest {
            client_number: second.client_number.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        one.client_number, two.client_number,
        "rejected pair stays apart: {b:?}"
    );

    // Accept: another uncertain pair is merged by the steward's decision.
    let third = resolve(&mut c, awa("B1", "0707070707", "Sanogo"), false).await;
    let fourth = resolve(&mut c, awa("B2", "0101010101", "Sanogo"), false).await;
    assert_eq!(fourth.decision(), api::Decision::Review, "{fourth:?}");
    let page = c
        .list_review_tasks(api::ListReviewTasksRequest {
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let task = page
        .tasks
        .iter()
        .find(|t| t.client_a == fourth.client_number || t.client_b == fourth.client_number)
        .unwrap();
    let decided = c
        .decide_review_task(api::DecideReviewTaskRequest {
            task_id: task.task_id.clone(),
            accept: true,
            reason: "confirmed by phone".into(),
            actor: "steward-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.client_number, third.client_number);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reflection_and_message_limits() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), &keyring_text()).await;
    let channel = server.channel().await;

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "c360.resolver.v1.ResolverService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    // Reflection v1alpha (grpcurl, Python clients) lists the service.
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "c360.resolver.v1.ResolverService")
    );

    // A request over the size limit is refused before it reaches the resolver.
    let mut c = server.client.clone();
    let mut huge = aminata_core();
    huge.address = "x".repeat(c360::config::LimitsConfig::default().max_message_bytes + 1);
    let err = c
        .resolve(api::ResolveRequest {
            record: Some(huge),
            dry_run: false,
            strict: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("max_message_bytes"), "{err:?}");
    assert_eq!(server.resolver.counts().0, 0);
    server.stop().await;
}
