//! The vault domain: consent ledger, identity following, field custody,
//! tokens, blind indexes, access log, legal holds and erasure, over one
//! [`Store`]. No tonic type and no generated message is used here: the
//! resolver is reached through the [`Resolver`] port and its feed arrives
//! as `c360_rpc::FeedEvent`s, both given by the edge ([`crate::peers`]).
//!
//! This file is the kernel (the vault's state, open, the one durable
//! write); `validate`, `codec`, `reads` and `pending_write` (the read-your-writes
//! overlay) serve every capability, and each capability has its module:
//! `consents`, `keys` (and custody), `fields` (and encryption), `tokens`
//! (and the blind index), `access_log`, `erasure` (and legal holds),
//! `export`, `feed` (the identity feed), `disclosure`; `gate` is the one
//! policy-gated read that decrypt, read-fields and detokenize share.
//!
//! # Writes
//!
//! Every write runs under one writer lock, builds one [`Batch`] (state,
//! ledger entries, access-log entries, feed checkpoint) and is answered only
//! once that batch is committed and flushed. The in-memory heads (ledger
//! sequence and hash, access-log sequence, feed offset) advance only after
//! the commit, so a failed commit leaves nothing half-applied.
//!
//! # Keyspaces
//!
//! ```text
//! ledger       seq u64 BE                      -> canonical entry || sha256
//! consent_idx  number \0 seq                   -> ()   (entries filed under a number)
//! identity     a/number                        -> survivor (absorbed numbers)
//!              m/survivor                      -> member numbers, \n-separated
//!              r/record_id                     -> origin number
//!              n/number \0 record_id           -> ()   (the number's own records)
//! keys         d/number                        -> data key wrapped by the KEK
//!              blind                           -> blind-index key wrapped by the KEK
//! fields       number \0 record \0 field       -> envelope
//! blind        domain \0 tag \0 number \0 record -> ()
//! blind_rev    number \0 record \0 field       -> the blind key above
//! tokens       t/token                         -> number, record, field, envelope
//!              c/number \0 token               -> ()
//! access       seq u64 BE                      -> access record (JSON, no values)
//! access_idx   survivor \0 seq                 -> ()
//! holds        survivor                        -> legal hold (JSON)
//! erased       number                          -> erasure record (JSON)
//! meta         feed_offset                     -> u64 BE
//!              pending/survivor                -> erasure still to tell the resolver
//! ```
//!
//! Nothing personal is stored in clear: values are envelopes, lookups are
//! keyed hashes, the ledger and the access log hold numbers, field names,
//! purposes and references.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use c360_crypto::{
    BlindIndexer, DataKey, DataKeyCache, FieldContext, KekProvider, WrappedKey, envelope_key,
};
use c360_rpc::{Caller, Role};
use c360_storage::{Batch, Overlay, ServiceStorage, StorageConfig, Store, scan_all};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::consent;
use crate::ledger::{self, Decision, Entry, Hash, Kind, Verdict, Verifier};
use crate::policy::{Access, Policy, mask};
use crate::{Error, Result, VaultConfig};

mod access_log;
mod codec;
mod consents;
mod disclosure;
mod erasure;
mod export;
mod feed;
mod fields;
mod gate;
mod keys;
mod pending_write;
mod reads;
mod tokens;
mod validate;

pub use access_log::{AccessQuery, AccessRecord};
pub use consents::{
    CheckInput, CheckOutcome, ConsentInput, ConsentsView, ExportFormat, VerifyReport,
};
pub use disclosure::{MAX_TARGETS, ReadGrant, reader};
pub use erasure::{EraseOutcome, LegalHold, Resolver};
pub use fields::ReadOutcome;
pub use keys::{MAX_KEYS_PER_CALL, RotateOutcome, VaultCustodian};
pub(crate) use validate::{check_name, check_number};

use codec::*;
use fields::*;
use gate::*;
use keys::*;
use pending_write::*;
use reads::*;
use validate::*;

