//! The one setup of these tests: the order services over a fresh SQLite database in a
//! temporary directory, a merchant with a key, and Paykassma channels each served by its own
//! simulator. The gateway itself never listens: the simulators keep their postbacks
//! (`hold_postbacks`), and a test hands them to the services as the postback route would.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use octopus_client::NewOrder;
use octopus_domain::secret_box::MasterKey;
use octopus_domain::{ApiCredential, Currency, Order, OrderRequest, PaymentStatus};
use octopus_paykassma_sim::{Faults, Sim, SimConfig};
use octopus_server::api::keys::KeyRing;
use octopus_server::clock::Clock;
use octopus_server::services::fees::FeeBook;
use octopus_server::services::orders::{self, RequestContext};
use octopus_server::services::routing::{seal_credentials, ChannelEntry, Channels};
use octopus_server::services::upstream::{apply_notification, PostbackOutcome};
use octopus_server::services::OrderServices;
use octopus_storage::Storage;
use octopus_storage_sqlite::SqliteStorage;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::Notify;

/// The time the services read in these tests (2026-11-21T04:31:36.123Z).
pub const NOW: i64 = 1_795_235_496_123;

/// Where the merchant of these tests hears of its orders (nothing listens: the services are
/// tested without a dispatcher; a callback queued for it wakes one).
pub const NOTIFY_URL: &str = "https://merchant.example/octopus-callback";

