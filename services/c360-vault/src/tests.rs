//! Service-level tests: the gRPC API over an in-process channel (no
//! sockets), the feed handler, sled reopening, and a scan of the data
//! directory for plaintext.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use c360_crypto::{KekProvider, LocalKeyring};
use c360_proto::resolver::v1 as rapi;
use c360_proto::resolver::v1::resolver_service_server::{ResolverService, ResolverServiceServer};
use c360_proto::vault::v1 as api;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Caller, PeerChannel, Role, in_process};
use c360_storage::{Batch, MemoryStore, Store};
use tokio_stream::StreamExt;
use tonic::{Code, Request, Response, Status};

use crate::vault::{FieldRef, FieldResult, Plain};
use crate::{Vault, VaultConfig, VaultPeers};

const KEK_1: [u8; 32] = [7; 32];
const KEK_2: [u8; 32] = [9; 32];

fn keyring(keys: &[(&str, [u8; 32])]) -> Arc<dyn KekProvider> {
    let text: String = keys
        .iter()
        .map(|(id, k)| {
            format!(
                "{id}:{}\n",
                base64::engine::general_purpose::STANDARD.encode(k)
            )
        })
        .collect();
    Arc::new(LocalKeyring::from_text(&text).unwrap())
}

fn kek() -> Arc<dyn KekProvider> {
    keyring(&[("kek-1", KEK_1)])
}

