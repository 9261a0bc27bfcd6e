//! Orders and their history in SQLite: row mapping and the statements behind the storage
//! methods. Write functions run inside the writer's transaction (see `writer`).

use std::sync::LazyLock;

use octopus_domain::decision::{self, Book, Created, Needs};
use octopus_domain::money::format_amount;
use octopus_domain::risk::{self, VelocityRule};
use octopus_domain::{AccountingStatus, Order, OrderEvent, PaymentStatus, StatusChange, Timestamp};
use octopus_storage::rows::{self, ORDER_COLUMNS};
use octopus_storage::{CreateOutcome, Result, StorageError};
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;

use crate::columns::{Query, SqliteRow};
use crate::db;

/// The statements reading orders, built once from the shared column list.
static BY_MERCHANT_ORDER_ID: Query = Query::new(|| {
    format!("SELECT {ORDER_COLUMNS} FROM orders WHERE merchant_id = ?1 AND merchant_order_id = ?2")
});
static BY_PAYMENT_UID: Query =
    Query::new(|| format!("SELECT {ORDER_COLUMNS} FROM orders WHERE payment_uid = ?1"));
static CLAIM_DUE_CHECKS: Query = Query::new(|| {
    format!(
        "UPDATE orders SET next_check_at = ?1
         WHERE id IN (SELECT id FROM orders WHERE next_check_at <= ?2
                      ORDER BY next_check_at LIMIT ?3)
         RETURNING {ORDER_COLUMNS}"
    )
});
/// The status is a literal (from the enum), as the partial index `orders_accounting_failed`
/// names it: SQLite uses a partial index only for a query whose WHERE clause implies the
/// index's, which a bound parameter does not.
static ACCOUNTING_FAILURES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT payment_uid FROM orders WHERE accounting_status = '{}' ORDER BY id LIMIT ?1",
        AccountingStatus::Failed.as_str()
    )
});

/// Moves a pending order to another channel (the status a literal from the enum, like every
/// status in this backend's SQL).
pub(crate) static REROUTE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders SET channel = ?1, distribute_rules = ?2, updated_at = ?3
         WHERE payment_uid = ?4 AND payment_status = '{}'",
        PaymentStatus::Pending.as_str()
    )
});
/// The amounts of a channel's orders since a time that did not fail or get rejected.
pub(crate) static CHANNEL_VOLUME: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT amount FROM orders WHERE channel = ?1 AND created_at >= ?2
           AND payment_status NOT IN ('{}', '{}')",
        PaymentStatus::Failed.as_str(),
        PaymentStatus::Reject.as_str()
    )
});

