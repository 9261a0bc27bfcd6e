//! Shared helpers of the integration suite, in the manner of zero-to-production's
//! `spawn_app`: each test gets the real server on port 0 with a fresh database — a new SQLite
//! file, or a new schema on the PostgreSQL server named by `OCTOPUS_TEST_DATABASE_URL` — and
//! talks to it over real HTTP through the client library.

pub mod accounts;
pub mod admin;
pub mod chromium;
pub mod cluster;
pub mod paykassma;
pub mod raw_http;
pub mod receiver;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use octopus::backend::{self, DatabaseConfig};
use octopus_client::{Client, Payment};
use octopus_domain::secret_box::MasterKey;
use octopus_server::{Application, ServerConfig};
use octopus_storage::{NewMerchant, Storage};
use tempfile::TempDir;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Runs the listed async test functions (each taking a [`Backend`]) once on SQLite and once
/// on PostgreSQL (skipped, saying so, when `OCTOPUS_TEST_DATABASE_URL` is not set; failed
/// instead under `CI=true`, see [`Backend::postgres`]).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres(stringify!($name)) {
                        super::$name(backend).await
                    }
                }
            )+
        }
    };
}

/// Runs the listed async test functions (each taking a [`Backend`]) on PostgreSQL only: what
/// needs several nodes on one database (skipped or failed as in [`on_both_backends`]).
#[macro_export]
macro_rules! on_postgres {
    ($($name:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres(stringify!($name)) {
                        super::$name(backend).await
                    }
                }
            )+
        }
    };
}

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// Base URL of the PostgreSQL server's database; each test gets its own schema in it.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend if configured; otherwise says the test is skipped. In CI
    /// (`CI=true`) a PostgreSQL test is never skipped: a run without the server fails, as
    /// the Chromium test does under `OCTOPUS_REQUIRE_CHROMIUM`.
    pub fn postgres(test: &str) -> Option<Backend> {
        match std::env::var("OCTOPUS_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                assert!(
                    !in_ci(),
                    "{test} on PostgreSQL: CI=true, but OCTOPUS_TEST_DATABASE_URL is not set \
                     (in CI every PostgreSQL test runs; .ci/run sets it)"
                );
                skipped(&format!(
                    "{test} on PostgreSQL: OCTOPUS_TEST_DATABASE_URL is not set"
                ));
                None
            }
        }
    }
}

/// Whether the suite runs in CI (`CI=true`, as CI services set it), where no test may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Says that a test is skipped, on the real stderr (the test harness hides `eprintln!` of
/// passing tests).
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}");
}

/// Prints a test's report on the real stderr (shown with or without `--nocapture`).
pub fn report(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "REPORT {text}");
}

