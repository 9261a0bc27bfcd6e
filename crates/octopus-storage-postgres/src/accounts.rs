//! The operator's own accounts in PostgreSQL: receiving accounts and their load, devices and
//! the nonces of their requests, and reported transfers (see `octopus_storage::accounts`).
//! Rows are read through the shared mappings of `octopus_storage::rows`, so both backends
//! answer alike; what a transfer's status change posts is decided by the domain
//! (`decision::settle_transfer`) and written by the group writer's own loader and writer
//! (`group_write::load_book`, `group_write::write_entries`), so a suspense entry is stored as
//! every other entry is.
//!
//! Several nodes share the database: whatever two of them may do at once is decided by one
//! conditional statement or unique key (a status change, a nonce, a bank reference), and a
//! transfer that settles an order is written in the order's transaction
//! (`settle_order_by_transfer`).

use std::sync::LazyLock;

use deadpool_postgres::GenericClient;
use octopus_domain::account::{Account, AccountLoad};
use octopus_domain::decision;
use octopus_domain::device::Device;
use octopus_domain::ledger::JournalEntry;
use octopus_domain::transfer::{Transfer, TransferStatus};
use octopus_domain::{Currency, Order, PaymentStatus, Timestamp, TransactionType};
use octopus_storage::rows::{
    self, DEVICE_COLUMNS, ORDER_COLUMNS, OWN_ACCOUNT_COLUMNS, TRANSFER_COLUMNS,
};
use octopus_storage::{Recorded, Result, StorageError};
use rust_decimal::Decimal;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::columns::PgRow;
use crate::db;
use crate::group_write::{self, Failure};

async fn collect<C: GenericClient, T>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    read: fn(&PgRow<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let stmt = client.prepare_cached(sql).await.map_err(db)?;
    let found = client.query(&stmt, params).await.map_err(db)?;
    found.iter().map(|r| read(&PgRow::new(r))).collect()
}

async fn first<C: GenericClient, T>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    read: fn(&PgRow<'_>) -> Result<T>,
) -> Result<Option<T>> {
    Ok(collect(client, sql, params, read).await?.into_iter().next())
}

fn account_row(r: &PgRow<'_>) -> Result<Account> {
    rows::own_account(r)
}

fn device_row(r: &PgRow<'_>) -> Result<Device> {
    rows::device(r)
}

fn transfer_row(r: &PgRow<'_>) -> Result<Transfer> {
    rows::transfer(r)
}

fn load_row(r: &PgRow<'_>) -> Result<AccountLoad> {
    rows::account_load(r)
}

fn order_row(r: &PgRow<'_>) -> Result<Order> {
    rows::order(r)
}

/// An insert's error as the storage interface names it: the row exists (`Conflict(what)`),
/// or what it names does not (`NotFound`: an account's channel, a device's account).
fn insert_error(what: String) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    move |e| match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StorageError::Conflict(what),
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => StorageError::NotFound,
        _ => db(e),
    }
}

/// An amount as SQLite keeps it: with at least its currency's places (`format_amount`), so
/// both backends give back the same decimal, scale included.
fn in_currency_places(value: Decimal, currency: Currency) -> Decimal {
    let mut v = value.normalize();
    if v.scale() < currency.precision() {
        v.rescale(currency.precision());
    }
    v
}

// ---- accounts ----

static INSERT_ACCOUNT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO own_accounts ({OWN_ACCOUNT_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         RETURNING {OWN_ACCOUNT_COLUMNS}"
    )
});

pub(crate) async fn add_account<C: GenericClient>(client: &C, a: &Account) -> Result<Account> {
    let stmt = client.prepare_cached(&INSERT_ACCOUNT).await.map_err(db)?;
    let row = client
        .query_one(
            &stmt,
            &[
                &a.id,
                &a.channel,
                &a.method.as_str(),
                &a.bank_code,
                &a.number,
                &a.holder,
                &a.currency.code(),
                &a.promptpay_id,
                &a.vpa,
                &a.wallet,
                // Normalized, as SQLite keeps it.
                &a.daily_limit.map(|l| l.normalize()),
                &a.max_open.map(i64::from),
                &a.enabled,
                &a.created_at,
                &a.updated_at,
            ],
        )
        .await
        .map_err(insert_error(format!("account {}", a.id)))?;
    let account = account_row(&PgRow::new(&row));
    account
}

