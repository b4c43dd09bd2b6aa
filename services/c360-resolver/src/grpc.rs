//! The gRPC edge: `c360.resolver.v1.ResolverService` over a [`Resolver`].
//! Converts between prost and domain types; all blocking work (locks,
//! durable commits) runs on tokio's blocking pool.

use c360_rpc::blocking;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_server::ResolverService;
use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Caller, PeerChannel, Role, authorize, authorize_only};

use crate::quality::QualityCounts;
use c360_rpc::Disclosure;

use crate::convert;
use crate::{Error, Incoming, NumberState, Pending, Resolution, Resolver};

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        c360_rpc::status_of(&err)
    }
}

/// Records resolved together in one durable commit during `Ingest`.
const INGEST_BATCH: usize = 512;

/// Bytes of records read ahead of the resolver on one `Ingest` stream.
const READ_AHEAD_BYTES: usize = 4 << 20;
/// Records read ahead of the resolver on one `Ingest` stream.
const READ_AHEAD_RECORDS: usize = 4 * INGEST_BATCH;

/// A record read from an ingest stream, holding its read-ahead room, or
/// the error that ended the stream.
enum Read {
    Record(Box<Incoming>, tokio::sync::OwnedSemaphorePermit),
    Broken(Status),
}

/// A chunk of an ingest stream, decided but maybe not yet durable.
struct Decided {
    results: Result<(Vec<crate::Result<Resolution>>, Pending), Status>,
    /// The stream broke after this chunk.
    stream_error: Option<Status>,
}

#[derive(Debug, Clone)]
pub struct ResolverGrpc {
    resolver: Arc<Resolver>,
    disclosure: Disclosure,
}

impl ResolverGrpc {
    /// Without a vault, personal values are withheld from every caller but
    /// c360's own services (see [`ResolverGrpc::with_vault`]).
    pub fn new(resolver: Arc<Resolver>) -> Self {
        ResolverGrpc {
            resolver,
            disclosure: Disclosure::default(),
        }
    }

    /// Personal values disclosed as the vault's access policy says, each
    /// read in its access log.
    pub fn with_vault(mut self, vault: Option<VaultServiceClient<PeerChannel>>) -> Self {
        self.disclosure = Disclosure::new(vault);
        self
    }

    pub fn into_server(self) -> api::resolver_service_server::ResolverServiceServer<Self> {
        api::resolver_service_server::ResolverServiceServer::new(self)
    }
}

fn quality_to_api(counts: &QualityCounts) -> api::GetQualitySummaryResponse {
    let (records, flagged_records) = counts.totals();
    api::GetQualitySummaryResponse {
        sources: counts
            .sources()
            .map(|(source, c)| api::SourceQuality {
                source_system: source.to_string(),
                records: c.records,
                flagged_records: c.flagged_records,
                flags: c
                    .flags
                    .iter()
                    .map(|(&(field, reason), &values)| api::FlagCount {
                        field: field.name().to_string(),
                        reason: reason.code().to_string(),
                        values,
                    })
                    .collect(),
            })
            .collect(),
        records,
        flagged_records,
    }
}

