//! Creating and finding orders: turns a validated request into a stored order (routing, the
//! upstream's start of a deposit, floating amount, expiry, the connector's plan; a payout is
//! sent upstream once stored) and applies idempotency — the same `merchant_order_id` with the
//! same parameters returns the original order, with different parameters it is a conflict.

use std::collections::BTreeSet;
use std::net::IpAddr;

use octopus_domain::ids::new_payment_uid;
use octopus_domain::ledger;
use octopus_domain::{
    AccountingStatus, ApiCredential, Currency, NotifyStatus, Order, OrderRequest, PaymentStatus,
    TransactionType,
};
use octopus_storage::CreateOutcome;
use rand::Rng;
use rust_decimal::Decimal;

use crate::clock::now_ms;
use crate::error::Error;
use crate::services::accounts::Stored;
use crate::services::OrderServices;

/// How many different floating offsets are tried before giving up.
const FLOAT_CANDIDATES: usize = 32;
/// Seconds a deposit on own accounts stays open when neither the merchant, the channel nor the
/// gateway sets a ttl: it holds its final amount on the account until it ends, so it must end.
pub const OWN_ACCOUNT_TTL: i64 = 1800;
/// At most this many offsets are tried on one own account (all of them up to two decimals).
const OWN_ACCOUNT_CANDIDATES: usize = 999;

/// Where a request came from.
pub struct RequestContext {
    pub ip: IpAddr,
    pub user_agent: String,
}

