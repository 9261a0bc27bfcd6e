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
//!
//! The operator's side is here too, for `octopus blocklist|velocity|review` and the admin API
//! alike: an entry, a rule or a threshold is read from the operator's words and checked once
//! (a CSV import line by line, all or nothing), then stored, and the change audited with the
//! thing before and after.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::money::{format_amount, Amount};
use octopus_domain::risk::{
    self, BlockKind, OrderSubjects, ReviewThreshold, RiskError, Subject, VelocityRule,
};
use octopus_domain::{Currency, Merchant, OrderRequest, Timestamp, TransactionType};
use octopus_storage::{BlockEntry, Merchants, NewBlockEntry, Operators, Risk};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::error::Error;
use crate::services::operators::Actor;
use crate::services::setup::{self, invalid, not_found, Missing, Page, SetupError};

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
                for e in self.storage.blocks(None, 0, ALL_ENTRIES).await? {
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
    Ok(crate::services::orders::change_status(storage, payment_uid, change).await?)
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
    Ok(crate::services::orders::change_status(storage, payment_uid, change).await?)
}

// ---------------------------------------------------------------------------------------------
// The operator's side: blocklists, velocity rules, review thresholds
// ---------------------------------------------------------------------------------------------

/// A blocklist entry as the CLI prints it and the admin API answers it.
pub fn block_view(e: &BlockEntry) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind.as_str(),
        "value": e.value,
        "merchant": e.merchant_uid,
        "reason": e.reason,
        "author": e.author,
        "created_at": rfc3339(e.created_at),
        "expires_at": e.expires_at.map(rfc3339),
    })
}

/// A blocklist entry as the operator writes it (the value as given; it is normalized).
#[derive(Debug, Clone, Default)]
pub struct BlockInput {
    /// `member_id`, `payer_account`, `payee_account`, `payer_name` or `ip`.
    pub kind: String,
    pub value: String,
    /// Only this merchant's orders; none: every merchant's.
    pub merchant_uid: Option<String>,
    pub reason: String,
    /// The entry ends after this long (`24h`, `7d`); none: never.
    pub expires_in: Option<String>,
}

fn kind(text: &str) -> Result<BlockKind, SetupError> {
    text.parse().map_err(|e: RiskError| invalid("kind", e))
}

fn normalized(kind: BlockKind, value: &str) -> Result<String, SetupError> {
    risk::normalize(kind, value).map_err(|e| invalid("value", e))
}

/// An entry of the scope `merchant_id` (0: operator-wide), checked and normalized.
pub fn new_entry(
    merchant_id: i64,
    input: &BlockInput,
    author: &str,
    now: Timestamp,
) -> Result<NewBlockEntry, SetupError> {
    let kind = kind(&input.kind)?;
    setup::plain("value", &input.value)?;
    let value = normalized(kind, &input.value)?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 256 || reason.chars().any(char::is_control) {
        return Err(invalid(
            "reason",
            "must say why, in at most 256 characters on one line",
        ));
    }
    Ok(NewBlockEntry {
        merchant_id,
        kind,
        value,
        reason: reason.to_string(),
        author: author.to_string(),
        created_at: now,
        expires_at: setup::expiry("expires_in", input.expires_in.as_deref(), now)?,
    })
}