fn query_one(
    conn: &Connection,
    query: &Query,
    params: impl rusqlite::Params,
) -> Result<Option<Order>> {
    let mut stmt = conn.prepare_cached(query.sql()).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => rows::order(&query.row(row)).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn by_merchant_order_id(
    conn: &Connection,
    merchant_id: i64,
    merchant_order_id: &str,
) -> Result<Option<Order>> {
    query_one(
        conn,
        &BY_MERCHANT_ORDER_ID,
        params![merchant_id, merchant_order_id],
    )
}

pub(crate) fn by_payment_uid(conn: &Connection, payment_uid: &str) -> Result<Option<Order>> {
    query_one(conn, &BY_PAYMENT_UID, [payment_uid])
}

/// Inserts the order, as `decision::create` decides. For a deposit the insert itself is the
/// idempotency check: a unique violation means the merchant's `merchant_order_id` exists (the
/// stored order is the answer) or, for a floating amount, that another open order holds that
/// final amount (the next candidate is tried). A payout is decided against the stored order
/// and the balance first, and only then written with its hold.
pub(crate) fn create(
    conn: &Connection,
    mut order: Order,
    final_amounts: &[Decimal],
    rules: &[VelocityRule],
) -> Result<CreateOutcome> {
    // The merchant's velocity rules, counted here in the writer's transaction (exact: see
    // `crate::risk`). A breach stores the order refused, holding nothing.
    let mut final_amounts = final_amounts;
    if let Some(refusal) = risk::velocity_refusal(rules, &order, |q| crate::risk::tally(conn, q))? {
        order.refuse(refusal);
        final_amounts = &[];
    }
    let needs = decision::needs_to_create(&order);
    if !needs.is_empty() {
        return create_holding(conn, order, &needs);
    }
    let candidates: Vec<Option<Decimal>> = if final_amounts.is_empty() {
        vec![None]
    } else {
        final_amounts.iter().copied().map(Some).collect()
    };
    for candidate in candidates {
        if let Some(final_amount) = candidate {
            order.hold_final_amount(final_amount);
        }
        match insert(conn, &order) {
            Ok(id) => {
                order.id = id;
                return Ok(CreateOutcome::Created(order));
            }
            Err(e) if crate::is_unique_violation(&e) => {
                if let Some(existing) =
                    by_merchant_order_id(conn, order.merchant_id, &order.merchant_order_id)?
                {
                    return Ok(decision::create(order, Some(existing), &mut Book::new())?.into());
                }
                if candidate.is_none() {
                    return Err(StorageError::Database(format!(
                        "order insert conflicted unexpectedly: {e}"
                    )));
                }
            }
            Err(e) => return Err(db(e)),
        }
    }
    Err(StorageError::NoFreeAmount)
}

/// An order that posts when created (a payout's hold): decided against the merchant's stored
/// order and balance, every check before any write.
fn create_holding(conn: &Connection, order: Order, needs: &Needs) -> Result<CreateOutcome> {
    let existing = by_merchant_order_id(conn, order.merchant_id, &order.merchant_order_id)?;
    let (mut book, mut ids) = crate::ledger::load(conn, needs)?;
    let (mut order, hold) = match decision::create(order, existing, &mut book)? {
        Created::New { order, hold } => (order, hold),
        existing @ Created::Existing(_) => return Ok(existing.into()),
    };
    order.id = match insert(conn, &order) {
        Ok(id) => id,
        Err(e) => {
            return Err(StorageError::Database(format!(
                "order insert failed after its checks: {e}"
            )))
        }
    };
    if let Some(mut hold) = hold {
        hold.entry.order_id = order.id;
        crate::ledger::write(conn, &hold, &mut ids)?;
    }
    Ok(CreateOutcome::Created(order))
}

fn insert(conn: &Connection, order: &Order) -> rusqlite::Result<i64> {
    let c = order.currency;
    conn.prepare_cached(
        "INSERT INTO orders (payment_uid, merchant_id, merchant_uid, merchant_name, signature_key,
            merchant_order_id, transaction_type, accounting_type, amount, floating_amount,
            final_amount, currency, country, country_code, payment, channel, from_account,
            from_name, from_bank_name, to_account, to_name, to_bank_name, member_id, redirect_url,
            notify_url, response_type, ip, user_agent, ttl, float_precision, additional, extra,
            distribute_rules, payment_status, payment_fail_reason, notify_status,
            notify_fail_reason, accounting_status, accounting_fail_reason, fingerprint,
            amount_locked, created_at, updated_at, expires_at, next_check_at, fee, fee_rule,
            account_id, bank_reference, test, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34,
            ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43, ?44, ?45, ?46, ?47, ?48, ?49, ?50, ?51)",
    )?
    .execute(params![
        order.payment_uid,
        order.merchant_id,
        order.merchant_uid,
        order.merchant_name,
        order.signature_key,
        order.merchant_order_id,
        order.transaction_type.as_str(),
        order.accounting_type.as_str(),
        format_amount(order.amount, c),
        format_amount(order.floating_amount, c),
        format_amount(order.final_amount, c),
        c.code(),
        order.country,
        order.country_code,
        order.payment,
        order.channel,
        order.from,
        order.from_name,
        order.from_bank_name,
        order.to,
        order.to_name,
        order.to_bank_name,
        order.member_id,
        order.redirect_url,
        order.notify_url,
        order.response_type,
        order.ip,
        order.user_agent,
        order.ttl,
        order.float_precision,
        order.additional,
        order.extra,
        order.distribute_rules,
        order.payment_status.as_str(),
        order.payment_fail_reason,
        order.notify_status.as_str(),
        order.notify_fail_reason,
        order.accounting_status.as_str(),
        order.accounting_fail_reason,
        order.fingerprint,
        order.amount_locked.then_some(1i64),
        order.created_at,
        order.updated_at,
        order.expires_at,
        order.next_check_at,
        crate::ledger::ledger_text(order.fee),
        order.fee_rule.encode(),
        order.account,
        order.reference,
        order.test,
        order.request_id,
    ])?;
    Ok(conn.last_insert_rowid())
}

fn insert_event(conn: &Connection, order_id: i64, e: &OrderEvent) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO order_events (order_id, from_status, to_status, reason, created_at, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .map_err(db)?
    .execute(params![
        order_id,
        e.from_status.as_str(),
        e.to_status.as_str(),
        e.reason,
        e.created_at,
        e.request_id
    ])
    .map_err(db)?;
    Ok(())
}

