//! The resolver's write-behind: changes decided in memory are applied to
//! the store, with their events, on a thread of their own, in the order
//! they were decided, and flushed in groups.
//!
//! A writer decides a chunk of records in memory, hands the chunk's batch
//! to the persister and goes on with the next chunk while the persister
//! applies and flushes the previous one (sled's multi-tree transaction is
//! about a third of a chunk's work). Nothing is acknowledged, and nothing
//! decided is shown to a reader, before it is durable: writers and readers
//! wait with [`Persister::wait`] for the sequence number of the last change
//! they saw. The event log publishes events only once they are durable.
//!
//! A failed apply or flush is sticky: the memory is then ahead of the
//! store, so every later write and wait fails until a restart reloads the
//! store.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use c360_storage::{Batch, EventLog, Store};

use crate::{Error, Result};

/// Chunks decided but not yet applied before a writer waits for the
/// persister: enough to overlap one chunk's deciding with the previous
/// one's apply and flush, few enough to bound the memory held.
const QUEUE: usize = 2;

/// One write: the store operations and the events (as the event log
/// stores them), in order.
pub(crate) struct Job {
    pub seq: u64,
    pub batch: Batch,
    pub events: Vec<Vec<u8>>,
}

/// A write handed to the persister; wait for it before acknowledging.
#[must_use = "a write is acknowledged only once Persister::wait returns for it"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pending(pub(crate) u64);

#[derive(Default)]
struct Progress {
    /// The last sequence number durable in the store.
    durable: u64,
    /// Why the store stopped following the memory (sticky).
    failed: Option<String>,
}

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, why: String) {
        let mut progress = self.lock();
        progress.failed.get_or_insert(why);
        drop(progress);
        self.changed.notify_all();
    }
}

pub(crate) struct Persister {
    /// Taken at drop, which ends the thread.
    jobs: Option<SyncSender<Job>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    /// Starts the persister thread; writes are numbered from 1 (what the
    /// store holds at open counts as 0).
    pub fn start(store: Arc<dyn Store>, events: Arc<EventLog>) -> Result<Self> {
        let (jobs, queue) = sync_channel(QUEUE);
        let shared = Arc::new(Shared {
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("c360-resolver-persist".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    // A panic must not leave writers and readers waiting.
                    let _stopped = FailOnUnwind(&shared);
                    run(store.as_ref(), &events, &shared, &queue);
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the persister: {e}")))?;
        Ok(Persister {
            jobs: Some(jobs),
            shared,
            thread: Some(thread),
        })
    }

    /// Fails if an earlier write could not be stored: the memory is ahead
    /// of the store and only a restart brings them together again.
    pub fn check(&self) -> Result<()> {
        match &self.shared.lock().failed {
            Some(_) => Err(Error::Poisoned),
            None => Ok(()),
        }
    }

    /// Queues a write (blocking while the queue is full). Call in the order
    /// the writes were decided, under the writer lock.
    pub fn submit(&self, job: Job) -> Result<Pending> {
        self.check()?;
        let seq = job.seq;
        match self.jobs.as_ref().map(|jobs| jobs.send(job)) {
            Some(Ok(())) => Ok(Pending(seq)),
            _ => {
                self.shared.fail("the persister stopped".to_owned());
                Err(Error::Poisoned)
            }
        }
    }

    /// Blocks until the write `pending` (and every write before it) is
    /// durable.
    pub fn wait(&self, pending: Pending) -> Result<()> {
        let progress = self.shared.lock();
        let progress = self
            .shared
            .changed
            .wait_while(progress, |p| p.durable < pending.0 && p.failed.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        if progress.durable >= pending.0 {
            Ok(())
        } else {
            Err(Error::Poisoned)
        }
    }
}

impl Drop for Persister {
    /// Applies what is queued, then stops the thread (so the store can be
    /// reopened as soon as the resolver is gone).
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // A panic there already failed every waiter (`FailOnUnwind`).
            let _joined = thread.join();
        }
    }
}

/// Fails every waiter if the persister thread unwinds.
struct FailOnUnwind<'a>(&'a Shared);

impl Drop for FailOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail("the persister stopped".to_owned());
        }
    }
}

/// The persister loop: applies each queued job, then one flush for all
/// the jobs that were waiting (group commit).
fn run(store: &dyn Store, events: &EventLog, shared: &Shared, queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut last = None;
        let mut next = Some(first);
        while let Some(job) = next {
            if shared.lock().failed.is_some() {
                // Later writes cannot be stored in order; their waiters
                // fail.
                last = None;
                break;
            }
            let seq = job.seq;
            match apply(store, events, job) {
                Ok(ticket) => last = Some((seq, ticket)),
                Err(e) => shared.fail(e.to_string()),
            }
            next = queue.try_recv().ok();
        }
        let Some((seq, ticket)) = last else {
            continue;
        };
        match events.make_durable(store, ticket) {
            Ok(()) => {
                let mut progress = shared.lock();
                progress.durable = progress.durable.max(seq);
                drop(progress);
                shared.changed.notify_all();
            }
            Err(e) => shared.fail(e.to_string()),
        }
    }
}

fn apply(store: &dyn Store, events: &EventLog, job: Job) -> Result<c360_storage::Ticket> {
    let Job {
        mut batch,
        events: list,
        ..
    } = job;
    let mut guard = events.append_guard();
    for payload in list {
        guard.append(&mut batch, payload);
    }
    Ok(guard.apply(store, batch)?)
}
