//! Channels in SQLite: the operator's configured routes to upstream providers (see
//! `octopus_storage::ChannelRow` for how a channel maps to its columns, and
//! `octopus_storage::rows::channel` for how a stored one is read).

use std::sync::LazyLock;

use octopus_domain::{Channel, Timestamp};
use octopus_storage::rows::{self, CHANNEL_COLUMNS};
use octopus_storage::{ChannelRow, Result, StorageError};
use rusqlite::{params, Connection, Row};

use crate::columns::SqliteRow;
use crate::db;

/// What `INSERT ... ON CONFLICT (code) DO UPDATE SET` replaces (everything but the code and
/// the creation time).
static CHANNEL_REPLACE: LazyLock<String> = LazyLock::new(|| {
    rows::channel_columns_replaced()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The statements reading channels, built once.
static BY_CODE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE code = ?1"));
static ALL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY priority, code"));

fn from_row(r: &Row<'_>) -> Result<Channel> {
    rows::channel(&SqliteRow::new(r))
}

fn by_code(conn: &Connection, code: &str) -> Result<Option<Channel>> {
    let mut stmt = conn.prepare_cached(&BY_CODE).map_err(db)?;
    let mut rows = stmt.query([code]).map_err(db)?;
    rows.next().map_err(db)?.map(from_row).transpose()
}

pub(crate) fn save(conn: &Connection, channel: &Channel) -> Result<Channel> {
    let r = ChannelRow::from_channel(channel);
    conn.prepare_cached(&format!(
        "INSERT INTO channels ({CHANNEL_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (code) DO UPDATE SET {replace}",
        replace = *CHANNEL_REPLACE
    ))
    .map_err(db)?
    .execute(params![
        r.code,
        r.kind,
        r.enabled,
        r.merchants,
        r.transaction_types,
        r.countries,
        r.currencies,
        r.payments,
        r.min_amount,
        r.max_amount,
        r.default_ttl,
        r.priority,
        r.weight,
        r.daily_limit,
        r.settings,
        r.credentials,
        r.created_at,
        r.updated_at
    ])
    .map_err(db)?;
    by_code(conn, &channel.code)?.ok_or(StorageError::NotFound)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<Channel>> {
    let mut stmt = conn.prepare_cached(&ALL).map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        out.push(from_row(r)?);
    }
    Ok(out)
}

pub(crate) fn set_enabled(
    conn: &Connection,
    code: &str,
    enabled: bool,
    at: Timestamp,
) -> Result<Channel> {
    let changed = conn
        .prepare_cached("UPDATE channels SET enabled = ?1, updated_at = ?2 WHERE code = ?3")
        .map_err(db)?
        .execute(params![enabled, at, code])
        .map_err(db)?;
    if changed == 0 {
        return Err(StorageError::NotFound);
    }
    by_code(conn, code)?.ok_or(StorageError::NotFound)
}
