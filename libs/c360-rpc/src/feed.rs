use std::sync::Arc;
use std::time::Duration;

use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::resolver::v1::{Event, EventType, WatchEventsRequest};
use tokio::sync::watch;
use tokio_stream::StreamExt;

use crate::PeerChannel;

/// What an event of the resolver's feed says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    ClientCreated,
    /// A record was attached to the client (new, or moved by a merge).
    RecordAttached,
    RecordUpdated,
    /// `related_clients` were merged into the client.
    ClientsMerged,
    /// `record_ids` left the client for `related_clients[0]`.
    ClientSplit,
    /// The client and `related_clients` were erased.
    ClientErased,
    /// A kind this version does not know.
    Unknown,
}

/// One event of the resolver's feed as its followers' domains read it: a
/// view of the wire's event (borrowing, so a batch copies nothing).
/// Numbers and record ids only, never a personal value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedEvent<'a> {
    pub offset: u64,
    pub kind: EventKind,
    pub client_number: &'a str,
    pub record_id: &'a str,
    pub related_clients: &'a [String],
    pub record_ids: &'a [String],
    pub at_ms: i64,
}

impl<'a> From<&'a Event> for FeedEvent<'a> {
    fn from(e: &'a Event) -> Self {
        FeedEvent {
            offset: e.offset,
            kind: match e.r#type() {
                EventType::ClientCreated => EventKind::ClientCreated,
                EventType::RecordAttached => EventKind::RecordAttached,
                EventType::RecordUpdated => EventKind::RecordUpdated,
                EventType::ClientsMerged => EventKind::ClientsMerged,
                EventType::ClientSplit => EventKind::ClientSplit,
                EventType::ClientErased => EventKind::ClientErased,
                EventType::Unspecified => EventKind::Unknown,
            },
            client_number: &e.client_number,
            record_id: &e.record_id,
            related_clients: &e.related_clients,
            record_ids: &e.record_ids,
            at_ms: e.at_unix_ms,
        }
    }
}

/// The wire's events as [`FeedEvent`]s.
pub fn feed_events(events: &[Event]) -> Vec<FeedEvent<'_>> {
    events.iter().map(FeedEvent::from).collect()
}

/// A consumer of the resolver's event feed (vault, search, channels).
///
/// Exactly-once is the handler's job and is easy: store the offset of the
/// last applied event in the same atomic batch as the effects, and report
/// it from [`FeedHandler::applied`]. The follower resumes from there.
pub trait FeedHandler: Send + Sync + 'static {
    /// The offset of the last event applied (0 when none).
    fn applied(&self) -> u64;
    /// Applies events in feed order (offsets consecutive, starting at
    /// `applied() + 1`). Runs on a blocking thread. On error nothing of the
    /// batch may be left applied; the follower retries it later.
    fn apply(&self, events: &[Event]) -> Result<(), String>;
}

/// How far a follower got; lets tests and `/metrics` wait for or report
/// progress without sleeping.
#[derive(Debug, Clone)]
pub struct FeedProgress {
    applied: watch::Receiver<u64>,
}

impl FeedProgress {
    /// The offset of the last event applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the event at `offset` has been applied. Returns false if
    /// the follower stopped first.
    pub async fn wait_for(&mut self, offset: u64) -> bool {
        self.applied.wait_for(|a| *a >= offset).await.is_ok()
    }
}

const MAX_BATCH: usize = 512;
/// How often an idle follower checks that its handler's checkpoint has not
/// been moved (a reindex resets it to 0).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Follows the feed behind `client` into `handler` until the returned task
/// is aborted. Reconnects with backoff (100 ms doubling to 5 s) when the
/// stream fails, resuming after the last applied offset.
pub fn follow_feed(
    client: ResolverServiceClient<PeerChannel>,
    handler: Arc<dyn FeedHandler>,
    name: &'static str,
) -> (FeedProgress, Follower) {
    let (tx, rx) = watch::channel(handler.applied());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(client, handler, tx, name, stopped));
    (FeedProgress { applied: rx }, Follower { stop, task })
}

/// A running follower. Stop it with [`Follower::stop`]: aborting its task
/// would leave a batch being applied on a blocking thread, holding the
/// service (and its store) past the stop.
#[derive(Debug)]
pub struct Follower {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    /// Asks the follower to stop at its next wait (never in the middle of
    /// applying a batch) and waits until it has.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

async fn run(
    mut client: ResolverServiceClient<PeerChannel>,
    handler: Arc<dyn FeedHandler>,
    progress: watch::Sender<u64>,
    name: &'static str,
    mut stopped: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let from = handler.applied() + 1;
        match stream_once(&mut client, &handler, &progress, from, &mut stopped).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(_) if *stopped.borrow() => return,
            Err(e) => {
                tracing::warn!(follower = name, from, error = %e, "event feed interrupted; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.wait_for(|&s| s) => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn stream_once(
    client: &mut ResolverServiceClient<PeerChannel>,
    handler: &Arc<dyn FeedHandler>,
    progress: &watch::Sender<u64>,
    from: u64,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    const STOPPED: &str = "stopped";
    let call = client.watch_events(WatchEventsRequest { from_offset: from });
    let mut stream = tokio::select! {
        r = call => r.map_err(|s| format!("{}: {}", s.code(), s.message()))?.into_inner(),
        _ = stopped.wait_for(|&s| s) => return Err(STOPPED.into()),
    };
    let mut expected = from;
    loop {
        // Wait for one event, then take whatever else is already there.
        // While idle, notice a handler whose checkpoint moved back (a
        // reindex): reconnect from its new position. A stop is taken only
        // here, between batches.
        let first = loop {
            let next = tokio::select! {
                next = tokio::time::timeout(IDLE_CHECK, stream.next()) => next,
                _ = stopped.wait_for(|&s| s) => return Err(STOPPED.into()),
            };
            match next {
                Ok(Some(item)) => break item,
                Ok(None) => return Err("stream ended".into()),
                Err(_) => {
                    let h = handler.clone();
                    let applied = tokio::task::spawn_blocking(move || h.applied())
                        .await
                        .map_err(|e| e.to_string())?;
                    if applied + 1 != expected {
                        progress.send_replace(applied);
                        return Ok(());
                    }
                }
            }
        };
        let mut batch = vec![first.map_err(|s| s.message().to_string())?];
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout(Duration::ZERO, stream.next()).await {
                Ok(Some(Ok(e))) => batch.push(e),
                Ok(Some(Err(s))) => return Err(s.message().to_string()),
                Ok(None) | Err(_) => break,
            }
        }
        for e in &batch {
            if e.offset != expected {
                return Err(format!(
                    "feed gap: expected offset {expected}, got {}",
                    e.offset
                ));
            }
            expected += 1;
        }
        let h = handler.clone();
        let last = expected - 1;
        tokio::task::spawn_blocking(move || h.apply(&batch))
            .await
            .map_err(|e| e.to_string())??;
        progress.send_replace(last);
    }
}
