//! One write: a batch plus an overlay so that the write reads its own
//! effects (read-your-writes), and the ledger append.

use super::*;

// ----------------------------------------------------------------- writes

#[derive(Clone, Copy, Debug)]
pub(super) struct Heads {
    pub(super) ledger_seq: u64,
    pub(super) ledger_hash: Hash,
    pub(super) access_seq: u64,
    pub(super) feed_offset: u64,
}

/// One write: a batch plus an overlay so that the write reads its own
/// effects.
pub(super) struct PendingWrite<'a> {
    pub(super) store: &'a dyn Store,
    pub(super) batch: Batch,
    pub(super) overlay: BTreeMap<(String, Vec<u8>), Option<Vec<u8>>>,
    pub(super) heads: Heads,
    /// Data keys to drop from the cache once committed.
    pub(super) invalidate: Vec<String>,
}

impl Reads for PendingWrite<'_> {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.overlay.get(&(space.to_string(), key.to_vec())) {
            return Ok(v.clone());
        }
        Ok(self.store.get(space, key)?)
    }

    fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            scan_all(self.store, space, prefix)?.into_iter().collect();
        let start = (space.to_string(), prefix.to_vec());
        for ((s, k), v) in self.overlay.range(start..) {
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
}

impl PendingWrite<'_> {
    pub(super) fn put(&mut self, space: &str, key: Vec<u8>, value: Vec<u8>) {
        self.batch.put(space, key.clone(), value.clone());
        self.overlay.insert((space.to_string(), key), Some(value));
    }

    pub(super) fn delete(&mut self, space: &str, key: Vec<u8>) {
        self.batch.delete(space, key.clone());
        self.overlay.insert((space.to_string(), key), None);
    }

    /// Appends a ledger entry, indexed under its client and related clients.
    pub(super) fn append(&mut self, mut entry: Entry) -> Entry {
        let seq = self.heads.ledger_seq + 1;
        entry.chain(seq, self.heads.ledger_hash);
        self.put(LEDGER, seq_key(seq).to_vec(), entry.to_stored());
        let mut numbers: BTreeSet<&str> = BTreeSet::new();
        numbers.insert(&entry.client_number);
        numbers.extend(entry.related_clients.iter().map(String::as_str));
        for n in numbers {
            self.put(
                CONSENT_IDX,
                join(&[n.as_bytes(), &seq_key(seq)]),
                Vec::new(),
            );
        }
        self.heads.ledger_seq = seq;
        self.heads.ledger_hash = entry.hash;
        entry
    }
}
