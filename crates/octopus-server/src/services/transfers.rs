//! Money on the operator's own accounts: a device's report of an incoming transfer (recorded
//! once per bank reference, then matched to its deposit or put in suspense), the operator's
//! decisions on suspense (assign to an order, record the return to the payer), manual
//! confirmation of a deposit (补单), and the payout queue (sent, failed).
//!
//! Which order a transfer completes is the domain's decision (`transfer::decide`). A transfer
//! is stored once decided: matched (after its order's completion, which records the transfer's
//! bank reference on the order) or in suspense (with its ledger entry, in one transaction); the
//! bank reference is unique per account, so a report sent twice, or on two nodes at once, is
//! stored once. A report whose answer was lost between the order's completion and the
//! transfer's write is sent again by the device and finds the order by that reference instead
//! of crediting the money a second time. The CLI calls these on the database as the server
//! does.

use octopus_domain::device::{Device, Report};
use octopus_domain::ids::new_transfer_uid;
use octopus_domain::transfer::{self, Matching, Transfer, TransferStatus};
use octopus_domain::{Amount, Order, PaymentStatus, StatusChange, Timestamp, TransactionType};
use octopus_storage::{Recorded, Settled, Storage, StorageError};

use crate::error::Error;

/// How many times a match is decided again when its order changed meanwhile.
const ATTEMPTS: usize = 3;

/// What became of a reported transfer, as the device is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It completed this order.
    Matched {
        transfer: String,
        payment_uid: String,
    },
    /// It went to suspense for the operator.
    Suspense { transfer: String },
    /// The account's transfer with this bank reference was reported before.
    Duplicate { transfer: String },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Matched { .. } => "matched",
            Outcome::Suspense { .. } => "suspense",
            Outcome::Duplicate { .. } => "duplicate",
        }
    }
}

