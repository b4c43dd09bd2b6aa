//! Which engine holds the services' state, chosen in one place: a service
//! says what it stores ([`ServiceStorage`]: its name and keyspaces), the
//! process says where and how ([`StorageConfig`]), and [`open`] gives the
//! service a [`Store`]. A new engine is a new variant here, and no service
//! changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, MemoryStore, Result, SledStore, Store};

/// Where and in which engine the services keep their state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    /// Embedded sled: one directory per service under `root`
    /// (`<root>/<service>`), each opened by one process at a time.
    Sled { root: PathBuf },
    /// In memory: nothing survives the process (tests, benchmarks).
    Memory,
}

impl StorageConfig {
    /// Sled stores under `root`.
    pub fn sled(root: impl AsRef<Path>) -> Self {
        StorageConfig::Sled {
            root: root.as_ref().to_path_buf(),
        }
    }

    /// Where a service's store lives on disk, if the engine uses the disk.
    pub fn dir_of(&self, service: &ServiceStorage) -> Option<PathBuf> {
        match self {
            StorageConfig::Sled { root } => Some(root.join(service.name)),
            StorageConfig::Memory => None,
        }
    }
}

/// What a service stores: its name (its directory, later its schema) and
/// its keyspaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceStorage {
    pub name: &'static str,
    pub spaces: &'static [&'static str],
}

/// Opens (creating if needed) the store of `service` as `config` says.
pub fn open(config: &StorageConfig, service: &ServiceStorage) -> Result<Arc<dyn Store>> {
    match config {
        StorageConfig::Sled { root } => {
            let dir = root.join(service.name);
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::Backend(format!("cannot create the {} store: {e}", service.name))
            })?;
            Ok(Arc::new(SledStore::open(&dir, service.spaces)?))
        }
        StorageConfig::Memory => Ok(Arc::new(MemoryStore::new(service.spaces))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Batch;

    const SERVICE: ServiceStorage = ServiceStorage {
        name: "svc",
        spaces: &["a", "b"],
    };

    #[test]
    fn sled_keeps_a_service_in_its_own_directory_and_memory_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let sled = StorageConfig::sled(dir.path());
        assert_eq!(sled.dir_of(&SERVICE), Some(dir.path().join("svc")));
        for config in [&sled, &StorageConfig::Memory] {
            let store = open(config, &SERVICE).unwrap();
            let mut batch = Batch::new();
            batch.put("a", b"k".to_vec(), b"v".to_vec());
            store.commit(batch).unwrap();
        }
        // sled releases its lock when its last background job finishes.
        let reopened = (0..200)
            .find_map(|_| {
                open(&sled, &SERVICE).ok().or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    None
                })
            })
            .unwrap();
        assert_eq!(reopened.get("a", b"k").unwrap(), Some(b"v".to_vec()));
        assert!(dir.path().join("svc").is_dir());
        assert_eq!(StorageConfig::Memory.dir_of(&SERVICE), None);
        let fresh = open(&StorageConfig::Memory, &SERVICE).unwrap();
        assert_eq!(fresh.get("a", b"k").unwrap(), None);
    }
}
