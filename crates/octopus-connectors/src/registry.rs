//! The connector kinds this build knows, and building a channel's connector from what the
//! operator configured. Adding a provider is one module plus one line here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::{AccountsConnector, Connector, ConnectorError, PaykassmaConnector, SandboxConnector};

/// What a channel's connector is built from.
pub struct Setup<'a> {
    /// The channel's code (for the connector's messages).
    pub channel: &'a str,
    /// Settings that are not secret (base URL, ...).
    pub settings: &'a BTreeMap<String, String>,
    /// Credentials, opened from their sealed form; never printed.
    pub credentials: &'a BTreeMap<String, String>,
    /// How long a sandbox payout takes.
    pub sandbox_payout_delay: Duration,
}

/// Every connector kind, for messages and `octopus channel add --help`.
pub const KINDS: &[&str] = &["sandbox", "paykassma", "accounts"];

/// The connector of a channel of this kind.
pub fn build(kind: &str, setup: &Setup<'_>) -> Result<Arc<dyn Connector>, ConnectorError> {
    match kind {
        "sandbox" => Ok(Arc::new(SandboxConnector::new(setup.sandbox_payout_delay))),
        "paykassma" => Ok(Arc::new(PaykassmaConnector::from_setup(setup)?)),
        "accounts" => Ok(Arc::new(AccountsConnector)),
        other => Err(ConnectorError::Config(format!(
            "unknown connector kind {other:?} (known: {})",
            KINDS.join(", ")
        ))),
    }
}
