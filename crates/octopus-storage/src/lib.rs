//! The one storage interface of Octopus. The server and the CLI talk to `dyn Storage`; the
//! embedded SQLite backend and the PostgreSQL backend live in their own crates and implement
//! it with the same behaviour, checked by the same integration suite.
//!
//! Every method is one atomic unit: it either happens completely (and durably, before it
//! returns) or not at all.

use async_trait::async_trait;
use octopus_domain::{Currency, Merchant, Order, OrderEvent, StatusChange, Timestamp};
use rust_decimal::Decimal;

mod error;
pub use error::StorageError;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

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

/// What `create_order` did.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    /// The order is new and now stored.
    Created(Order),
    /// The merchant already has an order with this `merchant_order_id`; nothing was written.
    Existing(Order),
}

/// Storage of the gateway's state.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Reads a value of the gateway's own settings (for example the master-key check).
    async fn setting(&self, key: &str) -> Result<Option<String>>;

    /// Stores a setting unless one exists; returns the value now stored.
    async fn init_setting(&self, key: &str, value: &str) -> Result<String>;

    async fn create_merchant(&self, merchant: NewMerchant) -> Result<Merchant>;

    async fn merchant_count(&self) -> Result<u64>;

    /// Adds another API key to a merchant (key rotation, several integrations).
    async fn add_api_key(
        &self,
        merchant_id: i64,
        api_key: &str,
        sealed_secret: &str,
        created_at: Timestamp,
    ) -> Result<()>;

    async fn api_key(&self, api_key: &str) -> Result<Option<StoredApiKey>>;

    /// Stores a new order (created `pending`), unless the merchant already has one with
    /// the same `merchant_order_id` (then the stored one is returned and nothing is written).
    ///
    /// `final_amounts` lists candidate `final_amount`s for an order with a floating offset
    /// (the first one not held by another open order of the same channel and currency is
    /// used); it is empty for orders without one.
    async fn create_order(&self, order: Order, final_amounts: Vec<Decimal>) -> Result<CreateOutcome>;

    async fn order_by_merchant_order_id(
        &self,
        merchant_id: i64,
        merchant_order_id: &str,
    ) -> Result<Option<Order>>;

    async fn order_by_payment_uid(&self, payment_uid: &str) -> Result<Option<Order>>;

    /// Applies a status change through the domain state machine and records its event, in
    /// one transaction. Refused changes return `StorageError::IllegalTransition`.
    async fn change_status(&self, payment_uid: &str, change: StatusChange) -> Result<Order>;

    /// The status changes of an order, oldest first, starting with its creation.
    async fn order_events(&self, payment_uid: &str) -> Result<Vec<OrderEvent>>;

    /// Claims orders whose `next_check_at` is due: pushes it to `now + lease_ms` so no other
    /// node takes them meanwhile, and returns them.
    async fn claim_due_checks(&self, now: Timestamp, lease_ms: i64, limit: u32) -> Result<Vec<Order>>;

    /// Payment UIDs of open orders whose ttl has elapsed.
    async fn expired_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<String>>;

    /// Number of orders of a merchant.
    async fn order_count(&self, merchant_id: i64) -> Result<u64>;

    /// Currencies in which the merchant has orders.
    async fn merchant_currencies(&self, merchant_id: i64) -> Result<Vec<Currency>>;
}
