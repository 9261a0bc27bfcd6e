//! The ledger as storage keeps it: merchants' fee schedules, their balances and journal
//! entries, and the verification of the whole journal. Order creation reads fee schedules
//! alone, so they are an interface of their own.

use async_trait::async_trait;
use octopus_domain::ledger::{EntryKind, LedgerReport};
use octopus_domain::{AccountingType, Currency, Timestamp};
use rust_decimal::Decimal;

use crate::Result;

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

pub use octopus_domain::ledger::FeeSchedule;

/// Merchants' fee schedules.
#[async_trait]
pub trait FeeSchedules: Send + Sync + 'static {
    /// Sets (replaces) a fee schedule of a merchant: the one of the same scope.
    async fn set_fee_rule(
        &self,
        merchant_id: i64,
        schedule: &FeeSchedule,
        at: Timestamp,
    ) -> Result<()>;

    /// A merchant's fee schedules.
    async fn fee_rules(&self, merchant_id: i64) -> Result<Vec<FeeSchedule>>;
}

/// Merchants' balances and journal entries (entries are posted with the order changes that
/// cause them, see `Orders`).
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
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

    /// The journal entries of one order, newest first.
    async fn order_entries(&self, order: &octopus_domain::Order) -> Result<Vec<MerchantEntry>>;

    /// Recomputes every balance from the journal and checks it (see `ledger::Verification`).
    async fn verify_ledger(&self) -> Result<LedgerReport>;
}
