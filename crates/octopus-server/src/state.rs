//! What every handler and worker shares: storage, the API keys' cache, the order services
//! (with the fee schedules and channels they cache), the callbacks notifier, the
//! configuration, the cashier's token key, and the rate limiters. Built once by
//! [`crate::app::Application::build`] and cloned cheaply into every request and worker.

use std::ops::Deref;
use std::sync::Arc;

use octopus_domain::signing::SigningKey;
use octopus_storage::Storage;

use crate::api::keys::KeyRing;
use crate::config::ServerConfig;
use crate::http::rate_limit::RateLimiters;
use crate::services::OrderServices;

/// What every handler and worker shares.
pub struct AppInner {
    pub storage: Arc<dyn Storage>,
    pub keys: KeyRing,
    /// Creation, upstream and routing, with what they use (their channels are everyone's).
    pub services: OrderServices,
    pub config: ServerConfig,
    /// Base URL of payment pages, without a trailing slash.
    pub public_url: String,
    /// Woken when callbacks may be due (a status change here, an attempt recorded).
    /// The order services hold it too, and wake it after their changes.
    pub callbacks_due: Arc<tokio::sync::Notify>,
    /// Signs the cashier page's form tokens; derived from the master key, so every node
    /// sharing the database accepts the tokens of every other.
    pub cashier_key: SigningKey,
    /// Opens the sealed secrets of devices (and channels).
    pub master_key: octopus_domain::secret_box::MasterKey,
    /// The rate limits' budgets (built from `config.rate_limits`).
    pub rate_limiters: RateLimiters,
    /// Whether this node's background workers run (`/readyz`): from when they are spawned
    /// until they are stopped.
    pub workers_running: std::sync::atomic::AtomicBool,
    /// Whether this node is stopping (`/readyz` unready from the moment shutdown begins, while
    /// it drains).
    pub draining: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl AppState {
    pub fn new(inner: AppInner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}
