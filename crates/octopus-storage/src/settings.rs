//! The gateway's own settings: a few named values kept with its data (for example the check
//! value that binds the master key to the database).

use async_trait::async_trait;

use octopus_domain::Timestamp;

use crate::Result;

/// The gateway's settings.
#[async_trait]
pub trait Settings: Send + Sync + 'static {
    /// Reads a value of the gateway's own settings (for example the master-key check).
    async fn setting(&self, key: &str) -> Result<Option<String>>;

    /// The schema the database holds (the newest migration applied) and the newest this build
    /// knows: a read that fails when the database cannot be reached (`/readyz`).
    async fn schema_versions(&self) -> Result<(i64, i64)>;

    /// The operations gauges at `now` (`gauges`): callback queue, accounts online, suspense,
    /// accounting failures.
    async fn gauges(&self, now: Timestamp) -> Result<crate::gauges::Gauges>;

    /// Stores a setting unless one exists; returns the value now stored.
    async fn init_setting(&self, key: &str, value: &str) -> Result<String>;
}
