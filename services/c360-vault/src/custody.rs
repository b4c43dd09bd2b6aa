//! The vault's key custody, seen from another process: a
//! [`KeyCustodian`] that asks a remote vault (`GetWrappedDataKeys`) for
//! client data keys wrapped under the key-encryption key, and unwraps them
//! with the keyring this process was given. No key travels in clear; the
//! vault alone decides whether a key exists, and an erasure there (the key
//! destroyed) makes the data unreadable here too, once the bounded cache
//! lets go of it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use c360_crypto::{DataKey, DataKeyCache, KekProvider, KeyCustodian, WrappedKey};
use c360_proto::vault::v1 as api;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::PeerChannel;

use crate::vault::MAX_KEYS_PER_CALL;

/// How long a custody call may take before it counts as unavailable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an unwrapped key stays cached here.
pub const REMOTE_KEY_TTL: Duration = Duration::from_secs(300);

/// A [`KeyCustodian`] backed by a vault reached over gRPC (or in process
/// through the same client). Its calls block: use it from blocking threads
/// (`spawn_blocking`), never from an async task.
pub struct RemoteCustodian {
    client: VaultServiceClient<PeerChannel>,
    kek: Arc<dyn KekProvider>,
    cache: DataKeyCache,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for RemoteCustodian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteCustodian").finish_non_exhaustive()
    }
}

fn custody(what: impl fmt::Display) -> c360_crypto::Error {
    c360_crypto::Error::Custody(what.to_string())
}

impl RemoteCustodian {
    /// Must be called inside a tokio runtime (the calls run on it).
    pub fn new(
        client: VaultServiceClient<PeerChannel>,
        kek: Arc<dyn KekProvider>,
        max_cached: usize,
    ) -> Self {
        Self {
            client,
            kek,
            cache: DataKeyCache::new(max_cached, REMOTE_KEY_TTL),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// One `GetWrappedDataKeys` call, waited for on this (blocking) thread.
    fn fetch(
        &self,
        key_ids: &[String],
        create: bool,
    ) -> c360_crypto::Result<Vec<Option<Arc<DataKey>>>> {
        let mut client = self.client.clone();
        let request = api::GetWrappedDataKeysRequest {
            key_ids: key_ids.to_vec(),
            create,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let call = client.get_wrapped_data_keys(request);
            let _ = tx.send(tokio::time::timeout(CALL_TIMEOUT, call).await);
        });
        let response = rx
            .recv()
            .map_err(|_| custody("the vault call was dropped"))?
            .map_err(|_| custody("the vault did not answer in time"))?
            .map_err(|s| custody(format!("vault: {}: {}", s.code(), s.message())))?
            .into_inner();
        if response.keys.len() != key_ids.len() {
            return Err(custody("the vault answered for other keys than asked"));
        }
        key_ids
            .iter()
            .zip(response.keys)
            .map(|(id, k)| {
                if k.key_id != *id {
                    return Err(custody("the vault answered for other keys than asked"));
                }
                if !k.present {
                    return Ok(None);
                }
                let wrapped = WrappedKey::from_bytes(&k.wrapped)?;
                let key = DataKey::unwrap(id, k.version, &wrapped, self.kek.as_ref())?;
                Ok(Some(self.cache.insert(key)))
            })
            .collect()
    }

    /// Cached keys where there are, one call per `MAX_KEYS_PER_CALL` for
    /// the rest.
    fn many(
        &self,
        key_ids: &[String],
        create: bool,
    ) -> c360_crypto::Result<Vec<Option<Arc<DataKey>>>> {
        let mut out: Vec<Option<Arc<DataKey>>> =
            key_ids.iter().map(|id| self.cache.get(id)).collect();
        let missing: Vec<usize> = (0..key_ids.len()).filter(|&i| out[i].is_none()).collect();
        for chunk in missing.chunks(MAX_KEYS_PER_CALL) {
            let ids: Vec<String> = chunk.iter().map(|&i| key_ids[i].clone()).collect();
            for (&i, key) in chunk.iter().zip(self.fetch(&ids, create)?) {
                out[i] = key;
            }
        }
        Ok(out)
    }
}

impl KeyCustodian for RemoteCustodian {
    fn data_key(&self, key_id: &str) -> c360_crypto::Result<Arc<DataKey>> {
        let mut keys = self.data_keys(&[key_id.to_string()])?;
        keys.pop().ok_or_else(|| custody("no key"))
    }

    fn existing_data_key(&self, key_id: &str) -> c360_crypto::Result<Option<Arc<DataKey>>> {
        let mut keys = self.many(&[key_id.to_string()], false)?;
        Ok(keys.pop().flatten())
    }

    fn data_keys(&self, key_ids: &[String]) -> c360_crypto::Result<Vec<Arc<DataKey>>> {
        self.many(key_ids, true)?
            .into_iter()
            .zip(key_ids)
            .map(|(k, id)| k.ok_or_else(|| c360_crypto::key_destroyed(id)))
            .collect()
    }

    fn existing_data_keys(
        &self,
        key_ids: &[String],
    ) -> c360_crypto::Result<Vec<Option<Arc<DataKey>>>> {
        self.many(key_ids, false)
    }

    fn forget(&self, key_ids: &[String]) {
        for id in key_ids {
            self.cache.invalidate(id);
        }
    }
}
