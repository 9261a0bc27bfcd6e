//! Upstream records in PostgreSQL: what a deposit's payer is shown, and every exchange with an
//! upstream provider (credentials already masked by the connector).

use octopus_domain::RequestFields;
use octopus_storage::rows;
use octopus_storage::{stored_fields, Result, StorageError, UpstreamExchange};

use crate::columns::PgRow;
use crate::db;

pub(crate) async fn record(
    client: &mut deadpool_postgres::Object,
    payment_uid: &str,
    channel: &str,
    instructions: Option<&RequestFields>,
    exchanges: &[UpstreamExchange],
) -> Result<()> {
    let tx = client.transaction().await.map_err(db)?;
    let id: i64 = tx
        .query_opt(
            "SELECT id FROM orders WHERE payment_uid = $1",
            &[&payment_uid],
        )
        .await
        .map_err(db)?
        .ok_or(StorageError::NotFound)?
        .get(0);
    if let Some(instructions) = instructions {
        let instructions = instructions.to_json();
        let at = exchanges.last().map(|e| e.at).unwrap_or_default();
        tx.execute(
            "INSERT INTO order_upstream (order_id, channel, instructions, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (order_id) DO UPDATE SET channel = excluded.channel,
                instructions = excluded.instructions, updated_at = excluded.updated_at",
            &[&id, &channel, &instructions, &at],
        )
        .await
        .map_err(db)?;
    }
    for e in exchanges {
        tx.execute(
            "INSERT INTO upstream_exchanges (order_id, channel, operation, request, http_status, response,
                latency_ms, error, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&id, &e.channel, &e.operation, &e.request, &e.http_status.map(i32::from), &e.response, &e.latency_ms, &e.error, &e.at],
        )
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

pub(crate) async fn add_reference(
    client: &deadpool_postgres::Object,
    payment_uid: &str,
    channel: &str,
    reference: &str,
) -> Result<bool> {
    let row = client
        .query_opt(
            "WITH o AS (SELECT id FROM orders WHERE payment_uid = $1),
                  ins AS (INSERT INTO upstream_references (channel, reference, order_id)
                          SELECT $2, $3, id FROM o ON CONFLICT DO NOTHING RETURNING order_id)
             SELECT (SELECT id FROM o),
                    COALESCE((SELECT order_id FROM ins),
                             (SELECT order_id FROM upstream_references WHERE channel = $2 AND reference = $3))",
            &[&payment_uid, &channel, &reference],
        )
        .await
        .map_err(db)?
        .ok_or(StorageError::NotFound)?;
    let id: Option<i64> = row.get(0);
    let owner: Option<i64> = row.get(1);
    match id {
        None => Err(StorageError::NotFound),
        Some(id) => Ok(owner == Some(id)),
    }
}

pub(crate) async fn move_reference(
    client: &deadpool_postgres::Object,
    from: &str,
    to: &str,
    channel: &str,
    reference: &str,
) -> Result<bool> {
    let changed = client
        .execute(
            "UPDATE upstream_references SET order_id = t.id
             FROM (SELECT id FROM orders WHERE payment_uid = $2) t
             WHERE channel = $3 AND reference = $4
               AND order_id = (SELECT id FROM orders WHERE payment_uid = $1)",
            &[&from, &to, &channel, &reference],
        )
        .await
        .map_err(db)?;
    Ok(changed == 1)
}

pub(crate) async fn by_reference(
    client: &deadpool_postgres::Object,
    channel: &str,
    reference: &str,
) -> Result<Option<String>> {
    Ok(client
        .query_opt(
            "SELECT o.payment_uid FROM upstream_references r JOIN orders o ON o.id = r.order_id
             WHERE r.channel = $1 AND r.reference = $2",
            &[&channel, &reference],
        )
        .await
        .map_err(db)?
        .map(|r| r.get(0)))
}

pub(crate) async fn of_order(
    client: &deadpool_postgres::Object,
    payment_uid: &str,
) -> Result<(Option<RequestFields>, Vec<UpstreamExchange>)> {
    let Some(row) = client
        .query_opt(
            "SELECT o.id, u.instructions FROM orders o LEFT JOIN order_upstream u ON u.order_id = o.id
             WHERE o.payment_uid = $1",
            &[&payment_uid],
        )
        .await
        .map_err(db)?
    else {
        return Ok((None, Vec::new()));
    };
    let id: i64 = row.get(0);
    let instructions = row
        .get::<_, Option<&str>>(1)
        .map(|text| stored_fields(text, "order_upstream.instructions"))
        .transpose()?;
    let exchanges = client
        .query(
            "SELECT channel, operation, request, http_status, response, latency_ms, error, at
             FROM upstream_exchanges WHERE order_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|r| rows::upstream_exchange(&PgRow::new(r)))
        .collect::<Result<_>>()?;
    Ok((instructions, exchanges))
}