/// Creates the order, or returns the merchant's earlier identical one. The flag tells
/// whether the order is new.
pub async fn create(
    services: &OrderServices,
    credential: &ApiCredential,
    request: OrderRequest,
    context: RequestContext,
) -> Result<(Order, bool), Error> {
    // A callback to a literal private address could never be delivered: refused now, with
    // nothing stored, rather than failing at every attempt (names are checked at delivery).
    if !services.allow_private_callbacks {
        request.check_notify_destination()?;
    }
    let now = services.clock.now_ms();
    let amount = request.amount.value();
    let fingerprint = request.fingerprint();
    // Blocklists before routing: a refused order is stored as `reject` (so order/get finds it
    // and a retry hears the same), and moves nothing. Velocity rules are counted by storage
    // where the order is written (`create_order_counted`), refusing it the same way.
    if let Some(refusal) = services
        .risk
        .refusal(&credential.merchant, &request, context.ip, now)
        .await?
    {
        let mut order = order_of(credential, request, context, now, &fingerprint);
        order.refuse(refusal);
        return match services.orders.create_order(order, Vec::new()).await? {
            CreateOutcome::Created(order) => created(order),
            CreateOutcome::Existing(order) => answer_existing(order, &fingerprint),
        };
    }
    let velocity = services
        .risk
        .velocity_rules(
            &credential.merchant,
            request.transaction_type,
            request.currency,
        )
        .await?;
    let mut route = match routed(services, credential, &request, now).await {
        Ok(route) => route,
        // A retry of an order created when a channel still took it gets that order.
        Err(refused) => {
            return match services
                .orders
                .order_by_merchant_order_id(credential.merchant.id, &request.merchant_order_id)
                .await?
            {
                Some(existing) => answer_existing(existing, &fingerprint),
                None => Err(refused),
            }
        }
    };
    let channel = std::sync::Arc::clone(route.channel());
    // Fees are the merchant's, whichever book (live or test) the order is in.
    let fee_rule = services
        .fees
        .rule_for(
            credential.merchant.owner_id,
            &request.payment,
            request.accounting_type,
        )
        .await?;
    let fee = match request.transaction_type {
        TransactionType::Income => ledger::deposit_fee(&fee_rule, amount),
        TransactionType::Expense => fee_rule.fee_for(amount),
    };
    let ttl = request.ttl;
    let mut order = order_of(credential, request, context, now, &fingerprint);
    order.channel = channel.code().to_string();
    order.fee = fee;
    order.fee_rule = fee_rule;
    // A payout above the review threshold waits in `preparing`, holding its money, until an
    // operator approves or rejects it. Payouts from own accounts are in the operator's hands
    // anyway (the payout queue).
    let in_review = order.transaction_type == TransactionType::Expense
        && !channel.connector.uses_own_accounts()
        && services
            .risk
            .needs_review(&credential.merchant, order.currency, amount)
            .await?;
    if in_review {
        order.payment_status = PaymentStatus::Preparing;
    }
    let mut channel = channel;
    if order.transaction_type == TransactionType::Income && channel.connector.uses_own_accounts() {
        // Own accounts: an account and a final amount no other open deposit of it holds.
        order.ttl = ttl
            .or(channel.config.default_ttl)
            .or(services.default_deposit_ttl.map(|d| d.as_secs() as i64))
            .or(Some(OWN_ACCOUNT_TTL));
        order.expires_at = order.ttl.map(|t| now + t * 1000);
        let precision = order.float_precision;
        let currency = order.currency;
        if precision != 0 && floating_candidates(amount, precision, order.currency).is_empty() {
            return Err(Error::Invalid(
                "The 'float_precision' field cannot lower an amount this small.".into(),
            ));
        }
        // Every free offset is tried (in random order): an account's offsets are few, and a
        // deposit refused while one is free would send the payer elsewhere for nothing.
        let final_amounts = || {
            if precision == 0 {
                vec![amount]
            } else {
                floating_candidates_up_to(amount, precision, currency, OWN_ACCOUNT_CANDIDATES)
            }
        };
        match crate::services::accounts::store(
            services,
            &mut route,
            &order,
            final_amounts,
            &velocity,
        )
        .await?
        {
            Stored::Done(done) => {
                return match *done {
                    CreateOutcome::Created(order) => created(order),
                    CreateOutcome::Existing(order) => answer_existing(order, &fingerprint),
                }
            }
            Stored::Exhausted if route.candidates.is_empty() => {
                return Err(crate::services::routing::no_channel(&route.skipped))
            }
            // The next channel is not one of own accounts: it takes the order as usual (and
            // the own accounts after it are no failover of an upstream: see `routed`).
            Stored::Exhausted => {
                drop_own_accounts(&mut route);
                if route.candidates.is_empty() {
                    return Err(crate::services::routing::no_channel(&route.skipped));
                }
                channel = std::sync::Arc::clone(route.channel())
            }
        }
    }
    // A deposit that starts upstream (and so may be retried by the merchant meanwhile) is
    // looked up first; the upstream is only asked for a new order.
    let mut started = None;
    let mut failovers = Vec::new();
    if order.transaction_type == TransactionType::Income && channel.connector.calls_upstream() {
        if let Some(existing) = services
            .orders
            .order_by_merchant_order_id(order.merchant_id, &order.merchant_order_id)
            .await?
        {
            return answer_existing(existing, &fingerprint);
        }
        // Counted before the upstream is asked too, so an order over a rule starts nothing
        // there (the count where it is stored still decides).
        if let Some(refusal) = services.risk.velocity_refusal(&order, &velocity).await? {
            order.refuse(refusal);
            return match services.orders.create_order(order, Vec::new()).await? {
                CreateOutcome::Created(order) => created(order),
                CreateOutcome::Existing(order) => answer_existing(order, &fingerprint),
            };
        }
        let mut s = crate::services::upstream::start_deposit(&route, &mut order).await?;
        channel = std::sync::Arc::clone(&s.channel);
        failovers = std::mem::take(&mut s.failovers);
        started = Some(s);
    }
    order.channel = channel.code().to_string();
    order.distribute_rules = route.decision(channel.code(), &failovers).to_json();
    order.ttl = match order.transaction_type {
        TransactionType::Income => ttl.or(channel
            .config
            .default_ttl
            .or(services.default_deposit_ttl.map(|d| d.as_secs() as i64))),
        // A payout from own accounts waits for the operator, holding its money: it never
        // expires out of the queue.
        TransactionType::Expense if channel.connector.uses_own_accounts() => None,
        TransactionType::Expense => ttl,
    };
    // A payout in review does not expire while it waits (its ttl runs from its approval).
    order.expires_at = if in_review {
        None
    } else {
        order.ttl.map(|t| now + t * 1000)
    };
    // A payout in review is planned when approved (`risk::approval` makes it due at once).
    order.next_check_at = if in_review {
        None
    } else {
        channel.connector.plan(&order, now).next_check_at
    };
    let final_amounts = if order.transaction_type == TransactionType::Income {
        floating_candidates(amount, order.float_precision, order.currency)
    } else {
        Vec::new()
    };
    if order.transaction_type == TransactionType::Income
        && order.float_precision != 0
        && final_amounts.is_empty()
    {
        return Err(Error::Invalid(
            "The 'float_precision' field cannot lower an amount this small.".into(),
        ));
    }
    match services
        .orders
        .create_order_counted(order, final_amounts, velocity)
        .await?
    {
        CreateOutcome::Created(order) if order.refused_at_creation() => {
            // Refused where it was written after its upstream was asked (a race the check
            // before the upstream could not see): what was exchanged stays on record.
            if let Some(s) = started {
                crate::services::upstream::record(
                    services,
                    &order.payment_uid,
                    channel.code(),
                    None,
                    s.exchanges,
                )
                .await;
            }
            created(order)
        }
        CreateOutcome::Created(order) => {
            count_created(&order);
            services.channels.count(&channel.config, order.amount);
            if let Some(s) = started {
                crate::services::upstream::record(
                    services,
                    &order.payment_uid,
                    channel.code(),
                    Some(s.start.instructions.into_iter().collect()),
                    s.exchanges,
                )
                .await;
            }
            let order = if order.transaction_type == TransactionType::Expense
                && channel.connector.calls_upstream()
                && !in_review
            {
                crate::services::upstream::send_payout_routed(services, &route, &channel, order)
                    .await?
            } else {
                order
            };
            Ok((order, true))
        }
        CreateOutcome::Existing(order) => answer_existing(order, &fingerprint),
    }
}

