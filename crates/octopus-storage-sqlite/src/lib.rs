//! The embedded SQLite backend, Octopus's default: one database file under the data
//! directory, in WAL mode with `synchronous=FULL`, so a commit is on disk before anyone hears
//! of it. Writes go through one writer thread with group commit ([`writer`]); reads use a
//! small pool of connections ([`read_pool`]); a background thread checkpoints the WAL so the
//! writer never stops to do it.

mod accounts;
pub mod backup;
mod callbacks;
mod channels;
mod columns;
mod ledger;
mod operators;
mod orders;
mod read_pool;
mod risk;
mod schema;
mod search;
mod upstream;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
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
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;

use columns::SqliteRow;
use octopus_storage::rows::{self, API_KEY_COLUMNS, API_KEY_FROM};
use read_pool::ReadPool;
use writer::Writer;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "octopus.db";
const READERS: usize = 4;
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

pub struct SqliteStorage {
    writer: Writer,
    readers: Arc<ReadPool>,
    stop_checkpoints: Arc<AtomicBool>,
    path: PathBuf,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<SqliteStorage> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StorageError::Setup(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let conn = connect(&path)?;
        schema::migrate(&conn)?;
        // Checkpoints run on their own thread; the writer only checkpoints if the WAL grows
        // far beyond what that thread keeps up with.
        conn.pragma_update(None, "wal_autocheckpoint", 20_000)
            .map_err(db)?;
        let writer = Writer::start(conn)
            .map_err(|e| StorageError::Setup(format!("cannot start the writer thread: {e}")))?;
        let readers = ReadPool::open(&path, READERS)?;
        let stop_checkpoints = Arc::new(AtomicBool::new(false));
        start_checkpointer(&path, Arc::clone(&stop_checkpoints))?;
        Ok(SqliteStorage {
            writer,
            readers,
            stop_checkpoints,
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        self.stop_checkpoints.store(true, Ordering::Relaxed);
    }
}

/// Process-wide SQLite settings, made once before the first connection: no memory
/// statistics (they put a global mutex on every allocation of the write path).
fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before any connection exists; if the library was
        // initialized already it refuses with SQLITE_MISUSE and changes nothing.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(rc, "SQLite memory statistics stay on");
        }
    });
}

/// Opens a connection with the settings every connection of Octopus uses.
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    configure_library();
    let conn = Connection::open(path)
        .map_err(|e| StorageError::Setup(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -16000;
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(|e| StorageError::Setup(format!("cannot configure {}: {e}", path.display())))?;
    conn.set_prepared_statement_cache_capacity(64);
    search::register_functions(&conn)
        .map_err(|e| StorageError::Setup(format!("cannot configure {}: {e}", path.display())))?;
    Ok(conn)
}

fn start_checkpointer(path: &Path, stop: Arc<AtomicBool>) -> Result<()> {
    let conn = connect(path)?;
    std::thread::Builder::new()
        .name("octopus-sqlite-checkpoint".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| StorageError::Setup(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}

/// Maps a SQLite error to the storage error (the text goes to logs only).
pub(crate) fn db(e: rusqlite::Error) -> StorageError {
    StorageError::Database(e.to_string())
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Maps a unique violation to `Conflict(what)`, anything else to a database error.
fn conflict_or_db(what: String) -> impl FnOnce(rusqlite::Error) -> StorageError {
    move |e| {
        if is_unique_violation(&e) {
            StorageError::Conflict(what)
        } else {
            db(e)
        }
    }
}

fn insert_api_key(conn: &Connection, key: &NewApiKey) -> Result<()> {
    conn.execute(
        "INSERT INTO api_keys (api_key, merchant_id, sealed_secret, created_at, label, expires_at,
            allowed_ips)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.api_key,
            key.merchant_id,
            key.sealed_secret,
            key.created_at,
            key.label,
            key.expires_at,
            format_allowlist(&key.allowed_ips)
        ],
    )
    .map_err(conflict_or_db("api key".into()))?;
    Ok(())
}

impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[async_trait]
impl Settings for SqliteStorage {
    async fn gauges(&self, now: Timestamp) -> Result<octopus_storage::gauges::Gauges> {
        self.readers
            .read(move |conn| search::gauges(conn, now))
            .await
    }

    async fn schema_versions(&self) -> Result<(i64, i64)> {
        let applied = self
            .readers
            .read(|conn| {
                conn.query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    [],
                    |r| r.get(0),
                )
                .map_err(db)
            })
            .await?;
        Ok((applied, schema::newest()))
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_string();
        self.readers
            .read(move |conn| {
                conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db)
            })
            .await
    }

    async fn init_setting(&self, key: &str, value: &str) -> Result<String> {
        let (key, value) = (key.to_string(), value.to_string());
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                    params![key, value],
                )
                .map_err(db)?;
                conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
                    .map_err(db)
            })
            .await
    }
}

