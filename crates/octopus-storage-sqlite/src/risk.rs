//! Merchant safety in SQLite: blocklist entries looked up by their `kind:value` keys (one
//! indexed statement per order, however many entries), velocity rules and the recent orders
//! they count, and payout review thresholds (see `octopus_storage::risk`).
//!
//! A velocity rule's count is taken where the order is written (`orders::create`, on the one
//! writer connection): in the writer's transaction, after the orders of its group written
//! before it, so a rule holds exactly however many orders arrive at once, and against the
//! writer's warm page cache, so it costs a few index probes and no extra round trip.

use async_trait::async_trait;
use octopus_domain::money::format_amount;
use octopus_domain::risk::{self, BlockKind, ReviewThreshold, VelocityRule};
use octopus_domain::{Currency, Order, Timestamp};
use octopus_storage::rows::{self, BLOCK_SELECT, ORDER_COLUMNS, VELOCITY_COLUMNS};
use octopus_storage::{BlockEntry, NewBlockEntry, Result, Risk};
use rusqlite::{params, OptionalExtension};
use rust_decimal::Decimal;

use crate::accounts::collect;
use crate::{db, SqliteStorage};

#[async_trait]
impl Risk for SqliteStorage {
    async fn add_blocks(&self, entries: Vec<NewBlockEntry>) -> Result<u64> {
        self.writer
            .write(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "INSERT INTO blocklist (merchant_id, entry_key, kind, value, reason, author,
                            created_at, expires_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (entry_key, merchant_id) DO UPDATE SET reason = excluded.reason,
                            author = excluded.author, created_at = excluded.created_at,
                            expires_at = excluded.expires_at",
                    )
                    .map_err(db)?;
                for e in &entries {
                    stmt.execute(params![
                        e.merchant_id,
                        risk::entry_key(e.kind, &e.value),
                        e.kind.as_str(),
                        e.value,
                        e.reason,
                        e.author,
                        e.created_at,
                        e.expires_at
                    ])
                    .map_err(db)?;
                }
                bump_version(conn)?;
                Ok(entries.len() as u64)
            })
            .await
    }

    async fn remove_block(&self, merchant_id: i64, kind: BlockKind, value: &str) -> Result<bool> {
        let key = risk::entry_key(kind, value);
        self.writer
            .write(move |conn| {
                let removed = conn
                    .execute(
                        "DELETE FROM blocklist WHERE entry_key = ?1 AND merchant_id = ?2",
                        params![key, merchant_id],
                    )
                    .map_err(db)?;
                if removed > 0 {
                    bump_version(conn)?;
                }
                Ok(removed > 0)
            })
            .await
    }

    async fn blocks(
        &self,
        merchant_id: Option<i64>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<BlockEntry>> {
        self.readers
            .read(move |conn| match merchant_id {
                Some(m) => collect(
                    conn,
                    &format!(
                        "{BLOCK_SELECT} WHERE b.merchant_id = ?1 AND b.id > ?2
                         ORDER BY b.id LIMIT ?3"
                    ),
                    params![m, after_id, limit],
                    |r| rows::block_entry(r),
                ),
                None => collect(
                    conn,
                    &format!("{BLOCK_SELECT} WHERE b.id > ?1 ORDER BY b.id LIMIT ?2"),
                    params![after_id, limit],
                    |r| rows::block_entry(r),
                ),
            })
            .await
    }

    async fn block(
        &self,
        merchant_id: i64,
        kind: BlockKind,
        value: &str,
    ) -> Result<Option<BlockEntry>> {
        let key = risk::entry_key(kind, value);
        self.readers
            .read(move |conn| {
                collect(
                    conn,
                    &format!("{BLOCK_SELECT} WHERE b.entry_key = ?1 AND b.merchant_id = ?2"),
                    params![key, merchant_id],
                    |r| rows::block_entry(r),
                )
                .map(|found| found.into_iter().next())
            })
            .await
    }

    async fn blocklist_version(&self) -> Result<i64> {
        self.readers
            .read(|conn| {
                conn.prepare_cached("SELECT value FROM settings WHERE key = 'blocklist_version'")
                    .map_err(db)?
                    .query_row([], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(db)?
                    .map_or(Ok(0), |v| {
                        v.parse()
                            .map_err(|_| octopus_storage::StorageError::Corrupt("settings.value"))
                    })
            })
            .await
    }

    async fn add_velocity_rule(&self, rule: VelocityRule, at: Timestamp) -> Result<i64> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO velocity_rules (merchant_id, subject, transaction_type,
                        window_seconds, max_orders, max_volume, currency, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        rule.merchant_id,
                        rule.subject.as_str(),
                        rule.transaction_type
                            .map(|t| t.as_str())
                            .unwrap_or_default(),
                        rule.window_seconds,
                        rule.max_orders,
                        rule.max_volume.map(|v| v.normalize().to_string()),
                        rule.currency.map(|c| c.code()).unwrap_or_default(),
                        at
                    ],
                )
                .map_err(db)?;
                Ok(conn.last_insert_rowid())
            })
            .await
    }

    async fn remove_velocity_rule(&self, id: i64) -> Result<bool> {
        self.writer
            .write(move |conn| {
                conn.execute("DELETE FROM velocity_rules WHERE id = ?1", params![id])
                    .map(|n| n > 0)
                    .map_err(db)
            })
            .await
    }

    async fn velocity_rules(&self) -> Result<Vec<VelocityRule>> {
        self.readers
            .read(|conn| {
                collect(
                    conn,
                    &format!("SELECT {VELOCITY_COLUMNS} FROM velocity_rules ORDER BY id"),
                    [],
                    |r| rows::velocity_rule(r),
                )
            })
            .await
    }

    async fn velocity_refusal(
        &self,
        order: &Order,
        rules: &[VelocityRule],
    ) -> Result<Option<String>> {
        let (order, rules) = (order.clone(), rules.to_vec());
        self.readers
            .read(move |conn| risk::velocity_refusal(&rules, &order, |q| tally(conn, q)))
            .await
    }

    async fn set_review_threshold(
        &self,
        merchant_id: i64,
        currency: Currency,
        above: Option<Decimal>,
        at: Timestamp,
    ) -> Result<()> {
        self.writer
            .write(move |conn| {
                match above {
                    Some(above) => conn.execute(
                        "INSERT INTO review_thresholds (merchant_id, currency, above, updated_at)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (merchant_id, currency) DO UPDATE SET above = excluded.above,
                            updated_at = excluded.updated_at",
                        params![
                            merchant_id,
                            currency.code(),
                            format_amount(above, currency),
                            at
                        ],
                    ),
                    None => conn.execute(
                        "DELETE FROM review_thresholds WHERE merchant_id = ?1 AND currency = ?2",
                        params![merchant_id, currency.code()],
                    ),
                }
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn review_thresholds(&self) -> Result<Vec<ReviewThreshold>> {
        self.readers
            .read(|conn| {
                collect(
                    conn,
                    "SELECT merchant_id, currency, above FROM review_thresholds
                     ORDER BY merchant_id, currency",
                    [],
                    |r| rows::review_threshold(r),
                )
            })
            .await
    }

    async fn payouts_in_review(&self, limit: u32) -> Result<Vec<Order>> {
        self.readers
            .read(move |conn| {
                collect(
                    conn,
                    &format!(
                        "SELECT {ORDER_COLUMNS} FROM orders
                         WHERE payment_status = 'preparing' AND transaction_type = 'expense'
                         ORDER BY id LIMIT ?1"
                    ),
                    params![limit],
                    |r| rows::order(r),
                )
            })
            .await
    }
}

/// Counts a change of the blocklists, in the change's transaction.
fn bump_version(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('blocklist_version', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        [],
    )
    .map_err(db)?;
    Ok(())
}

/// What the stored orders a velocity rule asks about add up to (`risk::WindowQuery`), read on
/// `conn` (the writer's, inside the transaction that stores the new order, or a reader's).
pub(crate) fn tally(conn: &rusqlite::Connection, q: &risk::WindowQuery) -> Result<risk::Tally> {
    let column = rows::velocity_column(q.subject.subject);
    let kind = q
        .subject
        .transaction_type
        .map(|t| t.as_str())
        .unwrap_or_default();
    // SQLite's LIMIT -1 is no limit. `<> ''` lets the partial index (of orders with a value)
    // answer.
    let limit = q.limit.map_or(-1, i64::from);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT currency, amount FROM orders
             WHERE merchant_id = ?1 AND {column} = ?2 AND {column} <> '' AND created_at >= ?3
               AND payment_status <> 'reject' AND (?4 = '' OR transaction_type = ?4)
             LIMIT ?5"
        ))
        .map_err(db)?;
    let mut rows = stmt
        .query(params![
            q.subject.book_id,
            q.subject.value,
            q.since,
            kind,
            limit
        ])
        .map_err(db)?;
    let mut orders = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        let currency: String = row.get(0).map_err(db)?;
        let currency = Currency::parse(&currency)
            .ok_or(octopus_storage::StorageError::Corrupt("orders.currency"))?;
        // Only the rule's currency is summed: the other amounts need not be parsed.
        let amount = if q.subject.currency == Some(currency) {
            let amount: String = row.get(1).map_err(db)?;
            amount
                .parse()
                .map_err(|_| octopus_storage::StorageError::Corrupt("orders.amount"))?
        } else {
            Decimal::ZERO
        };
        orders.push((currency, amount));
    }
    Ok(risk::Tally::of(&q.subject, orders))
}
