//! An atomic batch of writes over several keyspaces.

use std::fmt;

/// Puts and deletes to apply atomically with [`Store::commit`](crate::Store::commit).
///
/// Operations are applied in the order they were added: a later operation on
/// the same key in the same keyspace wins. `Debug` shows keyspaces and sizes,
/// never keys or values.
#[derive(Default, Clone)]
pub struct Batch {
    ops: Vec<OwnedOp>,
}

#[derive(Clone)]
struct OwnedOp {
    space: String,
    key: Vec<u8>,
    /// `None` deletes the key.
    value: Option<Vec<u8>>,
}

/// One operation of a [`Batch`], as an engine sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BatchOp<'a> {
    /// The keyspace written.
    pub space: &'a str,
    /// The key written.
    pub key: &'a [u8],
    /// The new value, or `None` to delete the key.
    pub value: Option<&'a [u8]>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` in `space`.
    pub fn put(&mut self, space: &str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(OwnedOp {
            space: space.to_owned(),
            key: key.into(),
            value: Some(value.into()),
        });
    }

    /// Removes `key` from `space` (no error if it is absent).
    pub fn delete(&mut self, space: &str, key: impl Into<Vec<u8>>) {
        self.ops.push(OwnedOp {
            space: space.to_owned(),
            key: key.into(),
            value: None,
        });
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of operations (a key written twice counts twice).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The operations in the order they were added; for engines.
    pub fn ops(&self) -> impl ExactSizeIterator<Item = BatchOp<'_>> + '_ {
        self.ops.iter().map(|op| BatchOp {
            space: &op.space,
            key: &op.key,
            value: op.value.as_deref(),
        })
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("ops", &self.ops().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for BatchOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(if self.value.is_some() {
            "Put"
        } else {
            "Delete"
        });
        s.field("space", &self.space)
            .field("key_bytes", &self.key.len());
        if let Some(value) = self.value {
            s.field("value_bytes", &value.len());
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_counts() {
        let mut batch = Batch::new();
        assert!(batch.is_empty());
        batch.put("a", b"k".as_slice(), "v");
        batch.delete("b", vec![1, 2]);
        batch.put("a", b"k".as_slice(), Vec::new());
        assert_eq!(batch.len(), 3);
        let ops: Vec<_> = batch.ops().collect();
        assert_eq!(
            ops[1],
            BatchOp {
                space: "b",
                key: &[1, 2],
                value: None
            }
        );
        assert_eq!(ops[2].value, Some(&[][..]));
    }

    #[test]
    fn debug_never_shows_keys_or_values() {
        let mut batch = Batch::new();
        batch.put("people", "SECRETKEY", "SECRETVALUE");
        batch.delete("people", "OTHERSECRET");
        let shown = format!("{batch:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("people"), "{shown}");
        assert!(shown.contains("value_bytes: 11"), "{shown}");
    }
}
