//! The order services: creating and refunding orders (`orders`), what upstreams say applied
//! to orders (`upstream`), and routing over the configured channels (`routing`), with the fee
//! book order creation reads and the creation of merchants the CLI uses; and the setup the
//! operator changes — merchants and keys, fees, channels, own accounts and devices,
//! blocklists, velocity rules and review thresholds — for the CLI and the admin API alike
//! (`setup` holds what they share).
//!
//! This is where a request becomes a stored order and an upstream's answer a status change;
//! the rules themselves live in `octopus-domain`. The services take [`OrderServices`] — the
//! storage interfaces, caches, notifier and clock they use — rather than the shared state, so
//! they run without a listener (see `tests/services/`). They may depend on storage, the
//! connectors, the domain and the top-level modules (error, clock, config), never on the
//! shared state, the merchant API, the pages, the workers or the HTTP layer.

use std::sync::Arc;
use std::time::Duration;

use octopus_storage::{Accounts, Orders, UpstreamLog};
use tokio::sync::Notify;

use crate::clock::Clock;

pub mod accounts;
pub mod channels;
pub mod fees;
pub mod merchants;
pub mod operators;
pub mod orders;
pub mod risk;
pub mod routing;
pub mod setup;
pub mod transfers;
pub mod two_factor;
pub mod upstream;

/// What the order services use, and nothing more. The server's shared state holds one; a
/// test builds one over a database of its own.
pub struct OrderServices {
    pub orders: Arc<dyn Orders>,
    /// The operator's own accounts, for deposits routed to them.
    pub accounts: Arc<dyn Accounts>,
    pub upstream_log: Arc<dyn UpstreamLog>,
    /// The channels routing reads (and the handlers and workers look orders' channels up in).
    pub channels: routing::Channels,
    pub fees: fees::FeeBook,
    /// Blocklists, velocity rules and payout review thresholds.
    pub risk: risk::RiskBook,
    /// Woken after every status change the services make: callbacks may be due.
    pub callbacks_due: Arc<Notify>,
    pub clock: Clock,
    /// Whether a callback may go to a literal private address (checked at creation).
    pub allow_private_callbacks: bool,
    /// The ttl of deposits that send none, where their channel has no default.
    pub default_deposit_ttl: Option<Duration>,
}
