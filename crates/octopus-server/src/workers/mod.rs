//! The background work of a server process, found through the database so that several nodes
//! run it side by side: the loops that move orders along (connector checks, expiry, accounting
//! retries) and the dispatcher that delivers merchant callbacks.
//!
//! Workers change orders only through the order services (`crate::services`) or storage's
//! state machine. They may depend on the services, the shared state and the top-level
//! modules, never on the merchant API, the pages or the HTTP layer.

pub mod callbacks;
pub(crate) mod orders;
