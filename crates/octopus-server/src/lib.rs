//! The Octopus HTTP server: the merchant API (`/octopus/api/...`), the hosted cashier pages
//! (`/octopus/pay/...`), health checks, and the background workers that move orders along
//! (connector checks, expiry, accounting retries) and deliver merchant callbacks. Everything
//! runs in one process; several processes coordinate through the database.
//!
//! The path names the layer:
//! - `api/` — what merchants and providers call: the merchant API and postbacks.
//! - `pages/` — what payers' browsers see: the cashier pages.
//! - `workers/` — background loops: order checks, expiry, accounting retries, callbacks.
//! - `services/` — the order services the three above call: creation, upstream, routing.
//! - `http/` — the connection layer under every route.
//! - `state` (what they all share), `app` (building, routing, running), and the pieces every
//!   layer uses: `error` (the one mapping of errors to HTTP), `clock`, `config`, `master_key`.

pub mod admin;
pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod console;
pub mod error;
pub mod http;
pub mod master_key;
pub mod metrics;
pub mod openapi;
mod pages;
pub mod services;
pub mod state;
pub mod workers;

pub use app::Application;
pub use config::ServerConfig;
pub use error::Error;
