//! Merchants and their API keys: who may send orders, and with which sealed secrets they sign
//! them. The key ring reads keys alone, so keys are an interface of their own.

use async_trait::async_trait;
use ipnet::IpNet;
use octopus_domain::{KeyPolicy, Merchant, Timestamp};

use crate::Result;

/// A merchant to create, with its first API key (secret already sealed by the master key).
#[derive(Debug, Clone)]
pub struct NewMerchant {
    pub uid: String,
    pub name: String,
    pub api_key: String,
    pub sealed_secret: String,
    pub created_at: Timestamp,
}

/// An API key as stored: the merchant book it belongs to, its sealed secret, and its
/// lifecycle.
#[derive(Debug, Clone)]
pub struct StoredApiKey {
    pub api_key: String,
    pub merchant: Merchant,
    pub sealed_secret: String,
    pub label: String,
    pub created_at: Timestamp,
    /// A rotated key stays valid until then.
    pub expires_at: Option<Timestamp>,
    /// Written at most about once a minute per node.
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Empty: any address.
    pub allowed_ips: Vec<IpNet>,
    /// The key's merchant is disabled: its keys are refused as if revoked.
    pub merchant_disabled: bool,
}

impl StoredApiKey {
    pub fn policy(&self) -> KeyPolicy {
        KeyPolicy {
            revoked: self.revoked_at.is_some() || self.merchant_disabled,
            expires_at: self.expires_at,
            allowed_ips: self.allowed_ips.clone(),
        }
    }
}

/// An API key to add to a merchant book (secret already sealed by the master key).
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The book: the merchant's id for a live key, its test book's for a test key.
    pub merchant_id: i64,
    pub api_key: String,
    pub sealed_secret: String,
    pub label: String,
    pub expires_at: Option<Timestamp>,
    pub allowed_ips: Vec<IpNet>,
    pub created_at: Timestamp,
}

/// The merchants of the gateway.
#[async_trait]
pub trait Merchants: Send + Sync + 'static {
    async fn create_merchant(&self, merchant: NewMerchant) -> Result<Merchant>;

    /// Live merchants (test books are not counted).
    async fn merchant_count(&self) -> Result<u64>;

    /// The live merchant of a uid.
    async fn merchant_by_uid(&self, uid: &str) -> Result<Option<Merchant>>;

    /// Live merchants whose id is above `after_id`, oldest first, at most `limit` (a page of
    /// the operator's list; the last one's id fetches the next).
    async fn merchants(&self, after_id: i64, limit: u32) -> Result<Vec<Merchant>>;

    /// Disables (or enables) the live merchant `uid` and so every key of its books; false if
    /// there is none.
    async fn set_merchant_disabled(&self, uid: &str, disabled: bool, at: Timestamp)
        -> Result<bool>;

    /// Whether the live merchant `uid` is disabled (`None`: there is none).
    async fn merchant_disabled(&self, uid: &str) -> Result<Option<bool>>;

    /// The test book of the live merchant `owner_id`, created the first time it is asked for.
    async fn test_book(&self, owner_id: i64, at: Timestamp) -> Result<Merchant>;
}

/// The merchants' API keys.
#[async_trait]
pub trait ApiKeys: Send + Sync + 'static {
    /// Adds another API key to a merchant book (rotation, several integrations, test mode).
    async fn add_api_key(&self, key: NewApiKey) -> Result<()>;

    /// A key with its book, revoked or not (whether it may sign requests is its
    /// `policy().usable(now)`; callbacks of its orders are signed with it either way).
    async fn api_key(&self, api_key: &str) -> Result<Option<StoredApiKey>>;

    /// Every key of a merchant's two books, revoked ones too, newest first.
    async fn api_keys_of(&self, owner_id: i64) -> Result<Vec<StoredApiKey>>;

    /// Revokes a key; false when there is no such key or it was revoked before.
    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> Result<bool>;

    /// Sets (or clears) when a key stops working; false when there is no such active key.
    async fn set_api_key_expiry(
        &self,
        api_key: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<bool>;

    /// Replaces a key's IP allowlist (empty: any address); false when there is no such key.
    async fn set_api_key_allowlist(&self, api_key: &str, allowed_ips: &[IpNet]) -> Result<bool>;

    /// Records that a key was used (at most about once a minute per key and node).
    async fn api_key_used(&self, api_key: &str, at: Timestamp) -> Result<()>;
}
