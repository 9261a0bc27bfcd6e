//! The ledger in SQLite: posting journal entries (inside the writer's transaction), merchant
//! balances and entries, fee schedules, and the verification that recomputes everything.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use octopus_domain::decision::{Book, Needs, PlannedEntry};
use octopus_domain::ledger::{Account, EntryKey, FeeRule, LedgerReport, Verification};
use octopus_domain::money::{format_places, LEDGER_PLACES};
use octopus_domain::{Currency, Timestamp};
use octopus_storage::rows;
use octopus_storage::{Balance, FeeSchedule, MerchantEntry, Result, StorageError};
use rusqlite::{params, Connection};
use rust_decimal::Decimal;

use crate::columns::SqliteRow;
use crate::db;

/// Ledger amounts as stored: six places, and never a negative zero.
pub(crate) fn ledger_text(value: Decimal) -> String {
    if value.is_zero() {
        return format_places(Decimal::ZERO, LEDGER_PLACES);
    }
    format_places(value, LEDGER_PLACES)
}

fn decimal(text: String, column: &'static str) -> Result<Decimal> {
    Decimal::from_str(&text).map_err(|_| StorageError::Corrupt(column))
}

/// The id and cached balance of the accounts among `keys` that exist, in one statement.
fn find_accounts(
    conn: &Connection,
    keys: &[String],
) -> Result<HashMap<String, (i64, Option<Decimal>)>> {
    let marks = vec!["?"; keys.len()].join(", ");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT account_key, id, balance FROM ledger_accounts WHERE account_key IN ({marks})"
        ))
        .map_err(db)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(keys)).map_err(db)?;
    let mut found = HashMap::with_capacity(keys.len());
    while let Some(r) = rows.next().map_err(db)? {
        let balance = r
            .get::<_, Option<String>>(2)
            .map_err(db)?
            .map(|b| decimal(b, "ledger_accounts.balance"))
            .transpose()?;
        found.insert(r.get(0).map_err(db)?, (r.get(1).map_err(db)?, balance));
    }
    Ok(found)
}

fn create_account(conn: &Connection, account: &Account, at: Timestamp) -> Result<i64> {
    let cached = account
        .kind
        .is_merchant()
        .then(|| ledger_text(Decimal::ZERO));
    conn.prepare_cached(
        "INSERT INTO ledger_accounts (account_key, kind, merchant_id, channel, currency, balance, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(db)?
    .execute(params![
        account.key(),
        account.kind.as_str(),
        account.merchant_id,
        account.channel,
        account.currency.code(),
        cached,
        at
    ])
    .map_err(db)?;
    Ok(conn.last_insert_rowid())
}

/// The ids of the ledger accounts a decision touches that exist already.
pub(crate) type AccountIds = HashMap<Account, i64>;

/// Loads what a decision needs (see `decision::Needs`): the balances of its merchant accounts
/// (zero for those not created yet) and which of its entries are posted, in one statement
/// each; returns them with the ids of the accounts that exist.
pub(crate) fn load(conn: &Connection, needs: &Needs) -> Result<(Book, AccountIds)> {
    let mut book = Book::new();
    let mut ids = AccountIds::new();
    if needs.is_empty() {
        return Ok((book, ids));
    }
    let keys: Vec<String> = needs.accounts.iter().map(Account::key).collect();
    let found = find_accounts(conn, &keys)?;
    for (account, key) in needs.accounts.iter().zip(&keys) {
        let stored = found.get(key);
        if let Some((id, _)) = stored {
            ids.insert(account.clone(), *id);
        }
        if account.kind.is_merchant() {
            let balance = stored.and_then(|(_, b)| *b).unwrap_or(Decimal::ZERO);
            book.set_balance(account.clone(), balance);
        }
    }
    book.set_posted(&needs.entry_keys, &posted_keys(conn, &needs.entry_keys)?);
    Ok((book, ids))
}

/// Which of `keys` name posted entries.
fn posted_keys(conn: &Connection, keys: &[EntryKey]) -> Result<HashSet<EntryKey>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let marks = vec!["?"; keys.len()].join(", ");
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT entry_key FROM journal_entries WHERE entry_key IN ({marks})"
        ))
        .map_err(db)?;
    let texts: Vec<String> = keys.iter().map(EntryKey::to_string).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(texts)).map_err(db)?;
    let mut posted = HashSet::new();
    while let Some(r) = rows.next().map_err(db)? {
        let key: String = r.get(0).map_err(db)?;
        posted.insert(
            key.parse()
                .map_err(|_| StorageError::Corrupt("journal_entries.entry_key"))?,
        );
    }
    Ok(posted)
}

