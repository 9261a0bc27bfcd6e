//! What follows from a change to an order, decided once for every storage backend.
//!
//! A backend loads what a decision needs ([`Needs`]: the merchant balances the order's entries
//! touch, and whether those entries are posted already) into a [`Book`], calls one of the pure
//! functions here, and writes what it returns — the new order with its payment, accounting and
//! notify statuses set, the event, the journal entry with the balances it leaves, the callback
//! to queue — or, on a refusal, writes nothing. No backend makes a business decision of its
//! own: the SQLite writer decides one request at a time, the PostgreSQL group writer a whole
//! group in arrival order against one running `Book`, and both get the same answers.
//!
//! - [`create`]: a new order (the idempotency answer, a payout's hold, insufficient balance);
//! - [`change`]: a status change (the state machine; credit, settle, release or refund);
//! - [`retry_accounting`]: posting what a failed accounting left out;
//! - [`resend`]: the order's current state queued to its notify_url again, by hand.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use crate::callback::{self, NewCallback};
use crate::ledger::{self, Account, EntryKey, JournalEntry};
use crate::money::{format_places, LEDGER_PLACES};
use crate::order::{
    AccountingStatus, IllegalTransition, Order, OrderEvent, PaymentStatus, StatusChange,
};
use crate::Timestamp;

/// Why a request to change an order is refused. Nothing of it may be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The state machine does not allow it.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The merchant's available balance does not cover it (a payout, a refund).
    #[error("insufficient balance")]
    InsufficientBalance,
    /// The order's journal entry cannot be built from what is stored (corrupt data): the
    /// change stops rather than post a wrong amount.
    #[error("accounting failure: {0}")]
    Accounting(String),
    /// The backend did not load what the decision needs (a bug in the backend, never the
    /// request's fault): it must load [`Needs`] first.
    #[error("{0} was not loaded before deciding")]
    NotLoaded(String),
    /// A resend of an order without a notify_url.
    #[error("the order has no notify_url")]
    NoNotifyUrl,
}

/// What a backend must load before deciding: every account the entries may post to (house
/// accounts too: a backend may need to create them), and the keys of the entries, to say
/// whether each is posted already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Sorted, without duplicates (the lock order of a backend that locks them).
    pub accounts: Vec<Account>,
    pub entry_keys: Vec<EntryKey>,
}

impl Needs {
    fn of(entries: &[JournalEntry]) -> Needs {
        let mut needs = Needs::default();
        for entry in entries {
            needs.entry_keys.push(entry.key.clone());
            needs
                .accounts
                .extend(entry.postings.iter().map(|p| p.account.clone()));
        }
        needs.normalise();
        needs
    }

    /// Adds what another decision of the same group needs.
    pub fn extend(&mut self, other: Needs) {
        self.accounts.extend(other.accounts);
        self.entry_keys.extend(other.entry_keys);
        self.normalise();
    }

    fn normalise(&mut self) {
        self.accounts.sort();
        self.accounts.dedup();
        self.entry_keys.sort();
        self.entry_keys.dedup();
    }

    /// The merchant accounts among them (the ones whose balances a [`Book`] must hold).
    pub fn merchant_accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().filter(|a| a.kind.is_merchant())
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.entry_keys.is_empty()
    }
}

/// The part of the ledger a decision looks at, as the backend loaded it: merchant balances
/// and which entries are posted. Deciding an accepted request updates it, so the next request
/// of a group is decided against what the earlier ones left.
///
/// A book also knows for which starting balances its decisions hold ([`Book::conditions`]):
/// a backend may decide against balances read without a lock, and then, holding the lock,
/// write the same decisions onto the balances as they are by then, if they are within.
#[derive(Debug, Clone, Default)]
pub struct Book {
    balances: HashMap<Account, Decimal>,
    /// Each merchant account's balance as loaded.
    loaded: HashMap<Account, Decimal>,
    /// The starting balances each account's decisions so far hold for.
    bounds: HashMap<Account, Bounds>,
    /// The entry keys whose posting is known: posted (true) or not (false).
    entries: HashMap<EntryKey, bool>,
}

/// The starting balances for which every decision against a book comes out the same; `None`
/// is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bounds {
    at_least: Option<Decimal>,
    at_most: Option<Decimal>,
    below: Option<Decimal>,
}

