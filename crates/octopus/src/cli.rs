//! Command-line interface. Every flag has an `OCTOPUS_*` environment equivalent.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use octopus_server::http::rate_limit;

#[derive(Parser)]
#[command(
    name = "octopus",
    version,
    about = "Octopus, a self-hosted payment gateway"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Copy the embedded SQLite database to a file while the gateway serves (PostgreSQL:
    /// pg_dump and point-in-time recovery, docs/operations.md).
    Backup(BackupArgs),
    /// Manage merchants.
    Merchant(MerchantArgs),
    /// Send orders to a running gateway, as a merchant would.
    Order(OrderArgs),
    /// Drive signed order/new requests against a running gateway and report throughput.
    Bench(BenchArgs),
    /// Manage merchants' fee schedules.
    Fee(FeeArgs),
    /// Inspect and prove the ledger.
    Ledger(LedgerArgs),
    /// Inspect and resend merchant callbacks.
    Callback(CallbackArgs),
    /// Manage channels: the configured routes to upstream providers.
    Channel(ChannelArgs),
    /// Manage the operator's own receiving accounts (channels of kind accounts).
    Account(AccountArgs),
    /// Enroll and revoke the devices that watch own accounts; act as one (report, heartbeat).
    Device(DeviceArgs),
    /// Transfers no order took: list them, assign one to an order, record its return.
    Suspense(SuspenseArgs),
    /// Payouts: the queue of own accounts (list, export, mark sent or failed) and the payouts
    /// waiting for review (in-review, approve, reject).
    Payout(PayoutArgs),
    /// Merchants' API keys: create (live or test), list, revoke, rotate, IP allowlists.
    Key(KeyArgs),
    /// Blocklists, operator-wide or per merchant: add, remove, list, import from CSV.
    Blocklist(BlocklistArgs),
    /// Merchants' velocity rules: most orders or volume per member id or payer account.
    Velocity(VelocityArgs),
    /// Payout review thresholds: payouts above them wait for an operator.
    Review(ReviewArgs),
    /// The people who run the gateway: create (with a one-time password), list, disable,
    /// enable, reset; and the audit log of what was done.
    Operator(OperatorArgs),
}

