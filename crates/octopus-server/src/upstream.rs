//! What upstream providers say, applied to orders: starting a deposit upstream (trying the
//! next candidate channel when one refuses or does not answer), sending a stored payout, the
//! payer's confirmation of a deposit, and postbacks. Every exchange with an upstream is kept
//! on the order's history; every status change goes through the state machine with the status
//! it was decided from, so a postback repeated or racing a confirmation applies once.

use std::sync::Arc;

use octopus_connectors::{Called, Confirmation, DepositStart, Exchange, Notification, PayoutStart, UpstreamError};
use octopus_domain::{Order, PaymentStatus, StatusChange, TransactionType};
use octopus_storage::{StorageError, UpstreamExchange};
use rust_decimal::Decimal;

use crate::app::AppState;
use crate::channels::{ChannelEntry, Route};
use crate::clock::now_ms;
use crate::error::Error;

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
        let Called { result, exchanges: made } = channel.connector.start_deposit(order).await;
        exchanges.extend(stored(channel.code(), made));
        match result {
            Ok(start) => return Ok(Started { channel: Arc::clone(channel), start, failovers, exchanges }),
            Err(e) => {
                tracing::warn!(channel = channel.code(), reason = e.reason(), "deposit start failed; trying the next channel");
                failovers.push((channel.code().to_string(), e.reason().to_string()));
            }
        }
    }
    let why = failovers.iter().map(|(c, r)| format!("{c}: {r}")).collect::<Vec<_>>().join("; ");
    Err(Error::Refused(format!("No channel available ({why})")))
}

/// Records an order's exchanges and payer instructions (a failure to record is logged: the
/// order itself is already stored).
pub async fn record(state: &AppState, payment_uid: &str, channel: &str, instructions: Option<String>, exchanges: Vec<UpstreamExchange>) {
    if exchanges.is_empty() && instructions.is_none() {
        return;
    }
    if let Err(e) = state.storage.record_upstream(payment_uid, channel, instructions, exchanges).await {
        tracing::error!(%payment_uid, error = %e, "recording upstream exchanges failed");
    }
}

