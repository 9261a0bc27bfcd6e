//! Channels in PostgreSQL: the operator's configured routes to upstream providers (see
//! `octopus_storage::ChannelRow` for how a channel maps to its columns, and
//! `octopus_storage::rows::channel` for how a stored one is read).

use std::sync::LazyLock;

use deadpool_postgres::GenericClient;
use octopus_domain::{Channel, Timestamp};
use octopus_storage::rows::{self, CHANNEL_COLUMNS};
use octopus_storage::{ChannelRow, Result, StorageError};
use tokio_postgres::Row;

use crate::columns::PgRow;
use crate::db;

/// What `INSERT ... ON CONFLICT (code) DO UPDATE SET` replaces (everything but the code and
/// the creation time).
static CHANNEL_REPLACE: LazyLock<String> = LazyLock::new(|| {
    rows::channel_columns_replaced()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

fn from_row(r: &Row) -> Result<Channel> {
    rows::channel(&PgRow::new(r))
}

pub(crate) async fn save<C: GenericClient>(client: &C, channel: &Channel) -> Result<Channel> {
    let r = ChannelRow::from_channel(channel);
    let row = client
        .query_one(
            &format!(
                "INSERT INTO channels ({CHANNEL_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (code) DO UPDATE SET {replace}
                 RETURNING {CHANNEL_COLUMNS}",
                replace = *CHANNEL_REPLACE
            ),
            &[
                &r.code, &r.kind, &r.enabled, &r.merchants, &r.transaction_types, &r.countries, &r.currencies, &r.payments,
                &r.min_amount, &r.max_amount, &r.default_ttl, &r.priority, &r.weight, &r.daily_limit,
                &r.settings, &r.credentials, &r.created_at, &r.updated_at,
            ],
        )
        .await
        .map_err(db)?;
    from_row(&row)
}

pub(crate) async fn all<C: GenericClient>(client: &C) -> Result<Vec<Channel>> {
    client
        .query(
            &format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY priority, code"),
            &[],
        )
        .await
        .map_err(db)?
        .iter()
        .map(from_row)
        .collect()
}

pub(crate) async fn set_enabled<C: GenericClient>(
    client: &C,
    code: &str,
    enabled: bool,
    at: Timestamp,
) -> Result<Channel> {
    let row = client
        .query_opt(
            &format!("UPDATE channels SET enabled = $1, updated_at = $2 WHERE code = $3 RETURNING {CHANNEL_COLUMNS}"),
            &[&enabled, &at, &code],
        )
        .await
        .map_err(db)?
        .ok_or(StorageError::NotFound)?;
    from_row(&row)
}
