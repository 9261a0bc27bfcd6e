//! The Octopus HTTP server: the merchant API (`/octopus/api/...`), the hosted cashier pages
//! (`/octopus/pay/...`), health checks, and the background workers that move orders along
//! (connector checks, expiry, accounting retries) and deliver merchant callbacks. Everything runs in one process; several processes coordinate
//! through the database.

pub mod app;
pub mod channels;
pub mod clock;
pub mod config;
pub mod connections;
pub mod error;
pub mod fees;
pub mod keys;
pub mod master_key;
pub mod merchants;
pub mod orders;
pub mod upstream;

pub mod callbacks;
mod cashier;
mod client_ip;
mod merchant_api;
mod postbacks;
mod views;
mod workers;

pub use app::Application;
pub use config::ServerConfig;
pub use error::Error;
