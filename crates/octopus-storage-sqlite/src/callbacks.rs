//! The callback outbox in SQLite: queued with the status change it reports (inside the
//! writer's transaction), claimed by the dispatcher, recorded after each attempt.
//!
//! A claim takes per host only what the dispatcher says the host can take now, through the
//! `callbacks_claimable` index (heads of their order, by host and due time; migration 6), so
//! it reads about as many rows as it takes whatever the backlog.

use std::sync::LazyLock;

use octopus_domain::callback::NewCallback;
use octopus_domain::decision;
use octopus_domain::Timestamp;
use octopus_storage::rows::{self, CALLBACK_COLUMNS};
use octopus_storage::{
    AttemptRecord, Callback, CallbackAttempt, CallbackOutcome, CallbackState, ClaimRoom,
    HostBacklog, Result, StorageError,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::columns::{Query, SqliteRow};
use crate::db;

/// The statements of the outbox, built once. A callback's state is written in them as a
/// literal from `CallbackState`, as the partial indexes `callbacks_due`,
/// `callbacks_pending_of_order` and `callbacks_claimable` name it: SQLite uses a partial index
/// only for a query whose WHERE clause implies the index's, which a bound parameter does not.
static FIRST_HOST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT host FROM callbacks WHERE state = '{PENDING}' AND head ORDER BY host LIMIT 1",
        PENDING = CallbackState::Pending.as_str()
    )
});
static NEXT_HOST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT host FROM callbacks WHERE state = '{PENDING}' AND head AND host > ?1 ORDER BY host LIMIT 1",
        PENDING = CallbackState::Pending.as_str()
    )
});
static DUE_OF_HOST: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, next_attempt_at FROM callbacks
         WHERE state = '{PENDING}' AND head AND host = ?1 AND next_attempt_at <= ?2 AND claimed_until <= ?2
         ORDER BY next_attempt_at LIMIT ?3",
        PENDING = CallbackState::Pending.as_str()
    )
});
static LEASE: Query = Query::new(|| {
    format!("UPDATE callbacks SET claimed_until = ?1 WHERE id = ?2 RETURNING {CALLBACK_COLUMNS}")
});
static BACKLOG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT COUNT(*), MIN(next_attempt_at) FROM callbacks
         WHERE state = '{PENDING}' AND head AND host = ?1 AND next_attempt_at <= ?2",
        PENDING = CallbackState::Pending.as_str()
    )
});
static NEXT_HEAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE callbacks SET head = 1
         WHERE id = (SELECT id FROM callbacks WHERE order_id = ?1 AND state = '{PENDING}' ORDER BY id LIMIT 1)
           AND NOT head",
        PENDING = CallbackState::Pending.as_str()
    )
});
static ORDER_NOTIFY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders SET
            notify_status = CASE WHEN EXISTS (SELECT 1 FROM callbacks
                                              WHERE order_id = ?1 AND state = '{PENDING}')
                            THEN ?2 ELSE ?3 END,
            notify_fail_reason = COALESCE(?4, notify_fail_reason)
         WHERE id = ?1",
        PENDING = CallbackState::Pending.as_str()
    )
});
static OF_ORDER: Query = Query::new(|| {
    format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE payment_uid = ?1 ORDER BY id")
});
static BY_ID: Query =
    Query::new(|| format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE id = ?1"));

/// Queues a decided callback (see `callback::report`); it is its order's head when none of
/// the order is pending before it.
pub(crate) fn enqueue(conn: &Connection, callback: &NewCallback) -> Result<i64> {
    static ENQUEUE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO callbacks (order_id, payment_uid, notify_url, host, signature_key, payload,
                state, manual, next_attempt_at, created_at, updated_at, head)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '{PENDING}', ?7, ?8, ?8, ?8,
                     NOT EXISTS (SELECT 1 FROM callbacks WHERE order_id = ?1 AND state = '{PENDING}'))",
            PENDING = CallbackState::Pending.as_str()
        )
    });
    conn.prepare_cached(&ENQUEUE)
        .map_err(db)?
        .execute(params![
            callback.order_id,
            callback.payment_uid,
            callback.notify_url,
            callback.host,
            callback.signature_key,
            callback.payload.to_json(),
            callback.manual,
            callback.at
        ])
        .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