static ACCOUNT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {OWN_ACCOUNT_COLUMNS} FROM own_accounts WHERE id = $1"));

pub(crate) async fn account<C: GenericClient>(client: &C, id: &str) -> Result<Option<Account>> {
    first(client, &ACCOUNT_BY_ID, &[&id], account_row).await
}

static ALL_ACCOUNTS: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {OWN_ACCOUNT_COLUMNS} FROM own_accounts ORDER BY channel, id")
});

pub(crate) async fn accounts<C: GenericClient>(client: &C) -> Result<Vec<Account>> {
    collect(client, &ALL_ACCOUNTS, &[], account_row).await
}

static SET_ACCOUNT_ENABLED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE own_accounts SET enabled = $1, updated_at = $2 WHERE id = $3
         RETURNING {OWN_ACCOUNT_COLUMNS}"
    )
});

pub(crate) async fn set_account_enabled<C: GenericClient>(
    client: &C,
    id: &str,
    enabled: bool,
    at: Timestamp,
) -> Result<Account> {
    first(
        client,
        &SET_ACCOUNT_ENABLED,
        &[&enabled, &at, &id],
        account_row,
    )
    .await?
    .ok_or(StorageError::NotFound)
}

/// The load of each account of a channel, in one statement: its open deposits, its volume
/// since `$2` (summed exactly: NUMERIC; only for an account with a daily limit, the one
/// reader of it) and the latest heartbeat of a device not revoked.
static LOADS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = OWN_ACCOUNT_COLUMNS
        .split(',')
        .map(|c| format!("a.{}", c.trim()))
        .collect();
    format!(
        "SELECT {columns},
            (SELECT COUNT(*) FROM orders o WHERE o.account_id = a.id AND o.account_id <> ''
                AND o.transaction_type = '{income}'
                AND o.payment_status IN ('{pending}', '{preparing}', '{processing}')) AS open_orders,
            CASE WHEN a.daily_limit IS NULL THEN 0 ELSE
                COALESCE((SELECT SUM(o.amount) FROM orders o
                    WHERE o.account_id = a.id AND o.account_id <> '' AND o.created_at >= $2
                    AND o.payment_status NOT IN ('{failed}', '{reject}')), 0)
            END AS volume_today,
            (SELECT MAX(d.last_heartbeat_at) FROM devices d
                WHERE d.account_id = a.id AND d.revoked_at IS NULL) AS last_heartbeat
         FROM own_accounts a WHERE a.channel = $1 ORDER BY a.id",
        columns = columns.join(", "),
        income = TransactionType::Income.as_str(),
        pending = PaymentStatus::Pending.as_str(),
        preparing = PaymentStatus::Preparing.as_str(),
        processing = PaymentStatus::Processing.as_str(),
        failed = PaymentStatus::Failed.as_str(),
        reject = PaymentStatus::Reject.as_str(),
    )
});

pub(crate) async fn account_loads<C: GenericClient>(
    client: &C,
    channel: &str,
    day_start: Timestamp,
) -> Result<Vec<AccountLoad>> {
    collect(client, &LOADS, &[&channel, &day_start], load_row).await
}

pub(crate) async fn held_amounts<C: GenericClient>(
    client: &C,
    channel: &str,
    account: &str,
    currency: Currency,
) -> Result<Vec<Decimal>> {
    let stmt = client
        .prepare_cached(
            "SELECT final_amount FROM orders
             WHERE channel = $3 AND account_id = $1 AND currency = $2 AND amount_locked",
        )
        .await
        .map_err(db)?;
    let rows = client
        .query(&stmt, &[&account, &currency.code(), &channel])
        .await
        .map_err(db)?;
    rows.iter()
        .map(|r| r.try_get::<_, Decimal>(0).map_err(db))
        .collect()
}

// ---- devices ----

static INSERT_DEVICE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {DEVICE_COLUMNS}"
    )
});

