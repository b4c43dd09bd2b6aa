//! Field-level envelope encryption with per-client data keys (DEKs).

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

use crate::kek::{KekProvider, WrappedKey};
use crate::key::KeyMaterial;
use crate::{Error, Result};

/// First byte of every envelope.
pub const ENVELOPE_VERSION: u8 = 1;
/// Algorithm id of AES-256-GCM with a 96-bit random nonce and 128-bit tag.
pub const ALG_AES_256_GCM: u8 = 1;
/// Longest key id an envelope can carry (its length is one byte).
pub const MAX_KEY_ID_LEN: usize = u8::MAX as usize;

const TAG_LEN: usize = 16;
/// Label prefixed to the AAD used when a DEK is wrapped by a KEK.
const DEK_WRAP_LABEL: &[u8] = b"c360/dek/v1";

/// Binding of a ciphertext to its place: it cannot be moved to another
/// client, record or field. All three are authenticated (not encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldContext<'a> {
    pub client: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

impl FieldContext<'_> {
    /// Appends the context to `aad`, each part length-prefixed (u32 BE) so
    /// that `("ab", "c")` and `("a", "bc")` differ.
    fn append_to(&self, aad: &mut Vec<u8>) {
        for part in [self.client, self.record, self.field] {
            push_u32_prefixed(aad, part.as_bytes());
        }
    }
}

fn push_u32_prefixed(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Field values are far below 4 GiB; saturate rather than panic.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(bytes);
}

pub(crate) fn check_key_id(key_id: &str) -> Result<()> {
    if key_id.is_empty() {
        return Err(Error::InvalidKeyId("key id is empty"));
    }
    if key_id.len() > MAX_KEY_ID_LEN {
        return Err(Error::InvalidKeyId("key id is longer than 255 bytes"));
    }
    Ok(())
}

/// The parsed, authenticated-but-not-secret front of an envelope.
struct Header<'a> {
    /// The raw header bytes (version .. nonce), part of the AAD.
    bytes: &'a [u8],
    key_id: &'a str,
    key_version: u32,
    nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    body: &'a [u8],
}

impl<'a> Header<'a> {
    fn parse(envelope: &'a [u8]) -> Result<Self> {
        let format = |what: &str| Error::Format(format!("envelope {what}"));
        let (&version, rest) = envelope.split_first().ok_or_else(|| format("is empty"))?;
        if version != ENVELOPE_VERSION {
            return Err(Error::Format(format!(
                "unsupported envelope version {version}"
            )));
        }
        let (&alg, rest) = rest.split_first().ok_or_else(|| format("is truncated"))?;
        if alg != ALG_AES_256_GCM {
            return Err(Error::Format(format!("unsupported algorithm id {alg}")));
        }
        let (&id_len, rest) = rest.split_first().ok_or_else(|| format("is truncated"))?;
        let id_len = usize::from(id_len);
        if id_len == 0 {
            return Err(format("has an empty key id"));
        }
        let fixed_tail = id_len + 4 + NONCE_LEN + TAG_LEN;
        if rest.len() < fixed_tail {
            return Err(format("is truncated"));
        }
        let (id, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(id).map_err(|_| format("key id is not utf-8"))?;
        let (version_bytes, rest) = rest.split_at(4);
        let key_version = u32::from_be_bytes(
            version_bytes
                .try_into()
                .map_err(|_| format("is truncated"))?,
        );
        let (nonce_bytes, body) = rest.split_at(NONCE_LEN);
        let nonce = nonce_bytes.try_into().map_err(|_| format("is truncated"))?;
        let header_len = envelope.len() - body.len();
        Ok(Self {
            bytes: &envelope[..header_len],
            key_id,
            key_version,
            nonce,
            body,
        })
    }
}

/// Reads the key id and version out of an envelope without decrypting, to
/// find (and unwrap) the right DEK. The values are authenticated only once
/// the envelope is decrypted.
pub fn envelope_key(envelope: &[u8]) -> Result<(String, u32)> {
    let header = Header::parse(envelope)?;
    Ok((header.key_id.to_owned(), header.key_version))
}

/// A data-encryption key (DEK): one per client (and per key version), used to
/// encrypt that client's fields. Destroying every wrapped copy of it makes
/// those fields unreadable (crypto-shredding).
///
/// `Debug` shows the key id and version only; the key material is zeroized on
/// drop (see the crate docs for what `ring` keeps).
pub struct DataKey {
    key_id: String,
    version: u32,
    material: KeyMaterial,
    aead: LessSafeKey,
}

impl DataKey {
    /// A fresh random DEK drawn from the system RNG.
    pub fn generate(key_id: &str, version: u32) -> Result<Self> {
        check_key_id(key_id)?;
        let material = KeyMaterial::generate(&SystemRandom::new())?;
        Ok(Self::from_material(key_id, version, material))
    }