/// Records a device's report and decides it.
pub async fn report(
    storage: &dyn Storage,
    device: &Device,
    report: &Report,
    now: Timestamp,
) -> Result<Outcome, Error> {
    let account = storage
        .account(&report.account)
        .await?
        .ok_or_else(|| Error::Invalid("The 'account' field names no account.".into()))?;
    if account.currency != report.currency {
        return Err(Error::Invalid(format!(
            "The 'currency' field must be this account's currency ({}).",
            account.currency.code()
        )));
    }
    // A report sent again needs no look-up of its own: its order is found by its bank
    // reference below, or its suspense insert meets the stored transfer (`duplicate`).
    let mut t = Transfer::reported(
        new_transfer_uid(now),
        &account.channel,
        &device.id,
        report,
        now,
    );
    for _ in 0..ATTEMPTS {
        let orders = storage
            .deposits_on_account(&t.account, t.currency, t.amount)
            .await?;
        // Read after the candidates: an order that one of them no longer is because this
        // reference completed it (an earlier report whose answer was lost, the same report on
        // another node, a manual confirmation) is found here.
        if let Some(order) = storage.order_by_reference(&t.account, &t.reference).await? {
            if order.currency == t.currency && order.final_amount == t.amount {
                return matched(storage, t, &order, now).await;
            }
            // A reference given by hand to another amount (a typing mistake at a manual
            // confirmation): this money is not that order's.
            t.reason = format!(
                "bank reference {} settled order {} with another amount",
                t.reference, order.payment_uid
            );
            return suspend(storage, t, now).await;
        }
        match transfer::decide(&t, &orders, now) {
            Matching::Order { payment_uid, late } => {
                let Some(order) = orders.iter().find(|o| o.payment_uid == payment_uid) else {
                    break;
                };
                let reason = if late {
                    format!(
                        "bank transfer {} ({}) matched after the order was overdue: completed late",
                        t.reference, t.uid
                    )
                } else {
                    format!("bank transfer {} ({}) matched", t.reference, t.uid)
                };
                let change = StatusChange::new(PaymentStatus::Completed, reason, now)
                    .with_final_amount(t.amount)
                    .with_reference(t.reference.clone())
                    .from_status(order.payment_status);
                // The transfer and the order's completion are written together: the bank
                // reference taken meanwhile (the same report on another node) writes neither.
                t.late = late;
                t.payment_uid = payment_uid.clone();
                let mut stored = t.clone();
                stored
                    .become_(TransferStatus::Matched, now)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                match storage
                    .settle_order_by_transfer(&stored, None, None, &payment_uid, change)
                    .await
                {
                    Ok(Settled::Done(_)) => {
                        return Ok(Outcome::Matched {
                            transfer: stored.uid,
                            payment_uid,
                        })
                    }
                    Ok(Settled::Existing(known)) => {
                        return Ok(Outcome::Duplicate {
                            transfer: known.uid,
                        })
                    }
                    // The order changed meanwhile (another transfer, an expiry): decide again.
                    Err(StorageError::IllegalTransition(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Matching::Suspense { reason } => {
                t.reason = reason;
                return suspend(storage, t, now).await;
            }
        }
    }
    t.reason = "its order kept changing while the transfer was decided".into();
    suspend(storage, t, now).await
}

/// Stores a transfer that `order` (completed by this bank reference before) took.
async fn matched(
    storage: &dyn Storage,
    mut t: Transfer,
    order: &Order,
    now: Timestamp,
) -> Result<Outcome, Error> {
    t.payment_uid = order.payment_uid.clone();
    t.become_(TransferStatus::Matched, now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(match storage.record_transfer(t, None).await? {
        Recorded::New(t) => Outcome::Matched {
            transfer: t.uid,
            payment_uid: order.payment_uid.clone(),
        },
        Recorded::Existing(known) => Outcome::Duplicate {
            transfer: known.uid,
        },
    })
}

/// Stores a transfer in suspense, with its entry.
async fn suspend(storage: &dyn Storage, mut t: Transfer, now: Timestamp) -> Result<Outcome, Error> {
    t.become_(TransferStatus::Suspense, now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let entry = t
        .suspense_in(now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(match storage.record_transfer(t, Some(entry)).await? {
        Recorded::New(t) => {
            tracing::info!(transfer = %t.uid, reason = %t.reason, "transfer put in suspense");
            Outcome::Suspense { transfer: t.uid }
        }
        Recorded::Existing(known) => Outcome::Duplicate {
            transfer: known.uid,
        },
    })
}

/// Who did something and why, as the operator's tools record it.
#[derive(Debug, Clone)]
pub struct Operator<'a> {
    pub by: &'a str,
    pub reason: &'a str,
}

fn required(value: &str, what: &str) -> Result<String, Error> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::Invalid(format!("{what} is required.")));
    }
    Ok(v.to_string())
}

/// The transfer `uid`, which must be in suspense (or already moved `done` out of it: then
/// `None`, nothing to do).
async fn in_suspense(
    storage: &dyn Storage,
    uid: &str,
    done: impl Fn(&Transfer) -> bool,
) -> Result<Option<Transfer>, Error> {
    let t = storage
        .transfer(uid)
        .await?
        .ok_or(Error::NotFound("Transfer not found"))?;
    if done(&t) {
        return Ok(None);
    }
    if t.status != TransferStatus::Suspense {
        return Err(Error::Conflict(format!(
            "Transfer {uid} is {}, not in suspense.",
            t.status
        )));
    }
    Ok(Some(t))
}

/// Moves a transfer out of suspense to `to`, with the entry that takes its money out.
async fn out_of_suspense(
    storage: &dyn Storage,
    mut t: Transfer,
    to: TransferStatus,
    now: Timestamp,
) -> Result<Transfer, Error> {
    t.become_(to, now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let entry = t
        .suspense_out(now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    storage
        .settle_transfer(&t, TransferStatus::Suspense, Some(entry))
        .await
        .map_err(|e| match e {
            StorageError::NotFound => Error::Conflict(format!(
                "Transfer {} changed meanwhile; look at it again.",
                t.uid
            )),
            e => e.into(),
        })?;
    Ok(t)
}

/// Assigns a transfer in suspense to a deposit: the order completes with the amount received
/// (whatever it asked) and the money leaves suspense. Assigning it again to the same order
/// changes nothing.
pub async fn assign(
    storage: &dyn Storage,
    uid: &str,
    payment_uid: &str,
    who: Operator<'_>,
    now: Timestamp,
) -> Result<Transfer, Error> {
    let reason = required(who.reason, "A reason")?;
    let assigned =
        |t: &Transfer| t.status == TransferStatus::Assigned && t.payment_uid == payment_uid;
    let Some(mut t) = in_suspense(storage, uid, assigned).await? else {
        return storage
            .transfer(uid)
            .await?
            .ok_or(Error::NotFound("Transfer not found"));
    };
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    if order.transaction_type != TransactionType::Income
        || order.currency != t.currency
        || order.channel != t.channel
    {
        return Err(Error::Invalid(format!(
            "Transfer {uid} ({} on channel {}) can only be assigned to a deposit in {} on channel {}.",
            t.currency.code(),
            t.channel,
            t.currency.code(),
            t.channel
        )));
    }
    let change = StatusChange::new(
        PaymentStatus::Completed,
        format!(
            "suspense transfer {} (bank reference {}) assigned by {}: {reason}",
            t.uid, t.reference, who.by
        ),
        now,
    )
    .with_final_amount(t.amount)
    .with_reference(t.reference.clone())
    .from_status(order.payment_status);
    t.payment_uid = payment_uid.to_string();
    t.reason = format!("assigned by {}: {reason}", who.by);
    t.become_(TransferStatus::Assigned, now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let entry = t
        .suspense_out(now)
        .map_err(|e| Error::Internal(e.to_string()))?;
    // The money leaves suspense and the order completes in one transaction: two operators
    // assigning (or one returning) the same transfer move it once, and credit one order.
    storage
        .settle_order_by_transfer(
            &t,
            Some(TransferStatus::Suspense),
            Some(entry),
            payment_uid,
            change,
        )
        .await
        .map_err(|e| match e {
            StorageError::NotFound => Error::Conflict(format!(
                "Transfer {} changed meanwhile; look at it again.",
                t.uid
            )),
            e => e.into(),
        })?;
    Ok(t)
}

/// Records that a transfer in suspense went back to its payer (with the bank reference of the
/// return): the money leaves suspense.
pub async fn returned(
    storage: &dyn Storage,
    uid: &str,
    return_reference: &str,
    who: Operator<'_>,
    now: Timestamp,
) -> Result<Transfer, Error> {
    let return_reference = required(return_reference, "The reference of the return")?;
    let returned = |t: &Transfer| {
        t.status == TransferStatus::Returned && t.return_reference == return_reference
    };
    let Some(mut t) = in_suspense(storage, uid, returned).await? else {
        return storage
            .transfer(uid)
            .await?
            .ok_or(Error::NotFound("Transfer not found"));
    };
    t.return_reference = return_reference;
    t.reason = if who.reason.trim().is_empty() {
        format!("returned to the payer by {}", who.by)
    } else {
        format!("returned to the payer by {}: {}", who.by, who.reason.trim())
    };
    out_of_suspense(storage, t, TransferStatus::Returned, now).await
}

/// Completes a deposit by hand (补单) with the bank reference and the amount actually received,
/// recording who did it and why on the order's history.
pub async fn confirm(
    storage: &dyn Storage,
    payment_uid: &str,
    reference: &str,
    amount: &str,
    who: Operator<'_>,
    now: Timestamp,
) -> Result<Order, Error> {
    let reference = required(reference, "The bank reference")?;
    let reason = required(who.reason, "A reason")?;
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    if order.transaction_type != TransactionType::Income {
        return Err(Error::Invalid(
            "Only deposits are confirmed by hand.".into(),
        ));
    }
    let received = Amount::parse(amount.trim(), order.currency).map_err(|e| {
        Error::Invalid(format!(
            "The amount must be an amount of {}: {e}.",
            order.currency.code()
        ))
    })?;
    if !order.account.is_empty() {
        // A reference a device reported is that transfer's: in suspense it is assigned (which
        // takes it out of suspense), never confirmed beside it.
        if let Some(known) = storage
            .transfer_by_reference(&order.account, &reference)
            .await?
        {
            return Err(Error::Conflict(match known.status {
                TransferStatus::Suspense => format!(
                    "Bank reference {reference} is transfer {} in suspense: assign it with \
                     `octopus suspense assign {} {payment_uid}`.",
                    known.uid, known.uid
                ),
                _ => format!(
                    "Bank reference {reference} is transfer {} ({}).",
                    known.uid, known.status
                ),
            }));
        }
        if let Some(other) = storage
            .order_by_reference(&order.account, &reference)
            .await?
        {
            if other.payment_uid != order.payment_uid {
                return Err(Error::Conflict(format!(
                    "Bank reference {reference} already settled order {} on this account.",
                    other.payment_uid
                )));
            }
        }
    }
    let change = StatusChange::new(
        PaymentStatus::Completed,
        format!(
            "confirmed by hand by {}: {reason} (bank reference {reference}, received {})",
            who.by,
            received.value()
        ),
        now,
    )
    .with_final_amount(received.value())
    .with_reference(reference)
    .from_status(order.payment_status);
    Ok(crate::services::orders::change_status(storage, payment_uid, change).await?)
}

/// A payout of an own-accounts channel, waiting in the operator's queue.
async fn queued_payout(storage: &dyn Storage, payment_uid: &str) -> Result<Order, Error> {
    let order = storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    let own = storage
        .channels()
        .await?
        .into_iter()
        .any(|c| c.code == order.channel && c.kind == "accounts");
    if order.transaction_type != TransactionType::Expense || !own {
        return Err(Error::Invalid(format!(
            "Order {payment_uid} is not a payout of an own-accounts channel."
        )));
    }
    if order.payment_status == PaymentStatus::Preparing {
        return Err(Error::Conflict(format!(
            "Payout {payment_uid} is held for review: approve it first."
        )));
    }
    if !order.payment_status.is_open() && order.payment_status != PaymentStatus::Completed {
        return Err(Error::Conflict(format!(
            "Payout {payment_uid} is {}: it is no longer in the queue.",
            order.payment_status
        )));
    }
    Ok(order)
}

/// Marks a queued payout sent, with the bank reference of the transfer: its hold is settled
/// and the merchant called back.
pub async fn payout_sent(
    storage: &dyn Storage,
    payment_uid: &str,
    reference: &str,
    by: &str,
    now: Timestamp,
) -> Result<Order, Error> {
    let reference = required(reference, "The bank reference")?;
    let order = queued_payout(storage, payment_uid).await?;
    if order.payment_status == PaymentStatus::Completed && order.reference == reference {
        return Ok(order);
    }
    let change = StatusChange::new(
        PaymentStatus::Completed,
        format!("sent by {by} (bank reference {reference})"),
        now,
    )
    .with_reference(reference)
    .from_status(order.payment_status);
    Ok(crate::services::orders::change_status(storage, payment_uid, change).await?)
}

/// Marks a queued payout failed: its hold goes back to the merchant, who is called back.
pub async fn payout_failed(
    storage: &dyn Storage,
    payment_uid: &str,
    reason: &str,
    by: &str,
    now: Timestamp,
) -> Result<Order, Error> {
    let reason = required(reason, "A reason")?;
    let order = queued_payout(storage, payment_uid).await?;
    let change = StatusChange::new(
        PaymentStatus::Failed,
        format!("marked failed by {by}: {reason}"),
        now,
    )
    .failing(reason)
    .from_status(order.payment_status);
    Ok(crate::services::orders::change_status(storage, payment_uid, change).await?)
}