/// The order a request describes, before routing: no channel, no fee, `pending`.
fn order_of(
    credential: &ApiCredential,
    request: OrderRequest,
    context: RequestContext,
    now: octopus_domain::Timestamp,
    fingerprint: &str,
) -> Order {
    let amount = request.amount.value();
    Order {
        id: 0,
        payment_uid: new_payment_uid(now),
        merchant_id: credential.merchant.id,
        merchant_uid: credential.merchant.uid.clone(),
        merchant_name: credential.merchant.name.clone(),
        signature_key: credential.api_key.clone(),
        merchant_order_id: request.merchant_order_id,
        transaction_type: request.transaction_type,
        accounting_type: request.accounting_type,
        amount,
        floating_amount: Decimal::ZERO,
        final_amount: amount,
        currency: request.currency,
        country: request.country,
        country_code: request.country_code.to_string(),
        payment: request.payment,
        channel: String::new(),
        account: String::new(),
        reference: String::new(),
        from: request.from,
        from_name: request.from_name,
        from_bank_name: request.from_bank_name,
        to: request.to,
        to_name: request.to_name,
        to_bank_name: request.to_bank_name,
        member_id: request.member_id,
        redirect_url: request.redirect_url,
        notify_url: request.notify_url,
        response_type: request.response_type_text,
        ip: context.ip.to_string(),
        user_agent: context.user_agent,
        ttl: request.ttl,
        float_precision: request.float_precision,
        additional: request.additional,
        extra: serde_json::to_string(&request.extra).expect("a map of strings serializes"),
        distribute_rules: String::new(),
        payment_status: PaymentStatus::Pending,
        payment_fail_reason: String::new(),
        notify_status: NotifyStatus::None,
        notify_fail_reason: String::new(),
        accounting_status: AccountingStatus::None,
        accounting_fail_reason: String::new(),
        fee: Decimal::ZERO,
        fee_rule: ledger::FeeRule::default(),
        fingerprint: fingerprint.to_string(),
        amount_locked: false,
        created_at: now,
        updated_at: now,
        expires_at: None,
        next_check_at: None,
        test: credential.merchant.mode.is_test(),
        request_id: crate::metrics::current_request_id(),
    }
}