/// Adds an entry (one of the same kind, value and scope is replaced); `author` is recorded
/// with it. Audited as `blocklist.add` with the entry it replaced (none: null) and the entry.
pub async fn add_block_by<S>(
    storage: &S,
    actor: &Actor,
    author: &str,
    input: &BlockInput,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let merchant_id = setup::scope(storage, input.merchant_uid.as_deref()).await?;
    let entry = new_entry(merchant_id, input, author, now)?;
    let before = storage
        .block(merchant_id, entry.kind, &entry.value)
        .await?
        .map_or(Value::Null, |e| block_view(&e));
    storage.add_blocks(vec![entry.clone()]).await?;
    let stored = storage
        .block(merchant_id, entry.kind, &entry.value)
        .await?
        .ok_or_else(|| not_found(Missing::BlockEntry, &entry.value))?;
    let after = block_view(&stored);
    let target = format!("{}:{}", entry.kind.as_str(), entry.value);
    setup::audit(
        storage,
        actor,
        "blocklist.add",
        &target,
        &before,
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// Removes the entry of `kind` and `value` (normalized as when it was added) of the scope;
/// audited as `blocklist.remove`.
pub async fn remove_block_by<S>(
    storage: &S,
    actor: &Actor,
    kind_text: &str,
    value: &str,
    merchant_uid: Option<&str>,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let merchant_id = setup::scope(storage, merchant_uid).await?;
    let kind = kind(kind_text)?;
    setup::plain("value", value)?;
    let value = normalized(kind, value)?;
    let target = format!("{}:{value}", kind.as_str());
    let before = storage
        .block(merchant_id, kind, &value)
        .await?
        .ok_or_else(|| not_found(Missing::BlockEntry, &target))?;
    if !storage.remove_block(merchant_id, kind, &value).await? {
        return Err(not_found(Missing::BlockEntry, &target));
    }
    setup::audit(
        storage,
        actor,
        "blocklist.remove",
        &target,
        &block_view(&before),
        &Value::Null,
        now,
    )
    .await?;
    Ok(json!({"kind": kind.as_str(), "value": value, "removed": true}))
}

/// Which entries a list shows: every one, a merchant's, or the operator-wide ones.
pub async fn block_scope<S: Merchants + ?Sized>(
    storage: &S,
    merchant_uid: Option<&str>,
    operator_wide: bool,
) -> Result<Option<i64>, SetupError> {
    let uid = merchant_uid.map(str::trim).filter(|u| !u.is_empty());
    match (uid, operator_wide) {
        (Some(_), true) => Err(invalid(
            "operator_wide",
            "a merchant and operator-wide exclude each other",
        )),
        (Some(uid), false) => Ok(Some(setup::merchant(storage, uid).await?.id)),
        (None, true) => Ok(Some(0)),
        (None, false) => Ok(None),
    }
}

/// A page of entries of `scope` ([`block_scope`]), oldest first.
pub async fn blocks<S: Risk + ?Sized>(
    storage: &S,
    scope: Option<i64>,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<Page, SetupError> {
    let limit = setup::page_size(limit)?;
    let found = storage.blocks(scope, setup::cursor(after)?, limit).await?;
    Ok(Page::of(found, limit, |e| e.id, block_view))
}

/// The fields of one CSV line (double quotes around a field, `""` inside one).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The entries of a CSV text (header `kind,value,reason[,merchant][,expires_in]`), every line
/// checked before any is stored; a bad line is refused with its number.
pub async fn parse_import<S: Merchants + ?Sized>(
    storage: &S,
    text: &str,
    author: &str,
    now: Timestamp,
) -> Result<Vec<NewBlockEntry>, SetupError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| invalid("csv", "the file is empty"))?;
    let columns: Vec<String> = csv_fields(header)
        .into_iter()
        .map(|c| c.trim().to_lowercase())
        .collect();
    let at = |name: &str| columns.iter().position(|c| c == name);
    let (Some(kind_at), Some(value_at), Some(reason_at)) = (at("kind"), at("value"), at("reason"))
    else {
        return Err(invalid(
            "csv",
            "the header must name the columns kind, value and reason (merchant and expires_in are optional)",
        ));
    };
    let (merchant_at, expires_at) = (at("merchant"), at("expires_in"));
    let mut merchants = HashMap::new();
    let mut entries = Vec::new();
    for (number, line) in lines {
        let fields = csv_fields(line);
        let field = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|f| f.trim().to_string())
                .unwrap_or_default()
        };
        let line_error = |e: SetupError| invalid("csv", format!("line {}: {e}", number + 1));
        let uid = field(merchant_at);
        let merchant_id = if uid.is_empty() {
            0
        } else if let Some(id) = merchants.get(&uid) {
            *id
        } else {
            let id = setup::merchant(storage, &uid).await.map_err(line_error)?.id;
            merchants.insert(uid.clone(), id);
            id
        };
        let expires_in = field(expires_at);
        let input = BlockInput {
            kind: field(Some(kind_at)),
            value: field(Some(value_at)),
            merchant_uid: None,
            reason: field(Some(reason_at)),
            expires_in: (!expires_in.is_empty()).then_some(expires_in),
        };
        entries.push(new_entry(merchant_id, &input, author, now).map_err(line_error)?);
    }
    Ok(entries)
}

