//! Upstream records in SQLite: what a deposit's payer is shown, and every exchange with an
//! upstream provider (credentials already masked by the connector).

use octopus_domain::RequestFields;
use octopus_storage::rows;
use octopus_storage::{stored_fields, Result, StorageError, UpstreamExchange};
use rusqlite::{params, Connection, OptionalExtension};

use crate::columns::SqliteRow;
use crate::db;

fn order_id(conn: &Connection, payment_uid: &str) -> Result<i64> {
    conn.prepare_cached("SELECT id FROM orders WHERE payment_uid = ?1")
        .map_err(db)?
        .query_row([payment_uid], |r| r.get(0))
        .optional()
        .map_err(db)?
        .ok_or(StorageError::NotFound)
}

pub(crate) fn record(
    conn: &Connection,
    payment_uid: &str,
    channel: &str,
    instructions: Option<&RequestFields>,
    exchanges: &[UpstreamExchange],
) -> Result<()> {
    let id = order_id(conn, payment_uid)?;
    if let Some(instructions) = instructions {
        let instructions = instructions.to_json();
        let at = exchanges.last().map(|e| e.at).unwrap_or_default();
        conn.prepare_cached(
            "INSERT INTO order_upstream (order_id, channel, instructions, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (order_id) DO UPDATE SET channel = excluded.channel,
                instructions = excluded.instructions, updated_at = excluded.updated_at",
        )
        .map_err(db)?
        .execute(params![id, channel, instructions, at])
        .map_err(db)?;
    }
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO upstream_exchanges (order_id, channel, operation, request, http_status, response,
                latency_ms, error, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db)?;
    for e in exchanges {
        insert
            .execute(params![
                id,
                e.channel,
                e.operation,
                e.request,
                e.http_status,
                e.response,
                e.latency_ms,
                e.error,
                e.at
            ])
            .map_err(db)?;
    }
    Ok(())
}

pub(crate) fn add_reference(
    conn: &Connection,
    payment_uid: &str,
    channel: &str,
    reference: &str,
) -> Result<bool> {
    let id = order_id(conn, payment_uid)?;
    conn.prepare_cached("INSERT INTO upstream_references (channel, reference, order_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
        .map_err(db)?
        .execute(params![channel, reference, id])
        .map_err(db)?;
    let owner: i64 = conn
        .prepare_cached(
            "SELECT order_id FROM upstream_references WHERE channel = ?1 AND reference = ?2",
        )
        .map_err(db)?
        .query_row(params![channel, reference], |r| r.get(0))
        .map_err(db)?;
    Ok(owner == id)
}

pub(crate) fn move_reference(
    conn: &Connection,
    from: &str,
    to: &str,
    channel: &str,
    reference: &str,
) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE upstream_references SET order_id = (SELECT id FROM orders WHERE payment_uid = ?2)
             WHERE channel = ?3 AND reference = ?4
               AND order_id = (SELECT id FROM orders WHERE payment_uid = ?1)
               AND EXISTS (SELECT 1 FROM orders WHERE payment_uid = ?2)",
        )
        .map_err(db)?
        .execute(params![from, to, channel, reference])
        .map_err(db)?;
    Ok(changed == 1)
}

pub(crate) fn by_reference(
    conn: &Connection,
    channel: &str,
    reference: &str,
) -> Result<Option<String>> {
    conn.prepare_cached(
        "SELECT o.payment_uid FROM upstream_references r JOIN orders o ON o.id = r.order_id
         WHERE r.channel = ?1 AND r.reference = ?2",
    )
    .map_err(db)?
    .query_row(params![channel, reference], |r| r.get(0))
    .optional()
    .map_err(db)
}

pub(crate) fn of_order(
    conn: &Connection,
    payment_uid: &str,
) -> Result<(Option<RequestFields>, Vec<UpstreamExchange>)> {
    let Some(id) = conn
        .prepare_cached("SELECT id FROM orders WHERE payment_uid = ?1")
        .map_err(db)?
        .query_row([payment_uid], |r| r.get::<_, i64>(0))
        .optional()
        .map_err(db)?
    else {
        return Ok((None, Vec::new()));
    };
    let instructions = conn
        .prepare_cached("SELECT instructions FROM order_upstream WHERE order_id = ?1")
        .map_err(db)?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(db)?
        .map(|text| stored_fields(&text, "order_upstream.instructions"))
        .transpose()?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT channel, operation, request, http_status, response, latency_ms, error, at
             FROM upstream_exchanges WHERE order_id = ?1 ORDER BY id",
        )
        .map_err(db)?;
    let mut rows = stmt.query([id]).map_err(db)?;
    let mut exchanges = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        exchanges.push(rows::upstream_exchange(&SqliteRow::new(r))?);
    }
    Ok((instructions, exchanges))
}
