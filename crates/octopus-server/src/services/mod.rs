//! The order services: creating and refunding orders (`orders`), what upstreams say applied
//! to orders (`upstream`), and routing over the configured channels (`routing`), with the fee
//! book order creation reads and the creation of merchants the CLI uses.
//!
//! This is where a request becomes a stored order and an upstream's answer a status change;
//! the rules themselves live in `octopus-domain`. Services may depend on storage, the
//! connectors, the domain, the shared state and the top-level modules (error, clock, config),
//! never on the merchant API, the pages, the workers or the HTTP layer.

pub mod fees;
pub mod merchants;
pub mod orders;
pub mod routing;
pub mod upstream;
