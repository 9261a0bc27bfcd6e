//! The double-entry ledger: which accounts exist, which journal entry each order event
//! posts, how fees are computed, and how a ledger is verified from its history.
//!
//! Every movement is one [`JournalEntry`] whose postings sum to zero (in its one currency);
//! [`JournalEntry::new`] refuses anything else. A posting's amount credits its account when
//! positive and debits it when negative; an account's balance is the sum of its postings.
//! Entries carry a unique key derived from the order and the event, so applying the same
//! event twice posts once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::{Currency, LEDGER_PLACES};
use crate::order::{AccountingType, Order, PaymentStatus, TransactionType, UnknownValue};
use crate::Timestamp;

/// What an account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountKind {
    /// A merchant's money it may spend.
    Available,
    /// A merchant's money reserved for payouts in progress.
    Held,
    /// The gateway's fee income.
    FeeIncome,
    /// Money in transit at one channel's upstream.
    Clearing,
    /// Money that belongs to nobody known yet (unmatched transfers, corrections).
    Suspense,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Available => "available",
            AccountKind::Held => "held",
            AccountKind::FeeIncome => "fee_income",
            AccountKind::Clearing => "clearing",
            AccountKind::Suspense => "suspense",
        }
    }

    /// Merchant accounts keep a cached balance that must never go below zero. The gateway's
    /// own accounts are computed from their postings when asked: every order of every merchant
    /// touches them, and a cached balance would make them a point of contention.
    pub fn is_merchant(self) -> bool {
        matches!(self, AccountKind::Available | AccountKind::Held)
    }
}

impl FromStr for AccountKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Ok(match s {
            "available" => AccountKind::Available,
            "held" => AccountKind::Held,
            "fee_income" => AccountKind::FeeIncome,
            "clearing" => AccountKind::Clearing,
            "suspense" => AccountKind::Suspense,
            _ => return Err(UnknownValue),
        })
    }
}

/// One account of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account {
    pub kind: AccountKind,
    pub merchant_id: Option<i64>,
    pub channel: Option<String>,
    pub currency: Currency,
}

impl Account {
    pub fn available(merchant_id: i64, currency: Currency) -> Self {
        Account { kind: AccountKind::Available, merchant_id: Some(merchant_id), channel: None, currency }
    }
    pub fn held(merchant_id: i64, currency: Currency) -> Self {
        Account { kind: AccountKind::Held, merchant_id: Some(merchant_id), channel: None, currency }
    }
    pub fn fee_income(currency: Currency) -> Self {
        Account { kind: AccountKind::FeeIncome, merchant_id: None, channel: None, currency }
    }
    pub fn clearing(channel: &str, currency: Currency) -> Self {
        Account { kind: AccountKind::Clearing, merchant_id: None, channel: Some(channel.to_string()), currency }
    }
    pub fn suspense(currency: Currency) -> Self {
        Account { kind: AccountKind::Suspense, merchant_id: None, channel: None, currency }
    }

    /// The unique text key of the account (`available:42:mmk`, `clearing:sandbox:mmk`).
    pub fn key(&self) -> String {
        match (self.merchant_id, &self.channel) {
            (Some(m), _) => format!("{}:{m}:{}", self.kind.as_str(), self.currency),
            (None, Some(c)) => format!("{}:{c}:{}", self.kind.as_str(), self.currency),
            (None, None) => format!("{}:{}", self.kind.as_str(), self.currency),
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A credit (positive) or debit (negative) of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub amount: Decimal,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A completed deposit credits the merchant (less the fee).
    DepositCredit,
    /// A new payout reserves amount plus fee.
    PayoutHold,
    /// A completed payout spends its hold.
    PayoutSettle,
    /// A failed or rejected payout returns its hold.
    PayoutRelease,
    /// A refunded deposit takes its credit back.
    Refund,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::DepositCredit => "deposit_credit",
            EntryKind::PayoutHold => "payout_hold",
            EntryKind::PayoutSettle => "payout_settle",
            EntryKind::PayoutRelease => "payout_release",
            EntryKind::Refund => "refund",
        }
    }
}