    /// A DEK from existing material (e.g. just unwrapped). An invalid key id
    /// (empty or over 255 bytes) is reported by `encrypt`/`wrap`.
    pub fn from_material(key_id: &str, version: u32, material: KeyMaterial) -> Self {
        let aead = LessSafeKey::new(aes_key(&material));
        Self {
            key_id: key_id.to_owned(),
            version,
            material,
            aead,
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Encrypts one field value under a fresh random 96-bit nonce.
    pub fn encrypt(&self, ctx: &FieldContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.encrypt_with_nonce(ctx, plaintext, random_nonce()?)
    }

    /// The whole of `encrypt` except drawing the nonce; separate so that the
    /// known-answer tests can pin the byte format. Never reuse a nonce.
    fn encrypt_with_nonce(
        &self,
        ctx: &FieldContext<'_>,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>> {
        check_key_id(&self.key_id)?;
        let id = self.key_id.as_bytes();
        let mut envelope =
            Vec::with_capacity(3 + id.len() + 4 + NONCE_LEN + plaintext.len() + TAG_LEN);
        envelope.push(ENVELOPE_VERSION);
        envelope.push(ALG_AES_256_GCM);
        envelope.push(u8::try_from(id.len()).map_err(|_| Error::InvalidKeyId("key id too long"))?);
        envelope.extend_from_slice(id);
        envelope.extend_from_slice(&self.version.to_be_bytes());
        envelope.extend_from_slice(&nonce);
        let header_len = envelope.len();

        let mut aad = envelope.clone();
        ctx.append_to(&mut aad);

        // Seal in place inside the envelope: no stray plaintext copies.
        envelope.extend_from_slice(plaintext);
        let sealed = self.aead.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut envelope[header_len..],
        );
        match sealed {
            Ok(tag) => envelope.extend_from_slice(tag.as_ref()),
            Err(_) => {
                envelope.zeroize();
                return Err(Error::Encrypt);
            }
        }
        debug_assert_eq!(envelope.len(), header_len + plaintext.len() + TAG_LEN);
        Ok(envelope)
    }

    /// Decrypts an envelope produced by `encrypt` with the same key and the
    /// same context. Any change to the envelope, key or context fails.
    pub fn decrypt(&self, ctx: &FieldContext<'_>, envelope: &[u8]) -> Result<Vec<u8>> {
        let header = Header::parse(envelope)?;
        if header.key_id != self.key_id || header.key_version != self.version {
            return Err(Error::KeyMismatch);
        }
        let mut aad = header.bytes.to_vec();
        ctx.append_to(&mut aad);

        let mut buf = header.body.to_vec();
        let plain_len = match self.aead.open_in_place(
            Nonce::assume_unique_for_key(header.nonce),
            Aad::from(&aad),
            &mut buf,
        ) {
            Ok(plain) => plain.len(),
            Err(_) => {
                buf.zeroize();
                return Err(Error::Decrypt);
            }
        };
        buf.truncate(plain_len);
        Ok(buf)
    }

    /// Wraps this DEK under the provider's current KEK. The AAD binds the
    /// wrapped key to this key id and version.
    pub fn wrap(&self, kek: &dyn KekProvider) -> Result<WrappedKey> {
        check_key_id(&self.key_id)?;
        kek.wrap(&self.material, &dek_wrap_aad(&self.key_id, self.version))
    }

    /// Unwraps a DEK; `key_id` and `version` must be those it was wrapped with.
    pub fn unwrap(
        key_id: &str,
        version: u32,
        wrapped: &WrappedKey,
        kek: &dyn KekProvider,
    ) -> Result<Self> {
        check_key_id(key_id)?;
        let material = kek.unwrap(wrapped, &dek_wrap_aad(key_id, version))?;
        Ok(Self::from_material(key_id, version, material))
    }
}

/// Nonce bytes drawn from the OS generator per refill: one system call
/// serves 340 nonces instead of one.
const NONCE_POOL: usize = NONCE_LEN * 340;

thread_local! {
    static NONCES: std::cell::RefCell<(Box<[u8; NONCE_POOL]>, usize)> =
        std::cell::RefCell::new((Box::new([0u8; NONCE_POOL]), NONCE_POOL));
}

/// A random 96-bit nonce from a per-thread pool of OS randomness (each
/// pooled byte is used once). A forked child would share the parent's
/// unused pool: c360 never forks after encrypting.
fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    NONCES.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + NONCE_LEN > NONCE_POOL {
            SystemRandom::new()
                .fill(&mut bytes[..])
                .map_err(|_| Error::Rng)?;
            *used = 0;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[*used..*used + NONCE_LEN]);
        *used += NONCE_LEN;
        Ok(nonce)
    })
}

