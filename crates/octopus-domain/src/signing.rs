//! Request and callback signatures: lowercase hex HMAC-SHA256 with the API secret over the
//! canonical string (`key=value` of every top-level field sorted by key, joined with `&`).
//!
//! Some merchant clients drop empty-valued fields before signing, others keep them as `key=`;
//! verification accepts either form. Hex is accepted in any case and compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::fields::RequestFields;

type HmacSha256 = Hmac<Sha256>;

/// Builds the canonical string. With `keep_empty == false`, empty-valued fields are left out.
pub fn canonical(fields: &RequestFields, keep_empty: bool) -> String {
    let mut out = String::with_capacity(256);
    for (key, value) in fields.iter() {
        if !keep_empty && value.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// A signing key prepared once per API secret (the HMAC key schedule is reused).
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl SigningKey {
    pub fn new(secret: &[u8]) -> Self {
        SigningKey(HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length"))
    }

    /// Lowercase hex signature over the canonical string with empty fields kept (`key=`).
    pub fn sign(&self, fields: &RequestFields) -> String {
        self.sign_str(&canonical(fields, true))
    }

    /// Lowercase hex signature over an already built string.
    pub fn sign_str(&self, message: &str) -> String {
        self.sign_bytes(message.as_bytes())
    }

    /// Lowercase hex signature over bytes (a device request's signed message).
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks a signature given as hex in any case, in constant time, against both canonical
    /// forms (empty fields kept, empty fields dropped).
    pub fn verify(&self, fields: &RequestFields, signature_hex: &str) -> bool {
        let Ok(expected) = hex::decode(signature_hex.trim()) else {
            // Still spend the time of a verification so that malformed and wrong signatures
            // look alike from outside.
            let _ = self.verify_raw(canonical(fields, true).as_bytes(), &[0u8; 32]);
            return false;
        };
        if self.verify_raw(canonical(fields, true).as_bytes(), &expected) {
            return true;
        }
        fields.has_empty_values() && self.verify_raw(canonical(fields, false).as_bytes(), &expected)
    }

    /// Checks a hex signature (any case) over an already built string, in constant time.
    pub fn verify_str(&self, message: &str, signature_hex: &str) -> bool {
        self.verify_bytes(message.as_bytes(), signature_hex)
    }

    /// Checks a hex signature (any case) over bytes, in constant time.
    pub fn verify_bytes(&self, message: &[u8], signature_hex: &str) -> bool {
        let expected = hex::decode(signature_hex.trim()).unwrap_or_default();
        self.verify_raw(message, &expected)
    }

    fn verify_raw(&self, message: &[u8], expected: &[u8]) -> bool {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(expected).is_ok()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> RequestFields {
        pairs.iter().copied().collect()
    }

    #[test]
    fn accepts_both_empty_field_forms_and_any_hex_case() {
        let key = SigningKey::new(b"secret");
        let f = fields(&[("a", "1"), ("b", ""), ("c", "3")]);
        let kept = key.sign_str("a=1&b=&c=3");
        let dropped = key.sign_str("a=1&c=3");
        assert_eq!(key.sign(&f), kept);
        assert!(key.verify(&f, &kept));
        assert!(key.verify(&f, &dropped));
        assert!(key.verify(&f, &kept.to_uppercase()));
        assert!(!key.verify(&f, &key.sign_str("a=1&b=&c=4")));
        assert!(!key.verify(&f, "not-hex"));
        assert!(!key.verify(&f, ""));
        assert!(!SigningKey::new(b"other").verify(&f, &kept));
        assert!(key.verify_str("a=1&c=3", &dropped.to_uppercase()));
        assert!(!key.verify_str("a=1&c=4", &dropped));
        assert!(!key.verify_str("a=1&c=3", ""));
        assert!(!key.verify_str("a=1&c=3", "zz"));
    }
}