impl FromStr for EntryKind {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Ok(match s {
            "deposit_credit" => EntryKind::DepositCredit,
            "payout_hold" => EntryKind::PayoutHold,
            "payout_settle" => EntryKind::PayoutSettle,
            "payout_release" => EntryKind::PayoutRelease,
            "refund" => EntryKind::Refund,
            _ => return Err(UnknownValue),
        })
    }
}

/// An entry that does not balance or is not exact to the ledger's places.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unbalanced journal entry {key}: {reason}")]
pub struct Unbalanced {
    pub key: String,
    pub reason: String,
}

/// One balanced, immutable movement of money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Unique: the same event always makes the same key, so it posts once.
    pub key: String,
    pub kind: EntryKind,
    pub order_id: i64,
    pub merchant_id: i64,
    pub accounting_type: AccountingType,
    pub currency: Currency,
    /// The order amount this entry moves (before fees).
    pub amount: Decimal,
    pub fee: Decimal,
    pub postings: Vec<Posting>,
    pub created_at: Timestamp,
}

impl JournalEntry {
    /// Builds an entry, refusing one whose postings do not sum to zero, are in another
    /// currency, or carry more than six decimal places. Zero postings are dropped.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key: String,
        kind: EntryKind,
        order: &Order,
        amount: Decimal,
        fee: Decimal,
        postings: Vec<Posting>,
        created_at: Timestamp,
    ) -> Result<JournalEntry, Unbalanced> {
        let fail = |reason: String| Unbalanced { key: key.clone(), reason };
        let postings: Vec<Posting> = postings.into_iter().filter(|p| !p.amount.is_zero()).collect();
        if postings.is_empty() {
            return Err(fail("no postings".into()));
        }
        let mut sum = Decimal::ZERO;
        for p in &postings {
            if p.account.currency != order.currency {
                return Err(fail(format!("posting to {} in an entry of {}", p.account, order.currency)));
            }
            if p.amount.normalize().scale() > LEDGER_PLACES {
                return Err(fail(format!("{} has more than {LEDGER_PLACES} decimal places", p.amount)));
            }
            sum += p.amount;
        }
        if !sum.is_zero() {
            return Err(fail(format!("postings sum to {sum}, not zero")));
        }
        Ok(JournalEntry {
            key,
            kind,
            order_id: order.id,
            merchant_id: order.merchant_id,
            accounting_type: order.accounting_type,
            currency: order.currency,
            amount,
            fee,
            postings,
            created_at,
        })
    }
}

/// A fee schedule: a percentage (fractions allowed) plus a fixed part, kept between a minimum
/// and a maximum. Fixed, minimum and maximum are in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeeRule {
    pub percent: Decimal,
    pub fixed: Decimal,
    pub minimum: Decimal,
    pub maximum: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fee rule: {0}")]
pub struct InvalidFeeRule(pub String);

impl FeeRule {
    /// Checks the parts: none negative, percent at most 100, minimum not above maximum.
    pub fn new(percent: Decimal, fixed: Decimal, minimum: Decimal, maximum: Option<Decimal>) -> Result<Self, InvalidFeeRule> {
        for (name, v) in [("percent", percent), ("fixed", fixed), ("minimum", minimum)] {
            if v.is_sign_negative() && !v.is_zero() {
                return Err(InvalidFeeRule(format!("{name} must not be negative")));
            }
        }
        if percent > Decimal::ONE_HUNDRED {
            return Err(InvalidFeeRule("percent must be at most 100".into()));
        }
        if let Some(max) = maximum {
            if max < minimum {
                return Err(InvalidFeeRule("maximum must not be below minimum".into()));
            }
        }
        Ok(FeeRule { percent, fixed, minimum, maximum })
    }

