//! The behaviour every engine must have: one suite, run on every engine, and
//! a proptest comparing the engines with a naive model. Public (feature
//! `conformance`) so that another engine's crate runs the same checks:
//! [`check_engine`] with a factory of empty stores, or the
//! [`store_conformance!`](crate::store_conformance) macro, which makes it a
//! test.

// A test suite: a failed expectation panics.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::thread;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use crate::{Batch, Error, Store};

/// The keyspaces the suite expects the store under test to have (empty).
pub const SPACES: &[&str] = &["alpha", "beta"];

type Rows = Vec<(Vec<u8>, Vec<u8>)>;

fn put(store: &dyn Store, space: &str, key: &[u8], value: &[u8]) {
    let mut batch = Batch::new();
    batch.put(space, key, value);
    store.commit(batch).unwrap();
}

fn rows(pairs: &[(&str, &str)]) -> Rows {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Runs the whole suite on an empty store opened with [`SPACES`].
pub fn conformance(store: &dyn Store) {
    for space in SPACES {
        assert_eq!(store.count(space).unwrap(), 0, "store under test not empty");
    }
    get_put_delete(store);
    batch_order_and_atomicity(store);
    apply_is_visible_before_flush(store);
    unknown_keyspace(store);
    clear(store);
    prefix_scans(store);
    clear(store);
    last_and_count(store);
    clear(store);
    concurrent_readers_see_whole_batches(store);
    clear(store);
    store.flush().unwrap();
}

fn clear(store: &dyn Store) {
    let mut batch = Batch::new();
    for space in SPACES {
        for (key, _) in store.scan_prefix(space, &[], None, usize::MAX).unwrap() {
            batch.delete(space, key);
        }
    }
    store.commit(batch).unwrap();
    for space in SPACES {
        assert_eq!(store.count(space).unwrap(), 0);
    }
}

fn get_put_delete(store: &dyn Store) {
    assert_eq!(store.get("alpha", b"k").unwrap(), None);
    put(store, "alpha", b"k", b"v1");
    assert_eq!(store.get("alpha", b"k").unwrap(), Some(b"v1".to_vec()));
    assert_eq!(
        store.get("beta", b"k").unwrap(),
        None,
        "keyspaces are separate"
    );
    put(store, "alpha", b"k", b"v2");
    assert_eq!(store.get("alpha", b"k").unwrap(), Some(b"v2".to_vec()));

    // Empty keys and values, and every byte value, are allowed.
    put(store, "alpha", b"", b"");
    assert_eq!(store.get("alpha", b"").unwrap(), Some(Vec::new()));
    let all_bytes: Vec<u8> = (0..=255).collect();
    put(store, "alpha", &all_bytes, &all_bytes);
    assert_eq!(
        store.get("alpha", &all_bytes).unwrap(),
        Some(all_bytes.clone())
    );

    let mut batch = Batch::new();
    batch.delete("alpha", b"k".as_slice());
    batch.delete("alpha", b"never-there".as_slice());
    store.commit(batch).unwrap();
    assert_eq!(store.get("alpha", b"k").unwrap(), None);
    assert_eq!(store.count("alpha").unwrap(), 2);

    store.commit(Batch::new()).unwrap();
    assert_eq!(store.count("alpha").unwrap(), 2, "empty batch is a no-op");
}

fn batch_order_and_atomicity(store: &dyn Store) {
    // Later operations on the same key win.
    let mut batch = Batch::new();
    batch.put("alpha", "o1", "first");
    batch.delete("alpha", "o1");
    batch.delete("alpha", "o2");
    batch.put("alpha", "o2", "kept");
    batch.put("alpha", "o3", "first");
    batch.put("alpha", "o3", "second");
    // Several keyspaces in one batch.
    batch.put("beta", "o1", "beta");
    store.commit(batch).unwrap();
    assert_eq!(store.get("alpha", b"o1").unwrap(), None);
    assert_eq!(store.get("alpha", b"o2").unwrap(), Some(b"kept".to_vec()));
    assert_eq!(store.get("alpha", b"o3").unwrap(), Some(b"second".to_vec()));
    assert_eq!(store.get("beta", b"o1").unwrap(), Some(b"beta".to_vec()));

    // A batch with one bad operation applies nothing, wherever it is.
    for bad_position in 0..3 {
        let mut batch = Batch::new();
        for i in 0..3 {
            if i == bad_position {
                batch.put("gamma", "x", "x");
            }
            batch.put("alpha", format!("atomic{i}"), "x");
            batch.delete("beta", "o1");
        }
        let err = store.commit(batch).unwrap_err();
        assert_eq!(err, Error::Backend("unknown keyspace `gamma`".into()));
        assert_eq!(
            store.scan_prefix("alpha", b"atomic", None, 10).unwrap(),
            Rows::new()
        );
        assert_eq!(store.get("beta", b"o1").unwrap(), Some(b"beta".to_vec()));
    }
}

/// `apply` is atomic and visible at once, like `commit`; `flush` makes it
/// durable (checked by the crash tests) and changes nothing visible.
fn apply_is_visible_before_flush(store: &dyn Store) {
    let mut batch = Batch::new();
    batch.put("alpha", "applied", "1");
    batch.put("beta", "applied", "2");
    store.apply(batch).unwrap();
    assert_eq!(store.get("alpha", b"applied").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get("beta", b"applied").unwrap(), Some(b"2".to_vec()));
    let mut bad = Batch::new();
    bad.delete("alpha", "applied");
    bad.put("gamma", "x", "x");
    let err = store.apply(bad).unwrap_err();
    assert_eq!(err, Error::Backend("unknown keyspace `gamma`".into()));
    assert_eq!(store.get("alpha", b"applied").unwrap(), Some(b"1".to_vec()));
    store.apply(Batch::new()).unwrap();
    store.flush().unwrap();
    assert_eq!(store.get("alpha", b"applied").unwrap(), Some(b"1".to_vec()));
    let mut batch = Batch::new();
    batch.delete("alpha", "applied");
    batch.delete("beta", "applied");
    store.commit(batch).unwrap();
}

fn unknown_keyspace(store: &dyn Store) {
    let expected = Error::Backend("unknown keyspace `gamma`".into());
    assert_eq!(store.get("gamma", b"k").unwrap_err(), expected);
    assert_eq!(
        store.scan_prefix("gamma", b"", None, 1).unwrap_err(),
        expected
    );
    assert_eq!(store.last("gamma").unwrap_err(), expected);
    assert_eq!(store.count("gamma").unwrap_err(), expected);
    let mut batch = Batch::new();
    batch.delete("gamma", "k");
    assert_eq!(store.commit(batch).unwrap_err(), expected);
    // Not even a prefix or a different case of a real name.
    assert!(store.get("alph", b"k").is_err());
    assert!(store.get("ALPHA", b"k").is_err());
}

fn prefix_scans(store: &dyn Store) {
    let mut batch = Batch::new();
    for key in ["a/1", "a/2", "a/3", "a/10", "ab", "a", "b/1", "\u{7f}"] {
        batch.put("alpha", key, format!("v{key}"));
    }
    batch.put("alpha", vec![b'a', b'/', 0xff], "high");
    batch.put("beta", "a/0", "other space");
    store.commit(batch).unwrap();
    let scan = |prefix: &str, after: Option<&str>, limit| {
        store
            .scan_prefix("alpha", prefix.as_bytes(), after.map(str::as_bytes), limit)
            .unwrap()
    };

    assert_eq!(
        scan("a/", None, 100),
        [
            rows(&[
                ("a/1", "va/1"),
                ("a/10", "va/10"),
                ("a/2", "va/2"),
                ("a/3", "va/3")
            ]),
            vec![(vec![b'a', b'/', 0xff], b"high".to_vec())],
        ]
        .concat(),
        "byte order, 0xff sorts last, other keyspaces excluded"
    );
    assert_eq!(
        scan("a/", None, 2),
        rows(&[("a/1", "va/1"), ("a/10", "va/10")])
    );
    assert_eq!(
        scan("a/", Some("a/10"), 2),
        rows(&[("a/2", "va/2"), ("a/3", "va/3")])
    );
    assert_eq!(
        scan("a/", Some("a/15"), 1),
        rows(&[("a/2", "va/2")]),
        "absent start_after"
    );
    assert_eq!(
        scan("a/", Some("a"), 1),
        rows(&[("a/1", "va/1")]),
        "start_after before prefix"
    );
    assert_eq!(scan("a/", Some(""), 1), rows(&[("a/1", "va/1")]));
    assert_eq!(
        scan("a/", Some("b"), 10),
        Rows::new(),
        "start_after past prefix"
    );
    assert_eq!(scan("a/", None, 0), Rows::new(), "limit 0");
    assert_eq!(scan("c", None, 10), Rows::new(), "no match");
    assert_eq!(
        scan("a/1", None, 10),
        rows(&[("a/1", "va/1"), ("a/10", "va/10")])
    );
    assert_eq!(
        scan("a", None, 100).len(),
        7,
        "the prefix itself is included"
    );
    let everything = scan("", None, usize::MAX);
    assert_eq!(everything.len(), 9);
    assert!(
        everything.windows(2).all(|w| w[0].0 < w[1].0),
        "strictly ordered"
    );

    // Paging with limit 1 visits every key once, in order.
    let mut paged = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .scan_prefix("alpha", b"", after.as_deref(), 1)
            .unwrap();
        let Some(row) = page.into_iter().next() else {
            break;
        };
        after = Some(row.0.clone());
        paged.push(row);
    }
    assert_eq!(paged, everything);
}

