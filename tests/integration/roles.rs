//! The role matrix: README.md's "Who may do what" table, read and checked
//! cell by cell against a running platform (every service in one process,
//! a real token per role). A row or a cell that disagrees with the server
//! fails the test, so the table stays true.

use std::collections::BTreeMap;

use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::search::v1 as se;
use c360_proto::search::v1::search_service_client::SearchServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Peer, PeerChannel, Role, Sources};
use tonic::{Code, Status};

use crate::server::{TestServer, aminata_core, channel_to, keyring_text, test_config, token_with};

/// The source system the matrix's writing tokens name.
const OURS: &str = "matrix_src";
/// A source system none of them names.
const THEIRS: &str = "core_banking";

/// The README's table: method → role → cell.
fn matrix() -> BTreeMap<String, BTreeMap<Role, String>> {
    let readme = std::fs::read_to_string(crate::common::workspace_file("README.md")).unwrap();
    let table = readme
        .split("<!-- role-matrix -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /role-matrix -->").next())
        .expect("README.md has the role matrix");
    let mut lines = table.lines().filter(|l| l.starts_with('|'));
    let header: Vec<String> = cells(lines.next().expect("header"));
    let roles: Vec<Role> = header[1..].iter().map(|r| r.parse().unwrap()).collect();
    assert_eq!(roles, Role::ALL, "one column per role, in order");
    let mut out = BTreeMap::new();
    for line in lines.skip(1) {
        let row = cells(line);
        let by_role = roles
            .iter()
            .copied()
            .zip(row[1..].iter().cloned())
            .collect();
        out.insert(row[0].clone(), by_role);
    }
    out
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// Whether a call was refused by the authorization rules (its role, its
/// token's source systems or peer), as opposed to getting past them and
/// failing or succeeding on its merits (bad input, not found, or the
/// vault's policy giving nothing).
fn refused(outcome: &Result<(), Status>) -> bool {
    let Err(s) = outcome else { return false };
    let m = s.message();
    s.code() == Code::PermissionDenied
        && (m.contains("may not call this method")
            || m.contains("may not write records")
            || m.contains("may write no source system")
            || m.contains("only the "))
}

struct Tokens {
    url: String,
    dir: std::path::PathBuf,
}

impl Tokens {
    /// A channel as a token of `role`; with `sources`, one naming OURS;
    /// with `peer`, a service token of that c360 service.
    async fn channel(&self, role: Role, sources: bool, peer: Option<Peer>) -> PeerChannel {
        let grants = c360::auth::Grants {
            sources: match (sources, role) {
                (true, _) => Sources::parse(OURS).unwrap(),
                // A source system's token always names its own systems.
                (false, Role::Source) => Sources::parse("unrelated_src").unwrap(),
                (false, _) => Sources::None,
            },
            peer,
        };
        let name = format!(
            "{role}{}{}",
            if sources { "-src" } else { "" },
            peer.map(|p| format!("-{p}")).unwrap_or_default()
        );
        let token = token_with(&self.dir, &name, role, &grants);
        channel_to(&self.url, &token).await
    }
}

/// What one call needs from the platform it runs against.
struct World {
    number: String,
    record: String,
}

fn record(source: &str, id: &str) -> c360_proto::common::v1::Record {
    let mut r = aminata_core();
    r.source_system = source.into();
    r.source_record_id = id.into();
    r
}

