//! Merchant safety at order creation: the blocklists, the merchant's velocity rules and the
//! payout review thresholds. What a hit, a breach or a threshold means is the domain's
//! (`octopus_domain::risk`).
//!
//! Each node keeps every blocklist entry in memory, by `kind:value` key, so an order's dozens
//! of probes cost hash lookups and no database read; it asks storage for the blocklists'
//! version (one small read) at most every `ServerConfig::cache_fresh_for` and reads the
//! entries again only when it changed. Rules and thresholds are cached the same way, like fee
//! schedules: a change made with the CLI, on any node, applies within that time (2 s by
//! default). Velocity counts are read from storage for every order a rule covers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::risk::{
    self, BlockKind, OrderSubjects, ReviewThreshold, Subject, VelocityRule,
};
use octopus_domain::{Currency, Merchant, OrderRequest, Timestamp, TransactionType};
use octopus_storage::{Risk, Tally};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, oneshot};

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
    /// Velocity questions, to [`answer_questions`].
    questions: mpsc::UnboundedSender<Question>,
    fresh_for: Duration,
}

/// Entries read at once when the blocklists change.
const ALL_ENTRIES: u32 = u32::MAX;
/// Most velocity questions asked in one round.
const MAX_QUESTIONS: usize = 512;
/// Rounds of velocity questions in flight at once.
const ROUNDS_AT_ONCE: usize = 4;

/// Which orders a velocity question counts: those of one book, subject and type (and with or
/// without their amounts); the questions of concurrent orders with the same key are asked in
/// one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    book_id: i64,
    subject: Subject,
    transaction_type: Option<TransactionType>,
    amounts: bool,
}

/// One order's velocity question, waiting to be asked with those of concurrent orders.
struct Question {
    key: GroupKey,
    value: String,
    since: Timestamp,
    reply: Option<oneshot::Sender<Result<Tally, String>>>,
}

/// Asks the velocity questions as they come, every question waiting meanwhile in one round:
/// with many orders at once, one statement answers dozens of them (as the group commit writes
/// dozens of orders). A round counts from the earliest window start among its questions, so
/// an order may count the orders of a few more milliseconds than its window: the rules err on
/// the side of refusing.
async fn answer_questions(
    storage: Arc<dyn Risk>,
    mut questions: mpsc::UnboundedReceiver<Question>,
) {
    let rounds = Arc::new(tokio::sync::Semaphore::new(ROUNDS_AT_ONCE));
    while let Some(first) = questions.recv().await {
        let mut round = vec![first];
        while round.len() < MAX_QUESTIONS {
            match questions.try_recv() {
                Ok(q) => round.push(q),
                Err(_) => break,
            }
        }
        let mut groups: HashMap<GroupKey, Vec<Question>> = HashMap::new();
        for q in round {
            groups.entry(q.key.clone()).or_default().push(q);
        }
        for (key, asked) in groups {
            // Rounds overlap, up to `ROUNDS_AT_ONCE`: an order waits for at most one round
            // ahead of its own.
            let permit = Arc::clone(&rounds)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let storage = Arc::clone(&storage);
            tokio::spawn(async move {
                let since = asked.iter().map(|q| q.since).min().unwrap_or_default();
                let mut values: Vec<String> = asked.iter().map(|q| q.value.clone()).collect();
                values.sort_unstable();
                values.dedup();
                let tallies = storage
                    .recent_tallies(
                        key.book_id,
                        key.subject,
                        key.transaction_type,
                        since,
                        &values,
                        key.amounts,
                    )
                    .await
                    .map_err(|e| e.to_string());
                drop(permit);
                for q in asked {
                    let answer = match &tallies {
                        Ok(t) => Ok(t.get(&q.value).cloned().unwrap_or_default()),
                        Err(e) => Err(e.clone()),
                    };
                    if let Some(reply) = q.reply {
                        let _ = reply.send(answer);
                    }
                }
            });
        }
    }
}

impl RiskBook {
    /// Starts the task that answers velocity questions (it ends with the book).
    pub fn new(storage: Arc<dyn Risk>, fresh_for: Duration) -> Self {
        let (questions, asked) = mpsc::unbounded_channel();
        tokio::spawn(answer_questions(Arc::clone(&storage), asked));
        RiskBook {
            questions,
            storage,
            cached: Mutex::new(None),
            blocks: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
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
        let blocks = self.blocks().await?;
        // Several kinds hit: the refusal names the first in a fixed order.
        if let Some(kind) = BlockKind::ALL.into_iter().find(|k| {
            probes
                .iter()
                .any(|(kind, key)| kind == k && blocks.hits(key, merchant.owner_id, now))
        }) {
            return Ok(Some(risk::blocked(kind)));
        }
        let rules = self.rules().await?;
        let amount = request.amount.value();
        // Every rule's question at once (they are answered side by side), then the rules in
        // their order.
        let covered: Vec<(&VelocityRule, &str)> = rules
            .velocity
            .iter()
            .filter(|r| {
                r.merchant_id == merchant.owner_id
                    && r.covers(request.transaction_type, request.currency)
            })
            .map(|r| (r, r.subject.of(&request.member_id, &request.from)))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        let answers = futures::future::join_all(covered.iter().map(|(rule, value)| {
            self.ask(Question {
                key: GroupKey {
                    book_id: merchant.id,
                    subject: rule.subject,
                    transaction_type: rule.transaction_type,
                    amounts: rule.needs_amounts(),
                },
                value: value.to_string(),
                since: now - rule.window_seconds * 1000,
                reply: None,
            })
        }))
        .await;
        for ((rule, _), tally) in covered.iter().zip(answers) {
            let tally = tally?;
            let (count, volume) = if rule.needs_amounts() {
                rule.tally(&tally.amounts)
            } else {
                (tally.count, Decimal::ZERO)
            };
            if let Some(refusal) = rule.breach(count, volume, request.currency, amount) {
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

    /// Asks a velocity question with those of the orders arriving at the same time.
    async fn ask(&self, mut question: Question) -> Result<Tally, Error> {
        let (reply, answer) = oneshot::channel();
        question.reply = Some(reply);
        self.questions
            .send(question)
            .map_err(|_| Error::Internal("the velocity task stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("the velocity task stopped".into()))?
            .map_err(|e| Error::Internal(format!("velocity count: {e}")))
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
