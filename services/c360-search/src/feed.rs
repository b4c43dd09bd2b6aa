//! Keeping the index current from the resolver's event feed.
//!
//! Events carry numbers only. For every client number a batch mentions,
//! the handler asks the golden-record source for the client's *current*
//! state and makes the index agree: the document is replaced (created,
//! attached, updated, split), removed (absorbed by a merge: the survivor is
//! indexed instead; erased: and purged from the segments). Replaying the
//! feed from any point therefore converges on the resolver's state, which
//! is what `reset` relies on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use c360_proto::resolver::v1::{Event, EventType};
use c360_rpc::FeedHandler;

use crate::index::Op;
use crate::{ClientDoc, Error, Result, Search};

/// The current state of one client number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The client, under the number asked for.
    Current(ClientDoc),
    /// The number was absorbed by a merge; this is the survivor.
    Moved(ClientDoc),
    /// Unknown or erased.
    Gone,
}

/// Where golden records come from: the port search owns to the resolver
/// (over gRPC: [`crate::peers::ResolverGolden`]); tests plug in their own.
pub trait GoldenSource: Send + Sync + 'static {
    /// The current state of each number, in order. An error leaves the
    /// batch unapplied (the follower retries it).
    fn fetch(&self, numbers: &[String]) -> Result<Vec<Fetched>>;
}

/// The source when no resolver peer is configured: every batch fails.
#[derive(Debug)]
pub(crate) struct NoResolver;

impl GoldenSource for NoResolver {
    fn fetch(&self, _: &[String]) -> Result<Vec<Fetched>> {
        Err(Error::Unavailable("no resolver peer configured".into()))
    }
}

/// The [`FeedHandler`] of the search index.
pub(crate) struct SearchFeed {
    search: Search,
    source: Arc<dyn GoldenSource>,
}

impl SearchFeed {
    pub(crate) fn new(search: Search, source: Arc<dyn GoldenSource>) -> Self {
        SearchFeed { search, source }
    }

    fn apply_events(&self, events: &[Event]) -> Result<()> {
        // One batch at a time, and never across a reset.
        let _feed = self.search.feed_lock();
        let applied = self.search.applied();
        let fresh: Vec<&Event> = events.iter().filter(|e| e.offset > applied).collect();
        let Some(first) = fresh.first() else {
            return Ok(());
        };
        if first.offset != applied + 1 {
            return Err(Error::Internal(format!(
                "feed position: expected offset {}, got {}",
                applied + 1,
                first.offset
            )));
        }
        let mut expected = first.offset;
        let mut numbers = BTreeSet::new();
        let mut erased = BTreeSet::new();
        for e in &fresh {
            if e.offset != expected {
                return Err(Error::Internal(format!(
                    "feed gap: expected offset {expected}, got {}",
                    e.offset
                )));
            }
            expected += 1;
            let mentioned = std::iter::once(&e.client_number)
                .chain(e.related_clients.iter())
                .filter(|n| !n.is_empty());
            for n in mentioned {
                numbers.insert(n.clone());
                if e.r#type == EventType::ClientErased as i32 {
                    erased.insert(n.clone());
                }
            }
        }
        let last = expected - 1;
        let numbers: Vec<String> = numbers.into_iter().collect();
        let fetched = self.source.fetch(&numbers)?;
        if fetched.len() != numbers.len() {
            return Err(Error::Internal(
                "golden source answered a short batch".into(),
            ));
        }
        // Final operation per number: later answers win, upserts of the
        // same survivor are made once.
        let mut ops: BTreeMap<String, Op> = BTreeMap::new();
        for (number, state) in numbers.iter().zip(fetched) {
            match state {
                Fetched::Current(doc) => {
                    ops.insert(number.clone(), Op::Upsert(Box::new(doc)));
                }
                Fetched::Moved(survivor) => {
                    ops.entry(number.clone())
                        .or_insert_with(|| Op::Delete(number.clone()));
                    ops.insert(
                        survivor.client_number.clone(),
                        Op::Upsert(Box::new(survivor)),
                    );
                }
                Fetched::Gone => {
                    ops.entry(number.clone())
                        .or_insert_with(|| Op::Delete(number.clone()));
                }
            }
        }
        let erased: Vec<String> = erased
            .into_iter()
            .filter(|n| !matches!(ops.get(n), Some(Op::Upsert(_))))
            .collect();
        self.search
            .apply_feed_ops(ops.into_values().collect(), (applied, last), &erased)
    }
}

impl FeedHandler for SearchFeed {
    fn applied(&self) -> u64 {
        self.search.applied()
    }

    fn apply(&self, events: &[Event]) -> std::result::Result<(), String> {
        self.apply_events(events).map_err(|e| e.to_string())
    }
}
