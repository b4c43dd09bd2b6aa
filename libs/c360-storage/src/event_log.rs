//! An append-only, ordered event log on one keyspace of a [`Store`].

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{Batch, Error, Result, Store};

/// An append-only ordered event log on a [`Store`] keyspace.
///
/// Offsets are strictly increasing `u64`s starting at 1, stored as 8-byte
/// big-endian keys so scans return them in order. Appends are part of the
/// caller's [`Batch`], so a state change and its event commit atomically.
///
/// Writers are serialised by [`EventLog::append_guard`]: while a guard is
/// held no other writer of this `EventLog` can reserve offsets, so offsets
/// become visible in order and without gaps. A writer may apply its batch
/// and make it durable later ([`AppendGuard::apply`],
/// [`EventLog::make_durable`], a group commit); events are published to
/// readers only once durable. The head (last durable offset) is recovered
/// with [`Store::last`] at open.
///
/// One `EventLog` value per keyspace per process: a second writer (another
/// `EventLog` on the same keyspace, or another process) is detected by
/// [`AppendGuard::commit`] as [`Error::Conflict`], not prevented.
#[derive(Debug)]
pub struct EventLog {
    space: String,
    /// Held by the [`AppendGuard`]; the next offset to hand out once all
    /// committed ones are accounted for (`head + 1`).
    writer: Mutex<Writer>,
    head: Arc<Head>,
    durability: Mutex<Durability>,
    /// Signalled when a flush ends (or fails).
    flushed: Condvar,
}

#[derive(Debug)]
struct Writer {
    next: u64,
}

/// The group commit's bookkeeping: batches are numbered by [`Ticket`] in
/// the order they were applied.
#[derive(Debug, Default)]
struct Durability {
    /// The last ticket handed out, and the last offset its batch holds.
    applied: u64,
    applied_offset: u64,
    /// The last ticket known durable.
    durable: u64,
    /// A flush is running (its caller is the group's leader).
    flushing: bool,
    /// A flush failed: what is applied may not be on disk, and nothing
    /// applied later can be made durable in order. Sticky.
    failed: Option<Error>,
}

/// A batch applied by [`AppendGuard::apply`]: pass it to
/// [`EventLog::make_durable`] before acknowledging the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Ticket(u64);

/// The published head, shared with every [`HeadWatch`].
#[derive(Debug)]
struct Head {
    offset: Mutex<u64>,
    advanced: Condvar,
}

impl Head {
    fn lock(&self) -> MutexGuard<'_, u64> {
        // A u64 is never left half-written: poisoning is harmless.
        self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the head forward (never back) and wakes the watchers.
    fn publish(&self, offset: u64) {
        let mut head = self.lock();
        if offset > *head {
            *head = offset;
            self.advanced.notify_all();
        }
    }
}

/// The key under which the event at `offset` is stored.
fn offset_key(offset: u64) -> [u8; 8] {
    offset.to_be_bytes()
}

fn decode_offset(space: &str, key: &[u8]) -> Result<u64> {
    match <[u8; 8]>::try_from(key).map(u64::from_be_bytes) {
        Ok(offset) if offset > 0 => Ok(offset),
        Ok(_) => Err(Error::Corrupt(format!(
            "event log `{space}` holds offset 0"
        ))),
        Err(_) => Err(Error::Corrupt(format!(
            "event log `{space}` holds a key of {} bytes, expected 8",
            key.len()
        ))),
    }
}

/// The last offset stored in the log keyspace (0 if empty).
fn stored_head(store: &dyn Store, space: &str) -> Result<u64> {
    match store.last(space)? {
        None => Ok(0),
        Some((key, _)) => decode_offset(space, &key),
    }
}

impl EventLog {
    /// Opens the log stored in keyspace `space` of `store`, recovering the
    /// head from the greatest stored offset.
    pub fn open(store: &dyn Store, space: &str) -> Result<Self> {
        let head = stored_head(store, space)?;
        Ok(Self {
            space: space.to_owned(),
            writer: Mutex::new(Writer { next: head + 1 }),
            head: Arc::new(Head {
                offset: Mutex::new(head),
                advanced: Condvar::new(),
            }),
            durability: Mutex::new(Durability {
                applied_offset: head,
                ..Durability::default()
            }),
            flushed: Condvar::new(),
        })
    }

