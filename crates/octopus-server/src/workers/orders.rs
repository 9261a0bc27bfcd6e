//! Background work inside the server process: asking connectors about orders whose check is
//! due (for example sandbox payouts), moving orders past their ttl to `overdue`, and retrying
//! accounting that failed.
//!
//! Work is found through the database and every change goes through the state machine with
//! the status it was decided from, so several nodes can run these loops side by side: a
//! claimed check is leased to one node, and a change decided twice applies once.
//!
//! A node takes [`CHECK_BATCH`] due checks at a time and runs them side by side, so one slow
//! upstream call never holds the rest of a batch: the checks a dead node had claimed are due
//! again when their lease ([`CHECK_LEASE_MS`]) ends, and another node's next round (every
//! `--worker-interval`, 200 ms by default) takes them, after at most the checks due before them.

use std::time::Duration;

use octopus_connectors::CheckOutcome;
use octopus_domain::{PaymentStatus, StatusChange};
use octopus_storage::StorageError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::state::AppState;

/// How long a claimed check belongs to the node that claimed it: longer than a check takes
/// (an upstream call is at most 30 s, and the checks of a batch run side by side).
pub const CHECK_LEASE_MS: i64 = 30_000;
const BATCH: u32 = 100;
/// Due checks claimed, and run side by side, at once.
const CHECK_BATCH: u32 = 32;

pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let every = state.config.worker_interval;
    let retry_every = state.config.accounting_retry_interval;
    vec![
        tokio::spawn(repeat(
            every,
            CHECK_BATCH,
            stop.clone(),
            state.clone(),
            run_due_checks,
        )),
        tokio::spawn(repeat(
            every,
            BATCH,
            stop.clone(),
            state.clone(),
            expire_orders,
        )),
        tokio::spawn(repeat(
            retry_every,
            BATCH,
            stop.clone(),
            state.clone(),
            retry_accounting,
        )),
        tokio::spawn(repeat(
            every,
            BATCH,
            stop.clone(),
            state.clone(),
            own_accounts,
        )),
        tokio::spawn(repeat(
            state.config.channels_refresh,
            BATCH,
            stop,
            state,
            refresh_channels,
        )),
    ]
}

/// Runs `work` every `every`, and again at once while it reports a full batch (`full` done).
async fn repeat<F, Fut>(
    every: Duration,
    full: u32,
    mut stop: watch::Receiver<bool>,
    state: AppState,
    work: F,
) where
    F: Fn(AppState) -> Fut,
    Fut: std::future::Future<Output = Result<u32, StorageError>>,
{
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        // Drain full batches before sleeping again.
        loop {
            match work(state.clone()).await {
                Ok(n) if n >= full => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "background work failed; retrying later");
                    break;
                }
            }
        }
    }
}

/// Claims due checks and runs them side by side; returns how many were claimed.
async fn run_due_checks(state: AppState) -> Result<u32, StorageError> {
    let now = now_ms();
    let due = state
        .storage
        .claim_due_checks(now, CHECK_LEASE_MS, CHECK_BATCH)
        .await?;
    let count = due.len() as u32;
    let mut running = tokio::task::JoinSet::new();
    for order in due {
        running.spawn(run_check(state.clone(), order, now));
    }
    while running.join_next().await.is_some() {}
    Ok(count)
}

