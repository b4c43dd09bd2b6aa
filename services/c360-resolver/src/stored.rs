//! What the resolver persists. Nothing here holds personal data in clear:
//! record payloads are envelopes from `c360-crypto`, lookups are keyed hashes.

use serde::{Deserialize, Serialize};

/// What the resolver stores, for `c360_storage::open`.
pub const STORAGE: c360_storage::ServiceStorage = c360_storage::ServiceStorage {
    name: "resolver",
    spaces: SPACES,
};

/// Keyspaces of the resolver's store.
pub const SPACES: &[&str] = &[RECORDS, CLIENTS, KEYS, REVIEWS, CONSTRAINTS, META, EVENTS];
pub const RECORDS: &str = "records";
pub const CLIENTS: &str = "clients";
pub const KEYS: &str = "data_keys";
pub const REVIEWS: &str = "reviews";
pub const CONSTRAINTS: &str = "constraints";
pub const META: &str = "meta";
pub const EVENTS: &str = "events";

pub const META_COUNTERS: &[u8] = b"counters";
pub const META_MODEL: &[u8] = b"model";
pub const META_INDEX_KEY: &[u8] = b"index_key";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counters {
    pub next_client: u64,
    pub next_record: u64,
    pub next_task: u64,
}

/// A record's metadata (in clear) and its encrypted payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredRecord {
    pub record_id: String,
    pub client: u64,
    /// Id of the data key that encrypts the payload.
    pub key_id: String,
    pub source_system: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Envelope of the prost-encoded `c360.common.v1.Record` (stored after
    /// the metadata as raw bytes, see [`encode_record`]).
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// A stored record: 4-byte big-endian length of the JSON metadata, the
/// metadata, then the encrypted payload as raw bytes.
pub fn encode_record(r: &StoredRecord) -> Vec<u8> {
    let meta = encode(r);
    let mut out = Vec::with_capacity(4 + meta.len() + r.payload.len());
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(&r.payload);
    out
}

pub fn decode_record(bytes: &[u8]) -> crate::Result<StoredRecord> {
    let corrupt = || crate::Error::Internal("corrupt record".into());
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .ok_or_else(corrupt)?
        .try_into()
        .map_err(|_| corrupt())?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let meta = bytes.get(4..4 + len).ok_or_else(corrupt)?;
    let mut record: StoredRecord = decode(meta, "record")?;
    record.payload = bytes[4 + len..].to_vec();
    Ok(record)
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ClientStatus {
    Active,
    MergedInto(u64),
    Erased,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum LineageKind {
    Created,
    Merged,
    Split,
    Erased,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Lineage {
    pub kind: LineageKind,
    pub clients: Vec<u64>,
    pub record_ids: Vec<String>,
    pub actor: String,
    pub reason: String,
    pub at_ms: i64,
    pub model_version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientState {
    pub number: u64,
    pub status: ClientStatus,
    pub members: Vec<String>,
    /// Numbers absorbed into this client (they resolve here).
    pub aliases: Vec<u64>,
    /// Data keys of this client's records (its own and absorbed ones).
    pub key_ids: Vec<String>,
    pub lineage: Vec<Lineage>,
    pub created_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StoredReview {
    pub task_id: u64,
    pub record_a: String,
    pub record_b: String,
    pub probability: f64,
    pub created_ms: i64,
    /// `None` while open; `Some(true)` accepted, `Some(false)` rejected.
    pub decision: Option<bool>,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> crate::Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| crate::Error::Internal(format!("corrupt {what}: {e}")))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
