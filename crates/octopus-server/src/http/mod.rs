//! The HTTP layer under every route: accepting and serving connections so no client can
//! starve the others, and finding the client's IP address behind trusted proxies.
//!
//! It knows nothing of orders: it may depend only on the top-level error type (a panicking
//! handler still answers in the documented shape), never on the routes, services or workers.

pub(crate) mod client_ip;
pub mod connections;
