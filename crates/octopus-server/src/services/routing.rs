//! Channels and routing. A channel is one configured route to an upstream (a connector plus
//! its settings), managed with `octopus channel ...` and stored in the database; every node
//! reads them again every second, so a change applies to the orders created after it. Routing
//! picks the channels that take an order, the lowest priority first and, among equals, by
//! weight; the others follow as failover candidates. Every decision is recorded as JSON in
//! the order's `distribute_rules`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use octopus_connectors::registry::{self, Setup};
use octopus_connectors::Connector;
use octopus_domain::routing::{Failover, RoutingDecision};
use octopus_domain::secret_box::MasterKey;
use octopus_domain::{Channel, OrderRequest};
use octopus_storage::ChannelStore;
use rand::Rng;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::error::Error;

/// The code of the sandbox channel every gateway starts with.
pub const SANDBOX: &str = "sandbox";

/// A channel as routing uses it: its configuration and its connector.
pub struct ChannelEntry {
    pub config: Channel,
    pub connector: Arc<dyn Connector>,
}

impl ChannelEntry {
    pub fn code(&self) -> &str {
        &self.config.code
    }
}

/// The routing decision for one order: the channels to try, in order.
pub struct Route {
    pub candidates: Vec<Arc<ChannelEntry>>,
    pub skipped: BTreeMap<String, String>,
    pub requested_channel: String,
    /// For each candidate of the operator's own accounts (deposits): its accounts that fit.
    pub accounts: BTreeMap<String, octopus_domain::account::AccountChoice>,
}

impl Route {
    /// The channel the order goes to first.
    pub fn channel(&self) -> &Arc<ChannelEntry> {
        &self.candidates[0]
    }