    /// The keyspace holding the log.
    pub fn space(&self) -> &str {
        &self.space
    }

    /// The last committed (durable) offset (0 if none).
    pub fn head(&self) -> u64 {
        *self.head.lock()
    }

    fn durability(&self) -> MutexGuard<'_, Durability> {
        // Every update leaves the fields consistent: poisoning is harmless.
        self.durability
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until the batch of `ticket` (and every batch applied before
    /// it) is durable, then publishes their events to [`HeadWatch`]ers and
    /// [`EventLog::read_from`].
    ///
    /// A group commit: if no flush is running, the caller flushes `store`
    /// for every batch applied so far; otherwise it waits for the running
    /// flush and, if that did not cover its ticket, leads the next one. A
    /// writer applying batch after batch from one thread and making each
    /// durable from another overlaps its work with the flushes.
    ///
    /// A failed flush fails this call and every later one (sticky): the
    /// store may then hold less than what was applied.
    pub fn make_durable(&self, store: &dyn Store, ticket: Ticket) -> Result<()> {
        let mut state = self.durability();
        loop {
            if let Some(err) = &state.failed {
                return Err(err.clone());
            }
            if state.durable >= ticket.0 {
                return Ok(());
            }
            if state.flushing {
                state = self
                    .flushed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Lead a flush covering every batch applied before it starts.
            state.flushing = true;
            let (covers, offset) = (state.applied, state.applied_offset);
            drop(state);
            let flushed = store.flush();
            state = self.durability();
            state.flushing = false;
            match flushed {
                Ok(()) => {
                    state.durable = state.durable.max(covers);
                    self.head.publish(offset);
                }
                Err(err) => state.failed = Some(err),
            }
            self.flushed.notify_all();
        }
    }

    /// Takes the writer lock (blocking while another writer holds it).
    ///
    /// Append with [`AppendGuard::append`], then commit the same batch with
    /// [`AppendGuard::commit`] (durable on return) or
    /// [`AppendGuard::apply`] (durable once [`EventLog::make_durable`]
    /// returns for its ticket); dropping the guard without either releases
    /// the reserved offsets. Do not hold it across an `.await` (it is not
    /// `Send`): use it inside `spawn_blocking`.
    pub fn append_guard(&self) -> AppendGuard<'_> {
        // `Writer::next` only changes after a successful apply, so a panic
        // while the lock was held leaves it consistent with the store.
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let next = writer.next;
        AppendGuard {
            log: self,
            writer,
            next,
        }
    }

    /// Reads events with offset >= `from` (0 reads from the start), at most
    /// `limit`, in offset order.
    ///
    /// Only events up to the published head: never events of a batch that
    /// is applied but not yet durable (a crash could take them back, and a
    /// consumer would then see other events under the same offsets).
    pub fn read_from(
        &self,
        store: &dyn Store,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let head = self.head();
        let from = from.max(1);
        if from > head {
            return Ok(Vec::new());
        }
        // Offsets have no gaps: `head - from + 1` items end at the head.
        let limit = limit.min(usize::try_from(head - from + 1).unwrap_or(usize::MAX));
        let after = offset_key(from - 1);
        let items = store.scan_prefix(&self.space, &[], Some(&after), limit)?;
        items
            .into_iter()
            .map(|(key, payload)| Ok((decode_offset(&self.space, &key)?, payload)))
            .collect()
    }

    /// A handle to wait for the head to advance, usable from other threads.
    pub fn watch(&self) -> HeadWatch {
        HeadWatch {
            head: Arc::clone(&self.head),
        }
    }
}

/// The writer lock of an [`EventLog`], with the offsets it reserved.
///
/// Created by [`EventLog::append_guard`].
pub struct AppendGuard<'a> {
    log: &'a EventLog,
    writer: MutexGuard<'a, Writer>,
    /// The next offset [`AppendGuard::append`] will hand out.
    next: u64,
}

