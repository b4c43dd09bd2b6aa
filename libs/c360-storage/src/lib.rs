//! Storage behind a trait: the only place in c360 that names a storage engine.
//!
//! Services (resolver, vault, search, channels) persist their state through
//! [`Store`] and never see the engine behind it. Two engines exist today:
//!
//! - [`SledStore`]: embedded, one sled tree per keyspace in one directory;
//! - [`MemoryStore`]: a `BTreeMap` per keyspace behind one `RwLock`, the twin
//!   used by tests. Both pass the same conformance suite (`conformance`,
//!   public with the feature of that name so another engine's crate runs it
//!   too: `check_engine` or the `store_conformance!` macro).
//!
//! The engine is chosen in one place: a service names what it stores
//! ([`ServiceStorage`]) and [`open`] gives it a [`Store`] as the process's
//! [`StorageConfig`] says. [`scan_all`] reads a keyspace whole, page by
//! page; an [`Overlay`] is a write that reads its own effects before it
//! commits.
//!
//! A PostgreSQL-compatible engine is planned, and the trait is deliberately
//! shaped so it can be added without touching the services:
//!
//! | here                         | SQL                                                        |
//! |------------------------------|------------------------------------------------------------|
//! | keyspace (fixed at open)     | a table `(key bytea primary key, value bytea not null)`    |
//! | [`Store::get`]               | `select value where key = $1`                              |
//! | [`Store::scan_prefix`]       | `where key >= $prefix and key > $after order by key limit $n` (keyset pagination) |
//! | [`Store::last`]              | `order by key desc limit 1`                                |
//! | [`Batch`] + [`Store::commit`]| one transaction of `insert .. on conflict do update` / `delete`, then `COMMIT` |
//! | [`Store::apply`] / [`Store::flush`] | the same transaction / nothing (a `COMMIT` is durable) |
//!
//! Everything is bytes ordered lexicographically (bytea and sled agree on
//! that order), there are no cursors or iterators that would hold a
//! connection or a snapshot open across calls, no read-modify-write inside
//! the engine (so no engine-specific transaction retry semantics leak out),
//! and keyspace names are fixed at open time so they can be created as tables
//! by a migration. Keyspace names are short ASCII identifiers
//! (`[A-Za-z0-9_.-]`, 1–63 bytes, not starting with `__`), which fit a
//! PostgreSQL identifier.
//!
//! # Invariants
//!
//! - A [`Batch`] is applied atomically across all the keyspaces it touches,
//!   in the order its operations were added (a later operation on the same
//!   key wins), and [`Store::commit`] returns only once it is durable
//!   (sled: a multi-tree transaction followed by `flush`). [`Store::apply`]
//!   is the first half alone: atomic and visible, durable at the next
//!   [`Store::flush`]; a crash in between keeps the batch whole or drops it
//!   whole.
//! - A batch naming an unknown keyspace is rejected as a whole, before
//!   anything is applied.
//! - Reads see committed batches either entirely or not at all, but two
//!   reads are not a snapshot: a batch may commit between them.
//! - Nothing here formats a key or a value into an error or a `Debug`
//!   output; keys and values may hold personal data. Keyspace names may
//!   appear (they are constants in code).
//!
//! # Event log
//!
//! [`EventLog`] is an append-only log on one keyspace, with offsets
//! `1, 2, 3, ..` stored as big-endian `u64` keys so scans come back in
//! order. Appends go into the caller's [`Batch`] so a state change and its
//! event commit together; writers are serialised by an [`AppendGuard`] so
//! offsets become visible in order with no gaps, and consumers wait for new
//! events through a [`HeadWatch`]. One process owns a log: writers in two
//! processes (or two `EventLog` values on one keyspace) are detected on
//! commit as [`Error::Conflict`], not prevented.

mod batch;
mod event_log;
mod memory;
mod open;
mod overlay;
mod sled_store;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(test)]
mod crash_tests;

pub use batch::{Batch, BatchOp};
pub use event_log::{AppendGuard, EventLog, HeadWatch, Ticket};
pub use memory::MemoryStore;
pub use open::{ServiceStorage, StorageConfig, open};
pub use overlay::{Overlay, scan_all};
pub use sled_store::SledStore;

