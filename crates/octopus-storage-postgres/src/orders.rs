//! Orders and their history in PostgreSQL: row mapping and the statements behind the storage
//! methods.

use std::sync::LazyLock;

use deadpool_postgres::GenericClient;
use octopus_domain::decision::{self, Book};
use octopus_domain::risk::VelocityRule;
use octopus_domain::{AccountingStatus, Order, OrderEvent, PaymentStatus, Timestamp};
use octopus_storage::rows::{self, ORDER_COLUMNS};
use octopus_storage::{CreateOutcome, Result, StorageError};
use rust_decimal::Decimal;
use tokio_postgres::Row;

use crate::columns::PgRow;
use crate::db;
use crate::group_write;

/// The columns every order read selects (the group writer's too).
pub(crate) const COLUMNS: &str = ORDER_COLUMNS;

/// The statements reading orders, built once from the shared column list.
static BY_MERCHANT_ORDER_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM orders WHERE merchant_id = $1 AND merchant_order_id = $2")
});
static BY_PAYMENT_UID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM orders WHERE payment_uid = $1"));
static BY_PAYMENT_UID_FOR_UPDATE: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM orders WHERE payment_uid = $1 FOR UPDATE"));
static CLAIM_DUE_CHECKS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders SET next_check_at = $1
         WHERE id IN (SELECT id FROM orders WHERE next_check_at <= $2
                      ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    )
});

/// The other statements on orders, their statuses literals from the enums. The literal
/// `'failed'` is what the partial index `orders_accounting_failed` names.
pub(crate) static REROUTE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders SET channel = $1, distribute_rules = $2, updated_at = $3
         WHERE payment_uid = $4 AND payment_status = '{}'",
        PaymentStatus::Pending.as_str()
    )
});
pub(crate) static ACCOUNTING_FAILURES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT payment_uid FROM orders WHERE accounting_status = '{}' ORDER BY id LIMIT $1",
        AccountingStatus::Failed.as_str()
    )
});
pub(crate) static EXPIRED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT payment_uid FROM orders WHERE expires_at <= $1 AND payment_status <> '{}'
         ORDER BY expires_at LIMIT $2",
        PaymentStatus::Overdue.as_str()
    )
});
pub(crate) static CHANNEL_VOLUME: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT COALESCE(SUM(amount), 0) FROM orders WHERE channel = $1 AND created_at >= $2
           AND payment_status NOT IN ('{}', '{}')",
        PaymentStatus::Failed.as_str(),
        PaymentStatus::Reject.as_str()
    )
});

pub(crate) fn order_from_row(r: &Row) -> Result<Order> {
    rows::order(&PgRow::new(r))
}

pub(crate) async fn by_merchant_order_id<C: GenericClient>(
    client: &C,
    merchant_id: i64,
    merchant_order_id: &str,
) -> Result<Option<Order>> {
    let stmt = client
        .prepare_cached(&BY_MERCHANT_ORDER_ID)
        .await
        .map_err(db)?;
    let row = client
        .query_opt(&stmt, &[&merchant_id, &merchant_order_id])
        .await
        .map_err(db)?;
    row.as_ref().map(order_from_row).transpose()
}

pub(crate) async fn by_payment_uid<C: GenericClient>(
    client: &C,
    payment_uid: &str,
    for_update: bool,
) -> Result<Option<Order>> {
    let sql = if for_update {
        &BY_PAYMENT_UID_FOR_UPDATE
    } else {
        &BY_PAYMENT_UID
    };
    let stmt = client.prepare_cached(sql).await.map_err(db)?;
    let row = client.query_opt(&stmt, &[&payment_uid]).await.map_err(db)?;
    row.as_ref().map(order_from_row).transpose()
}