    /// The fee on `amount`: percent of it plus the fixed part, kept within minimum and
    /// maximum, rounded half away from zero to the ledger's six places.
    pub fn fee_for(&self, amount: Decimal) -> Decimal {
        let raw = amount * self.percent / Decimal::ONE_HUNDRED + self.fixed;
        let mut fee = raw.max(self.minimum);
        if let Some(max) = self.maximum {
            fee = fee.min(max);
        }
        fee.round_dp_with_strategy(LEDGER_PLACES, RoundingStrategy::MidpointAwayFromZero)
            .normalize()
    }

    /// `percent|fixed|minimum|maximum` (maximum empty when none), as stored on orders.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.percent.normalize(),
            self.fixed.normalize(),
            self.minimum.normalize(),
            self.maximum.map(|m| m.normalize().to_string()).unwrap_or_default()
        )
    }

    pub fn decode(text: &str) -> Option<FeeRule> {
        if text.is_empty() {
            return Some(FeeRule::default());
        }
        let parts: Vec<&str> = text.split('|').collect();
        let [p, f, min, max] = parts.as_slice() else { return None };
        Some(FeeRule {
            percent: p.parse().ok()?,
            fixed: f.parse().ok()?,
            minimum: min.parse().ok()?,
            maximum: if max.is_empty() { None } else { Some(max.parse().ok()?) },
        })
    }
}

/// The fee of a deposit that received `amount`: never more than the amount itself, so a
/// deposit never takes from the merchant.
pub fn deposit_fee(rule: &FeeRule, amount: Decimal) -> Decimal {
    rule.fee_for(amount).min(amount)
}

fn entry_key(order: &Order, kind: EntryKind) -> String {
    format!("{}:{}", order.payment_uid, kind.as_str())
}

/// The entry a new order posts when it is created: a payout reserves amount plus fee.
pub fn on_create(order: &Order) -> Result<Option<JournalEntry>, Unbalanced> {
    if order.transaction_type != TransactionType::Expense {
        return Ok(None);
    }
    let (m, c) = (order.merchant_id, order.currency);
    let hold = order.amount + order.fee;
    JournalEntry::new(
        entry_key(order, EntryKind::PayoutHold),
        EntryKind::PayoutHold,
        order,
        order.amount,
        order.fee,
        vec![
            Posting { account: Account::available(m, c), amount: -hold },
            Posting { account: Account::held(m, c), amount: hold },
        ],
        order.created_at,
    )
    .map(Some)
}

/// The entry an order posts when it moves to `to` (the order as it is after the change,
/// with `final_amount` and `fee` of the change).
pub fn on_change(order: &Order, to: PaymentStatus, at: Timestamp) -> Result<Option<JournalEntry>, Unbalanced> {
    let (m, c) = (order.merchant_id, order.currency);
    let channel = order.channel.as_str();
    let entry = |kind: EntryKind, amount: Decimal, postings: Vec<Posting>| {
        JournalEntry::new(entry_key(order, kind), kind, order, amount, order.fee, postings, at).map(Some)
    };
    match (order.transaction_type, to) {
        (TransactionType::Income, PaymentStatus::Completed) => {
            let received = order.final_amount;
            entry(
                EntryKind::DepositCredit,
                received,
                vec![
                    Posting { account: Account::clearing(channel, c), amount: -received },
                    Posting { account: Account::available(m, c), amount: received - order.fee },
                    Posting { account: Account::fee_income(c), amount: order.fee },
                ],
            )
        }
        (TransactionType::Income, PaymentStatus::Refund) => {
            let received = order.final_amount;
            entry(
                EntryKind::Refund,
                received,
                vec![
                    Posting { account: Account::available(m, c), amount: -(received - order.fee) },
                    Posting { account: Account::fee_income(c), amount: -order.fee },
                    Posting { account: Account::clearing(channel, c), amount: received },
                ],
            )
        }
        (TransactionType::Expense, PaymentStatus::Completed) => {
            let hold = order.amount + order.fee;
            entry(
                EntryKind::PayoutSettle,
                order.amount,
                vec![
                    Posting { account: Account::held(m, c), amount: -hold },
                    Posting { account: Account::clearing(channel, c), amount: order.amount },
                    Posting { account: Account::fee_income(c), amount: order.fee },
                ],
            )
        }
        (TransactionType::Expense, PaymentStatus::Failed | PaymentStatus::Reject) => {
            let hold = order.amount + order.fee;
            entry(
                EntryKind::PayoutRelease,
                order.amount,
                vec![
                    Posting { account: Account::held(m, c), amount: -hold },
                    Posting { account: Account::available(m, c), amount: hold },
                ],
            )
        }
        // Overdue keeps a payout's hold (the money may still move); other moves post nothing.
        _ => Ok(None),
    }
}

