//! The consent ledger: entries, their canonical encoding and hash chain, and
//! the evaluation of consent. Pure code, shared by the service and the
//! property tests.
//!
//! # Canonical encoding (version 1)
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
//! `hash = SHA-256(canonical)`; the stored value is `canonical || hash`. The
//! first entry's `prev_hash` is 32 zero bytes. Entries hold numbers, codes
//! and references only: no personal data, so erasure never touches them.
//!
//! # Evaluation
//!
//! The entries that apply to `(purpose, channel)` at time `at` are the
//! consent entries for that purpose captured at or before `at`, on that
//! channel or on every channel (for an every-channel question: every-channel
//! entries and restrictions on any channel). The latest one decides,
//! ordered by `(captured_at, restrictive, sequence)`: on equal capture times
//! a denial or withdrawal beats a grant. A grant past its expiry does not
//! allow. No entry: not allowed (fail closed).
//!
//! A merged client is evaluated over the union of the histories of its
//! numbers, so a withdrawal or denial on either side beats every grant
//! captured before it, on either side; a grant captured after it (a new
//! consent from the same person) wins. Union makes the merge commutative,
//! associative and idempotent, and keeping entries by origin number makes a
//! split give each side back its own history.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ring::digest;

pub const HASH_LEN: usize = 32;
pub type Hash = [u8; HASH_LEN];
/// `prev_hash` of the first entry.
pub const GENESIS: Hash = [0; HASH_LEN];
const MAGIC: &[u8] = b"c360/consent-entry/v1";

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
    pub prev_hash: Hash,
    pub hash: Hash,
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    // Every string is validated far below 4 GiB.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
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
            prev_hash: GENESIS,
            hash: GENESIS,
        }
    }

    /// The bytes the hash commits to.
    pub fn canonical(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(160);
        buf.extend_from_slice(MAGIC);
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
        let count = u32::try_from(self.related_clients.len()).unwrap_or(u32::MAX);
        buf.extend_from_slice(&count.to_be_bytes());
        for c in &self.related_clients {
            push_str(&mut buf, c);
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
        if r.take(MAGIC.len())? != MAGIC {
            return Err("unknown entry format".into());
        }
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
        let count = r.u32()? as usize;
        if count > r.rest.len() / 4 {
            return Err("truncated".into());
        }
        let mut related_clients = Vec::with_capacity(count);
        for _ in 0..count {
            related_clients.push(r.string()?);
        }
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
            prev_hash,
            hash,
        })
    }

    /// The order in which entries decide: later capture wins, then a
    /// restriction over a grant, then the later sequence.
    fn order_key(&self) -> (i64, bool, u64) {
        (
            self.captured_at_ms,
            self.decision.is_restrictive(),
            self.sequence,
        )
    }

    fn applies_to(&self, purpose: &str, channel: &str, at_ms: i64) -> bool {
        if self.kind != Kind::Consent || self.purpose != purpose || self.captured_at_ms > at_ms {
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
            "prev_hash": hex(&self.prev_hash),
            "hash": hex(&self.hash),
        })
    }

    pub const CSV_HEADER: &'static str = "sequence,kind,client_number,purpose,channel,decision,lawful_basis,evidence_ref,source_system,actor,notice_version,captured_at_unix_ms,expires_at_unix_ms,recorded_at_unix_ms,related_clients,prev_hash,hash\r\n";

    /// One RFC 4180 CSV row (CRLF-terminated).
    pub fn to_csv_row(&self) -> String {
        let cells: [String; 17] = [
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
/// `(purpose, channel)` at `at_ms`. See the module docs.
pub fn evaluate<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    purpose: &str,
    channel: &str,
    at_ms: i64,
) -> Verdict {
    let mut best: Option<&Entry> = None;
    let mut erased: Option<&Entry> = None;
    for e in entries {
        // An erasure is final: whatever moment the question is about, an
        // erased client has no consent left to rely on.
        if e.kind == Kind::Erasure {
            erased = Some(e);
        }
        if e.applies_to(purpose, channel, at_ms)
            && best.is_none_or(|b| e.order_key() > b.order_key())
        {
            best = Some(e);
        }
    }
    if let Some(e) = erased {
        return Verdict {
            allowed: false,
            deciding: Some(e.sequence),
            reason: format!("client erased by entry {}", e.sequence),
        };
    }
    let Some(e) = best else {
        return Verdict {
            allowed: false,
            deciding: None,
            reason: "no consent recorded".into(),
        };
    };
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

/// A client's consent history kept by origin number: the number each entry
/// was recorded against. Merging is the union; splitting hands the entries
/// of the numbers that leave to the new side. This is the model the vault
/// follows through the feed (its identity keyspace holds which numbers are
/// merged into which), stated as a value so it can be property-tested.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    by_origin: BTreeMap<String, BTreeMap<u64, Entry>>,
}

impl History {
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> History {
        let mut h = History::default();
        for e in entries {
            h.by_origin
                .entry(e.client_number.clone())
                .or_default()
                .insert(e.sequence, e);
        }
        h
    }

    /// The union of both histories.
    pub fn merge(&self, other: &History) -> History {
        let mut out = self.clone();
        for (origin, entries) in &other.by_origin {
            let mine = out.by_origin.entry(origin.clone()).or_default();
            for (seq, e) in entries {
                mine.entry(*seq).or_insert_with(|| e.clone());
            }
        }
        out
    }

    /// `(kept, moved)`: the entries of `origins` move to the new side.
    pub fn split(&self, origins: &BTreeSet<String>) -> (History, History) {
        let mut kept = History::default();
        let mut moved = History::default();
        for (origin, entries) in &self.by_origin {
            let side = if origins.contains(origin) {
                &mut moved
            } else {
                &mut kept
            };
            side.by_origin.insert(origin.clone(), entries.clone());
        }
        (kept, moved)
    }

    pub fn origins(&self) -> BTreeSet<String> {
        self.by_origin.keys().cloned().collect()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> + Clone {
        self.by_origin.values().flat_map(|m| m.values())
    }

    pub fn evaluate(&self, purpose: &str, channel: &str, at_ms: i64) -> Verdict {
        evaluate(self.entries(), purpose, channel, at_ms)
    }

    pub fn state(&self, at_ms: i64) -> BTreeMap<(String, String), Verdict> {
        current_state(self.entries(), at_ms)
    }
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

    #[test]
    fn canonical_encoding_known_answer() {
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

    // ---- property tests: merge and split -----------------------------

    fn decision() -> impl Strategy<Value = Decision> {
        prop_oneof![
            Just(Decision::Granted),
            Just(Decision::Denied),
            Just(Decision::Withdrawn)
        ]
    }

    /// Entries over a few origins, purposes and channels, with small
    /// capture times so that ties happen.
    fn raw_entries(origins: &'static [&'static str]) -> impl Strategy<Value = Vec<Entry>> {
        proptest::collection::vec(
            (
                0..origins.len(),
                prop_oneof![Just("marketing"), Just("collections")],
                prop_oneof![Just(""), Just("SMS"), Just("EMAIL")],
                decision(),
                0i64..20,
                prop_oneof![Just(0i64), 5i64..30],
            ),
            0..12,
        )
        .prop_map(move |raw| {
            raw.into_iter()
                .map(|(o, p, c, d, at, exp)| {
                    let mut e = consent(0, origins[o], p, c, d, at);
                    e.expires_at_ms = exp;
                    e
                })
                .collect()
        })
    }

    /// Three histories over disjoint origins, sequences unique across all.
    fn three() -> impl Strategy<Value = (History, History, History)> {
        (
            raw_entries(&["A1", "A2"]),
            raw_entries(&["B1", "B2"]),
            raw_entries(&["C1"]),
        )
            .prop_map(|(a, b, c)| {
                let mut seq = 0;
                let mut number = |v: Vec<Entry>| {
                    History::from_entries(v.into_iter().map(|mut e| {
                        seq += 1;
                        e.sequence = seq;
                        e
                    }))
                };
                (number(a), number(b), number(c))
            })
    }

    const PROBES: [(&str, &str); 5] = [
        ("marketing", ""),
        ("marketing", "SMS"),
        ("marketing", "EMAIL"),
        ("collections", "SMS"),
        ("collections", ""),
    ];

    proptest! {
        #[test]
        fn merge_is_commutative_associative_idempotent((a, b, c) in three()) {
            prop_assert_eq!(a.merge(&b), b.merge(&a));
            prop_assert_eq!(a.merge(&b).merge(&c), a.merge(&b.merge(&c)));
            prop_assert_eq!(a.merge(&a), a.clone());
            let ab = a.merge(&b);
            prop_assert_eq!(ab.merge(&b), ab.clone());
            for at in [0, 7, 15, 40] {
                prop_assert_eq!(a.merge(&b).state(at), b.merge(&a).state(at));
            }
        }

        #[test]
        fn merge_then_split_returns_the_originals((a, b, c) in three()) {
            let ab = a.merge(&b);
            let (kept, moved) = ab.split(&b.origins());
            prop_assert_eq!(&kept, &a);
            prop_assert_eq!(&moved, &b);
            let abc = ab.merge(&c);
            let (ab2, c2) = abc.split(&c.origins());
            prop_assert_eq!(ab2, ab);
            prop_assert_eq!(c2, c);
        }

        #[test]
        fn merged_state_is_the_most_restrictive((a, b, _c) in three(), at in 0i64..40) {
            let ab = a.merge(&b);
            for (p, ch) in PROBES {
                let merged = ab.evaluate(p, ch, at);
                let va = a.evaluate(p, ch, at);
                let vb = b.evaluate(p, ch, at);
                // The merged decision is one side's decision...
                prop_assert!(merged == va || merged == vb);
                // ...allowed only if the side that decided allows, and a
                // restriction on either side beats every grant captured
                // before it.
                if merged.allowed {
                    let grant = ab.entries().find(|e| Some(e.sequence) == merged.deciding).expect("decider");
                    for side in [&a, &b] {
                        for e in side.entries() {
                            if e.applies_to(p, ch, at) && e.decision.is_restrictive() {
                                prop_assert!(e.captured_at_ms < grant.captured_at_ms,
                                    "restriction {e:?} overridden by older grant {grant:?}");
                            }
                        }
                    }
                }
                if !va.allowed && !vb.allowed {
                    prop_assert!(!merged.allowed);
                }
            }
        }
    }
}
