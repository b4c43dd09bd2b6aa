//! Keys and custody: per-client data keys (created on first write, cached,
//! destroyed by erasure), KEK rotation, and the vault as the key custodian
//! of co-located and remote services.

use super::*;

/// Result of RotateKek.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateOutcome {
    pub kek_id: String,
    pub rewrapped: u64,
    pub already_current: u64,
}

impl Vault {
    // ------------------------------------------------------------ keys

    /// The unwrapped data key of `number`, if it has one.
    pub(super) fn load_dek(&self, number: &str) -> Result<Option<Arc<DataKey>>> {
        if let Some(k) = self.inner.cache.get(number) {
            return Ok(Some(k));
        }
        let epoch = self.inner.erase_epoch.load(Ordering::SeqCst);
        let Some(bytes) = self.inner.store.get(KEYS, &dek_key(number))? else {
            return Ok(None);
        };
        let wrapped = WrappedKey::from_bytes(&bytes)?;
        let key = DataKey::unwrap(number, DEK_VERSION, &wrapped, self.inner.kek.as_ref())?;
        let key = self.inner.cache.insert(key);
        if self.inner.erase_epoch.load(Ordering::SeqCst) != epoch {
            // An erasure committed meanwhile: never cache a destroyed key.
            self.inner.cache.invalidate(number);
            if self.inner.store.get(KEYS, &dek_key(number))?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(key))
    }

    /// The data key of `number` for writing, created (in `tx`) if needed.
    pub(super) fn dek_for_write(
        &self,
        tx: &mut PendingWrite<'_>,
        created: &mut HashMap<String, Arc<DataKey>>,
        number: &str,
    ) -> Result<Arc<DataKey>> {
        if let Some(k) = created.get(number) {
            return Ok(k.clone());
        }
        if is_erased(tx, number)? {
            return Err(Error::FailedPrecondition(format!(
                "client {number} was erased"
            )));
        }
        if let Some(k) = self.load_dek(number)? {
            return Ok(k);
        }
        let key = DataKey::generate(number, DEK_VERSION)?;
        let wrapped = key.wrap(self.inner.kek.as_ref())?;
        tx.put(KEYS, dek_key(number), wrapped.to_bytes());
        // Cached only once committed (by the next load).
        let key = Arc::new(key);
        created.insert(number.to_string(), key.clone());
        Ok(key)
    }
}

impl Vault {
    // ----------------------------------------------------- rotation

    /// Re-wraps every data key and the blind-index key under the current
    /// KEK, in durable batches of 1,000.
    pub fn rotate_kek(&self) -> Result<RotateOutcome> {
        let kek = self.inner.kek.as_ref();
        let current = kek.current_id().to_string();
        let mut rewrapped = 0u64;
        let mut already = 0u64;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .inner
                .store
                .scan_prefix(KEYS, b"", after.as_deref(), 1000)?;
            let done = page.len() < 1000;
            after = page.last().map(|(k, _)| k.clone());
            let (n, a) = self.write(|tx| {
                let (mut n, mut a) = (0, 0);
                for (k, _) in &page {
                    // Re-read under the lock: an erasure may have run.
                    let Some(v) = tx.get(KEYS, k)? else { continue };
                    let wrapped = WrappedKey::from_bytes(&v)?;
                    if wrapped.kek_id() == current {
                        a += 1;
                        continue;
                    }
                    let new = if k.as_slice() == BLIND_KEY {
                        BlindIndexer::rewrap(&wrapped, kek, BLIND_LABEL)?
                    } else {
                        let number = utf8(k[2..].to_vec())?;
                        DataKey::unwrap(&number, DEK_VERSION, &wrapped, kek)?.wrap(kek)?
                    };
                    tx.put(KEYS, k.clone(), new.to_bytes());
                    n += 1;
                }
                Ok((n, a))
            })?;
            rewrapped += n;
            already += a;
            if done {
                break;
            }
        }
        Ok(RotateOutcome {
            kek_id: current,
            rewrapped,
            already_current: already,
        })
    }
}

/// The vault as the custodian of a service in the same process, without
/// keeping the vault alive: the vault calls that service back (erasure), so
/// a strong reference both ways would be a cycle that never closes its
/// store. Fails with a custody error once the vault is closed.
#[derive(Clone, Debug)]
pub struct VaultCustodian(std::sync::Weak<Inner>);

impl Vault {
    pub fn custodian(&self) -> VaultCustodian {
        VaultCustodian(Arc::downgrade(&self.inner))
    }
}

impl VaultCustodian {
    pub(super) fn vault(&self) -> c360_crypto::Result<Vault> {
        self.0
            .upgrade()
            .map(|inner| Vault { inner })
            .ok_or_else(|| c360_crypto::Error::Custody("the vault is closed".into()))
    }
}

