//! Connectors: the code that speaks one kind of upstream provider. Each kind implements
//! [`Connector`]; a *channel* (configured by the operator) is one instance of a connector with
//! its own settings. The sandbox connector moves no real money and lets merchants integrate
//! before any upstream exists.

use std::collections::BTreeMap;

use async_trait::async_trait;
use octopus_domain::{Currency, Order, OrderRequest, Timestamp};
use rust_decimal::Decimal;

pub mod accounts;
pub mod payee;
pub mod paykassma;
pub mod registry;
pub mod sandbox;

pub use accounts::AccountsConnector;
pub use paykassma::PaykassmaConnector;
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
    Completed {
        final_amount: Decimal,
        reason: String,
    },
    /// The upstream gave up; `reason` is shown to the merchant.
    Failed { reason: String },
    /// Nothing final yet; ask again at `next_check_at` (or never).
    Pending { next_check_at: Option<Timestamp> },
}

/// One request to the upstream and its answer, for the order's history. Credentials are
/// masked before an exchange is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// What was asked (`create`, `activate`, `withdrawal`, `postback`, ...).
    pub operation: String,
    /// The request (URL without secrets, and body), as text.
    pub request: String,
    /// The HTTP status of the answer, if one came.
    pub status: Option<u16>,
    /// The answer's first 4 KiB.
    pub response: String,
    pub latency_ms: i64,
    /// Why there is no usable answer ("" when there is).
    pub error: String,
    pub at: Timestamp,
}

/// Why an upstream call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// Certainly not done (refused, unreachable, 502/503): another channel may be tried.
    Refused(String),
    /// Perhaps done (a timeout after sending, HTTP 500/504, an unreadable answer): the order
    /// must not be sent elsewhere; the upstream's postback or a status query decides.
    Unknown(String),
}

impl UpstreamError {
    pub fn reason(&self) -> &str {
        match self {
            UpstreamError::Refused(r) | UpstreamError::Unknown(r) => r,
        }
    }
}

/// An upstream call's result with the exchanges it made.
#[derive(Debug, Clone)]
pub struct Called<T> {
    pub result: Result<T, UpstreamError>,
    pub exchanges: Vec<Exchange>,
}

impl<T> Called<T> {
    /// A result without any exchange (nothing was sent).
    pub fn local(result: Result<T, UpstreamError>) -> Self {
        Called {
            result,
            exchanges: Vec::new(),
        }
    }
}

/// How the payer pays a deposit started upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepositStart {
    /// What the cashier page shows the payer (for example the wallet to pay to).
    pub instructions: BTreeMap<String, String>,
    /// Whether the payer confirms with the transaction ID of the transfer.
    pub asks_transaction_id: bool,
}

/// What the upstream says after the payer confirmed a deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The money arrived; `amount` is what arrived.
    Completed {
        amount: Decimal,
    },
    /// Some money is missing; the order waits for more (or its postback).
    Short {
        missing: Decimal,
    },
    /// The upstream checks; its postback decides.
    Processing {
        message: String,
    },
    Failed {
        reason: String,
    },
    /// The upstream's answer says the money arrived but cannot be taken as it is (an
    /// impossible amount): nothing is credited, the operator decides (`reason` says why).
    Impossible {
        reason: String,
    },
}

/// What the upstream says when a payout is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutStart {
    /// Nothing to send now (the sandbox decides later, by its check).
    Unchanged,
    /// Accepted; its postback (or a status query) decides.
    Accepted,
}

/// What the signed transactions of a deposit postback say arrived: the sum of their amounts,
/// each transaction counted once, in their one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub amount: Decimal,
    pub currency: Currency,
}

/// What an upstream postback reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Money arrived for a deposit, as the signed part of the postback says: the order's id
    /// sent upstream (when the upstream echoes it) or the payer's transaction IDs (distinct),
    /// and what they received — or why that cannot be taken as it is (an impossible amount,
    /// several currencies, one transaction listed with two amounts): such a postback is kept
    /// for the operator and never applied.
    Deposit {
        order_ids: Vec<String>,
        transaction_ids: Vec<String>,
        received: Result<Received, String>,
    },
    /// A payout's end (the amount is the order's: what was asked is what is paid).
    Payout {
        order_id: String,
        completed: bool,
        reason: String,
    },
}

/// Why a postback is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostbackError {
    #[error("this channel takes no postbacks")]
    NotSupported,
    #[error("the postback's signature is not valid")]
    BadSignature,
    #[error("the postback is not readable: {0}")]
    Malformed(String),
    /// Validly signed, but what it says cannot be applied to any order (its transactions are
    /// not a list, or do not tell whether they are deposits or withdrawals). Acknowledged, so
    /// the provider stops repeating it, and left to the operator.
    #[error("the postback cannot be applied: {0}")]
    Impossible(String),
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

    /// Whether the channel collects into the operator's own accounts (kind `accounts`): a
    /// deposit is given one of its accounts and a unique final amount, and a device's report
    /// completes it.
    fn uses_own_accounts(&self) -> bool {
        false
    }

    /// Whether creating an order calls the upstream (so a retried request is looked up first).
    fn calls_upstream(&self) -> bool {
        false
    }

    /// Whether the connector can take this order at all (for example an account number of the
    /// right form); the reason is the merchant's to fix.
    fn accepts(&self, _request: &OrderRequest) -> Result<(), String> {
        Ok(())
    }

    /// Starts a deposit upstream before the order is stored.
    async fn start_deposit(&self, _order: &Order) -> Called<DepositStart> {
        Called::local(Ok(DepositStart::default()))
    }

    /// Confirms a deposit with what the payer submitted (the transfer's transaction ID).
    async fn confirm_deposit(&self, _order: &Order, _transaction_id: &str) -> Called<Confirmation> {
        Called::local(Err(UpstreamError::Refused(
            "this channel takes no confirmation".into(),
        )))
    }

    /// Sends a stored payout upstream.
    async fn start_payout(&self, _order: &Order) -> Called<PayoutStart> {
        Called::local(Ok(PayoutStart::Unchanged))
    }

    /// Verifies and reads an upstream postback.
    fn postback(&self, _body: &[u8]) -> Result<Vec<Notification>, PostbackError> {
        Err(PostbackError::NotSupported)
    }

    /// The answer the upstream expects to a postback that was taken.
    fn postback_answer(&self) -> &'static str {
        "{\"status\":\"ok\"}"
    }

    /// A postback as kept on the order's history: credentials and signatures masked.
    fn masked_postback(&self, body: &[u8]) -> String {
        String::from_utf8_lossy(body).into_owned()
    }
}