/// Adds every entry of a CSV text, or none ([`parse_import`]); audited as `blocklist.import`
/// with how many entries of each kind were written.
pub async fn import_by<S>(
    storage: &S,
    actor: &Actor,
    author: &str,
    text: &str,
    now: Timestamp,
) -> Result<u64, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let entries = parse_import(storage, text, author, now).await?;
    let mut kinds: std::collections::BTreeMap<&str, u64> = Default::default();
    for e in &entries {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let after = json!({"imported": entries.len(), "kinds": kinds});
    let count = storage.add_blocks(entries).await?;
    setup::audit(
        storage,
        actor,
        "blocklist.import",
        "blocklist",
        &Value::Null,
        &after,
        now,
    )
    .await?;
    Ok(count)
}

/// The uid of every live merchant by its id (rules and thresholds name merchants by id).
async fn merchant_uids<S: Merchants + ?Sized>(
    storage: &S,
) -> Result<HashMap<i64, String>, SetupError> {
    Ok(storage
        .merchants(0, u32::MAX)
        .await?
        .into_iter()
        .map(|m| (m.id, m.uid))
        .collect())
}

/// A velocity rule as the CLI prints it and the admin API answers it.
pub fn rule_view(r: &VelocityRule, merchant_uid: &str) -> Value {
    json!({
        "id": r.id,
        "merchant_uid": merchant_uid,
        "subject": r.subject.as_str(),
        "type": r.transaction_type.map(|t| match t {
            TransactionType::Income => "deposit",
            TransactionType::Expense => "payout",
        }),
        "window_seconds": r.window_seconds,
        "max_orders": r.max_orders,
        "max_volume": r.max_volume.map(|v| v.to_string()),
        "currency": r.currency.map(|c| c.code()),
    })
}

/// A velocity rule as the operator writes it.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub merchant_uid: String,
    /// `member_id` or `payer_account`.
    pub subject: String,
    /// `deposit` or `payout`; none: both.
    pub transaction_type: Option<String>,
    /// `1h`, `30m`, `1d`.
    pub window: String,
    pub max_orders: Option<u32>,
    pub max_volume: Option<String>,
    pub currency: Option<String>,
}

/// The rule `input` describes for the merchant `merchant_id`, checked.
pub fn parse_rule(merchant_id: i64, input: &RuleInput) -> Result<VelocityRule, SetupError> {
    let subject: Subject = input
        .subject
        .parse()
        .map_err(|e: RiskError| invalid("subject", e))?;
    let transaction_type = match input.transaction_type.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("deposit") => Some(TransactionType::Income),
        Some("payout") => Some(TransactionType::Expense),
        Some(other) => return Err(invalid("type", format!("deposit or payout, not {other:?}"))),
    };
    let window_ms = risk::parse_duration_ms(&input.window).map_err(|e| invalid("window", e))?;
    let currency = input
        .currency
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| setup::currency("currency", c))
        .transpose()?;
    let max_volume = match (
        input.max_volume.as_deref().filter(|v| !v.trim().is_empty()),
        currency,
    ) {
        (Some(text), Some(c)) => Some(
            Amount::parse(text.trim(), c)
                .map_err(|e| invalid("max_volume", e))?
                .value(),
        ),
        (Some(_), None) => return Err(invalid("max_volume", "needs a currency")),
        (None, _) => None,
    };
    if input.max_orders == Some(0) {
        return Err(invalid("max_orders", "must be at least 1"));
    }
    let rule = VelocityRule {
        id: 0,
        merchant_id,
        subject,
        transaction_type,
        window_seconds: window_ms / 1000,
        max_orders: input.max_orders,
        max_volume,
        currency,
    };
    rule.check().map_err(|e| invalid("max_orders", e))?;
    Ok(rule)
}

