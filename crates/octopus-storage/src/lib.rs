//! The one storage interface of Octopus. The server and the CLI talk to `dyn Storage`; the
//! embedded SQLite backend and the PostgreSQL backend live in their own crates and implement
//! it with the same behaviour, checked by the same integration suite.
//!
//! Every method is one atomic unit: it either happens completely (and durably, before it
//! returns) or not at all.

use async_trait::async_trait;
use octopus_domain::ledger::{EntryKind, FeeRule, LedgerReport};
use octopus_domain::{
    AccountingType, Channel, Currency, Merchant, Order, OrderEvent, StatusChange, Timestamp,
};
use rust_decimal::Decimal;

mod channel_row;
mod error;
pub use channel_row::{ChannelRow, CHANNEL_COLUMNS, CHANNEL_REPLACE};
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

/// A merchant's money in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub currency: Currency,
    pub available: Decimal,
    pub held: Decimal,
}

/// A journal entry as its merchant sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantEntry {
    pub id: i64,
    pub kind: EntryKind,
    pub accounting_type: AccountingType,
    pub currency: Currency,
    /// The order amount the entry moves, and the fee.
    pub amount: Decimal,
    pub fee: Decimal,
    /// How the merchant's available and held balances changed, and what each was after the
    /// entry (when the entry touched it).
    pub available_change: Decimal,
    pub held_change: Decimal,
    pub available_after: Option<Decimal>,
    pub held_after: Option<Decimal>,
    pub payment_uid: String,
    pub merchant_order_id: String,
    pub created_at: Timestamp,
}

/// A fee schedule of a merchant. `payment` and `accounting_type` may be `*` (any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeSchedule {
    pub payment: String,
    pub accounting_type: String,
    pub rule: FeeRule,
}

/// Delivery state of one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The merchant acknowledged it.
    Completed,
    /// Its schedule is used up.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Completed => "completed",
            CallbackState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<CallbackState> {
        Some(match text {
            "pending" => CallbackState::Pending,
            "completed" => CallbackState::Completed,
            "failed" => CallbackState::Failed,
            _ => return None,
        })
    }
}

/// A callback as stored: written with the status change it reports, its body frozen then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: i64,
    pub order_id: i64,
    pub payment_uid: String,
    pub notify_url: String,
    /// The destination host, to bound deliveries per host.
    pub host: String,
    /// The API key whose secret signs it.
    pub signature_key: String,
    /// The body (without `tenant`), as a JSON object of strings.
    pub payload: String,
    pub state: CallbackState,
    /// Sent again by hand (`octopus callback resend`).
    pub manual: bool,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Until when the node that claimed it owns it (0: nobody). A claim's value is also its
    /// token: an attempt is recorded only while the callback is still held under that claim.
    pub claimed_until: Timestamp,
}

/// One request to an upstream provider and its answer (credentials masked), on an order's
/// history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamExchange {
    pub channel: String,
    pub operation: String,
    pub request: String,
    pub http_status: Option<u16>,
    pub response: String,
    pub latency_ms: i64,
    pub error: String,
    pub at: Timestamp,
}

/// One delivery attempt of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAttempt {
    pub callback_id: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub manual: bool,
    pub started_at: Timestamp,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    pub latency_ms: i64,
    /// Why the attempt failed ("" when acknowledged).
    pub error: String,
    /// The first KiB of the answer.
    pub response_head: String,
}

/// How many callbacks one claim may take: in all, and per destination host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRoom {
    /// The most in all.
    pub total: u32,
    /// The most for a host not listed in `hosts`.
    pub per_host: u32,
    /// The most for each of these hosts (what each can take now; 0: none).
    pub hosts: Vec<(String, u32)>,
}

impl ClaimRoom {
    /// Room for `total` callbacks, at most `per_host` of each host.
    pub fn new(total: u32, per_host: u32) -> ClaimRoom {
        ClaimRoom {
            total,
            per_host,
            hosts: Vec::new(),
        }
    }

    /// The most this claim may take for `host`.
    pub fn of(&self, host: &str) -> u32 {
        self.hosts
            .iter()
            .find(|(h, _)| h == host)
            .map_or(self.per_host, |(_, room)| *room)
            .min(self.total)
    }
}

/// The callbacks due for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBacklog {
    pub host: String,
    /// Due now: pending, due, and the next of their order.
    pub due: u64,
    /// When the one due longest became due.
    pub oldest_due_at: Timestamp,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Acknowledged,
    /// Failed; try again then.
    RetryAt(Timestamp),
    /// Failed, and the schedule is used up.
    GaveUp,
}

/// What is recorded after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The order the callback reports.
    pub order_id: i64,
    pub attempt: CallbackAttempt,
    pub outcome: CallbackOutcome,
    /// The claim the attempt was made under ([`Callback::claimed_until`]). When the lease ran
    /// out and the callback was claimed again, the attempt is logged but changes nothing.
    pub claim: Timestamp,
}