pub fn d(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

/// The order services of one test, with what they run on.
pub struct Gateway {
    pub services: OrderServices,
    pub storage: Arc<dyn Storage>,
    pub merchant: Arc<ApiCredential>,
    master_key: MasterKey,
    /// Dropped last: the database lives in it.
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Fresh storage (with the sandbox channel every gateway starts with), a merchant, and the
    /// services over them with the clock fixed at [`NOW`].
    pub async fn start() -> Gateway {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().to_path_buf();
        let storage: Arc<dyn Storage> = Arc::new(
            tokio::task::spawn_blocking(move || SqliteStorage::open(&path))
                .await
                .expect("open joins")
                .expect("open SQLite"),
        );
        let (master_key, _) = MasterKey::generate();
        let created = octopus_server::services::merchants::create(
            storage.as_ref(),
            &master_key,
            "Test Merchant",
        )
        .await
        .expect("create merchant");
        let merchant = KeyRing::new(storage.clone(), master_key.clone())
            .credential(&created.api_key, NOW)
            .await
            .expect("read the key")
            .expect("the key exists");
        // Channel volumes and fee schedules are read for every order (no cache to wait for).
        let channels = Channels::load(
            storage.clone(),
            master_key.clone(),
            Duration::ZERO,
            Duration::ZERO,
        )
        .await
        .expect("read the channels");
        let services = OrderServices {
            orders: storage.clone(),
            accounts: storage.clone(),
            upstream_log: storage.clone(),
            channels,
            fees: FeeBook::new(storage.clone(), Duration::ZERO),
            risk: octopus_server::services::risk::RiskBook::new(storage.clone(), Duration::ZERO),
            callbacks_due: Arc::new(Notify::new()),
            clock: Clock::Fixed(NOW),
            allow_private_callbacks: true,
            default_deposit_ttl: None,
        };
        Gateway {
            services,
            storage,
            merchant,
            master_key,
            _dir: dir,
        }
    }

    /// Starts a Paykassma simulator holding `balance` MMK and adds the channel `code` for it
    /// (Myanmar, mmk, wavepay) at `priority`; the services read it at once.
    pub async fn paykassma(&self, code: &str, priority: i32, balance: i64) -> Sim {
        let config = SimConfig {
            balance: [("MMK".to_string(), balance)].into_iter().collect(),
            ..SimConfig::default()
        };
        let mut channel = octopus_domain::Channel::new(code, "paykassma", NOW);
        channel.priority = priority;
        channel.countries = vec!["MM".into()];
        channel.currencies = vec![Currency::parse("mmk").expect("a currency")];
        channel.payments = vec!["wavepay".into()];
        channel.sealed_credentials =
            seal_credentials(&self.master_key, &config.channel_credentials());
        let sim = Sim::new(config);
        sim.set_faults(Faults {
            hold_postbacks: true,
            ..Faults::default()
        });
        // The upstream's port, not the gateway's.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the simulator");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(octopus_paykassma_sim::serve(listener, sim.clone()));
        channel.settings = [("api_url".to_string(), url)].into_iter().collect();
        self.storage
            .save_channel(channel)
            .await
            .expect("save channel");
        self.services
            .channels
            .refresh()
            .await
            .expect("read the channels");
        sim
    }

    /// Creates an order as the merchant API does, from a request as a merchant sends it.
    pub async fn create(&self, request: &NewOrder) -> Result<(Order, bool), octopus_server::Error> {
        let request = OrderRequest::from_fields(&request.to_fields()).expect("a valid request");
        let context = RequestContext {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            user_agent: "services test".into(),
        };
        orders::create(&self.services, &self.merchant, request, context).await
    }

    /// A payout of `amount` MMK to a Wavepay account, `merchant_order_id` `id`, reported to
    /// the merchant's [`NOTIFY_URL`].
    pub fn payout(&self, id: &str, amount: &str) -> NewOrder {
        let mut payout = NewOrder::payout(
            &self.merchant.merchant.uid,
            id,
            amount,
            "mmk",
            "wavepay",
            "myanmar",
            "01642234663",
            "Daw Aye",
            "wavepay",
        );
        payout.notify_url = Some(NOTIFY_URL.into());
        payout
    }

    /// A Wavepay deposit of `amount` MMK, reported to the merchant's [`NOTIFY_URL`].
    pub fn deposit(&self, id: &str, amount: &str) -> NewOrder {
        let mut deposit = NewOrder::deposit(
            &self.merchant.merchant.uid,
            id,
            amount,
            "mmk",
            "wavepay",
            "myanmar",
        );
        deposit.notify_url = Some(NOTIFY_URL.into());
        deposit
    }

    /// Credits the merchant's available MMK as a merchant tops up its live balance: a
    /// `recharge` deposit (payment `funding`) to the operator's own account, confirmed by the
    /// operator by hand (live money never comes from the sandbox).
    pub async fn fund(&self, amount: &str) {
        use octopus_domain::account::{Account, AccountMethod};
        if self.services.channels.get("funding").is_none() {
            let mut channel = octopus_domain::Channel::new("funding", "accounts", NOW);
            channel.priority = 1;
            channel.currencies = vec![Currency::parse("mmk").expect("a currency")];
            channel.payments = vec!["funding".into()];
            self.storage
                .save_channel(channel)
                .await
                .expect("save channel");
            self.storage
                .add_account(Account {
                    id: "acc_funding".into(),
                    channel: "funding".into(),
                    method: AccountMethod::Bank,
                    bank_code: String::new(),
                    number: "000111222333".into(),
                    holder: "Operator Funding".into(),
                    currency: Currency::parse("mmk").expect("a currency"),
                    promptpay_id: String::new(),
                    vpa: String::new(),
                    wallet: String::new(),
                    daily_limit: None,
                    max_open: None,
                    enabled: true,
                    created_at: NOW,
                    updated_at: NOW,
                })
                .await
                .expect("add the funding account");
            self.storage
                .add_device(octopus_domain::device::Device {
                    id: "dev_funding".into(),
                    account: "acc_funding".into(),
                    sealed_secret: self.master_key.seal("funding-device-secret"),
                    revoked_at: None,
                    last_heartbeat_at: None,
                    created_at: NOW,
                })
                .await
                .expect("add the funding device");
            self.storage
                .device_heard("dev_funding", NOW)
                .await
                .expect("heartbeat");
            self.services
                .channels
                .refresh()
                .await
                .expect("read the channels");
        }
        let mut request = NewOrder::deposit(
            &self.merchant.merchant.uid,
            &format!("fund-{amount}"),
            amount,
            "mmk",
            "funding",
            "US",
        );
        request.accounting_type = Some("recharge".into());
        let (order, _) = self.create(&request).await.expect("funding deposit");
        assert_eq!(order.channel, "funding");
        octopus_server::services::transfers::confirm(
            self.storage.as_ref(),
            &order.payment_uid,
            &format!("FUND-{amount}"),
            &octopus_domain::money::format_amount(order.final_amount, order.currency),
            octopus_server::services::transfers::Operator {
                by: "test",
                reason: "merchant top-up received",
            },
            NOW,
        )
        .await
        .expect("funding confirmed");
        self.callbacks_woken();
    }

    /// The merchant's (available, held) MMK.
    pub async fn balance(&self) -> (Decimal, Decimal) {
        self.storage
            .balances(self.merchant.merchant.id)
            .await
            .expect("balances")
            .into_iter()
            .find(|b| b.currency.code() == "mmk")
            .map(|b| (b.available, b.held))
            .unwrap_or_default()
    }

    pub async fn order(&self, payment_uid: &str) -> Order {
        self.storage
            .order_by_payment_uid(payment_uid)
            .await
            .expect("read the order")
            .expect("the order exists")
    }

    /// How often the order reached `status`.
    pub async fn times(&self, payment_uid: &str, status: PaymentStatus) -> usize {
        self.storage
            .order_events(payment_uid)
            .await
            .expect("events")
            .iter()
            .filter(|e| e.to_status == status)
            .count()
    }

    pub fn channel(&self, code: &str) -> Arc<ChannelEntry> {
        self.services.channels.get(code).expect("a known channel")
    }

    /// Whether the callbacks were woken since last asked (the permit is taken).
    pub fn callbacks_woken(&self) -> bool {
        self.services
            .callbacks_due
            .notified()
            .now_or_never()
            .is_some()
    }

    /// Hands a postback to channel `code` as the postback route does: the connector verifies
    /// and reads it, each notification is applied.
    pub async fn postback(&self, code: &str, body: &Value) -> Vec<PostbackOutcome> {
        let channel = self.channel(code);
        let body = serde_json::to_vec(body).expect("JSON serializes");
        let notifications = channel.connector.postback(&body).expect("a valid postback");
        let mut outcomes = Vec::new();
        for n in notifications {
            outcomes.push(
                apply_notification(&self.services, &channel, n)
                    .await
                    .expect("applied"),
            );
        }
        outcomes
    }

    pub async fn assert_ledger_sound(&self) {
        let report = self.storage.verify_ledger().await.expect("verify");
        assert!(report.is_sound(), "{:?}", report.violations);
    }
}

/// The `i`th postback a simulator kept, as it would have sent it.
pub fn held_postback(sim: &Sim, i: usize) -> Value {
    let body = sim.state()["postbacks"][i]["body"].clone();
    assert!(body.is_object(), "no postback {i}: {}", sim.state());
    body
}
