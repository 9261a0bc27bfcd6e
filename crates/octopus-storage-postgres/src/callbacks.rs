//! The callback outbox in PostgreSQL: queued with the status changes they report (in the
//! group writer's transaction), claimed with `FOR UPDATE SKIP LOCKED` so nodes never take the
//! same callback, recorded after each attempt in one transaction per batch.
//!
//! A claim takes per host only what the dispatcher says the host can take now, through the
//! `callbacks_claimable` index (heads of their order, by host and due time; migration 6), so
//! it reads about as many rows as it takes whatever the backlog, and holds its row locks for
//! a few milliseconds: the recorder of another node never waits long on them.

use std::sync::LazyLock;

use deadpool_postgres::GenericClient;
use octopus_domain::callback::NewCallback;
use octopus_domain::decision;
use octopus_domain::Timestamp;
use octopus_storage::rows::{self, CALLBACK_COLUMNS};
use octopus_storage::{
    AttemptRecord, Callback, CallbackAttempt, CallbackOutcome, CallbackState, ClaimRoom,
    HostBacklog, Result, StorageError,
};
use tokio_postgres::Row;

use crate::columns::PgRow;
use crate::db;

/// The statements of the outbox, built once. A callback's state is written in them as a
/// literal from `CallbackState`, as the partial indexes `callbacks_due`,
/// `callbacks_pending_of_order` and `callbacks_claimable` name it: PostgreSQL matches a partial
/// index against the literal, which a bound parameter (in a generic plan) does not give it.
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH RECURSIVE hosts(host) AS (
            (SELECT host FROM callbacks WHERE state = '{PENDING}' AND head ORDER BY host LIMIT 1)
            UNION ALL
            SELECT (SELECT c.host FROM callbacks c
                    WHERE c.state = '{PENDING}' AND c.head AND c.host > h.host
                    ORDER BY c.host LIMIT 1)
            FROM hosts h WHERE h.host IS NOT NULL
         ),
         picked AS (
            SELECT d.id, d.next_attempt_at FROM hosts h
            CROSS JOIN LATERAL (
                SELECT c.id, c.next_attempt_at FROM callbacks c
                WHERE c.state = '{PENDING}' AND c.head AND c.host = h.host
                  AND c.next_attempt_at <= $2 AND c.claimed_until <= $2
                ORDER BY c.next_attempt_at
                LIMIT LEAST($3, COALESCE((SELECT r.room FROM UNNEST($4::text[], $5::bigint[]) AS r(host, room)
                                          WHERE r.host = h.host), $6))
                FOR UPDATE OF c SKIP LOCKED) d
            WHERE h.host IS NOT NULL
            ORDER BY d.next_attempt_at LIMIT $3
         )
         UPDATE callbacks SET claimed_until = $1 FROM picked WHERE callbacks.id = picked.id
         RETURNING {RETURNING}",
        PENDING = CallbackState::Pending.as_str(),
        RETURNING = CALLBACK_COLUMNS
            .split(',')
            .map(|c| format!("callbacks.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    )
});
static BACKLOG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT host, COUNT(*), MIN(next_attempt_at) FROM callbacks
         WHERE state = '{PENDING}' AND head AND host = ANY($1) AND next_attempt_at <= $2
         GROUP BY host ORDER BY host",
        PENDING = CallbackState::Pending.as_str()
    )
});
static NEXT_HEADS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE callbacks SET head = true
         WHERE id IN (SELECT (SELECT c.id FROM callbacks c WHERE c.order_id = o AND c.state = '{PENDING}'
                              ORDER BY c.id LIMIT 1)
                      FROM UNNEST($1::bigint[]) AS o)
           AND NOT head",
        PENDING = CallbackState::Pending.as_str()
    )
});
static ORDERS_NOTIFY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders o SET
            notify_status = CASE WHEN EXISTS (SELECT 1 FROM callbacks c
                                              WHERE c.order_id = o.id AND c.state = '{PENDING}')
                            THEN v.if_pending ELSE v.if_none END,
            notify_fail_reason = COALESCE(v.reason, o.notify_fail_reason)
         FROM (SELECT DISTINCT ON (id) * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[])
                 WITH ORDINALITY AS u(id, if_pending, if_none, reason, n)
               ORDER BY id, n DESC) AS v
         WHERE o.id = v.id",
        PENDING = CallbackState::Pending.as_str()
    )
});
static OF_ORDER: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE payment_uid = $1 ORDER BY id")
});
static BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE id = $1"));

