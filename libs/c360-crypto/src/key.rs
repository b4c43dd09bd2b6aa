//! Raw key material: 32 secret bytes that redact themselves and are wiped on drop.

use std::fmt;

use ring::rand::SecureRandom;
use zeroize::Zeroize;

use crate::{Error, Result};

/// Length in bytes of every key handled by this crate (AES-256, HMAC-SHA256).
pub const KEY_LEN: usize = 32;

/// 32 bytes of key material.
///
/// - `Debug` prints `Key(..)`, never the bytes.
/// - The bytes live in one heap allocation (moving a `KeyMaterial` does not
///   copy them around the stack) and are zeroized when it is dropped.
/// - Not `Clone`, not `Serialize`: the only way out is [`KeyMaterial::expose`].
pub struct KeyMaterial(Box<[u8; KEY_LEN]>);

impl KeyMaterial {
    /// Fresh random key material.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self> {
        let mut key = Self(Box::new([0u8; KEY_LEN]));
        rng.fill(&mut key.0[..]).map_err(|_| Error::Rng)?;
        Ok(key)
    }

    /// Takes ownership of `b`. The argument is a copy: the caller should wipe
    /// its own buffer (e.g. with `zeroize`) if it came from somewhere secret.
    pub fn from_bytes(b: [u8; KEY_LEN]) -> Self {
        let mut b = b;
        let key = Self(Box::new(b));
        b.zeroize();
        key
    }

    /// The secret bytes. Keep the borrow short; never log or persist them.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Copies a 32-byte slice (used when unwrapping); the caller wipes its buffer.
    pub(crate) fn from_slice(b: &[u8]) -> Option<Self> {
        let bytes: &[u8; KEY_LEN] = b.try_into().ok()?;
        let mut key = Self(Box::new([0u8; KEY_LEN]));
        key.0.copy_from_slice(bytes);
        Some(key)
    }

    /// A second copy of the same key (also wiped on drop). Crate-private so
    /// that copies are made only where the design needs them.
    pub(crate) fn duplicate(&self) -> Self {
        let mut key = Self(Box::new([0u8; KEY_LEN]));
        key.0.copy_from_slice(&self.0[..]);
        key
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn generate_gives_distinct_keys() {
        let rng = SystemRandom::new();
        let a = KeyMaterial::generate(&rng).expect("rng");
        let b = KeyMaterial::generate(&rng).expect("rng");
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn debug_is_redacted() {
        let key = KeyMaterial::from_bytes([0xAB; KEY_LEN]);
        assert_eq!(format!("{key:?}"), "Key(..)");
        assert_eq!(format!("{key:#?}"), "Key(..)");
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(KeyMaterial::from_slice(&[1u8; 31]).is_none());
        assert!(KeyMaterial::from_slice(&[1u8; 33]).is_none());
        let key = KeyMaterial::from_slice(&[7u8; 32]).expect("32 bytes");
        assert_eq!(key.expose(), &[7u8; 32]);
        assert_eq!(key.duplicate().expose(), &[7u8; 32]);
    }
}
