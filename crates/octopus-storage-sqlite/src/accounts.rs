//! The operator's own accounts in SQLite: receiving accounts and their load, devices and the
//! nonces of their requests, and reported transfers (see `octopus_storage::accounts`). Rows
//! are read through the shared mappings of `octopus_storage::rows`; what a transfer's status
//! change posts is decided by the domain (`decision::settle_transfer`).

use std::sync::LazyLock;

use octopus_domain::account::{Account, AccountLoad};
use octopus_domain::decision;
use octopus_domain::device::Device;
use octopus_domain::ledger::JournalEntry;
use octopus_domain::money::format_amount;
use octopus_domain::transfer::{Transfer, TransferStatus};
use octopus_domain::{Currency, Order, PaymentStatus, Timestamp, TransactionType};
use octopus_storage::rows::{
    self, DEVICE_COLUMNS, ORDER_COLUMNS, OWN_ACCOUNT_COLUMNS, TRANSFER_COLUMNS,
};
use octopus_storage::{Recorded, Result, StorageError};
use rusqlite::{params, Connection, Params};
use rust_decimal::Decimal;

use crate::columns::SqliteRow;
use crate::{db, is_unique_violation};

pub(crate) fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    read: fn(&SqliteRow<'_, '_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = stmt.query(params).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        out.push(read(&SqliteRow::new(r))?);
    }
    Ok(out)
}

fn account_row(r: &SqliteRow<'_, '_>) -> Result<Account> {
    rows::own_account(r)
}

fn device_row(r: &SqliteRow<'_, '_>) -> Result<Device> {
    rows::device(r)
}

fn transfer_row(r: &SqliteRow<'_, '_>) -> Result<Transfer> {
    rows::transfer(r)
}

fn order_row(r: &SqliteRow<'_, '_>) -> Result<Order> {
    rows::order(r)
}

fn first<T>(mut all: Vec<T>) -> Option<T> {
    (!all.is_empty()).then(|| all.swap_remove(0))
}

// ---- accounts ----

pub(crate) fn add_account(conn: &Connection, a: &Account) -> Result<Account> {
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO own_accounts ({OWN_ACCOUNT_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))
        .map_err(db)?
        .execute(params![
            a.id,
            a.channel,
            a.method.as_str(),
            a.bank_code,
            a.number,
            a.holder,
            a.currency.code(),
            a.promptpay_id,
            a.vpa,
            a.wallet,
            a.daily_limit.map(|l| l.normalize().to_string()),
            a.max_open,
            a.enabled,
            a.created_at,
            a.updated_at
        ]);
    match inserted {
        Ok(_) => account(conn, &a.id)?.ok_or(StorageError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            Err(StorageError::Conflict(format!("account {}", a.id)))
        }
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            Err(StorageError::NotFound)
        }
        Err(e) => Err(db(e)),
    }
}

static ACCOUNT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {OWN_ACCOUNT_COLUMNS} FROM own_accounts WHERE id = ?1"));

pub(crate) fn account(conn: &Connection, id: &str) -> Result<Option<Account>> {
    Ok(first(collect(conn, &ACCOUNT_BY_ID, [id], account_row)?))
}

pub(crate) fn accounts(conn: &Connection) -> Result<Vec<Account>> {
    collect(
        conn,
        &format!("SELECT {OWN_ACCOUNT_COLUMNS} FROM own_accounts ORDER BY channel, id"),
        [],
        account_row,
    )
}

pub(crate) fn set_account_enabled(
    conn: &Connection,
    id: &str,
    enabled: bool,
    at: Timestamp,
) -> Result<Account> {
    conn.prepare_cached("UPDATE own_accounts SET enabled = ?1, updated_at = ?2 WHERE id = ?3")
        .map_err(db)?
        .execute(params![enabled, at, id])
        .map_err(db)?;
    account(conn, id)?.ok_or(StorageError::NotFound)
}

/// The load of each account of a channel, in one statement.
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
            (SELECT MAX(d.last_heartbeat_at) FROM devices d
                WHERE d.account_id = a.id AND d.revoked_at IS NULL) AS last_heartbeat
         FROM own_accounts a WHERE a.channel = ?1 ORDER BY a.id",
        columns = columns.join(", "),
        income = TransactionType::Income.as_str(),
        pending = PaymentStatus::Pending.as_str(),
        preparing = PaymentStatus::Preparing.as_str(),
        processing = PaymentStatus::Processing.as_str(),
    )
});

pub(crate) fn account_loads(
    conn: &Connection,
    channel: &str,
    day_start: Timestamp,
) -> Result<Vec<AccountLoad>> {
    let mut stmt = conn.prepare_cached(&LOADS).map_err(db)?;
    let mut found = stmt.query([channel]).map_err(db)?;
    let mut loads = Vec::new();
    while let Some(r) = found.next().map_err(db)? {
        let row = SqliteRow::new(r);
        loads.push(AccountLoad {
            account: rows::own_account(&row)?,
            open_orders: u32::try_from(r.get::<_, i64>("open_orders").map_err(db)?)
                .map_err(|_| StorageError::Corrupt("own_accounts.open_orders"))?,
            volume_today: Decimal::ZERO,
            last_heartbeat: r.get("last_heartbeat").map_err(db)?,
        });
    }
    // Volumes are summed exactly, from the amounts' text (SQLite has no exact decimal sum),
    // and only for accounts with a daily limit: nothing else reads them.
    for load in loads.iter_mut().filter(|l| l.account.daily_limit.is_some()) {
        load.volume_today = volume_since(conn, &load.account.id, day_start)?;
    }
    Ok(loads)
}

