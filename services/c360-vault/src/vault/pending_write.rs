//! One write: its changes over the store (read-your-writes, through
//! `c360_storage::Overlay`), the heads it moves, and the ledger append.

use super::*;

// ----------------------------------------------------------------- writes

#[derive(Clone, Copy, Debug)]
pub(super) struct Heads {
    pub(super) ledger_seq: u64,
    pub(super) ledger_hash: Hash,
    pub(super) access_seq: u64,
    pub(super) feed_offset: u64,
}

/// One write: its changes laid over the store, so that the write reads its
/// own effects (`c360_storage::Overlay`), and the heads it moves.
pub(super) struct PendingWrite<'a> {
    pub(super) changes: Overlay<'a>,
    pub(super) heads: Heads,
    /// Data keys to drop from the cache once committed.
    pub(super) invalidate: Vec<String>,
}

impl Reads for PendingWrite<'_> {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.changes.get(space, key)?)
    }

    fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self.changes.scan(space, prefix)?)
    }
}

impl PendingWrite<'_> {
    pub(super) fn put(&mut self, space: &str, key: Vec<u8>, value: Vec<u8>) {
        self.changes.put(space, key, value);
    }

    pub(super) fn delete(&mut self, space: &str, key: Vec<u8>) {
        self.changes.delete(space, key);
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