/// Inserts one order (the path of floating amounts, and of orders a group insert skipped).
/// `ON CONFLICT DO NOTHING` covers both the merchant's `merchant_order_id` and a floating
/// amount held by another open order; which one it was is looked up afterwards.
pub(crate) async fn create<C: GenericClient>(
    client: &C,
    mut order: Order,
    final_amounts: &[Decimal],
) -> Result<CreateOutcome> {
    let candidates: Vec<Option<Decimal>> = if final_amounts.is_empty() {
        vec![None]
    } else {
        final_amounts.iter().copied().map(Some).collect()
    };
    for candidate in candidates {
        if let Some(final_amount) = candidate {
            order.hold_final_amount(final_amount);
        }
        if let Some((_, id)) = insert_many(client, &[&order]).await?.pop() {
            order.id = id;
            return Ok(CreateOutcome::Created(order));
        }
        if let Some(existing) =
            by_merchant_order_id(client, order.merchant_id, &order.merchant_order_id).await?
        {
            return Ok(decision::create(order, Some(existing), &mut Book::new())?.into());
        }
        if candidate.is_none() {
            // Neither the merchant's id nor a floating amount: a payment_uid collision, which
            // 74 random bits make practically impossible. Refuse rather than guess.
            return Err(StorageError::Database(
                "order insert conflicted unexpectedly".into(),
            ));
        }
    }
    Err(StorageError::NoFreeAmount)
}

/// [`create`] with the merchant's velocity rules counted first, in one transaction
/// (`crate::velocity`): an order that breaches one is stored refused, holding no amount.
pub(crate) async fn create_counted(
    client: &mut deadpool_postgres::Client,
    mut order: Order,
    final_amounts: &[Decimal],
    rules: &[VelocityRule],
) -> Result<CreateOutcome> {
    if rules.is_empty() {
        return create(&*client, order, final_amounts).await;
    }
    // READ COMMITTED named, not assumed: the count must see what committed while the lock was
    // awaited.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(db)?;
    let counted = crate::velocity::load(&tx, &[(&order, rules)], true)
        .await
        .map_err(db)?;
    let final_amounts = match counted.refusal(0, &order, rules) {
        Some(refusal) => {
            order.refuse(refusal);
            &[]
        }
        None => final_amounts,
    };
    let outcome = create(&tx, order, final_amounts).await?;
    tx.commit().await.map_err(db)?;
    Ok(outcome)
}

/// Which of these `(merchant_id, merchant_order_id)` are taken by stored orders.
pub(crate) async fn taken_merchant_order_ids<C: GenericClient>(
    client: &C,
    ids: &[(i64, &str)],
) -> Result<std::collections::HashSet<(i64, String)>> {
    let stmt = client
        .prepare_cached(
            "SELECT merchant_id, merchant_order_id FROM orders
             WHERE (merchant_id, merchant_order_id) IN
                   (SELECT * FROM UNNEST($1::bigint[], $2::text[]))",
        )
        .await
        .map_err(db)?;
    let (merchants, merchant_order_ids): (Vec<i64>, Vec<&str>) = ids.iter().copied().unzip();
    let rows = client
        .query(&stmt, &[&merchants, &merchant_order_ids])
        .await
        .map_err(db)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Prepares (once per connection) the statement `insert_many` runs: a caller that pipelines
/// the insert with what follows it (a COMMIT) prepares first, so the insert goes out first.
pub(crate) async fn prepare_insert<C: GenericClient>(client: &C) -> Result<()> {
    client.prepare_cached(INSERT_SQL).await.map_err(db)?;
    Ok(())
}

/// Prepares (once per connection) the statements of a group writer's orders (`insert_many`,
/// `update_many`, `insert_events`), so that pipelined, they go out in the order called.
pub(crate) async fn prepare_group_writes<C: GenericClient>(client: &C) -> Result<()> {
    for sql in [INSERT_SQL, UPDATE_MANY_SQL, INSERT_EVENTS_SQL] {
        client.prepare_cached(sql).await.map_err(db)?;
    }
    Ok(())
}

const UPDATE_MANY_SQL: &str =
    "UPDATE orders o SET payment_status = v.ps, payment_fail_reason = v.pfr,
        final_amount = v.fa, amount_locked = v.al, expires_at = v.ea, next_check_at = v.nc,
        updated_at = v.ua, fee = v.fee, accounting_status = v.acs,
        accounting_fail_reason = v.afr, notify_status = v.ns, bank_reference = v.br
     FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::numeric[], $5::boolean[],
        $6::bigint[], $7::bigint[], $8::bigint[], $9::numeric[], $10::text[], $11::text[],
        $12::text[], $13::text[])
        AS v(id, ps, pfr, fa, al, ea, nc, ua, fee, acs, afr, ns, br)
     WHERE o.id = v.id";