fn last_and_count(store: &dyn Store) {
    assert_eq!(store.last("alpha").unwrap(), None);
    assert_eq!(store.count("alpha").unwrap(), 0);
    let mut batch = Batch::new();
    batch.put("alpha", 2u64.to_be_bytes(), "two");
    batch.put("alpha", 256u64.to_be_bytes(), "256");
    batch.put("alpha", 1u64.to_be_bytes(), "one");
    batch.put("beta", vec![0xff; 9], "beta");
    store.commit(batch).unwrap();
    assert_eq!(
        store.last("alpha").unwrap(),
        Some((256u64.to_be_bytes().to_vec(), b"256".to_vec()))
    );
    assert_eq!(
        store.last("beta").unwrap(),
        Some((vec![0xff; 9], b"beta".to_vec()))
    );
    assert_eq!(store.count("alpha").unwrap(), 3);
    assert_eq!(store.count("beta").unwrap(), 1);

    let mut batch = Batch::new();
    batch.delete("alpha", 256u64.to_be_bytes());
    store.commit(batch).unwrap();
    assert_eq!(
        store.last("alpha").unwrap(),
        Some((2u64.to_be_bytes().to_vec(), b"two".to_vec()))
    );
    assert_eq!(store.count("alpha").unwrap(), 2);
}

