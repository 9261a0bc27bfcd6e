//! `octopus serve`: opens the storage, loads the master key, and runs the gateway until
//! Ctrl-C or SIGTERM. With `--dev`, an empty database gets a demo merchant.

use std::time::Duration;

use anyhow::Context;
use ipnet::IpNet;
use octopus::backend::{self, DatabaseConfig};
use octopus_domain::secret_box::MasterKey;
use octopus_server::config::RateLimits;
use octopus_server::http::rate_limit;
use octopus_server::master_key::{self, KeySource};
use octopus_server::services::merchants::{self, MerchantCredentials};
use octopus_server::{Application, ServerConfig};

use crate::cli::{DatabaseArgs, ServeArgs};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(&args.log_format);
    // Read before the database is opened: a limit that cannot be read changes nothing.
    let limit = |flag: &str, text: &str| {
        rate_limit::parse_limit(text).with_context(|| {
            format!(
                "--rate-limit-{flag} (OCTOPUS_RATE_LIMIT_{})",
                flag.to_uppercase()
            )
        })
    };
    let rate_limits = RateLimits {
        api_per_key: limit("api", &args.rate_limit_api)?,
        pages_per_ip: limit("pages", &args.rate_limit_pages)?,
        postbacks_per_ip: limit("postbacks", &args.rate_limit_postbacks)?,
        devices_per_ip: limit("devices", &args.rate_limit_devices)?,
    };
    let (storage, master_key) = open(&args.database).await?;
    let trusted_proxies = args
        .trusted_proxies
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| parse_proxy(t.trim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let callback_schedule = octopus_domain::callback::Schedule::parse(&args.callback_schedule)?;
    anyhow::ensure!(
        args.callback_timeout > 0.0
            && args.callback_timeout
                <= octopus_server::workers::callbacks::MAX_TIMEOUT.as_secs_f64(),
        "--callback-timeout must be more than 0 and at most {} seconds",
        octopus_server::workers::callbacks::MAX_TIMEOUT.as_secs()
    );
    let seconds = |name: &str, value: f64| -> anyhow::Result<Duration> {
        anyhow::ensure!(
            value > 0.0 && value <= 3600.0,
            "--{name} must be more than 0 and at most 3600 seconds"
        );
        Ok(Duration::from_secs_f64(value))
    };
    let connections = octopus_server::config::ConnectionLimits {
        header_timeout: seconds("header-timeout", args.header_timeout)?,
        body_timeout: seconds("body-timeout", args.body_timeout)?,
        idle_timeout: seconds("idle-timeout", args.idle_timeout)?,
        max_connections: args.max_connections.filter(|&n| n > 0),
    };
    let drain_delay = args.drain_delay.unwrap_or(if args.dev { 0.0 } else { 5.0 });
    anyhow::ensure!(
        (0.0..=300.0).contains(&drain_delay),
        "--drain-delay must be from 0 to 300 seconds"
    );
    let config = ServerConfig {
        drain_delay: Duration::from_secs_f64(drain_delay),
        connections,
        rate_limits,
        callback_schedule,
        callback_timeout: Duration::from_secs_f64(args.callback_timeout),
        callback_connect_timeout: Duration::from_secs_f64(args.callback_timeout.clamp(0.1, 5.0)),
        callback_concurrency: args.callback_concurrency.max(1),
        callback_host_concurrency: args.callback_host_concurrency.max(1),
        allow_private_callbacks: args.allow_private_callbacks || args.dev,
        tenant: args.tenant.clone(),
        search_window: args.search_window,
        metrics_listen: args.metrics_listen,
        listen: args.listen,
        public_url: args.public_url.clone(),
        trusted_proxies,
        sandbox_payout_delay: Duration::from_secs_f64(args.sandbox_payout_delay.max(0.0)),
        default_deposit_ttl: (args.default_deposit_ttl > 0)
            .then(|| Duration::from_secs(args.default_deposit_ttl)),
        ..ServerConfig::default()
    };
    let app = Application::build(config, storage.clone(), master_key.clone())
        .await
        .context("cannot start the server")?;
    let listening = format!("http://{}", app.address());
    if app.public_url() == listening {
        println!(
            "Octopus is serving on {listening} ({})",
            args.database.describe()
        );
    } else {
        println!(
            "Octopus is serving on {}, listening on {listening} ({})",
            app.public_url(),
            args.database.describe()
        );
    }
    if args.dev {
        start_paykassma_demo(storage.as_ref(), &master_key, app.public_url()).await?;
        start_accounts_demo(storage.as_ref(), &master_key, app.public_url()).await?;
        if storage.operators().await?.is_empty() {
            let admin = octopus_server::services::operators::create(
                storage.as_ref(),
                &octopus_server::services::operators::Actor::cli(),
                DEV_OPERATOR,
                octopus_domain::operator::Role::Admin,
                octopus_server::clock::now_ms(),
            )
            .await?;
            println!(
                "--dev: operator {} (admin), one-time password {} — sign in with \
                 POST {}/octopus/admin/v1/session",
                admin.email,
                admin.password,
                app.public_url()
            );
        }
        if storage.merchant_count().await? == 0 {
            let demo = merchants::create(storage.as_ref(), &master_key, "Demo Merchant").await?;
            print_demo(app.public_url(), &demo);
        } else {
            println!(
                "--dev: the database already has merchants; create another with \
                 `octopus merchant create --name NAME`."
            );
        }
    }
    app.run_until_stopped(shutdown_signal()).await?;
    println!("Octopus stopped.");
    Ok(())
}

