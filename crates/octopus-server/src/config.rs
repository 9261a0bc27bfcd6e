//! Configuration of a server process (flags and `OCTOPUS_*` variables are parsed by the
//! binary; this is what they become).

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use octopus_domain::callback::Schedule;

pub use crate::http::connections::ConnectionLimits;
pub use crate::http::rate_limit::RateLimits;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Base URL payers and merchants reach this server at (payment URLs start with it).
    /// Defaults to `http://<listen address>`.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a sandbox payout takes to complete.
    pub sandbox_payout_delay: Duration,
    /// ttl of deposits that do not send one.
    pub default_deposit_ttl: Option<Duration>,
    /// How often background workers look for due work.
    pub worker_interval: Duration,
    /// How often the channels are read again (changes made with the CLI apply within this).
    pub channels_refresh: Duration,
    /// How long a node uses the fee schedules and the channels' daily volumes it read before
    /// reading them again (changes made elsewhere apply within this; zero: read every time).
    pub cache_fresh_for: Duration,
    /// How often accounting that failed is tried again.
    pub accounting_retry_interval: Duration,
    /// When failed callbacks are tried again.
    pub callback_schedule: Schedule,
    /// Longest a callback attempt may take in all, and to connect.
    pub callback_timeout: Duration,
    pub callback_connect_timeout: Duration,
    /// Most callback attempts in flight, in all and to one host.
    pub callback_concurrency: usize,
    pub callback_host_concurrency: usize,
    /// Whether callbacks may go to loopback, private and link-local addresses.
    pub allow_private_callbacks: bool,
    /// The `tenant` field of callbacks: the operator's name for this gateway.
    pub tenant: String,
    /// Timeouts of client connections and how many may be open.
    pub connections: ConnectionLimits,
    /// Requests per API key and per client IP (per node).
    pub rate_limits: RateLimits,
    /// The most orders one page of the consoles' order search reads for filters no index
    /// serves (`octopus_storage::search::SEARCH_WINDOW`).
    pub search_window: u32,
    /// Where Prometheus reads `/metrics` (its own listener; none: not served).
    pub metrics_listen: Option<SocketAddr>,
    /// How long a stopping node goes on answering (unready, closing each connection after its
    /// answer) before it stops accepting (`connections::serve`).
    pub drain_delay: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            public_url: None,
            trusted_proxies: Vec::new(),
            sandbox_payout_delay: Duration::from_secs(2),
            default_deposit_ttl: Some(Duration::from_secs(30 * 60)),
            worker_interval: Duration::from_millis(200),
            channels_refresh: Duration::from_secs(1),
            cache_fresh_for: Duration::from_secs(2),
            accounting_retry_interval: Duration::from_secs(10),
            callback_schedule: Schedule::default(),
            callback_timeout: Duration::from_secs(10),
            callback_connect_timeout: Duration::from_secs(5),
            callback_concurrency: 256,
            callback_host_concurrency: 16,
            allow_private_callbacks: false,
            tenant: "octopus".to_string(),
            connections: ConnectionLimits::default(),
            rate_limits: RateLimits::default(),
            search_window: octopus_storage::search::SEARCH_WINDOW,
            metrics_listen: None,
            drain_delay: Duration::ZERO,
        }
    }
}
