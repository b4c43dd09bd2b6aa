//! The consent ledger: entries, their canonical encoding and hash chain, and
//! the evaluation of consent. Pure code, shared by the service and the
//! property tests.
//!
//! # Canonical encoding
//!
//! Version 1 (every entry without record ids, so every entry written before
//! record ids existed):
//!
//! ```text
//! "c360/consent-entry/v1"
//! sequence u64 BE
//! kind u8 (1 consent, 2 merge, 3 split, 4 erasure)
//! decision u8 (0 none, 1 granted, 2 denied, 3 withdrawn)
//! lawful_basis u8 (the proto LawfulBasis number)
//! client_number, purpose, channel, evidence_ref, source_system, actor,
//! notice_version: each u32 BE length || UTF-8
//! captured_at_ms, expires_at_ms, recorded_at_ms: i64 BE
//! related_clients: u32 BE count, then each u32 BE length || UTF-8
//! prev_hash: 32 bytes
//! ```
//!
//! Version 2 (an entry that names the records it was recorded for) is the
//! same with the magic `"c360/consent-entry/v2"` and, between
//! `related_clients` and `prev_hash`, `record_ids` encoded like
//! `related_clients`. An entry without record ids is always written as
//! version 1, so chains written before version 2 keep their hashes.
//!
//! `hash = SHA-256(canonical)`; the stored value is `canonical || hash`. The
//! first entry's `prev_hash` is 32 zero bytes. Entries hold numbers, record
//! ids, codes and references only: no personal data, so erasure never
//! touches them.
//!
//! # Evaluation
//!
//! Times: an entry takes effect at its *effective time*, the capture time
//! the source claims but never later than the moment the ledger recorded it
//! (a source whose clock runs ahead cannot date an entry into the future;
//! the claim itself is kept as evidence). Order: the ledger sequence, i.e.
//! the order in which the ledger learned of the entries.
//!
//! The entries that apply to `(purpose, channel)` at time `at` are the
//! consent entries for that purpose whose effective time is at or before
//! `at`, on that channel or on every channel (for an every-channel
//! question: every-channel entries and restrictions on any channel). Among
//! them:
//!
//! 1. A withdrawal or denial *beats* a grant when it was recorded after
//!    the grant (whatever times the grant claims), or takes effect at or
//!    after it. So a grant overcomes a restriction only by being both
//!    recorded after it and captured after it: neither a back-dated grant
//!    nor one dated ahead of the clock undoes a restriction.
//! 2. The latest grant (effective time, then sequence) decides: it allows
//!    unless a restriction beats it or it has expired.
//! 3. Otherwise not allowed: "withdrawn"/"denied" by a restriction that
//!    beats the latest grant (or by the latest restriction when there is no
//!    grant), "expired", or "no consent recorded" (fail closed).
//!
//! An erasure entry closes everything.
//!
//! A merged client is evaluated over the union of the entries it holds, so
//! a withdrawal or denial on either side beats the grants it beats on its
//! own side and on the other. Which client holds which entry through
//! merges and splits is the vault's business (`consent.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ring::digest;

pub const HASH_LEN: usize = 32;
pub type Hash = [u8; HASH_LEN];
/// `prev_hash` of the first entry.
pub const GENESIS: Hash = [0; HASH_LEN];
const MAGIC: &[u8] = b"c360/consent-entry/v1";
const MAGIC_V2: &[u8] = b"c360/consent-entry/v2";

/// A recorded decision (the numbers of the proto `ConsentDecision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// Identity entries (merge, split, erasure) decide nothing.
    None = 0,
    Granted = 1,
    Denied = 2,
    Withdrawn = 3,
}

impl Decision {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Decision::None,
            1 => Decision::Granted,
            2 => Decision::Denied,
            3 => Decision::Withdrawn,
            _ => return None,
        })
    }

    pub fn is_restrictive(self) -> bool {
        matches!(self, Decision::Denied | Decision::Withdrawn)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::None => "",
            Decision::Granted => "GRANTED",
            Decision::Denied => "DENIED",
            Decision::Withdrawn => "WITHDRAWN",
        }
    }
}

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Consent = 1,
    Merge = 2,
    Split = 3,
    Erasure = 4,
}

impl Kind {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Kind::Consent,
            2 => Kind::Merge,
            3 => Kind::Split,
            4 => Kind::Erasure,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Consent => "consent",
            Kind::Merge => "merge",
            Kind::Split => "split",
            Kind::Erasure => "erasure",
        }
    }
}

/// Names of the proto `LawfulBasis` values, for exports.
pub fn lawful_basis_name(code: u8) -> &'static str {
    match code {
        1 => "CONSENT",
        2 => "CONTRACT",
        3 => "LEGAL_OBLIGATION",
        4 => "VITAL_INTEREST",
        5 => "PUBLIC_TASK",
        6 => "LEGITIMATE_INTEREST",
        _ => "",
    }
}

