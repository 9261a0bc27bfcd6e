//! The upstream log of an order: what its payer is shown on the channel, every exchange with
//! the upstream provider, and the payers' references (transfer IDs) tied to deposits.

use async_trait::async_trait;
use octopus_domain::{RequestFields, Timestamp};

use crate::Result;

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

/// Orders' exchanges with upstream providers.
#[async_trait]
pub trait UpstreamLog: Send + Sync + 'static {
    /// Records upstream exchanges of an order and, when given, what its payer is shown on the
    /// channel (the connector's pay instructions: account, holder, ...).
    async fn record_upstream(
        &self,
        payment_uid: &str,
        channel: &str,
        instructions: Option<RequestFields>,
        exchanges: Vec<UpstreamExchange>,
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

    /// What an order's payer is shown (`None` when nothing was recorded) and its upstream
    /// exchanges.
    async fn upstream_of(
        &self,
        payment_uid: &str,
    ) -> Result<(Option<RequestFields>, Vec<UpstreamExchange>)>;
}
