//! Channels in SQLite: the operator's configured routes to upstream providers (see
//! `octopus_storage::ChannelRow` for how a channel maps to its columns).

use octopus_domain::{Channel, Timestamp};
use octopus_storage::{ChannelRow, Result, StorageError};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db;

/// The columns of `channels`, in the order of [`from_row`].
const CHANNEL_COLUMNS: &str = "code, kind, enabled, merchants, transaction_types, countries, currencies, payments, \
    min_amount, max_amount, default_ttl, priority, weight, daily_limit, settings, credentials, created_at, updated_at";

/// What `INSERT ... ON CONFLICT (code) DO UPDATE SET` replaces (everything but the creation time).
const CHANNEL_REPLACE: &str = "kind = excluded.kind, enabled = excluded.enabled, merchants = excluded.merchants, \
    transaction_types = excluded.transaction_types, countries = excluded.countries, currencies = excluded.currencies, \
    payments = excluded.payments, min_amount = excluded.min_amount, max_amount = excluded.max_amount, \
    default_ttl = excluded.default_ttl, priority = excluded.priority, weight = excluded.weight, \
    daily_limit = excluded.daily_limit, settings = excluded.settings, credentials = excluded.credentials, \
    updated_at = excluded.updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ChannelRow> {
    Ok(ChannelRow {
        code: r.get(0)?,
        kind: r.get(1)?,
        enabled: r.get::<_, i64>(2)? != 0,
        merchants: r.get(3)?,
        transaction_types: r.get(4)?,
        countries: r.get(5)?,
        currencies: r.get(6)?,
        payments: r.get(7)?,
        min_amount: r.get(8)?,
        max_amount: r.get(9)?,
        default_ttl: r.get(10)?,
        priority: r.get(11)?,
        weight: r.get(12)?,
        daily_limit: r.get(13)?,
        settings: r.get(14)?,
        credentials: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

fn by_code(conn: &Connection, code: &str) -> Result<Option<Channel>> {
    conn.prepare_cached(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels WHERE code = ?1"
    ))
    .map_err(db)?
    .query_row([code], from_row)
    .optional()
    .map_err(db)?
    .map(ChannelRow::into_channel)
    .transpose()
}

pub(crate) fn save(conn: &Connection, channel: &Channel) -> Result<Channel> {
    let r = ChannelRow::from_channel(channel);
    conn.prepare_cached(&format!(
        "INSERT INTO channels ({CHANNEL_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (code) DO UPDATE SET {CHANNEL_REPLACE}"
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
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY priority, code"
        ))
        .map_err(db)?;
    let rows = stmt.query_map([], from_row).map_err(db)?;
    rows.map(|r| r.map_err(db).and_then(ChannelRow::into_channel))
        .collect()
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
