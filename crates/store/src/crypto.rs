//! The master key, credential encryption and card fingerprints.
//!
//! One 32-byte master key, from `SANALPOS_MASTER_KEY` (base64 or 64 hex characters) or
//! from `<data_dir>/master.key` (created 0600 on first start). Two keys are derived
//! from it with HMAC-SHA256 under fixed labels, so the encryption key and the
//! fingerprint key are never the same bytes:
//!
//! - credentials: AES-256-GCM, a fresh random 96-bit nonce per encryption, stored as
//!   `base64(nonce || ciphertext)`;
//! - card fingerprints: `hex(HMAC-SHA256(fingerprint_key, card digits))`, so the same
//!   card is recognisable across payments without the number being recoverable.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use sanalpos_core::CardNumber;

use crate::StoreError;

/// The environment variable that holds the master key.
pub const MASTER_KEY_ENV: &str = "SANALPOS_MASTER_KEY";
/// The key file's name inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

type HmacSha256 = Hmac<Sha256>;

/// Encryption and fingerprinting under the master key. `Debug` shows nothing secret.
#[derive(Clone)]
pub struct Crypto {
    cipher: Aes256Gcm,
    fingerprint_key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Crypto(<keys hidden>)")
    }
}

/// Where the master key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `SANALPOS_MASTER_KEY`.
    Environment,
    /// An existing key file.
    File,
    /// A key file created just now; back it up, losing it loses the credentials.
    CreatedFile,
}

impl Crypto {
    /// From 32 raw key bytes.
    pub fn from_master_key(master: &[u8; 32]) -> Crypto {
        let derive = |label: &[u8]| -> Zeroizing<[u8; 32]> {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(master)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            mac.update(label);
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(&mac.finalize().into_bytes());
            out
        };
        let encryption_key = derive(b"sanalpos/credentials/v1");
        let fingerprint_key = derive(b"sanalpos/card-fingerprint/v1");
        let cipher = Aes256Gcm::new_from_slice(&encryption_key[..])
            .unwrap_or_else(|_| unreachable!("the key is 32 bytes"));
        Crypto {
            cipher,
            fingerprint_key,
        }
    }

    /// Parses a master key written as base64 (of 32 bytes) or 64 hex characters. The
    /// error never shows the text.
    pub fn parse_master_key(text: &str) -> Result<Crypto, StoreError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            STANDARD.decode(text).ok()
        };
        let bytes = Zeroizing::new(bytes.ok_or_else(|| {
            StoreError::Config("master key is neither base64 nor 64 hex characters".into())
        })?);
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            StoreError::Config("master key must be 32 bytes (base64 or 64 hex characters)".into())
        })?;
        let key = Zeroizing::new(key);
        Ok(Crypto::from_master_key(&key))
    }

    /// The master key from `SANALPOS_MASTER_KEY`, else from `<data_dir>/master.key`,
    /// creating that file (0600) with a random key when it does not exist. The caller
    /// should log a warning when the answer is [`KeySource::CreatedFile`].
    pub fn load(data_dir: &Path) -> Result<(Crypto, KeySource), StoreError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            if !text.trim().is_empty() {
                return Ok((Crypto::parse_master_key(&text)?, KeySource::Environment));
            }
        }
        Crypto::load_file(data_dir)
    }

    /// The key file only (ignores the environment).
    pub fn load_file(data_dir: &Path) -> Result<(Crypto, KeySource), StoreError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((Crypto::parse_master_key(&text)?, KeySource::File)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", data_dir.display()))
                })?;
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rng().fill_bytes(&mut key[..]);
                let text = Zeroizing::new(STANDARD.encode(&key[..]));
                write_private(&path, text.as_bytes())?;
                tracing::warn!(
                    path = %path.display(),
                    "created a new master key file; back it up: without it the POS credentials cannot be decrypted"
                );
                Ok((Crypto::from_master_key(&key), KeySource::CreatedFile))
            }
            Err(e) => Err(StoreError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// A random key, for tests and tools.
    pub fn random() -> Crypto {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut key[..]);
        Crypto::from_master_key(&key)
    }

    /// Encrypts credentials (any text, usually JSON): `base64(nonce || ciphertext)`.
    pub fn encrypt_credentials(&self, plaintext: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(12 + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts what [`Crypto::encrypt_credentials`] produced. Fails (without saying
    /// more) under another master key or on damaged text.
    pub fn decrypt_credentials(&self, stored: &str) -> Result<Zeroizing<String>, StoreError> {
        let bytes = STANDARD
            .decode(stored)
            .map_err(|_| StoreError::Crypto("stored credentials are not base64".into()))?;
        if bytes.len() < 12 + 16 {
            return Err(StoreError::Crypto(
                "stored credentials are too short".into(),
            ));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(Nonce::from_slice(nonce), ciphertext)
                .map_err(|_| {
                    StoreError::Crypto(
                        "cannot decrypt the credentials (wrong master key or damaged data)".into(),
                    )
                })?,
        );
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Crypto("decrypted credentials are not text".into()))
    }

    /// A keyed fingerprint of a card number: same card, same fingerprint; not
    /// reversible without the master key.
    pub fn card_fingerprint(&self, card: &CardNumber) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.fingerprint_key[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(card.expose().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A keyed fingerprint of a provider vault's token of a stored card, for payments
    /// made with it (their card number is never seen here): same token, same
    /// fingerprint; never equal to a card number's fingerprint.
    pub fn stored_card_fingerprint(&self, token: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.fingerprint_key[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"stored-card-token:");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::Config(format!("cannot write {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    std::fs::write(path, bytes)
        .map_err(|e| StoreError::Config(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let crypto = Crypto::random();
        let a = crypto.encrypt_credentials("{\"sx\":\"secret\"}").unwrap();
        let b = crypto.encrypt_credentials("{\"sx\":\"secret\"}").unwrap();
        assert_ne!(a, b, "a fresh nonce per encryption");
        assert!(!a.contains("secret"));
        assert_eq!(
            crypto.decrypt_credentials(&a).unwrap().as_str(),
            "{\"sx\":\"secret\"}"
        );
        assert!(Crypto::random().decrypt_credentials(&a).is_err());
    }

    #[test]
    fn master_key_formats() {
        let hex_key = "00".repeat(32);
        let b64_key = STANDARD.encode([0u8; 32]);
        let card = CardNumber::parse("4546711234567894").unwrap();
        let a = Crypto::parse_master_key(&hex_key).unwrap();
        let b = Crypto::parse_master_key(&b64_key).unwrap();
        assert_eq!(a.card_fingerprint(&card), b.card_fingerprint(&card));
        assert!(Crypto::parse_master_key("short").is_err());
        let err = Crypto::parse_master_key("zz").unwrap_err().to_string();
        assert!(!err.contains("zz"));
        assert!(!a.card_fingerprint(&card).contains("4546711234567894"));
    }

    #[test]
    fn key_file_is_created_private_once() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = Crypto::load_file(dir.path()).unwrap();
        assert_eq!(source, KeySource::CreatedFile);
        let (second, source) = Crypto::load_file(dir.path()).unwrap();
        assert_eq!(source, KeySource::File);
        let card = CardNumber::parse("4546711234567894").unwrap();
        assert_eq!(
            first.card_fingerprint(&card),
            second.card_fingerprint(&card)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
