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