fn volume_since(conn: &Connection, account: &str, since: Timestamp) -> Result<Decimal> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT amount FROM orders WHERE account_id = ?1 AND account_id <> '' AND created_at >= ?2
               AND payment_status NOT IN (?3, ?4)",
        )
        .map_err(db)?;
    let mut found = stmt
        .query(params![
            account,
            since,
            PaymentStatus::Failed.as_str(),
            PaymentStatus::Reject.as_str()
        ])
        .map_err(db)?;
    let mut sum = Decimal::ZERO;
    while let Some(r) = found.next().map_err(db)? {
        let text: String = r.get(0).map_err(db)?;
        sum += text
            .parse::<Decimal>()
            .map_err(|_| StorageError::Corrupt("orders.amount"))?;
    }
    Ok(sum)
}

pub(crate) fn held_amounts(
    conn: &Connection,
    channel: &str,
    account: &str,
    currency: Currency,
) -> Result<Vec<Decimal>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT final_amount FROM orders
             WHERE channel = ?3 AND account_id = ?1 AND currency = ?2 AND amount_locked = 1",
        )
        .map_err(db)?;
    let mut found = stmt
        .query(params![account, currency.code(), channel])
        .map_err(db)?;
    let mut held = Vec::new();
    while let Some(r) = found.next().map_err(db)? {
        let text: String = r.get(0).map_err(db)?;
        held.push(
            text.parse()
                .map_err(|_| StorageError::Corrupt("orders.final_amount"))?,
        );
    }
    Ok(held)
}

// ---- devices ----

pub(crate) fn add_device(conn: &Connection, d: &Device) -> Result<Device> {
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .map_err(db)?
        .execute(params![
            d.id,
            d.account,
            d.sealed_secret,
            d.revoked_at,
            d.last_heartbeat_at,
            d.created_at
        ]);
    match inserted {
        Ok(_) => device(conn, &d.id)?.ok_or(StorageError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            Err(StorageError::Conflict(format!("device {}", d.id)))
        }
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            Err(StorageError::NotFound)
        }
        Err(e) => Err(db(e)),
    }
}

static DEVICE_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1"));

pub(crate) fn device(conn: &Connection, id: &str) -> Result<Option<Device>> {
    Ok(first(collect(conn, &DEVICE_BY_ID, [id], device_row)?))
}

pub(crate) fn devices(conn: &Connection) -> Result<Vec<Device>> {
    collect(
        conn,
        &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY account_id, id"),
        [],
        device_row,
    )
}

pub(crate) fn revoke_device(conn: &Connection, id: &str, at: Timestamp) -> Result<Device> {
    conn.prepare_cached("UPDATE devices SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2")
        .map_err(db)?
        .execute(params![at, id])
        .map_err(db)?;
    device(conn, id)?.ok_or(StorageError::NotFound)
}

pub(crate) fn device_heard(conn: &Connection, id: &str, at: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE devices SET last_heartbeat_at = MAX(COALESCE(last_heartbeat_at, 0), ?1)
         WHERE id = ?2",
    )
    .map_err(db)?
    .execute(params![at, id])
    .map_err(db)?;
    Ok(())
}

pub(crate) fn remember_nonce(
    conn: &Connection,
    device: &str,
    nonce: &str,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<bool> {
    conn.prepare_cached("DELETE FROM device_nonces WHERE expires_at < ?1")
        .map_err(db)?
        .execute([now])
        .map_err(db)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO device_nonces (device_id, nonce, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )
        .map_err(db)?
        .execute(params![device, nonce, expires_at])
        .map_err(db)?;
    Ok(inserted == 1)
}

// ---- transfers ----

static TRANSFER_BY_UID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE uid = ?1"));

pub(crate) fn transfer(conn: &Connection, uid: &str) -> Result<Option<Transfer>> {
    Ok(first(collect(conn, &TRANSFER_BY_UID, [uid], transfer_row)?))
}

pub(crate) fn record_transfer(
    conn: &Connection,
    t: &Transfer,
    entry: Option<&JournalEntry>,
) -> Result<Recorded> {
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO transfers ({TRANSFER_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18)
             ON CONFLICT (account_id, bank_reference) DO NOTHING"
        ))
        .map_err(db)?
        .execute(params![
            t.uid,
            t.account,
            t.channel,
            t.device,
            format_amount(t.amount, t.currency),
            t.currency.code(),
            t.reference,
            t.occurred_at,
            t.payer_account,
            t.payer_name,
            t.text,
            t.status.as_str(),
            t.payment_uid,
            t.late,
            t.reason,
            t.return_reference,
            t.created_at,
            t.updated_at
        ]);
    match inserted {
        Ok(1) => {
            if let Some(entry) = entry {
                post_once(conn, entry)?;
            }
            Ok(Recorded::New(t.clone()))
        }
        Ok(_) => Ok(Recorded::Existing(
            transfer_by_reference(conn, &t.account, &t.reference)?.ok_or(StorageError::NotFound)?,
        )),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            Err(StorageError::NotFound)
        }
        Err(e) => Err(db(e)),
    }
}

