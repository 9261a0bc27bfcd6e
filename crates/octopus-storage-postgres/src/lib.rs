//! The PostgreSQL backend, for operators who outgrow one machine: several Octopus nodes share
//! one database through a pool of connections each. Migrations take an advisory lock so nodes
//! starting together apply them once; background claims use `FOR UPDATE SKIP LOCKED` so two
//! nodes never take the same work.

mod accounts;
mod callbacks;
mod channels;
mod columns;
mod group_insert;
mod group_write;
mod grouping;
mod ledger;
mod operators;
mod orders;
mod risk;
mod schema;
mod search;
mod upstream;
mod velocity;

use std::str::FromStr;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use ipnet::IpNet;
use octopus_domain::account::{Account, AccountLoad};
use octopus_domain::device::Device;
use octopus_domain::ledger::JournalEntry;
use octopus_domain::ledger::LedgerReport;
use octopus_domain::merchant::format_allowlist;
use octopus_domain::risk::VelocityRule;
use octopus_domain::routing::RoutingDecision;
use octopus_domain::transfer::{Transfer, TransferStatus};
use octopus_domain::{
    Channel, Currency, Merchant, Mode, Order, OrderEvent, RequestFields, StatusChange, Timestamp,
};
use octopus_storage::{Accounts, Devices, Recorded, Transfers};
use octopus_storage::{
    ApiKeys, AttemptRecord, Balance, Callback, CallbackAttempt, CallbackHistory, CallbackOutbox,
    ChannelSetup, ChannelStore, ClaimRoom, CreateOutcome, FeeSchedule, FeeSchedules, HostBacklog,
    Ledger, MerchantEntry, Merchants, NewApiKey, NewMerchant, Orders, Result, Settings, Storage,
    StorageError, StoredApiKey, UpstreamExchange, UpstreamLog,
};
use rust_decimal::Decimal;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use columns::PgRow;
use octopus_storage::rows::{self, API_KEY_COLUMNS, API_KEY_FROM};

/// Connections per node unless configured otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