/// A writer commits the same counter to both keyspaces in each batch; a
/// reader reading alpha then beta must never see beta behind alpha.
fn concurrent_readers_see_whole_batches(store: &dyn Store) {
    const COMMITS: u64 = 60;
    let read = |space| {
        store
            .get(space, b"counter")
            .unwrap()
            .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()))
    };
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let alpha = read("alpha");
                    let beta = read("beta");
                    assert!(beta >= alpha, "half a batch visible: {alpha} {beta}");
                    if alpha == COMMITS {
                        break;
                    }
                }
            });
        }
        s.spawn(|| {
            for counter in 1..=COMMITS {
                let mut batch = Batch::new();
                batch.put("alpha", "counter", counter.to_be_bytes());
                batch.put("beta", "counter", counter.to_be_bytes());
                store.commit(batch).unwrap();
            }
        });
    });
}

#[derive(Debug, Clone)]
enum ModelOp {
    Put(usize, Vec<u8>, Vec<u8>),
    Delete(usize, Vec<u8>),
}

#[derive(Debug, Clone)]
struct Query {
    space: usize,
    prefix: Vec<u8>,
    start_after: Option<Vec<u8>>,
    limit: usize,
}

/// Names used by the model: the last one is unknown to the store.
const MODEL_SPACES: &[&str] = &["alpha", "beta", "gamma"];

fn small_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0u8, 1, b'a', 0x7f, 0xff]),
        0..=max_len,
    )
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    // Unknown keyspaces are rare so that most batches apply.
    let space = prop_oneof![12 => 0..2usize, 1 => Just(2usize)];
    prop_oneof![
        3 => (space.clone(), small_bytes(3), small_bytes(2)).prop_map(|(s, k, v)| ModelOp::Put(s, k, v)),
        1 => (space, small_bytes(3)).prop_map(|(s, k)| ModelOp::Delete(s, k)),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    (
        0..2usize,
        small_bytes(2),
        prop::option::of(small_bytes(3)),
        0..6usize,
    )
        .prop_map(|(space, prefix, start_after, limit)| Query {
            space,
            prefix,
            start_after,
            limit,
        })
}

