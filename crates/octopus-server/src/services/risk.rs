//! Merchant safety at order creation: the blocklists (read for every order, one indexed
//! statement), the merchant's velocity rules and the payout review thresholds (both cached for
//! `ServerConfig::cache_fresh_for`, like fee schedules: a rule changed with the CLI applies
//! within that). What a hit, a breach or a threshold means is the domain's
//! (`octopus_domain::risk`).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::risk::{self, BlockKind, OrderSubjects, ReviewThreshold, VelocityRule};
use octopus_domain::{Currency, Merchant, OrderRequest, Timestamp};
use octopus_storage::Risk;
use rust_decimal::Decimal;

use crate::error::Error;

/// The rules of every merchant, as read at one time.
#[derive(Default)]
struct Rules {
    velocity: Vec<VelocityRule>,
    thresholds: Vec<ReviewThreshold>,
}

pub struct RiskBook {
    storage: Arc<dyn Risk>,
    cached: Mutex<Option<(Instant, Arc<Rules>)>>,
    fresh_for: Duration,
}

impl RiskBook {
    pub fn new(storage: Arc<dyn Risk>, fresh_for: Duration) -> Self {
        RiskBook {
            storage,
            cached: Mutex::new(None),
            fresh_for,
        }
    }

    /// Why a new order of `merchant` is refused, if it is: a blocklist entry it hits
    /// (operator-wide or the merchant's), else a velocity rule it would breach.
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
        let keys: Vec<String> = probes.into_iter().map(|(_, key)| key).collect();
        let hit = self.storage.blocked(merchant.owner_id, &keys, now).await?;
        // Several kinds hit: the refusal names the first in a fixed order.
        if let Some(kind) = BlockKind::ALL.into_iter().find(|k| hit.contains(k)) {
            return Ok(Some(risk::blocked(kind)));
        }
        let rules = self.rules().await?;
        let amount = request.amount.value();
        for rule in rules.velocity.iter().filter(|r| {
            r.merchant_id == merchant.owner_id
                && r.covers(request.transaction_type, request.currency)
        }) {
            let value = rule.subject.of(&request.member_id, &request.from);
            if value.is_empty() {
                continue;
            }
            let past = self
                .storage
                .recent_orders(
                    merchant.id,
                    rule.subject,
                    value,
                    rule.transaction_type,
                    now - rule.window_seconds * 1000,
                    rule.enough(),
                )
                .await?;
            if let Some(refusal) = rule.breach(&past, request.currency, amount) {
                return Ok(Some(refusal));
            }
        }
        Ok(None)
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
