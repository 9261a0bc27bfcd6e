//! Merchant safety as stored: blocklist entries, velocity rules with the counts they need, and
//! payout review thresholds. What they mean is decided in `octopus_domain::risk`.

use async_trait::async_trait;
use octopus_domain::risk::{BlockKind, ReviewThreshold, VelocityRule};
use octopus_domain::{Currency, Order, Timestamp};
use rust_decimal::Decimal;

use crate::Result;

/// A blocklist entry as stored (`merchant_id` 0: operator-wide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEntry {
    pub id: i64,
    pub merchant_id: i64,
    pub kind: BlockKind,
    /// Normalized (`octopus_domain::risk::normalize`).
    pub value: String,
    pub reason: String,
    pub author: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// The uid of the merchant it belongs to ('' for operator-wide).
    pub merchant_uid: String,
}

/// An entry to add: one with the same kind, value and merchant is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlockEntry {
    pub merchant_id: i64,
    pub kind: BlockKind,
    pub value: String,
    pub reason: String,
    pub author: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[async_trait]
pub trait Risk: Send + Sync + 'static {
    /// Adds (or replaces) entries, all or none; returns how many were written.
    async fn add_blocks(&self, entries: Vec<NewBlockEntry>) -> Result<u64>;

    /// Removes the entry of `kind` and normalized `value` of `merchant_id` (0: operator-wide).
    async fn remove_block(&self, merchant_id: i64, kind: BlockKind, value: &str) -> Result<bool>;

    /// Entries of one merchant (`Some(0)`: the operator-wide ones; `None`: all) whose id is
    /// above `after_id`, oldest first, at most `limit`.
    async fn blocks(
        &self,
        merchant_id: Option<i64>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<BlockEntry>>;

    /// The entry of `kind` and normalized `value` of `merchant_id` (0: operator-wide).
    async fn block(
        &self,
        merchant_id: i64,
        kind: BlockKind,
        value: &str,
    ) -> Result<Option<BlockEntry>>;

    /// Counts every change of the blocklists (written with the change): a node that read the
    /// entries at one version reads them again when it changes.
    async fn blocklist_version(&self) -> Result<i64>;

    async fn add_velocity_rule(&self, rule: VelocityRule, at: Timestamp) -> Result<i64>;

    async fn remove_velocity_rule(&self, id: i64) -> Result<bool>;

    /// Every velocity rule (of every merchant).
    async fn velocity_rules(&self) -> Result<Vec<VelocityRule>>;

    /// The first of `rules` (the merchant's velocity rules) that `order` would breach, as the
    /// refusal (`octopus_domain::risk::velocity_refusal`), counted against the orders stored
    /// now. A check ahead of the one `Orders::create_order_counted` makes where the order is
    /// written: for an order that must call its upstream before it is stored.
    async fn velocity_refusal(
        &self,
        order: &Order,
        rules: &[VelocityRule],
    ) -> Result<Option<String>>;

    /// Sets a payout review threshold (`above` None: removes it).
    async fn set_review_threshold(
        &self,
        merchant_id: i64,
        currency: Currency,
        above: Option<Decimal>,
        at: Timestamp,
    ) -> Result<()>;

    async fn review_thresholds(&self) -> Result<Vec<ReviewThreshold>>;

    /// Payouts waiting for review (`preparing`), oldest first.
    async fn payouts_in_review(&self, limit: u32) -> Result<Vec<Order>>;
}