/// Applies a status change as `decision::change` decides it: the order, its event, its entry
/// and its callback. Every refusal happens in the decision, before any write.
pub(crate) fn change_status(
    conn: &Connection,
    payment_uid: &str,
    change: &StatusChange,
) -> Result<Order> {
    let order = by_payment_uid(conn, payment_uid)?.ok_or(StorageError::NotFound)?;
    let (mut book, mut ids) =
        crate::ledger::load(conn, &decision::needs_to_change(&order, change))?;
    let decided = decision::change(&order, change, &mut book)?;
    update_after_change(conn, &decided.order)?;
    insert_event(conn, decided.order.id, &decided.event)?;
    if let Some(entry) = &decided.entry {
        crate::ledger::write(conn, entry, &mut ids)?;
    }
    // The callback reporting the change goes out with it (outbox).
    if let Some(callback) = &decided.callback {
        crate::callbacks::enqueue(conn, callback)?;
    }
    Ok(decided.order)
}

fn update_after_change(conn: &Connection, order: &Order) -> Result<()> {
    conn.prepare_cached(
        "UPDATE orders SET payment_status = ?1, payment_fail_reason = ?2, final_amount = ?3,
            amount_locked = ?4, expires_at = ?5, next_check_at = ?6, updated_at = ?7, fee = ?8,
            accounting_status = ?9, accounting_fail_reason = ?10, notify_status = ?12,
            bank_reference = ?13
         WHERE id = ?11",
    )
    .map_err(db)?
    .execute(params![
        order.payment_status.as_str(),
        order.payment_fail_reason,
        format_amount(order.final_amount, order.currency),
        order.amount_locked.then_some(1i64),
        order.expires_at,
        order.next_check_at,
        order.updated_at,
        crate::ledger::ledger_text(order.fee),
        order.accounting_status.as_str(),
        order.accounting_fail_reason,
        order.id,
        order.notify_status.as_str(),
        order.reference
    ])
    .map_err(db)?;
    Ok(())
}

/// Posts what a failed accounting left out and records the outcome, as
/// `decision::retry_accounting` decides.
pub(crate) fn retry_accounting(
    conn: &Connection,
    payment_uid: &str,
    at: Timestamp,
) -> Result<Order> {
    let order = by_payment_uid(conn, payment_uid)?.ok_or(StorageError::NotFound)?;
    let history = events(conn, payment_uid)?;
    let (mut book, mut ids) =
        crate::ledger::load(conn, &decision::needs_to_retry(&order, &history))?;
    let retried = decision::retry_accounting(&order, &history, &mut book, at)?;
    for entry in &retried.entries {
        crate::ledger::write(conn, entry, &mut ids)?;
    }
    update_after_change(conn, &retried.order)?;
    Ok(retried.order)
}

pub(crate) fn accounting_failures(conn: &Connection, limit: u32) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&ACCOUNTING_FAILURES).map_err(db)?;
    let rows = stmt.query_map([limit], |r| r.get(0)).map_err(db)?;
    rows.collect::<rusqlite::Result<Vec<String>>>().map_err(db)
}

pub(crate) fn events(conn: &Connection, payment_uid: &str) -> Result<Vec<OrderEvent>> {
    let created: Option<(i64, String)> = conn
        .prepare_cached("SELECT created_at, request_id FROM orders WHERE payment_uid = ?1")
        .map_err(db)?
        .query_row([payment_uid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)?;
    let Some((created_at, request_id)) = created else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT e.from_status, e.to_status, e.reason, e.created_at, e.request_id
             FROM order_events e JOIN orders o ON o.id = e.order_id
             WHERE o.payment_uid = ?1 ORDER BY e.id",
        )
        .map_err(db)?;
    let mut rows = stmt.query([payment_uid]).map_err(db)?;
    let mut out = vec![OrderEvent::creation(created_at, request_id)];
    while let Some(r) = rows.next().map_err(db)? {
        out.push(rows::order_event(&SqliteRow::new(r))?);
    }
    Ok(out)
}

pub(crate) fn claim_due_checks(
    conn: &Connection,
    now: Timestamp,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Order>> {
    let mut stmt = conn.prepare_cached(CLAIM_DUE_CHECKS.sql()).map_err(db)?;
    let mut rows = stmt
        .query(params![now + lease_ms, now, limit])
        .map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        out.extend(rows::claimed(
            "orders",
            rows::order(&CLAIM_DUE_CHECKS.row(r)),
        ));
    }
    Ok(out)
}