/// The channels a new order may go to, in order: those that take it (see `Channels::route`),
/// whose connector can take its fields, and whose daily limit leaves room. An order whose first
/// channel moves real money never fails over to one that simulates payments.
async fn routed(
    services: &OrderServices,
    credential: &ApiCredential,
    request: &OrderRequest,
    now: i64,
) -> Result<crate::services::routing::Route, Error> {
    let mut route = services.channels.route(request)?;
    // Test keys only reach sandbox channels, live keys never do.
    let test = credential.merchant.mode.is_test();
    for c in route
        .candidates
        .iter()
        .filter(|c| c.connector.simulates_payments() != test)
    {
        let why = if test {
            "real money: test keys only reach sandbox channels"
        } else {
            "sandbox: only test keys reach it"
        };
        route.skipped.insert(c.code().to_string(), why.into());
    }
    route
        .candidates
        .retain(|c| c.connector.simulates_payments() == test);
    // Channels whose connector cannot take the request's fields drop out, with the
    // connector's reason under `skipped`; when none is left, the merchant's input is what to
    // fix.
    let mut refusal = None;
    let mut kept = Vec::with_capacity(route.candidates.len());
    for c in std::mem::take(&mut route.candidates) {
        match c.connector.accepts(request) {
            Ok(()) => kept.push(c),
            Err(why) => {
                route.skipped.insert(c.code().to_string(), why.clone());
                refusal.get_or_insert(why);
            }
        }
    }
    route.candidates = kept;
    if let (true, Some(why)) = (route.candidates.is_empty(), refusal) {
        return Err(Error::Invalid(why));
    }
    let amount = request.amount.value();
    let mut within = Vec::with_capacity(route.candidates.len());
    for c in std::mem::take(&mut route.candidates) {
        if services
            .channels
            .within_daily_limit(&c.config, amount, now)
            .await?
        {
            within.push(c);
        } else {
            let limit = c.config.daily_limit.unwrap_or_default();
            route.skipped.insert(
                c.code().to_string(),
                format!("daily limit of {limit} reached"),
            );
        }
    }
    route.candidates = within;
    if request.transaction_type == TransactionType::Income {
        // A channel of own accounts takes a deposit only with an account that fits it.
        let mut with_account = Vec::with_capacity(route.candidates.len());
        for c in std::mem::take(&mut route.candidates) {
            if !c.connector.uses_own_accounts() {
                with_account.push(c);
                continue;
            }
            let choice =
                crate::services::accounts::choice(services, &c, request.currency, amount, now)
                    .await?;
            if choice.candidates.is_empty() {
                route.skipped.insert(
                    c.code().to_string(),
                    crate::services::accounts::no_account(&choice),
                );
            } else {
                route.accounts.insert(c.code().to_string(), choice);
                with_account.push(c);
            }
        }
        route.candidates = with_account;
    }
    if route.candidates.is_empty() {
        return Err(crate::services::routing::no_channel(&route.skipped));
    }
    if request.transaction_type == TransactionType::Income
        && !route.candidates[0].connector.uses_own_accounts()
    {
        drop_own_accounts(&mut route);
    }
    if !route.candidates[0].connector.simulates_payments() {
        for c in route
            .candidates
            .iter()
            .filter(|c| c.connector.simulates_payments())
        {
            route.skipped.insert(
                c.code().to_string(),
                "simulated: never a failover for real money".into(),
            );
        }
        route
            .candidates
            .retain(|c| !c.connector.simulates_payments());
    }
    Ok(route)
}

/// Takes the channels of own accounts out of a deposit's failovers: a deposit that an upstream
/// failed over would be stored there without an account (and its unique amount).
fn drop_own_accounts(route: &mut crate::services::routing::Route) {
    for c in route
        .candidates
        .iter()
        .filter(|c| c.connector.uses_own_accounts())
    {
        route.skipped.insert(
            c.code().to_string(),
            "own accounts: never a failover of an upstream".into(),
        );
    }
    route
        .candidates
        .retain(|c| !c.connector.uses_own_accounts());
}

/// Applies a status change (`Orders::change_status`), with the id of the request that asked
/// for it (on the order's history), and counts it: every status change the server makes goes
/// through here.
pub async fn change_status(
    storage: &(impl octopus_storage::Orders + ?Sized),
    payment_uid: &str,
    mut change: octopus_domain::StatusChange,
) -> Result<Order, octopus_storage::StorageError> {
    if change.request_id.is_empty() {
        change.request_id = crate::metrics::current_request_id();
    }
    let order = storage.change_status(payment_uid, change).await?;
    crate::metrics::count_change(&order);
    Ok(order)
}

/// Counts an order just stored, by type, channel and status as stored.
fn count_created(order: &Order) {
    metrics::counter!(
        crate::metrics::ORDERS_CREATED,
        "type" => order.transaction_type.as_str(),
        "channel" => order.channel.clone(),
        "status" => order.payment_status.as_str(),
    )
    .increment(1);
}

/// A new order as stored: refused by a velocity rule where it was written (answered 422 with
/// the refusal), or created.
fn created(order: Order) -> Result<(Order, bool), Error> {
    count_created(&order);
    if order.refused_at_creation() {
        Err(Error::Refused(order.payment_fail_reason))
    } else {
        Ok((order, true))
    }
}

/// The answer to a request whose `merchant_order_id` is taken: the order itself when the
/// parameters are the same, a conflict otherwise.
fn answer_existing(order: Order, fingerprint: &str) -> Result<(Order, bool), Error> {
    if order.fingerprint == fingerprint && order.refused_at_creation() {
        Err(Error::Refused(order.payment_fail_reason))
    } else if order.fingerprint == fingerprint {
        Ok((order, false))
    } else {
        Err(Error::Conflict(
            "Duplicate merchant_order_id: an order with this merchant_order_id exists with \
             different parameters"
                .into(),
        ))
    }
}