/// One ledger entry (no personal data, so `Debug` is plain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub sequence: u64,
    pub kind: Kind,
    pub client_number: String,
    pub purpose: String,
    /// Empty: every channel.
    pub channel: String,
    pub decision: Decision,
    pub lawful_basis: u8,
    pub evidence_ref: String,
    pub source_system: String,
    pub actor: String,
    pub notice_version: String,
    pub captured_at_ms: i64,
    /// 0: does not expire.
    pub expires_at_ms: i64,
    pub recorded_at_ms: i64,
    pub related_clients: Vec<String>,
    /// The records a consent entry was recorded for (empty: not known when
    /// it was recorded, or an identity entry). Sorted, no duplicates.
    pub record_ids: Vec<String>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    // Every string is validated far below 4 GiB.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn push_list(buf: &mut Vec<u8>, items: &[String]) {
    let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&count.to_be_bytes());
    for s in items {
        push_str(buf, s);
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err("truncated".into());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }

    fn i64(&mut self) -> Result<i64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(a))
    }

    fn string(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "string is not utf-8".to_string())
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let count = self.u32()? as usize;
        if count > self.rest.len() / 4 {
            return Err("truncated".into());
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.string()?);
        }
        Ok(items)
    }

    fn hash(&mut self) -> Result<Hash, String> {
        let mut h = GENESIS;
        h.copy_from_slice(self.take(HASH_LEN)?);
        Ok(h)
    }
}