/// Adds a rule; audited as `velocity.add`.
pub async fn add_rule_by<S>(
    storage: &S,
    actor: &Actor,
    input: &RuleInput,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let m = setup::merchant(storage, &input.merchant_uid).await?;
    let mut rule = parse_rule(m.id, input)?;
    rule.id = storage.add_velocity_rule(rule.clone(), now).await?;
    let after = rule_view(&rule, &m.uid);
    setup::audit(
        storage,
        actor,
        "velocity.add",
        &rule.id.to_string(),
        &Value::Null,
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// Every rule (of one merchant, when named).
pub async fn rules<S: Risk + Merchants + ?Sized>(
    storage: &S,
    merchant_uid: Option<&str>,
) -> Result<Vec<Value>, SetupError> {
    let only = match merchant_uid.map(str::trim).filter(|u| !u.is_empty()) {
        Some(uid) => Some(setup::merchant(storage, uid).await?.id),
        None => None,
    };
    let uids = merchant_uids(storage).await?;
    Ok(storage
        .velocity_rules()
        .await?
        .iter()
        .filter(|r| only.is_none_or(|id| r.merchant_id == id))
        .map(|r| rule_view(r, uids.get(&r.merchant_id).map_or("", String::as_str)))
        .collect())
}

/// Removes a rule; audited as `velocity.remove`.
pub async fn remove_rule_by<S>(
    storage: &S,
    actor: &Actor,
    id: i64,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let before = storage
        .velocity_rules()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(Missing::VelocityRule, id.to_string()))?;
    if !storage.remove_velocity_rule(id).await? {
        return Err(not_found(Missing::VelocityRule, id.to_string()));
    }
    let uids = merchant_uids(storage).await?;
    let before = rule_view(
        &before,
        uids.get(&before.merchant_id).map_or("", String::as_str),
    );
    setup::audit(
        storage,
        actor,
        "velocity.remove",
        &id.to_string(),
        &before,
        &Value::Null,
        now,
    )
    .await?;
    Ok(json!({"id": id, "removed": true}))
}

/// A review threshold as the CLI prints it and the admin API answers it (`merchant_uid` ""
/// for operator-wide).
pub fn threshold_view(t: &ReviewThreshold, merchant_uid: &str) -> Value {
    json!({
        "merchant_id": t.merchant_id,
        "merchant_uid": merchant_uid,
        "currency": t.currency.code(),
        "above": format_amount(t.above, t.currency),
    })
}

/// Payouts of `currency` above `above` wait for review (the merchant's threshold replaces the
/// operator-wide one); audited as `review.set` with the threshold before and after.
pub async fn set_threshold_by<S>(
    storage: &S,
    actor: &Actor,
    merchant_uid: Option<&str>,
    currency: &str,
    above: &str,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let merchant_id = setup::scope(storage, merchant_uid).await?;
    let c = setup::currency("currency", currency)?;
    let above = Amount::parse(above.trim(), c)
        .map_err(|e| invalid("above", e))?
        .value();
    let uid = merchant_uid.map(str::trim).unwrap_or_default();
    let before = threshold(storage, merchant_id, c)
        .await?
        .map_or(Value::Null, |t| threshold_view(&t, uid));
    storage
        .set_review_threshold(merchant_id, c, Some(above), now)
        .await?;
    let after = threshold_view(
        &ReviewThreshold {
            merchant_id,
            currency: c,
            above,
        },
        uid,
    );
    let target = format!("{}:{}", if uid.is_empty() { "*" } else { uid }, c.code());
    setup::audit(storage, actor, "review.set", &target, &before, &after, now).await?;
    Ok(after)
}

async fn threshold<S: Risk + ?Sized>(
    storage: &S,
    merchant_id: i64,
    currency: Currency,
) -> Result<Option<ReviewThreshold>, SetupError> {
    Ok(storage
        .review_thresholds()
        .await?
        .into_iter()
        .find(|t| t.merchant_id == merchant_id && t.currency == currency))
}

/// Removes a threshold; audited as `review.clear`.
pub async fn clear_threshold_by<S>(
    storage: &S,
    actor: &Actor,
    merchant_uid: Option<&str>,
    currency: &str,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Risk + Merchants + Operators + ?Sized,
{
    let merchant_id = setup::scope(storage, merchant_uid).await?;
    let c = setup::currency("currency", currency)?;
    let uid = merchant_uid.map(str::trim).unwrap_or_default();
    let target = format!("{}:{}", if uid.is_empty() { "*" } else { uid }, c.code());
    let before = threshold(storage, merchant_id, c)
        .await?
        .ok_or_else(|| not_found(Missing::ReviewThreshold, &target))?;
    storage
        .set_review_threshold(merchant_id, c, None, now)
        .await?;
    setup::audit(
        storage,
        actor,
        "review.clear",
        &target,
        &threshold_view(&before, uid),
        &Value::Null,
        now,
    )
    .await?;
    Ok(json!({"merchant": merchant_uid, "currency": c.code(), "cleared": true}))
}

/// Every threshold.
pub async fn thresholds<S: Risk + Merchants + ?Sized>(
    storage: &S,
) -> Result<Vec<Value>, SetupError> {
    let uids = merchant_uids(storage).await?;
    Ok(storage
        .review_thresholds()
        .await?
        .iter()
        .map(|t| threshold_view(t, uids.get(&t.merchant_id).map_or("", String::as_str)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_quoted_commas() {
        assert_eq!(
            csv_fields(r#"payer_name,"Doe, ""J""",fraud"#),
            vec!["payer_name", r#"Doe, "J""#, "fraud"]
        );
        assert_eq!(csv_fields("a,,b"), vec!["a", "", "b"]);
    }

    fn refused_field(e: SetupError) -> String {
        match e {
            SetupError::Invalid(details) => details,
            other => panic!("not a refusal of a field: {other}"),
        }
    }

    #[test]
    fn an_entry_is_normalized_and_a_bad_one_names_its_field() {
        let input = BlockInput {
            kind: "payer_account".into(),
            value: "0164-223-4663".into(),
            merchant_uid: None,
            reason: " mule ".into(),
            expires_in: Some("2h".into()),
        };
        let entry = new_entry(0, &input, "alice", 1_000).unwrap();
        assert_eq!(
            (
                entry.value.as_str(),
                entry.reason.as_str(),
                entry.expires_at
            ),
            ("01642234663", "mule", Some(1_000 + 7_200_000))
        );
        for (change, field) in [
            (
                BlockInput {
                    kind: "phone".into(),
                    ..input.clone()
                },
                "kind:",
            ),
            (
                BlockInput {
                    value: " ".into(),
                    ..input.clone()
                },
                "value:",
            ),
            (
                BlockInput {
                    reason: "two\nlines".into(),
                    ..input.clone()
                },
                "reason:",
            ),
            (
                BlockInput {
                    expires_in: Some("soon".into()),
                    ..input.clone()
                },
                "expires_in:",
            ),
        ] {
            let details = refused_field(new_entry(0, &change, "alice", 0).unwrap_err());
            assert!(details.starts_with(field), "{details}");
        }
    }

    #[test]
    fn a_rule_is_read_from_the_operators_words() {
        let input = RuleInput {
            merchant_uid: "M1".into(),
            subject: "payer_account".into(),
            transaction_type: Some("payout".into()),
            window: "30m".into(),
            max_orders: None,
            max_volume: Some("5000".into()),
            currency: Some("THB".into()),
        };
        let rule = parse_rule(7, &input).unwrap();
        assert_eq!(rule.merchant_id, 7);
        assert_eq!(rule.window_seconds, 1800);
        assert_eq!(rule.transaction_type, Some(TransactionType::Expense));
        assert_eq!(rule.max_volume, Some(Decimal::from(5000)));
        let no_currency = RuleInput {
            currency: None,
            ..input.clone()
        };
        assert!(refused_field(parse_rule(7, &no_currency).unwrap_err()).starts_with("max_volume"));
        let no_limit = RuleInput {
            max_volume: None,
            ..input
        };
        assert!(refused_field(parse_rule(7, &no_limit).unwrap_err()).starts_with("max_orders"));
    }
}