/// Opens a sled vault. sled releases its directory lock when its last
/// background job finishes, which can lag the drop of the previous handle
/// by a moment: a lock error is retried (bounded), anything else fails.
fn open_sled(path: &Path, kek: Arc<dyn KekProvider>) -> crate::Result<Vault> {
    let storage = c360_storage::StorageConfig::sled(path);
    for _ in 0..200 {
        match Vault::open(&storage, VaultConfig::default(), kek.clone(), registry()) {
            Err(crate::Error::Storage(e)) if e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
    Vault::open(&storage, VaultConfig::default(), kek, registry())
}

/// Numbers the test resolver says were never issued.
const UNISSUED: &str = "C0000099Z";

/// Peers whose resolver says every number but [`UNISSUED`] was issued.
fn registry() -> VaultPeers {
    VaultPeers::over_grpc(Some(
        rapi::resolver_service_client::ResolverServiceClient::new(in_process(
            ResolverServiceServer::new(FakeResolver::default()),
            Caller::peer(c360_rpc::Peer::Vault),
        )),
    ))
}

pub(crate) fn memory_vault() -> (Vault, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(crate::vault::SPACES));
    let vault = Vault::with_store(
        Path::new("memory"),
        store.clone(),
        VaultConfig::default(),
        kek(),
        registry(),
    )
    .unwrap();
    (vault, store)
}

/// A client of `vault` as a caller of `role` (a source system's token
/// writes for the "crm" source, as the tests' consents say).
fn client(vault: &Vault, role: Role) -> VaultServiceClient<PeerChannel> {
    let mut caller = Caller::new(format!("{role}-1"), role);
    if role == Role::Source {
        caller = caller.with_sources(c360_rpc::Sources::parse("crm").unwrap());
    }
    client_as(vault, caller)
}

fn client_as(vault: &Vault, caller: Caller) -> VaultServiceClient<PeerChannel> {
    VaultServiceClient::new(in_process(vault.grpc(), caller))
}

mod consents;
mod edges;
mod erasure;
mod fields;
mod keys;

fn fref(client: &str, record: &str, field: &str) -> api::FieldRef {
    api::FieldRef {
        client_number: client.into(),
        record_id: record.into(),
        field: field.into(),
    }
}

fn plain(client: &str, record: &str, field: &str, value: &str) -> api::PlainField {
    api::PlainField {
        r#ref: Some(fref(client, record, field)),
        value: value.into(),
    }
}

fn consent(
    client: &str,
    purpose: &str,
    channel: &str,
    d: i32,
    at: i64,
) -> api::RecordConsentRequest {
    api::RecordConsentRequest {
        client_number: client.into(),
        purpose: purpose.into(),
        channel: channel.into(),
        decision: d,
        lawful_basis: api::LawfulBasis::Consent as i32,
        evidence_ref: "form-1".into(),
        source_system: "crm".into(),
        notice_version: "v3".into(),
        captured_at_unix_ms: at,
        expires_at_unix_ms: 0,
        record_ids: Vec::new(),
    }
}

const GRANTED: i32 = api::ConsentDecision::Granted as i32;
const DENIED: i32 = api::ConsentDecision::Denied as i32;
const WITHDRAWN: i32 = api::ConsentDecision::Withdrawn as i32;

fn check(client: &str, purpose: &str, channel: &str, at: i64) -> api::CheckConsentRequest {
    api::CheckConsentRequest {
        client_number: client.into(),
        purpose: purpose.into(),
        channel: channel.into(),
        at_unix_ms: at,
    }
}

fn bad_field(status: &Status) -> String {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let br = status
        .get_details_bad_request()
        .expect("bad request details");
    br.field_violations[0].field.clone()
}

fn value_of(r: &api::DecryptResult) -> Option<&str> {
    match &r.result {
        Some(api::decrypt_result::Result::Value(v)) => Some(v),
        _ => None,
    }
}

fn masked_of(r: &api::DecryptResult) -> Option<&str> {
    match &r.result {
        Some(api::decrypt_result::Result::Masked(v)) => Some(v),
        _ => None,
    }
}

fn error_of(r: &api::DecryptResult) -> Option<&str> {
    match &r.result {
        Some(api::decrypt_result::Result::Error(v)) => Some(v),
        _ => None,
    }
}

fn event(
    offset: u64,
    t: rapi::EventType,
    client: &str,
    record: &str,
    related: &[&str],
    records: &[&str],
) -> rapi::Event {
    rapi::Event {
        offset,
        r#type: t as i32,
        client_number: client.into(),
        record_id: record.into(),
        related_clients: related.iter().map(|s| s.to_string()).collect(),
        record_ids: records.iter().map(|s| s.to_string()).collect(),
        at_unix_ms: 1_000,
    }
}

// ------------------------------------------------------------ erasure

#[derive(Debug, Default)]
struct FakeResolver {
    erase_calls: AtomicUsize,
    fail_first: usize,
}

type Stream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ResolverService for FakeResolver {
    async fn resolve(
        &self,
        _: Request<rapi::ResolveRequest>,
    ) -> Result<Response<rapi::ResolveResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    type IngestStream = Stream<rapi::IngestResponse>;
    async fn ingest(
        &self,
        _: Request<tonic::Streaming<rapi::IngestRequest>>,
    ) -> Result<Response<Self::IngestStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_client(
        &self,
        _: Request<rapi::GetClientRequest>,
    ) -> Result<Response<rapi::GetClientResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn merge(
        &self,
        _: Request<rapi::MergeRequest>,
    ) -> Result<Response<rapi::MergeResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn split(
        &self,
        _: Request<rapi::SplitRequest>,
    ) -> Result<Response<rapi::SplitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_review_tasks(
        &self,
        _: Request<rapi::ListReviewTasksRequest>,
    ) -> Result<Response<rapi::ListReviewTasksResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn decide_review_task(
        &self,
        _: Request<rapi::DecideReviewTaskRequest>,
    ) -> Result<Response<rapi::DecideReviewTaskResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn explain(
        &self,
        _: Request<rapi::ExplainRequest>,
    ) -> Result<Response<rapi::ExplainResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_quality_summary(
        &self,
        _: Request<rapi::GetQualitySummaryRequest>,
    ) -> Result<Response<rapi::GetQualitySummaryResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn retrain(
        &self,
        _: Request<rapi::RetrainRequest>,
    ) -> Result<Response<rapi::RetrainResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    type WatchEventsStream = Stream<rapi::Event>;
    async fn watch_events(
        &self,
        _: Request<rapi::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn lookup_numbers(
        &self,
        request: Request<rapi::LookupNumbersRequest>,
    ) -> Result<Response<rapi::LookupNumbersResponse>, Status> {
        let numbers = request
            .into_inner()
            .client_numbers
            .into_iter()
            .map(|n| {
                let issued = n != UNISSUED;
                rapi::NumberLookup {
                    state: if issued {
                        rapi::NumberState::Active
                    } else {
                        rapi::NumberState::Unknown
                    } as i32,
                    survivor: if issued { n.clone() } else { String::new() },
                    client_number: n,
                }
            })
            .collect();
        Ok(Response::new(rapi::LookupNumbersResponse {
            numbers,
            feed_offset: 0,
        }))
    }
    async fn erase_client(
        &self,
        request: Request<rapi::EraseClientRequest>,
    ) -> Result<Response<rapi::EraseClientResponse>, Status> {
        let n = self.erase_calls.fetch_add(1, Ordering::SeqCst);
        if n < self.fail_first {
            return Err(Status::unavailable("resolver restarting"));
        }
        let caller = c360_rpc::authorize(&request, &[Role::Service])?;
        assert_eq!(caller.id, "vault");
        Ok(Response::new(rapi::EraseClientResponse {
            client_number: request.into_inner().client_number,
            ..Default::default()
        }))
    }
}
