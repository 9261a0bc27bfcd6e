//! The ledger in PostgreSQL, read side: merchant balances and entries, fee schedules, and the
//! verification. Entries are posted by the group writer (`group_write`), which locks the
//! merchant accounts `FOR UPDATE` in key order so concurrent postings neither deadlock nor
//! overdraw.

use deadpool_postgres::GenericClient;
use futures::StreamExt;
use octopus_domain::ledger::{FeeRule, LedgerReport, Verification};
use octopus_domain::{Currency, Timestamp};
use octopus_storage::rows::{self, Columns};
use octopus_storage::{Balance, FeeSchedule, MerchantEntry, Result};

use crate::columns::PgRow;
use crate::db;

pub(crate) async fn balances<C: GenericClient>(
    client: &C,
    merchant_id: i64,
) -> Result<Vec<Balance>> {
    let rows = client
        .query(
            "SELECT kind, currency, balance FROM ledger_accounts WHERE merchant_id = $1 ORDER BY currency",
            &[&merchant_id],
        )
        .await
        .map_err(db)?;
    let mut out: Vec<Balance> = Vec::new();
    for r in &rows {
        rows::add_balance(&mut out, &PgRow::new(r))?;
    }
    Ok(out)
}

pub(crate) async fn merchant_entries<C: GenericClient>(
    client: &C,
    merchant_id: i64,
    currency: Option<Currency>,
    before: Option<i64>,
    limit: u32,
    order_id: Option<i64>,
) -> Result<Vec<MerchantEntry>> {
    let rows = client
        .query(
            "SELECT e.id, e.kind, e.accounting_type, e.currency, e.amount, e.fee, e.created_at,
                    o.payment_uid, o.merchant_order_id
             FROM journal_entries e JOIN orders o ON o.id = e.order_id
             WHERE e.merchant_id = $1 AND ($2::text IS NULL OR e.currency = $2)
               AND ($3::bigint IS NULL OR e.id < $3)
               AND ($5::bigint IS NULL OR e.order_id = $5)
             ORDER BY e.id DESC
             LIMIT $4",
            &[
                &merchant_id,
                &currency.map(|c| c.code()),
                &before,
                &(limit as i64),
                &order_id,
            ],
        )
        .await
        .map_err(db)?;
    let mut out = rows
        .iter()
        .map(|r| rows::merchant_entry(&PgRow::new(r)))
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = out.iter().map(|e| e.id).collect();
    let postings = client
        .query(
            "SELECT p.entry_id, a.kind, p.amount, p.balance_after FROM postings p
             JOIN ledger_accounts a ON a.id = p.account_id
             WHERE p.entry_id = ANY($1) AND a.merchant_id IS NOT NULL",
            &[&ids],
        )
        .await
        .map_err(db)?;
    for p in &postings {
        let p = PgRow::new(p);
        let entry_id = p.int("postings.entry_id")?;
        let Some(entry) = out.iter_mut().find(|e| e.id == entry_id) else {
            continue;
        };
        rows::add_merchant_posting(entry, &p)?;
    }
    Ok(out)
}

pub(crate) async fn set_fee_rule<C: GenericClient>(
    client: &C,
    merchant_id: i64,
    payment: &str,
    accounting_type: &str,
    rule: &FeeRule,
    at: Timestamp,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO fee_rules (merchant_id, payment, accounting_type, percent, fixed, minimum, maximum, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (merchant_id, payment, accounting_type) DO UPDATE SET
                percent = excluded.percent, fixed = excluded.fixed, minimum = excluded.minimum,
                maximum = excluded.maximum, updated_at = excluded.updated_at",
            &[&merchant_id, &payment, &accounting_type, &rule.percent, &rule.fixed, &rule.minimum, &rule.maximum, &at],
        )
        .await
        .map_err(db)?;
    Ok(())
}

pub(crate) async fn fee_rules<C: GenericClient>(
    client: &C,
    merchant_id: i64,
) -> Result<Vec<FeeSchedule>> {
    let rows = client
        .query(
            "SELECT payment, accounting_type, percent, fixed, minimum, maximum FROM fee_rules
             WHERE merchant_id = $1 ORDER BY payment, accounting_type",
            &[&merchant_id],
        )
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| rows::fee_schedule(&PgRow::new(r)))
        .collect()
}

/// Streams the whole journal through the domain's verification (in one repeatable-read
/// transaction, so the snapshot is consistent).
pub(crate) async fn verify(client: &mut deadpool_postgres::Object) -> Result<LedgerReport> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    tx.batch_execute("SET LOCAL enable_seqscan = on")
        .await
        .map_err(db)?;
    let mut v = Verification::new();
    // Streamed: the journal and the orders may be far larger than memory should hold at once.
    let entries = tx
        .query_raw(
            "SELECT id, entry_key, currency, merchant_id, kind, amount, fee FROM journal_entries",
            std::iter::empty::<i64>(),
        )
        .await
        .map_err(db)?;
    futures::pin_mut!(entries);
    while let Some(r) = entries.next().await {
        rows::verify_entry(&mut v, &PgRow::new(&r.map_err(db)?))?;
    }
    let postings = tx
        .query_raw(
            "SELECT p.entry_id, p.account_id, a.currency, p.amount FROM postings p
             JOIN ledger_accounts a ON a.id = p.account_id",
            std::iter::empty::<i64>(),
        )
        .await
        .map_err(db)?;
    futures::pin_mut!(postings);
    while let Some(r) = postings.next().await {
        rows::verify_posting(&mut v, &PgRow::new(&r.map_err(db)?))?;
    }
    let orders = tx
        .query_raw(
            "SELECT payment_uid, transaction_type, payment_status, accounting_status, accounting_fail_reason,
                    currency, amount, final_amount, fee, channel FROM orders",
            std::iter::empty::<i64>(),
        )
        .await
        .map_err(db)?;
    futures::pin_mut!(orders);
    let mut order_count = 0u64;
    while let Some(r) = orders.next().await {
        order_count += 1;
        rows::verify_order(&mut v, &PgRow::new(&r.map_err(db)?))?;
    }
    // A transfer's status names the suspense entries it must have.
    let transfers = tx
        .query_raw(
            "SELECT uid, status FROM transfers",
            std::iter::empty::<i64>(),
        )
        .await
        .map_err(db)?;
    futures::pin_mut!(transfers);
    while let Some(r) = transfers.next().await {
        rows::verify_transfer(&mut v, &PgRow::new(&r.map_err(db)?))?;
    }
    let accounts = tx
        .query("SELECT id, kind, merchant_id, channel, currency, balance FROM ledger_accounts ORDER BY id", &[])
        .await
        .map_err(db)?
        .iter()
        .map(|r| rows::account(&PgRow::new(r)))
        .collect::<Result<Vec<_>>>()?;
    tx.commit().await.map_err(db)?;
    let mut report = v.finish(accounts);
    report.orders = order_count;
    Ok(report)
}