/// Applies a change decided from `order`'s status; `None` when another change got there first.
async fn change(state: &AppState, order: &Order, change: StatusChange) -> Result<Option<Order>, Error> {
    match state.storage.change_status(&order.payment_uid, change.from_status(order.payment_status)).await {
        Ok(changed) => {
            state.callbacks_due.notify_one();
            Ok(Some(changed))
        }
        Err(StorageError::IllegalTransition(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Sends a stored payout upstream: accepted → processing; refused → failed with the reason
/// (its hold returns); no certain answer → processing, until the upstream's postback decides
/// (never sent twice). Returns the order as it is afterwards.
pub async fn send_payout(state: &AppState, channel: &ChannelEntry, order: Order) -> Result<Order, Error> {
    let result = attempt_payout(state, channel, &order).await;
    settle_payout(state, channel, order, result).await
}

/// Sends a stored payout to its channel and, while channels refuse it outright, to the next
/// candidate of its route (the order moves there, the decision records why).
pub async fn send_payout_routed(state: &AppState, route: &Route, first: &ChannelEntry, mut order: Order) -> Result<Order, Error> {
    let candidates: Vec<&Arc<ChannelEntry>> = route.candidates.iter().skip_while(|c| c.code() != first.code()).collect();
    let mut failovers: Vec<(String, String)> = Vec::new();
    for (i, channel) in candidates.iter().enumerate() {
        if i > 0 {
            let rules = route.decision(channel.code(), &failovers);
            state.storage.reroute_order(&order.payment_uid, channel.code(), &rules, now_ms()).await?;
            order.channel = channel.code().to_string();
            order.distribute_rules = rules;
        }
        match attempt_payout(state, channel, &order).await {
            Err(UpstreamError::Refused(reason)) if i + 1 < candidates.len() => {
                tracing::warn!(channel = channel.code(), %reason, "payout refused; trying the next channel");
                failovers.push((channel.code().to_string(), reason));
            }
            result => return settle_payout(state, channel, order, result).await,
        }
    }
    Ok(order)
}

async fn attempt_payout(state: &AppState, channel: &ChannelEntry, order: &Order) -> Result<PayoutStart, UpstreamError> {
    let Called { result, exchanges } = channel.connector.start_payout(order).await;
    record(state, &order.payment_uid, channel.code(), None, stored(channel.code(), exchanges)).await;
    result
}

async fn settle_payout(
    state: &AppState,
    channel: &ChannelEntry,
    order: Order,
    result: Result<PayoutStart, UpstreamError>,
) -> Result<Order, Error> {
    let now = now_ms();
    let next = match result {
        Ok(PayoutStart::Unchanged) => return Ok(order),
        Ok(PayoutStart::Accepted) => StatusChange::new(PaymentStatus::Processing, format!("sent to {}", channel.code()), now),
        Err(UpstreamError::Refused(reason)) => StatusChange::new(PaymentStatus::Failed, reason.clone(), now).failing(reason),
        Err(UpstreamError::Unknown(reason)) => StatusChange::new(
            PaymentStatus::Processing,
            format!("sent to {}, outcome unknown ({reason}); waiting for its postback", channel.code()),
            now,
        ),
    };
    Ok(change(state, &order, next).await?.unwrap_or(order))
}

/// What the payer is told after confirming a deposit.
pub enum Confirmed {
    Completed,
    Short { missing: Decimal },
    Processing { message: String },
    Failed { reason: String },
}

/// The payer's confirmation of a deposit with the transfer's transaction ID.
pub async fn confirm_deposit(state: &AppState, channel: &ChannelEntry, order: &Order, transaction_id: &str) -> Result<Confirmed, Error> {
    let transaction_id = transaction_id.trim();
    if transaction_id.is_empty() || transaction_id.chars().count() > 11 || transaction_id.chars().any(char::is_control) {
        return Err(Error::Invalid("The transaction ID must have 1 to 11 characters.".into()));
    }
    let Called { result, exchanges } = channel.connector.confirm_deposit(order, transaction_id).await;
    record(state, &order.payment_uid, channel.code(), None, stored(channel.code(), exchanges)).await;
    let now = now_ms();
    let processing = |why: String| StatusChange::new(PaymentStatus::Processing, why, now);
    let (next, answer) = match result {
        Ok(Confirmation::Completed { amount }) => (
            Some(StatusChange::new(PaymentStatus::Completed, late(order, "the upstream confirmed the payment"), now).with_final_amount(amount)),
            Confirmed::Completed,
        ),
        Ok(Confirmation::Short { missing }) => (
            Some(processing(format!("the payer paid, {missing} short"))),
            Confirmed::Short { missing },
        ),
        Ok(Confirmation::Processing { message }) => (Some(processing("the upstream checks the payment".into())), Confirmed::Processing { message }),
        Ok(Confirmation::Failed { reason }) => (
            Some(StatusChange::new(PaymentStatus::Failed, reason.clone(), now).failing(reason.clone())),
            Confirmed::Failed { reason },
        ),
        Err(e) => (None, Confirmed::Failed { reason: format!("The payment could not be checked now ({}); try again.", e.reason()) }),
    };
    if let Some(next) = next {
        // From pending, processing comes first; a processing order takes the rest.
        if order.payment_status == PaymentStatus::Processing && next.to == PaymentStatus::Processing {
            return Ok(answer);
        }
        change(state, order, next).await?;
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

/// Why a postback was not applied.
#[derive(Debug)]
pub enum PostbackOutcome {
    /// Applied to the order with this payment_uid.
    Applied(String),
    /// The order is already in the state it reports (a repeat).
    AlreadyApplied(String),
    /// No order of this channel matches; the provider should repeat it.
    Unmatched(String),
}

/// Applies one notification of a postback to its order.
pub async fn apply_notification(state: &AppState, channel: &ChannelEntry, notification: Notification) -> Result<PostbackOutcome, Error> {
    let now = now_ms();
    let (uids, expected_type, next): (Vec<String>, TransactionType, Box<dyn Fn(&Order) -> StatusChange + Send + Sync>) = match notification {
        Notification::Deposit { label, order_ids, transaction_ids: _, amount } => {
            let mut uids = vec![label];
            uids.extend(order_ids);
            (
                uids,
                TransactionType::Income,
                Box::new(move |o: &Order| {
                    StatusChange::new(PaymentStatus::Completed, late(o, "the upstream's postback reported the payment"), now).with_final_amount(amount)
                }),
            )
        }
        Notification::Payout { order_id, completed, amount, reason } => (
            vec![order_id],
            TransactionType::Expense,
            Box::new(move |_o: &Order| {
                if completed {
                    StatusChange::new(PaymentStatus::Completed, reason.clone(), now).with_final_amount(amount)
                } else {
                    StatusChange::new(PaymentStatus::Failed, reason.clone(), now).failing(reason.clone())
                }
            }),
        ),
    };
    let mut found = None;
    for uid in uids.iter().filter(|u| !u.is_empty()) {
        if let Some(order) = state.storage.order_by_payment_uid(uid).await? {
            if order.channel == channel.code() && order.transaction_type == expected_type {
                found = Some(order);
                break;
            }
        }
    }
    let Some(order) = found else {
        return Ok(PostbackOutcome::Unmatched(uids.join(",")));
    };
    let next = next(&order);
    let uid = order.payment_uid.clone();
    if order.payment_status == next.to {
        return Ok(PostbackOutcome::AlreadyApplied(uid));
    }
    Ok(match change(state, &order, next).await? {
        Some(_) => PostbackOutcome::Applied(uid),
        None => PostbackOutcome::AlreadyApplied(uid),
    })
}