/// Every entry an order should have posted, given the statuses it went through (oldest
/// first, creation excluded). Used to retry accounting that failed; keys make it idempotent.
pub fn entries_for_history(order: &Order, reached: &[(PaymentStatus, Timestamp)]) -> Result<Vec<JournalEntry>, Unbalanced> {
    let mut entries: Vec<JournalEntry> = on_create(order)?.into_iter().collect();
    for (status, at) in reached {
        entries.extend(on_change(order, *status, *at)?);
    }
    Ok(entries)
}

/// Records on an order the outcome of posting everything its history calls for (`entries`
/// of them; `failure` if one was refused): a payout still holding its money is `delivered`,
/// an order that posts nothing yet `none`, anything else `accounted`. The last failure reason
/// stays, as `payment_fail_reason` does.
pub fn record_accounting(order: &mut Order, entries: usize, failure: Option<String>, at: Timestamp) {
    use crate::order::AccountingStatus;
    order.accounting_status = if failure.is_some() {
        AccountingStatus::Failed
    } else if entries == 0 {
        AccountingStatus::None
    } else if order.transaction_type == TransactionType::Expense && !order.payment_status.is_final() {
        AccountingStatus::Delivered
    } else {
        AccountingStatus::Accounted
    };
    if let Some(reason) = failure {
        order.accounting_fail_reason = reason;
    }
    order.updated_at = at;
}

/// Whether a status change must be refused (rather than accounted as failed) when its entry
/// cannot be posted: only a refund is an operator's request that may be declined; the others
/// report what already happened upstream.
pub fn refusable(to: PaymentStatus) -> bool {
    to == PaymentStatus::Refund
}

/// The entries an order in this status must have posted (the order's history is fixed by its
/// status: a refunded deposit completed first, a settled payout held first).
pub fn entries_called_for(transaction_type: TransactionType, status: PaymentStatus) -> &'static [EntryKind] {
    use PaymentStatus as S;
    match (transaction_type, status) {
        (TransactionType::Income, S::Completed) => &[EntryKind::DepositCredit],
        (TransactionType::Income, S::Refund) => &[EntryKind::DepositCredit, EntryKind::Refund],
        (TransactionType::Income, _) => &[],
        (TransactionType::Expense, S::None) => &[],
        (TransactionType::Expense, S::Completed) => &[EntryKind::PayoutHold, EntryKind::PayoutSettle],
        (TransactionType::Expense, S::Failed | S::Reject) => &[EntryKind::PayoutHold, EntryKind::PayoutRelease],
        (TransactionType::Expense, _) => &[EntryKind::PayoutHold],
    }
}

/// One journal entry as verification reads it.
#[derive(Debug, Clone)]
struct SeenEntry {
    key: String,
    currency: Currency,
    merchant_id: Option<i64>,
    sum: Decimal,
    accounts: Vec<i64>,
}

/// What the ledger's history says, checked against its cached balances and against the
/// orders: fed with every entry, posting and order (in any order), then finished with the
/// accounts.
#[derive(Debug, Default, Clone)]
pub struct Verification {
    pub postings: u64,
    entries: HashMap<i64, SeenEntry>,
    per_account: BTreeMap<i64, Decimal>,
    /// Entry keys every order's status calls for, with what to say if one is missing.
    expected: HashMap<String, String>,
    early: Vec<String>,
}

/// An account as stored, for verification.
#[derive(Debug, Clone)]
pub struct StoredAccount {
    pub id: i64,
    pub account: Account,
    /// `None` for the gateway's own accounts, whose balance is not cached.
    pub cached_balance: Option<Decimal>,
}