/// Writes a decided entry: the accounts it creates, the entry, its postings and the merchant
/// balances it leaves. Fails only on database errors (every check happened in the decision).
pub(crate) fn write(conn: &Connection, planned: &PlannedEntry, ids: &mut AccountIds) -> Result<()> {
    let entry = &planned.entry;
    conn.prepare_cached(
        "INSERT INTO journal_entries (entry_key, kind, order_id, merchant_id, accounting_type,
            currency, amount, fee, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .map_err(db)?
    .execute(params![
        entry.key.to_string(),
        entry.kind.as_str(),
        // A transfer's suspense entry belongs to no order and no merchant.
        (entry.order_id != 0).then_some(entry.order_id),
        (entry.merchant_id != 0).then_some(entry.merchant_id),
        entry.accounting_type.as_str(),
        entry.currency.code(),
        ledger_text(entry.amount),
        ledger_text(entry.fee),
        entry.created_at
    ])
    .map_err(db)?;
    let entry_id = conn.last_insert_rowid();
    let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(entry.postings.len() * 4);
    for (posting, after) in entry.postings.iter().zip(&planned.after) {
        let account_id = match ids.get(&posting.account) {
            Some(id) => *id,
            None => {
                let id = create_account(conn, &posting.account, entry.created_at)?;
                ids.insert(posting.account.clone(), id);
                id
            }
        };
        if let Some(after) = after {
            conn.prepare_cached(
                "UPDATE ledger_accounts SET balance = ?1, updated_at = ?2 WHERE id = ?3",
            )
            .map_err(db)?
            .execute(params![ledger_text(*after), entry.created_at, account_id])
            .map_err(db)?;
        }
        values.extend([
            entry_id.into(),
            account_id.into(),
            ledger_text(posting.amount).into(),
            after.map(ledger_text).into(),
        ]);
    }
    // All postings of the entry in one statement.
    let rows = vec!["(?, ?, ?, ?)"; entry.postings.len()].join(", ");
    conn.prepare_cached(&format!(
        "INSERT INTO postings (entry_id, account_id, amount, balance_after) VALUES {rows}"
    ))
    .map_err(db)?
    .execute(rusqlite::params_from_iter(values))
    .map_err(db)?;
    Ok(())
}

pub(crate) fn balances(conn: &Connection, merchant_id: i64) -> Result<Vec<Balance>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, currency, balance FROM ledger_accounts WHERE merchant_id = ?1 ORDER BY currency",
        )
        .map_err(db)?;
    let mut rows = stmt.query([merchant_id]).map_err(db)?;
    let mut out: Vec<Balance> = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        rows::add_balance(&mut out, &SqliteRow::new(r))?;
    }
    Ok(out)
}