/// The operator `--dev` creates on a database without one.
pub const DEV_OPERATOR: &str = "admin@octopus.local";

/// The channel `--dev` points at the Paykassma simulator it starts.
pub const PAYKASSMA_DEMO: &str = "pk-demo";

/// `--dev`: starts the Paykassma simulator in this process and (re)configures the channel
/// `pk-demo` (Myanmar, mmk, wavepay, before the sandbox) to use it.
async fn start_paykassma_demo(
    storage: &dyn octopus_storage::Storage,
    master_key: &MasterKey,
    public_url: &str,
) -> anyhow::Result<()> {
    use octopus_paykassma_sim::{Sim, SimConfig};
    let config = SimConfig {
        postback_url: format!("{public_url}/octopus/postback/{PAYKASSMA_DEMO}"),
        postback_retry: Duration::from_secs(2),
        ..SimConfig::default()
    };
    let credentials = config.channel_credentials();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(octopus_paykassma_sim::serve(listener, Sim::new(config)));
    let now = octopus_server::clock::now_ms();
    storage
        .save_channel(octopus_domain::Channel {
            countries: vec!["MM".into()],
            currencies: vec![octopus_domain::Currency::parse("mmk").expect("mmk is a currency")],
            payments: vec!["wavepay".into()],
            priority: 50,
            settings: [("api_url".to_string(), sim_url.clone())]
                .into_iter()
                .collect(),
            sealed_credentials: octopus_server::services::routing::seal_credentials(
                master_key,
                &credentials,
            ),
            ..octopus_domain::Channel::new(PAYKASSMA_DEMO, "paykassma", now)
        })
        .await?;
    println!(
        "--dev: channel {PAYKASSMA_DEMO} takes Myanmar wavepay deposits and payouts through the Paykassma \
         simulator at {sim_url}\n\
         \x20 a payer's transfer: curl -s -X POST {sim_url}/sim/transfers -H 'Content-Type: application/json' \
         -d '{{\"transaction_id\":\"TX1\",\"amount\":6000}}'\n\
         \x20 then enter TX1 on the order's payment page; a payout's outcome: curl -s -X POST {sim_url}/sim/withdrawals/<payment_uid>/1"
    );
    Ok(())
}

/// The channel of own accounts `--dev` sets up.
pub const ACCOUNTS_DEMO: &str = "own-demo";