fn aes_key(material: &KeyMaterial) -> UnboundKey {
    match UnboundKey::new(&AES_256_GCM, material.expose()) {
        Ok(key) => key,
        // AES_256_GCM takes exactly 32 bytes, which `KeyMaterial` guarantees.
        Err(_) => unreachable!("AES-256-GCM accepts any 32-byte key"),
    }
}

/// `"c360/dek/v1" || len(key_id) as u8 || key_id || version as u32 BE`.
fn dek_wrap_aad(key_id: &str, version: u32) -> Vec<u8> {
    let id = key_id.as_bytes();
    let mut aad = Vec::with_capacity(DEK_WRAP_LABEL.len() + 1 + id.len() + 4);
    aad.extend_from_slice(DEK_WRAP_LABEL);
    // check_key_id has run: the length fits in a byte.
    aad.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    aad.extend_from_slice(id);
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .field("key", &self.material)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kek::LocalKeyring;
    use proptest::prelude::*;

    const CTX: FieldContext<'static> = FieldContext {
        client: "C0001",
        record: "r-42",
        field: "phone",
    };

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn kat_key() -> DataKey {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        DataKey::from_material("C0001", 1, KeyMaterial::from_bytes(bytes))
    }

    const KAT_NONCE: [u8; NONCE_LEN] = [
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
    ];
    /// Computed independently (Python `cryptography` AESGCM) from the format
    /// documented in the crate docs. A format change must fail here.
    const KAT_ENVELOPE: &str = "010105433030303100000001101112131415161718191a1b\
        56ccaa2379fe0a82fa47382e3f4d9731b41583ad9ac6b4041a1bbc9cb067";
    const KAT_EMPTY_ENVELOPE: &str = "010105433030303100000001101112131415161718191a1b\
        14e87b585982538d2cf4e257b9cd5e6c";

    #[test]
    fn round_trip() {
        let key = DataKey::generate("C0001", 1).expect("key");
        for plain in [
            &b""[..],
            b"Kouadio",
            "Adjoa Mensah-Ékué".as_bytes(),
            &[0u8; 4096],
        ] {
            let env = key.encrypt(&CTX, plain).expect("encrypt");
            assert_eq!(env.len(), 3 + 5 + 4 + 12 + plain.len() + 16);
            assert_eq!(key.decrypt(&CTX, &env).expect("decrypt"), plain);
        }
    }

    #[test]
    fn pooled_nonces_never_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * NONCE_POOL / NONCE_LEN + 7) {
            assert!(seen.insert(random_nonce().expect("nonce")));
        }
    }

    #[test]
    fn nonces_are_random() {
        let key = DataKey::generate("C0001", 1).expect("key");
        let a = key.encrypt(&CTX, b"same").expect("encrypt");
        let b = key.encrypt(&CTX, b"same").expect("encrypt");
        assert_ne!(a, b);
    }

    #[test]
    fn known_answer_encrypt() {
        let key = kat_key();
        let env = key
            .encrypt_with_nonce(&CTX, b"+2250701020304", KAT_NONCE)
            .expect("encrypt");
        assert_eq!(hex(&env), KAT_ENVELOPE);
        let empty = key
            .encrypt_with_nonce(&CTX, b"", KAT_NONCE)
            .expect("encrypt");
        assert_eq!(hex(&empty), KAT_EMPTY_ENVELOPE);
    }

    #[test]
    fn known_answer_decrypt() {
        let key = kat_key();
        let env = unhex(KAT_ENVELOPE);
        assert_eq!(envelope_key(&env).expect("header"), ("C0001".to_owned(), 1));
        assert_eq!(key.decrypt(&CTX, &env).expect("decrypt"), b"+2250701020304");
        let empty = unhex(KAT_EMPTY_ENVELOPE);
        assert_eq!(key.decrypt(&CTX, &empty).expect("decrypt"), b"");
    }

    #[test]
    fn flipping_any_bit_is_rejected() {
        let key = kat_key();
        let env = key.encrypt(&CTX, b"Kone Aminata").expect("encrypt");
        for byte in 0..env.len() {
            for bit in 0..8 {
                let mut bad = env.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    key.decrypt(&CTX, &bad).is_err(),
                    "flip of byte {byte} bit {bit} accepted"
                );
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_rejected() {
        let key = kat_key();
        let env = key.encrypt(&CTX, b"Kone Aminata").expect("encrypt");
        for len in 0..env.len() {
            assert!(key.decrypt(&CTX, &env[..len]).is_err(), "prefix {len}");
        }
        let mut longer = env.clone();
        longer.push(0);
        assert!(key.decrypt(&CTX, &longer).is_err());
    }

    #[test]
    fn wrong_key_is_rejected() {
        let key = DataKey::generate("C0001", 1).expect("key");
        let env = key.encrypt(&CTX, b"secret").expect("encrypt");
        // Same id and version, different bytes: authentication fails.
        let other = DataKey::generate("C0001", 1).expect("key");
        assert!(matches!(other.decrypt(&CTX, &env), Err(Error::Decrypt)));
        // Another id or version: refused before trying.
        let other_id = DataKey::generate("C0002", 1).expect("key");
        assert!(matches!(
            other_id.decrypt(&CTX, &env),
            Err(Error::KeyMismatch)
        ));
        let other_version = DataKey::generate("C0001", 2).expect("key");
        assert!(matches!(
            other_version.decrypt(&CTX, &env),
            Err(Error::KeyMismatch)
        ));
    }

    #[test]
    fn wrong_context_is_rejected() {
        let key = kat_key();
        let env = key.encrypt(&CTX, b"secret").expect("encrypt");
        let others = [
            FieldContext {
                client: "C0002",
                ..CTX
            },
            FieldContext {
                record: "r-43",
                ..CTX
            },
            FieldContext {
                field: "name",
                ..CTX
            },
            // Boundaries move but the concatenation is the same.
            FieldContext {
                client: "C000",
                record: "1r-42",
                field: "phone",
            },
            FieldContext {
                client: "C0001",
                record: "r-42p",
                field: "hone",
            },
        ];
        for ctx in others {
            assert!(
                matches!(key.decrypt(&ctx, &env), Err(Error::Decrypt)),
                "{ctx:?} accepted"
            );
        }
    }

    #[test]
    fn envelope_key_reads_header() {
        let key = DataKey::generate("client-77", 9).expect("key");
        let env = key.encrypt(&CTX, b"x").expect("encrypt");
        assert_eq!(
            envelope_key(&env).expect("header"),
            ("client-77".to_owned(), 9)
        );
        assert!(matches!(envelope_key(&[]), Err(Error::Format(_))));
        assert!(matches!(envelope_key(&env[..10]), Err(Error::Format(_))));
        let mut v2 = env.clone();
        v2[0] = 2;
        assert!(matches!(envelope_key(&v2), Err(Error::Format(_))));
    }

    #[test]
    fn invalid_key_ids() {
        assert!(matches!(
            DataKey::generate("", 1),
            Err(Error::InvalidKeyId(_))
        ));
        let long = "x".repeat(256);
        assert!(matches!(
            DataKey::generate(&long, 1),
            Err(Error::InvalidKeyId(_))
        ));
        let max = "x".repeat(255);
        let key = DataKey::generate(&max, 1).expect("255 bytes is fine");
        let env = key.encrypt(&CTX, b"ok").expect("encrypt");
        assert_eq!(key.decrypt(&CTX, &env).expect("decrypt"), b"ok");
        let bad = DataKey::from_material(&long, 1, KeyMaterial::from_bytes([1; 32]));
        assert!(matches!(
            bad.encrypt(&CTX, b"x"),
            Err(Error::InvalidKeyId(_))
        ));
    }

    #[test]
    fn errors_do_not_leak_plaintext() {
        let key = kat_key();
        let env = key.encrypt(&CTX, b"TOP-SECRET-NAME").expect("encrypt");
        let other = FieldContext {
            field: "name",
            ..CTX
        };
        let err = key.decrypt(&other, &env).expect_err("wrong context");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("TOP-SECRET"));
        assert_eq!(
            err.to_string(),
            "ciphertext rejected: wrong key, wrong context or tampered"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key = kat_key();
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains("C0001"));
        assert!(!shown.contains("000102030405"), "{shown}");
        assert!(!shown.contains("AAECAwQF"), "{shown}"); // base64 of 00 01 02 03 04 05
        assert!(!shown.contains("[0, 1, 2, 3"), "{shown}");
    }

    #[test]
    fn wrap_unwrap_and_binding() {
        let (keyring, _) = keyring_with("kek-1");
        let dek = DataKey::generate("C0001", 3).expect("key");
        let env = dek.encrypt(&CTX, b"Traore").expect("encrypt");
        let wrapped = dek.wrap(&keyring).expect("wrap");
        assert_eq!(wrapped.kek_id(), "kek-1");
        let stored = WrappedKey::from_bytes(&wrapped.to_bytes()).expect("parse");
        assert_eq!(stored, wrapped);
        let back = DataKey::unwrap("C0001", 3, &stored, &keyring).expect("unwrap");
        assert_eq!(back.decrypt(&CTX, &env).expect("decrypt"), b"Traore");
        // The wrapped DEK cannot be reused for another client or version.
        assert!(matches!(
            DataKey::unwrap("C0002", 3, &stored, &keyring),
            Err(Error::Decrypt)
        ));
        assert!(matches!(
            DataKey::unwrap("C0001", 4, &stored, &keyring),
            Err(Error::Decrypt)
        ));
    }

    /// Written by Python `cryptography` from the documented wrapped-key format:
    /// KEK "kek-1" = 0x11 * 32, DEK = bytes 32..64, key id "C0001", version 3.
    const KAT_WRAPPED: &str = "01056b656b2d3101202122232425262728292a2b\
        3d181a107d5d29d0fef7f54ce29fb18f1d62b5fafafe2e09aa641ba224fe8a5a\
        be75566a5c34944b5b52f78d97312d1a";

    #[test]
    fn known_answer_unwrap() {
        let keyring =
            LocalKeyring::from_text("kek-1:ERERERERERERERERERERERERERERERERERERERERERE=\n")
                .expect("keyring");
        let wrapped = WrappedKey::from_bytes(&unhex(KAT_WRAPPED)).expect("parse");
        assert_eq!(wrapped.kek_id(), "kek-1");
        assert_eq!(hex(&wrapped.to_bytes()), KAT_WRAPPED);
        let dek = DataKey::unwrap("C0001", 3, &wrapped, &keyring).expect("unwrap");
        let expected: [u8; 32] = std::array::from_fn(|i| 32 + i as u8);
        assert_eq!(dek.material.expose(), &expected);
    }

    #[test]
    fn kek_rotation_keeps_data_readable() {
        let (kek1, _) = keyring_with("kek-1");
        let dek = DataKey::generate("C0001", 1).expect("key");
        let env = dek.encrypt(&CTX, b"Diallo").expect("encrypt");
        let wrapped_v1 = dek.wrap(&kek1).expect("wrap").to_bytes();
        drop(dek);

        let (kek2, text) = kek1.with_new_key("kek-2").expect("rotate");
        assert_eq!(kek2.current_id(), "kek-2");
        // The rotated keyring, reloaded from its text, still opens kek-1 wraps.
        let kek2 = LocalKeyring::from_text(&text).expect("reload");
        let wrapped_v1 = WrappedKey::from_bytes(&wrapped_v1).expect("parse");
        let dek = DataKey::unwrap("C0001", 1, &wrapped_v1, &kek2).expect("old wrap");

        // Re-wrap under kek-2; the envelope is untouched.
        let wrapped_v2 = dek.wrap(&kek2).expect("rewrap");
        assert_eq!(wrapped_v2.kek_id(), "kek-2");
        let dek = DataKey::unwrap("C0001", 1, &wrapped_v2, &kek2).expect("new wrap");
        assert_eq!(dek.decrypt(&CTX, &env).expect("decrypt"), b"Diallo");

        // Once kek-1 is dropped from the keyring, only the re-wrapped DEK opens.
        let kek2_only = LocalKeyring::from_text(
            &text
                .lines()
                .filter(|l| !l.starts_with("kek-1:"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .expect("kek-2 only");
        assert!(matches!(
            DataKey::unwrap("C0001", 1, &wrapped_v1, &kek2_only),
            Err(Error::UnknownKek { id }) if id == "kek-1"
        ));
        assert!(DataKey::unwrap("C0001", 1, &wrapped_v2, &kek2_only).is_ok());
    }

    #[test]
    fn crypto_shredding() {
        // Without the (destroyed) wrapped DEK, no other key opens the data.
        let env = {
            let dek = DataKey::generate("C0001", 1).expect("key");
            dek.encrypt(&CTX, b"erase me").expect("encrypt")
        };
        let replacement = DataKey::generate("C0001", 1).expect("key");
        assert!(replacement.decrypt(&CTX, &env).is_err());
    }

    fn keyring_with(id: &str) -> (LocalKeyring, String) {
        let text = LocalKeyring::generate_text(id).expect("generate");
        (LocalKeyring::from_text(&text).expect("parse"), text)
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            plain in proptest::collection::vec(any::<u8>(), 0..512),
            client in ".{0,40}",
            record in ".{0,40}",
            field in "[a-z_]{0,20}",
            key_id in "[A-Za-z0-9/-]{1,40}",
            version in any::<u32>(),
        ) {
            let key = DataKey::generate(&key_id, version).expect("key");
            let ctx = FieldContext { client: &client, record: &record, field: &field };
            let env = key.encrypt(&ctx, &plain).expect("encrypt");
            prop_assert_eq!(envelope_key(&env).expect("header"), (key_id.clone(), version));
            prop_assert_eq!(key.decrypt(&ctx, &env).expect("decrypt"), plain);
            let moved = format!("{field}x");
            let other = FieldContext { field: &moved, ..ctx };
            prop_assert!(key.decrypt(&other, &env).is_err());
        }
    }
}
