//! Crash durability: a child process (this test binary, re-run) commits
//! batches to a SledStore and prints each committed offset; the parent kills
//! it with SIGKILL at an arbitrary point, reopens the store and checks that
//! every acknowledged batch is there and that no batch is half applied.
//!
//! SIGKILL keeps the operating system's page cache, so this proves
//! atomicity and that `commit` wrote before acknowledging, not that the
//! data survives a power loss (that rests on sled's fsync).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{Batch, EventLog, SledStore, Store};

/// Set in the child's environment to the store directory.
const CHILD_ENV: &str = "C360_STORAGE_CRASH_CHILD_DIR";
/// The test the child runs.
const CHILD_TEST: &str = "crash_tests::crash_child_writer";
const SPACES: &[&str] = &["left", "right", "events"];
const LINE_PREFIX: &str = "c360-storage-committed ";
/// Batches the parent waits to see acknowledged before each kill.
const ACKS_BEFORE_KILL: usize = 40;
const ROUNDS: usize = 3;

/// Not a test on its own: the writer loop of the child process. Does
/// nothing unless [`CHILD_ENV`] is set.
#[test]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = SledStore::open(Path::new(&dir), SPACES).unwrap();
    let log = EventLog::open(&store, "events").unwrap();
    let mut stdout = std::io::stdout().lock();
    // Bounded in case the parent never kills us; a closed pipe ends the
    // loop earlier.
    // Pipelined like the resolver: batch k+1 is applied before batch k is
    // made durable and acknowledged, so a kill finds an applied batch that
    // was never flushed.
    let mut pending = None;
    for _ in 0..1_000_000 {
        let mut guard = log.append_guard();
        let counter = guard_next(&log, &store);
        let mut batch = Batch::new();
        // The same counter in two keyspaces, a row per batch in each, and
        // the event: all or nothing.
        batch.put("left", "counter", counter.to_be_bytes());
        batch.put("right", "counter", counter.to_be_bytes());
        batch.put("left", counter.to_be_bytes(), vec![b'l'; 200]);
        batch.put("right", counter.to_be_bytes(), vec![b'r'; 200]);
        let offset = guard.append(&mut batch, counter.to_be_bytes().to_vec());
        assert_eq!(offset, counter);
        let ticket = guard.apply(&store, batch).unwrap();
        if let Some((previous, ticket)) = pending.replace((offset, ticket)) {
            log.make_durable(&store, ticket).unwrap();
            let acknowledged =
                writeln!(stdout, "{LINE_PREFIX}{previous}").and_then(|()| stdout.flush());
            if acknowledged.is_err() {
                return;
            }
        }
    }
}

/// The counter of the next batch: one past the last applied one.
fn guard_next(log: &EventLog, store: &SledStore) -> u64 {
    let applied = counter(store, "left");
    assert!(applied >= log.head());
    applied + 1
}

fn parse_ack(line: &str) -> Option<u64> {
    // The test harness may print on the same line before our output.
    let (_, rest) = line.split_once(LINE_PREFIX)?;
    rest.trim().parse().ok()
}

fn counter(store: &SledStore, space: &str) -> u64 {
    store
        .get(space, b"counter")
        .unwrap()
        .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()))
}

#[test]
fn sigkill_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut max_acked = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();

        let mut acked = Vec::new();
        while acked.len() < ACKS_BEFORE_KILL {
            let Some(line) = lines.next() else {
                panic!("round {round}: child exited after {} acks", acked.len());
            };
            acked.extend(parse_ack(&line.unwrap()));
        }
        child.kill().unwrap();
        // Acknowledgements still in the pipe count too.
        for line in lines {
            acked.extend(parse_ack(&line.unwrap()));
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "round {round}: child was not killed");

        let expected: Vec<u64> = (max_acked + 1..max_acked + 1 + acked.len() as u64).collect();
        assert_eq!(
            acked, expected,
            "round {round}: child resumed from the recovered head"
        );
        max_acked = *acked.last().unwrap();

        let store = SledStore::open(dir.path(), SPACES).unwrap();
        let log = EventLog::open(&store, "events").unwrap();
        let head = log.head();
        assert!(
            head >= max_acked,
            "round {round}: acknowledged {max_acked}, recovered {head}"
        );
        assert!(
            head <= max_acked + 2,
            "round {round}: at most two unacknowledged batches (one acknowledged in the pipe, one applied)"
        );
        assert_eq!(
            counter(&store, "left"),
            head,
            "round {round}: half-applied batch"
        );
        assert_eq!(
            counter(&store, "right"),
            head,
            "round {round}: half-applied batch"
        );
        assert_eq!(store.count("left").unwrap(), head + 1);
        assert_eq!(store.count("right").unwrap(), head + 1);
        let events = log.read_from(&store, 1, usize::MAX).unwrap();
        assert_eq!(events.len() as u64, head);
        for (i, (offset, payload)) in events.iter().enumerate() {
            assert_eq!(*offset, i as u64 + 1);
            assert_eq!(*payload, offset.to_be_bytes());
            let key = offset.to_be_bytes();
            assert!(store.get("left", &key).unwrap().is_some());
            assert!(store.get("right", &key).unwrap().is_some());
        }
        // The next round's child continues from here.
        max_acked = head;
    }
}