/// What a book's decisions did to one merchant account, and the condition under which they
/// hold: for any starting balance `b` with `at_least <= b <= at_most` and `b < below`,
/// deciding the same requests in the same order against `b` accepts and refuses the same
/// ones, with the same entries and reasons, and leaves every balance `b - loaded` higher than
/// against the balance loaded (so the account ends at `b + moved`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub account: Account,
    /// The balance as loaded.
    pub loaded: Decimal,
    /// How far the decisions moved the balance.
    pub moved: Decimal,
    /// The lowest starting balance every accepted posting still fits.
    pub at_least: Option<Decimal>,
    /// The balance a refusal whose reason names the balance was decided against.
    pub at_most: Option<Decimal>,
    /// The lowest starting balance at which a refused posting would have fit.
    pub below: Option<Decimal>,
}

impl Condition {
    /// Whether decisions made against the loaded balance hold for `balance`.
    pub fn holds_for(&self, balance: Decimal) -> bool {
        self.at_least.is_none_or(|low| balance >= low)
            && self.at_most.is_none_or(|high| balance <= high)
            && self.below.is_none_or(|limit| balance < limit)
    }
}

impl Book {
    pub fn new() -> Book {
        Book::default()
    }

    /// Records a merchant account's balance as stored (zero for one not created yet).
    pub fn set_balance(&mut self, account: Account, balance: Decimal) {
        self.loaded.insert(account.clone(), balance);
        self.bounds.remove(&account);
        self.balances.insert(account, balance);
    }

    /// For every merchant account a decision looked at, what the decisions did to it and the
    /// starting balances they hold for (see [`Condition`]), in account key order.
    pub fn conditions(&self) -> Vec<Condition> {
        let mut conditions: Vec<Condition> = self
            .loaded
            .iter()
            .filter_map(|(account, loaded)| {
                let balance = self.balances.get(account).copied().unwrap_or(*loaded);
                let bounds = self.bounds.get(account).copied().unwrap_or_default();
                let moved = balance - loaded;
                (bounds != Bounds::default() || !moved.is_zero()).then(|| Condition {
                    account: account.clone(),
                    loaded: *loaded,
                    moved,
                    at_least: bounds.at_least,
                    at_most: bounds.at_most,
                    below: bounds.below,
                })
            })
            .collect();
        conditions.sort_by_key(|c| c.account.key());
        conditions
    }

    /// Records a check of a merchant balance: a posting to `account` was accepted (`would_be`
    /// is the balance it left) or refused (`would_be` below zero). An accepted posting holds
    /// for every starting balance at least as high as it needed (the balance loaded less what
    /// it left); a refused one for every starting balance below that.
    fn checked(&mut self, account: &Account, would_be: Decimal, accepted: bool) {
        let needed = self.loaded.get(account).copied().unwrap_or_default() - would_be;
        let bounds = self.bounds.entry(account.clone()).or_default();
        if accepted {
            bounds.at_least = Some(bounds.at_least.map_or(needed, |l| l.max(needed)));
        } else {
            bounds.below = Some(bounds.below.map_or(needed, |b| b.min(needed)));
        }
    }

    /// Pins `account`'s decisions to the balance loaded: a refusal whose reason names the
    /// balance it would have left holds for that balance only.
    fn pin(&mut self, account: &Account) {
        let loaded = self.loaded.get(account).copied().unwrap_or_default();
        let bounds = self.bounds.entry(account.clone()).or_default();
        bounds.at_least = Some(bounds.at_least.map_or(loaded, |l| l.max(loaded)));
        bounds.at_most = Some(bounds.at_most.map_or(loaded, |h| h.min(loaded)));
    }

    /// The reason of a shortfall, for an order's history: it names the balance, so the
    /// decision is pinned to the balance loaded.
    fn reason(&mut self, shortfall: BalanceShortfall) -> String {
        self.pin(&shortfall.account);
        shortfall.reason
    }

    /// Records which of `keys` are posted already (those in `posted`).
    pub fn set_posted<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a EntryKey>,
        posted: &HashSet<EntryKey>,
    ) {
        for key in keys {
            self.entries.insert(key.clone(), posted.contains(key));
        }
    }

    /// A merchant account's balance, as loaded and changed by the decisions so far.
    pub fn balance(&self, account: &Account) -> Option<Decimal> {
        self.balances.get(account).copied()
    }

    fn is_posted(&self, key: &EntryKey) -> Result<bool, Refusal> {
        self.entries
            .get(key)
            .copied()
            .ok_or_else(|| Refusal::NotLoaded(format!("entry {key}")))
    }

    /// Posts `entry` against the balances: each merchant account's balance after it, or why
    /// it cannot post (a merchant balance would go below zero). A refused entry changes no
    /// balance. Either way the checks made are recorded for [`Book::conditions`].
    fn post(&mut self, entry: JournalEntry) -> Result<PlannedEntry, Shortfall> {
        let mut after = Vec::with_capacity(entry.postings.len());
        for p in &entry.postings {
            if !p.account.kind.is_merchant() {
                after.push(None);
                continue;
            }
            let before = self
                .balances
                .get(&p.account)
                .copied()
                .ok_or_else(|| Shortfall::NotLoaded(format!("account {}", p.account)))?;
            let balance = before + p.amount;
            let refused = balance.is_sign_negative() && !balance.is_zero();
            self.checked(&p.account, balance, !refused);
            if refused {
                return Err(Shortfall::Balance(BalanceShortfall {
                    reason: format!(
                        "the {} balance of {} would become {}",
                        p.account.kind.as_str(),
                        p.account.currency,
                        format_places(balance, LEDGER_PLACES)
                    ),
                    account: p.account.clone(),
                }));
            }
            after.push(Some(balance));
        }
        for (p, balance) in entry.postings.iter().zip(&after) {
            if let Some(balance) = balance {
                self.balances.insert(p.account.clone(), *balance);
            }
        }
        self.entries.insert(entry.key.clone(), true);
        Ok(PlannedEntry { entry, after })
    }
}