const LEDGER: &str = "ledger";
const CONSENT_IDX: &str = "consent_idx";
const IDENTITY: &str = "identity";
const KEYS: &str = "keys";
const FIELDS: &str = "fields";
const BLIND: &str = "blind";
const BLIND_REV: &str = "blind_rev";
const TOKENS: &str = "tokens";
const ACCESS: &str = "access";
const ACCESS_IDX: &str = "access_idx";
const HOLDS: &str = "holds";
const ERASED: &str = "erased";
const META: &str = "meta";

/// What the vault stores, for `c360_storage::open`.
pub const STORAGE: ServiceStorage = ServiceStorage {
    name: "vault",
    spaces: SPACES,
};

pub(crate) const SPACES: &[&str] = &[
    LEDGER,
    CONSENT_IDX,
    IDENTITY,
    KEYS,
    FIELDS,
    BLIND,
    BLIND_REV,
    TOKENS,
    ACCESS,
    ACCESS_IDX,
    HOLDS,
    ERASED,
    META,
];

/// Every data key is version 1: a client's key is never replaced, only
/// re-wrapped (KEK rotation) or destroyed (erasure).
const DEK_VERSION: u32 = 1;
const BLIND_KEY: &[u8] = b"blind";
const BLIND_LABEL: &str = "vault";
const FEED_OFFSET: &[u8] = b"feed_offset";
const PENDING: &[u8] = b"pending/";
const PAGE: usize = 4096;
/// Most records one consent entry names.
const MAX_CONSENT_RECORDS: usize = 64;
/// How long EraseClient waits for the resolver before leaving the
/// notification pending.
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(10);
/// The record of fields put without one.
pub const PROFILE_RECORD: &str = "profile";

/// Peers the vault calls.
#[derive(Clone, Default)]
pub struct VaultPeers {
    /// The resolver, told to erase (it then publishes CLIENT_ERASED); see
    /// [`crate::peers`] for the one over gRPC.
    pub resolver: Option<Arc<dyn Resolver>>,
}

impl fmt::Debug for VaultPeers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultPeers")
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

/// A personal value: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Plain(pub String);

impl fmt::Debug for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Plain(..)")
    }
}

/// Where a value belongs (the associated data of its envelope).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRef {
    pub client_number: String,
    pub record_id: String,
    pub field: String,
}

/// One field as returned to a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldResult {
    Clear(Plain),
    Masked(Plain),
    /// Why not (never the value).
    Error(String),
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------------ vault

struct Inner {
    dir: PathBuf,
    config: VaultConfig,
    store: Arc<dyn Store>,
    kek: Arc<dyn KekProvider>,
    cache: DataKeyCache,
    blind: BlindIndexer,
    policy: Policy,
    peers: VaultPeers,
    writer: Mutex<Heads>,
    /// Mirrors `writer.feed_offset` for lock-free `applied()`.
    feed_offset: AtomicU64,
    /// Bumped after each erasure commits (see `load_dek`).
    erase_epoch: AtomicU64,
    /// The background retry of pending erasures, once started; stopped by
    /// [`Vault::stop_background`].
    retry_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    rng: SystemRandom,
}

/// The consent and privacy vault. A cheap `Clone` handle.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.inner.dir)
            .field("kek", &self.inner.kek.current_id())
            .field("cache", &self.inner.cache)
            .field("peers", &self.inner.peers)
            .finish()
    }
}

impl Vault {
    /// Opens (creating if needed) the vault's store as `storage` says
    /// (`c360_storage::open`).
    pub fn open(
        storage: &StorageConfig,
        config: VaultConfig,
        kek: Arc<dyn KekProvider>,
        peers: VaultPeers,
    ) -> Result<Vault> {
        let store = c360_storage::open(storage, &STORAGE)?;
        let dir = storage.dir_of(&STORAGE).unwrap_or_default();
        Self::with_store(&dir, store, config, kek, peers)
    }

