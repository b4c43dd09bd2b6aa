//! The vault domain: consent ledger, identity following, field custody,
//! tokens, blind indexes, access log, legal holds and erasure, over one
//! [`Store`]. Knows nothing of gRPC.
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

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
use c360_proto::resolver::v1 as resolver_api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_rpc::{Caller, PeerChannel, Role};
use c360_storage::{Batch, SledStore, Store};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::consent;
use crate::ledger::{self, Decision, Entry, Hash, Kind, Verdict, Verifier};
use crate::policy::{Access, Policy, mask};
use crate::{Error, Result, VaultConfig};

mod disclosure;
pub use disclosure::{MAX_TARGETS, ReadGrant, reader};

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
    /// The resolver, told to erase (it then publishes CLIENT_ERASED).
    pub resolver: Option<ResolverServiceClient<PeerChannel>>,
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

/// A consent to record.
#[derive(Clone, Debug, Default)]
pub struct ConsentInput {
    pub client_number: String,
    pub purpose: String,
    pub channel: String,
    /// 1 granted, 2 denied, 3 withdrawn (the proto numbers).
    pub decision: i32,
    pub lawful_basis: i32,
    pub evidence_ref: String,
    pub source_system: String,
    pub notice_version: String,
    pub captured_at_ms: i64,
    pub expires_at_ms: i64,
    /// The records the decision came with; empty: those the number stands
    /// for (see [`crate::consent`]).
    pub record_ids: Vec<String>,
}

/// A consent question.
#[derive(Clone, Debug, Default)]
pub struct CheckInput {
    pub client_number: String,
    pub purpose: String,
    pub channel: String,
    /// 0: now.
    pub at_ms: i64,
}

/// A consent answer.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// The survivor the question was answered for.
    pub client_number: String,
    pub verdict: Verdict,
    pub deciding: Option<Entry>,
}

/// A client's consents.
#[derive(Clone, Debug)]
pub struct ConsentsView {
    pub client_number: String,
    pub members: Vec<String>,
    pub current: Vec<(String, String, CheckOutcome)>,
    pub history: Vec<Entry>,
}

/// What VerifyLedger found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub ok: bool,
    pub checked: u64,
    pub first_bad: u64,
    pub problem: String,
    pub head: Hash,
}

/// An access-log entry: who read what, for what, with what outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub sequence: u64,
    pub at_ms: i64,
    pub actor: String,
    pub role: String,
    pub operation: String,
    pub client_numbers: Vec<String>,
    pub fields: Vec<String>,
    pub purpose: String,
    /// "allowed", "masked", "partial" or "denied".
    pub outcome: String,
    pub reason: String,
    pub consent_sequence: u64,
}

/// Filters of QueryAccessLog.
#[derive(Clone, Debug, Default)]
pub struct AccessQuery {
    pub client_number: String,
    pub actor: String,
    pub purpose: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub limit: usize,
    pub after: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub client_number: String,
    pub basis: String,
    pub set_by: String,
    pub set_at_ms: i64,
    /// 0: until released.
    pub expires_at_ms: i64,
}

impl LegalHold {
    fn active(&self, now: i64) -> bool {
        self.expires_at_ms == 0 || self.expires_at_ms > now
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ErasedRecord {
    survivor: String,
    at_ms: i64,
    ledger_sequence: u64,
}

/// What EraseClient did.
#[derive(Clone, Debug)]
pub struct EraseOutcome {
    pub client_number: String,
    pub erased_numbers: Vec<String>,
    pub fields_deleted: u32,
    pub tokens_deleted: u32,
    pub entry: Entry,
    pub resolver_notified: bool,
}

/// Result of ReadFields.
#[derive(Clone, Debug)]
pub struct ReadOutcome {
    pub client_number: String,
    pub fields: Vec<(FieldRef, FieldResult)>,
    pub access_sequence: u64,
    pub consent_sequence: u64,
}

/// Result of RotateKek.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateOutcome {
    pub kek_id: String,
    pub rewrapped: u64,
    pub already_current: u64,
}

/// Export formats of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    JsonLines,
    Csv,
}

/// The access log's outcome of a read: "denied" (every field), "partial"
/// (some), "masked" (none denied, some masked) or "allowed".
fn outcome(accesses: impl Iterator<Item = Access>) -> &'static str {
    let (mut n, mut denied, mut masked) = (0, 0, false);
    for a in accesses {
        n += 1;
        denied += usize::from(a == Access::Deny);
        masked |= a == Access::Masked;
    }
    if n > 0 && denied == n {
        "denied"
    } else if denied > 0 {
        "partial"
    } else if masked {
        "masked"
    } else {
        "allowed"
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------ validation

fn check_token(field: &str, v: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if v.len() > max {
        return Err(Error::invalid(field, format!("is longer than {max} bytes")));
    }
    if !v.chars().all(allowed) {
        return Err(Error::invalid(field, "has characters that are not allowed"));
    }
    Ok(())
}

/// Client numbers are opaque here: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub(crate) fn check_number(field: &str, v: &str) -> Result<()> {
    // Client numbers end with a Crockford mod-37 check symbol, which may be
    // one of * ~ $ = as well as a letter or digit.
    check_token(field, v, 64, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '~' | '$' | '=')
    })
}

fn check_record(field: &str, v: &str) -> Result<()> {
    check_token(field, v, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')
    })
}

/// Field names and purposes: 1 to 64 of `a-z 0-9 _`.
pub(crate) fn check_name(field: &str, v: &str) -> Result<()> {
    check_token(field, v, 64, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
    })
}

/// Channel: empty (every channel) or a contact channel (`SMS`, `EMAIL`...,
/// any case; upper-cased). A consent for a channel nothing contacts on
/// ("FAX") could never be checked: it is refused.
fn normalise_channel(field: &str, v: &str) -> Result<String> {
    use c360_standardise::channel::{CONTACT_CHANNELS, is_contact_channel};
    if v.is_empty() {
        return Ok(String::new());
    }
    let upper = v.to_ascii_uppercase();
    if !is_contact_channel(&upper) {
        return Err(Error::invalid(
            field,
            format!("is not a channel (one of {})", CONTACT_CHANNELS.join(", ")),
        ));
    }
    Ok(upper)
}

/// Free text references (evidence, source system, notice version, basis,
/// reasons): up to 256 bytes, no control characters.
fn check_text(field: &str, v: &str, required: bool) -> Result<()> {
    if required && v.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if v.len() > 256 {
        return Err(Error::invalid(field, "is longer than 256 bytes"));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "has control characters"));
    }
    Ok(())
}

/// Checks `fields[i].ref`; the field path is built only on error.
fn check_ref(i: usize, r: &FieldRef) -> Result<()> {
    check_number("client_number", &r.client_number)
        .and_then(|()| check_record("record_id", &r.record_id))
        .and_then(|()| check_name("field", &r.field))
        .map_err(|e| e.within(|| format!("fields[{i}].ref")))
}

/// Normalises a value for its blind-index domain; `None` when nothing is
/// left to index.
pub(crate) fn normalise_for_index(domain: &str, value: &str) -> Option<String> {
    let v = match domain {
        "phone" | "mobile" | "whatsapp" => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if value.trim_start().starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            }
        }
        "email" => value.trim().to_lowercase(),
        "national_id" => value
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect(),
        _ => value.trim().to_string(),
    };
    (!v.is_empty() && v != "+").then_some(v)
}

// --------------------------------------------------------------- encoding

fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p);
    }
    out
}

fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn seq_of(bytes: &[u8]) -> Result<u64> {
    let a: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt("sequence key is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(a))
}

/// Length-prefixed parts (u32 BE), for values holding several byte strings.
fn pack(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn unpack(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut parts = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(Error::Corrupt("packed value truncated".into()));
        }
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        bytes = &bytes[4..];
        if bytes.len() < len {
            return Err(Error::Corrupt("packed value truncated".into()));
        }
        parts.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    Ok(parts)
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::Corrupt("stored text is not utf-8".into()))
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Internal(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Corrupt(e.to_string()))
}

// ------------------------------------------------------------------ reads