/// What settling a transfer (its suspense entry) needs loaded: the entry's accounts and key.
pub fn needs_to_settle(entry: &JournalEntry) -> Needs {
    Needs::of(std::slice::from_ref(entry))
}

/// The suspense entry of a transfer's status change, to write — or `None` when it is posted
/// already (the change was written before and is being taken up again). It moves only the
/// gateway's own accounts, so no balance can refuse it.
pub fn settle_transfer(
    entry: JournalEntry,
    book: &mut Book,
) -> Result<Option<PlannedEntry>, Refusal> {
    if book.is_posted(&entry.key)? {
        return Ok(None);
    }
    match book.post(entry) {
        Ok(planned) => Ok(Some(planned)),
        Err(Shortfall::NotLoaded(what)) => Err(Refusal::NotLoaded(what)),
        Err(Shortfall::Balance(why)) => Err(Refusal::Accounting(book.reason(why))),
    }
}

/// Why an entry cannot post.
enum Shortfall {
    /// A merchant balance would go below zero.
    Balance(BalanceShortfall),
    NotLoaded(String),
}

/// The merchant account an entry could not post to, and why (for the order's history, which
/// [`Book::reason`] gives out).
struct BalanceShortfall {
    reason: String,
    account: Account,
}

/// A journal entry to write, with each posting's merchant balance after it (`None` for a
/// house account, whose balance is not kept on the account row). `after[i]` belongs to
/// `entry.postings[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    pub entry: JournalEntry,
    pub after: Vec<Option<Decimal>>,
}

/// What creating an order leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new order to insert, with a payout's hold to post.
    New {
        order: Order,
        hold: Option<PlannedEntry>,
    },
    /// The merchant has an order with this `merchant_order_id` already: it is the answer
    /// (whatever the balance now), and nothing is written.
    Existing(Order),
}

/// What creating `order` needs loaded: a payout's hold.
pub fn needs_to_create(order: &Order) -> Needs {
    match ledger::on_create(order) {
        Ok(Some(hold)) => Needs::of(std::slice::from_ref(&hold)),
        _ => Needs::default(),
    }
}

/// Decides a new order: the stored one when the merchant reused its `merchant_order_id`
/// (`existing`), otherwise the order to insert — a payout with its hold of amount plus fee,
/// refused when the available balance does not cover it.
pub fn create(order: Order, existing: Option<Order>, book: &mut Book) -> Result<Created, Refusal> {
    if let Some(existing) = existing {
        return Ok(Created::Existing(existing));
    }
    debug_assert!(matches!(
        order.payment_status,
        PaymentStatus::Pending | PaymentStatus::Preparing | PaymentStatus::Reject
    ));
    let Some(hold) = ledger::on_create(&order).map_err(|e| Refusal::Accounting(e.to_string()))?
    else {
        return Ok(Created::New { order, hold: None });
    };
    let hold = match book.post(hold) {
        Ok(hold) => hold,
        Err(Shortfall::Balance(_)) => return Err(Refusal::InsufficientBalance),
        Err(Shortfall::NotLoaded(what)) => return Err(Refusal::NotLoaded(what)),
    };
    let mut order = order;
    // The hold is posted; the rest of the payout's accounting follows when it settles.
    order.accounting_status = AccountingStatus::Delivered;
    Ok(Created::New {
        order,
        hold: Some(hold),
    })
}

/// What a status change leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The order after the change: payment, accounting and notify statuses set.
    pub order: Order,
    pub event: OrderEvent,
    /// The entry to post now (`None`: the change posts nothing, or posted it before).
    pub entry: Option<PlannedEntry>,
    /// The callback reporting the change (`None` without a notify_url).
    pub callback: Option<NewCallback>,
}