impl c360_crypto::KeyCustodian for VaultCustodian {
    fn data_key(&self, key_id: &str) -> c360_crypto::Result<Arc<DataKey>> {
        self.vault()?.data_key(key_id)
    }

    fn existing_data_key(&self, key_id: &str) -> c360_crypto::Result<Option<Arc<DataKey>>> {
        self.vault()?.existing_data_key(key_id)
    }

    fn data_keys(&self, key_ids: &[String]) -> c360_crypto::Result<Vec<Arc<DataKey>>> {
        self.vault()?.data_keys(key_ids)
    }
}

/// A data key's version and its KEK-wrapped bytes.
pub type WrappedDek = (u32, Vec<u8>);

/// Most data keys one custody call hands out.
pub const MAX_KEYS_PER_CALL: usize = 4096;

impl Vault {
    /// The wrapped data keys of `key_ids` (client numbers), in order: the
    /// custody service behind `GetWrappedDataKeys`. With `create`, missing
    /// keys are created, all in one durable write; an erased client's key
    /// stays absent (`None`) either way.
    pub fn wrapped_data_keys(
        &self,
        key_ids: &[String],
        create: bool,
    ) -> Result<Vec<Option<WrappedDek>>> {
        if key_ids.len() > MAX_KEYS_PER_CALL {
            return Err(Error::invalid(
                "key_ids",
                format!("at most {MAX_KEYS_PER_CALL} per call"),
            ));
        }
        for (i, id) in key_ids.iter().enumerate() {
            check_number(&format!("key_ids[{i}]"), id)?;
        }
        let store = self.inner.store.as_ref();
        let mut out = Vec::with_capacity(key_ids.len());
        for id in key_ids {
            out.push(store.get(KEYS, &dek_key(id))?.map(|b| (DEK_VERSION, b)));
        }
        if !create || out.iter().all(Option::is_some) {
            return Ok(out);
        }
        let kek = self.inner.kek.as_ref();
        self.write(|tx| {
            let mut out = Vec::with_capacity(key_ids.len());
            for id in key_ids {
                if let Some(b) = tx.get(KEYS, &dek_key(id))? {
                    out.push(Some((DEK_VERSION, b)));
                } else if is_erased(tx, id)? {
                    out.push(None);
                } else {
                    let wrapped = DataKey::generate(id, DEK_VERSION)?.wrap(kek)?.to_bytes();
                    tx.put(KEYS, dek_key(id), wrapped.clone());
                    out.push(Some((DEK_VERSION, wrapped)));
                }
            }
            Ok(out)
        })
    }
}

/// The vault is the custodian of the per-client data keys: co-located
/// services get them through this trait, so that an erasure here destroys
/// the keys they use too.
impl c360_crypto::KeyCustodian for Vault {
    fn data_key(&self, key_id: &str) -> c360_crypto::Result<Arc<DataKey>> {
        let custody = |e: Error| c360_crypto::Error::Custody(e.to_string());
        check_number("key_id", key_id).map_err(custody)?;
        if let Some(k) = self.load_dek(key_id).map_err(custody)? {
            return Ok(k);
        }
        let created = self
            .write(|tx| {
                let mut created = HashMap::new();
                self.dek_for_write(tx, &mut created, key_id)
            })
            .map_err(custody)?;
        Ok(created)
    }

    fn existing_data_key(&self, key_id: &str) -> c360_crypto::Result<Option<Arc<DataKey>>> {
        let custody = |e: Error| c360_crypto::Error::Custody(e.to_string());
        check_number("key_id", key_id).map_err(custody)?;
        self.load_dek(key_id).map_err(custody)
    }

    fn data_keys(&self, key_ids: &[String]) -> c360_crypto::Result<Vec<Arc<DataKey>>> {
        let custody = |e: Error| c360_crypto::Error::Custody(e.to_string());
        let mut out = Vec::with_capacity(key_ids.len());
        for chunk in key_ids.chunks(MAX_KEYS_PER_CALL) {
            // Creates the missing ones in one write, then unwraps through
            // the cache like any other read.
            let wrapped = self.wrapped_data_keys(chunk, true).map_err(custody)?;
            for (id, w) in chunk.iter().zip(wrapped) {
                let key = match w {
                    Some(_) => self.load_dek(id).map_err(custody)?,
                    None => None,
                };
                out.push(key.ok_or_else(|| c360_crypto::key_destroyed(id))?);
            }
        }
        Ok(out)
    }
}

pub(super) fn dek_key(number: &str) -> Vec<u8> {
    [b"d/", number.as_bytes()].concat()
}