/// Calls `method` on `channel`; `source` is the source system a write
/// names; `store` asks Resolve to store rather than look up. `Ok` when the
/// call got past authorization (`Err` otherwise or on its merits).
async fn call(
    method: &str,
    channel: PeerChannel,
    w: &World,
    source: &str,
    store: bool,
) -> Result<(), Status> {
    let mut r = ResolverServiceClient::new(channel.clone());
    let mut v = VaultServiceClient::new(channel.clone());
    let mut s = SearchServiceClient::new(channel.clone());
    let mut c = ChannelServiceClient::new(channel);
    let n = w.number.clone();
    let consent = || va::RecordConsentRequest {
        client_number: n.clone(),
        purpose: "marketing".into(),
        channel: "SMS".into(),
        decision: va::ConsentDecision::Granted as i32,
        lawful_basis: va::LawfulBasis::Consent as i32,
        evidence_ref: "form-1".into(),
        source_system: source.into(),
        ..Default::default()
    };
    let field = |f: &str| va::PlainField {
        r#ref: Some(va::FieldRef {
            client_number: n.clone(),
            record_id: "profile".into(),
            field: f.into(),
        }),
        value: "+2250707123456".into(),
    };
    let check = || va::CheckConsentRequest {
        client_number: n.clone(),
        purpose: "marketing".into(),
        channel: "SMS".into(),
        at_unix_ms: 0,
    };
    let ask = || ch::MayContactRequest {
        client_number: n.clone(),
        purpose: "service".into(),
        allowed_channels: vec![ch::Channel::Sms as i32],
        action_id: "matrix-1".into(),
        ..Default::default()
    };
    match method {
        "resolver Resolve" => r
            .resolve(api::ResolveRequest {
                record: Some(record(source, "MATRIX-R")),
                dry_run: !store,
                strict: false,
            })
            .await
            .map(drop),
        "resolver Ingest" => {
            let request = api::IngestRequest {
                record: Some(record(source, "MATRIX-I")),
                strict: false,
            };
            let mut answers = r
                .ingest(tokio_stream::iter(vec![request]))
                .await?
                .into_inner();
            match answers.message().await? {
                Some(api::IngestResponse {
                    result: Some(api::ingest_response::Result::Error(e)),
                    ..
                }) => Err(Status::permission_denied(e.description)),
                _ => Ok(()),
            }
        }
        "resolver GetClient" => r
            .get_client(api::GetClientRequest {
                client_number: n.clone(),
                purpose: "service".into(),
            })
            .await
            .map(drop),
        "resolver Merge" => r
            .merge(api::MergeRequest {
                client_numbers: vec![n.clone()],
                reason: "matrix".into(),
                actor: String::new(),
            })
            .await
            .map(drop),
        "resolver Split" => r
            .split(api::SplitRequest {
                client_number: n.clone(),
                record_ids: vec!["no-such-record".into()],
                reason: "matrix".into(),
                actor: String::new(),
            })
            .await
            .map(drop),
        "resolver ListReviewTasks" => r
            .list_review_tasks(api::ListReviewTasksRequest::default())
            .await
            .map(drop),
        "resolver DecideReviewTask" => r
            .decide_review_task(api::DecideReviewTaskRequest {
                task_id: "999999".into(),
                accept: false,
                reason: "matrix".into(),
                actor: String::new(),
            })
            .await
            .map(drop),
        "resolver Retrain" => r.retrain(api::RetrainRequest {}).await.map(drop),
        "resolver Explain" => r
            .explain(api::ExplainRequest {
                target: Some(api::explain_request::Target::ClientNumber(n.clone())),
            })
            .await
            .map(drop),
        "resolver WatchEvents" => r
            .watch_events(api::WatchEventsRequest { from_offset: 1 })
            .await
            .map(drop),
        "resolver EraseClient" => r
            .erase_client(api::EraseClientRequest {
                // Never issued: a call that gets through erases nothing.
                client_number: "C0000099Z".into(),
                reason: "matrix".into(),
            })
            .await
            .map(drop),
        "resolver LookupNumbers" => r
            .lookup_numbers(api::LookupNumbersRequest {
                client_numbers: vec![n.clone()],
            })
            .await
            .map(drop),
        "vault RecordConsent" => v.record_consent(consent()).await.map(drop),
        "vault RecordConsents" => v
            .record_consents(va::RecordConsentsRequest {
                consents: vec![consent()],
            })
            .await
            .map(drop),
        "vault CheckConsent" => v.check_consent(check()).await.map(drop),
        "vault CheckConsents" => v
            .check_consents(va::CheckConsentsRequest {
                checks: vec![check()],
            })
            .await
            .map(drop),
        "vault GetConsents" => v
            .get_consents(va::GetConsentsRequest {
                client_number: n.clone(),
            })
            .await
            .map(drop),
        "vault VerifyLedger" => v
            .verify_ledger(va::VerifyLedgerRequest::default())
            .await
            .map(drop),
        "vault ExportConsents" => v
            .export_consents(va::ExportConsentsRequest {
                format: va::ExportFormat::Csv as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        "vault Encrypt" => v
            .encrypt(va::EncryptRequest {
                fields: vec![field("phone")],
            })
            .await
            .map(drop),
        "vault Decrypt" => v
            .decrypt(va::DecryptRequest {
                purpose: "service".into(),
                fields: vec![va::SealedField {
                    r#ref: field("phone").r#ref,
                    ciphertext: vec![1, 2, 3],
                }],
            })
            .await
            .map(drop),
        "vault PutFields" => v
            .put_fields(va::PutFieldsRequest {
                fields: vec![field("phone")],
            })
            .await
            .map(drop),
        "vault ReadFields" => v
            .read_fields(va::ReadFieldsRequest {
                client_number: n.clone(),
                purpose: "service".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "vault Tokenize" => v
            .tokenize(va::TokenizeRequest {
                fields: vec![field("phone")],
            })
            .await
            .map(drop),
        "vault Detokenize" => v
            .detokenize(va::DetokenizeRequest {
                purpose: "service".into(),
                tokens: vec!["tok_0000000000000000000000".into()],
            })
            .await
            .map(drop),
        "vault LookupBlindIndex" => v
            .lookup_blind_index(va::LookupBlindIndexRequest {
                domain: "phone".into(),
                value: "+2250707123456".into(),
                purpose: "service".into(),
            })
            .await
            .map(drop),
        "vault QueryAccessLog" => v
            .query_access_log(va::QueryAccessLogRequest::default())
            .await
            .map(drop),
        "vault EraseClient" => v
            .erase_client(va::EraseClientRequest {
                client_number: "C0000099Z".into(),
                reason: "matrix".into(),
            })
            .await
            .map(drop),
        "vault SetLegalHold" => v
            .set_legal_hold(va::SetLegalHoldRequest {
                client_number: n.clone(),
                release: true,
                ..Default::default()
            })
            .await
            .map(drop),
        "vault ExportClient" => v
            .export_client(va::ExportClientRequest {
                client_number: n.clone(),
            })
            .await
            .map(drop),
        "vault RotateKek" => v
            .rotate_kek(va::RotateKekRequest::default())
            .await
            .map(drop),
        "vault GetWrappedDataKeys" => v
            .get_wrapped_data_keys(va::GetWrappedDataKeysRequest {
                key_ids: vec![n.clone()],
                create: false,
            })
            .await
            .map(drop),
        "vault AuthorizeReads" => v
            .authorize_reads(va::AuthorizeReadsRequest {
                actor: "someone".into(),
                role: "app".into(),
                purpose: "service".into(),
                operation: "matrix".into(),
                targets: Vec::new(),
            })
            .await
            .map(drop),
        "search Search" => s
            .search(se::SearchRequest {
                query: "Aminata".into(),
                purpose: "service".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "search GetIndexStats" => s
            .get_index_stats(se::GetIndexStatsRequest::default())
            .await
            .map(drop),
        "search Reindex" => s.reindex(se::ReindexRequest::default()).await.map(drop),
        "channels UpsertContactPoint" => c
            .upsert_contact_point(ch::UpsertContactPointRequest {
                client_number: n.clone(),
                channel: ch::Channel::Sms as i32,
                value: "+225 07 07 12 34 56".into(),
                verified: false,
                source_system: source.into(),
            })
            .await
            .map(drop),
        "channels ListContactPoints" => c
            .list_contact_points(ch::ListContactPointsRequest {
                client_number: n.clone(),
            })
            .await
            .map(drop),
        "channels SetContactPointStatus" => c
            .set_contact_point_status(ch::SetContactPointStatusRequest {
                client_number: n.clone(),
                contact_point_id: "cp-none".into(),
                status: ch::ContactPointStatus::Active as i32,
            })
            .await
            .map(drop),
        "channels SetPreferences" => c
            .set_preferences(ch::SetPreferencesRequest {
                client_number: n.clone(),
                preferences: Some(ch::Preferences {
                    time_zone: "Africa/Abidjan".into(),
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        "channels GetPreferences" => c
            .get_preferences(ch::GetPreferencesRequest {
                client_number: n.clone(),
            })
            .await
            .map(drop),
        "channels SetHardship" => c
            .set_hardship(ch::SetHardshipRequest {
                client_number: n.clone(),
                hardship: false,
                reason_code: "matrix".into(),
            })
            .await
            .map(drop),
        "channels MayContact" => c.may_contact(ask()).await.map(drop),
        "channels MayContactBatch" => c
            .may_contact_batch(ch::MayContactBatchRequest {
                requests: vec![ask()],
            })
            .await
            .map(drop),
        "channels RecordContact" => c
            .record_contact(ch::RecordContactRequest {
                client_number: n.clone(),
                channel: ch::Channel::Sms as i32,
                purpose: "service".into(),
                action_id: "matrix-1".into(),
                outcome: ch::Outcome::Delivered as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        "channels GetContactHistory" => c
            .get_contact_history(ch::GetContactHistoryRequest {
                client_number: n.clone(),
                since_unix_ms: 0,
            })
            .await
            .map(drop),
        "channels GetSector" => c
            .get_sector(ch::GetSectorRequest {
                client_number: n.clone(),
            })
            .await
            .map(drop),
        "channels SectorReport" => c
            .sector_report(ch::SectorReportRequest::default())
            .await
            .map(drop),
        other => panic!("the role matrix names {other:?}, which this test does not know"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_may_do_what_the_readme_says() {
    let matrix = matrix();
    assert!(matrix.len() >= 45, "{} rows", matrix.len());
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), "resolver,vault,search,channels");
    let server = TestServer::start_with(config, &keyring_text()).await;
    let tokens = Tokens {
        url: server.url.clone(),
        dir: dir.path().to_path_buf(),
    };
    let mut admin = server.client.clone();
    let first = crate::server::resolve(&mut admin, record(OURS, "MATRIX-0"), false).await;
    server.wait_for_followers().await;
    let w = World {
        number: first.client_number,
        record: first.record_id,
    };
    assert!(!w.record.is_empty());

    let mut wrong = Vec::new();
    for (method, row) in &matrix {
        for (&role, cell) in row {
            let plain = || tokens.channel(role, false, None);
            let writer = || tokens.channel(role, true, None);
            // What the cell promises, as (what was tried, refused?) pairs.
            let mut tries: Vec<(&str, bool, Result<(), Status>)> = Vec::new();
            match cell.as_str() {
                "✓" | "policy" => {
                    tries.push((
                        "admitted",
                        false,
                        call(method, plain().await, &w, OURS, true).await,
                    ));
                }
                "—" => {
                    tries.push((
                        "refused",
                        true,
                        call(method, plain().await, &w, OURS, true).await,
                    ));
                    if role != Role::Admin {
                        tries.push((
                            "refused even with sources",
                            true,
                            call(method, writer().await, &w, OURS, true).await,
                        ));
                    }
                }
                "sources" | "lookup" => {
                    if cell == "lookup" {
                        tries.push((
                            "a lookup admitted",
                            false,
                            call(method, plain().await, &w, OURS, false).await,
                        ));
                    }
                    tries.push((
                        "writing refused without sources",
                        true,
                        call(method, plain().await, &w, OURS, true).await,
                    ));
                    tries.push((
                        "writing its own source admitted",
                        false,
                        call(method, writer().await, &w, OURS, true).await,
                    ));
                    tries.push((
                        "writing another source refused",
                        true,
                        call(method, writer().await, &w, THEIRS, true).await,
                    ));
                }
                peer_cell if peer_cell.starts_with("peer ") => {
                    let peer: Peer = peer_cell["peer ".len()..].parse().unwrap();
                    tries.push((
                        "the named peer admitted",
                        false,
                        call(
                            method,
                            tokens.channel(role, false, Some(peer)).await,
                            &w,
                            OURS,
                            true,
                        )
                        .await,
                    ));
                    tries.push((
                        "others refused",
                        true,
                        call(method, plain().await, &w, OURS, true).await,
                    ));
                    let other = if peer == Peer::Search {
                        Peer::Channels
                    } else {
                        Peer::Search
                    };
                    tries.push((
                        "another peer refused",
                        true,
                        call(
                            method,
                            tokens.channel(role, false, Some(other)).await,
                            &w,
                            OURS,
                            true,
                        )
                        .await,
                    ));
                }
                other => panic!("{method}: unknown cell {other:?}"),
            }
            for (what, expect_refused, outcome) in tries {
                if refused(&outcome) != expect_refused {
                    wrong.push(format!(
                        "{method} as {role} ({cell}): {what}, got {outcome:?}"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the README's role matrix is wrong:\n{}",
        wrong.join("\n")
    );
    server.stop().await;
}
