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
            return Err(Error::Format(format!("unsupported envelope version {version}")));
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
        let nonce = nonce_bytes
            .try_into()
            .map_err(|_| format("is truncated"))?;
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
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Rng)?;
        self.encrypt_with_nonce(ctx, plaintext, nonce)
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

        let mut body = plaintext.to_vec();
        let sealed = self.aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut body,
        );
        if sealed.is_err() {
            body.zeroize();
            return Err(Error::Encrypt);
        }
        envelope.extend_from_slice(&body);
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