/// Reads, either straight from the store or through a write's overlay.
trait Reads {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

fn scan_all(store: &dyn Store, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
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

struct StoreReads<'a>(&'a dyn Store);

impl Reads for StoreReads<'_> {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(space, key)?)
    }

    fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        scan_all(self.0, space, prefix)
    }
}

fn survivor_of(r: &dyn Reads, number: &str) -> Result<String> {
    let key = [b"a/", number.as_bytes()].concat();
    match r.get(IDENTITY, &key)? {
        Some(s) => utf8(s),
        None => Ok(number.to_string()),
    }
}

fn members_of(r: &dyn Reads, survivor: &str) -> Result<Vec<String>> {
    let key = [b"m/", survivor.as_bytes()].concat();
    match r.get(IDENTITY, &key)? {
        Some(s) => Ok(utf8(s)?.split('\n').map(str::to_string).collect()),
        None => Ok(vec![survivor.to_string()]),
    }
}

/// The sequences of the entries filed under `number`.
fn filed_under(r: &dyn Reads, number: &str) -> Result<Vec<u64>> {
    let prefix = [number.as_bytes(), &[0]].concat();
    r.scan(CONSENT_IDX, &prefix)?
        .into_iter()
        .map(|(k, _)| seq_of(&k[prefix.len()..]))
        .collect()
}

fn entry_at(r: &dyn Reads, seq: u64) -> Result<Entry> {
    let bytes = r
        .get(LEDGER, &seq_key(seq))?
        .ok_or_else(|| Error::Corrupt(format!("ledger entry {seq} missing")))?;
    Entry::from_stored(&bytes).map_err(|e| Error::Corrupt(format!("entry {seq}: {e}")))
}

fn entries_of(r: &dyn Reads, numbers: &[String]) -> Result<Vec<Entry>> {
    let mut seqs = BTreeSet::new();
    for n in numbers {
        seqs.extend(filed_under(r, n)?);
    }
    seqs.into_iter().map(|s| entry_at(r, s)).collect()
}

/// The records that came to the vault under `number` or that a split
/// moved to it.
fn own_records(r: &dyn Reads, number: &str) -> Result<BTreeSet<String>> {
    let prefix = join(&[&[b"n/", number.as_bytes()].concat(), b""]);
    r.scan(IDENTITY, &prefix)?
        .into_iter()
        .map(|(k, _)| utf8(k[prefix.len()..].to_vec()))
        .collect()
}

/// The records a consent recorded now for `number` is recorded for (rule
/// 1 of [`crate::consent`]); the client's are read only when needed.
fn stood_for(r: &dyn Reads, number: &str) -> Result<BTreeSet<String>> {
    let own = own_records(r, number)?;
    let mut client = BTreeSet::new();
    if own.is_empty() {
        for m in members_of(r, &survivor_of(r, number)?)? {
            client.extend(own_records(r, &m)?);
        }
    }
    Ok(consent::stood_for(&own, &client))
}

fn is_erased(r: &dyn Reads, number: &str) -> Result<bool> {
    Ok(r.get(ERASED, number.as_bytes())?.is_some())
}

// ----------------------------------------------------------------- writes

#[derive(Clone, Copy, Debug)]
struct Heads {
    ledger_seq: u64,
    ledger_hash: Hash,
    access_seq: u64,
    feed_offset: u64,
}

/// One write: a batch plus an overlay so that the write reads its own
/// effects.
struct Tx<'a> {
    store: &'a dyn Store,
    batch: Batch,
    overlay: BTreeMap<(String, Vec<u8>), Option<Vec<u8>>>,
    heads: Heads,
    /// Data keys to drop from the cache once committed.
    invalidate: Vec<String>,
}

impl Reads for Tx<'_> {
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

