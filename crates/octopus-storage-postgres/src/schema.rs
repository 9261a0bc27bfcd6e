//! Embedded migrations for PostgreSQL, applied at start under an advisory lock so that nodes
//! starting at the same time apply each migration exactly once.

use octopus_storage::{Result, StorageError};

/// The newest migration this build knows.
pub(crate) fn newest() -> i64 {
    MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_ledger.sql")),
    (3, include_str!("../migrations/0003_callbacks.sql")),
    (4, include_str!("../migrations/0004_channels.sql")),
    (5, include_str!("../migrations/0005_upstream.sql")),
    (6, include_str!("../migrations/0006_callback_claims.sql")),
    (7, include_str!("../migrations/0007_accounts.sql")),
    (8, include_str!("../migrations/0008_risk.sql")),
    (9, include_str!("../migrations/0009_operators.sql")),
    (10, include_str!("../migrations/0010_two_factor.sql")),
    (11, include_str!("../migrations/0011_search.sql")),
    (12, include_str!("../migrations/0012_merchant_disabled.sql")),
    (13, include_str!("../migrations/0013_search_indexes.sql")),
    (14, include_str!("../migrations/0014_channel_status.sql")),
    (15, include_str!("../migrations/0015_request_ids.sql")),
];
/// Arbitrary constant naming Octopus's migration lock.
const MIGRATION_LOCK: i64 = 0x0c70_9005;

pub(crate) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<()> {
    let fail = |e: tokio_postgres::Error| StorageError::Setup(format!("migration failed: {e}"));
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail)?;
    let result = apply(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail);
    result.and(unlock.map(|_| ()))
}

async fn apply(client: &mut deadpool_postgres::Object) -> Result<()> {
    let fail = |e: tokio_postgres::Error| StorageError::Setup(format!("migration failed: {e}"));
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(fail)?;
    let current: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(fail)?
        .get(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = client.transaction().await.map_err(fail)?;
        tx.batch_execute(sql).await.map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    Ok(())
}