pub struct PostgresStorage {
    pool: Pool,
    group_insert: group_insert::GroupInsert,
    group_write: group_write::GroupWrite,
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user@host:port/db`), checks the connection and applies
    /// pending migrations.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PostgresStorage> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StorageError::Setup(format!("invalid database URL: {e}")))?;
        // Octopus finds every row it reads or changes by a key. A statement's cached plan made
        // while a table was small (where a sequential scan is cheapest) would otherwise stay
        // in use as the table grows; this keeps plans on the indexes. (Verification, which
        // reads whole tables, turns it back on for its transaction.)
        let options = format!(
            "{} -c enable_seqscan=off",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim());
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| StorageError::Setup(format!("cannot build the connection pool: {e}")))?;
        let storage = PostgresStorage {
            group_insert: group_insert::GroupInsert::start(pool.clone()),
            group_write: group_write::GroupWrite::start(pool.clone()),
            pool,
        };
        {
            let mut client =
                storage.pool.get().await.map_err(|e| {
                    StorageError::Setup(format!("cannot connect to PostgreSQL: {e}"))
                })?;
            schema::migrate(&mut client).await?;
        }
        Ok(storage)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::Database(format!("no database connection: {e}")))
    }
}

/// Maps a PostgreSQL error to the storage error (the text goes to logs only).
pub(crate) fn db(e: tokio_postgres::Error) -> StorageError {
    StorageError::Database(e.to_string())
}

/// Maps a unique violation to `Conflict(what)`, anything else to a database error.
fn conflict_or_db(what: String) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    move |e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StorageError::Conflict(what)
        } else {
            db(e)
        }
    }
}

async fn insert_api_key<C: deadpool_postgres::GenericClient>(
    client: &C,
    key: &NewApiKey,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO api_keys (api_key, merchant_id, sealed_secret, created_at, label,
                expires_at, allowed_ips)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &key.api_key,
                &key.merchant_id,
                &key.sealed_secret,
                &key.created_at,
                &key.label,
                &key.expires_at,
                &format_allowlist(&key.allowed_ips),
            ],
        )
        .await
        .map_err(conflict_or_db("api key".into()))?;
    Ok(())
}

async fn merchant_where<C: deadpool_postgres::GenericClient>(
    client: &C,
    condition: &str,
    id: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<Merchant>> {
    let row = client
        .query_opt(
            &format!("{} WHERE {condition}", rows::MERCHANT_SELECT),
            &[id],
        )
        .await
        .map_err(db)?;
    row.as_ref()
        .map(|r| rows::merchant(&PgRow::new(r)))
        .transpose()
}

impl Storage for PostgresStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[async_trait]
impl Settings for PostgresStorage {
    async fn gauges(&self, now: Timestamp) -> Result<octopus_storage::gauges::Gauges> {
        let client = self.client().await?;
        search::gauges(&client, now).await
    }

    async fn schema_versions(&self) -> Result<(i64, i64)> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await
            .map_err(db)?;
        Ok((row.try_get(0).map_err(db)?, schema::newest()))
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT value FROM settings WHERE key = $1", &[&key])
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn init_setting(&self, key: &str, value: &str) -> Result<String> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )
            .await
            .map_err(db)?;
        let row = client
            .query_one("SELECT value FROM settings WHERE key = $1", &[&key])
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }
}

#[async_trait]
impl Merchants for PostgresStorage {
    async fn create_merchant(&self, m: NewMerchant) -> Result<Merchant> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let row = tx
            .query_one(
                "INSERT INTO merchants (uid, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[&m.uid, &m.name, &m.created_at],
            )
            .await
            .map_err(conflict_or_db(format!("merchant uid {}", m.uid)))?;
        let id: i64 = row.get(0);
        insert_api_key(
            &tx,
            &NewApiKey {
                merchant_id: id,
                api_key: m.api_key,
                sealed_secret: m.sealed_secret,
                label: String::new(),
                expires_at: None,
                allowed_ips: Vec::new(),
                created_at: m.created_at,
            },
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(Merchant {
            id,
            uid: m.uid,
            name: m.name,
            created_at: m.created_at,
            mode: Mode::Live,
            owner_id: id,
        })
    }

    async fn merchant_count(&self) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT COUNT(*) FROM merchants WHERE live_id IS NULL", &[])
            .await
            .map_err(db)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn merchant_by_uid(&self, uid: &str) -> Result<Option<Merchant>> {
        let client = self.client().await?;
        merchant_where(&client, "m.uid = $1 AND m.live_id IS NULL", &uid).await
    }

    async fn set_merchant_disabled(
        &self,
        uid: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<bool> {
        let client = self.client().await?;
        let value = disabled.then_some(at);
        let n = client
            .execute(
                "UPDATE merchants SET disabled_at = $2 WHERE uid = $1 AND live_id IS NULL",
                &[&uid, &value],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn merchant_disabled(&self, uid: &str) -> Result<Option<bool>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT disabled_at FROM merchants WHERE uid = $1 AND live_id IS NULL",
                &[&uid],
            )
            .await
            .map_err(db)?;
        Ok(row.map(|r| r.get::<_, Option<i64>>(0).is_some()))
    }

    async fn merchants(&self, after_id: i64, limit: u32) -> Result<Vec<Merchant>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "{} WHERE m.live_id IS NULL AND m.id > $1 ORDER BY m.id LIMIT $2",
                    rows::MERCHANT_SELECT
                ),
                &[&after_id, &i64::from(limit)],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| rows::merchant(&PgRow::new(r)))
            .collect()
    }

    async fn test_book(&self, owner_id: i64, at: Timestamp) -> Result<Merchant> {
        let client = self.client().await?;
        if let Some(book) = merchant_where(&client, "m.live_id = $1", &owner_id).await? {
            return Ok(book);
        }
        let live = merchant_where(&client, "m.id = $1 AND m.live_id IS NULL", &owner_id)
            .await?
            .ok_or(StorageError::NotFound)?;
        // The book's own uid is never shown (it answers with its merchant's). Two nodes
        // creating it at once: one insert wins, both read it.
        client
            .execute(
                "INSERT INTO merchants (uid, name, created_at, live_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&format!("{}~test", live.uid), &live.name, &at, &owner_id],
            )
            .await
            .map_err(db)?;
        merchant_where(&client, "m.live_id = $1", &owner_id)
            .await?
            .ok_or(StorageError::NotFound)
    }
}

#[async_trait]
impl ApiKeys for PostgresStorage {
    async fn add_api_key(&self, key: NewApiKey) -> Result<()> {
        let client = self.client().await?;
        insert_api_key(&client, &key).await
    }

    async fn api_key(&self, api_key: &str) -> Result<Option<StoredApiKey>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {API_KEY_COLUMNS} FROM {API_KEY_FROM}
                 WHERE k.api_key = $1"
            ))
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&api_key]).await.map_err(db)?;
        row.as_ref()
            .map(|r| rows::api_key(&PgRow::new(r)))
            .transpose()
    }

    async fn api_keys_of(&self, owner_id: i64) -> Result<Vec<StoredApiKey>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {API_KEY_COLUMNS} FROM {API_KEY_FROM}
                     WHERE m.id = $1 OR m.live_id = $1
                     ORDER BY k.created_at DESC, k.api_key"
                ),
                &[&owner_id],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| rows::api_key(&PgRow::new(r))).collect()
    }

    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE api_key = $1 AND revoked_at IS NULL",
                &[&api_key, &at],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    async fn set_api_key_expiry(
        &self,
        api_key: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET expires_at = $2 WHERE api_key = $1 AND revoked_at IS NULL",
                &[&api_key, &expires_at],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    async fn set_api_key_allowlist(&self, api_key: &str, allowed_ips: &[IpNet]) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE api_keys SET allowed_ips = $2 WHERE api_key = $1 AND revoked_at IS NULL",
                &[&api_key, &format_allowlist(allowed_ips)],
            )
            .await
            .map_err(db)?;
        Ok(n == 1)
    }

    async fn api_key_used(&self, api_key: &str, at: Timestamp) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("UPDATE api_keys SET last_used_at = $2 WHERE api_key = $1")
            .await
            .map_err(db)?;
        client.execute(&stmt, &[&api_key, &at]).await.map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl Orders for PostgresStorage {
    async fn create_order_counted(
        &self,
        order: Order,
        final_amounts: Vec<Decimal>,
        rules: Vec<VelocityRule>,
    ) -> Result<CreateOutcome> {
        if !octopus_domain::decision::needs_to_create(&order).is_empty() {
            // An order that posts when created (a payout's hold) is decided in a group, with
            // the merchant's accounts locked.
            return self.group_write.create_payout(order, rules).await;
        }
        if final_amounts.is_empty() {
            return self.group_insert.create(order, rules).await;
        }
        // Floating amounts may need several tries; they take the one-by-one path.
        let mut client = self.client().await?;
        orders::create_counted(&mut client, order, &final_amounts, &rules).await
    }

    async fn order_by_merchant_order_id(
        &self,
        merchant_id: i64,
        merchant_order_id: &str,
    ) -> Result<Option<Order>> {
        let client = self.client().await?;
        orders::by_merchant_order_id(&client, merchant_id, merchant_order_id).await
    }

    async fn order_by_payment_uid(&self, payment_uid: &str) -> Result<Option<Order>> {
        let client = self.client().await?;
        orders::by_payment_uid(&client, payment_uid, false).await
    }

    async fn search_orders(
        &self,
        query: &octopus_storage::OrderQuery,
    ) -> Result<octopus_storage::OrderPage> {
        let client = self.client().await?;
        search::search(&client, query).await
    }

    async fn order_stats(
        &self,
        since: Timestamp,
        test: bool,
    ) -> Result<Vec<octopus_storage::OrderStat>> {
        let client = self.client().await?;
        search::stats(&client, since, test).await
    }

    async fn health_samples(&self, since: Timestamp) -> Result<octopus_storage::HealthSamples> {
        let client = self.client().await?;
        search::health(&client, since).await
    }

    async fn change_status(&self, payment_uid: &str, change: StatusChange) -> Result<Order> {
        self.group_write.change_status(payment_uid, change).await
    }

    async fn order_events(&self, payment_uid: &str) -> Result<Vec<OrderEvent>> {
        let client = self.client().await?;
        orders::events(&client, payment_uid).await
    }

    async fn set_next_check(&self, payment_uid: &str, at: Option<Timestamp>) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE orders SET next_check_at = $1 WHERE payment_uid = $2",
                &[&at, &payment_uid],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn claim_due_checks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Order>> {
        let client = self.client().await?;
        orders::claim_due_checks(&client, now, lease_ms, limit).await
    }

    async fn expired_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<String>> {
        let client = self.client().await?;
        // An overdue order keeps `expires_at` as the end of its late grace: it has expired
        // already (`release_held_amounts` frees its amount then).
        let rows = client
            .query(orders::EXPIRED.as_str(), &[&now, &(limit as i64)])
            .await
            .map_err(db)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn order_count(&self, merchant_id: i64) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FROM orders WHERE merchant_id = $1",
                &[&merchant_id],
            )
            .await
            .map_err(db)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn reroute_order(
        &self,
        payment_uid: &str,
        channel: &str,
        distribute_rules: &RoutingDecision,
        at: Timestamp,
    ) -> Result<()> {
        let client = self.client().await?;
        let changed = client
            .execute(
                orders::REROUTE.as_str(),
                &[&channel, &distribute_rules.to_json(), &at, &payment_uid],
            )
            .await
            .map_err(db)?;
        if changed == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    async fn accounting_failures(&self, limit: u32) -> Result<Vec<String>> {
        let client = self.client().await?;
        let rows = client
            .query(orders::ACCOUNTING_FAILURES.as_str(), &[&(limit as i64)])
            .await
            .map_err(db)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn retry_accounting(&self, payment_uid: &str, at: Timestamp) -> Result<Order> {
        let mut client = self.client().await?;
        orders::retry_accounting(&mut client, payment_uid, at).await
    }
}

#[async_trait]
impl FeeSchedules for PostgresStorage {
    async fn set_fee_rule(
        &self,
        merchant_id: i64,
        schedule: &FeeSchedule,
        at: Timestamp,
    ) -> Result<()> {
        let client = self.client().await?;
        ledger::set_fee_rule(
            &client,
            merchant_id,
            schedule.payment.as_stored(),
            schedule.accounting_type.as_stored(),
            &schedule.rule,
            at,
        )
        .await
    }

    async fn fee_rules(&self, merchant_id: i64) -> Result<Vec<FeeSchedule>> {
        let client = self.client().await?;
        ledger::fee_rules(&client, merchant_id).await
    }
}

#[async_trait]
impl Ledger for PostgresStorage {
    async fn balances(&self, merchant_id: i64) -> Result<Vec<Balance>> {
        let client = self.client().await?;
        ledger::balances(&client, merchant_id).await
    }

    async fn merchant_entries(
        &self,
        merchant_id: i64,
        currency: Option<Currency>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MerchantEntry>> {
        let client = self.client().await?;
        ledger::merchant_entries(&client, merchant_id, currency, before, limit, None).await
    }

    async fn order_entries(&self, order: &Order) -> Result<Vec<MerchantEntry>> {
        let client = self.client().await?;
        ledger::merchant_entries(&client, order.merchant_id, None, None, 1000, Some(order.id)).await
    }

    async fn verify_ledger(&self) -> Result<LedgerReport> {
        let mut client = self.client().await?;
        ledger::verify(&mut client).await
    }
}

#[async_trait]
impl CallbackOutbox for PostgresStorage {
    async fn claim_callbacks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        room: &ClaimRoom,
    ) -> Result<Vec<Callback>> {
        let client = self.client().await?;
        callbacks::claim(&client, now, lease_ms, room).await
    }

    async fn release_callbacks(&self, claims: &[(i64, Timestamp)]) -> Result<()> {
        let client = self.client().await?;
        callbacks::release(&client, claims).await
    }

    async fn callback_backlog(&self, now: Timestamp, hosts: &[String]) -> Result<Vec<HostBacklog>> {
        let client = self.client().await?;
        callbacks::backlog(&client, now, hosts).await
    }

    async fn record_callback_attempts(
        &self,
        records: Vec<AttemptRecord>,
        at: Timestamp,
    ) -> Result<()> {
        let mut client = self.client().await?;
        callbacks::record(&mut client, &records, at).await
    }
}

#[async_trait]
impl CallbackHistory for PostgresStorage {
    async fn callbacks_of(
        &self,
        payment_uid: &str,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>> {
        let client = self.client().await?;
        callbacks::of_order(&client, payment_uid).await
    }

    async fn resend_callback(&self, payment_uid: &str, at: Timestamp) -> Result<Callback> {
        let mut client = self.client().await?;
        callbacks::resend(&mut client, payment_uid, at).await
    }
}

#[async_trait]
impl ChannelStore for PostgresStorage {
    async fn channels(&self) -> Result<Vec<Channel>> {
        let client = self.client().await?;
        channels::all(&client).await
    }

    async fn channel_volume(&self, channel: &str, since: Timestamp) -> Result<Decimal> {
        let client = self.client().await?;
        let row = client
            .query_one(orders::CHANNEL_VOLUME.as_str(), &[&channel, &since])
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }
}

#[async_trait]
impl ChannelSetup for PostgresStorage {
    async fn save_channel(&self, channel: Channel) -> Result<Channel> {
        let client = self.client().await?;
        channels::save(&client, &channel).await
    }

    async fn set_channel_enabled(
        &self,
        code: &str,
        enabled: bool,
        at: Timestamp,
    ) -> Result<Channel> {
        let client = self.client().await?;
        channels::set_enabled(&client, code, enabled, at).await
    }
}

#[async_trait]
impl UpstreamLog for PostgresStorage {
    async fn record_upstream(
        &self,
        payment_uid: &str,
        channel: &str,
        instructions: Option<RequestFields>,
        exchanges: Vec<UpstreamExchange>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        upstream::record(
            &mut client,
            payment_uid,
            channel,
            instructions.as_ref(),
            &exchanges,
        )
        .await
    }

    async fn add_upstream_reference(
        &self,
        payment_uid: &str,
        channel: &str,
        reference: &str,
    ) -> Result<bool> {
        let client = self.client().await?;
        upstream::add_reference(&client, payment_uid, channel, reference).await
    }

    async fn move_upstream_reference(
        &self,
        from: &str,
        to: &str,
        channel: &str,
        reference: &str,
    ) -> Result<bool> {
        let client = self.client().await?;
        upstream::move_reference(&client, from, to, channel, reference).await
    }

    async fn order_by_upstream_reference(
        &self,
        channel: &str,
        reference: &str,
    ) -> Result<Option<String>> {
        let client = self.client().await?;
        upstream::by_reference(&client, channel, reference).await
    }

    async fn upstream_of(
        &self,
        payment_uid: &str,
    ) -> Result<(Option<RequestFields>, Vec<UpstreamExchange>)> {
        let client = self.client().await?;
        upstream::of_order(&client, payment_uid).await
    }
}

#[async_trait]
impl Accounts for PostgresStorage {
    async fn add_account(&self, account: Account) -> Result<Account> {
        let client = self.client().await?;
        accounts::add_account(&client, &account).await
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        let client = self.client().await?;
        accounts::accounts(&client).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let client = self.client().await?;
        accounts::account(&client, id).await
    }

    async fn set_account_enabled(&self, id: &str, enabled: bool, at: Timestamp) -> Result<Account> {
        let client = self.client().await?;
        accounts::set_account_enabled(&client, id, enabled, at).await
    }

    async fn account_loads(&self, channel: &str, day_start: Timestamp) -> Result<Vec<AccountLoad>> {
        let client = self.client().await?;
        accounts::account_loads(&client, channel, day_start).await
    }

    async fn held_amounts(
        &self,
        channel: &str,
        account: &str,
        currency: Currency,
    ) -> Result<Vec<Decimal>> {
        let client = self.client().await?;
        accounts::held_amounts(&client, channel, account, currency).await
    }
}

#[async_trait]
impl Devices for PostgresStorage {
    async fn add_device(&self, device: Device) -> Result<Device> {
        let client = self.client().await?;
        accounts::add_device(&client, &device).await
    }

    async fn device(&self, id: &str) -> Result<Option<Device>> {
        let client = self.client().await?;
        accounts::device(&client, id).await
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        let client = self.client().await?;
        accounts::devices(&client).await
    }

    async fn revoke_device(&self, id: &str, at: Timestamp) -> Result<Device> {
        let client = self.client().await?;
        accounts::revoke_device(&client, id, at).await
    }

    async fn device_heard(&self, id: &str, at: Timestamp) -> Result<()> {
        let client = self.client().await?;
        accounts::device_heard(&client, id, at).await
    }

    async fn remember_nonce(
        &self,
        device: &str,
        nonce: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let client = self.client().await?;
        accounts::remember_nonce(&client, device, nonce, now, expires_at).await
    }
}

#[async_trait]
impl Transfers for PostgresStorage {
    async fn record_transfer(
        &self,
        transfer: Transfer,
        entry: Option<JournalEntry>,
    ) -> Result<Recorded> {
        let mut client = self.client().await?;
        accounts::record_transfer(&mut client, &transfer, entry.as_ref()).await
    }

    async fn transfer_by_reference(
        &self,
        account: &str,
        reference: &str,
    ) -> Result<Option<Transfer>> {
        let client = self.client().await?;
        accounts::transfer_by_reference(&client, account, reference).await
    }

    async fn transfer(&self, uid: &str) -> Result<Option<Transfer>> {
        let client = self.client().await?;
        accounts::transfer(&client, uid).await
    }

    async fn settle_transfer(
        &self,
        transfer: &Transfer,
        from: TransferStatus,
        entry: Option<JournalEntry>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        accounts::settle_transfer(&mut client, transfer, from, entry.as_ref()).await
    }

    async fn settle_order_by_transfer(
        &self,
        transfer: &Transfer,
        from: Option<TransferStatus>,
        entry: Option<JournalEntry>,
        payment_uid: &str,
        change: StatusChange,
    ) -> Result<octopus_storage::Settled> {
        let mut client = self.client().await?;
        accounts::settle_order_by_transfer(
            &mut client,
            transfer,
            from,
            entry.as_ref(),
            payment_uid,
            &change,
        )
        .await
    }

    async fn transfers_in(&self, status: TransferStatus, limit: u32) -> Result<Vec<Transfer>> {
        let client = self.client().await?;
        accounts::transfers_in(&client, status, limit).await
    }

    async fn deposits_on_account(
        &self,
        account: &str,
        currency: Currency,
        final_amount: Decimal,
    ) -> Result<Vec<Order>> {
        let client = self.client().await?;
        accounts::deposits_on_account(&client, account, currency, final_amount).await
    }

    async fn order_by_reference(&self, account: &str, reference: &str) -> Result<Option<Order>> {
        let client = self.client().await?;
        accounts::order_by_reference(&client, account, reference).await
    }

    async fn release_held_amounts(&self, now: Timestamp, limit: u32) -> Result<u32> {
        let client = self.client().await?;
        accounts::release_held_amounts(&client, now, limit).await
    }

    async fn pending_payouts(&self, channel: &str, limit: u32) -> Result<Vec<Order>> {
        let client = self.client().await?;
        accounts::pending_payouts(&client, channel, limit).await
    }
}
