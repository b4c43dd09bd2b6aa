//! Encoding of keys and values in the store.

use super::*;

// --------------------------------------------------------------- encoding

pub(super) fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p);
    }
    out
}

pub(super) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(super) fn seq_of(bytes: &[u8]) -> Result<u64> {
    let a: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt("sequence key is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(a))
}

/// Length-prefixed parts (u32 BE), for values holding several byte strings.
pub(super) fn pack(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

pub(super) fn unpack(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
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

pub(super) fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| Error::Corrupt("stored text is not utf-8".into()))
}

pub(super) fn json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Internal(e.to_string()))
}

pub(super) fn from_json<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| Error::Corrupt(e.to_string()))
}