#[async_trait]
impl Merchants for SqliteStorage {
    async fn create_merchant(&self, m: NewMerchant) -> Result<Merchant> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO merchants (uid, name, created_at) VALUES (?1, ?2, ?3)",
                    params![m.uid, m.name, m.created_at],
                )
                .map_err(conflict_or_db(format!("merchant uid {}", m.uid)))?;
                let id = conn.last_insert_rowid();
                insert_api_key(
                    conn,
                    &NewApiKey {
                        merchant_id: id,
                        api_key: m.api_key,
                        sealed_secret: m.sealed_secret,
                        label: String::new(),
                        expires_at: None,
                        allowed_ips: Vec::new(),
                        created_at: m.created_at,
                    },
                )?;
                Ok(Merchant {
                    id,
                    uid: m.uid,
                    name: m.name,
                    created_at: m.created_at,
                    mode: Mode::Live,
                    owner_id: id,
                })
            })
            .await
    }

    async fn merchant_count(&self) -> Result<u64> {
        self.readers
            .read(|conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM merchants WHERE live_id IS NULL",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(db)
            })
            .await
    }

    async fn merchant_by_uid(&self, uid: &str) -> Result<Option<Merchant>> {
        let uid = uid.to_string();
        self.readers
            .read(move |conn| {
                merchant_where(conn, "m.uid = ?1 AND m.live_id IS NULL", params![uid])
            })
            .await
    }

    async fn set_merchant_disabled(
        &self,
        uid: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<bool> {
        let uid = uid.to_string();
        let value = disabled.then_some(at);
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE merchants SET disabled_at = ?2 WHERE uid = ?1 AND live_id IS NULL",
                        params![uid, value],
                    )
                    .map_err(db)?;
                Ok(n > 0)
            })
            .await
    }

    async fn merchant_disabled(&self, uid: &str) -> Result<Option<bool>> {
        let uid = uid.to_string();
        self.readers
            .read(move |conn| {
                conn.query_row(
                    "SELECT disabled_at FROM merchants WHERE uid = ?1 AND live_id IS NULL",
                    params![uid],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .optional()
                .map(|found| found.map(|at| at.is_some()))
                .map_err(db)
            })
            .await
    }

    async fn merchants(&self, after_id: i64, limit: u32) -> Result<Vec<Merchant>> {
        self.readers
            .read(move |conn| {
                accounts::collect(
                    conn,
                    &format!(
                        "{} WHERE m.live_id IS NULL AND m.id > ?1 ORDER BY m.id LIMIT ?2",
                        rows::MERCHANT_SELECT
                    ),
                    params![after_id, limit],
                    |r| rows::merchant(r),
                )
            })
            .await
    }

    async fn test_book(&self, owner_id: i64, at: Timestamp) -> Result<Merchant> {
        self.writer
            .write(move |conn| {
                if let Some(book) = merchant_where(conn, "m.live_id = ?1", params![owner_id])? {
                    return Ok(book);
                }
                let live = merchant_where(conn, "m.id = ?1 AND m.live_id IS NULL", params![owner_id])?
                    .ok_or(StorageError::NotFound)?;
                // The book's own uid is never shown (it answers with its merchant's).
                conn.execute(
                    "INSERT INTO merchants (uid, name, created_at, live_id) VALUES (?1, ?2, ?3, ?4)",
                    params![format!("{}~test", live.uid), live.name, at, owner_id],
                )
                .map_err(db)?;
                merchant_where(conn, "m.live_id = ?1", params![owner_id])?
                    .ok_or(StorageError::NotFound)
            })
            .await
    }
}

