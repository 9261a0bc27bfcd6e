//! The integration suite: the real server over real HTTP, on SQLite always and on PostgreSQL
//! when `OCTOPUS_TEST_DATABASE_URL` is set (`.ci/run` sets it).

mod helpers;

mod admin_access;
mod admin_orders;
mod admin_setup;
mod api_keys;
mod auth;
mod backup;
mod callback_backlog;
mod callbacks;
mod cashier_languages;
mod cashier_page;
mod cashier_security;
mod cli;
mod cluster;
mod compatibility;
mod connections;
mod console;
mod contract;
mod crash;
mod documents;
mod hostile_inputs;
mod idempotency;
mod ledger;
mod ledger_properties;
mod observability;
mod openapi;
mod operators;
mod order_query;
mod own_account_pages;
mod own_accounts;
mod paykassma;
mod payout_takeover;
mod rate_limits;
mod restart;
mod risk;
mod routing;
mod sandbox;
mod signing_vectors;
mod soak;
mod stored_values;
mod test_mode;
mod thai_banks;
mod upstream_amounts;
mod validation;
