//! The access log: who read what, for what, with what outcome (no values).

use super::*;

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

impl PendingWrite<'_> {
    pub(super) fn log(&mut self, mut rec: AccessRecord) -> Result<u64> {
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

impl Vault {
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
        // Every entry in sequence order, or the client's through its index
        // (a key naming the entry's sequence after the client's prefix).
        let (space, prefix, mut after) = if q.client_number.is_empty() {
            let after = (q.after > 0).then(|| seq_key(q.after).to_vec());
            (ACCESS, Vec::new(), after)
        } else {
            let survivor = survivor_of(&self.reads(), &q.client_number)?;
            let after = (q.after > 0).then(|| join(&[survivor.as_bytes(), &seq_key(q.after)]));
            (ACCESS_IDX, [survivor.as_bytes(), &[0]].concat(), after)
        };
        let record = |key: &[u8], value: &[u8]| -> Result<Option<AccessRecord>> {
            if space == ACCESS {
                return from_json(value).map(Some);
            }
            let seq = seq_of(&key[prefix.len()..])?;
            store
                .get(ACCESS, &seq_key(seq))?
                .map(|v| from_json(&v))
                .transpose()
        };
        let mut out = Vec::new();
        loop {
            let page = store.scan_prefix(space, &prefix, after.as_deref(), PAGE)?;
            for (k, v) in &page {
                let Some(rec) = record(k, v)? else {
                    continue;
                };
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
}