const INSERT_EVENTS_SQL: &str =
    "INSERT INTO order_events (order_id, from_status, to_status, reason, created_at, request_id)
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],
         $6::text[])";

const INSERT_SQL: &str =
    "INSERT INTO orders (payment_uid, merchant_id, merchant_uid, merchant_name,
        signature_key, merchant_order_id, transaction_type, accounting_type, amount,
        floating_amount, final_amount, currency, country, country_code, payment,
        channel, from_account, from_name, from_bank_name, to_account, to_name,
        to_bank_name, member_id, redirect_url, notify_url, response_type, ip,
        user_agent, ttl, float_precision, additional, extra, distribute_rules,
        payment_status, payment_fail_reason, notify_status, notify_fail_reason,
        accounting_status, accounting_fail_reason, fingerprint, amount_locked,
        created_at, updated_at, expires_at, next_check_at, fee, fee_rule, account_id,
        bank_reference, test, request_id)
     SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
        $6::text[], $7::text[], $8::text[], $9::numeric[], $10::numeric[],
        $11::numeric[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
        $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
        $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[],
        $29::bigint[], $30::smallint[], $31::text[], $32::text[], $33::text[],
        $34::text[], $35::text[], $36::text[], $37::text[], $38::text[], $39::text[],
        $40::text[], $41::boolean[], $42::bigint[], $43::bigint[], $44::bigint[],
        $45::bigint[], $46::numeric[], $47::text[], $48::text[], $49::text[], $50::boolean[],
        $51::text[])
     ON CONFLICT DO NOTHING
     RETURNING payment_uid, id";

/// Inserts many orders in one statement; returns `(payment_uid, id)` of those inserted (the
/// others conflicted with an existing order or with each other).
pub(crate) async fn insert_many<C: GenericClient>(
    client: &C,
    orders: &[&Order],
) -> Result<Vec<(String, i64)>> {
    insert_many_as_is(client, orders).await.map_err(db)
}

