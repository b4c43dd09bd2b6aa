//! Envelope encryption of personal fields, keyed hashes and key custody for
//! c360. Nothing else in the workspace touches key material.
//!
//! # Design
//!
//! - **Field-level envelope encryption.** Every client has its own data key
//!   ([`DataKey`], AES-256-GCM). Each personal field (name, phone, national
//!   id, ...) is encrypted separately into a self-describing *envelope*. A
//!   fresh 96-bit random nonce is drawn from the OS RNG for every encryption
//!   (through a per-thread pool refilled 4 KiB at a time, each byte used once);
//!   nothing is deterministic.
//! - **Binding.** The AAD is the envelope header plus the [`FieldContext`]
//!   (client, record, field), so a ciphertext copied to another client, record
//!   or field, or with any header byte changed, is rejected.
//! - **Key wrapping.** DEKs are stored only wrapped ([`WrappedKey`]) by a
//!   key-encryption key (KEK) from a [`KekProvider`]: today [`LocalKeyring`]
//!   (file or environment), later a cloud KMS. The wrap AAD binds the wrapped
//!   DEK to its key id and version, so wrapped keys cannot be swapped between
//!   clients.
//! - **Crypto-shredding.** Erasing a client = deleting every stored copy of
//!   its wrapped DEK (and [`DataKeyCache::invalidate`]). All of that client's
//!   envelopes, wherever they were copied (replicas, backups, exports), then
//!   become unreadable; no ciphertext has to be found and deleted.
//! - **KEK rotation.** [`LocalKeyring::with_new_key`] adds a key that becomes
//!   current; old KEKs stay in the keyring to unwrap existing DEKs. Re-wrapping
//!   a DEK under the new KEK (`DataKey::unwrap` then `DataKey::wrap`) touches
//!   32 bytes per client and never re-encrypts field data. Once every DEK is
//!   re-wrapped the old KEK line can be deleted.
//! - **Blind indexes.** Lookup keys that reach disk are
//!   [`BlindIndexer::tag`]s: HMAC-SHA256 under a separate index key,
//!   domain-separated by a purpose label, truncated to 128 bits. Never a
//!   plaintext value, never a hash without a key. The index key is stored
//!   wrapped by the KEK ([`BlindIndexer::generate_wrapped`], AAD
//!   `"c360/blind-index-key/v1/" || label`) and re-wrapped on rotation.
//! - **Custody.** [`KeyCustodian`] is the trait through which services get
//!   per-client data keys from their custodian (the vault), so that one
//!   erasure destroys the keys every service uses.
//! - **Secrets are types.** [`KeyMaterial`], [`DataKey`], [`BlindIndexer`] and
//!   [`LocalKeyring`] have redacting `Debug`, no `Serialize`, no `Clone`, and
//!   key bytes are zeroized on drop. Errors never carry key bytes or
//!   plaintext.
//!
//! # Envelope format (version 1)
//!
//! ```text
//! offset   size  field
//! 0        1     version      = 0x01
//! 1        1     algorithm    = 0x01 (AES-256-GCM, 96-bit nonce, 128-bit tag)
//! 2        1     key_id_len   = n, 1..=255
//! 3        n     key_id       UTF-8 (the DEK id, e.g. a client number)
//! 3+n      4     key_version  u32 big-endian (the DEK version)
//! 7+n      12    nonce        random
//! 19+n     m     ciphertext   (m = plaintext length)
//! 19+n+m   16    tag
//! ```
//!
//! AAD = bytes `0 .. 19+n` (the header, nonce included)
//! `|| u32be(len client) || client || u32be(len record) || record
//! || u32be(len field) || field`.
//!
//! Overhead: 35 bytes + key id length. [`envelope_key`] reads `key_id` and
//! `key_version` without decrypting so the caller can fetch the right DEK.
//!
//! # Wrapped DEK format (version 1)
//!
//! ```text
//! 0      1   version    = 0x01
//! 1      1   kek_id_len = n, 1..=255
//! 2      n   kek_id     UTF-8
//! 2+n    ..  payload    provider-specific; for LocalKeyring (61 bytes):
//!                        alg = 0x01 (AES-256-GCM) | nonce (12) | encrypted DEK (32) | tag (16)
//! ```
//!
//! LocalKeyring wrap AAD = bytes `0 .. 2+n+13` (everything before the
//! encrypted DEK) `|| "c360/dek/v1" || u8(len key_id) || key_id ||
//! u32be(version)`.
//!
//! # Limits
//!
//! - `ring` keeps expanded AES / HMAC key schedules that cannot be zeroized
//!   from safe Rust; only the 32-byte [`KeyMaterial`] copies are wiped.
//! - Decrypted plaintext is returned as a plain `Vec<u8>` and keyring text as
//!   a plain `String`: wiping them is the caller's business.
//! - Random 96-bit nonces: keep well under 2^32 encryptions per DEK (one DEK
//!   per client makes this moot).
//! - Blind-index tags of low-entropy values (phone numbers, dates of birth)
//!   can be brute-forced by anyone who holds the index key, and reveal
//!   equality to anyone who reads the index.

mod blind;
mod cache;
mod custody;
mod envelope;
mod kek;
mod key;

use std::path::PathBuf;

pub use blind::{BlindIndexer, TAG_LEN as BLIND_TAG_LEN};
pub use cache::DataKeyCache;
pub use custody::{KeyCustodian, key_destroyed};
pub use envelope::{
    ALG_AES_256_GCM, DataKey, ENVELOPE_VERSION, FieldContext, MAX_KEY_ID_LEN, envelope_key,
};
pub use kek::{
    KekProvider, LocalKeyring, MAX_KEK_ID_LEN, WRAP_ALG_AES_256_GCM, WRAPPED_KEY_VERSION,
    WrappedKey,
};
pub use key::{KEY_LEN, KeyMaterial};

/// Errors of this crate. Messages are lowercase and never contain key bytes
/// or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authentication failed; deliberately does not say which of the three.
    #[error("ciphertext rejected: wrong key, wrong context or tampered")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    /// The envelope names another DEK id or version than the key used.
    #[error("envelope was sealed under another data key or key version")]
    KeyMismatch,
    #[error("unknown key-encryption key {id}")]
    UnknownKek { id: String },
    #[error("malformed input: {0}")]
    Format(String),
    #[error("invalid key id: {0}")]
    InvalidKeyId(&'static str),
    #[error("keyring line {line}: {reason}")]
    Keyring { line: usize, reason: String },
    #[error("keyring holds no key")]
    EmptyKeyring,
    /// A [`KeyCustodian`] refused or failed (e.g. the key was destroyed).
    #[error("key custody: {0}")]
    Custody(String),
    #[error("system random number generator failed")]
    Rng,
    #[error("environment variable {var} is not set or not unicode")]
    Env { var: String },
    #[error("cannot read keyring file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;
