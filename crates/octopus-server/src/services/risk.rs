//! Merchant safety at order creation: the blocklists, the merchant's velocity rules and the
//! payout review thresholds. What a hit, a breach or a threshold means is the domain's
//! (`octopus_domain::risk`).
//!
//! Each node keeps every blocklist entry in memory, by `kind:value` key, so an order's dozens
//! of probes cost hash lookups and no database read; it asks storage for the blocklists'
//! version (one small read) at most every `ServerConfig::cache_fresh_for` and reads the
//! entries again only when it changed. Rules and thresholds are cached the same way, like fee
//! schedules: a change made with the CLI, on any node, applies within that time (2 s by
//! default). Velocity rules are counted by storage, in the transaction that stores the order
//! (`Orders::create_order_counted`): exact under concurrency, and no read of its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::risk::{self, BlockKind, OrderSubjects, ReviewThreshold, VelocityRule};
use octopus_domain::{Currency, Merchant, OrderRequest, Timestamp, TransactionType};
use octopus_storage::Risk;
use rust_decimal::Decimal;

use crate::error::Error;

/// The rules of every merchant, as read at one time.
#[derive(Default)]
struct Rules {
    velocity: Vec<VelocityRule>,
    thresholds: Vec<ReviewThreshold>,
}

/// Every blocklist entry, by `kind:value` key: who it applies to (0: every merchant) and until
/// when.
#[derive(Default)]
struct Blocks {
    version: i64,
    entries: HashMap<String, Vec<(i64, Option<Timestamp>)>>,
}

impl Blocks {
    fn hits(&self, key: &str, owner_id: i64, now: Timestamp) -> bool {
        self.entries.get(key).is_some_and(|scopes| {
            scopes
                .iter()
                .any(|(m, until)| (*m == 0 || *m == owner_id) && risk::in_force(*until, now))
        })
    }
}

pub struct RiskBook {
    storage: Arc<dyn Risk>,
    cached: Mutex<Option<(Instant, Arc<Rules>)>>,
    blocks: Mutex<Option<(Instant, Arc<Blocks>)>>,
    /// Serializes reloads of the entries (one node reads them once per change).
    reloading: tokio::sync::Mutex<()>,
    fresh_for: Duration,
}

/// Entries read at once when the blocklists change.
const ALL_ENTRIES: u32 = u32::MAX;

impl RiskBook {
    pub fn new(storage: Arc<dyn Risk>, fresh_for: Duration) -> Self {
        RiskBook {
            storage,
            cached: Mutex::new(None),
            blocks: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            fresh_for,
        }
    }

    /// The blocklist entry a new order of `merchant` hits (operator-wide or the merchant's),
    /// as the refusal. Velocity rules are counted where the order is stored
    /// ([`RiskBook::velocity_rules`]).
    pub async fn refusal(
        &self,
        merchant: &Merchant,
        request: &OrderRequest,
        ip: IpAddr,
        now: Timestamp,
    ) -> Result<Option<String>, Error> {
        let probes = risk::probes(&OrderSubjects {
            member_id: &request.member_id,
            from: &request.from,
            to: &request.to,
            from_name: &request.from_name,
            ip,
        });
        let blocks = self.blocks().await?;
        // Several kinds hit: the refusal names the first in a fixed order.
        Ok(BlockKind::ALL
            .into_iter()
            .find(|k| {
                probes
                    .iter()
                    .any(|(kind, key)| kind == k && blocks.hits(key, merchant.owner_id, now))
            })
            .map(risk::blocked))
    }

    /// The merchant's velocity rules that count an order of this type and currency, for
    /// storage to count where it stores the order (`Orders::create_order_counted`).
    pub async fn velocity_rules(
        &self,
        merchant: &Merchant,
        transaction_type: TransactionType,
        currency: Currency,
    ) -> Result<Vec<VelocityRule>, Error> {
        let rules = self.rules().await?;
        Ok(rules
            .velocity
            .iter()
            .filter(|r| r.merchant_id == merchant.owner_id && r.covers(transaction_type, currency))
            .cloned()
            .collect())
    }