/// An operator's refund of a completed deposit: the order becomes `refund` and the merchant's
/// balance gives back what the deposit credited (refused with "Insufficient balance" when the
/// merchant no longer has it).
pub async fn refund(
    storage: &dyn octopus_storage::Orders,
    payment_uid: &str,
    reason: &str,
) -> Result<Order, Error> {
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    let reason = if reason.trim().is_empty() {
        "refunded by the operator"
    } else {
        reason.trim()
    };
    let change = octopus_domain::StatusChange::new(PaymentStatus::Refund, reason, now_ms())
        .from_status(order.payment_status);
    Ok(change_status(storage, payment_uid, change).await?)
}

/// An operator's failing of a stuck open order (`order::operator_may_fail` decides which): it
/// becomes `failed` with the reason, a payout's hold goes back to the merchant, and the
/// merchant is called back.
pub async fn fail_stuck(
    storage: &dyn octopus_storage::Orders,
    payment_uid: &str,
    reason: &str,
    by: &str,
    now: octopus_domain::Timestamp,
) -> Result<Order, Error> {
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    octopus_domain::order::operator_may_fail(&order).map_err(Error::Conflict)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::Invalid("reason: a reason is required".into()));
    }
    let change = octopus_domain::StatusChange::new(
        PaymentStatus::Failed,
        format!("failed by {by}: {reason}"),
        now,
    )
    .failing(reason)
    .from_status(order.payment_status);
    Ok(change_status(storage, payment_uid, change).await?)
}

/// Candidate final amounts for a floating offset of `precision` decimal places: distinct
/// random offsets of 1 to 10^|precision| − 1 smallest units, added (positive precision) or
/// subtracted (negative), keeping the amount positive. Empty when there is no offset.
pub fn floating_candidates(amount: Decimal, precision: i8, currency: Currency) -> Vec<Decimal> {
    floating_candidates_up_to(amount, precision, currency, FLOAT_CANDIDATES)
}

/// Like [`floating_candidates`], with up to `wanted` offsets. The offset is in the currency's
/// smallest unit: `precision` digits of it (2: 0.01 to 0.99 of a currency with two decimals,
/// 1 to 99 whole units of one without decimals).
pub fn floating_candidates_up_to(
    amount: Decimal,
    precision: i8,
    currency: Currency,
    wanted: usize,
) -> Vec<Decimal> {
    if precision == 0 {
        return Vec::new();
    }
    let digits = precision.unsigned_abs() as u32;
    let places = digits.min(currency.precision());
    let max_units: i64 = 10_i64.pow(digits) - 1;
    let mut rng = rand::thread_rng();
    let mut units = BTreeSet::new();
    let wanted = wanted.min(max_units as usize);
    while units.len() < wanted {
        units.insert(rng.gen_range(1..=max_units));
    }
    let mut candidates: Vec<Decimal> = units
        .into_iter()
        .map(|u| {
            let offset = Decimal::new(u, places);
            if precision > 0 {
                amount + offset
            } else {
                amount - offset
            }
        })
        .filter(|a| *a > Decimal::ZERO)
        .collect();
    // Random order, so concurrent orders of the same amount rarely race for one offset.
    for i in (1..candidates.len()).rev() {
        candidates.swap(i, rng.gen_range(0..=i));
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floating_candidates_stay_within_the_precision() {
        let amount = Decimal::new(10000, 2);
        let thb = Currency::Thb;
        assert!(floating_candidates(amount, 0, thb).is_empty());
        let up = floating_candidates(amount, 2, thb);
        assert_eq!(up.len(), FLOAT_CANDIDATES);
        assert!(up.iter().all(|a| *a > amount && *a < amount + Decimal::ONE));
        assert!(up.iter().all(|a| a.scale() <= 2));
        let down = floating_candidates(amount, -1, thb);
        assert_eq!(down.len(), 9);
        assert!(down
            .iter()
            .all(|a| *a < amount && *a > amount - Decimal::ONE));
        // a tiny amount cannot go below zero
        assert!(floating_candidates(Decimal::new(5, 2), -2, thb)
            .iter()
            .all(|a| *a > Decimal::ZERO));
        // a currency without decimals: whole units, all 99 of them when asked
        let vnd = floating_candidates_up_to(Decimal::new(1000, 0), 2, Currency::Vnd, 999);
        assert_eq!(vnd.len(), 99);
        assert!(vnd.iter().all(|a| a.fract().is_zero()
            && *a > Decimal::new(1000, 0)
            && *a < Decimal::new(1100, 0)));
    }
}