/// Claims due callbacks (see `CallbackOutbox::claim_callbacks`): the hosts with pending heads
/// are found by skipping through `callbacks_claimable` (one probe per host), and each host
/// gives at most its room, the earliest due first.
pub(crate) fn claim(
    conn: &Connection,
    now: Timestamp,
    lease_ms: i64,
    room: &ClaimRoom,
) -> Result<Vec<Callback>> {
    let mut next_host = conn.prepare_cached(&NEXT_HOST).map_err(db)?;
    let mut first_host = conn.prepare_cached(&FIRST_HOST).map_err(db)?;
    let mut due = conn.prepare_cached(&DUE_OF_HOST).map_err(db)?;
    let mut picked: Vec<(Timestamp, i64)> = Vec::new();
    let mut host: Option<String> = first_host
        .query_row([], |r| r.get(0))
        .optional()
        .map_err(db)?;
    while let Some(h) = host {
        let take = room.of(&h);
        if take > 0 {
            let mut rows = due.query(params![h, now, take]).map_err(db)?;
            while let Some(r) = rows.next().map_err(db)? {
                picked.push((r.get(1).map_err(db)?, r.get(0).map_err(db)?));
            }
        }
        host = next_host
            .query_row([&h], |r| r.get(0))
            .optional()
            .map_err(db)?;
    }
    picked.sort_unstable();
    picked.truncate(room.total as usize);
    let mut lease = conn.prepare_cached(LEASE.sql()).map_err(db)?;
    let mut out = Vec::with_capacity(picked.len());
    for (_, id) in picked {
        let claimed = lease
            .query_row(params![now + lease_ms, id], |r| {
                Ok(rows::callback(&LEASE.row(r)))
            })
            .map_err(db)?;
        out.extend(rows::claimed("callbacks", claimed));
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// Due callbacks per host, through `callbacks_claimable` (read only when a host's claims keep
/// filling its room, to warn the operator).
pub(crate) fn backlog(
    conn: &Connection,
    now: Timestamp,
    hosts: &[String],
) -> Result<Vec<HostBacklog>> {
    let mut stmt = conn.prepare_cached(&BACKLOG).map_err(db)?;
    let mut out = Vec::new();
    for host in hosts {
        let (due, oldest): (i64, Option<Timestamp>) = stmt
            .query_row(params![host, now], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        if let Some(oldest_due_at) = oldest {
            out.push(HostBacklog {
                host: host.clone(),
                due: due as u64,
                oldest_due_at,
            });
        }
    }
    Ok(out)
}

/// Hands claimed callbacks back (see `CallbackOutbox::release_callbacks`).
pub(crate) fn release(conn: &Connection, claims: &[(i64, Timestamp)]) -> Result<()> {
    let mut release = conn
        .prepare_cached(
            "UPDATE callbacks SET claimed_until = 0 WHERE id = ?1 AND claimed_until = ?2",
        )
        .map_err(db)?;
    for (id, claim) in claims {
        release.execute(params![id, claim]).map_err(db)?;
    }
    Ok(())
}

/// Records attempts: the attempt log, the callback's state, and the order's notify status
/// (three statements each). An attempt whose claim is no longer the callback's (its lease ran
/// out and it was claimed again) is logged and changes nothing else.
pub(crate) fn record(conn: &Connection, records: &[AttemptRecord], at: Timestamp) -> Result<()> {
    for r in records {
        let a = &r.attempt;
        conn.prepare_cached(
            "INSERT INTO callback_attempts (callback_id, attempt, manual, started_at, http_status,
                latency_ms, error, response_head)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(db)?
        .execute(params![
            a.callback_id,
            a.attempt,
            a.manual,
            a.started_at,
            a.http_status,
            a.latency_ms,
            a.error,
            a.response_head
        ])
        .map_err(db)?;
        let (state, next) = match r.outcome {
            CallbackOutcome::Acknowledged => (CallbackState::Completed, None),
            CallbackOutcome::RetryAt(t) => (CallbackState::Pending, Some(t)),
            CallbackOutcome::GaveUp => (CallbackState::Failed, None),
        };
        let held = conn
            .prepare_cached(
                "UPDATE callbacks SET state = ?1, attempts = ?2, next_attempt_at = COALESCE(?3, next_attempt_at),
                    claimed_until = 0, last_error = ?4, updated_at = ?5
                 WHERE id = ?6 AND claimed_until = ?7",
            )
            .map_err(db)?
            .execute(params![state.as_str(), a.attempt, next, a.error, at, a.callback_id, r.claim])
            .map_err(db)?;
        if held == 0 {
            continue;
        }
        // A settled head passes its place to the next pending callback of its order.
        if state != CallbackState::Pending {
            conn.prepare_cached(&NEXT_HEAD)
                .map_err(db)?
                .execute([r.order_id])
                .map_err(db)?;
        }
        // The order's notify status: an acknowledged callback completes it unless another of
        // the order's callbacks is still pending (see AttemptRecord::notify_after).
        let (if_none_pending, reason) = r.notify_after(false);
        let (if_pending, _) = r.notify_after(true);
        conn.prepare_cached(&ORDER_NOTIFY)
            .map_err(db)?
            .execute(params![
                r.order_id,
                if_pending.as_str(),
                if_none_pending.as_str(),
                reason
            ])
            .map_err(db)?;
    }
    Ok(())
}

pub(crate) fn of_order(
    conn: &Connection,
    payment_uid: &str,
) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>> {
    let mut stmt = conn.prepare_cached(OF_ORDER.sql()).map_err(db)?;
    let mut rows = stmt.query([payment_uid]).map_err(db)?;
    let mut callbacks = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        callbacks.push(rows::callback(&OF_ORDER.row(r))?);
    }
    let mut attempts = conn
        .prepare_cached(
            "SELECT callback_id, attempt, manual, started_at, http_status, latency_ms, error, response_head
             FROM callback_attempts WHERE callback_id = ?1 ORDER BY id",
        )
        .map_err(db)?;
    let mut out = Vec::with_capacity(callbacks.len());
    for c in callbacks {
        let mut rows = attempts.query([c.id]).map_err(db)?;
        let mut list = Vec::new();
        while let Some(r) = rows.next().map_err(db)? {
            list.push(rows::callback_attempt(&SqliteRow::new(r))?);
        }
        out.push((c, list));
    }
    Ok(out)
}

pub(crate) fn resend(conn: &Connection, payment_uid: &str, at: Timestamp) -> Result<Callback> {
    let order = crate::orders::by_payment_uid(conn, payment_uid)?.ok_or(StorageError::NotFound)?;
    let (order, callback) = decision::resend(&order, at)?;
    let id = enqueue(conn, &callback)?;
    // The order has a callback on its way from now on.
    conn.prepare_cached("UPDATE orders SET notify_status = ?2 WHERE id = ?1")
        .map_err(db)?
        .execute(params![order.id, order.notify_status.as_str()])
        .map_err(db)?;
    conn.prepare_cached(BY_ID.sql())
        .map_err(db)?
        .query_row([id], |r| Ok(rows::callback(&BY_ID.row(r))))
        .map_err(db)?
}
