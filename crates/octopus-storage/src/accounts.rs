//! The operator's own accounts as storage keeps them: the receiving accounts of channels of
//! kind `accounts` and what routing needs to know of each ([`Accounts`]), the devices that
//! watch them and the nonces of their signed requests ([`Devices`]), and the transfers those
//! devices report ([`Transfers`]). Which account takes an order and which order a transfer
//! completes is decided in the domain (`account::choose`, `transfer::decide`); these only load
//! and write.

use async_trait::async_trait;
use octopus_domain::account::{Account, AccountLoad};
use octopus_domain::device::Device;
use octopus_domain::transfer::{Transfer, TransferStatus};
use octopus_domain::{Currency, Order, Timestamp};
use rust_decimal::Decimal;

use crate::Result;

#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Adds an account (its id is new; `Conflict` when it exists).
    async fn add_account(&self, account: Account) -> Result<Account>;

    /// Every account, by channel then id.
    async fn accounts(&self) -> Result<Vec<Account>>;

    async fn account(&self, id: &str) -> Result<Option<Account>>;

    /// Enables or disables an account (`NotFound` when there is none).
    async fn set_account_enabled(&self, id: &str, enabled: bool, at: Timestamp) -> Result<Account>;

    /// The accounts of a channel with their open deposits, their volume since `day_start`
    /// (deposits that did not fail or get rejected; zero for an account without a daily
    /// limit, which nothing reads) and the latest heartbeat of a device watching them that is
    /// not revoked.
    async fn account_loads(&self, channel: &str, day_start: Timestamp) -> Result<Vec<AccountLoad>>;

    /// The final amounts in `currency` that orders on this account hold now (so a new
    /// deposit tries only the free ones; the database still refuses a taken one).
    async fn held_amounts(
        &self,
        channel: &str,
        account: &str,
        currency: Currency,
    ) -> Result<Vec<Decimal>>;
}

#[async_trait]
pub trait Devices: Send + Sync + 'static {
    /// Enrolls a device (its secret sealed by the caller).
    async fn add_device(&self, device: Device) -> Result<Device>;

    async fn device(&self, id: &str) -> Result<Option<Device>>;

    /// Every device, by account then id.
    async fn devices(&self) -> Result<Vec<Device>>;

    /// Revokes a device: its requests are refused from now on (`NotFound` when none).
    async fn revoke_device(&self, id: &str, at: Timestamp) -> Result<Device>;

    /// Records that a device was heard (a heartbeat or a report).
    async fn device_heard(&self, id: &str, at: Timestamp) -> Result<()>;

    /// Remembers a device request's nonce until `expires_at`; `false` when the device used
    /// it before (a replay). Forgets nonces that expired.
    async fn remember_nonce(
        &self,
        device: &str,
        nonce: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool>;
}

/// What recording a reported transfer found.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// A transfer not seen before, now stored.
    New(Transfer),
    /// The account's transfer with this bank reference, as stored.
    Existing(Transfer),
}

/// What writing a transfer with its order's change came to.
#[derive(Debug, Clone)]
pub enum Settled {
    /// Both written: the order as the change left it. (Both boxed: they are large.)
    Done(Box<Order>),
    /// The account has a transfer with this bank reference already: nothing was written.
    Existing(Box<Transfer>),
}

#[async_trait]
pub trait Transfers: Send + Sync + 'static {
    /// Stores a transfer as decided (matched, or in suspense with its entry, posted in the
    /// same transaction) unless its account has one with the same bank reference: then the
    /// stored one is returned and nothing is written.
    async fn record_transfer(
        &self,
        transfer: Transfer,
        entry: Option<octopus_domain::ledger::JournalEntry>,
    ) -> Result<Recorded>;

    /// The account's transfer with this bank reference, if any.
    async fn transfer_by_reference(
        &self,
        account: &str,
        reference: &str,
    ) -> Result<Option<Transfer>>;

    async fn transfer(&self, uid: &str) -> Result<Option<Transfer>>;

    /// Writes the transfer's new status, as the domain moved it from `from`, with the ledger
    /// entry that status change posts, in one transaction; `NotFound` when the transfer is no
    /// longer in `from` (another node changed it): nothing is written then.
    async fn settle_transfer(
        &self,
        transfer: &Transfer,
        from: TransferStatus,
        entry: Option<octopus_domain::ledger::JournalEntry>,
    ) -> Result<()>;

    /// Writes a transfer and the status change of the order it settles in one transaction
    /// (a transfer that completes a deposit is never stored without the completion, nor the
    /// completion without it): the transfer first — inserted when `from` is `None` (unless its
    /// account has one with this bank reference: `Settled::Existing`, nothing written), else
    /// moved from `from` with its entry (`NotFound` when it is no longer there) — then the
    /// order's change (refused: its error, and nothing written).
    async fn settle_order_by_transfer(
        &self,
        transfer: &Transfer,
        from: Option<TransferStatus>,
        entry: Option<octopus_domain::ledger::JournalEntry>,
        payment_uid: &str,
        change: octopus_domain::StatusChange,
    ) -> Result<Settled>;

    /// Transfers in a status, oldest first.
    async fn transfers_in(&self, status: TransferStatus, limit: u32) -> Result<Vec<Transfer>>;

    /// The deposits of an account with exactly this final amount and currency that are open
    /// or overdue (the candidates of `transfer::decide`).
    async fn deposits_on_account(
        &self,
        account: &str,
        currency: Currency,
        final_amount: Decimal,
    ) -> Result<Vec<Order>>;

    /// The order of an account settled by the transfer with this bank reference, if any.
    async fn order_by_reference(&self, account: &str, reference: &str) -> Result<Option<Order>>;

    /// Frees the amounts that overdue deposits of own accounts still reserve once their grace
    /// (`expires_at`) has passed; returns how many.
    async fn release_held_amounts(&self, now: Timestamp, limit: u32) -> Result<u32>;

    /// The payouts of a channel waiting for the operator (pending), oldest first.
    async fn pending_payouts(&self, channel: &str, limit: u32) -> Result<Vec<Order>>;
}
