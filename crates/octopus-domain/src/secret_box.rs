//! Secrets at rest: API secrets (and later channel credentials) are stored encrypted with
//! AES-256-GCM under the operator's master key. Only ciphertext reaches the database; the
//! plaintext lives in memory as a `SecretString`, which never prints.
//!
//! The master key also derives keys for other purposes (such as the cashier's form tokens), so
//! that what those keys produce in public says nothing about the key that seals secrets, and
//! every node holding the same master key derives the same keys.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const VERSION_PREFIX: &str = "v1:";
/// A fixed text encrypted at first start, so a later start with another key fails clearly.
const CHECK_PLAINTEXT: &str = "octopus-master-key-check";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretBoxError {
    #[error("the master key must be 32 bytes, given as 64 hex characters or base64")]
    BadKey,
    #[error("a stored secret could not be decrypted with this master key")]
    Undecryptable,
}

/// The operator's 256-bit master key.
#[derive(Clone)]
pub struct MasterKey {
    aead: Aes256Gcm,
    /// Keyed with the master key, for [`MasterKey::derive_key`].
    kdf: Hmac<Sha256>,
}

impl MasterKey {
    /// A new random key, returned with its hex text for the operator to keep.
    pub fn generate() -> (MasterKey, String) {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let text = hex::encode(bytes);
        (MasterKey::from_bytes(&bytes), text)
    }

    /// Reads a key written as 64 hex characters or as base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<MasterKey, SecretBoxError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| BASE64.decode(text).ok())
            .ok_or(SecretBoxError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SecretBoxError::BadKey)?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey {
            aead: Aes256Gcm::new(bytes.into()),
            kdf: <Hmac<Sha256> as Mac>::new_from_slice(bytes)
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// A 256-bit key for one `purpose`, the same wherever this master key is used:
    /// HMAC-SHA256(master key, "octopus derived key v1\n" + purpose).
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.kdf.clone();
        mac.update(b"octopus derived key v1\n");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Encrypts a secret: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut out = Vec::with_capacity(12 + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        format!("{VERSION_PREFIX}{}", BASE64.encode(out))
    }

    /// Decrypts what `seal` produced.
    pub fn open(&self, sealed: &str) -> Result<SecretString, SecretBoxError> {
        let body = sealed
            .strip_prefix(VERSION_PREFIX)
            .ok_or(SecretBoxError::Undecryptable)?;
        let bytes = BASE64
            .decode(body)
            .map_err(|_| SecretBoxError::Undecryptable)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretBoxError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plaintext = self
            .aead
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretBoxError::Undecryptable)?;
        let text = String::from_utf8(plaintext).map_err(|_| SecretBoxError::Undecryptable)?;
        Ok(SecretString::from(text))
    }

    /// A value to store once per database so later starts can check they hold the same key.
    pub fn check_value(&self) -> String {
        self.seal(CHECK_PLAINTEXT)
    }

    /// Whether a stored check value was made with this key.
    pub fn matches(&self, check_value: &str) -> bool {
        self.open(check_value)
            .map(|t| t.expose_secret() == CHECK_PLAINTEXT)
            .unwrap_or(false)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_the_wrong_key() {
        let (key, text) = MasterKey::generate();
        let again = MasterKey::parse(&text).unwrap();
        let sealed = key.seal("API_SECRET");
        assert!(!sealed.contains("API_SECRET"));
        assert_ne!(sealed, key.seal("API_SECRET"), "nonces differ");
        assert_eq!(again.open(&sealed).unwrap().expose_secret(), "API_SECRET");
        let (other, _) = MasterKey::generate();
        assert_eq!(
            other.open(&sealed).unwrap_err(),
            SecretBoxError::Undecryptable
        );
        assert!(key.matches(&again.check_value()));
        assert!(!other.matches(&key.check_value()));
        assert!(MasterKey::parse("short").is_err());
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn derived_keys_are_stable_per_master_key_and_differ_by_purpose() {
        let (key, text) = MasterKey::generate();
        let again = MasterKey::parse(&text).unwrap();
        assert_eq!(key.derive_key("cashier"), again.derive_key("cashier"));
        assert_ne!(key.derive_key("cashier"), key.derive_key("other"));
        assert_ne!(
            key.derive_key("cashier"),
            MasterKey::generate().0.derive_key("cashier")
        );
    }
}
