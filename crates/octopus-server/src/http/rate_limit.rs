//! Rate limits, so that one client cannot take the gateway's capacity from everyone else: a
//! merchant's integration stuck in a retry loop, a script hammering a payment page, a flood
//! of forged postbacks or device requests. Each limit is a keyed GCRA limiter (`governor`):
//! per API key on the merchant API (checked once the signature is verified, so only the key's
//! holder spends its budget), per client IP on the cashier pages, the postbacks and the device
//! API (checked by [`per_ip`] before a body is read or anything stored). A refused request is
//! answered `429 {"result":"error","data":"Too many requests"}` with `Retry-After`
//! ([`crate::Error::RateLimited`]).
//!
//! - A limit is written `N/s` or `N/min` (a burst of N, refilled over a second or a minute) or
//!   `off`; [`parse_limit`] is strict, so a typo in a flag stops the server instead of quietly
//!   leaving it unprotected.
//! - The client IP is the one [`crate::http::client_ip::resolve`] finds behind the trusted
//!   proxies. IPv6 clients share one budget per /64, the block one host is usually given, so
//!   a host cannot get a fresh budget by changing its address.
//! - The limiters keep one small state per key in memory. [`RateLimiters::sweep`] forgets the
//!   keys whose budget is full again; the server runs it every [`SWEEP_EVERY`], so the maps
//!   hold only the keys seen recently and cannot grow without bound.
//! - The limits are per node: they are not shared through the database, so with N nodes
//!   behind a balancer a client may get up to N times the limit.

use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::Error;

/// The default limits (the flags' defaults too). Payers often share an address behind a
/// carrier's NAT, hence a generous budget per IP on the pages.
pub const DEFAULT_API_PER_KEY: &str = "1000/s";
pub const DEFAULT_PAGES_PER_IP: &str = "100/s";
pub const DEFAULT_POSTBACKS_PER_IP: &str = "200/s";
pub const DEFAULT_DEVICES_PER_IP: &str = "20/s";
/// The largest N of a limit (larger ones are as good as `off`, and likely a typo).
pub const MAX_PER_PERIOD: u32 = 1_000_000;
/// How often the limiters forget the keys whose budget is full again.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The period a limit's count refills over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Second,
    Minute,
}

/// A limit: at most `count` requests at once, refilled over one `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Per,
}

impl Rate {
    fn quota(self) -> Quota {
        match self.per {
            Per::Second => Quota::per_second(self.count),
            Per::Minute => Quota::per_minute(self.count),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per {
            Per::Second => "s",
            Per::Minute => "min",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Why a limit's text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("\"{0}\" is not a rate limit: write N/s, N/min or off (for example 100/s)")]
    Shape(String),
    #[error("\"{0}\": N must be a whole number from 1 to {MAX_PER_PERIOD}")]
    Count(String),
}

/// Reads a limit: `N/s`, `N/min` (N from 1 to [`MAX_PER_PERIOD`]) or `off` (`None`).
pub fn parse_limit(text: &str) -> Result<Option<Rate>, LimitError> {
    let text = text.trim();
    if text == "off" {
        return Ok(None);
    }
    let shape = || LimitError::Shape(text.to_string());
    let (count, unit) = text.split_once('/').ok_or_else(shape)?;
    let per = match unit {
        "s" => Per::Second,
        "min" => Per::Minute,
        _ => return Err(shape()),
    };
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LimitError::Count(text.to_string()));
    }
    let count = count
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PER_PERIOD).contains(n))
        .and_then(NonZeroU32::new)
        .ok_or_else(|| LimitError::Count(text.to_string()))?;
    Ok(Some(Rate { count, per }))
}

/// The four limits of a server; `None` is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Signed merchant API requests per API key.
    pub api_per_key: Option<Rate>,
    /// Cashier page requests (`/octopus/pay/...`) per client IP.
    pub pages_per_ip: Option<Rate>,
    /// Postbacks (`/octopus/postback/...`) per client IP.
    pub postbacks_per_ip: Option<Rate>,
    /// Device API requests (`/octopus/device/...`) per client IP.
    pub devices_per_ip: Option<Rate>,
}