impl AttemptRecord {
    /// The order's notify status after this attempt, given whether another of its callbacks
    /// is still pending, and the failure reason to keep (if any).
    pub fn notify_after(
        &self,
        other_pending: bool,
    ) -> (octopus_domain::NotifyStatus, Option<String>) {
        use octopus_domain::NotifyStatus;
        match self.outcome {
            CallbackOutcome::Acknowledged if other_pending => (NotifyStatus::Delivered, None),
            CallbackOutcome::Acknowledged => (NotifyStatus::Completed, None),
            CallbackOutcome::RetryAt(_) => {
                (NotifyStatus::Delivered, Some(self.attempt.error.clone()))
            }
            CallbackOutcome::GaveUp => (NotifyStatus::Failed, Some(self.attempt.error.clone())),
        }
    }
}

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

    async fn merchant_by_uid(&self, uid: &str) -> Result<Option<Merchant>>;

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
    ) -> Result<CreateOutcome>;

    async fn order_by_merchant_order_id(
        &self,
        merchant_id: i64,
        merchant_order_id: &str,
    ) -> Result<Option<Order>>;

    async fn order_by_payment_uid(&self, payment_uid: &str) -> Result<Option<Order>>;

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

    /// Sets (replaces) a fee schedule of a merchant.
    async fn set_fee_rule(
        &self,
        merchant_id: i64,
        payment: &str,
        accounting_type: &str,
        rule: &FeeRule,
        at: Timestamp,
    ) -> Result<()>;

    /// A merchant's fee schedules.
    async fn fee_rules(&self, merchant_id: i64) -> Result<Vec<FeeSchedule>>;

    /// A merchant's balances, one per currency it holds.
    async fn balances(&self, merchant_id: i64) -> Result<Vec<Balance>>;

    /// A merchant's journal entries, newest first, older than `before` (an entry id).
    async fn merchant_entries(
        &self,
        merchant_id: i64,
        currency: Option<Currency>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MerchantEntry>>;

    /// Recomputes every balance from the journal and checks it (see `ledger::Verification`).
    async fn verify_ledger(&self) -> Result<LedgerReport>;

    /// Claims callbacks due for an attempt: pending, due, not leased, the oldest pending one of
    /// its order (callbacks of an order go out in order), at most as many per host as `room`
    /// gives it and as many in all, the earliest due first. Each is leased until
    /// `now + lease_ms`. A claim reads about as many rows as it takes plus two per host with
    /// pending callbacks, however many are due.
    async fn claim_callbacks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        room: &ClaimRoom,
    ) -> Result<Vec<Callback>>;

    /// How many callbacks are due for each of `hosts` (those with any), and since when.
    async fn callback_backlog(&self, now: Timestamp, hosts: &[String]) -> Result<Vec<HostBacklog>>;

    /// Records attempts and their outcomes, and each order's `notify_status` and
    /// `notify_fail_reason`.
    async fn record_callback_attempts(
        &self,
        records: Vec<AttemptRecord>,
        at: Timestamp,
    ) -> Result<()>;

    /// The callbacks of an order, oldest first, each with its attempts.
    async fn callbacks_of(
        &self,
        payment_uid: &str,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>>;

    /// Queues the order's current state to its notify_url again, as a manual callback.
    async fn resend_callback(&self, payment_uid: &str, at: Timestamp) -> Result<Callback>;

    /// Payment UIDs of orders whose accounting failed.
    async fn accounting_failures(&self, limit: u32) -> Result<Vec<String>>;

    /// Adds a channel, or replaces the one with its code (keeping when it was created).
    async fn save_channel(&self, channel: Channel) -> Result<Channel>;

    /// Records upstream exchanges of an order and, when given, what its payer is shown
    /// (JSON object of strings) on the channel.
    async fn record_upstream(
        &self,
        payment_uid: &str,
        channel: &str,
        instructions: Option<String>,
        exchanges: Vec<UpstreamExchange>,
    ) -> Result<()>;

    /// Moves a pending order to another channel with its new routing decision (a payout whose
    /// channel refused it); `IllegalTransition`-free: `NotFound` unless the order is pending.
    async fn reroute_order(
        &self,
        payment_uid: &str,
        channel: &str,
        distribute_rules: &str,
        at: Timestamp,
    ) -> Result<()>;

    /// Ties a payer's reference (a transfer's transaction ID) to a deposit on a channel; false
    /// when the reference already belongs to another order of the channel.
    async fn add_upstream_reference(
        &self,
        payment_uid: &str,
        channel: &str,
        reference: &str,
    ) -> Result<bool>;
    /// Moves a reference of the channel from order `from` to order `to`, only if it is still
    /// `from`'s; false otherwise.
    async fn move_upstream_reference(
        &self,
        from: &str,
        to: &str,
        channel: &str,
        reference: &str,
    ) -> Result<bool>;

    /// The payment_uid of the order a reference on a channel belongs to.
    async fn order_by_upstream_reference(
        &self,
        channel: &str,
        reference: &str,
    ) -> Result<Option<String>>;

    /// What an order's payer is shown (JSON, "" when nothing) and its upstream exchanges.
    async fn upstream_of(&self, payment_uid: &str) -> Result<(String, Vec<UpstreamExchange>)>;

    /// The sum of the amounts of a channel's orders created since `since` that did not fail
    /// or get rejected (its volume, for a daily limit).
    async fn channel_volume(&self, channel: &str, since: Timestamp) -> Result<Decimal>;

    /// Every channel, by priority then code.
    async fn channels(&self) -> Result<Vec<Channel>>;

    /// Enables or disables a channel (`NotFound` when there is none with this code).
    async fn set_channel_enabled(
        &self,
        code: &str,
        enabled: bool,
        at: Timestamp,
    ) -> Result<Channel>;

    /// Posts what a failed accounting left out (every entry the order's history calls for;
    /// entries posted already are skipped) and records the outcome on the order.
    async fn retry_accounting(&self, payment_uid: &str, at: Timestamp) -> Result<Order>;
}