/// A fresh database for one test; a PostgreSQL schema is dropped when the test ends.
pub struct TestDb {
    pub data_dir: TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: &Backend) -> TestDb {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(base) => {
                let schema = format!("octopus_test_{}", uuid_like());
                let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
                    .await
                    .expect("connect to the test PostgreSQL server");
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create test schema");
                Some((base.clone(), schema))
            }
        };
        TestDb { data_dir, postgres }
    }

    /// The `--database-url` of this database (None for SQLite).
    pub fn database_url(&self) -> Option<String> {
        self.postgres.as_ref().map(|(base, schema)| {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-csearch_path%3D{schema}")
        })
    }

    /// The SQLite file of this database.
    fn sqlite_file(&self) -> std::path::PathBuf {
        self.data_dir
            .path()
            .join(octopus_storage_sqlite::DATABASE_FILE)
    }

    /// A connection to this PostgreSQL schema, outside the gateway (None on SQLite).
    pub async fn postgres(&self) -> Option<tokio_postgres::Client> {
        match &self.postgres {
            Some((base, schema)) => Some(Self::postgres_client(base, schema).await),
            None => None,
        }
    }

    /// A connection to this PostgreSQL schema, outside the gateway.
    async fn postgres_client(base: &str, schema: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .await
            .unwrap();
        client
    }

    /// Runs SQL on this database outside the gateway.
    pub async fn execute_sql(&self, sql: &str) {
        match &self.postgres {
            None => {
                let (path, sql) = (self.sqlite_file(), sql.to_string());
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.busy_timeout(Duration::from_secs(10)).unwrap();
                    conn.execute_batch(&sql).unwrap();
                })
                .await
                .unwrap();
            }
            Some((base, schema)) => Self::postgres_client(base, schema)
                .await
                .batch_execute(sql)
                .await
                .unwrap(),
        }
    }

    /// Runs SQL on this database outside the gateway; the database's refusal as text.
    pub async fn try_execute_sql(&self, sql: &str) -> Result<(), String> {
        match &self.postgres {
            None => {
                let (path, sql) = (self.sqlite_file(), sql.to_string());
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.busy_timeout(Duration::from_secs(10)).unwrap();
                    conn.execute_batch(&sql).map_err(|e| e.to_string())
                })
                .await
                .unwrap()
            }
            Some((base, schema)) => Self::postgres_client(base, schema)
                .await
                .batch_execute(sql)
                .await
                .map_err(|e| format!("{e:?}")),
        }
    }

    /// Runs a query returning one integer (e.g. `SELECT COUNT(*) ...`) outside the gateway.
    pub async fn query_count(&self, sql: &str) -> i64 {
        match &self.postgres {
            None => {
                let (path, sql) = (self.sqlite_file(), sql.to_string());
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.busy_timeout(Duration::from_secs(10)).unwrap();
                    conn.query_row(&sql, [], |r| r.get(0)).unwrap()
                })
                .await
                .unwrap()
            }
            Some((base, schema)) => Self::postgres_client(base, schema)
                .await
                .query_one(sql, &[])
                .await
                .unwrap()
                .get(0),
        }
    }

    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig::from_args(self.data_dir.path().to_path_buf(), self.database_url(), 8)
    }

    /// The gateway's storage on this database, opened as the binary opens it.
    pub async fn open_storage(&self) -> Arc<dyn Storage> {
        backend::open(&self.config()).await.expect("open storage")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.postgres.take() {
            // Drop runs inside the test's runtime; use a thread with its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok((client, connection)) =
                        tokio_postgres::connect(&base, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(connection);
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

fn uuid_like() -> String {
    octopus_domain::ids::new_payment_uid(0)
}

/// Credentials of a merchant, as `octopus merchant create` prints them.
#[derive(Clone, Debug)]
pub struct Creds {
    pub merchant_id: i64,
    pub merchant_uid: String,
    pub api_key: String,
    pub api_secret: String,
}

/// The environment that switches a server process's rate limits off.
pub const RATE_LIMITS_OFF: [(&str, &str); 4] = [
    ("OCTOPUS_RATE_LIMIT_API", "off"),
    ("OCTOPUS_RATE_LIMIT_PAGES", "off"),
    ("OCTOPUS_RATE_LIMIT_POSTBACKS", "off"),
    ("OCTOPUS_RATE_LIMIT_DEVICES", "off"),
];

/// The server settings tests run with: port 0, fast background work, fee schedules and
/// channel volumes read for every order (a test that stores one needs no wait), and no rate
/// limits (the suite sends everything from 127.0.0.1; `rate_limits.rs` sets its own).
pub fn test_config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        sandbox_payout_delay: Duration::from_millis(300),
        worker_interval: Duration::from_millis(50),
        channels_refresh: Duration::from_millis(50),
        cache_fresh_for: Duration::ZERO,
        callback_schedule: octopus_domain::callback::Schedule::parse("300ms,300ms,300ms").unwrap(),
        callback_timeout: Duration::from_secs(2),
        allow_private_callbacks: true,
        rate_limits: octopus_server::config::RateLimits::off(),
        ..ServerConfig::default()
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    pub base_url: String,
    storage: Option<Arc<dyn Storage>>,
    pub master_key: MasterKey,
    /// The master key as text, for the binary (`OCTOPUS_MASTER_KEY`).
    pub master_key_text: String,
    /// A merchant created for the test with its test key (the sandbox is for test keys), and
    /// a client signing with it.
    pub merchant: Creds,
    pub client: Client,
    /// The same merchant's live key (real channels: Paykassma, own accounts), and its client.
    pub live: Creds,
    pub live_client: Client,
    pub db: TestDb,
    config: ServerConfig,
    /// Counts the server's readings of the channels (see [`TestApp::wait_for_channels`]).
    channel_refreshes: watch::Receiver<u64>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, test_config()).await
}

pub async fn spawn_app_with(backend: Backend, config: ServerConfig) -> TestApp {
    let db = TestDb::new(&backend).await;
    let (master_key, master_key_text) = MasterKey::generate();
    let storage = db.open_storage().await;
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    assert_eq!(storage.backend(), expected);
    let (address, channel_refreshes, shutdown, server) =
        start(&config, Arc::clone(&storage), master_key.clone()).await;
    let base_url = format!("http://{address}");
    let none = Creds {
        merchant_id: 0,
        merchant_uid: String::new(),
        api_key: String::new(),
        api_secret: String::new(),
    };
    let mut app = TestApp {
        address,
        client: Client::new(&base_url, "none", "none"),
        live_client: Client::new(&base_url, "none", "none"),
        live: none.clone(),
        base_url,
        storage: Some(storage),
        master_key,
        master_key_text,
        merchant: none,
        db,
        config,
        channel_refreshes,
        shutdown: Some(shutdown),
        server: Some(server),
    };
    let (test, live) = app.new_merchant_books("Test Merchant").await;
    app.merchant = test;
    app.live = live;
    app.client = app.client_for(&app.merchant);
    app.live_client = app.client_for(&app.live);
    app
}

async fn start(
    config: &ServerConfig,
    storage: Arc<dyn Storage>,
    master_key: MasterKey,
) -> (
    SocketAddr,
    watch::Receiver<u64>,
    oneshot::Sender<()>,
    JoinHandle<()>,
) {
    let app = Application::build(config.clone(), storage, master_key)
        .await
        .expect("build the application");
    let address = app.address();
    let channel_refreshes = app.channel_refreshes();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (address, channel_refreshes, tx, server)
}

impl TestApp {
    pub fn storage(&self) -> &dyn Storage {
        self.storage.as_deref().expect("storage is open")
    }

    /// A new merchant (as `octopus merchant create` makes them): its test key, for the
    /// sandbox.
    pub async fn new_merchant(&self, name: &str) -> Creds {
        self.new_merchant_books(name).await.0
    }

    /// A new merchant with its test and its live key.
    pub async fn new_merchant_books(&self, name: &str) -> (Creds, Creds) {
        let created =
            octopus_server::services::merchants::create(self.storage(), &self.master_key, name)
                .await
                .expect("create merchant");
        let mut books = Vec::new();
        for (key, secret) in [
            (&created.test_api_key, &created.test_api_secret),
            (&created.api_key, &created.api_secret),
        ] {
            let stored = self.storage().api_key(key).await.unwrap().unwrap();
            books.push(Creds {
                merchant_id: stored.merchant.id,
                merchant_uid: created.merchant_uid.clone(),
                api_key: key.clone(),
                api_secret: secret.clone(),
            });
        }
        let live = books.pop().unwrap();
        let test = books.pop().unwrap();
        (test, live)
    }

    /// The id of a merchant's live book, which fee schedules, blocklists and rules name
    /// (whichever book the key is of).
    pub async fn owner_id(&self, creds: &Creds) -> i64 {
        self.storage()
            .merchant_by_uid(&creds.merchant_uid)
            .await
            .unwrap()
            .expect("the merchant exists")
            .id
    }

    /// A merchant with a chosen uid and API secret (for the documents' worked examples): its
    /// test key, for the sandbox.
    pub async fn merchant_with(&self, uid: &str, secret: &str) -> Creds {
        let merchant = self
            .storage()
            .create_merchant(NewMerchant {
                uid: uid.into(),
                name: format!("Merchant {uid}"),
                api_key: octopus_domain::ids::new_api_key(),
                sealed_secret: self.master_key.seal(&octopus_domain::ids::new_api_secret()),
                created_at: 0,
            })
            .await
            .expect("create merchant");
        let book = self.storage().test_book(merchant.id, 0).await.unwrap();
        let test = Creds {
            merchant_id: book.id,
            merchant_uid: uid.into(),
            api_key: String::new(),
            api_secret: String::new(),
        };
        self.another_key(&test, secret).await
    }

    /// Another API key of the same merchant book, with a chosen secret.
    pub async fn another_key(&self, creds: &Creds, secret: &str) -> Creds {
        let api_key = octopus_domain::ids::new_api_key();
        self.storage()
            .add_api_key(octopus_storage::NewApiKey {
                merchant_id: creds.merchant_id,
                api_key: api_key.clone(),
                sealed_secret: self.master_key.seal(secret),
                label: String::new(),
                expires_at: None,
                allowed_ips: Vec::new(),
                created_at: 0,
            })
            .await
            .expect("add api key");
        Creds {
            api_key,
            api_secret: secret.into(),
            ..creds.clone()
        }
    }

    /// Credits the merchant's available balance the way a merchant does it: a `recharge`
    /// deposit of `amount`, paid in the sandbox for a test key, confirmed on an own account
    /// for a live one ([`accounts::fund_live`]).
    pub async fn fund(&self, creds: &Creds, currency: &str, amount: &str) {
        let mode = self
            .storage()
            .api_key(&creds.api_key)
            .await
            .unwrap()
            .expect("the key exists")
            .merchant
            .mode;
        if mode == octopus_domain::Mode::Live {
            // Live money never comes from the sandbox: the merchant tops up for real.
            return accounts::fund_live(self, creds, currency, amount).await;
        }
        fund(
            &self.client_for(creds),
            &creds.merchant_uid,
            currency,
            amount,
        )
        .await;
    }

    /// Checks the ledger from its history (the invariants `octopus ledger verify` checks).
    pub async fn assert_ledger_sound(&self) {
        let report = self
            .storage()
            .verify_ledger()
            .await
            .expect("verify the ledger");
        assert!(
            report.is_sound(),
            "ledger violations: {:?}",
            report.violations
        );
    }

    /// A merchant's (available, held) balance in a currency, as exact decimals.
    pub async fn balance(
        &self,
        creds: &Creds,
        currency: &str,
    ) -> (rust_decimal::Decimal, rust_decimal::Decimal) {
        self.storage()
            .balances(creds.merchant_id)
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.currency.code() == currency)
            .map(|b| (b.available, b.held))
            .unwrap_or_default()
    }

    /// Runs SQL on the test database directly (to corrupt it on purpose).
    pub async fn execute_sql(&self, sql: &str) {
        self.db.execute_sql(sql).await
    }

    /// Runs SQL on the test database directly; the database's refusal as text.
    pub async fn try_execute_sql(&self, sql: &str) -> Result<(), String> {
        self.db.try_execute_sql(sql).await
    }

    pub fn client_for(&self, creds: &Creds) -> Client {
        Client::new(&self.base_url, &creds.api_key, &creds.api_secret)
    }

    /// Another gateway node on the same database (its own storage, workers and group
    /// writer), as a second machine would run it.
    pub async fn second_node(&self) -> Node {
        let storage = self.db.open_storage().await;
        let (address, _, shutdown, server) =
            start(&self.config, storage, self.master_key.clone()).await;
        Node {
            base_url: format!("http://{address}"),
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Stops the server gracefully.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
    }

    /// Stops the server, closes the storage, reopens it and starts a new server on it.
    pub async fn restart(&mut self) {
        self.stop().await;
        // Drop every handle of the old storage before reopening the same database.
        drop(self.storage.take());
        let storage = self.db.open_storage().await;
        let (address, channel_refreshes, shutdown, server) =
            start(&self.config, Arc::clone(&storage), self.master_key.clone()).await;
        self.storage = Some(storage);
        self.channel_refreshes = channel_refreshes;
        self.address = address;
        self.base_url = format!("http://{address}");
        self.shutdown = Some(shutdown);
        self.server = Some(server);
        self.client = self.client_for(&self.merchant);
        self.live_client = self.client_for(&self.live);
    }

    /// Polls `order/get` until the order reaches `status` (or panics after `timeout`).
    pub async fn wait_for_status(
        &self,
        client: &Client,
        merchant_order_id: &str,
        status: &str,
        timeout: Duration,
    ) -> Payment {
        let deadline = Instant::now() + timeout;
        loop {
            let order = client
                .get_order(merchant_order_id)
                .await
                .expect("order/get");
            if order.payment_status == status {
                return order;
            }
            assert!(
                Instant::now() < deadline,
                "order {merchant_order_id} still {} after {timeout:?}, expected {status}",
                order.payment_status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Stores channels (added or replaced) and waits until the server has read them again.
    pub async fn save_channels(&self, channels: Vec<octopus_domain::Channel>) {
        for c in channels {
            self.storage().save_channel(c).await.expect("save channel");
        }
        self.wait_for_channels().await;
    }

    /// Enables or disables a channel and waits until the server has read it again.
    pub async fn set_channel_enabled(&self, code: &str, enabled: bool) {
        self.storage()
            .set_channel_enabled(code, enabled, 1)
            .await
            .expect("channel exists");
        self.wait_for_channels().await;
    }

    /// Waits until the server routes with the channels as stored now (changed by the test or
    /// by the CLI): until it has counted two more readings of them, since the first may have
    /// begun before the change.
    pub async fn wait_for_channels(&self) {
        let mut refreshes = self.channel_refreshes.clone();
        let now = *refreshes.borrow_and_update();
        tokio::time::timeout(
            Duration::from_secs(10),
            refreshes.wait_for(|&n| n >= now + 2),
        )
        .await
        .expect("the server reads the channels again within 10 s")
        .expect("the server is running");
    }

    /// Polls `order/get` (with the app's merchant) until the order's `notify_status` is
    /// `status` (or panics after `timeout`, saying the last `notify_fail_reason`).
    pub async fn wait_for_notify(
        &self,
        merchant_order_id: &str,
        status: &str,
        timeout: Duration,
    ) -> Payment {
        self.wait_for_notify_with(&self.client, merchant_order_id, status, timeout)
            .await
    }

    /// [`TestApp::wait_for_notify`] for an order of another key (the live one, say).
    pub async fn wait_for_notify_with(
        &self,
        client: &Client,
        merchant_order_id: &str,
        status: &str,
        timeout: Duration,
    ) -> Payment {
        let deadline = Instant::now() + timeout;
        loop {
            let order = client
                .get_order(merchant_order_id)
                .await
                .expect("order/get");
            if order.notify_status == status {
                return order;
            }
            assert!(
                Instant::now() < deadline,
                "notify_status of {merchant_order_id} still {} ({}), expected {status}",
                order.notify_status,
                order.notify_fail_reason
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
}

/// A second node of a test gateway; stopped when dropped.
pub struct Node {
    pub base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Node {
    pub fn client_for(&self, creds: &Creds) -> Client {
        Client::new(&self.base_url, &creds.api_key, &creds.api_secret)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A channel of `kind` that takes any order, priority 100, weight 1, enabled.
pub fn channel(code: &str, kind: &str) -> octopus_domain::Channel {
    octopus_domain::Channel::new(code, kind, 1)
}

/// Funds a merchant through any client: a `recharge` deposit paid in the sandbox.
pub async fn fund(client: &Client, merchant_uid: &str, currency: &str, amount: &str) {
    let id = format!("fund-{}", octopus_domain::ids::new_payment_uid(0));
    let mut order =
        octopus_client::NewOrder::deposit(merchant_uid, &id, amount, currency, "funding", "US");
    order.accounting_type = Some("recharge".into());
    let created = client.create_order(&order).await.expect("funding deposit");
    pay(&created.payment_url).await;
}

/// The form token of a cashier page (`<meta name="csrf-token">`, the same as its forms'
/// hidden `token`), read from the page as a browser does before posting; empty when there is
/// no page.
pub async fn page_token(payment_url: &str) -> String {
    let page = http()
        .get(payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// The payer's choice on a sandbox cashier page (`completed` or `failed`), as the page posts it
/// (with the page's token).
pub async fn simulate(payment_url: &str, outcome: &str) -> reqwest::Response {
    let token = page_token(payment_url).await;
    http()
        .post(format!("{payment_url}/simulate"))
        .form(&[("outcome", outcome), ("token", &token)])
        .send()
        .await
        .unwrap()
}

/// Pays a sandbox deposit, as the payer pressing "Pay" on its cashier page.
pub async fn pay(payment_url: &str) {
    let r = simulate(payment_url, "completed").await;
    assert_eq!(r.status(), 303, "paid {payment_url}");
}

/// An HTTP client that does not follow redirects and, like a browser set to English, sends
/// `Accept-Language: en` (without it a cashier page speaks the order's country's language).
pub fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Waits until the server at `base_url` routes to the channel `code` added in its database
/// (a server process reads the channels again every second): until a postback to the channel
/// is no longer refused as for an unknown channel. The probe (an empty object) is refused as
/// unreadable, so it changes nothing.
pub async fn wait_for_channel(base_url: &str, code: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = http()
            .post(format!("{base_url}/octopus/postback/{code}"))
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("postback probe");
        let body: serde_json::Value = answer.json().await.expect("a JSON answer");
        if body["message"] != "unknown channel" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never read the channel {code}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A signed `order/new` request of the test's merchant, for tests that add their own headers.
pub fn signed_order_request(
    app: &TestApp,
    fields: &octopus_domain::RequestFields,
    content_type: &str,
) -> reqwest::RequestBuilder {
    http()
        .post(format!("{}/octopus/api/order/new", app.base_url))
        .header("Content-Type", content_type)
        .header("OC-Key", &app.merchant.api_key)
        .header("OC-Signature", app.client.sign(fields))
        .body(fields.to_json())
}

/// JSON as the documents' Java examples send it (`org.json` escapes `/` as `\/`).
pub fn java_json(fields: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::to_string(&map).unwrap().replace('/', "\\/")
}

/// The documented error answer with `details`.
pub fn invalid(details: &str) -> serde_json::Value {
    serde_json::json!({"result": "error", "data": {"error": "Invalid parameters", "details": details}})
}

/// The `octopus` binary built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_octopus");

/// `--data-dir` (and `--database-url`) arguments naming a test database.
pub fn db_args(db: &TestDb) -> Vec<String> {
    let mut args = vec![
        "--data-dir".to_string(),
        db.data_dir.path().display().to_string(),
    ];
    if let Some(url) = db.database_url() {
        args.extend(["--database-url".to_string(), url]);
    }
    args
}

/// The binary's environment without the operator's own settings.
pub fn command() -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OCTOPUS_") {
            c.env_remove(key);
        }
    }
    c
}

/// A real `octopus serve` process on port 0; its stdout lines are collected.
pub struct ServerProcess {
    child: std::process::Child,
    pub url: String,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub fn start(db: &TestDb, extra: &[&str]) -> ServerProcess {
        Self::start_with_env(db, extra, &[])
    }

    /// Like [`ServerProcess::start`], with these environment variables set.
    pub fn start_with_env(db: &TestDb, extra: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        Self::spawn(db_args(db), extra, env, None, false)
    }

    /// A server on the database `db_args` name, its logs (stderr) collected with its stdout.
    pub fn start_logged(
        db_args: Vec<String>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> ServerProcess {
        Self::spawn(db_args, extra, env, None, true)
    }

    /// Like [`ServerProcess::start`], under this open-file limit (soft, hard), as systemd or a
    /// shell may start it; what it logs (stderr) is collected with its stdout.
    pub fn start_with_file_limit(
        db: &TestDb,
        extra: &[&str],
        soft: u64,
        hard: u64,
    ) -> ServerProcess {
        Self::spawn(db_args(db), extra, &[], Some((soft, hard)), false)
    }

    fn spawn(
        db_args: Vec<String>,
        extra: &[&str],
        env: &[(&str, &str)],
        file_limit: Option<(u64, u64)>,
        logged: bool,
    ) -> ServerProcess {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut command = command();
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(db_args)
            .args(extra)
            // No rate limits, as in `test_config` (a test may still set its own).
            .envs(RATE_LIMITS_OFF)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(if file_limit.is_some() || logged {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            });
        if file_limit.is_some() || logged {
            command.env("NO_COLOR", "1");
        }
        if let Some((soft, hard)) = file_limit {
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                command.pre_exec(move || rlimit::Resource::NOFILE.set(soft, hard));
            }
        }
        let mut child = command.spawn().expect("start octopus serve");
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = first_tx.send(line.clone());
                sink.lock().unwrap().push(line);
            }
        });
        if let Some(stderr) = child.stderr.take() {
            let sink = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        let first = first_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints where it serves");
        // Its own address: "listening on" it when its public URL is another (a balancer's).
        let url = first
            .split_once("listening on ")
            .map_or(first.as_str(), |(_, rest)| rest)
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .trim_end_matches(',')
            .to_string();
        ServerProcess { child, url, lines }
    }

    /// Waits until the server has printed a line containing `text`; returns all lines so far.
    pub fn wait_for_output(&self, text: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains(text)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the server never printed {text:?}: {lines:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server printed so far.
    pub fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as a service manager stops it, and waits (at most a minute) for it to exit;
    /// whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within a minute of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process ends without any chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `octopus ledger verify` on the test database: every balance proven from the journal.
pub fn assert_ledger_verifies(db: &TestDb) {
    let verify = command()
        .args(["ledger", "verify"])
        .args(db_args(db))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "ledger verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Runs `octopus merchant create` on the test database and returns its JSON.
pub fn merchant_create(db: &TestDb) -> serde_json::Value {
    merchant_create_named(db, "Crash Test Shop")
}

/// Runs `octopus merchant create --name NAME` on the test database and returns its JSON.
pub fn merchant_create_named(db: &TestDb, name: &str) -> serde_json::Value {
    let out = command()
        .args(["merchant", "create", "--name", name])
        .args(db_args(db))
        .output()
        .expect("run octopus merchant create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("merchant create prints JSON")
}