type Model = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;

fn model_scan(model: &Model, q: &Query) -> Rows {
    model[q.space]
        .iter()
        .filter(|(k, _)| k.starts_with(&q.prefix))
        .filter(|(k, _)| q.start_after.as_ref().is_none_or(|after| *k > after))
        .take(q.limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Applies random batches to `store` and to a naive model, comparing every
/// read after each batch.
fn check_against_model(store: &dyn Store, batches: &[(Vec<ModelOp>, Vec<Query>)]) {
    let mut model: Model = vec![BTreeMap::new(); 2];
    for (ops, queries) in batches {
        let mut batch = Batch::new();
        let mut next = model.clone();
        let mut touches_unknown = false;
        for op in ops {
            match op {
                ModelOp::Put(s, k, v) => {
                    batch.put(MODEL_SPACES[*s], k.clone(), v.clone());
                    match next.get_mut(*s) {
                        Some(space) => drop(space.insert(k.clone(), v.clone())),
                        None => touches_unknown = true,
                    }
                }
                ModelOp::Delete(s, k) => {
                    batch.delete(MODEL_SPACES[*s], k.clone());
                    match next.get_mut(*s) {
                        Some(space) => drop(space.remove(k)),
                        None => touches_unknown = true,
                    }
                }
            }
        }
        let committed = store.commit(batch);
        if touches_unknown {
            assert_eq!(
                committed.unwrap_err(),
                Error::Backend("unknown keyspace `gamma`".into())
            );
        } else {
            committed.unwrap();
            model = next;
        }

        for (s, space) in model.iter().enumerate() {
            let name = MODEL_SPACES[s];
            assert_eq!(store.count(name).unwrap(), space.len() as u64);
            assert_eq!(
                store.last(name).unwrap(),
                space.last_key_value().map(|(k, v)| (k.clone(), v.clone()))
            );
            // With the count, this proves the key sets are equal.
            for (k, v) in space {
                assert_eq!(store.get(name, k).unwrap().as_ref(), Some(v));
            }
        }
        for q in queries {
            let got = store
                .scan_prefix(
                    MODEL_SPACES[q.space],
                    &q.prefix,
                    q.start_after.as_deref(),
                    q.limit,
                )
                .unwrap();
            assert_eq!(got, model_scan(&model, q), "{q:?}");
        }
    }
}

fn batches() -> impl Strategy<Value = Vec<(Vec<ModelOp>, Vec<Query>)>> {
    prop::collection::vec(
        (
            prop::collection::vec(model_op(), 0..8),
            prop::collection::vec(query(), 0..4),
        ),
        1..12,
    )
}

/// Runs the whole suite, then `model_cases` random histories compared with
/// a naive model, each on a new empty store from `open_empty` (opened with
/// the keyspaces [`SPACES`]). Panics on the first difference.
pub fn check_engine(open_empty: &dyn Fn() -> Box<dyn Store>, model_cases: u32) {
    conformance(open_empty().as_ref());
    let mut runner = TestRunner::new(ProptestConfig::with_cases(model_cases));
    let outcome = runner.run(&batches(), |batches| {
        check_against_model(open_empty().as_ref(), &batches);
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("the engine differs from the model: {e}");
    }
}

/// A test running [`check_engine`] on stores made by `$open_empty` (an
/// expression giving an empty store opened with
/// [`conformance::SPACES`](SPACES)), with `$cases` random histories.
#[macro_export]
macro_rules! store_conformance {
    ($name:ident, $open_empty:expr, $cases:expr) => {
        #[test]
        fn $name() {
            $crate::conformance::check_engine(
                &|| -> Box<dyn $crate::Store> { Box::new($open_empty) },
                $cases,
            );
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, SledStore};

    proptest! {
        #[test]
        fn memory_store_matches_model(batches in batches()) {
            check_against_model(&MemoryStore::new(SPACES), &batches);
        }
    }

    proptest! {
        // Each case opens a sled database and flushes on every commit: few cases.
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sled_store_matches_model(batches in batches()) {
            let dir = tempfile::tempdir().unwrap();
            check_against_model(&SledStore::open(dir.path(), SPACES).unwrap(), &batches);
        }
    }

    // The suite as another engine's crate runs it.
    crate::store_conformance!(
        memory_store_through_the_public_suite,
        MemoryStore::new(SPACES),
        16
    );
}
