//! Key-encryption keys (KEKs): the [`KekProvider`] trait, the [`WrappedKey`]
//! it produces and the file/environment-backed [`LocalKeyring`].

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::key::{KEY_LEN, KeyMaterial};
use crate::{Error, Result};

/// First byte of a serialized [`WrappedKey`].
pub const WRAPPED_KEY_VERSION: u8 = 1;
/// Payload algorithm id used by [`LocalKeyring`]: AES-256-GCM, random nonce.
pub const WRAP_ALG_AES_256_GCM: u8 = 1;
/// Longest KEK id a [`LocalKeyring`] accepts.
pub const MAX_KEK_ID_LEN: usize = 64;

const TAG_LEN: usize = 16;
/// alg (1) + nonce (12) + wrapped 32-byte key + tag (16).
const LOCAL_PAYLOAD_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Where the key-encryption key comes from. A trait so that a cloud KMS can
/// be added later; implementations must never log or echo key material.
pub trait KekProvider: Send + Sync + fmt::Debug {
    /// Current KEK id used for new wraps (e.g. "kek-1").
    fn current_id(&self) -> &str;
    /// Wraps (encrypts) a DEK under the current KEK; returns a WrappedKey
    /// carrying the KEK id. `aad` is authenticated and needed to unwrap.
    fn wrap(&self, dek: &KeyMaterial, aad: &[u8]) -> Result<WrappedKey>;
    /// Unwraps with whichever KEK id the WrappedKey names (old KEKs are kept
    /// for rotation).
    fn unwrap(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<KeyMaterial>;
}

/// A DEK wrapped by a KEK: the KEK id plus a provider-specific payload (for
/// [`LocalKeyring`]: algorithm id, nonce, ciphertext and tag).
///
/// Byte form (`to_bytes`), version 1:
///
/// ```text
/// version u8 = 1 | kek_id_len u8 (1..=255) | kek_id (utf-8) | payload (rest, non-empty)
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WrappedKey {
    kek_id: String,
    payload: Vec<u8>,
}

impl WrappedKey {
    /// For [`KekProvider`] implementations: a KEK id (1..=255 bytes) and the
    /// provider's opaque, non-empty payload.
    pub fn new(kek_id: &str, payload: Vec<u8>) -> Result<Self> {
        if kek_id.is_empty() || kek_id.len() > usize::from(u8::MAX) {
            return Err(Error::InvalidKeyId("kek id must be 1 to 255 bytes"));
        }
        if payload.is_empty() {
            return Err(Error::Format("wrapped key payload is empty".into()));
        }
        Ok(Self {
            kek_id: kek_id.to_owned(),
            payload,
        })
    }

    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// The provider-specific part (already encrypted; not secret).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let format = |what: &str| Error::Format(format!("wrapped key {what}"));
        let (&version, rest) = b.split_first().ok_or_else(|| format("is empty"))?;
        if version != WRAPPED_KEY_VERSION {
            return Err(Error::Format(format!(
                "unsupported wrapped key version {version}"
            )));
        }
        let (&id_len, rest) = rest.split_first().ok_or_else(|| format("is truncated"))?;
        let id_len = usize::from(id_len);
        if id_len == 0 {
            return Err(format("has an empty kek id"));
        }
        if rest.len() <= id_len {
            return Err(format("is truncated"));
        }
        let (id, payload) = rest.split_at(id_len);
        let kek_id = std::str::from_utf8(id).map_err(|_| format("kek id is not utf-8"))?;
        Self::new(kek_id, payload.to_vec())
    }

    /// `version || kek_id_len || kek_id`, the authenticated prefix.
    fn header(&self) -> Vec<u8> {
        let id = self.kek_id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + self.payload.len());
        out.push(WRAPPED_KEY_VERSION);
        // `new` guarantees 1..=255 bytes.
        out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(id);
        out
    }
}

/// KEKs loaded from a file or the environment.
///
/// Text format: one key per line, `id:base64(32 bytes)`; blank lines and
/// lines starting with `#` are ignored; the LAST key is current (used for new
/// wraps), earlier ones are kept to unwrap older DEKs. Ids are 1 to 64 of
/// `A-Z a-z 0-9 . _ -` and unique.
///
/// `Debug` lists the ids only.
pub struct LocalKeyring {
    /// In file order; never empty; the last one is current.
    keys: Vec<KekEntry>,
}

