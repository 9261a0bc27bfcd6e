//! What upstream providers say, applied to orders: starting a deposit upstream (trying the
//! next candidate channel when one refuses or does not answer), sending a stored payout, the
//! payer's confirmation of a deposit, and postbacks. Every exchange with an upstream is kept
//! on the order's history; every status change goes through the state machine with the status
//! it was decided from, so a postback repeated or racing a confirmation applies once.
//!
//! What an upstream reports is not trusted to be possible: an amount that cannot be money (the
//! connector read it with the domain's one parser for upstream amounts), a sum that is not,
//! or a transfer already counted for another order is never applied. It is acknowledged (a
//! provider repeating it would change nothing), kept on the order's history as "not applied,
//! needs the operator" and logged as an error, as a postback contradicting its order is.

use std::sync::Arc;

use octopus_connectors::{
    Called, Confirmation, DepositStart, Exchange, Notification, PayoutStart, Received,
    UpstreamError,
};
use octopus_domain::money::format_amount;
use octopus_domain::{Amount, Order, PaymentStatus, RequestFields, StatusChange, TransactionType};
use octopus_storage::{StorageError, UpstreamExchange};
use rust_decimal::Decimal;

use crate::error::Error;
use crate::services::routing::{ChannelEntry, Route};
use crate::services::OrderServices;

fn stored(channel: &str, exchanges: Vec<Exchange>) -> Vec<UpstreamExchange> {
    exchanges
        .into_iter()
        .map(|e| UpstreamExchange {
            channel: channel.to_string(),
            operation: e.operation,
            request: e.request,
            http_status: e.status,
            response: e.response,
            latency_ms: e.latency_ms,
            error: e.error,
            at: e.at,
        })
        .collect()
}

/// A deposit started upstream, before the order is stored.
pub struct Started {
    pub channel: Arc<ChannelEntry>,
    pub start: DepositStart,
    /// Channels tried first, and why they failed.
    pub failovers: Vec<(String, String)>,
    pub exchanges: Vec<UpstreamExchange>,
}

/// Starts a deposit on the route's channels in turn until one takes it. When none does, the
/// merchant is told no channel is available (nothing is stored).
pub async fn start_deposit(route: &Route, order: &mut Order) -> Result<Started, Error> {
    let mut failovers = Vec::new();
    let mut exchanges = Vec::new();
    for channel in &route.candidates {
        order.channel = channel.code().to_string();
        let Called {
            result,
            exchanges: made,
        } = channel.connector.start_deposit(order).await;
        exchanges.extend(stored(channel.code(), made));
        match result {
            Ok(start) => {
                return Ok(Started {
                    channel: Arc::clone(channel),
                    start,
                    failovers,
                    exchanges,
                })
            }
            Err(e) => {
                tracing::warn!(
                    channel = channel.code(),
                    reason = e.reason(),
                    "deposit start failed; trying the next channel"
                );
                failovers.push((channel.code().to_string(), e.reason().to_string()));
            }
        }
    }
    Err(crate::services::routing::no_channel(
        failovers.iter().map(|(c, r)| (c, r)),
    ))
}

/// Asks the upstream again for a stored deposit's pay instructions and records them; returns
/// them (None when the upstream does not give them now).
pub async fn restart_deposit(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: &Order,
) -> Option<RequestFields> {
    let Called { result, exchanges } = channel.connector.start_deposit(order).await;
    let instructions: Option<RequestFields> =
        result.ok().map(|s| s.instructions.into_iter().collect());
    record(
        services,
        &order.payment_uid,
        channel.code(),
        instructions.clone(),
        stored(channel.code(), exchanges),
    )
    .await;
    instructions
}

/// Records an order's exchanges and payer instructions (a failure to record is logged: the
/// order itself is already stored).
pub async fn record(
    services: &OrderServices,
    payment_uid: &str,
    channel: &str,
    instructions: Option<RequestFields>,
    exchanges: Vec<UpstreamExchange>,
) {
    if exchanges.is_empty() && instructions.is_none() {
        return;
    }
    for x in &exchanges {
        let answered = x.error.is_empty() && x.http_status.is_some_and(|s| s < 500);
        let operation = x.operation.clone();
        metrics::counter!(
            crate::metrics::UPSTREAM_CALLS,
            "channel" => x.channel.clone(),
            "operation" => operation.clone(),
            "outcome" => if answered { "answered" } else { "error" },
        )
        .increment(1);
        metrics::histogram!(
            crate::metrics::UPSTREAM_SECONDS,
            "channel" => x.channel.clone(),
            "operation" => operation,
        )
        .record(x.latency_ms.max(0) as f64 / 1000.0);
    }
    if let Err(e) = services
        .upstream_log
        .record_upstream(payment_uid, channel, instructions, exchanges)
        .await
    {
        tracing::error!(%payment_uid, error = %e, "recording upstream exchanges failed");
    }
}

