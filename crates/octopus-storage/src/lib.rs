//! The storage interfaces of Octopus, one per concern: settings, merchants and API keys,
//! orders, the ledger (with fee schedules), the callback outbox, channels, and the upstream
//! log. Each consumer takes only the interface it uses; [`Storage`] is all of them, for the
//! binary and the few places that need everything. The embedded SQLite backend and the
//! PostgreSQL backend live in their own crates and implement every interface with the same
//! behaviour, checked by the same integration suite.
//!
//! Every method is one atomic unit: it either happens completely (and durably, before it
//! returns) or not at all. Structured values are typed here; the backends encode them for
//! their columns and refuse a stored value that does not decode (`StorageError::Corrupt`).

pub mod accounts;
pub mod callbacks;
mod channel_row;
pub mod channels;
mod error;
pub mod gauges;
pub mod health;
pub mod ledger;
pub mod merchants;
pub mod metrics;
pub mod operators;
pub mod orders;
pub mod risk;
pub mod rows;
pub mod search;
pub mod settings;
pub mod upstream;

pub use accounts::{Accounts, Devices, Recorded, Settled, Transfers};
pub use callbacks::{
    AttemptRecord, Callback, CallbackAttempt, CallbackHistory, CallbackOutbox, CallbackOutcome,
    CallbackState, ClaimRoom, HostBacklog,
};
pub use channel_row::ChannelRow;
pub use channels::{ChannelSetup, ChannelStore};
pub use error::StorageError;
pub use health::HealthSamples;
pub use ledger::{Balance, FeeSchedule, FeeSchedules, Ledger, MerchantEntry};
pub use merchants::{ApiKeys, Merchants, NewApiKey, NewMerchant, StoredApiKey};
pub use operators::{
    AdminToken, AuditEntry, AuditQuery, AuditValue, NewOperator, Operator, Operators, Session,
};
pub use orders::{CreateOutcome, Orders};
pub use risk::{BlockEntry, NewBlockEntry, Risk};
pub use search::{OrderPage, OrderQuery, OrderStat, SearchDialect, SearchValue};
pub use settings::Settings;
pub use upstream::{UpstreamExchange, UpstreamLog};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Fields stored as a JSON object of strings (a callback's body, a payer's instructions), read
/// back: anything else in `column` is corrupt. Both backends write them with
/// `RequestFields::to_json`.
pub fn stored_fields(text: &str, column: &'static str) -> Result<octopus_domain::RequestFields> {
    octopus_domain::RequestFields::from_json(text.as_bytes())
        .map_err(|_| StorageError::Corrupt(column))
}

/// Every storage interface of one backend.
pub trait Storage:
    Settings
    + Merchants
    + ApiKeys
    + Orders
    + FeeSchedules
    + Ledger
    + CallbackOutbox
    + CallbackHistory
    + ChannelStore
    + ChannelSetup
    + UpstreamLog
    + Accounts
    + Devices
    + Transfers
    + Risk
    + Operators
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
}