fn from_row(r: &Row) -> Result<Callback> {
    rows::callback(&PgRow::new(r))
}

/// Prepares (once per connection) the statement `enqueue_many` runs, so that pipelined it
/// goes out in the order called.
pub(crate) async fn prepare_enqueue<C: GenericClient>(client: &C) -> Result<()> {
    client.prepare_cached(&ENQUEUE).await.map_err(db)?;
    Ok(())
}

static ENQUEUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO callbacks (order_id, payment_uid, notify_url, host, signature_key, payload,
            state, manual, next_attempt_at, created_at, updated_at, head)
         SELECT o, u, n, h, k, p, '{PENDING}', m, t, t, t,
                i = MIN(i) OVER (PARTITION BY o)
                AND NOT EXISTS (SELECT 1 FROM callbacks c WHERE c.order_id = v.o AND c.state = '{PENDING}')
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::boolean[], $8::bigint[])
              WITH ORDINALITY AS v(o, u, n, h, k, p, m, t, i)
         ORDER BY i
         RETURNING id",
        PENDING = CallbackState::Pending.as_str()
    )
});

/// Queues decided callbacks (see `callback::report`) in one statement; returns their ids in
/// order. A callback is its order's head when none of the order is pending before it (the
/// orders are locked).
pub(crate) async fn enqueue_many<C: GenericClient>(
    client: &C,
    callbacks: &[NewCallback],
) -> Result<Vec<i64>> {
    if callbacks.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client.prepare_cached(&ENQUEUE).await.map_err(db)?;
    let column = |f: fn(&NewCallback) -> &str| callbacks.iter().map(f).collect::<Vec<_>>();
    let rows = client
        .query(
            &stmt,
            &[
                &callbacks.iter().map(|c| c.order_id).collect::<Vec<_>>(),
                &column(|c| &c.payment_uid),
                &column(|c| &c.notify_url),
                &column(|c| &c.host),
                &column(|c| &c.signature_key),
                &callbacks
                    .iter()
                    .map(|c| c.payload.to_json())
                    .collect::<Vec<_>>(),
                &callbacks.iter().map(|c| c.manual).collect::<Vec<_>>(),
                &callbacks.iter().map(|c| c.at).collect::<Vec<_>>(),
            ],
        )
        .await
        .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Claims due callbacks (see `CallbackOutbox::claim_callbacks`) in one statement: the hosts
/// with pending heads are found by skipping through `callbacks_claimable` (a recursive walk,
/// one probe per host), and each host gives at most its room, the earliest due first.
pub(crate) async fn claim<C: GenericClient>(
    client: &C,
    now: Timestamp,
    lease_ms: i64,
    room: &ClaimRoom,
) -> Result<Vec<Callback>> {
    let stmt = client.prepare_cached(&CLAIM).await.map_err(db)?;
    let hosts: Vec<&str> = room.hosts.iter().map(|(h, _)| h.as_str()).collect();
    let rooms: Vec<i64> = room.hosts.iter().map(|(_, r)| i64::from(*r)).collect();
    let rows = client
        .query(
            &stmt,
            &[
                &(now + lease_ms),
                &now,
                &i64::from(room.total),
                &hosts,
                &rooms,
                &i64::from(room.per_host),
            ],
        )
        .await
        .map_err(db)?;
    let mut out: Vec<Callback> = rows
        .iter()
        .filter_map(|row| rows::claimed("callbacks", from_row(row)))
        .collect();
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// Due callbacks per host, through `callbacks_claimable` (read only when a host's claims keep
/// filling its room, to warn the operator).
pub(crate) async fn backlog<C: GenericClient>(
    client: &C,
    now: Timestamp,
    hosts: &[String],
) -> Result<Vec<HostBacklog>> {
    let rows = client
        .query(BACKLOG.as_str(), &[&hosts, &now])
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .map(|r| HostBacklog {
            host: r.get(0),
            due: r.get::<_, i64>(1) as u64,
            oldest_due_at: r.get(2),
        })
        .collect())
}

/// Hands claimed callbacks back (see `CallbackOutbox::release_callbacks`), in one statement.
pub(crate) async fn release<C: GenericClient>(
    client: &C,
    claims: &[(i64, Timestamp)],
) -> Result<()> {
    let (ids, held): (Vec<i64>, Vec<Timestamp>) = claims.iter().copied().unzip();
    client
        .execute(
            "UPDATE callbacks c SET claimed_until = 0
             FROM UNNEST($1::bigint[], $2::bigint[]) AS v(id, claim)
             WHERE c.id = v.id AND c.claimed_until = v.claim",
            &[&ids, &held],
        )
        .await
        .map_err(db)?;
    Ok(())
}

/// Records attempts: the attempt log, the callbacks' states, and the orders' notify status,
/// in one transaction, tried again when PostgreSQL reports a deadlock or a serialization
/// failure. An attempt whose claim is no longer the callback's (its lease ran out and it was
/// claimed again) is logged and changes nothing else.
pub(crate) async fn record(
    client: &mut deadpool_postgres::Object,
    records: &[AttemptRecord],
    at: Timestamp,
) -> Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        match record_once(client, records, at).await {
            Err(e) if tries < 5 && crate::group_write::is_transient(&e) => continue,
            other => return other.map_err(db),
        }
    }
}