impl AppendGuard<'_> {
    /// Reserves the next offset and adds the event's put to `batch`.
    pub fn append(&mut self, batch: &mut Batch, payload: Vec<u8>) -> u64 {
        let offset = self.next;
        batch.put(&self.log.space, offset_key(offset), payload);
        self.next += 1;
        offset
    }

    /// Commits `batch` (which should hold this guard's appends) durably,
    /// publishes the new head and releases the writer lock:
    /// [`AppendGuard::apply`] then [`EventLog::make_durable`].
    pub fn commit(self, store: &dyn Store, batch: Batch) -> Result<()> {
        let log = self.log;
        let ticket = self.apply(store, batch)?;
        log.make_durable(store, ticket)
    }

    /// Applies `batch` (which should hold this guard's appends) atomically
    /// and releases the writer lock, without waiting for it to be durable:
    /// its events are published, and the write may be acknowledged, once
    /// [`EventLog::make_durable`] returns for the ticket. The next writer
    /// can apply its batch meanwhile.
    ///
    /// Before applying, checks that the store's last offset is still the
    /// head this guard started from; if not, another writer appended to the
    /// log: nothing is applied, the log adopts the stored head, and the
    /// result is [`Error::Conflict`] (rebuild the batch and retry).
    ///
    /// If the apply fails the reserved offsets are released: the next
    /// append reuses them. If the failure was ambiguous (the engine applied
    /// the batch but reported an error, or a lost connection during a SQL
    /// `COMMIT`), the writer re-reads the stored head so offsets are never
    /// reused; the caller cannot tell, so events are at least once on such
    /// failures.
    pub fn apply(mut self, store: &dyn Store, batch: Batch) -> Result<Ticket> {
        let space = self.log.space.as_str();
        let applied = self.writer.next - 1;
        let reserved_last = self.next - 1;
        if reserved_last > applied {
            let stored = stored_head(store, space)?;
            if stored != applied {
                // Another writer's events: committed, so published too.
                self.adopt(stored)?;
                self.log.head.publish(stored);
                return Err(Error::Conflict(format!(
                    "event log `{space}` is at offset {stored}, this writer expected {applied}: another writer appended"
                )));
            }
        }
        match store.apply(batch) {
            Ok(()) => {
                self.writer.next = self.next;
                let mut durability = self.log.durability();
                durability.applied += 1;
                durability.applied_offset = durability.applied_offset.max(reserved_last);
                Ok(Ticket(durability.applied))
            }
            Err(err) => {
                if let Ok(stored) = stored_head(store, space) {
                    // Best effort: on a second failure the reserved offsets
                    // are simply released.
                    let _adopted = self.adopt(stored);
                }
                Err(err)
            }
        }
    }

    /// Moves the writer to what the store actually holds (forward only);
    /// the next flush publishes it.
    fn adopt(&mut self, stored: u64) -> Result<()> {
        let applied = self.writer.next - 1;
        if stored < applied {
            return Err(Error::Corrupt(format!(
                "event log `{}` lost events: the store ends at offset {stored}, {applied} were applied",
                self.log.space
            )));
        }
        self.writer.next = stored + 1;
        let mut durability = self.log.durability();
        durability.applied_offset = durability.applied_offset.max(stored);
        Ok(())
    }
}

impl fmt::Debug for AppendGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppendGuard")
            .field("space", &self.log.space)
            .field("committed", &(self.writer.next - 1))
            .field("reserved", &(self.next - self.writer.next))
            .finish()
    }
}

/// Waits for the head of an [`EventLog`] to advance; cheap to clone and
/// usable from any thread (`Condvar`-based, no async runtime).
///
/// An async consumer polls it from `spawn_blocking` or on a short tick.
#[derive(Debug, Clone)]
pub struct HeadWatch {
    head: Arc<Head>,
}