pub(crate) fn merchant_entries(
    conn: &Connection,
    merchant_id: i64,
    currency: Option<Currency>,
    before: Option<i64>,
    limit: u32,
    order_id: Option<i64>,
) -> Result<Vec<MerchantEntry>> {
    let mut entries = conn
        .prepare_cached(
            "SELECT e.id, e.kind, e.accounting_type, e.currency, e.amount, e.fee, e.created_at,
                    o.payment_uid, o.merchant_order_id
             FROM journal_entries e JOIN orders o ON o.id = e.order_id
             WHERE e.merchant_id = ?1 AND (?2 IS NULL OR e.currency = ?2) AND (?3 IS NULL OR e.id < ?3)
               AND (?5 IS NULL OR e.order_id = ?5)
             ORDER BY e.id DESC
             LIMIT ?4",
        )
        .map_err(db)?;
    let mut rows = entries
        .query(params![
            merchant_id,
            currency.map(|c| c.code()),
            before,
            limit,
            order_id
        ])
        .map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        out.push(rows::merchant_entry(&SqliteRow::new(r))?);
    }
    let mut postings = conn
        .prepare_cached(
            "SELECT a.kind, p.amount, p.balance_after FROM postings p
             JOIN ledger_accounts a ON a.id = p.account_id
             WHERE p.entry_id = ?1 AND a.merchant_id IS NOT NULL",
        )
        .map_err(db)?;
    for entry in &mut out {
        let mut rows = postings.query([entry.id]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            rows::add_merchant_posting(entry, &SqliteRow::new(r))?;
        }
    }
    Ok(out)
}

pub(crate) fn set_fee_rule(
    conn: &Connection,
    merchant_id: i64,
    payment: &str,
    accounting_type: &str,
    rule: &FeeRule,
    at: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO fee_rules (merchant_id, payment, accounting_type, percent, fixed, minimum, maximum, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (merchant_id, payment, accounting_type) DO UPDATE SET
            percent = excluded.percent, fixed = excluded.fixed, minimum = excluded.minimum,
            maximum = excluded.maximum, updated_at = excluded.updated_at",
        params![
            merchant_id,
            payment,
            accounting_type,
            rule.percent.normalize().to_string(),
            rule.fixed.normalize().to_string(),
            rule.minimum.normalize().to_string(),
            rule.maximum.map(|m| m.normalize().to_string()),
            at
        ],
    )
    .map_err(db)?;
    Ok(())
}

pub(crate) fn fee_rules(conn: &Connection, merchant_id: i64) -> Result<Vec<FeeSchedule>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT payment, accounting_type, percent, fixed, minimum, maximum FROM fee_rules
             WHERE merchant_id = ?1 ORDER BY payment, accounting_type",
        )
        .map_err(db)?;
    let mut rows = stmt.query([merchant_id]).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        out.push(rows::fee_schedule(&SqliteRow::new(r))?);
    }
    Ok(out)
}

/// Streams the whole journal, and every order, through the domain's verification.
pub(crate) fn verify(conn: &Connection) -> Result<LedgerReport> {
    let mut v = Verification::new();
    let mut stmt = conn
        .prepare(
            "SELECT id, entry_key, currency, merchant_id, kind, amount, fee FROM journal_entries",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        rows::verify_entry(&mut v, &SqliteRow::new(r))?;
    }
    let mut stmt = conn
        .prepare(
            "SELECT p.entry_id, p.account_id, a.currency, p.amount
             FROM postings p JOIN ledger_accounts a ON a.id = p.account_id",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        rows::verify_posting(&mut v, &SqliteRow::new(r))?;
    }
    let mut stmt = conn
        .prepare(
            "SELECT payment_uid, transaction_type, payment_status, accounting_status, accounting_fail_reason,
                    currency, amount, final_amount, fee, channel FROM orders",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut orders = 0u64;
    while let Some(r) = rows.next().map_err(db)? {
        orders += 1;
        rows::verify_order(&mut v, &SqliteRow::new(r))?;
    }
    let mut stmt = conn
        .prepare("SELECT uid, status FROM transfers")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        rows::verify_transfer(&mut v, &SqliteRow::new(r))?;
    }
    let mut stmt = conn
        .prepare("SELECT id, kind, merchant_id, channel, currency, balance FROM ledger_accounts ORDER BY id")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut accounts = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        accounts.push(rows::account(&SqliteRow::new(r))?);
    }
    let mut report = v.finish(accounts);
    report.orders = orders;
    Ok(report)
}