    /// The first of `rules` a new order would breach, counted against the orders stored now:
    /// for an order that must call its upstream before it is stored.
    pub async fn velocity_refusal(
        &self,
        order: &octopus_domain::Order,
        rules: &[VelocityRule],
    ) -> Result<Option<String>, Error> {
        if rules.is_empty() {
            return Ok(None);
        }
        Ok(self.storage.velocity_refusal(order, rules).await?)
    }

    /// Whether a payout of the merchant waits for an operator's review.
    pub async fn needs_review(
        &self,
        merchant: &Merchant,
        currency: Currency,
        amount: Decimal,
    ) -> Result<bool, Error> {
        let rules = self.rules().await?;
        Ok(risk::needs_review(
            &rules.thresholds,
            merchant.owner_id,
            currency,
            amount,
        ))
    }

    /// The blocklists as this node knows them, read again when their version changed.
    async fn blocks(&self) -> Result<Arc<Blocks>, Error> {
        let known = self.blocks.lock().expect("blocklist cache lock").clone();
        if let Some((at, blocks)) = &known {
            if at.elapsed() < self.fresh_for {
                return Ok(Arc::clone(blocks));
            }
        }
        let _reloading = self.reloading.lock().await;
        let version = self.storage.blocklist_version().await?;
        let current = self.blocks.lock().expect("blocklist cache lock").clone();
        let blocks = match current {
            Some((_, blocks)) if blocks.version == version => blocks,
            _ => {
                let mut entries: HashMap<String, Vec<(i64, Option<Timestamp>)>> = HashMap::new();
                // Read after the version: the entries are at least that new.
                for e in self.storage.blocks(None, ALL_ENTRIES).await? {
                    entries
                        .entry(risk::entry_key(e.kind, &e.value))
                        .or_default()
                        .push((e.merchant_id, e.expires_at));
                }
                Arc::new(Blocks { version, entries })
            }
        };
        *self.blocks.lock().expect("blocklist cache lock") =
            Some((Instant::now(), Arc::clone(&blocks)));
        Ok(blocks)
    }

    async fn rules(&self) -> Result<Arc<Rules>, Error> {
        if let Some((at, rules)) = self.cached.lock().expect("risk cache lock").as_ref() {
            if at.elapsed() < self.fresh_for {
                return Ok(Arc::clone(rules));
            }
        }
        let rules = Arc::new(Rules {
            velocity: self.storage.velocity_rules().await?,
            thresholds: self.storage.review_thresholds().await?,
        });
        *self.cached.lock().expect("risk cache lock") = Some((Instant::now(), Arc::clone(&rules)));
        Ok(rules)
    }
}

/// Approves a payout held for review: back to `pending`, due to be sent by the next round of
/// background work. `by` and `reason` go on its history.
pub async fn approve(
    storage: &dyn octopus_storage::Orders,
    payment_uid: &str,
    by: &str,
    reason: &str,
    now: Timestamp,
) -> Result<octopus_domain::Order, Error> {
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    let why = format!("{by}: {}", reason.trim());
    let change = risk::approval(&order, why.trim_end_matches([':', ' ']), now)
        .map_err(|e| Error::Conflict(e.to_string()))?;
    Ok(storage.change_status(payment_uid, change).await?)
}

/// Rejects a payout held for review: `reject`, its hold released, the merchant called back
/// with "Rejected: <reason>". `by` goes on its history.
pub async fn reject(
    storage: &dyn octopus_storage::Orders,
    payment_uid: &str,
    by: &str,
    reason: &str,
    now: Timestamp,
) -> Result<octopus_domain::Order, Error> {
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    let mut change =
        risk::review_rejection(&order, reason, now).map_err(|e| Error::Conflict(e.to_string()))?;
    change.reason = format!("{} (by {by})", change.reason);
    Ok(storage.change_status(payment_uid, change).await?)
}