pub(crate) async fn add_device<C: GenericClient>(client: &C, d: &Device) -> Result<Device> {
    let stmt = client.prepare_cached(&INSERT_DEVICE).await.map_err(db)?;
    let row = client
        .query_one(
            &stmt,
            &[
                &d.id,
                &d.account,
                &d.sealed_secret,
                &d.revoked_at,
                &d.last_heartbeat_at,
                &d.created_at,
            ],
        )
        .await
        .map_err(insert_error(format!("device {}", d.id)))?;
    let device = device_row(&PgRow::new(&row));
    device
}

static DEVICE_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1"));

pub(crate) async fn device<C: GenericClient>(client: &C, id: &str) -> Result<Option<Device>> {
    first(client, &DEVICE_BY_ID, &[&id], device_row).await
}

static ALL_DEVICES: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY account_id, id"));

pub(crate) async fn devices<C: GenericClient>(client: &C) -> Result<Vec<Device>> {
    collect(client, &ALL_DEVICES, &[], device_row).await
}

/// The first revocation stays: revoking again changes nothing.
static REVOKE_DEVICE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2
         RETURNING {DEVICE_COLUMNS}"
    )
});

pub(crate) async fn revoke_device<C: GenericClient>(
    client: &C,
    id: &str,
    at: Timestamp,
) -> Result<Device> {
    first(client, &REVOKE_DEVICE, &[&at, &id], device_row)
        .await?
        .ok_or(StorageError::NotFound)
}

/// A report that arrives after a later heartbeat does not move the heartbeat back
/// (`GREATEST` ignores a NULL).
pub(crate) async fn device_heard<C: GenericClient>(
    client: &C,
    id: &str,
    at: Timestamp,
) -> Result<()> {
    let stmt = client
        .prepare_cached(
            "UPDATE devices SET last_heartbeat_at = GREATEST(last_heartbeat_at, $1) WHERE id = $2",
        )
        .await
        .map_err(db)?;
    client.execute(&stmt, &[&at, &id]).await.map_err(db)?;
    Ok(())
}

pub(crate) async fn remember_nonce<C: GenericClient>(
    client: &C,
    device: &str,
    nonce: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<bool> {
    let forget = client
        .prepare_cached("DELETE FROM device_nonces WHERE expires_at < $1")
        .await
        .map_err(db)?;
    client.execute(&forget, &[&now]).await.map_err(db)?;
    let remember = client
        .prepare_cached(
            "INSERT INTO device_nonces (device_id, nonce, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(db)?;
    let inserted = client
        .execute(&remember, &[&device, &nonce, &expires_at])
        .await
        .map_err(db)?;
    Ok(inserted == 1)
}

// ---- transfers ----

static TRANSFER_BY_UID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE uid = $1"));

pub(crate) async fn transfer<C: GenericClient>(client: &C, uid: &str) -> Result<Option<Transfer>> {
    first(client, &TRANSFER_BY_UID, &[&uid], transfer_row).await
}

static INSERT_TRANSFER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO transfers ({TRANSFER_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18)
         ON CONFLICT (account_id, bank_reference) DO NOTHING"
    )
});

static TRANSFER_BY_REFERENCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE account_id = $1 AND bank_reference = $2"
    )
});

pub(crate) async fn record_transfer(
    client: &mut deadpool_postgres::Object,
    t: &Transfer,
    entry: Option<&JournalEntry>,
) -> Result<Recorded> {
    let tx = client.transaction().await.map_err(db)?;
    let recorded = record_in(&tx, t, entry).await?;
    if matches!(recorded, Recorded::New(_)) {
        tx.commit().await.map_err(db)?;
    }
    Ok(recorded)
}