impl Tx<'_> {
    fn put(&mut self, space: &str, key: Vec<u8>, value: Vec<u8>) {
        self.batch.put(space, key.clone(), value.clone());
        self.overlay.insert((space.to_string(), key), Some(value));
    }

    fn delete(&mut self, space: &str, key: Vec<u8>) {
        self.batch.delete(space, key.clone());
        self.overlay.insert((space.to_string(), key), None);
    }

    /// Appends a ledger entry, indexed under its client and related clients.
    fn append(&mut self, mut entry: Entry) -> Entry {
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

    fn log(&mut self, mut rec: AccessRecord) -> Result<u64> {
        let seq = self.heads.access_seq + 1;
        rec.sequence = seq;
        self.put(ACCESS, seq_key(seq).to_vec(), json(&rec)?);
        let clients: BTreeSet<&String> = rec.client_numbers.iter().collect();
        for c in clients {
            self.put(ACCESS_IDX, join(&[c.as_bytes(), &seq_key(seq)]), Vec::new());
        }
        self.heads.access_seq = seq;
        Ok(seq)
    }
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
    /// Opens (creating if needed) the vault in `dir` (a sled store).
    pub fn open(
        dir: &Path,
        config: VaultConfig,
        kek: Arc<dyn KekProvider>,
        peers: VaultPeers,
    ) -> Result<Vault> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir, SPACES)?);
        Self::with_store(dir, store, config, kek, peers)
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
    fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut heads = self.lock();
        let mut tx = Tx {
            store: self.inner.store.as_ref(),
            batch: Batch::new(),
            overlay: BTreeMap::new(),
            heads: *heads,
            invalidate: Vec::new(),
        };
        let out = f(&mut tx)?;
        let Tx {
            batch,
            heads: new_heads,
            invalidate,
            ..
        } = tx;
        self.inner.store.commit(batch)?;
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

    // ------------------------------------------------------------ keys

    /// The unwrapped data key of `number`, if it has one.
    fn load_dek(&self, number: &str) -> Result<Option<Arc<DataKey>>> {
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
    fn dek_for_write(
        &self,
        tx: &mut Tx<'_>,
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

    // -------------------------------------------------------- consents

    fn validate_consent(&self, c: &ConsentInput, prefix: &str, now: i64) -> Result<Entry> {
        let f = |name: &str| format!("{prefix}{name}");
        check_number(&f("client_number"), &c.client_number)?;
        check_name(&f("purpose"), &c.purpose)?;
        let channel = normalise_channel(&f("channel"), &c.channel)?;
        let decision = u8::try_from(c.decision)
            .ok()
            .and_then(Decision::from_code)
            .filter(|d| *d != Decision::None)
            .ok_or_else(|| {
                Error::invalid(&f("decision"), "must be GRANTED, DENIED or WITHDRAWN")
            })?;
        let lawful_basis = match c.lawful_basis {
            // Unspecified: the decision is the client's consent.
            0 => 1,
            b @ 1..=6 => b as u8,
            _ => return Err(Error::invalid(&f("lawful_basis"), "is not a known basis")),
        };
        check_text(&f("evidence_ref"), &c.evidence_ref, false)?;
        check_text(&f("source_system"), &c.source_system, false)?;
        check_text(&f("notice_version"), &c.notice_version, false)?;
        let captured = if c.captured_at_ms == 0 {
            now
        } else {
            c.captured_at_ms
        };
        if captured < 0 || captured > now + 300_000 {
            return Err(Error::invalid(
                &f("captured_at_unix_ms"),
                "is negative or in the future",
            ));
        }
        if c.expires_at_ms != 0 && c.expires_at_ms <= captured {
            return Err(Error::invalid(
                &f("expires_at_unix_ms"),
                "is not after captured_at_unix_ms",
            ));
        }
        if c.record_ids.len() > MAX_CONSENT_RECORDS {
            return Err(Error::invalid(
                &f("record_ids"),
                format!("at most {MAX_CONSENT_RECORDS}"),
            ));
        }
        for (i, r) in c.record_ids.iter().enumerate() {
            check_record(&f(&format!("record_ids[{i}]")), r)?;
        }
        let mut e = Entry::blank(Kind::Consent, &c.client_number);
        e.purpose = c.purpose.clone();
        e.channel = channel;
        e.decision = decision;
        e.lawful_basis = lawful_basis;
        e.evidence_ref = c.evidence_ref.clone();
        e.source_system = c.source_system.clone();
        e.notice_version = c.notice_version.clone();
        e.captured_at_ms = captured;
        e.expires_at_ms = c.expires_at_ms;
        e.recorded_at_ms = now;
        let records: BTreeSet<&String> = c.record_ids.iter().collect();
        e.record_ids = records.into_iter().cloned().collect();
        Ok(e)
    }

    /// Records consents (one durable write for all of them).
    pub fn record_consents(&self, caller: &Caller, inputs: &[ConsentInput]) -> Result<Vec<Entry>> {
        self.check_batch_len("consents", inputs.len())?;
        let now = now_ms();
        let mut entries = Vec::with_capacity(inputs.len());
        for (i, c) in inputs.iter().enumerate() {
            let prefix = if inputs.len() == 1 {
                String::new()
            } else {
                format!("consents[{i}].")
            };
            let mut e = self.validate_consent(c, &prefix, now)?;
            e.actor = caller.id.clone();
            entries.push(e);
        }
        self.write(|tx| {
            let mut out = Vec::with_capacity(entries.len());
            let mut records_of: HashMap<String, Vec<String>> = HashMap::new();
            for e in entries {
                if is_erased(tx, &e.client_number)? {
                    return Err(Error::FailedPrecondition(format!(
                        "client {} was erased",
                        e.client_number
                    )));
                }
                let mut e = e;
                if e.record_ids.is_empty() {
                    e.record_ids = match records_of.get(&e.client_number) {
                        Some(r) => r.clone(),
                        None => {
                            let r: Vec<String> =
                                stood_for(tx, &e.client_number)?.into_iter().collect();
                            records_of.insert(e.client_number.clone(), r.clone());
                            r
                        }
                    };
                }
                out.push(tx.append(e));
            }
            Ok(out)
        })
    }

    pub fn record_consent(&self, caller: &Caller, input: &ConsentInput) -> Result<Entry> {
        let mut v = self.record_consents(caller, std::slice::from_ref(input))?;
        v.pop()
            .ok_or_else(|| Error::Internal("no entry recorded".into()))
    }

    fn check_on(&self, r: &dyn Reads, c: &CheckInput, prefix: &str) -> Result<CheckOutcome> {
        let f = |name: &str| format!("{prefix}{name}");
        check_number(&f("client_number"), &c.client_number)?;
        check_name(&f("purpose"), &c.purpose)?;
        let channel = normalise_channel(&f("channel"), &c.channel)?;
        let at = if c.at_ms == 0 { now_ms() } else { c.at_ms };
        let survivor = survivor_of(r, &c.client_number)?;
        let members = members_of(r, &survivor)?;
        let entries = entries_of(r, &members)?;
        let verdict = ledger::evaluate(&entries, &c.purpose, &channel, at);
        let deciding = verdict
            .deciding
            .and_then(|s| entries.iter().find(|e| e.sequence == s).cloned());
        Ok(CheckOutcome {
            client_number: survivor,
            verdict,
            deciding,
        })
    }

    /// May this client be processed for this purpose on this channel at
    /// this time? Fails closed.
    pub fn check_consent(&self, c: &CheckInput) -> Result<CheckOutcome> {
        self.check_on(&self.reads(), c, "")
    }

    pub fn check_consents(&self, checks: &[CheckInput]) -> Result<Vec<CheckOutcome>> {
        self.check_batch_len("checks", checks.len())?;
        checks
            .iter()
            .enumerate()
            .map(|(i, c)| self.check_on(&self.reads(), c, &format!("checks[{i}].")))
            .collect()
    }

    pub fn get_consents(&self, number: &str) -> Result<ConsentsView> {
        check_number("client_number", number)?;
        let r = self.reads();
        let survivor = survivor_of(&r, number)?;
        let members = members_of(&r, &survivor)?;
        let history = entries_of(&r, &members)?;
        let now = now_ms();
        let current = ledger::current_state(&history, now)
            .into_iter()
            .map(|((p, c), verdict)| {
                let deciding = verdict
                    .deciding
                    .and_then(|s| history.iter().find(|e| e.sequence == s).cloned());
                let outcome = CheckOutcome {
                    client_number: survivor.clone(),
                    verdict,
                    deciding,
                };
                (p, c, outcome)
            })
            .collect();
        Ok(ConsentsView {
            client_number: survivor,
            members,
            current,
            history,
        })
    }

    /// Recomputes the whole chain.
    pub fn verify_ledger(&self) -> Result<VerifyReport> {
        let mut v = Verifier::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self
                .inner
                .store
                .scan_prefix(LEDGER, b"", after.as_deref(), PAGE)?;
            for (k, value) in &page {
                let seq = match k.as_slice().try_into() {
                    Ok(a) => u64::from_be_bytes(a),
                    Err(_) => {
                        return Ok(bad(&v, v.checked() + 1, "undecodable key".into()));
                    }
                };
                if let Err(problem) = v.check(seq, value) {
                    return Ok(bad(&v, v.checked() + 1, problem));
                }
            }
            if page.len() < PAGE {
                break;
            }
            after = page.last().map(|(k, _)| k.clone());
        }
        return Ok(VerifyReport {
            ok: true,
            checked: v.checked(),
            first_bad: 0,
            problem: String::new(),
            head: v.head(),
        });

        fn bad(v: &Verifier, first_bad: u64, problem: String) -> VerifyReport {
            VerifyReport {
                ok: false,
                checked: v.checked(),
                first_bad,
                problem,
                head: ledger::GENESIS,
            }
        }
    }

    /// Writes the ledger (or one client's part of it) to `sink` in chunks
    /// of about `export_chunk_bytes`; stops early when `sink` returns false.
    pub fn export_consents(
        &self,
        format: ExportFormat,
        client: &str,
        from_seq: u64,
        mut sink: impl FnMut(Vec<u8>) -> bool,
    ) -> Result<()> {
        let chunk = self.inner.config.export_chunk_bytes.max(1024);
        let mut buf: Vec<u8> = Vec::with_capacity(chunk + 1024);
        if format == ExportFormat::Csv {
            buf.extend_from_slice(Entry::CSV_HEADER.as_bytes());
        }
        let mut emit = |e: &Entry, buf: &mut Vec<u8>| -> Result<bool> {
            match format {
                ExportFormat::JsonLines => {
                    serde_json::to_writer(&mut *buf, &e.to_json())
                        .map_err(|err| Error::Internal(err.to_string()))?;
                    buf.push(b'\n');
                }
                ExportFormat::Csv => buf.extend_from_slice(e.to_csv_row().as_bytes()),
            }
            if buf.len() >= chunk {
                return Ok(sink(std::mem::take(buf)));
            }
            Ok(true)
        };
        if client.is_empty() {
            let mut after: Option<Vec<u8>> = (from_seq > 1).then(|| seq_key(from_seq - 1).to_vec());
            loop {
                let page = self
                    .inner
                    .store
                    .scan_prefix(LEDGER, b"", after.as_deref(), PAGE)?;
                for (_, v) in &page {
                    let e = Entry::from_stored(v).map_err(Error::Corrupt)?;
                    if !emit(&e, &mut buf)? {
                        return Ok(());
                    }
                }
                if page.len() < PAGE {
                    break;
                }
                after = page.last().map(|(k, _)| k.clone());
            }
        } else {
            check_number("client_number", client)?;
            let r = self.reads();
            let survivor = survivor_of(&r, client)?;
            let members = members_of(&r, &survivor)?;
            for e in entries_of(&r, &members)? {
                if e.sequence >= from_seq && !emit(&e, &mut buf)? {
                    return Ok(());
                }
            }
        }
        if !buf.is_empty() {
            sink(buf);
        }
        Ok(())
    }

    // ----------------------------------------------------- encryption

    /// Encrypts values for other services, each bound to its FieldRef.
    pub fn encrypt(&self, fields: &[(FieldRef, Plain)]) -> Result<Vec<Vec<u8>>> {
        self.check_batch_len("fields", fields.len())?;
        for (i, (r, v)) in fields.iter().enumerate() {
            check_ref(i, r)?;
            self.check_value("value", &v.0)
                .map_err(|e| e.within(|| format!("fields[{i}]")))?;
        }
        let mut keys: HashMap<&str, Arc<DataKey>> = HashMap::new();
        let mut missing: BTreeSet<&str> = BTreeSet::new();
        for (r, _) in fields {
            let n = r.client_number.as_str();
            if keys.contains_key(n) || missing.contains(n) {
                continue;
            }
            match self.load_dek(n)? {
                Some(k) => {
                    keys.insert(n, k);
                }
                None => {
                    missing.insert(n);
                }
            }
        }
        if !missing.is_empty() {
            let created = self.write(|tx| {
                let mut created = HashMap::new();
                for n in &missing {
                    self.dek_for_write(tx, &mut created, n)?;
                }
                Ok(created)
            })?;
            for n in missing {
                if let Some(k) = created.get(n) {
                    keys.insert(n, k.clone());
                } else if let Some(k) = self.load_dek(n)? {
                    keys.insert(n, k);
                }
            }
        }
        fields
            .iter()
            .map(|(r, v)| {
                let key = keys
                    .get(r.client_number.as_str())
                    .ok_or_else(|| Error::Internal("data key vanished".into()))?;
                Ok(key.encrypt(&ctx(r), v.0.as_bytes())?)
            })
            .collect()
    }

    /// Opens one envelope (no policy, no log): the caller checked both.
    fn open_envelope(&self, r: &FieldRef, envelope: &[u8]) -> std::result::Result<String, String> {
        let (key_id, version) =
            envelope_key(envelope).map_err(|_| "malformed ciphertext".to_string())?;
        if version != DEK_VERSION {
            return Err("unknown data key version".into());
        }
        let key = match self.load_dek(&key_id) {
            Ok(Some(k)) => k,
            Ok(None) => return Err("data key destroyed (client erased) or unknown".into()),
            Err(e) => return Err(e.to_string()),
        };
        let plain = key
            .decrypt(&ctx(r), envelope)
            .map_err(|_| "ciphertext rejected: wrong key, wrong context or tampered".to_string())?;
        String::from_utf8(plain).map_err(|_| "value is not utf-8".to_string())
    }

    /// Policy + consent for one (field, purpose) read by `role` on the
    /// client whose survivor is `survivor`; memoises consent per survivor.
    fn decide(
        &self,
        role: Role,
        survivor: &str,
        field: &str,
        purpose: &str,
        consents: &mut HashMap<String, CheckOutcome>,
    ) -> Result<(Access, String, u64)> {
        let access = self.inner.policy.access(role, field, purpose);
        if access == Access::Deny {
            return Ok((
                Access::Deny,
                format!("denied by policy for role {role}, field {field}, purpose {purpose}"),
                0,
            ));
        }
        if !self.inner.policy.needs_consent(purpose) {
            return Ok((access, String::new(), 0));
        }
        if !consents.contains_key(survivor) {
            let c = self.check_consent(&CheckInput {
                client_number: survivor.to_string(),
                purpose: purpose.to_string(),
                channel: String::new(),
                at_ms: 0,
            })?;
            consents.insert(survivor.to_string(), c);
        }
        let c = &consents[survivor];
        if c.verdict.allowed {
            Ok((access, String::new(), c.verdict.deciding.unwrap_or(0)))
        } else {
            Ok((
                Access::Deny,
                format!(
                    "no valid consent for purpose {purpose}: {}",
                    c.verdict.reason
                ),
                0,
            ))
        }
    }

    fn render(access: Access, field: &str, value: String) -> FieldResult {
        match access {
            Access::Clear => FieldResult::Clear(Plain(value)),
            Access::Masked => FieldResult::Masked(Plain(mask(field, &value))),
            Access::Deny => FieldResult::Error("denied".into()),
        }
    }

    fn outcome_of(results: &[FieldResult]) -> &'static str {
        outcome(results.iter().map(|r| match r {
            FieldResult::Error(_) => Access::Deny,
            FieldResult::Masked(_) => Access::Masked,
            FieldResult::Clear(_) => Access::Clear,
        }))
    }

    /// Decrypts values sealed by `encrypt`, under the policy, logged.
    pub fn decrypt(
        &self,
        caller: &Caller,
        purpose: &str,
        fields: &[(FieldRef, Vec<u8>)],
    ) -> Result<Vec<FieldResult>> {
        check_name("purpose", purpose)?;
        self.check_batch_len("fields", fields.len())?;
        for (i, (r, _)) in fields.iter().enumerate() {
            check_ref(i, r)?;
        }
        let r = self.reads();
        let mut survivors: HashMap<&str, String> = HashMap::new();
        let mut consents = HashMap::new();
        let mut results = Vec::with_capacity(fields.len());
        let mut reasons = BTreeSet::new();
        let mut consent_seq = 0;
        for (fr, envelope) in fields {
            let survivor = match survivors.get(fr.client_number.as_str()) {
                Some(s) => s.clone(),
                None => {
                    let s = survivor_of(&r, &fr.client_number)?;
                    survivors.insert(&fr.client_number, s.clone());
                    s
                }
            };
            let (access, reason, cseq) =
                self.decide(caller.role, &survivor, &fr.field, purpose, &mut consents)?;
            if access == Access::Deny {
                reasons.insert(reason.clone());
                results.push(FieldResult::Error(reason));
                continue;
            }
            if consent_seq == 0 {
                consent_seq = cseq;
            }
            match self.open_envelope(fr, envelope) {
                Ok(v) => results.push(Self::render(access, &fr.field, v)),
                Err(e) => {
                    reasons.insert(e.clone());
                    results.push(FieldResult::Error(e));
                }
            }
        }
        let clients: BTreeSet<String> = survivors.into_values().collect();
        let names: BTreeSet<String> = fields.iter().map(|(r, _)| r.field.clone()).collect();
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "decrypt".into(),
            client_numbers: clients.into_iter().collect(),
            fields: names.into_iter().collect(),
            purpose: purpose.to_string(),
            outcome: Self::outcome_of(&results).into(),
            reason: reasons.into_iter().collect::<Vec<_>>().join("; "),
            consent_sequence: consent_seq,
        };
        self.write(|tx| tx.log(rec))?;
        Ok(results)
    }

    // --------------------------------------------------------- fields

    /// Stores personal fields (replacing earlier values), maintaining the
    /// blind indexes. One durable write.
    pub fn put_fields(&self, fields: &[(FieldRef, Plain)]) -> Result<u32> {
        self.check_batch_len("fields", fields.len())?;
        let mut prepared = Vec::with_capacity(fields.len());
        for (i, (r, v)) in fields.iter().enumerate() {
            let mut r = r.clone();
            if r.record_id.is_empty() {
                r.record_id = PROFILE_RECORD.into();
            }
            check_ref(i, &r)?;
            self.check_value("value", &v.0)
                .map_err(|e| e.within(|| format!("fields[{i}]")))?;
            prepared.push((r, v));
        }
        let indexed: BTreeSet<&str> = self
            .inner
            .config
            .blind_index_fields
            .iter()
            .map(String::as_str)
            .collect();
        self.write(|tx| {
            let mut created = HashMap::new();
            for (r, v) in &prepared {
                let key = self.dek_for_write(tx, &mut created, &r.client_number)?;
                let envelope = key.encrypt(&ctx(r), v.0.as_bytes())?;
                let fkey = field_key(r);
                tx.put(FIELDS, fkey.clone(), envelope);
                if let Some(old) = tx.get(BLIND_REV, &fkey)? {
                    tx.delete(BLIND, old);
                    tx.delete(BLIND_REV, fkey.clone());
                }
                if indexed.contains(r.field.as_str()) {
                    let domain = blind_domain(&r.field);
                    if let Some(norm) = normalise_for_index(domain, &v.0) {
                        let tag = self.inner.blind.tag(domain, norm.as_bytes());
                        let bkey = join(&[
                            domain.as_bytes(),
                            &tag,
                            r.client_number.as_bytes(),
                            r.record_id.as_bytes(),
                        ]);
                        tx.put(BLIND, bkey.clone(), Vec::new());
                        tx.put(BLIND_REV, fkey, bkey);
                    }
                }
            }
            Ok(u32::try_from(prepared.len()).unwrap_or(u32::MAX))
        })
    }

    /// Every stored field of `numbers` (optionally one record, some names).
    fn stored_fields(
        &self,
        r: &dyn Reads,
        numbers: &[String],
        record: &str,
        names: &BTreeSet<String>,
    ) -> Result<Vec<(FieldRef, Vec<u8>)>> {
        let mut out = Vec::new();
        for n in numbers {
            let prefix = if record.is_empty() {
                [n.as_bytes(), &[0]].concat()
            } else {
                join(&[n.as_bytes(), record.as_bytes(), b""])
            };
            for (k, v) in r.scan(FIELDS, &prefix)? {
                let fr = parse_field_key(&k)?;
                if names.is_empty() || names.contains(&fr.field) {
                    out.push((fr, v));
                }
            }
        }
        Ok(out)
    }

    /// Reads a client's fields for a purpose, under the policy, logged.
    pub fn read_fields(
        &self,
        caller: &Caller,
        number: &str,
        purpose: &str,
        names: &[String],
        record: &str,
    ) -> Result<ReadOutcome> {
        check_number("client_number", number)?;
        check_name("purpose", purpose)?;
        self.check_batch_len("fields", names.len())?;
        for (i, n) in names.iter().enumerate() {
            check_name(&format!("fields[{i}]"), n)?;
        }
        if !record.is_empty() {
            check_record("record_id", record)?;
        }
        let r = self.reads();
        let survivor = survivor_of(&r, number)?;
        if is_erased(&r, &survivor)? {
            return Err(Error::NotFound(format!("client {survivor} (erased)")));
        }
        let members = members_of(&r, &survivor)?;
        let wanted: BTreeSet<String> = names.iter().cloned().collect();
        let stored = self.stored_fields(&r, &members, record, &wanted)?;
        let mut consents = HashMap::new();
        let mut results = Vec::with_capacity(stored.len());
        let mut reasons = BTreeSet::new();
        let mut consent_seq = 0;
        for (fr, envelope) in &stored {
            let (access, reason, cseq) =
                self.decide(caller.role, &survivor, &fr.field, purpose, &mut consents)?;
            if access == Access::Deny {
                reasons.insert(reason.clone());
                results.push((fr.clone(), FieldResult::Error(reason)));
                continue;
            }
            if consent_seq == 0 {
                consent_seq = cseq;
            }
            let res = match self.open_envelope(fr, envelope) {
                Ok(v) => Self::render(access, &fr.field, v),
                Err(e) => {
                    reasons.insert(e.clone());
                    FieldResult::Error(e)
                }
            };
            results.push((fr.clone(), res));
        }
        let plain_results: Vec<FieldResult> = results.iter().map(|(_, r)| r.clone()).collect();
        let outcome = Self::outcome_of(&plain_results);
        let logged_fields: BTreeSet<String> = if stored.is_empty() {
            wanted.clone()
        } else {
            stored.iter().map(|(r, _)| r.field.clone()).collect()
        };
        let reason = reasons.into_iter().collect::<Vec<_>>().join("; ");
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "read_fields".into(),
            client_numbers: vec![survivor.clone()],
            fields: logged_fields.into_iter().collect(),
            purpose: purpose.to_string(),
            outcome: outcome.into(),
            reason: reason.clone(),
            consent_sequence: consent_seq,
        };
        let access_sequence = self.write(|tx| tx.log(rec))?;
        if outcome == "denied" {
            return Err(Error::PermissionDenied(format!(
                "{reason} (access log entry {access_sequence})"
            )));
        }
        Ok(ReadOutcome {
            client_number: survivor,
            fields: results,
            access_sequence,
            consent_sequence: consent_seq,
        })
    }

    // --------------------------------------------------------- tokens

    fn new_token(&self) -> Result<String> {
        let mut b = [0u8; 16];
        self.inner
            .rng
            .fill(&mut b)
            .map_err(|_| Error::Internal("random generator failed".into()))?;
        Ok(format!("tok_{}", URL_SAFE_NO_PAD.encode(b)))
    }

    pub fn tokenize(&self, fields: &[(FieldRef, Plain)]) -> Result<Vec<String>> {
        self.check_batch_len("fields", fields.len())?;
        let mut prepared = Vec::with_capacity(fields.len());
        for (i, (r, v)) in fields.iter().enumerate() {
            let mut r = r.clone();
            if r.record_id.is_empty() {
                r.record_id = PROFILE_RECORD.into();
            }
            check_ref(i, &r)?;
            self.check_value("value", &v.0)
                .map_err(|e| e.within(|| format!("fields[{i}]")))?;
            prepared.push((r, v));
        }
        self.write(|tx| {
            let mut created = HashMap::new();
            let mut tokens = Vec::with_capacity(prepared.len());
            for (r, v) in &prepared {
                let key = self.dek_for_write(tx, &mut created, &r.client_number)?;
                let token = self.new_token()?;
                let envelope = with_token_ctx(r, &token, |c| key.encrypt(c, v.0.as_bytes()))?;
                let value = pack(&[
                    r.client_number.as_bytes(),
                    r.record_id.as_bytes(),
                    r.field.as_bytes(),
                    &envelope,
                ]);
                tx.put(TOKENS, [b"t/", token.as_bytes()].concat(), value);
                tx.put(
                    TOKENS,
                    join(&[
                        &[b"c/", r.client_number.as_bytes()].concat(),
                        token.as_bytes(),
                    ]),
                    Vec::new(),
                );
                tokens.push(token);
            }
            Ok(tokens)
        })
    }

    pub fn detokenize(
        &self,
        caller: &Caller,
        purpose: &str,
        tokens: &[String],
    ) -> Result<Vec<FieldResult>> {
        check_name("purpose", purpose)?;
        self.check_batch_len("tokens", tokens.len())?;
        for (i, t) in tokens.iter().enumerate() {
            check_token(&format!("tokens[{i}]"), t, 64, |c| {
                c.is_ascii_alphanumeric() || c == '_' || c == '-'
            })?;
        }
        let r = self.reads();
        let mut consents = HashMap::new();
        let mut results = Vec::with_capacity(tokens.len());
        let mut clients = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut reasons = BTreeSet::new();
        let mut consent_seq = 0;
        for t in tokens {
            let Some(value) = r.get(TOKENS, &[b"t/", t.as_bytes()].concat())? else {
                reasons.insert("unknown or erased token".to_string());
                results.push(FieldResult::Error("unknown or erased token".into()));
                continue;
            };
            let mut parts = unpack(&value)?.into_iter();
            let (Some(client), Some(record), Some(field), Some(envelope)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::Corrupt("token value".into()));
            };
            let fr = FieldRef {
                client_number: utf8(client)?,
                record_id: utf8(record)?,
                field: utf8(field)?,
            };
            let survivor = survivor_of(&r, &fr.client_number)?;
            clients.insert(survivor.clone());
            names.insert(fr.field.clone());
            let (access, reason, cseq) =
                self.decide(caller.role, &survivor, &fr.field, purpose, &mut consents)?;
            if access == Access::Deny {
                reasons.insert(reason.clone());
                results.push(FieldResult::Error(reason));
                continue;
            }
            if consent_seq == 0 {
                consent_seq = cseq;
            }
            let opened = self.load_dek(&fr.client_number).and_then(|k| {
                let k = k.ok_or_else(|| Error::NotFound("data key".into()))?;
                Ok(with_token_ctx(&fr, t, |c| k.decrypt(c, &envelope))?)
            });
            match opened.ok().and_then(|p| String::from_utf8(p).ok()) {
                Some(v) => results.push(Self::render(access, &fr.field, v)),
                None => {
                    reasons.insert("token value unreadable".into());
                    results.push(FieldResult::Error("token value unreadable".into()));
                }
            }
        }
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "detokenize".into(),
            client_numbers: clients.into_iter().collect(),
            fields: names.into_iter().collect(),
            purpose: purpose.to_string(),
            outcome: Self::outcome_of(&results).into(),
            reason: reasons.into_iter().collect::<Vec<_>>().join("; "),
            consent_sequence: consent_seq,
        };
        self.write(|tx| tx.log(rec))?;
        Ok(results)
    }

    // ----------------------------------------------------- blind index

    /// Clients holding `value` in `domain`, without decrypting. Logged.
    pub fn lookup_blind_index(
        &self,
        caller: &Caller,
        domain: &str,
        value: &Plain,
        purpose: &str,
    ) -> Result<Vec<String>> {
        check_name("purpose", purpose)?;
        if !self
            .inner
            .config
            .blind_index_fields
            .iter()
            .any(|f| blind_domain(f) == domain)
        {
            return Err(Error::invalid("domain", "is not an indexed domain"));
        }
        self.check_value("value", &value.0)?;
        let norm = normalise_for_index(domain, &value.0)
            .ok_or_else(|| Error::invalid("value", "is empty once normalised"))?;
        let access = self.inner.policy.access(caller.role, domain, purpose);
        let mut found = BTreeSet::new();
        let (outcome, reason) = if access == Access::Deny {
            (
                "denied",
                format!(
                    "denied by policy for role {}, field {domain}, purpose {purpose}",
                    caller.role
                ),
            )
        } else {
            let tag = self.inner.blind.tag(domain, norm.as_bytes());
            let prefix = join(&[domain.as_bytes(), &tag, b""]);
            let r = self.reads();
            for (k, _) in r.scan(BLIND, &prefix)? {
                let rest = &k[prefix.len()..];
                let number = rest.split(|b| *b == 0).next().unwrap_or_default();
                let number = utf8(number.to_vec())?;
                let survivor = survivor_of(&r, &number)?;
                if !is_erased(&r, &survivor)? {
                    found.insert(survivor);
                }
            }
            ("allowed", String::new())
        };
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "lookup".into(),
            client_numbers: found.iter().cloned().collect(),
            fields: vec![domain.to_string()],
            purpose: purpose.to_string(),
            outcome: outcome.into(),
            reason: reason.clone(),
            consent_sequence: 0,
        };
        let seq = self.write(|tx| tx.log(rec))?;
        if outcome == "denied" {
            return Err(Error::PermissionDenied(format!(
                "{reason} (access log entry {seq})"
            )));
        }
        Ok(found.into_iter().collect())
    }

    // ----------------------------------------------------- access log

    pub fn query_access_log(&self, q: &AccessQuery) -> Result<(Vec<AccessRecord>, u64)> {
        let limit = match q.limit {
            0 => 100,
            n => n.min(1000),
        };
        if !q.client_number.is_empty() {
            check_number("client_number", &q.client_number)?;
        }
        if !q.purpose.is_empty() {
            check_name("purpose", &q.purpose)?;
        }
        let store = self.inner.store.as_ref();
        let matches = |rec: &AccessRecord| {
            (q.actor.is_empty() || rec.actor == q.actor)
                && (q.purpose.is_empty() || rec.purpose == q.purpose)
                && (q.from_ms == 0 || rec.at_ms >= q.from_ms)
                && (q.to_ms == 0 || rec.at_ms < q.to_ms)
        };
        let mut out = Vec::new();
        if q.client_number.is_empty() {
            let mut after = (q.after > 0).then(|| seq_key(q.after).to_vec());
            loop {
                let page = store.scan_prefix(ACCESS, b"", after.as_deref(), PAGE)?;
                for (_, v) in &page {
                    let rec: AccessRecord = from_json(v)?;
                    if matches(&rec) {
                        out.push(rec);
                        if out.len() == limit {
                            let next = out.last().map_or(0, |r| r.sequence);
                            return Ok((out, next));
                        }
                    }
                }
                if page.len() < PAGE {
                    return Ok((out, 0));
                }
                after = page.last().map(|(k, _)| k.clone());
            }
        }
        let survivor = survivor_of(&self.reads(), &q.client_number)?;
        let prefix = [survivor.as_bytes(), &[0]].concat();
        let mut after = (q.after > 0).then(|| join(&[survivor.as_bytes(), &seq_key(q.after)]));
        loop {
            let page = store.scan_prefix(ACCESS_IDX, &prefix, after.as_deref(), PAGE)?;
            for (k, _) in &page {
                let seq = seq_of(&k[prefix.len()..])?;
                let Some(v) = store.get(ACCESS, &seq_key(seq))? else {
                    continue;
                };
                let rec: AccessRecord = from_json(&v)?;
                if matches(&rec) {
                    out.push(rec);
                    if out.len() == limit {
                        let next = out.last().map_or(0, |r| r.sequence);
                        return Ok((out, next));
                    }
                }
            }
            if page.len() < PAGE {
                return Ok((out, 0));
            }
            after = page.last().map(|(k, _)| k.clone());
        }
    }

    // ------------------------------------------------ holds, erasure

    pub fn set_legal_hold(
        &self,
        caller: &Caller,
        number: &str,
        basis: &str,
        expires_at_ms: i64,
        release: bool,
    ) -> Result<Option<LegalHold>> {
        check_number("client_number", number)?;
        if !release {
            check_text("basis", basis, true)?;
            // 0: until released. A hold that ends before it starts would
            // hold nothing.
            if expires_at_ms != 0 && expires_at_ms <= now_ms() {
                return Err(Error::invalid("expires_at_unix_ms", "is in the past"));
            }
        }
        self.write(|tx| {
            let survivor = survivor_of(tx, number)?;
            if release {
                tx.delete(HOLDS, survivor.into_bytes());
                return Ok(None);
            }
            if is_erased(tx, &survivor)? {
                return Err(Error::FailedPrecondition(format!(
                    "client {survivor} was erased"
                )));
            }
            let hold = LegalHold {
                client_number: survivor.clone(),
                basis: basis.to_string(),
                set_by: caller.id.clone(),
                set_at_ms: now_ms(),
                expires_at_ms,
            };
            tx.put(HOLDS, survivor.into_bytes(), json(&hold)?);
            Ok(Some(hold))
        })
    }

    fn holds_of(&self, r: &dyn Reads, members: &[String]) -> Result<Vec<LegalHold>> {
        let mut out = Vec::new();
        for m in members {
            if let Some(v) = r.get(HOLDS, m.as_bytes())? {
                out.push(from_json(&v)?);
            }
        }
        Ok(out)
    }

    /// Destroys keys, fields, tokens and index entries of `survivor` and
    /// its members inside `tx`, and appends the erasure entry.
    fn erase_in(
        &self,
        tx: &mut Tx<'_>,
        survivor: &str,
        reason: &str,
        actor: &str,
    ) -> Result<EraseOutcome> {
        let members = members_of(tx, survivor)?;
        let now = now_ms();
        let mut fields_deleted = 0u32;
        let mut tokens_deleted = 0u32;
        for m in &members {
            tx.delete(KEYS, dek_key(m));
            tx.invalidate.push(m.clone());
            let prefix = [m.as_bytes(), &[0]].concat();
            for (k, _) in tx.scan(FIELDS, &prefix)? {
                tx.delete(FIELDS, k);
                fields_deleted += 1;
            }
            for (k, bkey) in tx.scan(BLIND_REV, &prefix)? {
                tx.delete(BLIND, bkey);
                tx.delete(BLIND_REV, k);
            }
            let tprefix = join(&[&[b"c/", m.as_bytes()].concat(), b""]);
            for (k, _) in tx.scan(TOKENS, &tprefix)? {
                let token = &k[tprefix.len()..];
                tx.delete(TOKENS, [b"t/", token].concat());
                tx.delete(TOKENS, k);
                tokens_deleted += 1;
            }
            tx.delete(HOLDS, m.clone().into_bytes());
        }
        let mut e = Entry::blank(Kind::Erasure, survivor);
        e.related_clients = members.iter().filter(|m| *m != survivor).cloned().collect();
        e.actor = actor.to_string();
        e.evidence_ref = reason.to_string();
        e.captured_at_ms = now;
        e.recorded_at_ms = now;
        let entry = tx.append(e);
        let record = json(&ErasedRecord {
            survivor: survivor.to_string(),
            at_ms: now,
            ledger_sequence: entry.sequence,
        })?;
        for m in &members {
            tx.put(ERASED, m.clone().into_bytes(), record.clone());
        }
        Ok(EraseOutcome {
            client_number: survivor.to_string(),
            erased_numbers: members,
            fields_deleted,
            tokens_deleted,
            entry,
            resolver_notified: false,
        })
    }

    /// Erases a client locally (refused under a legal hold) and records
    /// that the resolver must be told. Call [`Vault::notify_resolver`]
    /// afterwards (the gRPC adapter does).
    pub fn erase_client(
        &self,
        caller: &Caller,
        number: &str,
        reason: &str,
    ) -> Result<EraseOutcome> {
        check_number("client_number", number)?;
        check_text("reason", reason, false)?;
        let notify = self.inner.peers.resolver.is_some();
        self.write(|tx| {
            let survivor = survivor_of(tx, number)?;
            let members = members_of(tx, &survivor)?;
            let now = now_ms();
            if let Some(h) = self
                .holds_of(tx, &members)?
                .into_iter()
                .find(|h| h.active(now))
            {
                let until = if h.expires_at_ms == 0 {
                    "until released".to_string()
                } else {
                    format!("until {}", h.expires_at_ms)
                };
                return Err(Error::FailedPrecondition(format!(
                    "client {survivor} is under a legal hold ({}, set by {}, {until}): erasure refused",
                    h.basis, h.set_by
                )));
            }
            if let Some(v) = tx.get(ERASED, survivor.as_bytes())? {
                let rec: ErasedRecord = from_json(&v)?;
                return Err(Error::FailedPrecondition(format!(
                    "client {survivor} was already erased (ledger entry {})",
                    rec.ledger_sequence
                )));
            }
            let out = self.erase_in(tx, &survivor, reason, &caller.id)?;
            if notify {
                tx.put(
                    META,
                    [PENDING, survivor.as_bytes()].concat(),
                    reason.as_bytes().to_vec(),
                );
            }
            Ok(out)
        })
    }

    /// Tells the resolver to erase `survivor`; on success the pending
    /// marker goes. Returns whether the resolver has erased.
    pub async fn notify_resolver(&self, survivor: &str, reason: &str) -> bool {
        let Some(mut client) = self.inner.peers.resolver.clone() else {
            return false;
        };
        let request = resolver_api::EraseClientRequest {
            client_number: survivor.to_string(),
            reason: reason.to_string(),
        };
        // Bounded: a hung resolver must not hold the EraseClient caller; the
        // erasure stays pending and is retried.
        let call = tokio::time::timeout(RESOLVER_TIMEOUT, client.erase_client(request)).await;
        let done = match call {
            Ok(Ok(_)) => true,
            // Unknown to the resolver (a vault-only number) or already
            // erased there: nothing left to do.
            Ok(Err(s)) => matches!(
                s.code(),
                tonic::Code::NotFound | tonic::Code::FailedPrecondition
            ),
            Err(_) => false,
        };
        if !done {
            tracing::warn!(client = %survivor, "resolver erasure pending; will retry");
            return false;
        }
        let vault = self.clone();
        let key = [PENDING, survivor.as_bytes()].concat();
        let cleared = tokio::task::spawn_blocking(move || {
            vault.write(|tx| {
                tx.delete(META, key);
                Ok(())
            })
        })
        .await;
        matches!(cleared, Ok(Ok(())))
    }

    /// Erasures not yet confirmed by the resolver: `(survivor, reason)`.
    pub fn pending_erasures(&self) -> Result<Vec<(String, String)>> {
        scan_all(self.inner.store.as_ref(), META, PENDING)?
            .into_iter()
            .map(|(k, v)| Ok((utf8(k[PENDING.len()..].to_vec())?, utf8(v)?)))
            .collect()
    }

    /// Retries every pending resolver erasure; returns how many remain.
    pub async fn retry_pending_erasures(&self) -> Result<usize> {
        let vault = self.clone();
        let pending = tokio::task::spawn_blocking(move || vault.pending_erasures())
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        let mut remaining = 0;
        for (survivor, reason) in pending {
            if !self.notify_resolver(&survivor, &reason).await {
                remaining += 1;
            }
        }
        Ok(remaining)
    }

    /// Starts (once) a background task retrying pending erasures, when a
    /// resolver is configured and a tokio runtime is running.
    pub(crate) fn start_erasure_retries(&self) {
        if self.inner.peers.resolver.is_none() {
            return;
        }
        let mut running = self
            .inner
            .retry_task
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        let every = Duration::from_secs(self.inner.config.erasure_retry_secs.max(1));
        let task = handle.spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let vault = Vault { inner };
                if let Err(e) = vault.retry_pending_erasures().await {
                    tracing::warn!(error = %e, "retrying pending erasures failed");
                }
                drop(vault);
                tokio::time::sleep(every).await;
            }
        });
        *running = Some(task);
    }

    /// Stops the background retry of erasures and waits until it is gone:
    /// while a retry runs it holds the vault, and with it the store's lock.
    /// The resolver this vault calls (erasures; whether a number was
    /// issued), if one is configured.
    pub fn resolver_peer(&self) -> Option<ResolverServiceClient<PeerChannel>> {
        self.inner.peers.resolver.clone()
    }

    pub async fn stop_background(&self) {
        let task = self
            .inner
            .retry_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    // ---------------------------------------------------------- export

    /// Everything held about a client, as JSON (fields in clear). Logged.
    pub fn export_client(&self, caller: &Caller, number: &str) -> Result<(String, Vec<u8>)> {
        check_number("client_number", number)?;
        let r = self.reads();
        let survivor = survivor_of(&r, number)?;
        let members = members_of(&r, &survivor)?;
        let erased = is_erased(&r, &survivor)?;
        let stored = self.stored_fields(&r, &members, "", &BTreeSet::new())?;
        let mut fields = Vec::new();
        let mut names = BTreeSet::new();
        for (fr, envelope) in &stored {
            names.insert(fr.field.clone());
            let value = match self.open_envelope(fr, envelope) {
                Ok(v) => serde_json::Value::String(v),
                Err(e) => serde_json::json!({ "error": e }),
            };
            fields.push(serde_json::json!({
                "client_number": fr.client_number,
                "record_id": fr.record_id,
                "field": fr.field,
                "value": value,
            }));
        }
        let mut tokens = Vec::new();
        let mut blind = Vec::new();
        for m in &members {
            let tprefix = join(&[&[b"c/", m.as_bytes()].concat(), b""]);
            for (k, _) in r.scan(TOKENS, &tprefix)? {
                let token = utf8(k[tprefix.len()..].to_vec())?;
                let field = r
                    .get(TOKENS, &[b"t/", token.as_bytes()].concat())?
                    .map(|v| unpack(&v))
                    .transpose()?
                    .and_then(|p| p.get(2).cloned())
                    .map(utf8)
                    .transpose()?
                    .unwrap_or_default();
                tokens
                    .push(serde_json::json!({"token": token, "client_number": m, "field": field}));
            }
            for (k, bkey) in r.scan(BLIND_REV, &[m.as_bytes(), &[0]].concat())? {
                let fr = parse_field_key(&k)?;
                let domain = bkey.split(|b| *b == 0).next().unwrap_or_default();
                blind.push(serde_json::json!({
                    "domain": String::from_utf8_lossy(domain),
                    "client_number": fr.client_number,
                    "record_id": fr.record_id,
                    "field": fr.field,
                }));
            }
        }
        let consents = self.get_consents(&survivor)?;
        let holds = self.holds_of(&r, &members)?;
        let (access, _) = self.query_access_log(&AccessQuery {
            client_number: survivor.clone(),
            limit: 1000,
            ..AccessQuery::default()
        })?;
        let doc = serde_json::json!({
            "client_number": survivor,
            "member_numbers": members,
            "erased": erased,
            "fields": fields,
            "tokens": tokens,
            "blind_index": blind,
            "consents": {
                "current": consents.current.iter().map(|(p, c, o)| serde_json::json!({
                    "purpose": p,
                    "channel": c,
                    "allowed": o.verdict.allowed,
                    "reason": o.verdict.reason,
                    "deciding_sequence": o.verdict.deciding,
                })).collect::<Vec<_>>(),
                "history": consents.history.iter().map(Entry::to_json).collect::<Vec<_>>(),
            },
            "legal_holds": holds,
            "access_log": access,
        });
        let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Internal(e.to_string()))?;
        let rec = AccessRecord {
            sequence: 0,
            at_ms: now_ms(),
            actor: caller.id.clone(),
            role: caller.role.to_string(),
            operation: "export_client".into(),
            client_numbers: vec![survivor.clone()],
            fields: names.into_iter().collect(),
            purpose: "access_request".into(),
            outcome: "allowed".into(),
            reason: String::new(),
            consent_sequence: 0,
        };
        self.write(|tx| tx.log(rec))?;
        Ok((survivor, bytes))
    }

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

    // ------------------------------------------------------------ feed

    /// The offset of the last feed event applied.
    pub fn applied(&self) -> u64 {
        self.inner.feed_offset.load(Ordering::SeqCst)
    }

    /// Waits (up to `limit`) until the feed is applied to `offset`.
    pub async fn caught_up(&self, offset: u64, limit: Duration) -> bool {
        let give_up = tokio::time::Instant::now() + limit;
        while self.applied() < offset {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Applies resolver events (one durable write with the checkpoint).
    pub fn apply_events(&self, events: &[resolver_api::Event]) -> Result<()> {
        use resolver_api::EventType as T;
        self.write(|tx| {
            for e in events {
                if e.offset <= tx.heads.feed_offset {
                    continue;
                }
                match e.r#type() {
                    T::ClientCreated | T::RecordAttached => {
                        if !e.record_id.is_empty() && !e.client_number.is_empty() {
                            note_record(tx, &e.client_number, &e.record_id)?;
                        }
                    }
                    T::ClientsMerged => self.apply_merge(tx, e)?,
                    T::ClientSplit => self.apply_split(tx, e)?,
                    T::ClientErased => {
                        let survivor = survivor_of(tx, &e.client_number)?;
                        if !is_erased(tx, &survivor)? {
                            self.erase_in(tx, &survivor, "erased by the resolver", "resolver")?;
                        }
                        tx.delete(META, [PENDING, survivor.as_bytes()].concat());
                    }
                    T::RecordUpdated | T::Unspecified => {}
                }
                tx.heads.feed_offset = e.offset;
            }
            let offset = tx.heads.feed_offset;
            tx.put(META, FEED_OFFSET.to_vec(), offset.to_be_bytes().to_vec());
            Ok(())
        })
    }

    fn apply_merge(&self, tx: &mut Tx<'_>, e: &resolver_api::Event) -> Result<()> {
        let survivor = survivor_of(tx, &e.client_number)?;
        let mut members: BTreeSet<String> = members_of(tx, &survivor)?.into_iter().collect();
        let mut absorbed = Vec::new();
        for a in &e.related_clients {
            let a_survivor = survivor_of(tx, a)?;
            if a_survivor == survivor {
                continue;
            }
            for m in members_of(tx, &a_survivor)? {
                tx.put(
                    IDENTITY,
                    [b"a/", m.as_bytes()].concat(),
                    survivor.clone().into_bytes(),
                );
                members.insert(m);
            }
            tx.delete(IDENTITY, [b"m/", a_survivor.as_bytes()].concat());
            absorbed.push(a_survivor);
        }
        if absorbed.is_empty() {
            return Ok(());
        }
        set_members(tx, &survivor, &members);
        let mut entry = Entry::blank(Kind::Merge, &survivor);
        entry.related_clients = absorbed;
        entry.actor = "resolver".into();
        entry.evidence_ref = format!("event {}", e.offset);
        entry.captured_at_ms = e.at_unix_ms;
        entry.recorded_at_ms = now_ms();
        tx.append(entry);
        Ok(())
    }

    /// Splits follow [`crate::consent`]: each consent entry goes to the
    /// side holding the records it was recorded for, numbers whose own
    /// records all left name the new client, the moved records become the
    /// new number's own.
    fn apply_split(&self, tx: &mut Tx<'_>, e: &resolver_api::Event) -> Result<()> {
        let Some(new) = e.related_clients.first() else {
            return Ok(());
        };
        let original = survivor_of(tx, &e.client_number)?;
        let moving: BTreeSet<String> = e.record_ids.iter().cloned().collect();
        let mut members = Vec::new();
        let mut filed = Vec::new();
        for number in members_of(tx, &original)? {
            for seq in filed_under(tx, &number)? {
                let entry = entry_at(tx, seq)?;
                if entry.kind == Kind::Consent {
                    filed.push(consent::Filed {
                        under: number.clone(),
                        sequence: seq,
                        records: entry.record_ids,
                        restrictive: entry.decision.is_restrictive(),
                    });
                }
            }
            members.push(consent::Member {
                own: own_records(tx, &number)?,
                number,
            });
        }
        let plan = consent::plan_split(&original, new, &moving, &members, &filed);
        for (number, seq) in &plan.unfile {
            tx.delete(CONSENT_IDX, join(&[number.as_bytes(), &seq_key(*seq)]));
        }
        for (number, seq) in &plan.file {
            tx.put(
                CONSENT_IDX,
                join(&[number.as_bytes(), &seq_key(*seq)]),
                Vec::new(),
            );
        }
        for (owner, record) in &plan.rehome {
            tx.delete(
                IDENTITY,
                join(&[&[b"n/", owner.as_bytes()].concat(), record.as_bytes()]),
            );
            tx.put(
                IDENTITY,
                join(&[&[b"n/", new.as_bytes()].concat(), record.as_bytes()]),
                Vec::new(),
            );
        }
        set_members(tx, &original, &plan.kept_numbers);
        let mut new_members: BTreeSet<String> = members_of(tx, new)?.into_iter().collect();
        new_members.insert(new.clone());
        for m in &plan.moved_numbers {
            tx.put(
                IDENTITY,
                [b"a/", m.as_bytes()].concat(),
                new.clone().into_bytes(),
            );
            new_members.insert(m.clone());
        }
        set_members(tx, new, &new_members);
        let mut entry = Entry::blank(Kind::Split, &original);
        entry.related_clients = std::iter::once(new.clone())
            .chain(plan.moved_numbers)
            .collect();
        entry.actor = "resolver".into();
        entry.evidence_ref = format!("event {}", e.offset);
        entry.captured_at_ms = e.at_unix_ms;
        entry.recorded_at_ms = now_ms();
        tx.append(entry);
        Ok(())
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
    fn vault(&self) -> c360_crypto::Result<Vault> {
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

fn note_record(tx: &mut Tx<'_>, number: &str, record: &str) -> Result<()> {
    let rkey = [b"r/", record.as_bytes()].concat();
    if tx.get(IDENTITY, &rkey)?.is_some() {
        return Ok(());
    }
    tx.put(IDENTITY, rkey, number.as_bytes().to_vec());
    tx.put(
        IDENTITY,
        join(&[&[b"n/", number.as_bytes()].concat(), record.as_bytes()]),
        Vec::new(),
    );
    Ok(())
}

fn set_members(tx: &mut Tx<'_>, survivor: &str, members: &BTreeSet<String>) {
    let key = [b"m/", survivor.as_bytes()].concat();
    if members.len() <= 1 {
        tx.delete(IDENTITY, key);
    } else {
        let list: Vec<&str> = members.iter().map(String::as_str).collect();
        tx.put(IDENTITY, key, list.join("\n").into_bytes());
    }
}

fn dek_key(number: &str) -> Vec<u8> {
    [b"d/", number.as_bytes()].concat()
}

fn field_key(r: &FieldRef) -> Vec<u8> {
    join(&[
        r.client_number.as_bytes(),
        r.record_id.as_bytes(),
        r.field.as_bytes(),
    ])
}

fn parse_field_key(k: &[u8]) -> Result<FieldRef> {
    let mut parts = k.split(|b| *b == 0);
    let (Some(c), Some(r), Some(f), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Corrupt("field key".into()));
    };
    Ok(FieldRef {
        client_number: utf8(c.to_vec())?,
        record_id: utf8(r.to_vec())?,
        field: utf8(f.to_vec())?,
    })
}

/// Phone-like fields share one blind-index domain.
fn blind_domain(field: &str) -> &str {
    match field {
        "mobile" | "whatsapp" | "phone" => "phone",
        other => other,
    }
}

fn ctx(r: &FieldRef) -> FieldContext<'_> {
    FieldContext {
        client: &r.client_number,
        record: &r.record_id,
        field: &r.field,
    }
}

/// A token's value is bound to the token itself: its context is (client,
/// `token:<token>`, field), so it cannot be moved to another token.
fn with_token_ctx<T>(r: &FieldRef, token: &str, f: impl FnOnce(&FieldContext<'_>) -> T) -> T {
    let record = format!("token:{token}");
    f(&FieldContext {
        client: &r.client_number,
        record: &record,
        field: &r.field,
    })
}
