//! The sled engine: one sled tree per keyspace, in one directory.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::{Batch, Error, Result, Store, checked_space_names, unknown_space};

/// sled-backed store: one sled tree per keyspace, in a directory.
///
/// A batch is one sled multi-tree transaction over the trees it touches
/// ([`Store::apply`]); [`Store::commit`] follows it with a flush of the
/// whole database, so it returns only when the batch is on disk. sled locks the directory: a second open
/// of the same directory (in this or another process) fails until the first
/// store is dropped.
pub struct SledStore {
    db: sled::Db,
    trees: BTreeMap<String, sled::Tree>,
    path: PathBuf,
}

impl SledStore {
    /// Opens (creating if needed) the store in directory `path` with the
    /// given keyspaces. Keyspaces already on disk but not listed are left
    /// untouched and unreachable.
    pub fn open(path: &Path, spaces: &[&str]) -> Result<Self> {
        let names = checked_space_names(spaces)?;
        let db = sled::Config::new().path(path).open().map_err(backend)?;
        let trees = names
            .into_iter()
            .map(|name| {
                let tree = db.open_tree(name.as_bytes()).map_err(backend)?;
                Ok((name, tree))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            db,
            trees,
            path: path.to_owned(),
        })
    }

    fn tree(&self, space: &str) -> Result<&sled::Tree> {
        self.trees.get(space).ok_or_else(|| unknown_space(space))
    }
}

/// sled errors carry no keys or values (only tree names, paths and I/O
/// errors), so their text is kept.
fn backend(err: sled::Error) -> Error {
    match err {
        sled::Error::Corruption { .. } => Error::Corrupt(format!("sled: {err}")),
        other => Error::Backend(format!("sled: {other}")),
    }
}

// sled's own `Debug` prints every key and value: never forward to it.
impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .field("spaces", &self.trees.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Store for SledStore {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let value = self.tree(space)?.get(key).map_err(backend)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan_prefix(
        &self,
        space: &str,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let tree = self.tree(space)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut items = Vec::new();
        for item in tree.range::<&[u8], _>((lower, Bound::Unbounded)) {
            let (key, value) = item.map_err(backend)?;
            if !key.starts_with(prefix) {
                break;
            }
            items.push((key.to_vec(), value.to_vec()));
            if items.len() == limit {
                break;
            }
        }
        Ok(items)
    }

    fn last(&self, space: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let last = self.tree(space)?.last().map_err(backend)?;
        Ok(last.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn apply(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // The distinct trees the batch touches, and each operation as
        // (index of its tree, key, value); unknown keyspaces fail here,
        // before anything is written.
        let mut trees: Vec<&sled::Tree> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut ops = Vec::with_capacity(batch.len());
        for op in batch.ops() {
            let index = match names.iter().position(|&n| n == op.space) {
                Some(index) => index,
                None => {
                    trees.push(self.tree(op.space)?);
                    names.push(op.space);
                    names.len() - 1
                }
            };
            ops.push((index, op.key, op.value));
        }

        let applied: std::result::Result<(), TransactionError<()>> =
            trees.as_slice().transaction(|views| {
                for &(index, key, value) in &ops {
                    let view = &views[index];
                    match value {
                        Some(value) => view.insert(key, value).map(drop)?,
                        None => view.remove(key).map(drop)?,
                    }
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        match applied {
            Ok(()) => {}
            Err(TransactionError::Storage(err)) => return Err(backend(err)),
            Err(TransactionError::Abort(())) => {
                return Err(Error::Backend("sled transaction aborted".to_owned()));
            }
        }
        Ok(())
    }

    fn count(&self, space: &str) -> Result<u64> {
        let len = self.tree(space)?.len();
        Ok(u64::try_from(len).unwrap_or(u64::MAX))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map(drop).map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{SPACES, conformance};

    #[test]
    fn passes_conformance() {
        let dir = tempfile::tempdir().unwrap();
        conformance(&SledStore::open(dir.path(), SPACES).unwrap());
    }

    #[test]
    fn reopen_sees_committed_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), SPACES).unwrap();
            let mut batch = Batch::new();
            batch.put("alpha", "k1", "v1");
            batch.put("beta", "k2", "v2");
            batch.put("alpha", "gone", "x");
            store.commit(batch).unwrap();
            let mut batch = Batch::new();
            batch.delete("alpha", "gone");
            store.commit(batch).unwrap();
        }
        let store = SledStore::open(dir.path(), SPACES).unwrap();
        assert_eq!(store.get("alpha", b"k1").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(store.get("beta", b"k2").unwrap(), Some(b"v2".to_vec()));
        assert_eq!(store.get("alpha", b"gone").unwrap(), None);
        assert_eq!(store.count("alpha").unwrap(), 1);
    }

    #[test]
    fn reopen_with_fewer_spaces_keeps_the_others_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), &["a", "b"]).unwrap();
            let mut batch = Batch::new();
            batch.put("b", "k", "v");
            store.commit(batch).unwrap();
        }
        {
            let store = SledStore::open(dir.path(), &["a"]).unwrap();
            assert!(matches!(store.count("b"), Err(Error::Backend(_))));
        }
        let store = SledStore::open(dir.path(), &["a", "b"]).unwrap();
        assert_eq!(store.count("b").unwrap(), 1);
    }

    #[test]
    fn second_open_of_the_same_directory_fails_while_first_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path(), &["a"]).unwrap();
        let second = SledStore::open(dir.path(), &["a"]);
        assert!(matches!(second, Err(Error::Backend(_))), "{second:?}");
    }

    #[test]
    fn invalid_space_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let opened = SledStore::open(dir.path(), &["__sled__default"]);
        assert!(matches!(opened, Err(Error::Backend(_))));
    }

    #[test]
    fn debug_shows_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), &["people"]).unwrap();
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