/// Who acted: the authenticated caller, or the person a trusted front end
/// (a service or admin token, e.g. the steward console) says it acts for.
fn actor_of(caller: &Caller, claimed: String) -> String {
    let trusted = matches!(caller.role, Role::Service | Role::Admin);
    if trusted && !claimed.is_empty() {
        claimed
    } else {
        caller.id.clone()
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ResolverService for ResolverGrpc {
    async fn resolve(
        &self,
        request: Request<api::ResolveRequest>,
    ) -> Result<Response<api::ResolveResponse>, Status> {
        let caller = authorize(
            &request,
            &[Role::Source, Role::Steward, Role::App, Role::Service],
        )?;
        let req = request.into_inner();
        let record = req
            .record
            .ok_or_else(|| Status::from(Error::invalid("record", "is required")))?;
        // A lookup stores nothing; storing a record is writing for its
        // source system, which the caller's token must name.
        if !req.dry_run {
            caller.check_write(&record.source_system)?;
        }
        let resolver = self.resolver.clone();
        let dry_run = req.dry_run;
        let incoming = Incoming {
            record: convert::to_core(&record),
            strict: req.strict,
        };
        let r = blocking(move || resolver.resolve_incoming(incoming, dry_run)).await?;
        Ok(Response::new(convert::resolution_to_proto(
            r,
            &self.resolver.model_version(),
        )))
    }

    type IngestStream = BoxStream<api::IngestResponse>;

    async fn ingest(
        &self,
        request: Request<Streaming<api::IngestRequest>>,
    ) -> Result<Response<Self::IngestStream>, Status> {
        let caller = authorize(
            &request,
            &[Role::Source, Role::Steward, Role::App, Role::Service],
        )?;
        if !caller.writes_records() {
            return Err(Status::permission_denied(format!(
                "caller {} may write no source system's records (its token names none)",
                caller.id
            )));
        }
        let mut input = request.into_inner();
        let resolver = self.resolver.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(INGEST_BATCH * 2);
        // The request stream is read continuously into a read-ahead queue
        // bounded in bytes, so that records wait here while the resolver
        // works, not as frames in the HTTP/2 layer: clients that send one
        // DATA frame per message (grpcio, grpc-go, grpc-java) would
        // otherwise exhaust h2's budget for small frames and lose the
        // connection. Once the queue is full, the reader stops and HTTP/2
        // flow control holds the client back.
        let (queued, mut queue) = tokio::sync::mpsc::channel::<Read>(READ_AHEAD_RECORDS);
        let room = Arc::new(tokio::sync::Semaphore::new(READ_AHEAD_BYTES));
        tokio::spawn(async move {
            loop {
                let item = match input.message().await {
                    Ok(Some(req)) => {
                        let size = req.encoded_len().clamp(1, READ_AHEAD_BYTES);
                        let Ok(room) = room.clone().acquire_many_owned(size as u32).await else {
                            return;
                        };
                        let incoming = Incoming {
                            record: convert::to_core(&req.record.unwrap_or_default()),
                            strict: req.strict,
                        };
                        Read::Record(Box::new(incoming), room)
                    }
                    Ok(None) => return,
                    Err(status) => Read::Broken(status),
                };
                let broken = matches!(item, Read::Broken(_));
                if queued.send(item).await.is_err() || broken {
                    return;
                }
            }
        });
        // Chunks are decided in order by one task and acknowledged by
        // another once durable, so the next chunk is decided while the
        // previous one is stored (two chunks in flight at most). A chunk is
        // what has been read meanwhile, up to INGEST_BATCH records.
        let (decided, mut to_ack) = tokio::sync::mpsc::channel::<Decided>(2);
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut records = Vec::new();
                let mut room = Vec::new();
                let mut stream_error = None;
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item {
                        Read::Record(record, r) => {
                            records.push(*record);
                            room.push(r);
                        }
                        Read::Broken(status) => {
                            stream_error = Some(status);
                            break;
                        }
                    }
                    if records.len() < INGEST_BATCH {
                        next = queue.try_recv().ok();
                    }
                }
                let (r, who) = (resolver.clone(), caller.clone());
                // Another system's record is refused alone; the stream goes on.
                let results = blocking(move || {
                    r.resolve_many_pending(records, &|record| {
                        if who.may_write(&record.source_system) {
                            Ok(())
                        } else {
                            Err(Error::forbidden_source(&who.id, &record.source_system))
                        }
                    })
                })
                .await;
                // Decided: their read-ahead room is free again.
                drop(room);
                let failed = results.is_err() || stream_error.is_some();
                if decided
                    .send(Decided {
                        results,
                        stream_error,
                    })
                    .await
                    .is_err()
                    || failed
                {
                    return;
                }
            }
        });
        let resolver = self.resolver.clone();
        tokio::spawn(async move {
            let mut index = 0u64;
            while let Some(Decided {
                results,
                stream_error,
            }) = to_ack.recv().await
            {
                let results = match results {
                    Ok((results, pending)) => {
                        let r = resolver.clone();
                        blocking(move || r.wait(pending)).await.map(|()| results)
                    }
                    Err(status) => Err(status),
                };
                let results = match results {
                    Ok(results) => results,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                for result in results {
                    let result = match result {
                        Ok(res) => api::ingest_response::Result::Resolved(
                            convert::resolution_to_proto(res, &resolver.model_version()),
                        ),
                        Err(Error::InvalidArgument { field, description }) => {
                            api::ingest_response::Result::Error(api::RecordError {
                                field,
                                description,
                            })
                        }
                        Err(e @ Error::PermissionDenied(_)) => {
                            api::ingest_response::Result::Error(api::RecordError {
                                field: "record.source_system".into(),
                                description: e.to_string(),
                            })
                        }
                        Err(e) => api::ingest_response::Result::Error(api::RecordError {
                            field: String::new(),
                            description: e.to_string(),
                        }),
                    };
                    let msg = api::IngestResponse {
                        index,
                        result: Some(result),
                    };
                    index += 1;
                    if tx.send(Ok(msg)).await.is_err() {
                        return;
                    }
                }
                if let Some(status) = stream_error {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn get_client(
        &self,
        request: Request<api::GetClientRequest>,
    ) -> Result<Response<api::GetClientResponse>, Status> {
        let caller = authorize(
            &request,
            &[Role::Steward, Role::Compliance, Role::App, Role::Service],
        )?;
        let req = request.into_inner();
        if caller.peer.is_none() && req.purpose.is_empty() {
            return Err(c360_rpc::invalid_argument(
                "purpose",
                "is required to read personal values (service, stewardship, audit, ...)",
            ));
        }
        let resolver = self.resolver.clone();
        let number = req.client_number;
        let client = blocking(move || resolver.get_client(&number)).await?;
        let client = convert::client_to_proto(&client);
        let grant = self
            .disclosure
            .grants(
                &caller,
                &req.purpose,
                "resolver.GetClient",
                std::slice::from_ref(&client.client_number),
                &crate::disclose::personal_fields(),
            )
            .await?
            .pop()
            .ok_or_else(|| Status::internal("no disclosure decision"))?;
        Ok(Response::new(crate::disclose::client(&grant, client)))
    }

    async fn retrain(
        &self,
        request: Request<api::RetrainRequest>,
    ) -> Result<Response<api::RetrainResponse>, Status> {
        authorize(&request, &[Role::Admin])?;
        let resolver = self.resolver.clone();
        let r = blocking(move || resolver.retrain()).await?;
        Ok(Response::new(api::RetrainResponse {
            previous_model_version: r.previous_version,
            model_version: r.version,
            labelled_same: r.same,
            labelled_different: r.different,
            records: r.records,
        }))
    }

    async fn merge(
        &self,
        request: Request<api::MergeRequest>,
    ) -> Result<Response<api::MergeResponse>, Status> {
        let caller = authorize(&request, &[Role::Steward])?;
        let req = request.into_inner();
        let resolver = self.resolver.clone();
        let actor = actor_of(&caller, req.actor);
        let (survivor, absorbed) =
            blocking(move || resolver.merge(&req.client_numbers, &actor, &req.reason)).await?;
        Ok(Response::new(api::MergeResponse {
            survivor: survivor.to_string(),
            absorbed: absorbed.iter().map(ToString::to_string).collect(),
        }))
    }

    async fn split(
        &self,
        request: Request<api::SplitRequest>,
    ) -> Result<Response<api::SplitResponse>, Status> {
        let caller = authorize(&request, &[Role::Steward])?;
        let req = request.into_inner();
        let resolver = self.resolver.clone();
        let actor = actor_of(&caller, req.actor);
        let (old, new) = blocking(move || {
            resolver.split(&req.client_number, &req.record_ids, &actor, &req.reason)
        })
        .await?;
        Ok(Response::new(api::SplitResponse {
            client_number: old.to_string(),
            new_client_number: new.to_string(),
        }))
    }

    async fn list_review_tasks(
        &self,
        request: Request<api::ListReviewTasksRequest>,
    ) -> Result<Response<api::ListReviewTasksResponse>, Status> {
        let _caller = authorize(&request, &[Role::Steward])?;
        let req = request.into_inner();
        let after: u64 = if req.page_token.is_empty() {
            0
        } else {
            req.page_token.parse().map_err(|_| {
                Status::from(Error::invalid(
                    "page_token",
                    "is not a token from a previous page",
                ))
            })?
        };
        let size = match req.page_size {
            0 => 50,
            n => n.min(500) as usize,
        };
        let resolver = self.resolver.clone();
        let (tasks, total_open) = blocking(move || resolver.review_tasks(after, size)).await?;
        let next_page_token = if tasks.len() == size {
            tasks
                .last()
                .map(|t| t.task_id.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        let tasks = tasks.iter().map(convert::review_task_to_proto).collect();
        Ok(Response::new(api::ListReviewTasksResponse {
            tasks,
            next_page_token,
            total_open,
        }))
    }

    async fn decide_review_task(
        &self,
        request: Request<api::DecideReviewTaskRequest>,
    ) -> Result<Response<api::DecideReviewTaskResponse>, Status> {
        let caller = authorize(&request, &[Role::Steward])?;
        let req = request.into_inner();
        let resolver = self.resolver.clone();
        let actor = actor_of(&caller, req.actor);
        let client =
            blocking(move || resolver.decide_review(&req.task_id, req.accept, &actor, &req.reason))
                .await?;
        Ok(Response::new(api::DecideReviewTaskResponse {
            client_number: client.to_string(),
        }))
    }

    async fn erase_client(
        &self,
        request: Request<api::EraseClientRequest>,
    ) -> Result<Response<api::EraseClientResponse>, Status> {
        // Erasure has one entry point, the vault's EraseClient (which
        // refuses under a legal hold and then calls this): no one else,
        // not even an admin, erases here.
        let caller = authorize_only(&request, &[Role::Service])?;
        caller.check_peer(
            c360_rpc::Peer::Vault,
            "erasure goes through VaultService/EraseClient, which checks legal holds",
        )?;
        let req = request.into_inner();
        let resolver = self.resolver.clone();
        let (survivor, aliases, record_ids) =
            blocking(move || resolver.erase(&req.client_number, &caller.id, &req.reason)).await?;
        Ok(Response::new(api::EraseClientResponse {
            client_number: survivor.to_string(),
            erased_numbers: aliases.iter().map(|a| a.to_string()).collect(),
            record_ids,
        }))
    }

    async fn explain(
        &self,
        request: Request<api::ExplainRequest>,
    ) -> Result<Response<api::ExplainResponse>, Status> {
        let _caller = authorize(&request, &[Role::Steward, Role::Compliance])?;
        let resolver = self.resolver.clone();
        let explained = match request.into_inner().target {
            Some(api::explain_request::Target::Pair(p)) => {
                blocking(move || resolver.explain_pair(&p.record_a, &p.record_b)).await?
            }
            Some(api::explain_request::Target::ClientNumber(n)) => {
                blocking(move || resolver.explain_client(&n)).await?
            }
            None => {
                return Err(
                    Error::invalid("target", "give a record pair or a client number").into(),
                );
            }
        };
        Ok(Response::new(convert::explained_to_proto(&explained)))
    }

    async fn get_quality_summary(
        &self,
        request: Request<api::GetQualitySummaryRequest>,
    ) -> Result<Response<api::GetQualitySummaryResponse>, Status> {
        // Counts only: no personal value, no record id.
        let _caller = authorize(&request, &[Role::Steward, Role::Compliance, Role::Service])?;
        let source = request.into_inner().source_system;
        if source.len() > crate::MAX_FIELD_BYTES {
            return Err(Error::invalid("source_system", "is too long").into());
        }
        let resolver = self.resolver.clone();
        let counts =
            blocking(move || resolver.quality((!source.is_empty()).then_some(source.as_str())))
                .await?;
        Ok(Response::new(quality_to_api(&counts)))
    }

    async fn lookup_numbers(
        &self,
        request: Request<api::LookupNumbersRequest>,
    ) -> Result<Response<api::LookupNumbersResponse>, Status> {
        authorize(&request, &[Role::Service])?;
        let numbers = request.into_inner().client_numbers;
        let resolver = self.resolver.clone();
        let asked = numbers.clone();
        let (states, feed_offset) = blocking(move || resolver.lookup_numbers(&asked)).await?;
        let numbers = numbers
            .into_iter()
            .zip(states)
            .map(|(client_number, state)| {
                let (state, survivor) = match state {
                    NumberState::Unknown => (api::NumberState::Unknown, String::new()),
                    NumberState::Active(s) => (api::NumberState::Active, s.to_string()),
                    NumberState::Erased => (api::NumberState::Erased, String::new()),
                };
                api::NumberLookup {
                    client_number,
                    state: state as i32,
                    survivor,
                }
            })
            .collect();
        Ok(Response::new(api::LookupNumbersResponse {
            numbers,
            feed_offset,
        }))
    }

    type WatchEventsStream = BoxStream<api::Event>;

    async fn watch_events(
        &self,
        request: Request<api::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let _caller = authorize(&request, &[Role::Service, Role::Compliance])?;
        let mut next = request.into_inner().from_offset.max(1);
        let resolver = self.resolver.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let r = resolver.clone();
                let from = next;
                let page =
                    tokio::task::spawn_blocking(move || r.events().read_from(r.store(), from, 512))
                        .await;
                let page = match page {
                    Ok(Ok(page)) => page,
                    Ok(Err(e)) => {
                        let _ = tx.send(Err(Status::internal(e.to_string()))).await;
                        return;
                    }
                    Err(_) => return,
                };
                if page.is_empty() {
                    let watch = resolver.events().watch();
                    let seen = next.saturating_sub(1);
                    let waiting = tokio::task::spawn_blocking(move || {
                        watch.wait_beyond(seen, Duration::from_millis(500))
                    });
                    // A watcher that leaves is noticed at once, so this task
                    // (and the resolver it holds) goes with it.
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = waiting => continue,
                    }
                }
                for (offset, payload) in page {
                    let mut event = match api::Event::decode(payload.as_slice()) {
                        Ok(e) => e,
                        Err(e) => {
                            let _ = tx
                                .send(Err(Status::internal(format!("corrupt event: {e}"))))
                                .await;
                            return;
                        }
                    };
                    event.offset = offset;
                    next = offset + 1;
                    if tx.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
