//! The order services without a listener: failover of payouts, settlement of payouts, and
//! postback handling, run against real SQLite storage and a simulated Paykassma upstream,
//! asserting on what is stored and what the services return. The HTTP suite
//! (`crates/octopus/tests/api/`) covers the same paths through the routes.

mod failover;
mod postbacks;
mod settlement;
mod setup;