struct KekEntry {
    id: String,
    material: KeyMaterial,
}

impl LocalKeyring {
    /// Parses the keyring text. Errors name the line number, never the key.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut keys: Vec<KekEntry> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let entry = raw.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let keyring_err = |reason: String| Error::Keyring { line, reason };
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err(keyring_err("expected \"id:base64-key\"".into()));
            };
            let id = id.trim();
            check_kek_id(id).map_err(|reason| keyring_err(reason.into()))?;
            if keys.iter().any(|k| k.id == id) {
                return Err(keyring_err(format!("duplicate key id {id}")));
            }
            // The decoder's own error may quote an offending character: drop it.
            let decoded = Zeroizing::new(
                BASE64
                    .decode(encoded.trim())
                    .map_err(|_| keyring_err("key is not valid standard base64".into()))?,
            );
            let material = KeyMaterial::from_slice(&decoded).ok_or_else(|| {
                keyring_err(format!(
                    "key must decode to {KEY_LEN} bytes, got {}",
                    decoded.len()
                ))
            })?;
            keys.push(KekEntry {
                id: id.to_owned(),
                material,
            });
        }
        if keys.is_empty() {
            return Err(Error::EmptyKeyring);
        }
        Ok(Self { keys })
    }

    /// Reads the keyring text from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?);
        Self::from_text(&text)
    }

    /// Reads the keyring text from an environment variable; entries may be
    /// separated by newlines or `;` (so `#` comments end at the next `;`).
    pub fn from_env(var: &str) -> Result<Self> {
        let value = Zeroizing::new(std::env::var(var).map_err(|_| Error::Env {
            var: var.to_owned(),
        })?);
        Self::from_env_value(&value)
    }

    fn from_env_value(value: &str) -> Result<Self> {
        // `;` separates entries where newlines are awkward; comment lines
        // are dropped first so a `;` inside one splits nothing.
        let entries: Vec<&str> = value
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        let text = Zeroizing::new(entries.join("\n").replace(';', "\n"));
        Self::from_text(&text)
    }

    /// New keyring text holding one fresh random key (for `c360 init`). The
    /// returned string is secret: write it where it belongs, then drop it.
    pub fn generate_text(id: &str) -> Result<String> {
        check_kek_id(id).map_err(Error::InvalidKeyId)?;
        let keyring = Self {
            keys: vec![KekEntry {
                id: id.to_owned(),
                material: KeyMaterial::generate(&SystemRandom::new())?,
            }],
        };
        Ok(keyring.to_text())
    }

    /// Rotation: a keyring with every existing key plus a fresh one named
    /// `id`, which becomes current; also returns the new keyring text (secret).
    /// Data needs no re-encryption: only DEKs are re-wrapped, at leisure.
    pub fn with_new_key(&self, id: &str) -> Result<(Self, String)> {
        check_kek_id(id).map_err(Error::InvalidKeyId)?;
        if self.keys.iter().any(|k| k.id == id) {
            return Err(Error::InvalidKeyId("kek id already in the keyring"));
        }
        let mut keys: Vec<KekEntry> = self
            .keys
            .iter()
            .map(|k| KekEntry {
                id: k.id.clone(),
                material: k.material.duplicate(),
            })
            .collect();
        keys.push(KekEntry {
            id: id.to_owned(),
            material: KeyMaterial::generate(&SystemRandom::new())?,
        });
        let keyring = Self { keys };
        let text = keyring.to_text();
        Ok((keyring, text))
    }

    /// Ids in file order; the last is current.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    fn to_text(&self) -> String {
        let mut text = String::from(
            "# c360 key-encryption keys: one \"id:base64(32 bytes)\" per line, the last line is current\n",
        );
        for key in &self.keys {
            let mut encoded = Zeroizing::new(String::new());
            BASE64.encode_string(key.material.expose(), &mut encoded);
            text.push_str(&key.id);
            text.push(':');
            text.push_str(&encoded);
            text.push('\n');
        }
        text
    }

    fn current(&self) -> &KekEntry {
        // `keys` is never empty (checked by every constructor).
        &self.keys[self.keys.len() - 1]
    }

    fn find(&self, id: &str) -> Result<&KekEntry> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| Error::UnknownKek { id: id.to_owned() })
    }
}

