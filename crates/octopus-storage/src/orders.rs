//! Orders: creating them, finding them, changing their status through the state machine, and
//! the background work on them (connector checks, expiry, routing again, accounting retries).

use async_trait::async_trait;
use octopus_domain::risk::VelocityRule;
use octopus_domain::routing::RoutingDecision;
use octopus_domain::{Order, OrderEvent, StatusChange, Timestamp};
use rust_decimal::Decimal;

use crate::Result;

/// What `create_order` did.
#[derive(Debug, Clone)]
pub enum CreateOutcome {
    /// The order is new and now stored.
    Created(Order),
    /// The merchant already has an order with this `merchant_order_id`; nothing was written.
    Existing(Order),
}

impl From<octopus_domain::decision::Created> for CreateOutcome {
    fn from(decided: octopus_domain::decision::Created) -> Self {
        use octopus_domain::decision::Created;
        match decided {
            Created::New { order, .. } => CreateOutcome::Created(order),
            Created::Existing(order) => CreateOutcome::Existing(order),
        }
    }
}

/// The orders of every merchant.
#[async_trait]
pub trait Orders: Send + Sync + 'static {
    /// Stores a new order (created `pending`), unless the merchant already has one with
    /// the same `merchant_order_id` (then the stored one is returned and nothing is written).
    /// A payout reserves amount plus fee in the same transaction; without enough available
    /// balance nothing is stored and the answer is `InsufficientBalance`.
    ///
    /// `final_amounts` lists candidate `final_amount`s for an order with a floating offset
    /// (the first one not held by another open order of the same channel and currency is
    /// used); it is empty for orders without one.
    async fn create_order(
        &self,
        order: Order,
        final_amounts: Vec<Decimal>,
    ) -> Result<CreateOutcome> {
        self.create_order_counted(order, final_amounts, Vec::new())
            .await
    }

    /// `create_order`, with the merchant's velocity `rules` counted in the same transaction
    /// (`octopus_domain::risk::velocity_refusal`): an order that would breach one is stored
    /// refused instead (`Order::refuse`: `reject`, no channel, nothing held) and returned as
    /// `Created`. Orders arriving at once are counted one after the other, so a rule holds
    /// under any concurrency, on every node.
    async fn create_order_counted(
        &self,
        order: Order,
        final_amounts: Vec<Decimal>,
        rules: Vec<VelocityRule>,
    ) -> Result<CreateOutcome>;

    async fn order_by_merchant_order_id(
        &self,
        merchant_id: i64,
        merchant_order_id: &str,
    ) -> Result<Option<Order>>;

    async fn order_by_payment_uid(&self, payment_uid: &str) -> Result<Option<Order>>;

    /// A page of the orders `query` selects, newest first, at most `query.limit`, and the
    /// cursor of the page after (see [`crate::search`]: a page may be short and still have
    /// one).
    async fn search_orders(&self, query: &crate::OrderQuery) -> Result<crate::OrderPage>;

    /// The dashboard's counts of the orders created since `since`, test or live
    /// ([`crate::OrderStat`]).
    async fn order_stats(&self, since: Timestamp, test: bool) -> Result<Vec<crate::OrderStat>>;

    /// What the channels' health since `since` is computed from ([`crate::health`]).
    async fn health_samples(&self, since: Timestamp) -> Result<crate::HealthSamples>;

    /// Applies a status change through the domain state machine, records its event, posts
    /// its journal entry and queues its callback (when the order has a notify_url), in one
    /// transaction. Refused changes return
    /// `StorageError::IllegalTransition`; a refund the merchant's balance cannot cover returns
    /// `InsufficientBalance`. Any other entry that cannot be posted leaves the change applied
    /// with `accounting_status` `failed` (see `retry_accounting`).
    async fn change_status(&self, payment_uid: &str, change: StatusChange) -> Result<Order>;

    /// The status changes of an order, oldest first, starting with its creation.
    async fn order_events(&self, payment_uid: &str) -> Result<Vec<OrderEvent>>;

    /// Sets when an order is checked next (`None`: not any more), as its connector asks.
    async fn set_next_check(&self, payment_uid: &str, at: Option<Timestamp>) -> Result<()>;

    /// Claims orders whose `next_check_at` is due: pushes it to `now + lease_ms` so no other
    /// node takes them meanwhile, and returns them.
    async fn claim_due_checks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Order>>;

    /// Payment UIDs of open orders whose ttl has elapsed.
    async fn expired_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<String>>;

    /// Number of orders of a merchant.
    async fn order_count(&self, merchant_id: i64) -> Result<u64>;

    /// Moves a pending order to another channel with its new routing decision (a payout whose
    /// channel refused it); `IllegalTransition`-free: `NotFound` unless the order is pending.
    async fn reroute_order(
        &self,
        payment_uid: &str,
        channel: &str,
        distribute_rules: &RoutingDecision,
        at: Timestamp,
    ) -> Result<()>;

    /// Payment UIDs of orders whose accounting failed.
    async fn accounting_failures(&self, limit: u32) -> Result<Vec<String>>;

    /// Posts what a failed accounting left out (every entry the order's history calls for;
    /// entries posted already are skipped) and records the outcome on the order.
    async fn retry_accounting(&self, payment_uid: &str, at: Timestamp) -> Result<Order>;
}
