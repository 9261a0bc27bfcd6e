//! Opens the configured storage backend behind the one `Storage` interface.

use std::sync::Arc;

use octopus_storage::{Storage, StorageError};
use octopus_storage_postgres::PostgresStorage;
use octopus_storage_sqlite::SqliteStorage;

use crate::config::DatabaseConfig;

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