fn merchant_where(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Option<Merchant>> {
    conn.query_row(
        &format!("{} WHERE {condition}", rows::MERCHANT_SELECT),
        params,
        |r| Ok(rows::merchant(&SqliteRow::new(r))),
    )
    .optional()
    .map_err(db)?
    .transpose()
}

#[async_trait]
impl ApiKeys for SqliteStorage {
    async fn add_api_key(&self, key: NewApiKey) -> Result<()> {
        self.writer
            .write(move |conn| insert_api_key(conn, &key))
            .await
    }

    async fn api_key(&self, api_key: &str) -> Result<Option<StoredApiKey>> {
        let api_key = api_key.to_string();
        self.readers
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM {API_KEY_FROM}
                     WHERE k.api_key = ?1"
                ))
                .map_err(db)?
                .query_row([api_key], |r| Ok(rows::api_key(&SqliteRow::new(r))))
                .optional()
                .map_err(db)?
                .transpose()
            })
            .await
    }

    async fn api_keys_of(&self, owner_id: i64) -> Result<Vec<StoredApiKey>> {
        self.readers
            .read(move |conn| {
                accounts::collect(
                    conn,
                    &format!(
                        "SELECT {API_KEY_COLUMNS} FROM {API_KEY_FROM}
                         WHERE m.id = ?1 OR m.live_id = ?1
                         ORDER BY k.created_at DESC, k.api_key"
                    ),
                    params![owner_id],
                    |r| rows::api_key(r),
                )
            })
            .await
    }

    async fn revoke_api_key(&self, api_key: &str, at: Timestamp) -> Result<bool> {
        let api_key = api_key.to_string();
        self.writer
            .write(move |conn| {
                conn.execute(
                    "UPDATE api_keys SET revoked_at = ?2 WHERE api_key = ?1 AND revoked_at IS NULL",
                    params![api_key, at],
                )
                .map(|n| n == 1)
                .map_err(db)
            })
            .await
    }

    async fn set_api_key_expiry(
        &self,
        api_key: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<bool> {
        let api_key = api_key.to_string();
        self.writer
            .write(move |conn| {
                conn.execute(
                    "UPDATE api_keys SET expires_at = ?2 WHERE api_key = ?1 AND revoked_at IS NULL",
                    params![api_key, expires_at],
                )
                .map(|n| n == 1)
                .map_err(db)
            })
            .await
    }

    async fn set_api_key_allowlist(&self, api_key: &str, allowed_ips: &[IpNet]) -> Result<bool> {
        let (api_key, allowed) = (api_key.to_string(), format_allowlist(allowed_ips));
        self.writer
            .write(move |conn| {
                conn.execute(
                    "UPDATE api_keys SET allowed_ips = ?2 WHERE api_key = ?1 AND revoked_at IS NULL",
                    params![api_key, allowed],
                )
                .map(|n| n == 1)
                .map_err(db)
            })
            .await
    }

    async fn api_key_used(&self, api_key: &str, at: Timestamp) -> Result<()> {
        let api_key = api_key.to_string();
        self.writer
            .write_checked(move |conn| {
                conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE api_key = ?1")
                    .map_err(db)?
                    .execute(params![api_key, at])
                    .map_err(db)?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl Orders for SqliteStorage {
    async fn create_order_counted(
        &self,
        order: Order,
        final_amounts: Vec<Decimal>,
        rules: Vec<VelocityRule>,
    ) -> Result<CreateOutcome> {
        // Every refusal (a conflict, no balance for a payout's hold) comes before any write.
        self.writer
            .write_checked(move |conn| orders::create(conn, order, &final_amounts, &rules))
            .await
    }

    async fn order_by_merchant_order_id(
        &self,
        merchant_id: i64,
        merchant_order_id: &str,
    ) -> Result<Option<Order>> {
        let merchant_order_id = merchant_order_id.to_string();
        self.readers
            .read(move |conn| orders::by_merchant_order_id(conn, merchant_id, &merchant_order_id))
            .await
    }

    async fn order_by_payment_uid(&self, payment_uid: &str) -> Result<Option<Order>> {
        let payment_uid = payment_uid.to_string();
        self.readers
            .read(move |conn| orders::by_payment_uid(conn, &payment_uid))
            .await
    }

    async fn search_orders(
        &self,
        query: &octopus_storage::OrderQuery,
    ) -> Result<octopus_storage::OrderPage> {
        let query = query.clone();
        self.readers
            .read(move |conn| search::search(conn, &query))
            .await
    }

    async fn order_stats(
        &self,
        since: Timestamp,
        test: bool,
    ) -> Result<Vec<octopus_storage::OrderStat>> {
        self.readers
            .read(move |conn| search::stats(conn, since, test))
            .await
    }

    async fn health_samples(&self, since: Timestamp) -> Result<octopus_storage::HealthSamples> {
        self.readers
            .read(move |conn| search::health(conn, since))
            .await
    }

    async fn change_status(&self, payment_uid: &str, change: StatusChange) -> Result<Order> {
        let payment_uid = payment_uid.to_string();
        // Every refusal (an illegal move, a refund without balance) comes before any write.
        self.writer
            .write_checked(move |conn| orders::change_status(conn, &payment_uid, &change))
            .await
    }

    async fn order_events(&self, payment_uid: &str) -> Result<Vec<OrderEvent>> {
        let payment_uid = payment_uid.to_string();
        self.readers
            .read(move |conn| orders::events(conn, &payment_uid))
            .await
    }

    async fn set_next_check(&self, payment_uid: &str, at: Option<Timestamp>) -> Result<()> {
        let uid = payment_uid.to_string();
        self.writer
            .write(move |conn| {
                conn.prepare_cached("UPDATE orders SET next_check_at = ?1 WHERE payment_uid = ?2")
                    .map_err(db)?
                    .execute(rusqlite::params![at, uid])
                    .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn claim_due_checks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Order>> {
        self.writer
            .write(move |conn| orders::claim_due_checks(conn, now, lease_ms, limit))
            .await
    }

    async fn expired_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<String>> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT payment_uid FROM orders WHERE expires_at <= ?1
                           AND payment_status <> 'overdue'
                         ORDER BY expires_at LIMIT ?2",
                    )
                    .map_err(db)?;
                let rows = stmt
                    .query_map(params![now, limit], |r| r.get(0))
                    .map_err(db)?;
                rows.collect::<rusqlite::Result<Vec<String>>>().map_err(db)
            })
            .await
    }

    async fn order_count(&self, merchant_id: i64) -> Result<u64> {
        self.readers
            .read(move |conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM orders WHERE merchant_id = ?1",
                    [merchant_id],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(db)
            })
            .await
    }

    async fn reroute_order(
        &self,
        payment_uid: &str,
        channel: &str,
        distribute_rules: &RoutingDecision,
        at: Timestamp,
    ) -> Result<()> {
        let (uid, channel, rules) = (
            payment_uid.to_string(),
            channel.to_string(),
            distribute_rules.to_json(),
        );
        self.writer
            .write(move |conn| {
                let changed = conn
                    .prepare_cached(&orders::REROUTE)
                    .map_err(db)?
                    .execute(rusqlite::params![channel, rules, at, uid])
                    .map_err(db)?;
                if changed == 0 {
                    return Err(StorageError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn accounting_failures(&self, limit: u32) -> Result<Vec<String>> {
        self.readers
            .read(move |conn| orders::accounting_failures(conn, limit))
            .await
    }

    async fn retry_accounting(&self, payment_uid: &str, at: Timestamp) -> Result<Order> {
        let payment_uid = payment_uid.to_string();
        self.writer
            .write(move |conn| orders::retry_accounting(conn, &payment_uid, at))
            .await
    }
}

#[async_trait]
impl FeeSchedules for SqliteStorage {
    async fn set_fee_rule(
        &self,
        merchant_id: i64,
        schedule: &FeeSchedule,
        at: Timestamp,
    ) -> Result<()> {
        let schedule = schedule.clone();
        self.writer
            .write(move |conn| {
                ledger::set_fee_rule(
                    conn,
                    merchant_id,
                    schedule.payment.as_stored(),
                    schedule.accounting_type.as_stored(),
                    &schedule.rule,
                    at,
                )
            })
            .await
    }

    async fn fee_rules(&self, merchant_id: i64) -> Result<Vec<FeeSchedule>> {
        self.readers
            .read(move |conn| ledger::fee_rules(conn, merchant_id))
            .await
    }
}

#[async_trait]
impl Ledger for SqliteStorage {
    async fn balances(&self, merchant_id: i64) -> Result<Vec<Balance>> {
        self.readers
            .read(move |conn| ledger::balances(conn, merchant_id))
            .await
    }

    async fn merchant_entries(
        &self,
        merchant_id: i64,
        currency: Option<Currency>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MerchantEntry>> {
        self.readers
            .read(move |conn| {
                ledger::merchant_entries(conn, merchant_id, currency, before, limit, None)
            })
            .await
    }

    async fn order_entries(&self, order: &Order) -> Result<Vec<MerchantEntry>> {
        let (merchant_id, order_id) = (order.merchant_id, order.id);
        self.readers
            .read(move |conn| {
                ledger::merchant_entries(conn, merchant_id, None, None, 1000, Some(order_id))
            })
            .await
    }

    async fn verify_ledger(&self) -> Result<LedgerReport> {
        // One read transaction: a consistent snapshot of the whole journal.
        self.readers
            .read(|conn| {
                conn.execute_batch("BEGIN").map_err(db)?;
                let report = ledger::verify(conn);
                let _ = conn.execute_batch("COMMIT");
                report
            })
            .await
    }
}

#[async_trait]
impl CallbackOutbox for SqliteStorage {
    async fn claim_callbacks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        room: &ClaimRoom,
    ) -> Result<Vec<Callback>> {
        let room = room.clone();
        self.writer
            .write_checked(move |conn| callbacks::claim(conn, now, lease_ms, &room))
            .await
    }

    async fn release_callbacks(&self, claims: &[(i64, Timestamp)]) -> Result<()> {
        let claims = claims.to_vec();
        self.writer
            .write(move |conn| callbacks::release(conn, &claims))
            .await
    }

    async fn callback_backlog(&self, now: Timestamp, hosts: &[String]) -> Result<Vec<HostBacklog>> {
        let hosts = hosts.to_vec();
        self.readers
            .read(move |conn| callbacks::backlog(conn, now, &hosts))
            .await
    }

    async fn record_callback_attempts(
        &self,
        records: Vec<AttemptRecord>,
        at: Timestamp,
    ) -> Result<()> {
        self.writer
            .write(move |conn| callbacks::record(conn, &records, at))
            .await
    }
}

#[async_trait]
impl CallbackHistory for SqliteStorage {
    async fn callbacks_of(
        &self,
        payment_uid: &str,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>> {
        let payment_uid = payment_uid.to_string();
        self.readers
            .read(move |conn| callbacks::of_order(conn, &payment_uid))
            .await
    }

    async fn resend_callback(&self, payment_uid: &str, at: Timestamp) -> Result<Callback> {
        let payment_uid = payment_uid.to_string();
        self.writer
            .write(move |conn| callbacks::resend(conn, &payment_uid, at))
            .await
    }
}

#[async_trait]
impl ChannelStore for SqliteStorage {
    async fn channels(&self) -> Result<Vec<Channel>> {
        self.readers.read(channels::all).await
    }

    async fn channel_volume(&self, channel: &str, since: Timestamp) -> Result<Decimal> {
        let channel = channel.to_string();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&orders::CHANNEL_VOLUME).map_err(db)?;
                let amounts = stmt
                    .query_map(rusqlite::params![channel, since], |r| r.get::<_, String>(0))
                    .map_err(db)?;
                let mut sum = Decimal::ZERO;
                for amount in amounts {
                    let amount = amount.map_err(db)?;
                    sum += amount
                        .parse::<Decimal>()
                        .map_err(|_| StorageError::Corrupt("orders.amount"))?;
                }
                Ok(sum)
            })
            .await
    }
}

#[async_trait]
impl ChannelSetup for SqliteStorage {
    async fn save_channel(&self, channel: Channel) -> Result<Channel> {
        self.writer
            .write(move |conn| channels::save(conn, &channel))
            .await
    }

    async fn set_channel_enabled(
        &self,
        code: &str,
        enabled: bool,
        at: Timestamp,
    ) -> Result<Channel> {
        let code = code.to_string();
        self.writer
            .write(move |conn| channels::set_enabled(conn, &code, enabled, at))
            .await
    }
}

#[async_trait]
impl UpstreamLog for SqliteStorage {
    async fn record_upstream(
        &self,
        payment_uid: &str,
        channel: &str,
        instructions: Option<RequestFields>,
        exchanges: Vec<UpstreamExchange>,
    ) -> Result<()> {
        let (payment_uid, channel) = (payment_uid.to_string(), channel.to_string());
        self.writer
            .write(move |conn| {
                upstream::record(
                    conn,
                    &payment_uid,
                    &channel,
                    instructions.as_ref(),
                    &exchanges,
                )
            })
            .await
    }

    async fn add_upstream_reference(
        &self,
        payment_uid: &str,
        channel: &str,
        reference: &str,
    ) -> Result<bool> {
        let (uid, channel, reference) = (
            payment_uid.to_string(),
            channel.to_string(),
            reference.to_string(),
        );
        self.writer
            .write(move |conn| upstream::add_reference(conn, &uid, &channel, &reference))
            .await
    }

    async fn move_upstream_reference(
        &self,
        from: &str,
        to: &str,
        channel: &str,
        reference: &str,
    ) -> Result<bool> {
        let (from, to, channel, reference) = (
            from.to_string(),
            to.to_string(),
            channel.to_string(),
            reference.to_string(),
        );
        self.writer
            .write(move |conn| upstream::move_reference(conn, &from, &to, &channel, &reference))
            .await
    }

    async fn order_by_upstream_reference(
        &self,
        channel: &str,
        reference: &str,
    ) -> Result<Option<String>> {
        let (channel, reference) = (channel.to_string(), reference.to_string());
        self.readers
            .read(move |conn| upstream::by_reference(conn, &channel, &reference))
            .await
    }

    async fn upstream_of(
        &self,
        payment_uid: &str,
    ) -> Result<(Option<RequestFields>, Vec<UpstreamExchange>)> {
        let payment_uid = payment_uid.to_string();
        self.readers
            .read(move |conn| upstream::of_order(conn, &payment_uid))
            .await
    }
}

#[async_trait]
impl Accounts for SqliteStorage {
    async fn add_account(&self, account: Account) -> Result<Account> {
        self.writer
            .write(move |conn| accounts::add_account(conn, &account))
            .await
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        self.readers.read(accounts::accounts).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let id = id.to_string();
        self.readers
            .read(move |conn| accounts::account(conn, &id))
            .await
    }

    async fn set_account_enabled(&self, id: &str, enabled: bool, at: Timestamp) -> Result<Account> {
        let id = id.to_string();
        self.writer
            .write(move |conn| accounts::set_account_enabled(conn, &id, enabled, at))
            .await
    }

    async fn account_loads(&self, channel: &str, day_start: Timestamp) -> Result<Vec<AccountLoad>> {
        let channel = channel.to_string();
        self.readers
            .read(move |conn| accounts::account_loads(conn, &channel, day_start))
            .await
    }

    async fn held_amounts(
        &self,
        channel: &str,
        account: &str,
        currency: Currency,
    ) -> Result<Vec<Decimal>> {
        let (channel, account) = (channel.to_string(), account.to_string());
        self.readers
            .read(move |conn| accounts::held_amounts(conn, &channel, &account, currency))
            .await
    }
}

#[async_trait]
impl Devices for SqliteStorage {
    async fn add_device(&self, device: Device) -> Result<Device> {
        self.writer
            .write(move |conn| accounts::add_device(conn, &device))
            .await
    }

    async fn device(&self, id: &str) -> Result<Option<Device>> {
        let id = id.to_string();
        self.readers
            .read(move |conn| accounts::device(conn, &id))
            .await
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        self.readers.read(accounts::devices).await
    }

    async fn revoke_device(&self, id: &str, at: Timestamp) -> Result<Device> {
        let id = id.to_string();
        self.writer
            .write(move |conn| accounts::revoke_device(conn, &id, at))
            .await
    }

    async fn device_heard(&self, id: &str, at: Timestamp) -> Result<()> {
        let id = id.to_string();
        self.writer
            .write(move |conn| accounts::device_heard(conn, &id, at))
            .await
    }

    async fn remember_nonce(
        &self,
        device: &str,
        nonce: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let (device, nonce) = (device.to_string(), nonce.to_string());
        // No check can refuse it after its first write (the insert is `ON CONFLICT DO NOTHING`).
        self.writer
            .write_checked(move |conn| {
                accounts::remember_nonce(conn, &device, &nonce, now, expires_at)
            })
            .await
    }
}

#[async_trait]
impl Transfers for SqliteStorage {
    async fn record_transfer(
        &self,
        transfer: Transfer,
        entry: Option<JournalEntry>,
    ) -> Result<Recorded> {
        self.writer
            .write(move |conn| accounts::record_transfer(conn, &transfer, entry.as_ref()))
            .await
    }

    async fn transfer_by_reference(
        &self,
        account: &str,
        reference: &str,
    ) -> Result<Option<Transfer>> {
        let (account, reference) = (account.to_string(), reference.to_string());
        self.readers
            .read(move |conn| accounts::transfer_by_reference(conn, &account, &reference))
            .await
    }

    async fn transfer(&self, uid: &str) -> Result<Option<Transfer>> {
        let uid = uid.to_string();
        self.readers
            .read(move |conn| accounts::transfer(conn, &uid))
            .await
    }

    async fn settle_transfer(
        &self,
        transfer: &Transfer,
        from: TransferStatus,
        entry: Option<JournalEntry>,
    ) -> Result<()> {
        let transfer = transfer.clone();
        self.writer
            .write(move |conn| accounts::settle_transfer(conn, &transfer, from, entry.as_ref()))
            .await
    }

    async fn settle_order_by_transfer(
        &self,
        transfer: &Transfer,
        from: Option<TransferStatus>,
        entry: Option<JournalEntry>,
        payment_uid: &str,
        change: StatusChange,
    ) -> Result<octopus_storage::Settled> {
        let (transfer, payment_uid) = (transfer.clone(), payment_uid.to_string());
        // Every refusal comes before the first write: the order's change is tried on a copy
        // first (a deposit's completion posts a credit, which no balance refuses), then the
        // transfer's write decides whether anything is written.
        self.writer
            .write_checked(move |conn| {
                let order =
                    orders::by_payment_uid(conn, &payment_uid)?.ok_or(StorageError::NotFound)?;
                order.clone().apply(&change)?;
                if let Some(from) = from {
                    accounts::transfer_in(conn, &transfer.uid, from)?;
                }
                match from {
                    None => {
                        if let Recorded::Existing(known) =
                            accounts::record_transfer(conn, &transfer, entry.as_ref())?
                        {
                            return Ok(octopus_storage::Settled::Existing(Box::new(known)));
                        }
                    }
                    Some(from) => accounts::settle_transfer(conn, &transfer, from, entry.as_ref())?,
                }
                let order = orders::change_status(conn, &payment_uid, &change)?;
                Ok(octopus_storage::Settled::Done(Box::new(order)))
            })
            .await
    }

    async fn transfers_in(&self, status: TransferStatus, limit: u32) -> Result<Vec<Transfer>> {
        self.readers
            .read(move |conn| accounts::transfers_in(conn, status, limit))
            .await
    }

    async fn deposits_on_account(
        &self,
        account: &str,
        currency: Currency,
        final_amount: Decimal,
    ) -> Result<Vec<Order>> {
        let account = account.to_string();
        self.readers
            .read(move |conn| accounts::deposits_on_account(conn, &account, currency, final_amount))
            .await
    }

    async fn order_by_reference(&self, account: &str, reference: &str) -> Result<Option<Order>> {
        let (account, reference) = (account.to_string(), reference.to_string());
        self.readers
            .read(move |conn| accounts::order_by_reference(conn, &account, &reference))
            .await
    }

    async fn release_held_amounts(&self, now: Timestamp, limit: u32) -> Result<u32> {
        self.writer
            .write(move |conn| accounts::release_held_amounts(conn, now, limit))
            .await
    }

    async fn pending_payouts(&self, channel: &str, limit: u32) -> Result<Vec<Order>> {
        let channel = channel.to_string();
        self.readers
            .read(move |conn| accounts::pending_payouts(conn, &channel, limit))
            .await
    }
}