pub fn sha256(bytes: &[u8]) -> Hash {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut h = GENESIS;
    h.copy_from_slice(d.as_ref());
    h
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl Entry {
    /// A consent entry not yet chained (sequence and hashes are set by
    /// [`Entry::chain`]).
    pub fn blank(kind: Kind, client_number: &str) -> Entry {
        Entry {
            sequence: 0,
            kind,
            client_number: client_number.to_string(),
            purpose: String::new(),
            channel: String::new(),
            decision: Decision::None,
            lawful_basis: 0,
            evidence_ref: String::new(),
            source_system: String::new(),
            actor: String::new(),
            notice_version: String::new(),
            captured_at_ms: 0,
            expires_at_ms: 0,
            recorded_at_ms: 0,
            related_clients: Vec::new(),
            record_ids: Vec::new(),
            prev_hash: GENESIS,
            hash: GENESIS,
        }
    }

    /// The bytes the hash commits to.
    pub fn canonical(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(160);
        let v2 = !self.record_ids.is_empty();
        buf.extend_from_slice(if v2 { MAGIC_V2 } else { MAGIC });
        buf.extend_from_slice(&self.sequence.to_be_bytes());
        buf.push(self.kind as u8);
        buf.push(self.decision.code());
        buf.push(self.lawful_basis);
        for s in [
            &self.client_number,
            &self.purpose,
            &self.channel,
            &self.evidence_ref,
            &self.source_system,
            &self.actor,
            &self.notice_version,
        ] {
            push_str(&mut buf, s);
        }
        for t in [self.captured_at_ms, self.expires_at_ms, self.recorded_at_ms] {
            buf.extend_from_slice(&t.to_be_bytes());
        }
        push_list(&mut buf, &self.related_clients);
        if v2 {
            push_list(&mut buf, &self.record_ids);
        }
        buf.extend_from_slice(&self.prev_hash);
        buf
    }

    /// Places the entry after `(sequence - 1, prev_hash)` and computes its hash.
    pub fn chain(&mut self, sequence: u64, prev_hash: Hash) {
        self.sequence = sequence;
        self.prev_hash = prev_hash;
        self.hash = sha256(&self.canonical());
    }

    /// `canonical || hash`.
    pub fn to_stored(&self) -> Vec<u8> {
        let mut bytes = self.canonical();
        bytes.extend_from_slice(&self.hash);
        bytes
    }

    /// Parses a stored entry (does not check the hash: see [`Verifier`]).
    pub fn from_stored(bytes: &[u8]) -> Result<Entry, String> {
        let mut r = Reader { rest: bytes };
        let magic = r.take(MAGIC.len())?;
        let v2 = if magic == MAGIC {
            false
        } else if magic == MAGIC_V2 {
            true
        } else {
            return Err("unknown entry format".into());
        };
        let sequence = r.u64()?;
        let kind = Kind::from_code(r.u8()?).ok_or("unknown kind")?;
        let decision = Decision::from_code(r.u8()?).ok_or("unknown decision")?;
        let lawful_basis = r.u8()?;
        let client_number = r.string()?;
        let purpose = r.string()?;
        let channel = r.string()?;
        let evidence_ref = r.string()?;
        let source_system = r.string()?;
        let actor = r.string()?;
        let notice_version = r.string()?;
        let captured_at_ms = r.i64()?;
        let expires_at_ms = r.i64()?;
        let recorded_at_ms = r.i64()?;
        let related_clients = r.list()?;
        let record_ids = if v2 {
            let ids = r.list()?;
            if ids.is_empty() {
                return Err("version 2 without record ids".into());
            }
            ids
        } else {
            Vec::new()
        };
        let prev_hash = r.hash()?;
        let hash = r.hash()?;
        if !r.rest.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(Entry {
            sequence,
            kind,
            client_number,
            purpose,
            channel,
            decision,
            lawful_basis,
            evidence_ref,
            source_system,
            actor,
            notice_version,
            captured_at_ms,
            expires_at_ms,
            recorded_at_ms,
            related_clients,
            record_ids,
            prev_hash,
            hash,
        })
    }

    /// When the entry takes effect: the claimed capture time, never later
    /// than the ledger's own recording time (0 there: not known, as in
    /// hand-built test entries).
    pub fn effective_at_ms(&self) -> i64 {
        if self.recorded_at_ms > 0 {
            self.captured_at_ms.min(self.recorded_at_ms)
        } else {
            self.captured_at_ms
        }
    }

    /// Whether this consent entry answers the question `(purpose, channel)`
    /// asked for the moment `at_ms`.
    pub fn applies_to(&self, purpose: &str, channel: &str, at_ms: i64) -> bool {
        if self.kind != Kind::Consent || self.purpose != purpose || self.effective_at_ms() > at_ms {
            return false;
        }
        if channel.is_empty() {
            self.channel.is_empty() || self.decision.is_restrictive()
        } else {
            self.channel.is_empty() || self.channel == channel
        }
    }

    /// One JSON object (the auditor export's line).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sequence": self.sequence,
            "kind": self.kind.as_str(),
            "client_number": self.client_number,
            "purpose": self.purpose,
            "channel": self.channel,
            "decision": self.decision.as_str(),
            "lawful_basis": lawful_basis_name(self.lawful_basis),
            "evidence_ref": self.evidence_ref,
            "source_system": self.source_system,
            "actor": self.actor,
            "notice_version": self.notice_version,
            "captured_at_unix_ms": self.captured_at_ms,
            "expires_at_unix_ms": self.expires_at_ms,
            "recorded_at_unix_ms": self.recorded_at_ms,
            "related_clients": self.related_clients,
            "record_ids": self.record_ids,
            "prev_hash": hex(&self.prev_hash),
            "hash": hex(&self.hash),
        })
    }

    pub const CSV_HEADER: &'static str = "sequence,kind,client_number,purpose,channel,decision,lawful_basis,evidence_ref,source_system,actor,notice_version,captured_at_unix_ms,expires_at_unix_ms,recorded_at_unix_ms,related_clients,prev_hash,hash,record_ids\r\n";

    /// One RFC 4180 CSV row (CRLF-terminated).
    pub fn to_csv_row(&self) -> String {
        let cells: [String; 18] = [
            self.sequence.to_string(),
            self.kind.as_str().into(),
            self.client_number.clone(),
            self.purpose.clone(),
            self.channel.clone(),
            self.decision.as_str().into(),
            lawful_basis_name(self.lawful_basis).into(),
            self.evidence_ref.clone(),
            self.source_system.clone(),
            self.actor.clone(),
            self.notice_version.clone(),
            self.captured_at_ms.to_string(),
            self.expires_at_ms.to_string(),
            self.recorded_at_ms.to_string(),
            self.related_clients.join(";"),
            hex(&self.prev_hash),
            hex(&self.hash),
            self.record_ids.join(";"),
        ];
        let mut row = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                row.push(',');
            }
            if cell.contains([',', '"', '\r', '\n']) {
                row.push('"');
                row.push_str(&cell.replace('"', "\"\""));
                row.push('"');
            } else {
                row.push_str(cell);
            }
        }
        row.push_str("\r\n");
        row
    }
}

/// Checks stored entries in ledger order.
#[derive(Debug)]
pub struct Verifier {
    expected: u64,
    prev: Hash,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected: 1,
            prev: GENESIS,
        }
    }
}

