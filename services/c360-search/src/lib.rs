//! The search service: a tantivy index of clients (the resolver's golden
//! records) for stewards, call centres and downstream lookups.
//!
//! - [`Search`] is the domain handle (cheap to clone): [`Search::search`],
//!   the direct indexing API ([`Search::upsert`], [`Search::delete`],
//!   [`Search::commit`]), [`Search::reset`], and the feed handler that
//!   keeps the index current from the resolver's event feed.
//! - [`grpc`] is the thin tonic edge (`c360.search.v1.SearchService`);
//!   [`feed`] turns the resolver's events into index operations, fetching
//!   golden records through the [`GoldenSource`] port, which [`peers`]
//!   implements over the resolver's gRPC client. Errors say their
//!   `c360_rpc::ErrorKind`; the edge converts them.
//! - Analysis reuses `c360-standardise` (folding, name variants, phonetic
//!   keys, phones to E.164) so that search and matching agree; see [`doc`].
//! - Index files are encrypted on disk ([`crypt_dir`]) under an index data
//!   key wrapped by the KEK and stored beside them.
//!
//! # Layout on disk
//!
//! Under the directory the storage gives search ([`STORAGE`]: `<root>/search`
//! on disk, `<data_dir>/search` in `c360 serve`):
//!
//! ```text
//! <dir>/CURRENT                 name of the live generation ("gen-000001")
//! <dir>/gen-000001/index.key    the generation's data key, wrapped by the KEK
//! <dir>/gen-000001/index/       encrypted tantivy files
//! ```
//!
//! A reset writes a new generation (new key, empty index, checkpoint 0),
//! switches `CURRENT`, then deletes the old one. Opening an index written
//! with another schema (an older version) does the same, so an upgrade
//! rebuilds the index from the feed instead of refusing to start.
//!
//! # Freshness and durability
//!
//! Feed batches are added to the writer at once; a committer thread commits
//! at most `commit_interval_ms` later (then reloads the reader), storing the
//! offset of the last applied event in the commit payload, so a restart
//! resumes exactly after the last durable event. Erased clients are purged:
//! every segment that still holds one of their (deleted) documents is
//! merged away and its files deleted before the purge is recorded as done.

pub mod crypt_dir;
pub mod doc;
mod error;
pub mod evidence;
pub mod feed;
pub mod grpc;
mod index;
pub mod peers;
pub mod query;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::Duration;

use c360_crypto::KekProvider;
use c360_storage::{ServiceStorage, StorageConfig};
use serde::{Deserialize, Serialize};

pub use doc::{Analyzer, ClientDoc};
pub use error::{Error, Result};
pub use feed::{Fetched, GoldenSource};
pub use grpc::SearchGrpc;
pub use index::{Hit, HitPerson, IndexStats};
pub use peers::{ResolverGolden, client_doc};
pub use query::{Filters, SearchRequest};

use crate::index::{Engine, Op};

/// Settings of the search service (`[search]` in the server configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Memory the index writer fills before it writes a segment, in bytes,
    /// shared by the writer threads (at least 16 MiB per thread is used).
    pub writer_memory_bytes: usize,
    /// Threads that build segments.
    pub writer_threads: usize,
    /// Longest wait, in milliseconds, between applying a change and
    /// committing it (when it becomes searchable and durable).
    pub commit_interval_ms: u64,
    /// ISO country for phone numbers written without a country prefix when
    /// the record names no country.
    pub default_country: String,
    /// Source systems whose records are transactions or accounts: a client
    /// with one of them is "traced" (the T of the sectors).
    pub transactional_sources: Vec<String>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            writer_memory_bytes: 128 << 20,
            writer_threads: 2,
            commit_interval_ms: 500,
            default_country: "CI".to_string(),
            transactional_sources: [
                "core_banking",
                "loan_origination",
                "mobile_money",
                "legacy_mfi",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The services search calls.
#[derive(Clone, Default)]
pub struct SearchPeers {
    /// Source of golden records for the feed handler: the port search owns
    /// to the resolver ([`peers::ResolverGolden`] over gRPC).
    pub resolver: Option<Arc<dyn GoldenSource>>,
}

impl std::fmt::Debug for SearchPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchPeers")
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

/// The search service (domain). Cheap to clone; all clones share the index.
#[derive(Clone)]
pub struct Search {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    dir: PathBuf,
    config: SearchConfig,
    kek: Arc<dyn KekProvider>,
    peers: SearchPeers,
    analyzer: Analyzer,
    /// The live generation and its number; replaced by `reset`.
    engine: RwLock<(u64, Arc<Engine>)>,
    /// Serialises resets and feed batches.
    feed_lock: Mutex<()>,
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let (stop, wake) = &*self.stop;
        *stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        let engine = self
            .engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone();
        if let Err(e) = engine.commit() {
            tracing::warn!(error = %e, "final search index commit failed");
        }
        engine.close();
    }
}