/// Inserts a transfer (and posts its entry) in the caller's transaction, unless its account
/// has one with this bank reference (then that one, and nothing is written).
async fn record_in<C: GenericClient>(
    tx: &C,
    t: &Transfer,
    entry: Option<&JournalEntry>,
) -> Result<Recorded> {
    let stmt = tx.prepare_cached(&INSERT_TRANSFER).await.map_err(db)?;
    let amount = in_currency_places(t.amount, t.currency);
    let inserted = tx
        .execute(
            &stmt,
            &[
                &t.uid,
                &t.account,
                &t.channel,
                &t.device,
                &amount,
                &t.currency.code(),
                &t.reference,
                &t.occurred_at,
                &t.payer_account,
                &t.payer_name,
                &t.text,
                &t.status.as_str(),
                &t.payment_uid,
                &t.late,
                &t.reason,
                &t.return_reference,
                &t.created_at,
                &t.updated_at,
            ],
        )
        .await
        .map_err(|e| {
            if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
                StorageError::NotFound
            } else {
                db(e)
            }
        })?;
    if inserted == 1 {
        if let Some(entry) = entry {
            post_once(tx, entry).await?;
        }
        return Ok(Recorded::New(t.clone()));
    }
    // The account has a transfer with this reference (committed before ours was tried: the
    // conflicting insert waited for it); nothing of ours is written.
    let existing = first(
        tx,
        &TRANSFER_BY_REFERENCE,
        &[&t.account, &t.reference],
        transfer_row,
    )
    .await?
    .ok_or(StorageError::NotFound)?;
    Ok(Recorded::Existing(existing))
}

pub(crate) async fn transfer_by_reference<C: GenericClient>(
    client: &C,
    account: &str,
    reference: &str,
) -> Result<Option<Transfer>> {
    first(
        client,
        &TRANSFER_BY_REFERENCE,
        &[&account, &reference],
        transfer_row,
    )
    .await
}

/// The status change and its entry in one transaction. The conditional update locks the
/// transfer: another node settling the same change waits for our commit, then finds the
/// transfer no longer in `from` (`NotFound`) and writes nothing.
pub(crate) async fn settle_transfer(
    client: &mut deadpool_postgres::Object,
    t: &Transfer,
    from: TransferStatus,
    entry: Option<&JournalEntry>,
) -> Result<()> {
    let tx = client.transaction().await.map_err(db)?;
    settle_in(&tx, t, from, entry).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// A transfer written with the status change of the order it settles, in one transaction: the
/// transfer first (which locks it, or its bank reference), then the order's change through the
/// group writer's decision and writes. Nothing is written when the transfer is taken (the
/// stored one is returned), has moved (`NotFound`), or the order refuses the change.
pub(crate) async fn settle_order_by_transfer(
    client: &mut deadpool_postgres::Object,
    t: &Transfer,
    from: Option<TransferStatus>,
    entry: Option<&JournalEntry>,
    payment_uid: &str,
    change: &octopus_domain::StatusChange,
) -> Result<octopus_storage::Settled> {
    let tx = client.transaction().await.map_err(db)?;
    match from {
        None => {
            if let Recorded::Existing(known) = record_in(&tx, t, entry).await? {
                return Ok(octopus_storage::Settled::Existing(Box::new(known)));
            }
        }
        Some(from) => settle_in(&tx, t, from, entry).await?,
    }
    let order = group_write::change_in(&tx, payment_uid, change).await?;
    tx.commit().await.map_err(db)?;
    Ok(octopus_storage::Settled::Done(Box::new(order)))
}

/// A transfer's status change (and its entry) in the caller's transaction.
async fn settle_in<C: GenericClient>(
    tx: &C,
    t: &Transfer,
    from: TransferStatus,
    entry: Option<&JournalEntry>,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "UPDATE transfers SET status = $1, payment_uid = $2, late = $3, reason = $4,
                return_reference = $5, updated_at = $6
             WHERE uid = $7 AND status = $8",
        )
        .await
        .map_err(db)?;
    let changed = tx
        .execute(
            &stmt,
            &[
                &t.status.as_str(),
                &t.payment_uid,
                &t.late,
                &t.reason,
                &t.return_reference,
                &t.updated_at,
                &t.uid,
                &from.as_str(),
            ],
        )
        .await
        .map_err(db)?;
    if changed == 0 {
        return Err(StorageError::NotFound);
    }
    if let Some(entry) = entry {
        post_once(tx, entry).await?;
    }
    Ok(())
}