fn check_kek_id(id: &str) -> std::result::Result<(), &'static str> {
    if id.is_empty() {
        return Err("key id is empty");
    }
    if id.len() > MAX_KEK_ID_LEN {
        return Err("key id is longer than 64 characters");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !id.chars().all(allowed) {
        return Err("key id may only hold A-Z a-z 0-9 . _ -");
    }
    Ok(())
}

fn aead_key(material: &KeyMaterial) -> LessSafeKey {
    match UnboundKey::new(&AES_256_GCM, material.expose()) {
        Ok(key) => LessSafeKey::new(key),
        Err(_) => unreachable!("AES-256-GCM accepts any 32-byte key"),
    }
}

impl KekProvider for LocalKeyring {
    fn current_id(&self) -> &str {
        &self.current().id
    }

    /// Payload: `alg u8 = 1 | nonce (12) | AES-256-GCM(dek) (32) | tag (16)`;
    /// AAD: wrapped-key header, alg and nonce, then the caller's `aad`.
    fn wrap(&self, dek: &KeyMaterial, aad: &[u8]) -> Result<WrappedKey> {
        let kek = self.current();
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Rng)?;

        let mut payload = Vec::with_capacity(LOCAL_PAYLOAD_LEN);
        payload.push(WRAP_ALG_AES_256_GCM);
        payload.extend_from_slice(&nonce);
        // Placeholder so that `WrappedKey::new` accepts it; replaced below.
        let mut wrapped = WrappedKey::new(&kek.id, payload)?;
        let mut full_aad = wrapped.header();
        full_aad.extend_from_slice(&wrapped.payload);
        full_aad.extend_from_slice(aad);