impl HeadWatch {
    /// The last committed offset (0 if none).
    pub fn current(&self) -> u64 {
        *self.head.lock()
    }

    /// Blocks until the head is greater than `offset` or `timeout` passes,
    /// and returns the head (unchanged on timeout).
    pub fn wait_beyond(&self, offset: u64, timeout: Duration) -> u64 {
        let head = self.head.lock();
        let (head, _timed_out) = self
            .head
            .advanced
            .wait_timeout_while(head, timeout, |head| *head <= offset)
            .unwrap_or_else(PoisonError::into_inner);
        *head
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::thread;

    use super::*;
    use crate::{MemoryStore, SledStore};

    const SPACES: &[&str] = &["events", "state"];

    /// Runs `check` on a fresh MemoryStore and a fresh SledStore.
    fn on_both(check: impl Fn(&dyn Store)) {
        check(&MemoryStore::new(SPACES));
        let dir = tempfile::tempdir().unwrap();
        check(&SledStore::open(dir.path(), SPACES).unwrap());
    }

    fn append_one(log: &EventLog, store: &dyn Store, payload: &[u8]) -> u64 {
        let mut guard = log.append_guard();
        let mut batch = Batch::new();
        let offset = guard.append(&mut batch, payload.to_vec());
        guard.commit(store, batch).unwrap();
        offset
    }

    #[test]
    fn offsets_start_at_one_and_increase() {
        on_both(|store| {
            let log = EventLog::open(store, "events").unwrap();
            assert_eq!(log.head(), 0);
            assert_eq!(log.read_from(store, 0, 10).unwrap(), []);
            assert_eq!(append_one(&log, store, b"e1"), 1);
            assert_eq!(log.head(), 1);

            // Several events and a state change in one batch.
            let mut guard = log.append_guard();
            let mut batch = Batch::new();
            batch.put("state", "k", "v");
            assert_eq!(guard.append(&mut batch, b"e2".to_vec()), 2);
            assert_eq!(guard.append(&mut batch, b"e3".to_vec()), 3);
            assert_eq!(log.head(), 1, "not visible before commit");
            guard.commit(store, batch).unwrap();
            assert_eq!(log.head(), 3);
            assert_eq!(store.get("state", b"k").unwrap(), Some(b"v".to_vec()));
            assert_eq!(append_one(&log, store, b"e4"), 4);
            assert_eq!(log.watch().current(), 4);
        });
    }

    #[test]
    fn read_from_boundaries() {
        on_both(|store| {
            let log = EventLog::open(store, "events").unwrap();
            for i in 1..=300u64 {
                append_one(&log, store, &i.to_le_bytes());
            }
            let all = log.read_from(store, 0, usize::MAX).unwrap();
            assert_eq!(all, log.read_from(store, 1, 1000).unwrap());
            assert_eq!(all.len(), 300);
            for (i, (offset, payload)) in all.iter().enumerate() {
                let expected = i as u64 + 1;
                assert_eq!(*offset, expected);
                assert_eq!(*payload, expected.to_le_bytes());
            }
            // 256 and 255 differ in more than the last byte of the key.
            let page = log.read_from(store, 255, 3).unwrap();
            let offsets: Vec<u64> = page.iter().map(|(o, _)| *o).collect();
            assert_eq!(offsets, [255, 256, 257]);
            assert_eq!(log.read_from(store, 300, 10).unwrap().len(), 1);
            assert_eq!(log.read_from(store, 301, 10).unwrap(), []);
            assert_eq!(log.read_from(store, u64::MAX, 10).unwrap(), []);
            assert_eq!(log.read_from(store, 5, 0).unwrap(), []);
        });
    }

    /// Applied but not durable: invisible to readers and watchers until
    /// `make_durable` (a crash could still take the events back).
    #[test]
    fn applied_events_are_published_once_durable() {
        on_both(|store| {
            let log = EventLog::open(store, "events").unwrap();
            append_one(&log, store, b"one");
            let mut tickets = Vec::new();
            for payload in [b"two", b"six"] {
                let mut guard = log.append_guard();
                let mut batch = Batch::new();
                guard.append(&mut batch, payload.to_vec());
                batch.put("state", payload.to_vec(), "x");
                tickets.push(guard.apply(store, batch).unwrap());
            }
            assert!(tickets[0] < tickets[1]);
            // The state is there, the events are not yet published.
            assert!(store.get("state", b"six").unwrap().is_some());
            assert_eq!(log.head(), 1);
            assert_eq!(log.watch().current(), 1);
            assert_eq!(log.read_from(store, 1, 10).unwrap().len(), 1);
            assert_eq!(log.read_from(store, 2, 10).unwrap(), []);
            // One flush covers both.
            log.make_durable(store, tickets[0]).unwrap();
            assert_eq!(log.head(), 3);
            log.make_durable(store, tickets[1]).unwrap();
            let events = log.read_from(store, 2, 10).unwrap();
            assert_eq!(events, [(2, b"two".to_vec()), (3, b"six".to_vec())]);
        });
    }

    /// Writers on several threads apply and wait for durability at once:
    /// every wait returns, every event is published once, in order.
    #[test]
    fn concurrent_group_commits_make_everything_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), SPACES).unwrap();
        let log = EventLog::open(&store, "events").unwrap();
        thread::scope(|s| {
            for t in 0..4u8 {
                let (log, store) = (&log, &store);
                s.spawn(move || {
                    for i in 0..50u8 {
                        let mut guard = log.append_guard();
                        let mut batch = Batch::new();
                        guard.append(&mut batch, vec![t, i]);
                        let ticket = guard.apply(store, batch).unwrap();
                        log.make_durable(store, ticket).unwrap();
                        assert!(log.head() >= 1);
                    }
                });
            }
        });
        assert_eq!(log.head(), 200);
        let events = log.read_from(&store, 1, 1000).unwrap();
        let offsets: Vec<u64> = events.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (1..=200).collect::<Vec<u64>>());
        let payloads: BTreeSet<Vec<u8>> = events.into_iter().map(|(_, p)| p).collect();
        assert_eq!(payloads.len(), 200);
    }

    #[test]
    fn failed_commit_leaves_no_gap() {
        on_both(|store| {
            let log = EventLog::open(store, "events").unwrap();
            append_one(&log, store, b"one");

            let mut guard = log.append_guard();
            let mut batch = Batch::new();
            assert_eq!(guard.append(&mut batch, b"lost".to_vec()), 2);
            batch.put("no-such-space", "k", "v");
            let err = guard.commit(store, batch).unwrap_err();
            assert_eq!(
                err,
                Error::Backend("unknown keyspace `no-such-space`".into())
            );
            assert_eq!(log.head(), 1);

            // A dropped guard also releases its offsets.
            let mut guard = log.append_guard();
            let mut batch = Batch::new();
            assert_eq!(guard.append(&mut batch, b"dropped".to_vec()), 2);
            drop(guard);

            assert_eq!(append_one(&log, store, b"two"), 2);
            let events = log.read_from(store, 1, 10).unwrap();
            assert_eq!(
                events,
                [(1, b"one".to_vec()), (2, b"two".to_vec())],
                "no gap and no trace of the failed batch"
            );
        });
    }

    #[test]
    fn concurrent_appenders_produce_a_gap_free_sequence() {
        const THREADS: u64 = 4;
        const COMMITS: u64 = 25;
        on_both(|store| {
            let log = EventLog::open(store, "events").unwrap();
            let watch = log.watch();
            thread::scope(|s| {
                // A reader that must only ever see a gap-free prefix.
                s.spawn(|| {
                    let mut seen = 0;
                    while seen < THREADS * COMMITS * 2 {
                        let head = watch.wait_beyond(seen, Duration::from_secs(30));
                        assert!(head > seen, "no progress for 30 s");
                        for (offset, _) in log.read_from(store, seen + 1, 1000).unwrap() {
                            assert_eq!(offset, seen + 1, "gap or reordering");
                            seen = offset;
                        }
                    }
                });
                for t in 0..THREADS {
                    let log = &log;
                    s.spawn(move || {
                        for c in 0..COMMITS {
                            let mut guard = log.append_guard();
                            let mut batch = Batch::new();
                            let first = guard.append(&mut batch, format!("{t}/{c}/a").into());
                            let second = guard.append(&mut batch, format!("{t}/{c}/b").into());
                            assert_eq!(second, first + 1);
                            guard.commit(store, batch).unwrap();
                            assert!(log.head() >= second);
                        }
                    });
                }
            });
            let events = log.read_from(store, 1, usize::MAX).unwrap();
            let offsets: Vec<u64> = events.iter().map(|(o, _)| *o).collect();
            let expected: Vec<u64> = (1..=THREADS * COMMITS * 2).collect();
            assert_eq!(offsets, expected);
            let payloads: BTreeSet<&[u8]> = events.iter().map(|(_, p)| p.as_slice()).collect();
            assert_eq!(payloads.len(), events.len(), "duplicate payloads");
            assert_eq!(log.head(), THREADS * COMMITS * 2);
        });
    }

    #[test]
    fn head_is_recovered_after_reopening_a_sled_store() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), SPACES).unwrap();
            let log = EventLog::open(&store, "events").unwrap();
            for _ in 0..257 {
                append_one(&log, &store, b"x");
            }
        }
        let store = SledStore::open(dir.path(), SPACES).unwrap();
        let log = EventLog::open(&store, "events").unwrap();
        assert_eq!(log.head(), 257);
        assert_eq!(append_one(&log, &store, b"y"), 258);
    }

    #[test]
    fn watch_times_out_unchanged_and_wakes_on_commit() {
        let store = MemoryStore::new(SPACES);
        let log = EventLog::open(&store, "events").unwrap();
        let watch = log.watch();
        assert_eq!(watch.wait_beyond(0, Duration::from_millis(10)), 0);
        thread::scope(|s| {
            let waiter = s.spawn({
                let watch = watch.clone();
                move || watch.wait_beyond(0, Duration::from_secs(30))
            });
            append_one(&log, &store, b"x");
            assert_eq!(waiter.join().unwrap(), 1);
        });
        // Already beyond: returns at once.
        assert_eq!(watch.wait_beyond(0, Duration::from_secs(30)), 1);
    }

    #[test]
    fn a_second_writer_is_detected_as_a_conflict() {
        on_both(|store| {
            let first = EventLog::open(store, "events").unwrap();
            let second = EventLog::open(store, "events").unwrap();
            append_one(&first, store, b"from first");

            let mut guard = second.append_guard();
            let mut batch = Batch::new();
            batch.put("state", "k", "v");
            assert_eq!(guard.append(&mut batch, b"from second".to_vec()), 1);
            let err = guard.commit(store, batch).unwrap_err();
            assert!(matches!(err, Error::Conflict(_)), "{err:?}");
            assert_eq!(store.get("state", b"k").unwrap(), None, "nothing committed");
            assert_eq!(second.head(), 1, "adopted the stored head");

            assert_eq!(append_one(&second, store, b"retry"), 2);
            let events = second.read_from(store, 1, 10).unwrap();
            assert_eq!(events[0], (1, b"from first".to_vec()));
        });
    }

    #[test]
    fn malformed_keys_are_corrupt() {
        on_both(|store| {
            let mut batch = Batch::new();
            batch.put("events", vec![1, 2, 3], "x");
            store.commit(batch).unwrap();
            let err = EventLog::open(store, "events").unwrap_err();
            assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
        });
        let store = MemoryStore::new(SPACES);
        let mut batch = Batch::new();
        batch.put("events", 0u64.to_be_bytes(), "x");
        store.commit(batch).unwrap();
        assert!(matches!(
            EventLog::open(&store, "events"),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn unknown_keyspace_fails_at_open() {
        let store = MemoryStore::new(SPACES);
        let err = EventLog::open(&store, "nope").unwrap_err();
        assert_eq!(err, Error::Backend("unknown keyspace `nope`".into()));
    }
}