impl Verifier {
    /// Checks the entry stored under `key_sequence`; on failure, the problem.
    pub fn check(&mut self, key_sequence: u64, stored: &[u8]) -> Result<(), String> {
        if key_sequence != self.expected {
            return Err(format!("sequence gap: expected entry {}", self.expected));
        }
        if stored.len() < HASH_LEN {
            return Err("undecodable: truncated".into());
        }
        let (canonical, hash) = stored.split_at(stored.len() - HASH_LEN);
        if sha256(canonical).as_slice() != hash {
            return Err("hash mismatch".into());
        }
        let entry = Entry::from_stored(stored).map_err(|e| format!("undecodable: {e}"))?;
        if entry.sequence != key_sequence {
            return Err("sequence does not match its position".into());
        }
        if entry.prev_hash != self.prev {
            return Err(format!(
                "prev_hash does not match entry {}",
                key_sequence - 1
            ));
        }
        self.prev = entry.hash;
        self.expected += 1;
        Ok(())
    }

    pub fn checked(&self) -> u64 {
        self.expected - 1
    }

    pub fn head(&self) -> Hash {
        self.prev
    }
}

/// What a consent check answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The sequence of the entry that decided, if any.
    pub deciding: Option<u64>,
    pub reason: String,
}

/// Evaluates `entries` (one client's, or a merged client's union) for
/// `(purpose, channel)` at `at_ms`. See the module docs. One pass: the
/// latest grant, and the restrictions recorded last and taking effect last
/// (those are the only ones that can beat it).
pub fn evaluate<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    purpose: &str,
    channel: &str,
    at_ms: i64,
) -> Verdict {
    let mut erased: Option<&Entry> = None;
    let mut latest_grant: Option<&Entry> = None;
    let mut last_recorded: Option<&Entry> = None;
    let mut last_effective: Option<&Entry> = None;
    for e in entries {
        // An erasure is final: whatever moment the question is about, an
        // erased client has no consent left to rely on.
        if e.kind == Kind::Erasure {
            erased = Some(e);
        }
        if !e.applies_to(purpose, channel, at_ms) {
            continue;
        }
        if e.decision.is_restrictive() {
            if last_recorded.is_none_or(|r| e.sequence > r.sequence) {
                last_recorded = Some(e);
            }
            if last_effective.is_none_or(|r| effective_key(e) > effective_key(r)) {
                last_effective = Some(e);
            }
        } else if e.decision == Decision::Granted
            && latest_grant.is_none_or(|g| effective_key(e) > effective_key(g))
        {
            latest_grant = Some(e);
        }
    }
    if let Some(e) = erased {
        return Verdict {
            allowed: false,
            deciding: Some(e.sequence),
            reason: format!("client erased by entry {}", e.sequence),
        };
    }
    let deciding = match latest_grant {
        Some(g) => {
            let beaten_by_effect = last_effective.filter(|r| beats(r, g));
            let beaten_by_order = last_recorded.filter(|r| beats(r, g));
            beaten_by_effect.or(beaten_by_order).unwrap_or(g)
        }
        None => match last_effective {
            Some(r) => r,
            None => {
                return Verdict {
                    allowed: false,
                    deciding: None,
                    reason: "no consent recorded".into(),
                };
            }
        },
    };
    let e = deciding;
    let (allowed, reason) = match e.decision {
        Decision::Granted if e.expires_at_ms != 0 && e.expires_at_ms <= at_ms => (
            false,
            format!("expired at {} (entry {})", e.expires_at_ms, e.sequence),
        ),
        Decision::Granted => (true, format!("granted by entry {}", e.sequence)),
        Decision::Denied => (false, format!("denied by entry {}", e.sequence)),
        Decision::Withdrawn => (false, format!("withdrawn by entry {}", e.sequence)),
        Decision::None => (false, "no consent recorded".into()),
    };
    Verdict {
        allowed,
        deciding: Some(e.sequence),
        reason,
    }
}

/// Whether the restriction `r` beats the grant `g`: recorded after it, or
/// taking effect at or after it.
pub fn beats(r: &Entry, g: &Entry) -> bool {
    r.sequence > g.sequence || r.effective_at_ms() >= g.effective_at_ms()
}

fn effective_key(e: &Entry) -> (i64, u64) {
    (e.effective_at_ms(), e.sequence)
}

/// Every `(purpose, channel)` pair named by a consent entry, with its verdict.
pub fn current_state<'a>(
    entries: impl IntoIterator<Item = &'a Entry> + Clone,
    at_ms: i64,
) -> BTreeMap<(String, String), Verdict> {
    let keys: BTreeSet<(String, String)> = entries
        .clone()
        .into_iter()
        .filter(|e| e.kind == Kind::Consent)
        .map(|e| (e.purpose.clone(), e.channel.clone()))
        .collect();
    keys.into_iter()
        .map(|(p, c)| {
            let v = evaluate(entries.clone(), &p, &c, at_ms);
            ((p, c), v)
        })
        .collect()
}

#[cfg(test)]
mod tests;