/// What changing `order` as `change` asks needs loaded: the entry the change would post.
pub fn needs_to_change(order: &Order, change: &StatusChange) -> Needs {
    let mut after = order.clone();
    if after.apply(change).is_err() {
        return Needs::default();
    }
    match ledger::on_change(&after, change.to, change.at) {
        Ok(Some(entry)) => Needs::of(std::slice::from_ref(&entry)),
        _ => Needs::default(),
    }
}

/// Decides a status change: the state machine, then the change's journal entry. An entry the
/// balance cannot cover refuses a refund (an operator's request that may be declined) and is
/// recorded as a failed accounting for anything else (what happened upstream stands; the
/// accounting is retried, see [`retry_accounting`]). An entry posted before is not posted
/// again. The callback reporting the change is queued with it.
pub fn change(order: &Order, change: &StatusChange, book: &mut Book) -> Result<Changed, Refusal> {
    let mut order = order.clone();
    let event = order.apply(change)?;
    let entry = ledger::on_change(&order, change.to, change.at)
        .map_err(|e| Refusal::Accounting(e.to_string()))?;
    let mut posting = None;
    if let Some(entry) = entry {
        if book.is_posted(&entry.key)? {
            order.accounting_status = AccountingStatus::Accounted;
        } else {
            match book.post(entry) {
                Ok(planned) => {
                    order.accounting_status = AccountingStatus::Accounted;
                    posting = Some(planned);
                }
                Err(Shortfall::Balance(_)) if ledger::refusable(change.to) => {
                    return Err(Refusal::InsufficientBalance)
                }
                Err(Shortfall::Balance(reason)) => {
                    order.accounting_status = AccountingStatus::Failed;
                    order.accounting_fail_reason = book.reason(reason);
                }
                Err(Shortfall::NotLoaded(what)) => return Err(Refusal::NotLoaded(what)),
            }
        }
    }
    let callback = callback::report(&mut order, false, change.at);
    Ok(Changed {
        order,
        event,
        entry: posting,
        callback,
    })
}

/// What a retry of an order's accounting leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retried {
    /// The order with the outcome recorded (accounting status and reason).
    pub order: Order,
    /// The entries to post now, oldest first (those posted before are left out).
    pub entries: Vec<PlannedEntry>,
}

/// The statuses an order reached after its creation, with when: its history without the
/// creation event.
fn reached(history: &[OrderEvent]) -> Vec<(PaymentStatus, Timestamp)> {
    history
        .iter()
        .filter(|e| e.from_status != PaymentStatus::None)
        .map(|e| (e.to_status, e.created_at))
        .collect()
}

/// What retrying `order`'s accounting needs loaded: every entry its history calls for.
pub fn needs_to_retry(order: &Order, history: &[OrderEvent]) -> Needs {
    match ledger::entries_for_history(order, &reached(history)) {
        Ok(entries) => Needs::of(&entries),
        Err(_) => Needs::default(),
    }
}

/// Decides a retry of a failed accounting: every entry the order's history calls for, oldest
/// first, skipping those posted already, until one cannot post (the ones before it still
/// post); the outcome is recorded on the order (see `ledger::record_accounting`).
pub fn retry_accounting(
    order: &Order,
    history: &[OrderEvent],
    book: &mut Book,
    at: Timestamp,
) -> Result<Retried, Refusal> {
    let entries = ledger::entries_for_history(order, &reached(history))
        .map_err(|e| Refusal::Accounting(e.to_string()))?;
    let called_for = entries.len();
    let mut planned = Vec::new();
    let mut failure = None;
    for entry in entries {
        if book.is_posted(&entry.key)? {
            continue;
        }
        match book.post(entry) {
            Ok(entry) => planned.push(entry),
            Err(Shortfall::Balance(reason)) => {
                failure = Some(book.reason(reason));
                break;
            }
            Err(Shortfall::NotLoaded(what)) => return Err(Refusal::NotLoaded(what)),
        }
    }
    let mut order = order.clone();
    ledger::record_accounting(&mut order, called_for, failure, at);
    Ok(Retried {
        order,
        entries: planned,
    })
}

/// Decides a resend by hand: the order's current state queued to its notify_url again, and
/// the order marked as having a callback on its way.
pub fn resend(order: &Order, at: Timestamp) -> Result<(Order, NewCallback), Refusal> {
    let mut order = order.clone();
    let callback = callback::report(&mut order, true, at).ok_or(Refusal::NoNotifyUrl)?;
    Ok((order, callback))
}

#[cfg(test)]
mod tests;