        let mut sealed = Zeroizing::new(Vec::with_capacity(KEY_LEN + TAG_LEN));
        sealed.extend_from_slice(dek.expose());
        aead_key(&kek.material)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&full_aad),
                &mut *sealed,
            )
            .map_err(|_| Error::Encrypt)?;
        wrapped.payload.extend_from_slice(&sealed);
        Ok(wrapped)
    }

    fn unwrap(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<KeyMaterial> {
        let kek = self.find(&wrapped.kek_id)?;
        let payload = &wrapped.payload;
        if payload.len() != LOCAL_PAYLOAD_LEN {
            return Err(Error::Format(format!(
                "local wrapped key payload must be {LOCAL_PAYLOAD_LEN} bytes, got {}",
                payload.len()
            )));
        }
        if payload[0] != WRAP_ALG_AES_256_GCM {
            return Err(Error::Format(format!(
                "unsupported key wrap algorithm id {}",
                payload[0]
            )));
        }
        let (prefix, sealed) = payload.split_at(1 + NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&prefix[1..]);
        let mut full_aad = wrapped.header();
        full_aad.extend_from_slice(prefix);
        full_aad.extend_from_slice(aad);

        let mut buf = Zeroizing::new(sealed.to_vec());
        let opened = aead_key(&kek.material).open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&full_aad),
            &mut buf,
        );
        // `buf` (Zeroizing) is wiped on return, whether or not it opened.
        match opened {
            Ok(dek) => KeyMaterial::from_slice(dek).ok_or(Error::Decrypt),
            Err(_) => Err(Error::Decrypt),
        }
    }
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .field("current", &self.current_id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 32 bytes 0xAB as base64 and hex: must never show up in messages.
    const SECRET_B64: &str = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=";
    const SECRET_HEX: &str = "abababababab";

    fn keyring(text: &str) -> LocalKeyring {
        LocalKeyring::from_text(text).expect("keyring")
    }

    fn wrap_aad() -> &'static [u8] {
        b"aad"
    }

    #[test]
    fn parses_comments_blank_lines_and_last_is_current() {
        let text = format!(
            "# production keys\n\n  kek-1 : {SECRET_B64}  \r\n# rotated 2025-01\nkek-2:{}\n",
            BASE64.encode([1u8; 32])
        );
        let ring = keyring(&text);
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["kek-1", "kek-2"]);
        assert_eq!(ring.current_id(), "kek-2");
    }

    #[test]
    fn parse_errors_name_the_line_and_not_the_key() {
        let short = BASE64.encode([0xABu8; 31]);
        let cases = [
            (format!("# c\nkek-1:{SECRET_B64}\n{SECRET_B64}\n"), 3),
            (format!("kek-1:{SECRET_B64}\nkek-1:{SECRET_B64}\n"), 2),
            (format!("\n\nkek 1:{SECRET_B64}\n"), 3),
            (format!(":{SECRET_B64}\n"), 1),
            (format!("kek-1:{SECRET_B64}!\n"), 1),
            (format!("kek-1:{}\n", &SECRET_B64[..20]), 1),
            (format!("kek-1:{short}\n"), 1),
            (
                format!("kek-1:{SECRET_B64}\nkek-2:{SECRET_B64}{SECRET_B64}\n"),
                2,
            ),
        ];
        for (text, want_line) in cases {
            let err = LocalKeyring::from_text(&text).expect_err("must fail");
            let Error::Keyring { line, .. } = &err else {
                panic!("unexpected error {err:?}");
            };
            assert_eq!(*line, want_line, "{err}");
            let shown = format!("{err} {err:?}");
            assert!(shown.contains(&format!("line {want_line}")), "{shown}");
            assert!(!shown.contains("q6ur"), "key echoed: {shown}");
            assert!(!shown.contains(&short[..8]), "key echoed: {shown}");
            assert!(!shown.contains(SECRET_HEX), "key echoed: {shown}");
        }
    }

    #[test]
    fn empty_keyring_is_an_error() {
        assert!(matches!(
            LocalKeyring::from_text("# nothing\n\n"),
            Err(Error::EmptyKeyring)
        ));
    }

    #[test]
    fn env_value_accepts_semicolons() {
        let value = format!("kek-1:{SECRET_B64};kek-2:{}", BASE64.encode([2u8; 32]));
        let ring = LocalKeyring::from_env_value(&value).expect("env value");
        assert_eq!(ring.current_id(), "kek-2");
        let err = LocalKeyring::from_env("C360_TEST_SURELY_UNSET_KEYRING_VAR").expect_err("unset");
        assert!(matches!(&err, Error::Env { var } if var == "C360_TEST_SURELY_UNSET_KEYRING_VAR"));
    }

    #[test]
    fn from_file_reads_and_reports_missing_files() {
        let dir = std::env::temp_dir().join(format!("c360-crypto-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("keyring");
        let text = LocalKeyring::generate_text("kek-1").expect("generate");
        std::fs::write(&path, &text).expect("write");
        let ring = LocalKeyring::from_file(&path).expect("from file");
        assert_eq!(ring.current_id(), "kek-1");
        std::fs::remove_file(&path).expect("cleanup");
        let err = LocalKeyring::from_file(&path).expect_err("missing");
        assert!(matches!(err, Error::Io { .. }));
        assert!(err.to_string().contains("keyring"));
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn generated_text_loads_from_the_environment_form() {
        let text = LocalKeyring::generate_text("kek-9").expect("generate");
        let ring = LocalKeyring::from_env_value(&text).expect("env form");
        assert_eq!(ring.current_id(), "kek-9");
        let with_comment = format!("# a; comment\n{}", text.lines().last().expect("key line"));
        assert!(LocalKeyring::from_env_value(&with_comment).is_ok());
    }

    #[test]
    fn generate_text_round_trips_and_validates_ids() {
        let text = LocalKeyring::generate_text("kek-1").expect("generate");
        let a = keyring(&text);
        let b = keyring(&LocalKeyring::generate_text("kek-1").expect("generate"));
        assert_eq!(a.current_id(), "kek-1");
        // Two generations give different keys: a's wraps do not open under b.
        let dek = KeyMaterial::from_bytes([5; 32]);
        let wrapped = a.wrap(&dek, wrap_aad()).expect("wrap");
        assert!(matches!(
            b.unwrap(&wrapped, wrap_aad()),
            Err(Error::Decrypt)
        ));
        for bad in ["", "kek:1", "kek 1", "kek;1", "#kek", &"k".repeat(65)] {
            assert!(
                matches!(
                    LocalKeyring::generate_text(bad),
                    Err(Error::InvalidKeyId(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn with_new_key_rotates_and_refuses_duplicates() {
        let ring = keyring(&LocalKeyring::generate_text("kek-1").expect("generate"));
        let (rotated, text) = ring.with_new_key("kek-2").expect("rotate");
        assert_eq!(rotated.ids().collect::<Vec<_>>(), ["kek-1", "kek-2"]);
        assert_eq!(keyring(&text).ids().collect::<Vec<_>>(), ["kek-1", "kek-2"]);
        assert!(matches!(
            rotated.with_new_key("kek-1"),
            Err(Error::InvalidKeyId(_))
        ));
        // The old keyring is unchanged.
        assert_eq!(ring.current_id(), "kek-1");
    }

    #[test]
    fn wrap_round_trip_and_aad_binding() {
        let ring = keyring(&format!("kek-1:{SECRET_B64}\n"));
        let dek = KeyMaterial::from_bytes([9; 32]);
        let wrapped = ring.wrap(&dek, wrap_aad()).expect("wrap");
        assert_eq!(wrapped.to_bytes().len(), 2 + 5 + LOCAL_PAYLOAD_LEN);
        let back = ring.unwrap(&wrapped, wrap_aad()).expect("unwrap");
        assert_eq!(back.expose(), dek.expose());
        assert!(matches!(
            ring.unwrap(&wrapped, b"other"),
            Err(Error::Decrypt)
        ));
    }

    #[test]
    fn wrapped_key_bit_flips_are_rejected() {
        let ring = keyring(&format!(
            "kek-1:{}\nkek-2:{SECRET_B64}\n",
            BASE64.encode([3u8; 32])
        ));
        let dek = KeyMaterial::from_bytes([9; 32]);
        let bytes = ring.wrap(&dek, wrap_aad()).expect("wrap").to_bytes();
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[byte] ^= 1 << bit;
                let opened = WrappedKey::from_bytes(&bad).and_then(|w| ring.unwrap(&w, wrap_aad()));
                assert!(opened.is_err(), "flip of byte {byte} bit {bit} accepted");
            }
        }
        for len in 0..bytes.len() {
            let opened =
                WrappedKey::from_bytes(&bytes[..len]).and_then(|w| ring.unwrap(&w, wrap_aad()));
            assert!(opened.is_err(), "prefix {len} accepted");
        }
    }

    #[test]
    fn wrapped_key_naming_another_kek_is_rejected() {
        // Relabel a kek-2 wrap as kek-1 (same length id): the AAD catches it.
        let ring = keyring(&format!(
            "kek-1:{}\nkek-2:{SECRET_B64}\n",
            BASE64.encode([3u8; 32])
        ));
        let dek = KeyMaterial::from_bytes([9; 32]);
        let wrapped = ring.wrap(&dek, wrap_aad()).expect("wrap");
        let relabelled = WrappedKey::new("kek-1", wrapped.payload().to_vec()).expect("new");
        assert!(matches!(
            ring.unwrap(&relabelled, wrap_aad()),
            Err(Error::Decrypt)
        ));
        let unknown = WrappedKey::new("kek-9", wrapped.payload().to_vec()).expect("new");
        assert!(matches!(
            ring.unwrap(&unknown, wrap_aad()),
            Err(Error::UnknownKek { id }) if id == "kek-9"
        ));
    }

    #[test]
    fn debug_lists_ids_only() {
        let ring = keyring(&format!("kek-1:{SECRET_B64}\n"));
        let shown = format!("{ring:?} {ring:#?}");
        assert!(shown.contains("kek-1"), "{shown}");
        assert!(!shown.contains("q6ur"), "{shown}");
        assert!(!shown.contains(SECRET_HEX), "{shown}");
        assert!(!shown.contains("171, 171"), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
    }
}