const CURRENT: &str = "CURRENT";

fn generation_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("gen-{generation:06}"))
}

fn read_current(dir: &Path) -> Result<Option<u64>> {
    match std::fs::read_to_string(dir.join(CURRENT)) {
        Ok(text) => text
            .trim()
            .strip_prefix("gen-")
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or_else(|| Error::Index("unreadable CURRENT file".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn write_current(dir: &Path, generation: u64) -> Result<()> {
    let tmp = dir.join("CURRENT.tmp");
    std::fs::write(&tmp, format!("gen-{generation:06}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(CURRENT))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Removes generations other than `keep` (left over by a crash mid-reset).
fn remove_other_generations(dir: &Path, keep: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let keep = generation_dir(dir, keep);
    for entry in entries.flatten() {
        let path = entry.path();
        let is_generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("gen-"));
        if is_generation
            && path != keep
            && let Err(e) = std::fs::remove_dir_all(&path)
        {
            tracing::warn!(error = %e, "cannot remove an old search index generation");
        }
    }
}

/// Where search keeps its data: a directory of its own under the storage
/// root, as every service's store (`<root>/search`), holding the index's
/// files (tantivy's, not a `Store`'s: no keyspaces).
pub const STORAGE: ServiceStorage = ServiceStorage {
    name: "search",
    spaces: &[],
};

impl Search {
    /// Opens the index where `storage` keeps search's data ([`STORAGE`]).
    /// The index is files: a storage without a directory (in memory)
    /// cannot hold it.
    pub fn open(
        storage: &StorageConfig,
        config: SearchConfig,
        kek: Arc<dyn KekProvider>,
        peers: SearchPeers,
    ) -> Result<Search> {
        let dir = storage.dir_of(&STORAGE).ok_or_else(|| {
            Error::Index("the search index is files: this storage keeps none (in memory)".into())
        })?;
        Self::open_dir(&dir, config, kek, peers)
    }

    /// Opens the index under `dir` (created when missing) and starts its
    /// committer thread.
    pub fn open_dir(
        dir: &Path,
        config: SearchConfig,
        kek: Arc<dyn KekProvider>,
        peers: SearchPeers,
    ) -> Result<Search> {
        let analyzer = Analyzer::new(&config.default_country)
            .map_err(|e| Error::invalid("default_country", e))?;
        std::fs::create_dir_all(dir)?;
        let mut generation = match read_current(dir)? {
            Some(g) => g,
            None => {
                write_current(dir, 1)?;
                1
            }
        };
        remove_other_generations(dir, generation);
        let engine = match Engine::open(&generation_dir(dir, generation), &config, &*kek) {
            Err(Error::SchemaChanged) => {
                // Written by an older version: start a new generation,
                // which the feed follower rebuilds from the first event.
                generation += 1;
                let engine = Engine::open(&generation_dir(dir, generation), &config, &*kek)?;
                write_current(dir, generation)?;
                remove_other_generations(dir, generation);
                tracing::info!(
                    generation,
                    "the search index schema changed: rebuilding it from the resolver's feed"
                );
                engine
            }
            other => other?,
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            config,
            kek,
            peers,
            analyzer,
            engine: RwLock::new((generation, Arc::new(engine))),
            feed_lock: Mutex::new(()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
        });
        spawn_committer(Arc::downgrade(&inner), inner.stop.clone());
        Ok(Search { inner })
    }

    /// The event-feed handler, fetching golden records from the resolver
    /// peer (its [`GoldenSource`] port).
    pub fn feed_handler(&self) -> Arc<dyn c360_rpc::FeedHandler> {
        let source: Arc<dyn GoldenSource> = match &self.inner.peers.resolver {
            Some(source) => source.clone(),
            None => Arc::new(feed::NoResolver),
        };
        self.feed_handler_with(source)
    }

    /// The event-feed handler with another source of golden records.
    pub fn feed_handler_with(
        &self,
        source: Arc<dyn GoldenSource>,
    ) -> Arc<dyn c360_rpc::FeedHandler> {
        Arc::new(feed::SearchFeed::new(self.clone(), source))
    }

    fn engine(&self) -> Arc<Engine> {
        self.inner
            .engine
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Drops the index and its checkpoint: the feed follower then rebuilds
    /// it from offset 1. Searches see an empty index until it catches up.
    pub fn reset(&self) -> Result<()> {
        let _feed = self
            .inner
            .feed_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut live = self.inner.engine.write().unwrap_or_else(|p| p.into_inner());
        let next = live.0 + 1;
        let engine = Engine::open(
            &generation_dir(&self.inner.dir, next),
            &self.inner.config,
            &*self.inner.kek,
        )?;
        write_current(&self.inner.dir, next)?;
        let old = std::mem::replace(&mut *live, (next, Arc::new(engine)));
        drop(live);
        old.1.close();
        drop(old);
        remove_other_generations(&self.inner.dir, next);
        tracing::info!(generation = next, "search index reset");
        Ok(())
    }

    /// Adds or replaces a client's document (searchable after the next
    /// commit).
    pub fn upsert(&self, doc: ClientDoc) -> Result<()> {
        self.apply_ops(vec![Op::Upsert(Box::new(doc))], None, &[])
    }

    /// Adds or replaces many documents.
    pub fn upsert_many(&self, docs: Vec<ClientDoc>) -> Result<()> {
        let ops = docs.into_iter().map(|d| Op::Upsert(Box::new(d))).collect();
        self.apply_ops(ops, None, &[])
    }

    /// Removes a client's document.
    pub fn delete(&self, client_number: &str) -> Result<()> {
        self.apply_ops(vec![Op::Delete(client_number.to_string())], None, &[])
    }

    /// Removes a client's document and purges it from the index files at
    /// the next commit.
    pub fn erase(&self, client_number: &str) -> Result<()> {
        let n = client_number.to_string();
        self.apply_ops(vec![Op::Delete(n.clone())], None, &[n])
    }

    fn apply_ops(
        &self,
        ops: Vec<Op>,
        offsets: Option<(u64, u64)>,
        erased: &[String],
    ) -> Result<()> {
        let c = &self.inner.config;
        self.engine().apply(
            &self.inner.analyzer,
            &c.transactional_sources,
            ops,
            offsets,
            erased,
        )
    }

    /// Commits now: pending changes become durable and searchable. Returns
    /// the committed feed offset.
    pub fn commit(&self) -> Result<u64> {
        self.engine().commit()
    }

    /// The offset of the last feed event applied (maybe not yet committed).
    pub fn applied(&self) -> u64 {
        self.engine().applied()
    }

    /// The offset of the last feed event in the committed index.
    pub fn committed_offset(&self) -> u64 {
        self.engine().committed_offset()
    }

    /// Waits until the event at `offset` is committed and searchable, or
    /// `timeout` passes; true when it is.
    pub fn wait_committed(&self, offset: u64, timeout: Duration) -> bool {
        self.engine().wait_committed(offset, timeout)
    }

    /// Waits for the next commit (of anything), up to `timeout`.
    pub fn wait_next_commit(&self, timeout: Duration) -> bool {
        self.engine().wait_next_commit(timeout)
    }

    pub fn stats(&self) -> IndexStats {
        self.engine().stats()
    }

    /// Runs a search. Hits carry the client's personal values: what a
    /// caller may see of them is the gRPC edge's decision.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchPage> {
        let page_size = query::page_size(request.page_size)?;
        let offset = query::page_offset(request)?;
        let filters = query::check_filters(&request.filters)?;
        let parsed = query::parse(&self.inner.analyzer, &request.query)?;
        let limit = page_size.min(query::MAX_DEPTH - offset);
        // One more than asked tells whether a next page exists.
        let mut hits =
            self.engine()
                .search(&self.inner.analyzer, &parsed, &filters, offset, limit + 1)?;
        let more = hits.len() > limit && offset + limit < query::MAX_DEPTH;
        hits.truncate(limit);
        let next_page_token = if more {
            query::page_token(request, offset + limit)
        } else {
            String::new()
        };
        Ok(SearchPage {
            hits,
            next_page_token,
        })
    }

    #[cfg(test)]
    pub(crate) fn engine_for_tests(&self) -> Arc<Engine> {
        self.engine()
    }

    pub(crate) fn feed_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner
            .feed_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn apply_feed_ops(
        &self,
        ops: Vec<Op>,
        offsets: (u64, u64),
        erased: &[String],
    ) -> Result<()> {
        self.apply_ops(ops, Some(offsets), erased)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    pub next_page_token: String,
}

/// Commits pending changes once they have waited `commit_interval_ms`.
fn spawn_committer(inner: Weak<Inner>, stop: Arc<(Mutex<bool>, Condvar)>) {
    let spawned = std::thread::Builder::new()
        .name("c360-search-commit".into())
        .spawn(move || {
            loop {
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let interval = Duration::from_millis(inner.config.commit_interval_ms.max(1));
                let engine = inner
                    .engine
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .1
                    .clone();
                drop(inner);
                if let Err(e) = engine.commit_if_due(interval) {
                    tracing::warn!(error = %e, "search index commit failed; retrying");
                }
                drop(engine);
                let (stopped, wake) = &*stop;
                let guard = stopped.lock().unwrap_or_else(|p| p.into_inner());
                if *guard {
                    return;
                }
                let (guard, _) = wake
                    .wait_timeout(guard, interval / 4)
                    .unwrap_or_else(|p| p.into_inner());
                if *guard {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the search index committer");
    }
}
