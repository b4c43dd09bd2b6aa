//! Reads straight from the store or through a write's overlay, and the
//! identity and ledger lookups every capability shares.

use super::*;

// ------------------------------------------------------------------ reads

/// Reads, either straight from the store or through a write's overlay.
pub(super) trait Reads {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

pub(super) struct StoreReads<'a>(pub(super) &'a dyn Store);

impl Reads for StoreReads<'_> {
    fn get(&self, space: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(space, key)?)
    }

    fn scan(&self, space: &str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(scan_all(self.0, space, prefix)?)
    }
}

pub(super) fn survivor_of(r: &dyn Reads, number: &str) -> Result<String> {
    let key = [b"a/", number.as_bytes()].concat();
    match r.get(IDENTITY, &key)? {
        Some(s) => utf8(s),
        None => Ok(number.to_string()),
    }
}

pub(super) fn members_of(r: &dyn Reads, survivor: &str) -> Result<Vec<String>> {
    let key = [b"m/", survivor.as_bytes()].concat();
    match r.get(IDENTITY, &key)? {
        Some(s) => Ok(utf8(s)?.split('\n').map(str::to_string).collect()),
        None => Ok(vec![survivor.to_string()]),
    }
}

/// The sequences of the entries filed under `number`.
pub(super) fn filed_under(r: &dyn Reads, number: &str) -> Result<Vec<u64>> {
    let prefix = [number.as_bytes(), &[0]].concat();
    r.scan(CONSENT_IDX, &prefix)?
        .into_iter()
        .map(|(k, _)| seq_of(&k[prefix.len()..]))
        .collect()
}

pub(super) fn entry_at(r: &dyn Reads, seq: u64) -> Result<Entry> {
    let bytes = r
        .get(LEDGER, &seq_key(seq))?
        .ok_or_else(|| Error::Corrupt(format!("ledger entry {seq} missing")))?;
    Entry::from_stored(&bytes).map_err(|e| Error::Corrupt(format!("entry {seq}: {e}")))
}

pub(super) fn entries_of(r: &dyn Reads, numbers: &[String]) -> Result<Vec<Entry>> {
    let mut seqs = BTreeSet::new();
    for n in numbers {
        seqs.extend(filed_under(r, n)?);
    }
    seqs.into_iter().map(|s| entry_at(r, s)).collect()
}

/// The records that came to the vault under `number` or that a split
/// moved to it.
pub(super) fn own_records(r: &dyn Reads, number: &str) -> Result<BTreeSet<String>> {
    let prefix = join(&[&[b"n/", number.as_bytes()].concat(), b""]);
    r.scan(IDENTITY, &prefix)?
        .into_iter()
        .map(|(k, _)| utf8(k[prefix.len()..].to_vec()))
        .collect()
}

/// The records a consent recorded now for `number` is recorded for (rule
/// 1 of [`crate::consent`]); the client's are read only when needed.
pub(super) fn stood_for(r: &dyn Reads, number: &str) -> Result<BTreeSet<String>> {
    let own = own_records(r, number)?;
    let mut client = BTreeSet::new();
    if own.is_empty() {
        for m in members_of(r, &survivor_of(r, number)?)? {
            client.extend(own_records(r, &m)?);
        }
    }
    Ok(consent::stood_for(&own, &client))
}

pub(super) fn is_erased(r: &dyn Reads, number: &str) -> Result<bool> {
    Ok(r.get(ERASED, number.as_bytes())?.is_some())
}
