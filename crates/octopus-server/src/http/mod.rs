//! The HTTP layer under every route: accepting and serving connections so no client can
//! starve the others, finding the client's IP address behind trusted proxies, and the rate
//! limits per API key and per client IP.
//!
//! It knows nothing of orders: it may depend only on the top-level error type (a panicking
//! handler still answers in the documented shape), never on the routes, services or workers.

pub(crate) mod client_ip;
pub mod connections;
pub mod rate_limit;