    /// What `distribute_rules` records: the order went to `chosen` after `failovers`
    /// (channel, reason) failed.
    pub fn decision(&self, chosen: &str, failovers: &[(String, String)]) -> RoutingDecision {
        RoutingDecision {
            rule: "channels",
            requested_channel: self.requested_channel.clone(),
            candidates: self
                .candidates
                .iter()
                .map(|c| c.code().to_string())
                .collect(),
            chosen: chosen.to_string(),
            failovers: failovers
                .iter()
                .map(|(channel, reason)| Failover {
                    channel: channel.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            skipped: self.skipped.clone(),
            account: None,
        }
    }
}

pub struct Channels {
    storage: Arc<dyn ChannelStore>,
    master_key: MasterKey,
    sandbox_payout_delay: Duration,
    current: RwLock<Arc<Vec<Arc<ChannelEntry>>>>,
    /// How many times the channels were read (see [`Channels::refreshes`]).
    refreshes: watch::Sender<u64>,
    /// Channels' volumes of the day, for daily limits: per channel, the UTC day, when it was
    /// counted from storage, and the volume (plus what this node routed since).
    volumes: Mutex<HashMap<String, (i64, Instant, Decimal)>>,
    /// How long a channel's counted volume of the day is used before it is counted again
    /// (other nodes' orders are seen within this).
    volumes_fresh_for: Duration,
}

const DAY_MS: i64 = 86_400_000;

impl Channels {
    /// Reads the channels from storage and builds their connectors.
    pub async fn load(
        storage: Arc<dyn ChannelStore>,
        master_key: MasterKey,
        sandbox_payout_delay: Duration,
        volumes_fresh_for: Duration,
    ) -> Result<Channels, Error> {
        let channels = Channels {
            storage,
            master_key,
            sandbox_payout_delay,
            current: RwLock::new(Arc::new(Vec::new())),
            refreshes: watch::Sender::new(0),
            volumes: Mutex::new(HashMap::new()),
            volumes_fresh_for,
        };
        channels.refresh().await?;
        Ok(channels)
    }

    /// Reads the channels again; a channel whose configuration did not change keeps its
    /// connector. A channel whose connector cannot be built is left out (and logged).
    pub async fn refresh(&self) -> Result<(), Error> {
        let stored = self.storage.channels().await?;
        let before = self.snapshot();
        let mut next = Vec::with_capacity(stored.len());
        for config in stored {
            if let Some(same) = before.iter().find(|e| e.config == config) {
                next.push(Arc::clone(same));
                continue;
            }
            match self.connector_for(&config) {
                Ok(connector) => next.push(Arc::new(ChannelEntry { config, connector })),
                Err(e) => {
                    tracing::error!(channel = %config.code, error = %e, "channel left out: its connector cannot be built")
                }
            }
        }
        *self.current.write().expect("channels lock") = Arc::new(next);
        self.refreshes.send_modify(|n| *n += 1);
        Ok(())
    }

    /// How many times this node has read the channels. A change stored before a refresh
    /// began is in use once that refresh is counted: the second one counted after the
    /// change (the first may have begun before it).
    pub fn refreshes(&self) -> watch::Receiver<u64> {
        self.refreshes.subscribe()
    }

    fn connector_for(&self, config: &Channel) -> Result<Arc<dyn Connector>, Error> {
        let credentials = open_credentials(&self.master_key, &config.sealed_credentials)?;
        let setup = Setup {
            channel: &config.code,
            settings: &config.settings,
            credentials: &credentials,
            sandbox_payout_delay: self.sandbox_payout_delay,
        };
        registry::build(&config.kind, &setup).map_err(|e| Error::Internal(e.to_string()))
    }

    fn snapshot(&self) -> Arc<Vec<Arc<ChannelEntry>>> {
        Arc::clone(&self.current.read().expect("channels lock"))
    }

    /// A channel by code, enabled or not (its orders still need it).
    pub fn get(&self, code: &str) -> Option<Arc<ChannelEntry>> {
        self.snapshot().iter().find(|c| c.code() == code).cloned()
    }

    /// Chooses the channels of a new order: those that take it, by priority (lower first),
    /// among equal priorities by weight (a random draw for the first, heavier first after).
    pub fn route(&self, request: &OrderRequest) -> Result<Route, Error> {
        let all = self.snapshot();
        let mut skipped = BTreeMap::new();
        let mut fitting: Vec<Arc<ChannelEntry>> = Vec::new();
        for entry in all.iter() {
            match entry.config.mismatch(request) {
                None => fitting.push(Arc::clone(entry)),
                Some(why) => {
                    skipped.insert(entry.code().to_string(), why);
                }
            }
        }
        if fitting.is_empty() {
            return Err(no_channel(&skipped));
        }
        let candidates = order_candidates(fitting, &mut rand::thread_rng());
        Ok(Route {
            candidates,
            skipped,
            requested_channel: request.channel.clone(),
            accounts: BTreeMap::new(),
        })
    }
}

impl Channels {
    /// Whether a channel's daily limit (if any) leaves room for `amount` today (UTC).
    pub async fn within_daily_limit(
        &self,
        channel: &Channel,
        amount: Decimal,
        now: i64,
    ) -> Result<bool, Error> {
        let Some(limit) = channel.daily_limit else {
            return Ok(true);
        };
        let day = now.div_euclid(DAY_MS);
        let cached = self
            .volumes
            .lock()
            .expect("volumes lock")
            .get(&channel.code)
            .copied();
        let volume = match cached {
            Some((d, at, volume)) if d == day && at.elapsed() < self.volumes_fresh_for => volume,
            _ => {
                let volume = self
                    .storage
                    .channel_volume(&channel.code, day * DAY_MS)
                    .await?;
                self.volumes
                    .lock()
                    .expect("volumes lock")
                    .insert(channel.code.clone(), (day, Instant::now(), volume));
                volume
            }
        };
        Ok(volume + amount <= limit)
    }

    /// Counts an order just routed to a channel with a daily limit.
    pub fn count(&self, channel: &Channel, amount: Decimal) {
        if channel.daily_limit.is_none() {
            return;
        }
        if let Some((_, _, volume)) = self
            .volumes
            .lock()
            .expect("volumes lock")
            .get_mut(&channel.code)
        {
            *volume += amount;
        }
    }
}

/// The merchant's answer when no channel is left: "No channel available (<code>: <why>; ...)".
pub fn no_channel<'a>(reasons: impl IntoIterator<Item = (&'a String, &'a String)>) -> Error {
    let why: Vec<String> = reasons
        .into_iter()
        .map(|(code, why)| format!("{code}: {why}"))
        .collect();
    let why = if why.is_empty() {
        "no channel is configured".to_string()
    } else {
        why.join("; ")
    };
    Error::Refused(format!("No channel available ({why})"))
}

/// Orders the fitting channels: by priority; within a priority, the first drawn by weight,
/// the rest heavier first.
fn order_candidates(
    mut fitting: Vec<Arc<ChannelEntry>>,
    rng: &mut impl Rng,
) -> Vec<Arc<ChannelEntry>> {
    fitting.sort_by(|a, b| {
        (
            a.config.priority,
            std::cmp::Reverse(a.config.weight),
            a.code(),
        )
            .cmp(&(
                b.config.priority,
                std::cmp::Reverse(b.config.weight),
                b.code(),
            ))
    });
    let best = fitting[0].config.priority;
    let tier = fitting
        .iter()
        .take_while(|c| c.config.priority == best)
        .count();
    let total: u64 = fitting[..tier].iter().map(|c| c.config.weight as u64).sum();
    let mut draw = rng.gen_range(0..total);
    let first = fitting[..tier]
        .iter()
        .position(|c| {
            let w = c.config.weight as u64;
            if draw < w {
                true
            } else {
                draw -= w;
                false
            }
        })
        .expect("the draw falls within the total weight");
    let chosen = fitting.remove(first);
    fitting.insert(0, chosen);
    fitting
}

/// A channel's credentials, opened (an empty map when it has none).
pub fn open_credentials(
    master_key: &MasterKey,
    sealed: &str,
) -> Result<BTreeMap<String, String>, Error> {
    if sealed.is_empty() {
        return Ok(BTreeMap::new());
    }
    let text = master_key.open(sealed).map_err(|_| {
        Error::Internal("a channel's credentials cannot be opened with this master key".into())
    })?;
    serde_json::from_str(text.expose_secret()).map_err(|_| {
        Error::Internal("a channel's credentials are not a JSON object of strings".into())
    })
}

/// Seals credentials for storage.
pub fn seal_credentials(master_key: &MasterKey, credentials: &BTreeMap<String, String>) -> String {
    if credentials.is_empty() {
        return String::new();
    }
    master_key.seal(&serde_json::to_string(credentials).expect("a map of strings serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn entry(code: &str, priority: i32, weight: u32) -> Arc<ChannelEntry> {
        let mut config = Channel::new(code, "sandbox", 0);
        config.priority = priority;
        config.weight = weight;
        Arc::new(ChannelEntry {
            config,
            connector: Arc::new(octopus_connectors::SandboxConnector::new(Duration::ZERO)),
        })
    }

    #[test]
    fn weights_split_the_first_choice_and_priorities_order_the_rest() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut firsts = BTreeMap::new();
        for _ in 0..10_000 {
            let order = order_candidates(
                vec![
                    entry("backup", 200, 1),
                    entry("a", 100, 70),
                    entry("b", 100, 30),
                ],
                &mut rng,
            );
            assert_eq!(order.len(), 3);
            assert_eq!(
                order[2].code(),
                "backup",
                "a lower priority is only a failover"
            );
            *firsts.entry(order[0].code().to_string()).or_insert(0) += 1;
        }
        let a = firsts["a"];
        assert!((6_800..7_200).contains(&a), "70/30 split: {firsts:?}");
    }
}
