//! Embedded migrations, applied in order at start inside one immediate transaction, so two
//! processes starting on the same file never apply one twice.

use octopus_storage::{Result, StorageError};
use rusqlite::Connection;

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

pub(crate) fn migrate(conn: &Connection) -> Result<()> {
    let fail = |e: rusqlite::Error| StorageError::Setup(format!("migration failed: {e}"));
    conn.execute_batch("BEGIN IMMEDIATE").map_err(fail)?;
    let result = (|| {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY,
                 applied_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
             )",
        )?;
        let current: i64 = conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            conn.execute_batch(sql)?;
            conn.execute(
                "INSERT INTO schema_migrations (version) VALUES (?1)",
                [version],
            )?;
            tracing::info!(version, "applied SQLite migration");
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(fail),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(fail(e))
        }
    }
}
