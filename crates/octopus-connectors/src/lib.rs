//! Connectors: the code that speaks one kind of upstream provider. Each kind implements
//! [`Connector`]; a *channel* (configured by the operator) is one instance of a connector with
//! its own settings. The sandbox connector moves no real money and lets merchants integrate
//! before any upstream exists.

use async_trait::async_trait;
use octopus_domain::{Order, Timestamp};
use rust_decimal::Decimal;

pub mod registry;
pub mod sandbox;

pub use sandbox::SandboxConnector;

/// Errors talking to an upstream.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    #[error("upstream answered something unexpected: {0}")]
    Protocol(String),
    /// The channel's settings do not make a working connector.
    #[error("{0}")]
    Config(String),
}

/// What the connector needs once a new order is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// When background work should ask the connector about the order.
    pub next_check_at: Option<Timestamp>,
}

/// The upstream's view of an order, asked when its check is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The money moved; `final_amount` is what actually moved.
    Completed { final_amount: Decimal, reason: String },
    /// The upstream gave up; `reason` is shown to the merchant.
    Failed { reason: String },
    /// Nothing final yet; ask again at `next_check_at` (or never).
    Pending { next_check_at: Option<Timestamp> },
}

/// One kind of upstream provider.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The connector kind (`"sandbox"`, `"paykassma"`, ...).
    fn kind(&self) -> &'static str;

    /// Decides, before a new order is stored, what the connector needs afterwards.
    fn plan(&self, order: &Order, now: Timestamp) -> Plan;

    /// Asks the upstream about an order whose check is due.
    async fn check(&self, order: &Order, now: Timestamp) -> Result<CheckOutcome, ConnectorError>;

    /// Whether payers may simulate outcomes on the cashier page (sandbox only).
    fn simulates_payments(&self) -> bool {
        false
    }
}
