//! What payers' browsers see: the hosted cashier pages (`/octopus/pay/...`), rendered from
//! the askama templates in `crates/octopus-server/templates/`.
//!
//! Pages call the order services (`crate::services`) for everything that changes an order.
//! They may depend on the services, the shared state, the HTTP layer (`crate::http`) and the
//! top-level modules, never on the merchant API or the workers.

pub mod cashier;
mod catalog;
pub(crate) mod instructions;
