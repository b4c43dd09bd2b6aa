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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn consent(
        seq: u64,
        client: &str,
        purpose: &str,
        channel: &str,
        d: Decision,
        at: i64,
    ) -> Entry {
        let mut e = Entry::blank(Kind::Consent, client);
        e.purpose = purpose.into();
        e.channel = channel.into();
        e.decision = d;
        e.lawful_basis = 1;
        e.captured_at_ms = at;
        e.recorded_at_ms = at;
        e.sequence = seq;
        e
    }

    /// The entry both known-answer tests hash (v1 as is, v2 with a record).
    fn kat_entry() -> Entry {
        let mut e = consent(
            1,
            "C0000012K",
            "marketing",
            "SMS",
            Decision::Granted,
            1_700_000_000_000,
        );
        e.evidence_ref = "form-7".into();
        e.actor = "crm".into();
        e
    }

    #[test]
    fn canonical_encoding_known_answer() {
        let mut e = kat_entry();
        e.chain(1, GENESIS);
        // Pinned: a change of the canonical encoding must be deliberate
        // (it would invalidate every stored chain).
        assert_eq!(hex(&e.hash), hex(&sha256(&e.canonical())),);
        let stored = e.to_stored();
        assert_eq!(&stored[..MAGIC.len()], MAGIC);
        assert_eq!(Entry::from_stored(&stored).expect("decode"), e);
        assert_eq!(stored.len(), e.canonical().len() + HASH_LEN);
        assert_eq!(hex(&e.hash), KAT_HASH, "canonical encoding changed");
    }

    /// SHA-256 of the canonical encoding of the entry above, computed
    /// independently (Python `struct` + `hashlib`) from the module docs.
    const KAT_HASH: &str = "6c7b989937029e9f4a5900d3df1e2cfaacf857e23e8e8c6a2d4cec725fa4208a";

    #[test]
    fn chain_verifies_and_every_bit_flip_is_caught() {
        let mut stored = Vec::new();
        let mut prev = GENESIS;
        for seq in 1..=3u64 {
            let mut e = consent(
                seq,
                "C1",
                "marketing",
                "",
                Decision::Granted,
                10 * seq as i64,
            );
            e.chain(seq, prev);
            prev = e.hash;
            stored.push(e.to_stored());
        }
        let mut v = Verifier::default();
        for (i, s) in stored.iter().enumerate() {
            v.check(i as u64 + 1, s).expect("verifies");
        }
        assert_eq!(v.checked(), 3);
        assert_eq!(v.head(), prev);
        let target = &stored[1];
        for byte in 0..target.len() {
            for bit in 0..8 {
                let mut bad = target.clone();
                bad[byte] ^= 1 << bit;
                let mut v = Verifier::default();
                v.check(1, &stored[0]).expect("first is fine");
                assert!(v.check(2, &bad).is_err(), "flip {byte}/{bit} accepted");
            }
        }
        // A re-hashed forgery breaks the link from the next entry.
        let mut forged = Entry::from_stored(&stored[1]).expect("decode");
        forged.decision = Decision::Withdrawn;
        forged.chain(2, forged.prev_hash);
        let mut v = Verifier::default();
        v.check(1, &stored[0]).expect("ok");
        v.check(2, &forged.to_stored()).expect("self-consistent");
        let err = v.check(3, &stored[2]).expect_err("link broken");
        assert!(err.contains("prev_hash"), "{err}");
    }

    #[test]
    fn evaluation_rules() {
        let g = consent(1, "C1", "marketing", "", Decision::Granted, 100);
        let w_sms = consent(2, "C1", "marketing", "SMS", Decision::Withdrawn, 200);
        let entries = [g.clone(), w_sms.clone()];
        assert!(!evaluate(&entries, "marketing", "SMS", 300).allowed);
        assert!(evaluate(&entries, "marketing", "EMAIL", 300).allowed);
        // Every-channel question: a restriction on one channel means no.
        assert!(!evaluate(&entries, "marketing", "", 300).allowed);
        // Before the withdrawal it was allowed.
        assert!(evaluate(&entries, "marketing", "SMS", 150).allowed);
        // Before anything: fail closed.
        let v = evaluate(&entries, "marketing", "SMS", 50);
        assert_eq!((v.allowed, v.deciding), (false, None));
        assert_eq!(v.reason, "no consent recorded");
        // Another purpose: nothing.
        assert!(!evaluate(&entries, "collections", "SMS", 300).allowed);
        // Expiry.
        let mut exp = consent(3, "C1", "profiling", "", Decision::Granted, 100);
        exp.expires_at_ms = 500;
        let v = evaluate([&exp], "profiling", "", 499);
        assert!(v.allowed);
        let v = evaluate([&exp], "profiling", "", 500);
        assert!(!v.allowed);
        assert_eq!(v.deciding, Some(3));
        assert!(v.reason.starts_with("expired"), "{}", v.reason);
        // Same capture time: the restriction wins, whatever the sequence.
        let a = consent(5, "C1", "m", "", Decision::Granted, 100);
        let b = consent(4, "C1", "m", "", Decision::Denied, 100);
        assert!(!evaluate([&a, &b], "m", "", 100).allowed);
        // A later grant is a new consent.
        let c = consent(6, "C1", "m", "", Decision::Granted, 101);
        assert!(evaluate([&a, &b, &c], "m", "", 101).allowed);
        // Erasure closes everything.
        let mut er = Entry::blank(Kind::Erasure, "C1");
        er.sequence = 7;
        er.recorded_at_ms = 200;
        let v = evaluate([&a, &c, &er], "m", "", 300);
        assert_eq!((v.allowed, v.deciding), (false, Some(7)));
    }

    #[test]
    fn csv_quotes_and_json_fields() {
        let mut e = consent(1, "C1", "marketing", "", Decision::Granted, 1);
        e.evidence_ref = "form \"7\", page 2".into();
        let row = e.to_csv_row();
        assert!(row.contains("\"form \"\"7\"\", page 2\""), "{row}");
        assert_eq!(
            row.matches(',').count() - 1,
            Entry::CSV_HEADER.matches(',').count()
        );
        let j = e.to_json();
        assert_eq!(j["decision"], "GRANTED");
        assert_eq!(j["lawful_basis"], "CONSENT");
    }

    #[test]
    fn version_2_names_its_records_and_keeps_version_1_hashes() {
        let mut v1 = consent(1, "C1", "marketing", "", Decision::Granted, 5);
        v1.chain(1, GENESIS);
        assert_eq!(&v1.to_stored()[..MAGIC.len()], MAGIC);
        let mut v2 = v1.clone();
        v2.record_ids = vec!["R0000000001".into(), "R0000000002".into()];
        v2.chain(1, GENESIS);
        let stored = v2.to_stored();
        assert_eq!(&stored[..MAGIC_V2.len()], MAGIC_V2);
        assert_ne!(v1.hash, v2.hash, "the records are committed to");
        assert_eq!(Entry::from_stored(&stored).expect("decode"), v2);
        let mut v = Verifier::default();
        v.check(1, &stored).expect("verifies");
        // A version-2 header without records is not a valid entry.
        let mut empty = v1.to_stored();
        empty[MAGIC.len() - 1] = b'2';
        assert!(Entry::from_stored(&empty).is_err());
        let mut e = kat_entry();
        e.record_ids = vec!["R0000000007".into()];
        e.chain(1, GENESIS);
        assert_eq!(hex(&e.hash), KAT_HASH_V2, "canonical encoding v2 changed");
    }

    /// SHA-256 of the version-2 encoding of the known-answer entry with
    /// one record id, computed independently (Python `struct` + `hashlib`).
    const KAT_HASH_V2: &str = "449744133719e58b562ac4ea9bc7c20cc4dbed12955c6dd399d7c818168490ef";

    /// Issue 17, case 1: a grant claiming a capture 20 s ahead of the
    /// ledger's clock, then a withdrawal recorded after it.
    #[test]
    fn a_grant_dated_ahead_never_overtakes_a_later_withdrawal() {
        let now = 1_000_000;
        let mut g = consent(1, "C1", "marketing", "SMS", Decision::Granted, now + 20_000);
        g.recorded_at_ms = now;
        let mut w = consent(2, "C1", "marketing", "SMS", Decision::Withdrawn, now + 1);
        w.recorded_at_ms = now + 1;
        assert_eq!(g.effective_at_ms(), now, "clamped to the recording time");
        for at in [now + 1, now + 21_000, now + 86_400_000] {
            let v = evaluate([&g, &w], "marketing", "SMS", at);
            assert_eq!((v.allowed, v.deciding), (false, Some(2)), "at {at}");
        }
        // Before the withdrawal took effect, the grant held.
        assert!(evaluate([&g, &w], "marketing", "SMS", now).allowed);
        // A back-dated grant recorded after the withdrawal does not undo it.
        let mut back = consent(3, "C1", "marketing", "SMS", Decision::Granted, now - 5);
        back.recorded_at_ms = now + 2;
        assert!(!evaluate([&g, &w, &back], "marketing", "SMS", now + 5).allowed);
        // A grant captured after the withdrawal, recorded after it, does.
        let mut fresh = consent(4, "C1", "marketing", "SMS", Decision::Granted, now + 3);
        fresh.recorded_at_ms = now + 3;
        let v = evaluate([&g, &w, &back, &fresh], "marketing", "SMS", now + 5);
        assert_eq!((v.allowed, v.deciding), (true, Some(4)));
        // A withdrawal recorded later but claiming an earlier capture still
        // beats every grant recorded before it.
        let mut late = consent(5, "C1", "marketing", "SMS", Decision::Withdrawn, now - 100);
        late.recorded_at_ms = now + 4;
        let v = evaluate([&g, &w, &back, &fresh, &late], "marketing", "SMS", now + 5);
        assert_eq!((v.allowed, v.deciding), (false, Some(5)));
    }

    // ---- property tests: the rules read literally ---------------------

    fn decision() -> impl Strategy<Value = Decision> {
        prop_oneof![
            Just(Decision::Granted),
            Just(Decision::Denied),
            Just(Decision::Withdrawn)
        ]
    }

    /// A ledger in sequence order: recording times never go back and often
    /// tie; captures claim anything from well before the recording to a
    /// little after it (a source clock running ahead).
    fn ledger() -> impl Strategy<Value = Vec<Entry>> {
        proptest::collection::vec(
            (
                prop_oneof![Just("marketing"), Just("collections")],
                prop_oneof![Just(""), Just("SMS"), Just("EMAIL")],
                decision(),
                0i64..4,
                -30i64..10,
                prop_oneof![Just(0i64), 1i64..40],
            ),
            0..14,
        )
        .prop_map(|raw| {
            let mut recorded = 100;
            raw.into_iter()
                .enumerate()
                .map(|(i, (p, c, d, step, claim, exp))| {
                    recorded += step;
                    let mut e = consent(i as u64 + 1, "C1", p, c, d, recorded + claim);
                    e.recorded_at_ms = recorded;
                    if exp > 0 {
                        e.expires_at_ms = e.captured_at_ms + exp;
                    }
                    e
                })
                .collect()
        })
    }

    /// The module's rules, each pair of entries compared as written.
    fn naive(entries: &[Entry], purpose: &str, channel: &str, at: i64) -> (bool, Option<u64>) {
        let takes_effect = |e: &Entry| e.captured_at_ms.min(e.recorded_at_ms);
        let applicable: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.purpose == purpose && takes_effect(e) <= at)
            .filter(|e| {
                if channel.is_empty() {
                    e.channel.is_empty() || e.decision != Decision::Granted
                } else {
                    e.channel.is_empty() || e.channel == channel
                }
            })
            .collect();
        let grants = applicable
            .iter()
            .filter(|e| e.decision == Decision::Granted);
        let restrictions: Vec<&&Entry> = applicable
            .iter()
            .filter(|e| e.decision != Decision::Granted)
            .collect();
        let latest = grants.max_by_key(|g| (takes_effect(g), g.sequence));
        let beaten = |g: &Entry| {
            restrictions
                .iter()
                .any(|r| r.sequence > g.sequence || takes_effect(r) >= takes_effect(g))
        };
        match latest {
            Some(g) if !beaten(g) => {
                let live = g.expires_at_ms == 0 || g.expires_at_ms > at;
                (live, Some(g.sequence))
            }
            Some(_) | None => (false, None),
        }
    }

    const PROBES: [(&str, &str); 5] = [
        ("marketing", ""),
        ("marketing", "SMS"),
        ("marketing", "EMAIL"),
        ("collections", "SMS"),
        ("collections", ""),
    ];

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2_000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(17),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn evaluation_follows_the_rules_as_written(entries in ledger(), at in 80i64..200) {
            for (p, ch) in PROBES {
                let v = evaluate(&entries, p, ch, at);
                let (allowed, granting) = naive(&entries, p, ch, at);
                prop_assert_eq!(v.allowed, allowed, "{} {}: {}", p, ch, v.reason);
                if allowed {
                    prop_assert_eq!(v.deciding, granting);
                    // The target: no restriction recorded after the deciding
                    // grant, none taking effect with or after it.
                    let g = entries.iter().find(|e| Some(e.sequence) == v.deciding).expect("decider");
                    for r in entries.iter().filter(|e| e.applies_to(p, ch, at) && e.decision.is_restrictive()) {
                        prop_assert!(r.sequence < g.sequence, "{r:?} recorded after {g:?}");
                        prop_assert!(r.effective_at_ms() < g.effective_at_ms());
                    }
                } else if let Some(d) = v.deciding {
                    let e = entries.iter().find(|e| e.sequence == d).expect("decider");
                    prop_assert!(e.applies_to(p, ch, at));
                }
                // The order the entries come in does not matter (a merged
                // client's union is read in any order).
                let mut reversed = entries.clone();
                reversed.reverse();
                prop_assert_eq!(evaluate(&reversed, p, ch, at), v);
            }
        }

        #[test]
        fn a_union_allows_only_what_the_side_holding_its_grant_allows(
            entries in ledger(),
            sides in proptest::collection::vec(any::<bool>(), 14),
            at in 80i64..200,
        ) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (i, e) in entries.iter().enumerate() {
                if sides[i] { a.push(e.clone()) } else { b.push(e.clone()) }
            }
            for (p, ch) in PROBES {
                let merged = evaluate(&entries, p, ch, at);
                if merged.allowed {
                    let side = if a.iter().any(|e| Some(e.sequence) == merged.deciding) { &a } else { &b };
                    prop_assert!(evaluate(side, p, ch, at).allowed);
                }
                let (va, vb) = (evaluate(&a, p, ch, at), evaluate(&b, p, ch, at));
                if !va.allowed && !vb.allowed {
                    prop_assert!(!merged.allowed, "{} {}: {}", p, ch, merged.reason);
                }
            }
        }
    }
}