/// The outcome of a verification.
#[derive(Debug, Clone)]
pub struct LedgerReport {
    pub entries: u64,
    pub postings: u64,
    pub accounts: u64,
    pub orders: u64,
    /// Balance of every account recomputed from the postings.
    pub balances: Vec<(Account, Decimal)>,
    pub violations: Vec<String>,
}

impl LedgerReport {
    pub fn is_sound(&self) -> bool {
        self.violations.is_empty()
    }
}

impl Verification {
    pub fn new() -> Self {
        Self::default()
    }

    /// One journal entry.
    pub fn entry(&mut self, id: i64, key: &str, currency: Currency, merchant_id: Option<i64>) {
        let seen = self.entries.entry(id).or_insert_with(|| SeenEntry {
            key: String::new(),
            currency,
            merchant_id,
            sum: Decimal::ZERO,
            accounts: Vec::new(),
        });
        seen.key = key.to_string();
        seen.currency = currency;
        seen.merchant_id = merchant_id;
    }

    /// One posting of entry `entry_id` to account `account_id`, whose currency is `currency`.
    pub fn posting(&mut self, entry_id: i64, account_id: i64, currency: Currency, amount: Decimal) {
        self.postings += 1;
        let seen = self.entries.entry(entry_id).or_insert_with(|| SeenEntry {
            key: String::new(),
            currency,
            merchant_id: None,
            sum: Decimal::ZERO,
            accounts: Vec::new(),
        });
        if seen.currency != currency {
            self.early.push(format!("entry {entry_id} posts {currency} to an entry of {}", seen.currency));
        }
        seen.sum += amount;
        seen.accounts.push(account_id);
        *self.per_account.entry(account_id).or_default() += amount;
    }

    /// One order: the entries its status calls for must exist.
    pub fn order(
        &mut self,
        payment_uid: &str,
        transaction_type: TransactionType,
        status: PaymentStatus,
        accounting_failure: Option<&str>,
    ) {
        for kind in entries_called_for(transaction_type, status) {
            let why = match accounting_failure {
                Some(reason) => format!(
                    "order {payment_uid} ({transaction_type} {status}) has no {} entry: its accounting failed ({reason})",
                    kind.as_str()
                ),
                None => format!("order {payment_uid} ({transaction_type} {status}) has no {} entry", kind.as_str()),
            };
            self.expected.insert(format!("{payment_uid}:{}", kind.as_str()), why);
        }
    }

