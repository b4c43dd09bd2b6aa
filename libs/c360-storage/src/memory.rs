//! The in-memory engine: a `BTreeMap` per keyspace behind one `RwLock`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::{Batch, Result, Store, checked_space_names, unknown_space};

type Space = BTreeMap<Vec<u8>, Vec<u8>>;

/// In-memory twin of [`SledStore`](crate::SledStore) for tests: nothing is
/// persisted, `commit` and `flush` only apply in memory.
///
/// One lock covers all keyspaces, so a batch is atomic for readers.
pub struct MemoryStore {
    spaces: RwLock<BTreeMap<String, Space>>,
}

impl MemoryStore {
    /// An empty store with the given keyspaces.
    ///
    /// # Panics
    ///
    /// If a keyspace name is invalid (see the crate documentation): names are
    /// constants in code, and this constructor is infallible by contract.
    pub fn new(spaces: &[&str]) -> Self {
        let names = match checked_space_names(spaces) {
            Ok(names) => names,
            Err(err) => panic!("{err}"),
        };
        Self {
            spaces: RwLock::new(names.into_iter().map(|n| (n, Space::new())).collect()),
        }
    }

    // A panic while holding the lock cannot leave a half-applied batch
    // (commit validates before mutating, and BTreeMap operations only panic
    // on allocation failure), so poisoning is ignored.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Space>> {
        self.spaces.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Space>> {
        self.spaces.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn space<'m>(spaces: &'m BTreeMap<String, Space>, name: &str) -> Result<&'m Space> {
    spaces.get(name).ok_or_else(|| unknown_space(name))
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spaces = self.read();
        f.debug_struct("MemoryStore")
            .field("spaces", &spaces.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Store for MemoryStore {
    fn get(&self, space_name: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let spaces = self.read();
        Ok(space(&spaces, space_name)?.get(key).cloned())
    }

    fn scan_prefix(
        &self,
        space_name: &str,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let spaces = self.read();
        let space = space(&spaces, space_name)?;
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        Ok(space
            .range::<[u8], _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn last(&self, space_name: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let spaces = self.read();
        Ok(space(&spaces, space_name)?
            .last_key_value()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn apply(&self, batch: Batch) -> Result<()> {
        let mut spaces = self.write();
        if let Some(op) = batch.ops().find(|op| !spaces.contains_key(op.space)) {
            return Err(unknown_space(op.space));
        }
        for op in batch.ops() {
            let Some(space) = spaces.get_mut(op.space) else {
                return Err(unknown_space(op.space)); // checked above
            };
            match op.value {
                Some(value) => {
                    space.insert(op.key.to_vec(), value.to_vec());
                }
                None => {
                    space.remove(op.key);
                }
            }
        }
        Ok(())
    }

    fn count(&self, space_name: &str) -> Result<u64> {
        let spaces = self.read();
        let len = space(&spaces, space_name)?.len();
        Ok(u64::try_from(len).unwrap_or(u64::MAX))
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        crate::conformance::conformance(&MemoryStore::new(crate::conformance::SPACES));
    }

    #[test]
    #[should_panic(expected = "invalid keyspace name")]
    fn invalid_names_panic() {
        let _store = MemoryStore::new(&["no spaces"]);
    }

    #[test]
    fn debug_shows_only_keyspace_names() {
        let store = MemoryStore::new(&["people"]);
        let mut batch = Batch::new();
        batch.put("people", "SECRET", "SECRET");
        store.commit(batch).unwrap();
        let shown = format!("{store:?}");
        assert!(
            !shown.contains("SECRET") && shown.contains("people"),
            "{shown}"
        );
    }
}
