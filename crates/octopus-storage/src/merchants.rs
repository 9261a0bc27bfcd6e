//! Merchants and their API keys: who may send orders, and with which sealed secrets they sign
//! them. The key ring reads keys alone, so keys are an interface of their own.

use async_trait::async_trait;
use octopus_domain::{Merchant, Timestamp};

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

/// An API key as stored: the merchant it belongs to and its sealed secret.
#[derive(Debug, Clone)]
pub struct StoredApiKey {
    pub api_key: String,
    pub merchant: Merchant,
    pub sealed_secret: String,
}

/// The merchants of the gateway.
#[async_trait]
pub trait Merchants: Send + Sync + 'static {
    async fn create_merchant(&self, merchant: NewMerchant) -> Result<Merchant>;

    async fn merchant_count(&self) -> Result<u64>;

    async fn merchant_by_uid(&self, uid: &str) -> Result<Option<Merchant>>;
}

/// The merchants' API keys.
#[async_trait]
pub trait ApiKeys: Send + Sync + 'static {
    /// Adds another API key to a merchant (key rotation, several integrations).
    async fn add_api_key(
        &self,
        merchant_id: i64,
        api_key: &str,
        sealed_secret: &str,
        created_at: Timestamp,
    ) -> Result<()>;

    async fn api_key(&self, api_key: &str) -> Result<Option<StoredApiKey>>;
}