impl RateLimits {
    /// Every limit off.
    pub fn off() -> RateLimits {
        RateLimits {
            api_per_key: None,
            pages_per_ip: None,
            postbacks_per_ip: None,
            devices_per_ip: None,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        let default = |text| parse_limit(text).expect("the default limits parse");
        RateLimits {
            api_per_key: default(DEFAULT_API_PER_KEY),
            pages_per_ip: default(DEFAULT_PAGES_PER_IP),
            postbacks_per_ip: default(DEFAULT_POSTBACKS_PER_IP),
            devices_per_ip: default(DEFAULT_DEVICES_PER_IP),
        }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// One limit, kept per key (cloned cheaply; all clones share the budgets).
pub struct Limiter<K: Hash + Eq + Clone>(Option<Arc<Keyed<K>>>);

impl<K: Hash + Eq + Clone> Clone for Limiter<K> {
    fn clone(&self) -> Self {
        Limiter(self.0.clone())
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(rate: Option<Rate>) -> Limiter<K> {
        Limiter(rate.map(|rate| Arc::new(RateLimiter::keyed(rate.quota()))))
    }

    /// Spends one request of `key`'s budget, or says how long until one is there again.
    pub fn check(&self, key: &K) -> Result<(), Error> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter
            .check_key(key)
            .map_err(|not_until| Error::RateLimited {
                retry_after: not_until.wait_time_from(limiter.clock().now()),
            })
    }

    fn sweep(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many keys are remembered (0 when off).
    pub fn keys(&self) -> usize {
        self.0.as_ref().map_or(0, |limiter| limiter.len())
    }
}

/// The limiters of a server, built from its [`RateLimits`].
#[derive(Clone)]
pub struct RateLimiters {
    pub api: Limiter<String>,
    pub pages: Limiter<IpAddr>,
    pub postbacks: Limiter<IpAddr>,
    pub devices: Limiter<IpAddr>,
}

impl RateLimiters {
    pub fn new(limits: &RateLimits) -> RateLimiters {
        RateLimiters {
            api: Limiter::new(limits.api_per_key),
            pages: Limiter::new(limits.pages_per_ip),
            postbacks: Limiter::new(limits.postbacks_per_ip),
            devices: Limiter::new(limits.devices_per_ip),
        }
    }

    /// Forgets every key whose budget is full again (it would start from a full budget anyway).
    pub fn sweep(&self) {
        self.api.sweep();
        self.pages.sweep();
        self.postbacks.sweep();
        self.devices.sweep();
    }

    /// Sweeps every [`SWEEP_EVERY`] until `stop` says true.
    pub fn spawn_sweeper(&self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let limiters = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => limiters.sweep(),
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
            }
        })
    }
}

/// The key of a client IP's budget: an IPv4 address itself (also when written IPv4-mapped),
/// an IPv6 address's /64.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

/// What [`per_ip`] needs: one limiter, and whose `X-Forwarded-For` to believe.
#[derive(Clone)]
pub struct PerIp {
    limiter: Limiter<IpAddr>,
    trusted_proxies: Arc<[IpNet]>,
}

impl PerIp {
    pub fn new(limiter: &Limiter<IpAddr>, trusted_proxies: &[IpNet]) -> PerIp {
        PerIp {
            limiter: limiter.clone(),
            trusted_proxies: trusted_proxies.into(),
        }
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`): spends one request of the client IP's
/// budget before the route sees the request, or answers 429 without reading the body.
pub async fn per_ip(State(limit): State<PerIp>, request: Request, next: Next) -> Response {
    if limit.limiter.0.is_some() {
        let client = crate::http::client_ip::of_request(
            request.extensions(),
            request.headers(),
            &limit.trusted_proxies,
        );
        if let Err(refused) = limit.limiter.check(&ip_key(client)) {
            return refused.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn rate(count: u32, per: Per) -> Option<Rate> {
        Some(Rate {
            count: NonZeroU32::new(count).unwrap(),
            per,
        })
    }

    #[test]
    fn reads_per_second_per_minute_and_off() {
        assert_eq!(parse_limit("100/s"), Ok(rate(100, Per::Second)));
        assert_eq!(parse_limit(" 5/min "), Ok(rate(5, Per::Minute)));
        assert_eq!(parse_limit("1/s"), Ok(rate(1, Per::Second)));
        assert_eq!(parse_limit("1000000/min"), Ok(rate(1_000_000, Per::Minute)));
        assert_eq!(parse_limit("off"), Ok(None));
    }

    #[test]
    fn refuses_anything_else_saying_what_is_expected() {
        for shape in [
            "", "100", "100/", "/s", "100/m", "100/sec", "100/S", "100/h", "100 / s", "Off",
            "none", "100/s/s",
        ] {
            assert!(
                matches!(
                    parse_limit(shape),
                    Err(LimitError::Shape(_) | LimitError::Count(_))
                ),
                "{shape:?} is refused"
            );
        }
        let error = parse_limit("100/m").unwrap_err().to_string();
        assert!(error.contains("N/s, N/min or off"), "{error}");
        for count in [
            "0/s",
            "-1/s",
            "+5/s",
            "1.5/s",
            "1e3/s",
            "1000001/s",
            "99999999999/min",
        ] {
            assert_eq!(
                parse_limit(count),
                Err(LimitError::Count(count.to_string())),
                "{count:?}"
            );
        }
        let error = parse_limit("0/s").unwrap_err().to_string();
        assert!(error.contains("from 1 to 1000000"), "{error}");
    }

    #[test]
    fn the_defaults_are_the_documented_ones_and_show_as_written() {
        let limits = RateLimits::default();
        assert_eq!(limits.api_per_key, rate(1000, Per::Second));
        assert_eq!(limits.pages_per_ip, rate(100, Per::Second));
        assert_eq!(limits.postbacks_per_ip, rate(200, Per::Second));
        assert_eq!(limits.devices_per_ip, rate(20, Per::Second));
        assert_eq!(rate(5, Per::Minute).unwrap().to_string(), "5/min");
        assert_eq!(limits.api_per_key.unwrap().to_string(), DEFAULT_API_PER_KEY);
    }

    #[test]
    fn ipv6_hosts_share_their_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_eq!(ip_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(ip_key(a), ip_key(other));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(ip_key(mapped), "203.0.113.9".parse::<IpAddr>().unwrap());
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(ip_key(v4), v4);
    }

    #[test]
    fn a_burst_over_the_limit_is_refused_with_the_wait_and_keys_are_apart() {
        let limiter = Limiter::<String>::new(rate(3, Per::Minute));
        let key = "k1".to_string();
        for _ in 0..3 {
            limiter.check(&key).unwrap();
        }
        match limiter.check(&key) {
            Err(Error::RateLimited { retry_after }) => {
                // One request comes back every 20 s.
                assert!(retry_after > Duration::from_secs(19), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(20), "{retry_after:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        limiter.check(&"k2".to_string()).unwrap();
        assert_eq!(limiter.keys(), 2);
        // Both keys have spent some of their budget: a sweep keeps them.
        limiter.sweep();
        assert_eq!(limiter.keys(), 2);
        let off = Limiter::<String>::new(None);
        for _ in 0..10 {
            off.check(&key).unwrap();
        }
        assert_eq!(off.keys(), 0);
    }

    #[test]
    fn a_sweep_forgets_keys_whose_budget_is_full_again() {
        let limiter = Limiter::<IpAddr>::new(rate(1_000_000, Per::Second));
        for i in 0..100u8 {
            limiter
                .check(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
                .unwrap();
        }
        assert_eq!(limiter.keys(), 100);
        // A million a second: one request's share comes back within a microsecond.
        std::thread::sleep(Duration::from_millis(5));
        limiter.sweep();
        assert_eq!(limiter.keys(), 0);
    }
}