/// `--dev`: the channel `own-demo` of the operator's own accounts (Thailand, India, the
/// Philippines) with a Thai bank account with PromptPay, an Indian UPI VPA and a GCash number,
/// each watched by a device this process simulates (its heartbeats keep the accounts online),
/// and how to report a transfer as a device.
async fn start_accounts_demo(
    storage: &dyn octopus_storage::Storage,
    master_key: &MasterKey,
    public_url: &str,
) -> anyhow::Result<()> {
    use octopus_domain::account::{Account, AccountMethod};
    use octopus_domain::Currency;
    use secrecy::ExposeSecret;
    let now = octopus_server::clock::now_ms();
    let currency = |code: &str| Currency::parse(code).expect("a known currency");
    if !storage
        .channels()
        .await?
        .iter()
        .any(|c| c.code == ACCOUNTS_DEMO)
    {
        storage
            .save_channel(octopus_domain::Channel {
                countries: vec!["TH".into(), "IN".into(), "PH".into()],
                currencies: vec![currency("thb"), currency("inr"), currency("php")],
                priority: 60,
                ..octopus_domain::Channel::new(ACCOUNTS_DEMO, "accounts", now)
            })
            .await?;
    }
    let wanted = [
        (
            AccountMethod::Promptpay,
            "004",
            "123-4-56789-0",
            "Somchai Demo",
            "thb",
            "0812345678",
            "",
        ),
        (
            AccountMethod::Upi,
            "",
            "50100123456789",
            "Demo Shop",
            "inr",
            "",
            "demoshop@okaxis",
        ),
        (
            AccountMethod::Wallet,
            "",
            "09171234567",
            "Juan Demo",
            "php",
            "",
            "",
        ),
    ];
    let existing = storage.accounts().await?;
    let devices = storage.devices().await?;
    println!("--dev: channel {ACCOUNTS_DEMO} collects Thai, Indian and Philippine deposits into own accounts:");
    for (method, bank, number, holder, cur, promptpay, vpa) in wanted {
        let account = match existing.iter().find(|a| {
            a.channel == ACCOUNTS_DEMO && a.method == method && a.currency == currency(cur)
        }) {
            Some(a) => a.clone(),
            None => {
                storage
                    .add_account(Account {
                        id: octopus_domain::ids::new_account_id(),
                        channel: ACCOUNTS_DEMO.into(),
                        method,
                        bank_code: bank.into(),
                        number: number.into(),
                        holder: holder.into(),
                        currency: currency(cur),
                        promptpay_id: promptpay.into(),
                        vpa: vpa.into(),
                        wallet: if method == AccountMethod::Wallet {
                            "gcash".into()
                        } else {
                            String::new()
                        },
                        daily_limit: None,
                        max_open: None,
                        enabled: true,
                        created_at: now,
                        updated_at: now,
                    })
                    .await?
            }
        };
        let (device_id, secret) = match devices
            .iter()
            .find(|d| d.account == account.id && d.revoked_at.is_none())
            .and_then(|d| {
                master_key
                    .open(&d.sealed_secret)
                    .ok()
                    .map(|s| (d.id.clone(), s.expose_secret().to_string()))
            }) {
            Some(found) => found,
            None => {
                let secret = octopus_domain::ids::new_device_secret();
                let device = storage
                    .add_device(octopus_domain::device::Device {
                        id: octopus_domain::ids::new_device_id(),
                        account: account.id.clone(),
                        sealed_secret: master_key.seal(&secret),
                        revoked_at: None,
                        last_heartbeat_at: None,
                        created_at: now,
                    })
                    .await?;
                (device.id, secret)
            }
        };
        let device = octopus_client::device::DeviceClient::new(public_url, &device_id, &secret);
        tokio::spawn(async move {
            loop {
                if let Err(e) = device.heartbeat().await {
                    tracing::warn!(error = %e, "demo device heartbeat failed");
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        println!(
            "  {method} {cur} account {id} ({number}, {holder}); its device reports a transfer with:\n\
             \x20   octopus device report --url {public_url} --device {device_id} --secret {secret} \\\n\
             \x20     --account {id} --currency {cur} --amount <final_amount> --reference <bank reference>",
            id = account.id,
        );
    }
    Ok(())
}

/// Opens the storage alone, for commands that touch no secret (fees, ledger, refunds).
pub async fn open_storage(
    database: &DatabaseArgs,
) -> anyhow::Result<std::sync::Arc<dyn octopus_storage::Storage>> {
    let config = DatabaseConfig::from_args(
        database.data_dir.clone(),
        database.database_url.clone(),
        database.pool_size,
    );
    backend::open(&config)
        .await
        .with_context(|| format!("cannot open {}", database.describe()))
}

/// Opens the storage and the master key, and checks that they belong together.
pub async fn open(
    database: &DatabaseArgs,
) -> anyhow::Result<(std::sync::Arc<dyn octopus_storage::Storage>, MasterKey)> {
    let storage = open_storage(database).await?;
    let env_key = std::env::var("OCTOPUS_MASTER_KEY").ok();
    let (key, source) = master_key::load(env_key.as_deref(), &database.master_key_file())?;
    if let KeySource::Generated(path) = &source {
        eprintln!(
            "Generated a new master key in {}. It encrypts the API secrets at rest: back it up \
             (or move it to OCTOPUS_MASTER_KEY); without it they cannot be read.",
            path.display()
        );
    }
    master_key::verify(storage.as_ref(), &key).await?;
    Ok((storage, key))
}

fn parse_proxy(text: &str) -> anyhow::Result<IpNet> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .with_context(|| format!("--trusted-proxy {text:?} is not an address or CIDR"))
}

fn print_demo(base: &str, demo: &MerchantCredentials) {
    use octopus_domain::signing::SigningKey;
    use octopus_domain::RequestFields;
    let body: RequestFields = [
        ("transaction_type", "income"),
        ("amount", "100.00"),
        ("currency", "mmk"),
        ("payment", "myanmar"),
        ("country", "myanmar"),
        ("merchant_order_id", "demo-1"),
        ("merchant_uid", demo.merchant_uid.as_str()),
        ("response_type", "json"),
    ]
    .into_iter()
    .collect();
    let signature = SigningKey::new(demo.test_api_secret.as_bytes()).sign(&body);
    println!(
        "\nCreated a demo merchant (the secrets are shown only now; keep them):\n\
         \x20 merchant_uid     {uid}\n\
         \x20 test api_key     {key}\n\
         \x20 test api_secret  {secret}\n\
         \x20 live api_key     {live_key}\n\
         \x20 live api_secret  {live_secret}\n\n\
         The test key reaches the sandbox (pay or fail on its cashier page; balances apart from\n\
         live money); the live key reaches real channels only (here: the demo's own accounts\n\
         and the Paykassma simulator).\n\n\
         Create a test deposit with curl:\n\
         \x20 curl -s -X POST {base}/octopus/api/order/new \\\n\
         \x20   -H 'Content-Type: application/json' \\\n\
         \x20   -H 'OC-Key: {key}' \\\n\
         \x20   -H 'OC-Signature: {signature}' \\\n\
         \x20   -d '{json}'\n\n\
         or with the CLI:\n\
         \x20 export OCTOPUS_URL={base} OCTOPUS_API_KEY={key} OCTOPUS_API_SECRET={secret} OCTOPUS_MERCHANT_UID={uid}\n\
         \x20 octopus order new --amount 100.00 --currency mmk --payment myanmar --country myanmar\n",
        uid = demo.merchant_uid,
        key = demo.test_api_key,
        secret = demo.test_api_secret,
        live_key = demo.api_key,
        live_secret = demo.api_secret,
        json = body.to_json(),
    );
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("OCTOPUS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        logs.json().with_current_span(true).try_init()
    } else {
        logs.try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