/// One due check: a payout sent again, or the connector asked about the order.
async fn run_check(state: AppState, order: octopus_domain::Order, now: octopus_domain::Timestamp) {
    let Some(channel) = state.services.channels.get(&order.channel) else {
        tracing::warn!(payment_uid = %order.payment_uid, channel = %order.channel, "order of an unknown channel");
        return;
    };
    // A payout stored but never sent (the node stopped in between) is sent now; its
    // withdrawal id is its payment_uid, so the upstream never pays it twice.
    if order.transaction_type == octopus_domain::TransactionType::Expense
        && order.payment_status == PaymentStatus::Pending
        && channel.connector.calls_upstream()
    {
        // One approved after review (it came back from `preparing`) may never have been sent.
        let approved = match state.storage.order_events(&order.payment_uid).await {
            Ok(events) => events
                .last()
                .is_some_and(|e| e.from_status == PaymentStatus::Preparing),
            Err(e) => {
                tracing::warn!(error = %e, "reading a payout's history failed; retrying after the lease");
                return;
            }
        };
        let sent = if approved {
            crate::services::upstream::send_approved_payout(&state.services, &channel, order).await
        } else {
            crate::services::upstream::resend_payout(&state.services, &channel, order).await
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "sending a payout failed; retrying after the lease");
        }
        return;
    }
    let outcome = match channel.connector.check(&order, now).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(payment_uid = %order.payment_uid, error = %e, "connector check failed; retrying after the lease");
            return;
        }
    };
    let change = match outcome {
        CheckOutcome::Completed {
            final_amount,
            reason,
        } => StatusChange::new(PaymentStatus::Completed, reason, now_ms())
            .with_final_amount(final_amount),
        CheckOutcome::Failed { reason } => {
            StatusChange::new(PaymentStatus::Failed, reason.clone(), now_ms()).failing(reason)
        }
        // Asked again when the connector says (never, when it cannot tell).
        CheckOutcome::Pending { next_check_at } => {
            if let Err(e) = state
                .storage
                .set_next_check(&order.payment_uid, next_check_at)
                .await
            {
                tracing::warn!(payment_uid = %order.payment_uid, error = %e, "scheduling the next check failed");
            }
            return;
        }
    };
    apply(
        &state,
        &order.payment_uid,
        change.from_status(order.payment_status),
    )
    .await;
}

/// Amounts reserved by overdue deposits of own accounts are freed once their grace ends.
async fn own_accounts(state: AppState) -> Result<u32, StorageError> {
    state.storage.release_held_amounts(now_ms(), BATCH).await
}

async fn refresh_channels(state: AppState) -> Result<u32, StorageError> {
    if let Err(e) = state.services.channels.refresh().await {
        tracing::warn!(error = %e, "reading the channels failed; keeping the ones read before");
    }
    Ok(0)
}

async fn expire_orders(state: AppState) -> Result<u32, StorageError> {
    let now = now_ms();
    let expired = state.storage.expired_orders(now, BATCH).await?;
    // Only successful changes count, so a batch that keeps failing is not retried at once.
    let mut count = 0;
    for payment_uid in expired {
        let change = StatusChange::new(PaymentStatus::Overdue, "not completed within its ttl", now);
        if apply(&state, &payment_uid, change).await {
            count += 1;
        }
    }
    Ok(count)
}

/// Posts what failed accountings left out. Counts only orders now accounted, so failures that
/// persist wait for the next round.
async fn retry_accounting(state: AppState) -> Result<u32, StorageError> {
    let failed = state.storage.accounting_failures(BATCH).await?;
    let mut settled = 0;
    for payment_uid in failed {
        match state.storage.retry_accounting(&payment_uid, now_ms()).await {
            Ok(order) if order.accounting_status != octopus_domain::AccountingStatus::Failed => {
                tracing::info!(%payment_uid, status = %order.accounting_status, "accounting retried");
                settled += 1;
            }
            Ok(order) => {
                tracing::warn!(%payment_uid, reason = %order.accounting_fail_reason, "accounting still fails")
            }
            Err(e) => tracing::warn!(%payment_uid, error = %e, "accounting retry failed"),
        }
    }
    Ok(settled)
}

/// Applies a change decided in the background; says whether it was applied.
async fn apply(state: &AppState, payment_uid: &str, change: StatusChange) -> bool {
    match crate::services::orders::change_status(&*state.storage, payment_uid, change).await {
        Ok(order) => {
            tracing::info!(%payment_uid, status = %order.payment_status, "order status changed");
            if octopus_domain::callback::is_reported(&order) {
                state.callbacks_due.notify_one();
            }
            true
        }
        // Another node or request got there first; nothing to do.
        Err(StorageError::IllegalTransition(t)) => {
            tracing::debug!(%payment_uid, %t, "change skipped");
            false
        }
        Err(e) => {
            tracing::warn!(%payment_uid, error = %e, "status change failed");
            false
        }
    }
}
