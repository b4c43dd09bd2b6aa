//! Key custody: who holds the per-client data keys.

use std::fmt;
use std::sync::Arc;

use crate::Result;
use crate::envelope::DataKey;

/// The holder of the per-client data keys (the vault). Services that encrypt
/// personal data with per-client keys get them from a custodian, so that
/// erasing a client in one place (destroying its keys) makes its data
/// unreadable everywhere, backups included.
///
/// Implementations cache unwrapped keys for a bounded time and never log or
/// echo key material.
pub trait KeyCustodian: Send + Sync + fmt::Debug {
    /// The data key for `key_id` (a client number), created and stored
    /// wrapped if it has none. Fails with [`Error::Custody`](crate::Error)
    /// once the key was destroyed (the client was erased).
    fn data_key(&self, key_id: &str) -> Result<Arc<DataKey>>;

    /// The data key for `key_id` if one exists; `None` when it never
    /// existed or was destroyed.
    fn existing_data_key(&self, key_id: &str) -> Result<Option<Arc<DataKey>>>;

    /// [`data_key`](Self::data_key) for many ids at once, in order (one
    /// round trip and one durable write for a remote custodian).
    fn data_keys(&self, key_ids: &[String]) -> Result<Vec<Arc<DataKey>>> {
        key_ids.iter().map(|id| self.data_key(id)).collect()
    }

    /// [`existing_data_key`](Self::existing_data_key) for many ids, in order.
    fn existing_data_keys(&self, key_ids: &[String]) -> Result<Vec<Option<Arc<DataKey>>>> {
        key_ids
            .iter()
            .map(|id| self.existing_data_key(id))
            .collect()
    }

    /// Drops any cached copy of these keys (their client was erased).
    fn forget(&self, key_ids: &[String]) {
        let _ = key_ids;
    }
}

/// The error for a key that no longer exists: its client was erased.
pub fn key_destroyed(key_id: &str) -> crate::Error {
    crate::Error::Custody(format!(
        "the data key of {key_id} was destroyed (client erased)"
    ))
}
