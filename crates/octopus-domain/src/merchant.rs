//! Merchants and their API keys as the rest of the gateway sees them.

use crate::signing::SigningKey;

/// A merchant account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    /// Internal numeric id (storage key); never shown to merchants.
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub created_at: crate::Timestamp,
}

/// An authenticated API key: the merchant it belongs to and its prepared signing key.
#[derive(Debug, Clone)]
pub struct ApiCredential {
    pub api_key: String,
    pub merchant: Merchant,
    pub signing_key: SigningKey,
}

/// Most characters of a merchant name.
pub const MAX_NAME_CHARS: usize = 128;

/// Why a merchant name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the merchant name must not be blank")]
    Blank,
    #[error("the merchant name must be at most {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the merchant name must not contain control characters")]
    Control,
    #[error("the merchant name must not contain invisible characters (U+{code:04X}, {what})")]
    Invisible { code: u32, what: &'static str },
}

/// A merchant name as stored and shown on consoles, callbacks and the ledger answer: trimmed,
/// 1 to [`MAX_NAME_CHARS`] characters, no control and no invisible characters
/// ([`crate::invisible`]), so what an operator reads is what is stored.
pub fn parse_name(name: &str) -> Result<String, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Blank);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if let Some(c) = crate::invisible::first_invisible(name) {
        let what = crate::invisible::invisible(c)
            .map(|r| r.what)
            .unwrap_or("invisible");
        return Err(NameError::Invisible {
            code: c as u32,
            what,
        });
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_visible() {
        assert_eq!(parse_name("  Shop One "), Ok("Shop One".to_string()));
        assert_eq!(parse_name("ร้านค้า 1"), Ok("ร้านค้า 1".to_string()));
        assert_eq!(parse_name(" \u{3000} "), Err(NameError::Blank));
        assert_eq!(parse_name(""), Err(NameError::Blank));
        assert_eq!(parse_name(&"x".repeat(129)), Err(NameError::TooLong));
        assert_eq!(parse_name("a\nb"), Err(NameError::Control));
        assert_eq!(
            parse_name("Shop\u{202E}enO").unwrap_err().to_string(),
            "the merchant name must not contain invisible characters (U+202E, bidirectional embeddings and overrides)"
        );
        assert!(matches!(
            parse_name("\u{FEFF}Shop"),
            Err(NameError::Invisible { code: 0xFEFF, .. })
        ));
        assert!(matches!(
            parse_name("Sh\u{200B}op"),
            Err(NameError::Invisible { code: 0x200B, .. })
        ));
    }
}