async fn record_once(
    client: &mut deadpool_postgres::Object,
    records: &[AttemptRecord],
    at: Timestamp,
) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO callback_attempts (callback_id, attempt, manual, started_at, http_status,
                latency_ms, error, response_head)
             SELECT * FROM UNNEST($1::bigint[], $2::int[], $3::boolean[], $4::bigint[], $5::int[],
                $6::bigint[], $7::text[], $8::text[])",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &records
                .iter()
                .map(|r| r.attempt.callback_id)
                .collect::<Vec<_>>(),
            &records
                .iter()
                .map(|r| r.attempt.attempt as i32)
                .collect::<Vec<_>>(),
            &records.iter().map(|r| r.attempt.manual).collect::<Vec<_>>(),
            &records
                .iter()
                .map(|r| r.attempt.started_at)
                .collect::<Vec<_>>(),
            &records
                .iter()
                .map(|r| r.attempt.http_status.map(i32::from))
                .collect::<Vec<_>>(),
            &records
                .iter()
                .map(|r| r.attempt.latency_ms)
                .collect::<Vec<_>>(),
            &records
                .iter()
                .map(|r| r.attempt.error.as_str())
                .collect::<Vec<_>>(),
            &records
                .iter()
                .map(|r| r.attempt.response_head.as_str())
                .collect::<Vec<_>>(),
        ],
    )
    .await?;
    // The orders first, locked in id order like the group writer locks them, so the two
    // never deadlock.
    let mut order_ids: Vec<i64> = records.iter().map(|r| r.order_id).collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    let lock = tx
        .prepare_cached("SELECT id FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .await?;
    tx.query(&lock, &[&order_ids]).await?;
    // The callbacks' new states, in one statement, where the claim still holds.
    let mut states = Vec::with_capacity(records.len());
    let mut nexts = Vec::with_capacity(records.len());
    for r in records {
        let (state, next) = match r.outcome {
            CallbackOutcome::Acknowledged => (CallbackState::Completed, None),
            CallbackOutcome::RetryAt(t) => (CallbackState::Pending, Some(t)),
            CallbackOutcome::GaveUp => (CallbackState::Failed, None),
        };
        states.push(state.as_str());
        nexts.push(next);
    }
    let update = tx
        .prepare_cached(
            "UPDATE callbacks c SET state = v.state, attempts = v.attempt,
                next_attempt_at = COALESCE(v.next, c.next_attempt_at), claimed_until = 0,
                last_error = v.error, updated_at = $6
             FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::text[], $7::bigint[])
                  AS v(id, state, attempt, next, error, claim)
             WHERE c.id = v.id AND c.claimed_until = v.claim
             RETURNING c.id",
        )
        .await?;
    let held: std::collections::HashSet<i64> = tx
        .query(
            &update,
            &[
                &records
                    .iter()
                    .map(|r| r.attempt.callback_id)
                    .collect::<Vec<_>>(),
                &states,
                &records
                    .iter()
                    .map(|r| r.attempt.attempt as i32)
                    .collect::<Vec<_>>(),
                &nexts,
                &records
                    .iter()
                    .map(|r| r.attempt.error.as_str())
                    .collect::<Vec<_>>(),
                &at,
                &records.iter().map(|r| r.claim).collect::<Vec<_>>(),
            ],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    // A settled head passes its place to the next pending callback of its order.
    let settled: Vec<i64> = records
        .iter()
        .filter(|r| {
            held.contains(&r.attempt.callback_id)
                && !matches!(r.outcome, CallbackOutcome::RetryAt(_))
        })
        .map(|r| r.order_id)
        .collect();
    if !settled.is_empty() {
        let next_head = tx.prepare_cached(&NEXT_HEADS).await?;
        tx.execute(&next_head, &[&settled]).await?;
    }
    // Then the orders' notify status: an acknowledged callback completes it unless another of
    // the order's callbacks is still pending (see AttemptRecord::notify_after).
    let notify = tx.prepare_cached(&ORDERS_NOTIFY).await?;
    let (mut ids, mut if_pending, mut if_none, mut reasons) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in records
        .iter()
        .filter(|r| held.contains(&r.attempt.callback_id))
    {
        let (none, reason) = r.notify_after(false);
        let (pending, _) = r.notify_after(true);
        ids.push(r.order_id);
        if_pending.push(pending.as_str());
        if_none.push(none.as_str());
        reasons.push(reason);
    }
    tx.execute(&notify, &[&ids, &if_pending, &if_none, &reasons])
        .await?;
    tx.commit().await
}

