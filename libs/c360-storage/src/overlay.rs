//! Reading a keyspace whole, and a write that reads its own effects.

use std::collections::BTreeMap;

use crate::{Batch, Result, Store};

/// Rows read per page by [`scan_all`].
const PAGE: usize = 4096;

/// Every row of `space` whose key starts with `prefix`, in key order, read
/// page by page (no cursor is held between pages).
pub fn scan_all(store: &dyn Store, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone());
        let page = store.scan_prefix(space, prefix, after.as_deref(), PAGE)?;
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// One write in the making: the [`Batch`] it will commit, and its changes
/// laid over the store so that the write reads its own effects before it
/// commits (read-your-writes).
pub struct Overlay<'a> {
    store: &'a dyn Store,
    batch: Batch,
    /// The last change of each key: a value, or `None` for a delete.
    changes: BTreeMap<(String, Vec<u8>), Option<Vec<u8>>>,
}

impl std::fmt::Debug for Overlay<'_> {
    /// How many keys changed; never a key or a value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("changes", &self.changes.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Overlay<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Overlay {
            store,
            batch: Batch::new(),
            changes: BTreeMap::new(),
        }
    }

    /// The value of `key` as the write would leave it.
    pub fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.changes.get(&(space.to_string(), key.to_vec())) {
            return Ok(v.clone());
        }
        self.store.get(space, key)
    }

    /// Every row under `prefix` as the write would leave them.
    pub fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            scan_all(self.store, space, prefix)?.into_iter().collect();
        let start = (space.to_string(), prefix.to_vec());
        for ((s, k), v) in self.changes.range(start..) {
            if s != space || !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }

    pub fn put(&mut self, space: &str, key: Vec<u8>, value: Vec<u8>) {
        self.batch.put(space, key.clone(), value.clone());
        self.changes.insert((space.to_string(), key), Some(value));
    }

    pub fn delete(&mut self, space: &str, key: Vec<u8>) {
        self.batch.delete(space, key.clone());
        self.changes.insert((space.to_string(), key), None);
    }

    /// The batch to commit.
    pub fn into_batch(self) -> Batch {
        self.batch
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::MemoryStore;

    #[test]
    fn a_write_reads_its_own_puts_and_deletes_and_scans_merge_them() {
        let store = MemoryStore::new(&["a", "b"]);
        let mut batch = Batch::new();
        for k in ["p1", "p2", "q1"] {
            batch.put("a", k.as_bytes().to_vec(), b"old".to_vec());
        }
        store.commit(batch).unwrap();
        let mut w = Overlay::new(&store);
        w.put("a", b"p3".to_vec(), b"new".to_vec());
        w.delete("a", b"p1".to_vec());
        w.put("b", b"p9".to_vec(), b"other".to_vec());
        assert_eq!(w.get("a", b"p1").unwrap(), None);
        assert_eq!(w.get("a", b"p3").unwrap(), Some(b"new".to_vec()));
        assert_eq!(w.get("a", b"q1").unwrap(), Some(b"old".to_vec()));
        let keys: Vec<Vec<u8>> = w
            .scan("a", b"p")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"p2".to_vec(), b"p3".to_vec()]);
        // Nothing reaches the store before the batch commits.
        assert_eq!(store.get("a", b"p3").unwrap(), None);
        store.commit(w.into_batch()).unwrap();
        assert_eq!(scan_all(&store, "a", b"").unwrap().len(), 3);
        assert_eq!(store.get("b", b"p9").unwrap(), Some(b"other".to_vec()));
    }

    #[test]
    fn scan_all_reads_past_a_page() {
        let store = MemoryStore::new(&["a"]);
        let mut batch = Batch::new();
        for i in 0..(PAGE as u32 + 5) {
            batch.put("a", i.to_be_bytes().to_vec(), Vec::new());
        }
        store.commit(batch).unwrap();
        assert_eq!(scan_all(&store, "a", b"").unwrap().len(), PAGE + 5);
    }
}
