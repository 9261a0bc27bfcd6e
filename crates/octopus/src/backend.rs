//! Opens the storage backend the operator chose: PostgreSQL when a database URL is given
//! (`--database-url`), else the embedded SQLite database in `--data-dir`. This is the one
//! place that names the backend crates; the server and the tools see the storage interfaces
//! only. The integration tests open their databases through it too.

use std::path::PathBuf;
use std::sync::Arc;

use octopus_storage::{Storage, StorageError};
use octopus_storage_postgres::PostgresStorage;
use octopus_storage_sqlite::SqliteStorage;

/// Where the gateway keeps its state.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// The embedded default: `<data_dir>/octopus.db`.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database shared by every node.
    Postgres { url: String, pool_size: usize },
}

impl DatabaseConfig {
    /// Chooses the backend: a `postgres://` URL if given, else SQLite in `data_dir`.
    pub fn from_args(data_dir: PathBuf, database_url: Option<String>, pool_size: usize) -> Self {
        match database_url.filter(|u| !u.is_empty()) {
            Some(url) => DatabaseConfig::Postgres { url, pool_size },
            None => DatabaseConfig::Sqlite { data_dir },
        }
    }
}

/// Opens (creating or migrating as needed) the configured backend.
pub async fn open(config: &DatabaseConfig) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match config {
        DatabaseConfig::Sqlite { data_dir } => {
            let data_dir = data_dir.clone();
            let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&data_dir))
                .await
                .map_err(|e| StorageError::Setup(e.to_string()))??;
            Arc::new(storage)
        }
        DatabaseConfig::Postgres { url, pool_size } => {
            Arc::new(PostgresStorage::connect(url, *pool_size).await?)
        }
    })
}