/// [`insert_many`] with PostgreSQL's error as it is (a group writer retries a deadlock).
pub(crate) async fn insert_many_as_is<C: GenericClient>(
    client: &C,
    orders: &[&Order],
) -> std::result::Result<Vec<(String, i64)>, tokio_postgres::Error> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client.prepare_cached(INSERT_SQL).await?;
    fn col<'a, T>(orders: &[&'a Order], f: impl Fn(&'a Order) -> T) -> Vec<T> {
        orders.iter().map(|o| f(o)).collect()
    }
    let o = orders;
    let payment_uid = col(o, |o| o.payment_uid.as_str());
    let merchant_id = col(o, |o| o.merchant_id);
    let merchant_uid = col(o, |o| o.merchant_uid.as_str());
    let merchant_name = col(o, |o| o.merchant_name.as_str());
    let signature_key = col(o, |o| o.signature_key.as_str());
    let merchant_order_id = col(o, |o| o.merchant_order_id.as_str());
    let transaction_type = col(o, |o| o.transaction_type.as_str());
    let accounting_type = col(o, |o| o.accounting_type.as_str());
    let amount = col(o, |o| o.amount);
    let floating_amount = col(o, |o| o.floating_amount);
    let final_amount = col(o, |o| o.final_amount);
    let currency = col(o, |o| o.currency.code());
    let country = col(o, |o| o.country.as_str());
    let country_code = col(o, |o| o.country_code.as_str());
    let payment = col(o, |o| o.payment.as_str());
    let channel = col(o, |o| o.channel.as_str());
    let from = col(o, |o| o.from.as_str());
    let from_name = col(o, |o| o.from_name.as_str());
    let from_bank_name = col(o, |o| o.from_bank_name.as_str());
    let to = col(o, |o| o.to.as_str());
    let to_name = col(o, |o| o.to_name.as_str());
    let to_bank_name = col(o, |o| o.to_bank_name.as_str());
    let member_id = col(o, |o| o.member_id.as_str());
    let redirect_url = col(o, |o| o.redirect_url.as_str());
    let notify_url = col(o, |o| o.notify_url.as_str());
    let response_type = col(o, |o| o.response_type.as_str());
    let ip = col(o, |o| o.ip.as_str());
    let user_agent = col(o, |o| o.user_agent.as_str());
    let ttl = col(o, |o| o.ttl);
    let float_precision = col(o, |o| o.float_precision as i16);
    let additional = col(o, |o| o.additional.as_str());
    let extra = col(o, |o| o.extra.as_str());
    let distribute_rules = col(o, |o| o.distribute_rules.as_str());
    let payment_status = col(o, |o| o.payment_status.as_str());
    let payment_fail_reason = col(o, |o| o.payment_fail_reason.as_str());
    let notify_status = col(o, |o| o.notify_status.as_str());
    let notify_fail_reason = col(o, |o| o.notify_fail_reason.as_str());
    let accounting_status = col(o, |o| o.accounting_status.as_str());
    let accounting_fail_reason = col(o, |o| o.accounting_fail_reason.as_str());
    let fingerprint = col(o, |o| o.fingerprint.as_str());
    let amount_locked = col(o, |o| o.amount_locked);
    let created_at = col(o, |o| o.created_at);
    let updated_at = col(o, |o| o.updated_at);
    let expires_at = col(o, |o| o.expires_at);
    let next_check_at = col(o, |o| o.next_check_at);
    let fee = col(o, |o| o.fee);
    let fee_rule = col(o, |o| o.fee_rule.encode());
    let account = col(o, |o| o.account.as_str());
    let reference = col(o, |o| o.reference.as_str());
    let test = col(o, |o| o.test);
    let request_id = col(o, |o| o.request_id.as_str());
    let rows = client
        .query(
            &stmt,
            &[
                &payment_uid,
                &merchant_id,
                &merchant_uid,
                &merchant_name,
                &signature_key,
                &merchant_order_id,
                &transaction_type,
                &accounting_type,
                &amount,
                &floating_amount,
                &final_amount,
                &currency,
                &country,
                &country_code,
                &payment,
                &channel,
                &from,
                &from_name,
                &from_bank_name,
                &to,
                &to_name,
                &to_bank_name,
                &member_id,
                &redirect_url,
                &notify_url,
                &response_type,
                &ip,
                &user_agent,
                &ttl,
                &float_precision,
                &additional,
                &extra,
                &distribute_rules,
                &payment_status,
                &payment_fail_reason,
                &notify_status,
                &notify_fail_reason,
                &accounting_status,
                &accounting_fail_reason,
                &fingerprint,
                &amount_locked,
                &created_at,
                &updated_at,
                &expires_at,
                &next_check_at,
                &fee,
                &fee_rule,
                &account,
                &reference,
                &test,
                &request_id,
            ],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Writes the changed state of many orders in one statement.
pub(crate) async fn update_many<C: GenericClient>(client: &C, orders: &[&Order]) -> Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let stmt = client.prepare_cached(UPDATE_MANY_SQL).await.map_err(db)?;
    client
        .execute(
            &stmt,
            &[
                &orders.iter().map(|o| o.id).collect::<Vec<_>>(),
                &orders
                    .iter()
                    .map(|o| o.payment_status.as_str())
                    .collect::<Vec<_>>(),
                &orders
                    .iter()
                    .map(|o| o.payment_fail_reason.as_str())
                    .collect::<Vec<_>>(),
                &orders.iter().map(|o| o.final_amount).collect::<Vec<_>>(),
                &orders.iter().map(|o| o.amount_locked).collect::<Vec<_>>(),
                &orders.iter().map(|o| o.expires_at).collect::<Vec<_>>(),
                &orders.iter().map(|o| o.next_check_at).collect::<Vec<_>>(),
                &orders.iter().map(|o| o.updated_at).collect::<Vec<_>>(),
                &orders.iter().map(|o| o.fee).collect::<Vec<_>>(),
                &orders
                    .iter()
                    .map(|o| o.accounting_status.as_str())
                    .collect::<Vec<_>>(),
                &orders
                    .iter()
                    .map(|o| o.accounting_fail_reason.as_str())
                    .collect::<Vec<_>>(),
                &orders
                    .iter()
                    .map(|o| o.notify_status.as_str())
                    .collect::<Vec<_>>(),
                &orders
                    .iter()
                    .map(|o| o.reference.as_str())
                    .collect::<Vec<_>>(),
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

/// Records many status changes in one statement.
pub(crate) async fn insert_events<C: GenericClient>(
    client: &C,
    events: &[(i64, &OrderEvent)],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let stmt = client.prepare_cached(INSERT_EVENTS_SQL).await.map_err(db)?;
    client
        .execute(
            &stmt,
            &[
                &events.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                &events
                    .iter()
                    .map(|(_, e)| e.from_status.as_str())
                    .collect::<Vec<_>>(),
                &events
                    .iter()
                    .map(|(_, e)| e.to_status.as_str())
                    .collect::<Vec<_>>(),
                &events
                    .iter()
                    .map(|(_, e)| e.reason.as_str())
                    .collect::<Vec<_>>(),
                &events.iter().map(|(_, e)| e.created_at).collect::<Vec<_>>(),
                &events
                    .iter()
                    .map(|(_, e)| e.request_id.as_str())
                    .collect::<Vec<_>>(),
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

/// Posts what a failed accounting left out and records the outcome, as
/// `decision::retry_accounting` decides, in one transaction with the order and the merchant
/// accounts locked (in the group writer's lock order: order, then accounts by key).
pub(crate) async fn retry_accounting(
    client: &mut deadpool_postgres::Object,
    payment_uid: &str,
    at: Timestamp,
) -> Result<Order> {
    let tx = client.transaction().await.map_err(db)?;
    let order = by_payment_uid(&tx, payment_uid, true)
        .await?
        .ok_or(StorageError::NotFound)?;
    let history = events(&tx, payment_uid).await?;
    let mut loaded = group_write::load_book(&tx, &decision::needs_to_retry(&order, &history), at)
        .await
        .map_err(group_write::Failure::into_storage)?;
    let retried = decision::retry_accounting(&order, &history, &mut loaded.book, at)?;
    group_write::write_entries(&tx, &retried.entries, &loaded.ids, &loaded.book, at)
        .await
        .map_err(group_write::Failure::into_storage)?;
    group_write::discard_unused_accounts(&tx, &loaded, &retried.entries)
        .await
        .map_err(group_write::Failure::into_storage)?;
    update_many(&tx, &[&retried.order]).await?;
    tx.commit().await.map_err(db)?;
    Ok(retried.order)
}

pub(crate) async fn events<C: GenericClient>(
    client: &C,
    payment_uid: &str,
) -> Result<Vec<OrderEvent>> {
    let Some(created) = client
        .query_opt(
            "SELECT created_at, request_id FROM orders WHERE payment_uid = $1",
            &[&payment_uid],
        )
        .await
        .map_err(db)?
    else {
        return Ok(Vec::new());
    };
    let rows = client
        .query(
            "SELECT e.from_status, e.to_status, e.reason, e.created_at, e.request_id
             FROM order_events e JOIN orders o ON o.id = e.order_id
             WHERE o.payment_uid = $1 ORDER BY e.id",
            &[&payment_uid],
        )
        .await
        .map_err(db)?;
    let changes = rows.iter().map(|r| rows::order_event(&PgRow::new(r)));
    std::iter::once(Ok(OrderEvent::creation(created.get(0), created.get(1))))
        .chain(changes)
        .collect()
}

pub(crate) async fn claim_due_checks<C: GenericClient>(
    client: &C,
    now: Timestamp,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Order>> {
    let stmt = client.prepare_cached(&CLAIM_DUE_CHECKS).await.map_err(db)?;
    let rows = client
        .query(&stmt, &[&(now + lease_ms), &now, &(limit as i64)])
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .filter_map(|row| octopus_storage::rows::claimed("orders", order_from_row(row)))
        .collect())
}