    /// Compares everything read with the accounts as stored.
    pub fn finish(self, accounts: Vec<StoredAccount>) -> LedgerReport {
        let mut violations = self.early;
        let by_id: HashMap<i64, &StoredAccount> = accounts.iter().map(|a| (a.id, a)).collect();
        let mut entries: Vec<(&i64, &SeenEntry)> = self.entries.iter().collect();
        entries.sort_by_key(|(id, _)| **id);
        let mut expected = self.expected;
        for (id, e) in &entries {
            if e.key.is_empty() {
                violations.push(format!("postings to entry {id}, which does not exist"));
                continue;
            }
            if e.accounts.is_empty() {
                violations.push(format!("entry {id} ({}) has no postings", e.key));
            }
            if !e.sum.is_zero() {
                violations.push(format!("entry {id} does not balance: its postings sum to {} {}", e.sum, e.currency));
            }
            for account_id in &e.accounts {
                match by_id.get(account_id) {
                    None => violations.push(format!("entry {id} posts to account {account_id}, which does not exist")),
                    Some(a) if a.account.currency != e.currency => violations.push(format!(
                        "entry {id} of {} posts to {}",
                        e.currency, a.account
                    )),
                    Some(a) if a.account.kind.is_merchant() && a.account.merchant_id != e.merchant_id => violations
                        .push(format!("entry {id} of merchant {:?} posts to {}", e.merchant_id, a.account)),
                    Some(_) => {}
                }
            }
            if expected.remove(&e.key).is_none() {
                violations.push(format!("entry {id} ({}) is not called for by its order", e.key));
            }
        }
        let mut missing: Vec<String> = expected.into_values().collect();
        missing.sort();
        violations.extend(missing);
        let mut balances = Vec::with_capacity(accounts.len());
        for stored in &accounts {
            let computed = self.per_account.get(&stored.id).copied().unwrap_or_default();
            if stored.account.kind.is_merchant() {
                match stored.cached_balance {
                    Some(cached) if cached == computed => {}
                    Some(cached) => violations.push(format!(
                        "account {} caches {cached} but its postings sum to {computed}",
                        stored.account
                    )),
                    None => violations.push(format!("account {} has no cached balance", stored.account)),
                }
                if computed.is_sign_negative() && !computed.is_zero() {
                    violations.push(format!("account {} is negative: {computed}", stored.account));
                }
            }
            balances.push((stored.account.clone(), computed));
        }
        LedgerReport {
            entries: self.entries.values().filter(|e| !e.key.is_empty()).count() as u64,
            postings: self.postings,
            accounts: accounts.len() as u64,
            orders: 0,
            balances,
            violations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::sample_order;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn fees_take_percent_fixed_minimum_and_maximum() {
        let rule = FeeRule::new(d("2.5"), d("1"), d("3"), Some(d("50"))).unwrap();
        assert_eq!(rule.fee_for(d("100")), d("3.5"));
        assert_eq!(rule.fee_for(d("10")), d("3"), "minimum");
        assert_eq!(rule.fee_for(d("10000")), d("50"), "maximum");
        let fraction = FeeRule::new(d("0.35"), Decimal::ZERO, Decimal::ZERO, None).unwrap();
        assert_eq!(fraction.fee_for(d("100.01")), d("0.350035"));
        assert_eq!(fraction.fee_for(d("0.01")), d("0.000035"));
        let tiny = FeeRule::new(d("0.0001"), Decimal::ZERO, Decimal::ZERO, None).unwrap();
        assert_eq!(tiny.fee_for(d("0.05")), Decimal::ZERO, "rounded to six places");
        assert_eq!(deposit_fee(&FeeRule::new(Decimal::ZERO, d("5"), Decimal::ZERO, None).unwrap(), d("2")), d("2"));
        assert_eq!(FeeRule::decode(&rule.encode()), Some(rule));
        assert!(FeeRule::new(d("-1"), Decimal::ZERO, Decimal::ZERO, None).is_err());
        assert!(FeeRule::new(d("101"), Decimal::ZERO, Decimal::ZERO, None).is_err());
        assert!(FeeRule::new(Decimal::ZERO, Decimal::ZERO, d("5"), Some(d("1"))).is_err());
    }

    #[test]
    fn entries_balance_and_name_their_event() {
        let mut deposit = sample_order();
        deposit.fee = d("2.5");
        deposit.final_amount = d("100");
        let credit = on_change(&deposit, PaymentStatus::Completed, 1).unwrap().unwrap();
        assert_eq!(credit.key, "u:deposit_credit");
        assert_eq!(credit.postings.len(), 3);
        assert!(on_change(&deposit, PaymentStatus::Failed, 1).unwrap().is_none());
        let refund = on_change(&deposit, PaymentStatus::Refund, 2).unwrap().unwrap();
        let sum: Decimal = credit.postings.iter().chain(&refund.postings).map(|p| p.amount).sum();
        assert_eq!(sum, Decimal::ZERO);

        let mut payout = sample_order();
        payout.transaction_type = TransactionType::Expense;
        payout.fee = d("1.25");
        let hold = on_create(&payout).unwrap().unwrap();
        assert_eq!(hold.postings[0].amount, d("-101.25"));
        assert!(on_change(&payout, PaymentStatus::Overdue, 1).unwrap().is_none(), "overdue keeps the hold");
        assert!(on_change(&payout, PaymentStatus::Reject, 1).unwrap().is_some());

        let bad = JournalEntry::new(
            "k".into(),
            EntryKind::Refund,
            &deposit,
            d("1"),
            Decimal::ZERO,
            vec![Posting { account: Account::fee_income(Currency::Mmk), amount: d("1") }],
            0,
        );
        assert!(bad.is_err());
        let too_fine = JournalEntry::new(
            "k".into(),
            EntryKind::Refund,
            &deposit,
            d("1"),
            Decimal::ZERO,
            vec![
                Posting { account: Account::fee_income(Currency::Mmk), amount: d("0.0000001") },
                Posting { account: Account::suspense(Currency::Mmk), amount: d("-0.0000001") },
            ],
            0,
        );
        assert!(too_fine.is_err());
    }

    #[test]
    fn verification_finds_every_kind_of_inconsistency() {
        let mut v = Verification::new();
        // a sound deposit credit of order "a"
        v.order("a", TransactionType::Income, PaymentStatus::Completed, None);
        v.entry(1, "a:deposit_credit", Currency::Mmk, Some(1));
        v.posting(1, 10, Currency::Mmk, d("-5"));
        v.posting(1, 11, Currency::Mmk, d("5"));
        // an unbalanced entry nobody called for
        v.entry(2, "b:refund", Currency::Mmk, Some(1));
        v.posting(2, 11, Currency::Mmk, d("-7"));
        // a completed payout whose settle is missing; its accounting failed
        v.order("c", TransactionType::Expense, PaymentStatus::Completed, Some("held would go negative"));
        v.entry(3, "c:payout_hold", Currency::Mmk, Some(1));
        v.posting(3, 11, Currency::Mmk, d("-1"));
        v.posting(3, 12, Currency::Mmk, d("1"));
        // an entry without postings
        v.entry(4, "d:payout_hold", Currency::Mmk, Some(1));
        v.order("d", TransactionType::Expense, PaymentStatus::Pending, None);
        let accounts = vec![
            StoredAccount { id: 10, account: Account::clearing("sandbox", Currency::Mmk), cached_balance: None },
            StoredAccount { id: 11, account: Account::available(1, Currency::Mmk), cached_balance: Some(d("5")) },
            StoredAccount { id: 12, account: Account::held(1, Currency::Mmk), cached_balance: Some(d("1")) },
        ];
        let report = v.finish(accounts);
        let all = report.violations.join("\n");
        for expected in [
            "entry 2 does not balance",
            "entry 2 (b:refund) is not called for by its order",
            "order c (expense completed) has no payout_settle entry: its accounting failed (held would go negative)",
            "entry 4 (d:payout_hold) has no postings",
            "caches 5 but its postings sum to -3",
            "is negative: -3",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in\n{all}");
        }
        assert_eq!(report.violations.len(), 6, "{all}");
        assert_eq!(report.entries, 4);
    }

    #[test]
    fn entries_called_for_match_the_postings_of_each_history() {
        // Walk every status an order can reach and check the two descriptions agree.
        for tt in [TransactionType::Income, TransactionType::Expense] {
            let paths: &[&[PaymentStatus]] = &[
                &[PaymentStatus::Completed],
                &[PaymentStatus::Completed, PaymentStatus::Refund],
                &[PaymentStatus::Failed],
                &[PaymentStatus::Reject],
                &[PaymentStatus::Overdue],
                &[PaymentStatus::Overdue, PaymentStatus::Completed],
                &[PaymentStatus::Overdue, PaymentStatus::Failed],
                &[PaymentStatus::Processing],
            ];
            for path in paths {
                let mut o = sample_order();
                o.transaction_type = tt;
                let mut reached = Vec::new();
                let mut ok = true;
                for (i, to) in path.iter().enumerate() {
                    ok &= o.apply(&crate::order::StatusChange::new(*to, "t", i as i64)).is_ok();
                    reached.push((*to, i as i64));
                }
                if !ok {
                    continue;
                }
                let posted: Vec<EntryKind> = entries_for_history(&o, &reached).unwrap().iter().map(|e| e.kind).collect();
                assert_eq!(posted, entries_called_for(tt, o.payment_status), "{tt} {path:?}");
            }
        }
    }
}