    /// The vault on any store (tests use `MemoryStore`).
    pub fn with_store(
        dir: &Path,
        store: Arc<dyn Store>,
        config: VaultConfig,
        kek: Arc<dyn KekProvider>,
        peers: VaultPeers,
    ) -> Result<Vault> {
        let policy = Policy::load(config.policy_file.as_deref())?;
        let blind = match store.get(KEYS, BLIND_KEY)? {
            Some(bytes) => {
                BlindIndexer::unwrap(&WrappedKey::from_bytes(&bytes)?, kek.as_ref(), BLIND_LABEL)?
            }
            None => {
                let (ix, wrapped) = BlindIndexer::generate_wrapped(kek.as_ref(), BLIND_LABEL)?;
                let mut b = Batch::new();
                b.put(KEYS, BLIND_KEY.to_vec(), wrapped.to_bytes());
                store.commit(b)?;
                ix
            }
        };
        let (ledger_seq, ledger_hash) = match store.last(LEDGER)? {
            Some((k, v)) => {
                let e = Entry::from_stored(&v)
                    .map_err(|e| Error::Corrupt(format!("last ledger entry: {e}")))?;
                (seq_of(&k)?, e.hash)
            }
            None => (0, ledger::GENESIS),
        };
        let access_seq = match store.last(ACCESS)? {
            Some((k, _)) => seq_of(&k)?,
            None => 0,
        };
        let feed_offset = match store.get(META, FEED_OFFSET)? {
            Some(v) => seq_of(&v)?,
            None => 0,
        };
        let cache = DataKeyCache::new(
            config.key_cache_entries,
            Duration::from_secs(config.key_cache_ttl_secs),
        );
        Ok(Vault {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                config,
                store,
                kek,
                cache,
                blind,
                policy,
                peers,
                writer: Mutex::new(Heads {
                    ledger_seq,
                    ledger_hash,
                    access_seq,
                    feed_offset,
                }),
                feed_offset: AtomicU64::new(feed_offset),
                erase_epoch: AtomicU64::new(0),
                retry_task: Mutex::new(None),
                rng: SystemRandom::new(),
            }),
        })
    }

    pub fn config(&self) -> &VaultConfig {
        &self.inner.config
    }

    fn reads(&self) -> StoreReads<'_> {
        StoreReads(self.inner.store.as_ref())
    }

    fn lock(&self) -> MutexGuard<'_, Heads> {
        // The heads advance only after a commit: a panic cannot leave them
        // ahead of the store.
        self.inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` as one durable write.
    fn write<T>(&self, f: impl FnOnce(&mut PendingWrite<'_>) -> Result<T>) -> Result<T> {
        let mut heads = self.lock();
        let mut tx = PendingWrite {
            changes: Overlay::new(self.inner.store.as_ref()),
            heads: *heads,
            invalidate: Vec::new(),
        };
        let out = f(&mut tx)?;
        let PendingWrite {
            changes,
            heads: new_heads,
            invalidate,
        } = tx;
        self.inner.store.commit(changes.into_batch())?;
        *heads = new_heads;
        self.inner
            .feed_offset
            .store(new_heads.feed_offset, Ordering::SeqCst);
        if !invalidate.is_empty() {
            self.inner.erase_epoch.fetch_add(1, Ordering::SeqCst);
            for n in &invalidate {
                self.inner.cache.invalidate(n);
            }
        }
        Ok(out)
    }

    fn check_batch_len(&self, field: &str, n: usize) -> Result<()> {
        if n > self.inner.config.max_batch_items {
            return Err(Error::invalid(
                field,
                format!(
                    "holds more than {} items",
                    self.inner.config.max_batch_items
                ),
            ));
        }
        Ok(())
    }

    fn check_value(&self, field: &str, v: &str) -> Result<()> {
        if v.len() > self.inner.config.max_value_bytes {
            return Err(Error::invalid(
                field,
                format!("is longer than {} bytes", self.inner.config.max_value_bytes),
            ));
        }
        Ok(())
    }
}
