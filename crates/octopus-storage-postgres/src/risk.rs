//! Merchant safety in PostgreSQL: blocklist entries looked up by their `kind:value` keys (one
//! indexed statement per order, however many entries), velocity rules and the recent orders
//! they count, and payout review thresholds (see `octopus_storage::risk`).

use async_trait::async_trait;
use octopus_domain::risk::{self, BlockKind, ReviewThreshold, VelocityRule};
use octopus_domain::{Currency, Order, Timestamp};
use octopus_storage::rows::{self, BLOCK_SELECT, ORDER_COLUMNS, VELOCITY_COLUMNS};
use octopus_storage::{BlockEntry, NewBlockEntry, Result, Risk, StorageError};
use rust_decimal::Decimal;

use crate::columns::PgRow;
use crate::{db, PostgresStorage};

#[async_trait]
impl Risk for PostgresStorage {
    async fn add_blocks(&self, entries: Vec<NewBlockEntry>) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO blocklist (merchant_id, entry_key, kind, value, reason, author,
                    created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (entry_key, merchant_id) DO UPDATE SET reason = excluded.reason,
                    author = excluded.author, created_at = excluded.created_at,
                    expires_at = excluded.expires_at",
            )
            .await
            .map_err(db)?;
        for e in &entries {
            tx.execute(
                &stmt,
                &[
                    &e.merchant_id,
                    &risk::entry_key(e.kind, &e.value),
                    &e.kind.as_str(),
                    &e.value,
                    &e.reason,
                    &e.author,
                    &e.created_at,
                    &e.expires_at,
                ],
            )
            .await
            .map_err(db)?;
        }
        bump_version(&tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(entries.len() as u64)
    }

    async fn remove_block(&self, merchant_id: i64, kind: BlockKind, value: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "DELETE FROM blocklist WHERE entry_key = $1 AND merchant_id = $2",
                &[&risk::entry_key(kind, value), &merchant_id],
            )
            .await
            .map_err(db)?;
        if n > 0 {
            bump_version(&tx).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(n > 0)
    }

    async fn blocks(
        &self,
        merchant_id: Option<i64>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<BlockEntry>> {
        let client = self.client().await?;
        let limit = i64::from(limit);
        let rows = match merchant_id {
            Some(m) => {
                client
                    .query(
                        &format!(
                            "{BLOCK_SELECT} WHERE b.merchant_id = $1 AND b.id > $2
                             ORDER BY b.id LIMIT $3"
                        ),
                        &[&m, &after_id, &limit],
                    )
                    .await
            }
            None => {
                client
                    .query(
                        &format!("{BLOCK_SELECT} WHERE b.id > $1 ORDER BY b.id LIMIT $2"),
                        &[&after_id, &limit],
                    )
                    .await
            }
        }
        .map_err(db)?;
        rows.iter()
            .map(|r| rows::block_entry(&PgRow::new(r)))
            .collect()
    }

    async fn block(
        &self,
        merchant_id: i64,
        kind: BlockKind,
        value: &str,
    ) -> Result<Option<BlockEntry>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("{BLOCK_SELECT} WHERE b.entry_key = $1 AND b.merchant_id = $2"),
                &[&risk::entry_key(kind, value), &merchant_id],
            )
            .await
            .map_err(db)?;
        row.map(|r| rows::block_entry(&PgRow::new(&r))).transpose()
    }

    async fn blocklist_version(&self) -> Result<i64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT value FROM settings WHERE key = 'blocklist_version'")
            .await
            .map_err(db)?;
        match client.query_opt(&stmt, &[]).await.map_err(db)? {
            None => Ok(0),
            Some(row) => row
                .get::<_, String>(0)
                .parse()
                .map_err(|_| StorageError::Corrupt("settings.value")),
        }
    }

    async fn add_velocity_rule(&self, rule: VelocityRule, at: Timestamp) -> Result<i64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO velocity_rules (merchant_id, subject, transaction_type,
                    window_seconds, max_orders, max_volume, currency, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &rule.merchant_id,
                    &rule.subject.as_str(),
                    &rule
                        .transaction_type
                        .map(|t| t.as_str())
                        .unwrap_or_default(),
                    &rule.window_seconds,
                    &rule.max_orders.map(i64::from),
                    &rule.max_volume,
                    &rule.currency.map(|c| c.code()).unwrap_or_default(),
                    &at,
                ],
            )
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }

    async fn remove_velocity_rule(&self, id: i64) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM velocity_rules WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn velocity_rules(&self) -> Result<Vec<VelocityRule>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {VELOCITY_COLUMNS} FROM velocity_rules ORDER BY id"
            ))
            .await
            .map_err(db)?;
        let rows = client.query(&stmt, &[]).await.map_err(db)?;
        rows.iter()
            .map(|r| rows::velocity_rule(&PgRow::new(r)))
            .collect()
    }

    async fn velocity_refusal(
        &self,
        order: &Order,
        rules: &[VelocityRule],
    ) -> Result<Option<String>> {
        let client = self.client().await?;
        let counted = crate::velocity::load(&client, &[(order, rules)], false)
            .await
            .map_err(db)?;
        Ok(counted.refusal(0, order, rules))
    }

    async fn set_review_threshold(
        &self,
        merchant_id: i64,
        currency: Currency,
        above: Option<Decimal>,
        at: Timestamp,
    ) -> Result<()> {
        let client = self.client().await?;
        match above {
            Some(above) => {
                client
                    .execute(
                        "INSERT INTO review_thresholds (merchant_id, currency, above, updated_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (merchant_id, currency) DO UPDATE SET above = excluded.above,
                            updated_at = excluded.updated_at",
                        &[&merchant_id, &currency.code(), &above, &at],
                    )
                    .await
            }
            None => {
                client
                    .execute(
                        "DELETE FROM review_thresholds WHERE merchant_id = $1 AND currency = $2",
                        &[&merchant_id, &currency.code()],
                    )
                    .await
            }
        }
        .map_err(db)?;
        Ok(())
    }

    async fn review_thresholds(&self) -> Result<Vec<ReviewThreshold>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT merchant_id, currency, above FROM review_thresholds
                 ORDER BY merchant_id, currency",
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| rows::review_threshold(&PgRow::new(r)))
            .collect()
    }

    async fn payouts_in_review(&self, limit: u32) -> Result<Vec<Order>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM orders
                     WHERE payment_status = 'preparing' AND transaction_type = 'expense'
                     ORDER BY id LIMIT $1"
                ),
                &[&i64::from(limit)],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| rows::order(&PgRow::new(r))).collect()
    }
}

/// Counts a change of the blocklists, in the change's transaction.
async fn bump_version(tx: &deadpool_postgres::Transaction<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ('blocklist_version', '1')
         ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text",
        &[],
    )
    .await
    .map_err(db)?;
    Ok(())
}