/// Applies a change decided from `order`'s status; `None` when another change got there first.
/// A completion the state machine refuses for its amount is an error, never "got there first"
/// (amounts are checked before a change is built, so this is a bug if it happens).
async fn change(
    services: &OrderServices,
    order: &Order,
    change: StatusChange,
) -> Result<Option<Order>, Error> {
    match crate::services::orders::change_status(
        &*services.orders,
        &order.payment_uid,
        change.from_status(order.payment_status),
    )
    .await
    {
        Ok(changed) => {
            if octopus_domain::callback::is_reported(&changed) {
                services.callbacks_due.notify_one();
            }
            Ok(Some(changed))
        }
        Err(StorageError::IllegalTransition(t)) if t.is_impossible_amount() => {
            tracing::error!(payment_uid = %order.payment_uid, %t, "a change with an impossible amount reached the state machine");
            Err(StorageError::IllegalTransition(t).into())
        }
        Err(StorageError::IllegalTransition(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Sends a stored payout upstream: accepted → processing; refused → failed with the reason
/// (its hold returns); no certain answer → processing, until the upstream's postback decides
/// (never sent twice). Returns the order as it is afterwards.
pub async fn send_payout(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: Order,
) -> Result<Order, Error> {
    let result = attempt_payout(services, channel, &order).await;
    settle_payout(services, channel, order, result).await
}

/// Sends a stored payout to its channel and, while channels refuse it outright, to the next
/// candidate of its route (the order moves there, the decision records why).
pub async fn send_payout_routed(
    services: &OrderServices,
    route: &Route,
    first: &ChannelEntry,
    mut order: Order,
) -> Result<Order, Error> {
    let candidates: Vec<&Arc<ChannelEntry>> = route
        .candidates
        .iter()
        .skip_while(|c| c.code() != first.code())
        .collect();
    let mut failovers: Vec<(String, String)> = Vec::new();
    for (i, channel) in candidates.iter().enumerate() {
        if i > 0 {
            let rules = route.decision(channel.code(), &failovers);
            services
                .orders
                .reroute_order(
                    &order.payment_uid,
                    channel.code(),
                    &rules,
                    services.clock.now_ms(),
                )
                .await?;
            order.channel = channel.code().to_string();
            order.distribute_rules = rules.to_json();
        }
        match attempt_payout(services, channel, &order).await {
            Err(UpstreamError::Refused(reason)) if i + 1 < candidates.len() => {
                tracing::warn!(channel = channel.code(), %reason, "payout refused; trying the next channel");
                failovers.push((channel.code().to_string(), reason));
            }
            result => return settle_payout(services, channel, order, result).await,
        }
    }
    Ok(order)
}

/// Sends a payout again that was stored but may not have been sent (its node stopped in
/// between). The first send may have reached the upstream, so a refusal now is not taken as
/// certain: the payout stays processing until the upstream's postback decides.
pub async fn resend_payout(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: Order,
) -> Result<Order, Error> {
    let result = match attempt_payout(services, channel, &order).await {
        Err(UpstreamError::Refused(reason)) => Err(UpstreamError::Unknown(format!(
            "sent again after a restart and refused ({reason})"
        ))),
        other => other,
    };
    settle_payout(services, channel, order, result).await
}

/// Sends a payout an operator approved after review. Its first attempt is a first send — a
/// refusal is certain, so it fails and its hold returns — and is announced on the order's
/// upstream log before the call, so that a later attempt (the node stopped while sending)
/// knows one may have reached the upstream and sends as [`resend_payout`] does.
pub async fn send_approved_payout(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: Order,
) -> Result<Order, Error> {
    let (_, exchanges) = services
        .upstream_log
        .upstream_of(&order.payment_uid)
        .await?;
    if !exchanges.is_empty() {
        return resend_payout(services, channel, order).await;
    }
    services
        .upstream_log
        .record_upstream(
            &order.payment_uid,
            channel.code(),
            None,
            vec![UpstreamExchange {
                channel: channel.code().to_string(),
                operation: "payout_after_review".into(),
                request: "approved in review: sending".into(),
                http_status: None,
                response: String::new(),
                latency_ms: 0,
                error: String::new(),
                at: services.clock.now_ms(),
            }],
        )
        .await?;
    send_payout(services, channel, order).await
}

async fn attempt_payout(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: &Order,
) -> Result<PayoutStart, UpstreamError> {
    let Called { result, exchanges } = channel.connector.start_payout(order).await;
    record(
        services,
        &order.payment_uid,
        channel.code(),
        None,
        stored(channel.code(), exchanges),
    )
    .await;
    result
}

async fn settle_payout(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: Order,
    result: Result<PayoutStart, UpstreamError>,
) -> Result<Order, Error> {
    let now = services.clock.now_ms();
    let next = match result {
        Ok(PayoutStart::Unchanged) => return Ok(order),
        Ok(PayoutStart::Accepted) => StatusChange::new(
            PaymentStatus::Processing,
            format!("sent to {}", channel.code()),
            now,
        ),
        Err(UpstreamError::Refused(reason)) => {
            StatusChange::new(PaymentStatus::Failed, reason.clone(), now).failing(reason)
        }
        Err(UpstreamError::Unknown(reason)) => StatusChange::new(
            PaymentStatus::Processing,
            format!(
                "sent to {}, outcome unknown ({reason}); waiting for its postback",
                channel.code()
            ),
            now,
        ),
    };
    Ok(change(services, &order, next).await?.unwrap_or(order))
}

/// What the payer is told after confirming a deposit.
pub enum Confirmed {
    Completed,
    Short {
        missing: Decimal,
    },
    Processing {
        message: String,
    },
    Failed {
        reason: String,
    },
    /// Not asked upstream; the order is unchanged.
    Refused {
        message: String,
    },
}

/// The payer's confirmation of a deposit with the transfer's transaction ID.
pub async fn confirm_deposit(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: &Order,
    transaction_id: &str,
) -> Result<Confirmed, Error> {
    let transaction_id = transaction_id.trim();
    if transaction_id.is_empty()
        || transaction_id.chars().count() > 11
        || transaction_id.chars().any(char::is_control)
    {
        return Err(Error::Invalid(
            "The transaction ID must have 1 to 11 characters.".into(),
        ));
    }
    // The reference ties the upstream's later postback to this order; one reference, one order.
    if !services
        .upstream_log
        .add_upstream_reference(&order.payment_uid, channel.code(), transaction_id)
        .await?
    {
        return Ok(Confirmed::Refused {
            message: "This transaction ID was already used for another payment.".into(),
        });
    }
    let Called { result, exchanges } = channel
        .connector
        .confirm_deposit(order, transaction_id)
        .await;
    record(
        services,
        &order.payment_uid,
        channel.code(),
        None,
        stored(channel.code(), exchanges),
    )
    .await;
    let now = services.clock.now_ms();
    let processing = |why: String| StatusChange::new(PaymentStatus::Processing, why, now);
    let (next, answer) = match result {
        Ok(Confirmation::Completed { amount }) => (
            Some(
                StatusChange::new(
                    PaymentStatus::Completed,
                    late(order, "the upstream confirmed the payment"),
                    now,
                )
                .with_final_amount(amount),
            ),
            Confirmed::Completed,
        ),
        Ok(Confirmation::Short { missing }) => (
            Some(processing(format!("the payer paid, {missing} short"))),
            Confirmed::Short { missing },
        ),
        Ok(Confirmation::Processing { message }) => (
            Some(processing("the upstream checks the payment".into())),
            Confirmed::Processing { message },
        ),
        Ok(Confirmation::Failed { reason }) => (
            Some(
                StatusChange::new(PaymentStatus::Failed, reason.clone(), now)
                    .failing(reason.clone()),
            ),
            Confirmed::Failed { reason },
        ),
        // Money may have arrived, but not as reported: nothing is credited; the order waits
        // (its postback may still settle it) and the operator is told.
        Ok(Confirmation::Impossible { reason }) => {
            tracing::error!(payment_uid = %order.payment_uid, channel = channel.code(), %reason, "the upstream's answer cannot be applied; needs the operator");
            (
                Some(processing(format!(
                    "not applied, needs the operator: {reason}"
                ))),
                Confirmed::Processing { message: reason },
            )
        }
        Err(e) => (
            None,
            Confirmed::Failed {
                reason: format!(
                    "The payment could not be checked now ({}); try again.",
                    e.reason()
                ),
            },
        ),
    };
    if let Some(next) = next {
        // From pending, processing comes first; a processing order takes the rest.
        if order.payment_status == PaymentStatus::Processing && next.to == PaymentStatus::Processing
        {
            return Ok(answer);
        }
        change(services, order, next).await?;
    }
    Ok(answer)
}

/// The reason of a completion, marked when the order had expired (money is never dropped).
fn late(order: &Order, reason: &str) -> String {
    if order.payment_status == PaymentStatus::Overdue {
        format!("{reason} (late: after the order's ttl)")
    } else {
        reason.to_string()
    }
}

/// What became of a postback's notification.
#[derive(Debug)]
pub enum PostbackOutcome {
    /// Applied to the order with this payment_uid.
    Applied(String),
    /// The order is already in the state it reports (a repeat).
    AlreadyApplied(String),
    /// It contradicts the order (money reported for a failed deposit, another amount for a
    /// completed one, success for a failed payout): kept on the order's history and logged for
    /// the operator, not applied.
    Conflict(String, String),
    /// It cannot be applied as it is (an impossible amount, a transfer already counted for
    /// another order): kept on the history of the order it names, when one is found, and
    /// logged for the operator; not applied.
    Impossible(Option<String>, String),
    /// No order of this channel matches; the provider should repeat it.
    Unmatched(String),
}

/// The order of this channel a notification is about, found only through what its signature
/// covers.
async fn find(
    services: &OrderServices,
    channel: &ChannelEntry,
    n: &Notification,
) -> Result<Option<Order>, Error> {
    let mut uids: Vec<String> = Vec::new();
    match n {
        Notification::Deposit {
            order_ids,
            transaction_ids,
            ..
        } => {
            uids.extend(order_ids.iter().cloned());
            for reference in transaction_ids {
                if let Some(uid) = services
                    .upstream_log
                    .order_by_upstream_reference(channel.code(), reference)
                    .await?
                {
                    uids.push(uid);
                }
            }
        }
        Notification::Payout { order_id, .. } => uids.push(order_id.clone()),
    }
    let expected = match n {
        Notification::Deposit { .. } => TransactionType::Income,
        Notification::Payout { .. } => TransactionType::Expense,
    };
    for uid in uids.iter().filter(|u| !u.is_empty()) {
        if let Some(order) = services.orders.order_by_payment_uid(uid).await? {
            if order.channel == channel.code() && order.transaction_type == expected {
                return Ok(Some(order));
            }
        }
    }
    Ok(None)
}

/// What a notification means for its order as it is now: an outcome already, or a change.
enum Decision {
    Done(PostbackOutcome),
    Change(StatusChange),
}

/// Decides what a deposit's money reported by the upstream does to its order: a repeat of
/// what completed it is already applied (each transaction counts once: the connector counts a
/// transaction listed twice once, and a later postback repeating transactions that completed
/// the order reports the same sum); other money for a settled order, or money in another
/// currency, contradicts it; an impossible sum is never applied; otherwise it completes.
fn decide_deposit(order: &Order, received: Received, now: i64) -> Decision {
    let uid = order.payment_uid.clone();
    let Received { amount, currency } = received;
    if currency != order.currency {
        return Decision::Done(PostbackOutcome::Conflict(
            uid,
            format!(
                "a payment in {} reported for an order in {}",
                currency.code().to_uppercase(),
                order.currency.code()
            ),
        ));
    }
    if let Err(e) = Amount::received(amount, order.currency) {
        return Decision::Done(PostbackOutcome::Impossible(
            Some(uid),
            format!("its transactions sum to {amount} {currency}, which {e}"),
        ));
    }
    let status = order.payment_status;
    // Amounts said the same way whatever the backend kept of their trailing zeros.
    let shown = |value: Decimal| format_amount(value, order.currency);
    Decision::Done(match status {
        PaymentStatus::Completed if order.final_amount == amount => {
            PostbackOutcome::AlreadyApplied(uid)
        }
        PaymentStatus::Completed => PostbackOutcome::Conflict(
            uid,
            format!(
                "{} reported for an order completed with {}",
                shown(amount),
                shown(order.final_amount)
            ),
        ),
        PaymentStatus::Failed | PaymentStatus::Reject | PaymentStatus::Refund => {
            PostbackOutcome::Conflict(
                uid,
                format!(
                    "{} reported for an order that is {}",
                    shown(amount),
                    status.as_str()
                ),
            )
        }
        _ => {
            return Decision::Change(
                StatusChange::new(
                    PaymentStatus::Completed,
                    late(order, "the upstream's postback reported the payment"),
                    now,
                )
                .with_final_amount(amount),
            )
        }
    })
}

fn decide_payout(order: &Order, completed: bool, reason: &str, now: i64) -> Decision {
    let uid = order.payment_uid.clone();
    let status = order.payment_status;
    Decision::Change(match (completed, status) {
        (true, PaymentStatus::Completed) | (false, PaymentStatus::Failed) => {
            return Decision::Done(PostbackOutcome::AlreadyApplied(uid))
        }
        (true, PaymentStatus::Failed) | (false, PaymentStatus::Completed) => {
            return Decision::Done(PostbackOutcome::Conflict(
                uid,
                format!(
                    "the upstream reports \"{reason}\" for a payout that is {}",
                    status.as_str()
                ),
            ))
        }
        (true, _) => {
            StatusChange::new(PaymentStatus::Completed, reason, now).with_final_amount(order.amount)
        }
        (false, _) => StatusChange::new(PaymentStatus::Failed, reason, now).failing(reason),
    })
}

/// Makes a transfer a signed postback counts for `order` that order's. A reference a payer
/// typed on another order's page (by mistake, or to block this one) gives way, unless money
/// already moved for that order: the provider's signed word outranks what a payer typed.
async fn take_reference(
    services: &OrderServices,
    channel: &ChannelEntry,
    order: &Order,
    reference: &str,
) -> Result<bool, Error> {
    if services
        .upstream_log
        .add_upstream_reference(&order.payment_uid, channel.code(), reference)
        .await?
    {
        return Ok(true);
    }
    let Some(other) = services
        .upstream_log
        .order_by_upstream_reference(channel.code(), reference)
        .await?
    else {
        return Ok(false);
    };
    let spent = services
        .orders
        .order_by_payment_uid(&other)
        .await?
        .is_none_or(|o| o.payment_status.moved_money());
    if spent {
        return Ok(false);
    }
    let moved = services
        .upstream_log
        .move_upstream_reference(&other, &order.payment_uid, channel.code(), reference)
        .await?;
    if moved {
        tracing::warn!(channel = channel.code(), %reference, from = %other, to = %order.payment_uid, "a payer's reference given to the order its signed postback names");
    }
    Ok(moved)
}

/// Applies one notification of a postback to its order.
pub async fn apply_notification(
    services: &OrderServices,
    channel: &ChannelEntry,
    notification: Notification,
) -> Result<PostbackOutcome, Error> {
    let found = find(services, channel, &notification).await?;
    if let Notification::Deposit {
        received: Err(why), ..
    } = &notification
    {
        return Ok(PostbackOutcome::Impossible(
            found.map(|o| o.payment_uid),
            why.clone(),
        ));
    }
    let Some(mut order) = found else {
        let ids = match &notification {
            Notification::Deposit {
                order_ids,
                transaction_ids,
                ..
            } => [order_ids.clone(), transaction_ids.clone()]
                .concat()
                .join(","),
            Notification::Payout { order_id, .. } => order_id.clone(),
        };
        return Ok(PostbackOutcome::Unmatched(ids));
    };
    // A change that loses a race is decided again on the order as it is now (a repeat is then
    // already applied; different money then contradicts it).
    for _ in 0..3 {
        let now = services.clock.now_ms();
        let decision = match &notification {
            Notification::Deposit {
                received: Ok(received),
                ..
            } => decide_deposit(&order, *received, now),
            Notification::Deposit {
                received: Err(_), ..
            } => unreachable!("handled above"),
            Notification::Payout {
                completed, reason, ..
            } => decide_payout(&order, *completed, reason, now),
        };
        let next = match decision {
            Decision::Done(outcome) => return Ok(outcome),
            Decision::Change(next) => next,
        };
        // The transfers a deposit's completion counts become the order's: one counted for
        // another order of the channel already is not counted again.
        if let Notification::Deposit {
            transaction_ids, ..
        } = &notification
        {
            for reference in transaction_ids {
                if !take_reference(services, channel, &order, reference).await? {
                    let other = services
                        .upstream_log
                        .order_by_upstream_reference(channel.code(), reference)
                        .await?
                        .unwrap_or_default();
                    return Ok(PostbackOutcome::Impossible(
                        Some(order.payment_uid.clone()),
                        format!("transaction {reference} was already counted for order {other}"),
                    ));
                }
            }
        }
        if change(services, &order, next).await?.is_some() {
            return Ok(PostbackOutcome::Applied(order.payment_uid));
        }
        match services
            .orders
            .order_by_payment_uid(&order.payment_uid)
            .await?
        {
            Some(now) => order = now,
            None => break,
        }
    }
    Ok(PostbackOutcome::AlreadyApplied(order.payment_uid))
}