pub(crate) async fn of_order<C: GenericClient>(
    client: &C,
    payment_uid: &str,
) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>> {
    let rows = client
        .query(OF_ORDER.as_str(), &[&payment_uid])
        .await
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let c = from_row(row)?;
        let attempts = client
            .query(
                "SELECT callback_id, attempt, manual, started_at, http_status, latency_ms, error, response_head
                 FROM callback_attempts WHERE callback_id = $1 ORDER BY id",
                &[&c.id],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| rows::callback_attempt(&PgRow::new(r)))
            .collect::<Result<_>>()?;
        out.push((c, attempts));
    }
    Ok(out)
}

/// Queues the order's state now as a manual callback. The order is locked while it is read
/// and the callback queued, so a status change committing meanwhile is queued before it, not
/// after it with an older state.
pub(crate) async fn resend(
    client: &mut deadpool_postgres::Object,
    payment_uid: &str,
    at: Timestamp,
) -> Result<Callback> {
    let tx = client.transaction().await.map_err(db)?;
    let order = crate::orders::by_payment_uid(&tx, payment_uid, true)
        .await?
        .ok_or(StorageError::NotFound)?;
    let (order, callback) = decision::resend(&order, at)?;
    let id = *enqueue_many(&tx, std::slice::from_ref(&callback))
        .await?
        .first()
        .ok_or_else(|| StorageError::Database("a queued callback has no id".into()))?;
    // The order has a callback on its way from now on.
    tx.execute(
        "UPDATE orders SET notify_status = $2 WHERE id = $1",
        &[&order.id, &order.notify_status.as_str()],
    )
    .await
    .map_err(db)?;
    let row = tx.query_one(BY_ID.as_str(), &[&id]).await.map_err(db)?;
    let callback = from_row(&row)?;
    tx.commit().await.map_err(db)?;
    Ok(callback)
}