/// Posts a transfer's suspense entry unless it is posted already (as the domain decides).
async fn post_once<C: GenericClient>(tx: &C, entry: &JournalEntry) -> Result<()> {
    let at = entry.created_at;
    let mut loaded = group_write::load_book(tx, &decision::needs_to_settle(entry), at)
        .await
        .map_err(Failure::into_storage)?;
    let planned: Vec<_> = decision::settle_transfer(entry.clone(), &mut loaded.book)?
        .into_iter()
        .collect();
    group_write::write_entries(tx, &planned, &loaded.ids, &loaded.book, at)
        .await
        .map_err(Failure::into_storage)?;
    group_write::discard_unused_accounts(tx, &loaded, &planned)
        .await
        .map_err(Failure::into_storage)?;
    Ok(())
}

static TRANSFERS_IN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE status = $1
         ORDER BY created_at, uid LIMIT $2"
    )
});

pub(crate) async fn transfers_in<C: GenericClient>(
    client: &C,
    status: TransferStatus,
    limit: u32,
) -> Result<Vec<Transfer>> {
    collect(
        client,
        &TRANSFERS_IN,
        &[&status.as_str(), &i64::from(limit)],
        transfer_row,
    )
    .await
}

static DEPOSITS_ON_ACCOUNT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE account_id = $1 AND account_id <> '' AND final_amount = $2 AND currency = $3
           AND transaction_type = '{income}'
           AND payment_status IN ('{pending}', '{preparing}', '{processing}', '{overdue}')
         ORDER BY id",
        income = TransactionType::Income.as_str(),
        pending = PaymentStatus::Pending.as_str(),
        preparing = PaymentStatus::Preparing.as_str(),
        processing = PaymentStatus::Processing.as_str(),
        overdue = PaymentStatus::Overdue.as_str(),
    )
});

pub(crate) async fn deposits_on_account<C: GenericClient>(
    client: &C,
    account: &str,
    currency: Currency,
    final_amount: Decimal,
) -> Result<Vec<Order>> {
    collect(
        client,
        &DEPOSITS_ON_ACCOUNT,
        &[&account, &final_amount, &currency.code()],
        order_row,
    )
    .await
}

static ORDER_BY_REFERENCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE account_id = $1 AND bank_reference = $2 AND account_id <> '' AND bank_reference <> '' ORDER BY id LIMIT 1"
    )
});

pub(crate) async fn order_by_reference<C: GenericClient>(
    client: &C,
    account: &str,
    reference: &str,
) -> Result<Option<Order>> {
    first(
        client,
        &ORDER_BY_REFERENCE,
        &[&account, &reference],
        order_row,
    )
    .await
}

/// Orders another node is changing are skipped (`SKIP LOCKED`): their change writes the
/// order as it decided it, and a later round releases what is still held.
static RELEASE_HELD_AMOUNTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE orders SET amount_locked = false, expires_at = NULL
         WHERE id IN (SELECT id FROM orders
             WHERE expires_at <= $1 AND payment_status = '{overdue}' AND amount_locked
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
        overdue = PaymentStatus::Overdue.as_str(),
    )
});

pub(crate) async fn release_held_amounts<C: GenericClient>(
    client: &C,
    now: Timestamp,
    limit: u32,
) -> Result<u32> {
    let stmt = client
        .prepare_cached(&RELEASE_HELD_AMOUNTS)
        .await
        .map_err(db)?;
    let released = client
        .execute(&stmt, &[&now, &i64::from(limit)])
        .await
        .map_err(db)?;
    u32::try_from(released).map_err(|_| StorageError::Database("too many orders released".into()))
}

static PENDING_PAYOUTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE channel = $1 AND transaction_type = '{expense}' AND payment_status = '{pending}'
         ORDER BY id LIMIT $2",
        expense = TransactionType::Expense.as_str(),
        pending = PaymentStatus::Pending.as_str(),
    )
});

pub(crate) async fn pending_payouts<C: GenericClient>(
    client: &C,
    channel: &str,
    limit: u32,
) -> Result<Vec<Order>> {
    collect(
        client,
        &PENDING_PAYOUTS,
        &[&channel, &i64::from(limit)],
        order_row,
    )
    .await
}