#[derive(Args)]
pub struct OperatorArgs {
    #[command(subcommand)]
    pub command: OperatorCommand,
}

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Add an operator; prints {"email","role","password"} — a one-time password, shown this
    /// once, to be changed at the first sign-in.
    Create {
        #[arg(long)]
        email: String,
        /// admin, finance, support or viewer.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Invite a user of a merchant to the merchant console; prints {"email","role",
    /// "password"} like `create` (a one-time password to hand over).
    Invite {
        #[arg(long)]
        email: String,
        /// The merchant's uid.
        #[arg(long)]
        merchant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every operator and merchant user as JSON lines (never a password hash or TOTP secret).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Disable an operator: it cannot sign in, and its sessions end.
    Disable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Enable a disabled operator again.
    Enable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Reset an operator's sign-in: prints a new one-time password like `create`; TOTP is
    /// enrolled again, a lock is lifted, sessions end.
    Reset {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The newest lines of the audit log as JSON lines (newest first).
    Audit {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Add an admin token for automation (`Authorization: Bearer ...` on the admin API),
    /// acting with a role; prints {"name","role","token"} — the token shown this once.
    TokenCreate {
        #[arg(long)]
        name: String,
        /// admin, finance, support or viewer.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every admin token as JSON lines (never the token).
    TokenList {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke an admin token: refused from now on.
    TokenRevoke {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Add an API key to a merchant; prints {"api_key","api_secret","mode"} (the secret is
    /// shown this once).
    Create {
        #[arg(long)]
        merchant: String,
        /// A test key: sandbox channels only, balances apart from live money.
        #[arg(long)]
        test: bool,
        /// What the key is for (shown by `key list`).
        #[arg(long, default_value = "")]
        label: String,
        /// The key stops working after this long (e.g. 30d).
        #[arg(long)]
        expires_in: Option<String>,
        /// Addresses or CIDRs the key may be used from (comma separated; default: any).
        #[arg(long)]
        allow_ip: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// A merchant's keys, live and test, as JSON lines (newest first; never the secrets).
    List {
        #[arg(long)]
        merchant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key: every node refuses it within 2 seconds.
    Revoke {
        api_key: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Rotate a key: prints a new key like `create`; the old one keeps working until
    /// --expires-in has passed, then only the new one does.
    Rotate {
        api_key: String,
        /// How long the old key stays valid (e.g. 24h; default 24h).
        #[arg(long, default_value = "24h")]
        expires_in: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set a key's IP allowlist (addresses or CIDRs, comma separated; "" allows any address).
    Allow {
        api_key: String,
        #[arg(long)]
        ip: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct BlocklistArgs {
    #[command(subcommand)]
    pub command: BlocklistCommand,
}

#[derive(Subcommand)]
pub enum BlocklistCommand {
    /// Block a member id, payer account, payee account, payer name or IP/CIDR; prints the entry.
    Add {
        /// member_id, payer_account, payee_account, payer_name or ip.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        value: String,
        /// Only this merchant's orders (default: every merchant's).
        #[arg(long)]
        merchant: Option<String>,
        #[arg(long)]
        reason: String,
        /// The entry ends after this long (e.g. 24h, 7d; default: never).
        #[arg(long)]
        expires_in: Option<String>,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove an entry (the value is normalized as when it was added).
    Remove {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        merchant: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Entries as JSON lines: all of them, a merchant's (--merchant) or the operator-wide ones
    /// (--operator-wide).
    List {
        #[arg(long)]
        merchant: Option<String>,
        /// Only the operator-wide entries.
        #[arg(long)]
        operator_wide: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Add entries from a CSV file with the header kind,value,reason[,merchant][,expires_in];
    /// all or none are added (a bad line names its number).
    Import {
        file: PathBuf,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct VelocityArgs {
    #[command(subcommand)]
    pub command: VelocityCommand,
}

#[derive(Subcommand)]
pub enum VelocityCommand {
    /// Add a rule: at most --max-orders orders and/or --max-volume of --currency per
    /// --subject per --window (e.g. 10 deposits per member id per 1h); prints it with its id.
    Add {
        #[arg(long)]
        merchant: String,
        /// member_id or payer_account.
        #[arg(long)]
        subject: String,
        /// deposit or payout (default: both).
        #[arg(long)]
        r#type: Option<String>,
        /// e.g. 1h, 30m, 1d.
        #[arg(long)]
        window: String,
        #[arg(long)]
        max_orders: Option<u32>,
        #[arg(long)]
        max_volume: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every rule, as JSON lines.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    Remove {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub command: ReviewCommand,
}

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// Payouts of --currency above --above wait for review (a merchant's threshold replaces
    /// the operator-wide one).
    Set {
        #[arg(long)]
        currency: String,
        #[arg(long)]
        above: String,
        #[arg(long)]
        merchant: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove a threshold.
    Clear {
        #[arg(long)]
        currency: String,
        #[arg(long)]
        merchant: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every threshold, as JSON lines.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Who does an operator action, as the order's or transfer's history records it.
#[derive(Args, Clone)]
pub struct ActorArgs {
    /// Your name, recorded with the action (default: $USER).
    #[arg(long, env = "OCTOPUS_OPERATOR")]
    pub by: Option<String>,
}

impl ActorArgs {
    pub fn name(&self) -> String {
        self.by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "operator".to_string())
    }
}

#[derive(Args)]
pub struct AccountArgs {
    #[command(subcommand)]
    pub command: AccountCommand,
}

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum AccountCommand {
    /// Add a receiving account to a channel of kind accounts; prints it as JSON with its id.
    Add {
        /// The channel (of kind accounts) it belongs to.
        #[arg(long)]
        channel: String,
        /// bank, promptpay, upi or wallet.
        #[arg(long)]
        method: String,
        /// The account or wallet number, as the bank writes it.
        #[arg(long)]
        number: String,
        /// The holder's name, shown to payers.
        #[arg(long)]
        holder: String,
        #[arg(long)]
        currency: String,
        /// Thai bank code or short name (004, KBANK).
        #[arg(long)]
        bank_code: Option<String>,
        /// PromptPay ID (Thai mobile 0XXXXXXXXX, 13-digit national ID or 15-digit e-wallet ID).
        #[arg(long)]
        promptpay_id: Option<String>,
        /// UPI VPA (name@handle).
        #[arg(long)]
        vpa: Option<String>,
        /// The e-wallet (method wallet): gcash, bkash, nagad, kbzpay, wavepay, ...
        #[arg(long)]
        wallet: Option<String>,
        /// Most volume (sum of amounts) per UTC day.
        #[arg(long)]
        daily_limit: Option<String>,
        /// Most open deposits at once.
        #[arg(long)]
        max_open: Option<u32>,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every account, as JSON lines.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Take an account out of routing (its open orders still finish).
    Disable {
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Put an account back into routing.
    Enable {
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// How a device reaches the gateway and signs.
#[derive(Args, Clone)]
pub struct DeviceClientArgs {
    #[arg(long, env = "OCTOPUS_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The device id `octopus device add` printed.
    #[arg(long, env = "OCTOPUS_DEVICE_ID")]
    pub device: String,
    /// The device secret `octopus device add` printed.
    #[arg(long, env = "OCTOPUS_DEVICE_SECRET", hide_env_values = true)]
    pub secret: String,
}

#[derive(Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    pub command: DeviceCommand,
}

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Enroll a device for an account; prints {"device_id":...,"secret":...} (the secret only now).
    Add {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a device: its requests are refused from now on.
    Revoke {
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every device with its last heartbeat and whether it is online, as JSON lines.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Act as a device: report an incoming transfer (signed like a device).
    Report {
        #[command(flatten)]
        client: DeviceClientArgs,
        #[arg(long)]
        account: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        currency: String,
        /// The bank's reference of the transfer.
        #[arg(long)]
        reference: String,
        /// RFC 3339 (default: now).
        #[arg(long, default_value = "")]
        occurred_at: String,
        #[arg(long, default_value = "")]
        payer_account: String,
        #[arg(long, default_value = "")]
        payer_name: String,
        /// The raw notification text.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Act as a device: send a heartbeat (or one every --every seconds until stopped).
    Heartbeat {
        #[command(flatten)]
        client: DeviceClientArgs,
        #[arg(long)]
        every: Option<u64>,
    },
}

#[derive(Args)]
pub struct SuspenseArgs {
    #[command(subcommand)]
    pub command: SuspenseCommand,
}

#[derive(Subcommand)]
pub enum SuspenseCommand {
    /// Transfers waiting in suspense, as JSON lines (oldest first).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Assign a transfer to a deposit: the order completes with the amount received.
    Assign {
        transfer: String,
        payment_uid: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Record that a transfer went back to its payer.
    Returned {
        transfer: String,
        /// The bank reference of the return.
        #[arg(long)]
        reference: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct PayoutArgs {
    #[command(subcommand)]
    pub command: PayoutCommand,
}

#[derive(Subcommand)]
pub enum PayoutCommand {
    /// The payouts of a channel waiting to be paid, as JSON lines (oldest first).
    List {
        #[arg(long)]
        channel: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// The waiting payouts of a channel as CSV for a bank's bulk upload
    /// (bank_code,account,name,amount,currency,payment_uid).
    Export {
        #[arg(long)]
        channel: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Mark a payout sent, with the bank reference: its hold settles, the merchant is called back.
    Sent {
        payment_uid: String,
        #[arg(long)]
        reference: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Payouts waiting for review, as JSON lines (oldest first).
    InReview {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Approve a payout in review: it is sent on (within a worker round of a running gateway).
    Approve {
        payment_uid: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Reject a payout in review: it becomes reject, its hold goes back, the merchant is
    /// called back with "Rejected: <reason>".
    Reject {
        payment_uid: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Mark a payout failed: its hold goes back, the merchant is called back.
    Failed {
        payment_uid: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct ChannelArgs {
    #[command(subcommand)]
    pub command: ChannelCommand,
}

// Parsed once per run: boxing the large variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Add a channel, or replace the one with this code (a running gateway uses it within a
    /// second). Lists are comma separated; an empty list accepts anything.
    Add {
        /// The channel's code: 1 to 64 of a-z, 0-9, '_' and '-'.
        code: String,
        /// The connector kind (sandbox, paykassma).
        #[arg(long)]
        kind: String,
        /// Merchant UIDs served (default: every merchant).
        #[arg(long, default_value = "")]
        merchants: String,
        /// income, expense (default: both).
        #[arg(long, default_value = "")]
        types: String,
        /// Countries served, by name or ISO code (default: any).
        #[arg(long, default_value = "")]
        countries: String,
        /// Currencies served (default: any).
        #[arg(long, default_value = "")]
        currencies: String,
        /// Payment codes served, e.g. wavepay (default: any).
        #[arg(long, default_value = "")]
        payments: String,
        /// Smallest amount taken.
        #[arg(long)]
        min: Option<String>,
        /// Largest amount taken.
        #[arg(long)]
        max: Option<String>,
        /// Seconds a deposit may stay open when the merchant sends no ttl.
        #[arg(long)]
        ttl: Option<i64>,
        /// Lower is tried first.
        #[arg(long, default_value_t = 100)]
        priority: i32,
        /// Share of the orders among channels of the same priority.
        #[arg(long, default_value_t = 1)]
        weight: u32,
        /// Most volume (sum of amounts) per UTC day.
        #[arg(long)]
        daily_limit: Option<String>,
        /// A setting, name=value (repeatable), e.g. base_url=https://api.example.com.
        #[arg(long = "setting", value_name = "NAME=VALUE")]
        settings: Vec<String>,
        /// A credential, name=value (repeatable); stored encrypted, never printed. Prefer
        /// --credentials-file: command lines show in process lists and shell history.
        #[arg(long = "credential", value_name = "NAME=VALUE")]
        credentials: Vec<String>,
        /// A JSON object of credentials ({"name":"value",...}), or - for standard input.
        #[arg(long, value_name = "PATH")]
        credentials_file: Option<String>,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Every channel, as JSON lines (credentials by name only).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Take a channel out of routing (its open orders still finish).
    Disable {
        code: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Put a channel back into routing.
    Enable {
        code: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct CallbackArgs {
    #[command(subcommand)]
    pub command: CallbackCommand,
}

#[derive(Subcommand)]
pub enum CallbackCommand {
    /// An order's callbacks and every attempt of each.
    List {
        /// The order's payment_uid.
        payment_uid: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Send the order's current state to its notify_url again (recorded as manual); a running
    /// gateway delivers it.
    Resend {
        /// The order's payment_uid.
        payment_uid: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct BackupArgs {
    /// The backup file to write (it must not exist yet).
    #[arg(long)]
    pub to: PathBuf,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// Where the state lives, and the master key that protects its secrets.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// Directory of the embedded SQLite database (and of the default master key file).
    #[arg(long, env = "OCTOPUS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Use PostgreSQL instead of SQLite (postgres://user@host:port/database).
    #[arg(long, env = "OCTOPUS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// PostgreSQL connections per node.
    #[arg(long, env = "OCTOPUS_DB_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// File holding the master key [default: <data-dir>/master.key]. The variable
    /// OCTOPUS_MASTER_KEY, if set, holds the key itself and takes precedence.
    #[arg(long, env = "OCTOPUS_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl DatabaseArgs {
    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => format!("PostgreSQL at {}", redact_url(url)),
            _ => format!("SQLite in {}", self.data_dir.display()),
        }
    }
}

/// A database URL as it may be printed: host, port and database only (never a user's
/// password, whichever form the URL has).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.has_host() => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        _ => "(connection string)".to_string(),
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OCTOPUS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Public base URL of this gateway (payment pages start with it) [default: http://<listen>].
    #[arg(long, env = "OCTOPUS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Development mode: on an empty database, create a demo merchant and print its
    /// credentials and a ready-to-paste request.
    #[arg(long, env = "OCTOPUS_DEV")]
    pub dev: bool,
    /// A proxy (address or CIDR) whose X-Forwarded-For header is trusted; repeatable.
    #[arg(
        long = "trusted-proxy",
        env = "OCTOPUS_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Seconds a sandbox payout takes to complete.
    #[arg(long, env = "OCTOPUS_SANDBOX_PAYOUT_DELAY", default_value_t = 2.0)]
    pub sandbox_payout_delay: f64,
    /// ttl in seconds of deposits that send none (0: no expiry).
    #[arg(long, env = "OCTOPUS_DEFAULT_DEPOSIT_TTL", default_value_t = 1800)]
    pub default_deposit_ttl: u64,
    /// Delays before each retry of a failed callback (ms, s, m, h).
    #[arg(
        long,
        env = "OCTOPUS_CALLBACK_SCHEDULE",
        default_value = "15s,1m,5m,15m,1h,2h,6h,12h"
    )]
    pub callback_schedule: String,
    /// Seconds a callback attempt may take in all, at most 30 (connecting may take at most 5).
    #[arg(long, env = "OCTOPUS_CALLBACK_TIMEOUT", default_value_t = 10.0)]
    pub callback_timeout: f64,
    /// Most callback attempts in flight.
    #[arg(long, env = "OCTOPUS_CALLBACK_CONCURRENCY", default_value_t = 256)]
    pub callback_concurrency: usize,
    /// Most callback attempts in flight to one host.
    #[arg(long, env = "OCTOPUS_CALLBACK_HOST_CONCURRENCY", default_value_t = 16)]
    pub callback_host_concurrency: usize,
    /// Let callbacks go to loopback, private and link-local addresses (always so with --dev).
    #[arg(long, env = "OCTOPUS_ALLOW_PRIVATE_CALLBACKS")]
    pub allow_private_callbacks: bool,
    /// The `tenant` field of callbacks.
    #[arg(long, env = "OCTOPUS_TENANT", default_value = "octopus")]
    pub tenant: String,
    /// The most orders one page of the consoles' order search reads when its filters are
    /// not all served by an index (a short page then says how far back it read).
    #[arg(long, env = "OCTOPUS_SEARCH_WINDOW", default_value_t = octopus_storage::search::SEARCH_WINDOW,
          value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub search_window: u32,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, a listener of its own
    /// (e.g. 127.0.0.1:9464); none by default.
    #[arg(long, env = "OCTOPUS_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Log lines as text or as JSON objects (one per line, with the request id).
    #[arg(long, env = "OCTOPUS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Seconds a stopping node (SIGTERM, Ctrl-C) goes on answering, unready and closing each
    /// connection after its answer, before it stops accepting: longer than the load balancer
    /// takes to see `/readyz` fail (default 5; 0 with --dev).
    #[arg(long, env = "OCTOPUS_DRAIN_DELAY")]
    pub drain_delay: Option<f64>,
    /// Seconds a client may take from a request's first byte to the end of its headers.
    #[arg(long, env = "OCTOPUS_HEADER_TIMEOUT", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Seconds a client may take to send a request's body after its headers.
    #[arg(long, env = "OCTOPUS_BODY_TIMEOUT", default_value_t = 30.0)]
    pub body_timeout: f64,
    /// Seconds a connection may wait for its next request (new or kept alive) before it is closed.
    #[arg(long, env = "OCTOPUS_IDLE_TIMEOUT", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Most client connections open at once (default: three quarters of the open file limit,
    /// keeping at most 1,024 descriptors for the database and outgoing calls).
    #[arg(long, env = "OCTOPUS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Signed merchant API requests per API key, on this node: N/s, N/min or off.
    #[arg(long, env = "OCTOPUS_RATE_LIMIT_API", default_value = rate_limit::DEFAULT_API_PER_KEY)]
    pub rate_limit_api: String,
    /// Cashier page requests per client IP, on this node: N/s, N/min or off.
    #[arg(long, env = "OCTOPUS_RATE_LIMIT_PAGES", default_value = rate_limit::DEFAULT_PAGES_PER_IP)]
    pub rate_limit_pages: String,
    /// Postbacks per client IP, on this node: N/s, N/min or off.
    #[arg(
        long,
        env = "OCTOPUS_RATE_LIMIT_POSTBACKS",
        default_value = rate_limit::DEFAULT_POSTBACKS_PER_IP
    )]
    pub rate_limit_postbacks: String,
    /// Device API requests per client IP, on this node: N/s, N/min or off.
    #[arg(
        long,
        env = "OCTOPUS_RATE_LIMIT_DEVICES",
        default_value = rate_limit::DEFAULT_DEVICES_PER_IP
    )]
    pub rate_limit_devices: String,
}

#[derive(Args)]
pub struct MerchantArgs {
    #[command(subcommand)]
    pub command: MerchantCommand,
}

#[derive(Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant with a live and a test API key; prints {"merchant_uid",
    /// "merchant_name","api_key","api_secret","test_api_key","test_api_secret"}.
    Create {
        /// The merchant's name (shown to payers).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Disable a merchant: every key of its live and test books is refused (within two
    /// seconds on every node); its orders, balances and callbacks go on.
    Disable {
        #[arg(long)]
        merchant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Enable a disabled merchant again.
    Enable {
        #[arg(long)]
        merchant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// How to reach the gateway as a merchant.
#[derive(Args, Clone)]
pub struct ClientArgs {
    /// Base URL of the gateway.
    #[arg(long, env = "OCTOPUS_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The API key (OC-Key).
    #[arg(long, env = "OCTOPUS_API_KEY")]
    pub key: String,
    /// The API secret (prefer the environment variable: flags show in process lists).
    #[arg(long, env = "OCTOPUS_API_SECRET", hide_env_values = true)]
    pub secret: String,
}

#[derive(Args)]
pub struct OrderArgs {
    #[command(subcommand)]
    pub command: OrderCommand,
}

// Parsed once per run: boxing the large variant would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum OrderCommand {
    /// Create a deposit (default) or payout and print the gateway's answer.
    New(NewOrderArgs),
    /// Print an order by merchant_order_id.
    Get {
        #[command(flatten)]
        client: ClientArgs,
        /// The merchant's order id.
        merchant_order_id: String,
    },
    /// Refund a completed deposit (operator action, on the database): the order becomes
    /// `refund` and the merchant's balance gives back what the deposit credited.
    Refund {
        /// The order's payment_uid.
        payment_uid: String,
        /// Why (recorded on the order's history).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// An order's history (operator, on the database): its status changes, and every request
    /// to its upstream with the answer (credentials masked), as JSON.
    History {
        /// The order's payment_uid.
        payment_uid: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Complete a deposit by hand (补单) with the bank reference and the amount received.
    Confirm {
        payment_uid: String,
        /// The bank's reference of the payer's transfer.
        #[arg(long)]
        reference: String,
        /// What was received (not what was asked).
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct FeeArgs {
    #[command(subcommand)]
    pub command: FeeCommand,
}

#[derive(Subcommand)]
pub enum FeeCommand {
    /// Set (replace) a fee schedule: percent of the amount plus a fixed part, kept between a
    /// minimum and a maximum (fixed, minimum and maximum in the order's currency).
    Set {
        /// The merchant UID.
        #[arg(long)]
        merchant: String,
        /// Payment method the schedule applies to, or * for any.
        #[arg(long, default_value = "*")]
        payment: String,
        /// recharge, receive, pay, settle, or * for any.
        #[arg(long, default_value = "*")]
        accounting_type: String,
        /// Percentage of the amount (fractions allowed, e.g. 2.5 or 0.35).
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        percent: String,
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        fixed: String,
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        min: String,
        #[arg(long, allow_hyphen_values = true)]
        max: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List a merchant's fee schedules.
    List {
        #[arg(long)]
        merchant: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Recompute every balance from the journal: every entry must balance, every cached
    /// balance must match its postings, no merchant balance may be negative. Exits non-zero on
    /// any violation.
    Verify {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Args)]
pub struct NewOrderArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The merchant UID.
    #[arg(long, env = "OCTOPUS_MERCHANT_UID")]
    pub merchant_uid: String,
    /// income (deposit) or expense (payout).
    #[arg(long = "type", default_value = "income")]
    pub transaction_type: String,
    #[arg(long)]
    pub amount: String,
    #[arg(long)]
    pub currency: String,
    /// Payment method code.
    #[arg(long)]
    pub payment: String,
    #[arg(long)]
    pub country: String,
    /// The merchant's order id [default: a new random one].
    #[arg(long)]
    pub merchant_order_id: Option<String>,
    /// Payout destination account.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub to_name: Option<String>,
    #[arg(long)]
    pub to_bank_name: Option<String>,
    #[arg(long)]
    pub notify_url: Option<String>,
    #[arg(long)]
    pub redirect_url: Option<String>,
    /// Any other field, as key=value; repeatable.
    #[arg(long = "field", value_parser = parse_key_value)]
    pub fields: Vec<(String, String)>,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected key=value, got {text:?}"))
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The merchant UID.
    #[arg(long, env = "OCTOPUS_MERCHANT_UID")]
    pub merchant_uid: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// What each iteration does.
    #[arg(long, value_enum, default_value = "deposit")]
    pub scenario: Scenario,
    /// callback-backlog: callbacks that fall due for the receiver's host while it is slow.
    #[arg(long, default_value_t = 12_000)]
    pub backlog: u64,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// completion: deposits created, and their cashier pages fetched, before the run (each
    /// iteration completes one; a run that uses them all up reports an error).
    #[arg(long, default_value_t = 60_000)]
    pub prepared: usize,
    /// The own-accounts scenario's devices, ACCOUNT:DEVICE_ID:SECRET (repeatable), as
    /// `octopus account add` and `octopus device add` printed them.
    #[arg(long = "device", value_name = "ACCOUNT:DEVICE:SECRET")]
    pub devices: Vec<String>,
}

/// A benchmark scenario (see `octopus bench --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// order/new deposits.
    Deposit,
    /// order/new payouts, each holding amount plus fee (the merchant is funded first).
    Payout,
    /// A deposit, then "pay" on the cashier page: a ledger credit.
    Complete,
    /// A deposit, then "fail": the same status change without a ledger posting.
    Fail,
    /// The completion alone, one request: "pay" posted on the cashier page of a deposit
    /// created (and its page fetched) before the run.
    Completion,
    /// Like complete, with a notify_url: the harness receives and counts the callbacks.
    Callback,
    /// The callback scenario's steady rate, then a backlog for the receiver's host built while
    /// the receiver is slow, and the rate at which it drains once the receiver is fast.
    CallbackBacklog,
    /// A THB deposit on the operator's own accounts (an account and a unique final amount),
    /// then its device's signed report of the transfer: matched, completed, credited.
    OwnAccounts,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Deposit => "deposit",
            Scenario::Payout => "payout",
            Scenario::Complete => "complete",
            Scenario::Fail => "fail",
            Scenario::Completion => "completion",
            Scenario::Callback => "callback",
            Scenario::CallbackBacklog => "callback-backlog",
            Scenario::OwnAccounts => "own-accounts",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_prints_passwords() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/octopus"),
            "postgres://db:5432/octopus"
        );
        assert_eq!(
            super::redact_url("postgres://postgres@127.0.0.1/x?password=s3cret"),
            "postgres://127.0.0.1/x"
        );
        assert_eq!(
            super::redact_url("host=db password=s3cret"),
            "(connection string)"
        );
    }
}