/// Result of every storage operation.
pub type Result<T> = std::result::Result<T, Error>;

/// A storage failure. Messages never contain keys or values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The engine failed (I/O, lock held by another process) or was misused
    /// (unknown keyspace, invalid keyspace name). Retrying rarely helps.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// Stored bytes do not have the shape the engine or the event log
    /// expects.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// Another writer changed the data this operation depended on; re-read
    /// and retry. Raised by [`AppendGuard::commit`] when the log moved under
    /// it, and by SQL engines on serialisation failures.
    #[error("storage conflict: {0}")]
    Conflict(String),
}

/// A transactional, ordered key-value store made of named keyspaces.
///
/// Names of keyspaces are fixed at open time; naming any other keyspace
/// fails with [`Error::Backend`], message ``unknown keyspace `x` ``. Keys and
/// values are arbitrary bytes (empty allowed); keys are ordered
/// lexicographically (unsigned bytes, shorter prefix first).
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// The value stored under `key`, if any.
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Ordered scan of keys starting with `prefix`, from `start_after`
    /// (exclusive) if given, at most `limit` items.
    ///
    /// To page through a prefix, pass the last key of the previous page as
    /// `start_after`. A `start_after` that sorts before `prefix` is ignored.
    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// The last (greatest) key in a keyspace, if any, with its value.
    fn last(&self, space: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>>;

    /// Applies all operations atomically across keyspaces: reads see the
    /// whole batch from now on, and a crash keeps all of it or none of it,
    /// but it is only durable once a later [`Store::flush`] returns. A batch
    /// naming an unknown keyspace applies nothing; an empty batch is a
    /// no-op.
    ///
    /// Separating the two lets a writer apply its next batch while the
    /// previous one is being flushed ([`EventLog`] does this with a group
    /// commit). An engine whose writes are durable on apply (SQL `COMMIT`)
    /// makes `flush` a no-op.
    fn apply(&self, batch: Batch) -> Result<()>;

    /// Applies all operations atomically across keyspaces and makes them
    /// durable before returning: [`Store::apply`], then [`Store::flush`].
    fn commit(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.apply(batch)?;
        self.flush()
    }

    /// Number of keys in a keyspace (may be O(n)).
    fn count(&self, space: &str) -> Result<u64>;

    /// Makes every batch applied before this call durable.
    fn flush(&self) -> Result<()>;
}

/// The message of an unknown keyspace error, shared by the engines.
fn unknown_space(space: &str) -> Error {
    Error::Backend(format!("unknown keyspace `{space}`"))
}

/// Checks keyspace names given at open time and removes duplicates.
fn checked_space_names(spaces: &[&str]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(spaces.len());
    for &space in spaces {
        let valid_chars = space
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if space.is_empty() || space.len() > 63 || !valid_chars || space.starts_with("__") {
            return Err(Error::Backend(format!(
                "invalid keyspace name `{}`: expected 1 to 63 of [A-Za-z0-9_.-], not starting with `__`",
                space.escape_debug()
            )));
        }
        if !names.iter().any(|n| n == space) {
            names.push(space.to_owned());
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_names_are_checked_and_deduplicated() {
        let names = checked_space_names(&["a", "b.c", "a", "x-1_Y"]).unwrap();
        assert_eq!(names, ["a", "b.c", "x-1_Y"]);
        for bad in ["", "__sled__default", "with space", "é", &"x".repeat(64)] {
            let err = checked_space_names(&[bad]).unwrap_err();
            assert!(matches!(err, Error::Backend(_)), "{bad:?} accepted");
        }
        assert!(checked_space_names(&[&"x".repeat(63)]).is_ok());
    }

    #[test]
    fn error_messages_are_lowercase_without_trailing_punctuation() {
        let err = unknown_space("nope");
        assert_eq!(
            err.to_string(),
            "storage backend error: unknown keyspace `nope`"
        );
    }

    #[test]
    fn engines_are_object_safe_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SledStore>();
        assert_send_sync::<MemoryStore>();
        assert_send_sync::<EventLog>();
        assert_send_sync::<HeadWatch>();
        let store: Box<dyn Store> = Box::new(MemoryStore::new(&["a"]));
        assert_eq!(store.count("a").unwrap(), 0);
    }
}