pub(crate) fn transfer_by_reference(
    conn: &Connection,
    account: &str,
    reference: &str,
) -> Result<Option<Transfer>> {
    Ok(first(collect(
        conn,
        &format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE account_id = ?1 AND bank_reference = ?2"
        ),
        params![account, reference],
        transfer_row,
    )?))
}

/// Posts a transfer's suspense entry unless it is posted already (as the domain decides).
fn post_once(conn: &Connection, entry: &JournalEntry) -> Result<()> {
    let (mut book, mut ids) = crate::ledger::load(conn, &decision::needs_to_settle(entry))?;
    if let Some(planned) = decision::settle_transfer(entry.clone(), &mut book)? {
        crate::ledger::write(conn, &planned, &mut ids)?;
    }
    Ok(())
}

/// Refuses (`NotFound`) unless the transfer is in `from`: the check `settle_transfer` makes,
/// made before any write.
pub(crate) fn transfer_in(conn: &Connection, uid: &str, from: TransferStatus) -> Result<()> {
    match transfer(conn, uid)? {
        Some(t) if t.status == from => Ok(()),
        _ => Err(StorageError::NotFound),
    }
}

pub(crate) fn settle_transfer(
    conn: &Connection,
    t: &Transfer,
    from: TransferStatus,
    entry: Option<&JournalEntry>,
) -> Result<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE transfers SET status = ?1, payment_uid = ?2, late = ?3, reason = ?4,
                return_reference = ?5, updated_at = ?6
             WHERE uid = ?7 AND status = ?8",
        )
        .map_err(db)?
        .execute(params![
            t.status.as_str(),
            t.payment_uid,
            t.late,
            t.reason,
            t.return_reference,
            t.updated_at,
            t.uid,
            from.as_str()
        ])
        .map_err(db)?;
    if changed == 0 {
        return Err(StorageError::NotFound);
    }
    if let Some(entry) = entry {
        post_once(conn, entry)?;
    }
    Ok(())
}

pub(crate) fn transfers_in(
    conn: &Connection,
    status: TransferStatus,
    limit: u32,
) -> Result<Vec<Transfer>> {
    collect(
        conn,
        &format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE status = ?1
             ORDER BY created_at, uid LIMIT ?2"
        ),
        params![status.as_str(), limit],
        transfer_row,
    )
}

pub(crate) fn deposits_on_account(
    conn: &Connection,
    account: &str,
    currency: Currency,
    final_amount: Decimal,
) -> Result<Vec<Order>> {
    collect(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM orders
             WHERE account_id = ?1 AND account_id <> '' AND final_amount = ?2 AND currency = ?3
               AND transaction_type = ?4 AND payment_status IN (?5, ?6, ?7, ?8)
             ORDER BY id"
        ),
        params![
            account,
            format_amount(final_amount, currency),
            currency.code(),
            TransactionType::Income.as_str(),
            PaymentStatus::Pending.as_str(),
            PaymentStatus::Preparing.as_str(),
            PaymentStatus::Processing.as_str(),
            PaymentStatus::Overdue.as_str()
        ],
        order_row,
    )
}

pub(crate) fn order_by_reference(
    conn: &Connection,
    account: &str,
    reference: &str,
) -> Result<Option<Order>> {
    Ok(first(collect(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM orders
             WHERE account_id = ?1 AND bank_reference = ?2 AND account_id <> '' AND bank_reference <> '' ORDER BY id LIMIT 1"
        ),
        params![account, reference],
        order_row,
    )?))
}

pub(crate) fn release_held_amounts(conn: &Connection, now: Timestamp, limit: u32) -> Result<u32> {
    let released = conn
        .prepare_cached(
            "UPDATE orders SET amount_locked = NULL, expires_at = NULL
             WHERE id IN (SELECT id FROM orders
                 WHERE expires_at <= ?1 AND payment_status = ?2 AND amount_locked = 1
                 LIMIT ?3)",
        )
        .map_err(db)?
        .execute(params![now, PaymentStatus::Overdue.as_str(), limit])
        .map_err(db)?;
    Ok(released as u32)
}

pub(crate) fn pending_payouts(conn: &Connection, channel: &str, limit: u32) -> Result<Vec<Order>> {
    collect(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM orders
             WHERE channel = ?1 AND transaction_type = ?2 AND payment_status = ?3
             ORDER BY id LIMIT ?4"
        ),
        params![
            channel,
            TransactionType::Expense.as_str(),
            PaymentStatus::Pending.as_str(),
            limit
        ],
        order_row,
    )
}
