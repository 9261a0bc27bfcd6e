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

/// Whether a status change must be refused (rather than accounted as failed) when its entry
/// cannot be posted: only a refund is an operator's request that may be declined; the others
/// report what already happened upstream.
pub fn refusable(to: PaymentStatus) -> bool {
    to == PaymentStatus::Refund
}

/// What the ledger's history says, checked against its cached balances.
#[derive(Debug, Default, Clone)]
pub struct Verification {
    pub entries: u64,
    pub postings: u64,
    per_entry: HashMap<i64, (Currency, Decimal)>,
    per_account: BTreeMap<i64, Decimal>,
    /// Violations found while reading (entries mixing currencies).
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

    pub fn entry(&mut self) {
        self.entries += 1;
    }

    /// One posting of entry `entry_id` to account `account_id` in `currency`.
    pub fn posting(&mut self, entry_id: i64, account_id: i64, currency: Currency, amount: Decimal) {
        self.postings += 1;
        let slot = self.per_entry.entry(entry_id).or_insert((currency, Decimal::ZERO));
        if slot.0 != currency {
            self.early.push(format!("entry {entry_id} mixes {} and {currency}", slot.0));
        }
        slot.1 += amount;
        *self.per_account.entry(account_id).or_default() += amount;
    }

    /// Compares the recomputed balances with the accounts as stored.
    pub fn finish(self, accounts: Vec<StoredAccount>) -> LedgerReport {
        let mut violations = self.early;
        let mut unbalanced: Vec<_> = self.per_entry.iter().filter(|(_, (_, s))| !s.is_zero()).collect();
        unbalanced.sort_by_key(|(id, _)| **id);
        for (id, (currency, sum)) in unbalanced {
            violations.push(format!("entry {id} does not balance: its postings sum to {sum} {currency}"));
        }
        let mut balances = Vec::with_capacity(accounts.len());
        let known: std::collections::HashSet<i64> = accounts.iter().map(|a| a.id).collect();
        for id in self.per_account.keys().filter(|id| !known.contains(id)) {
            violations.push(format!("postings to account {id}, which does not exist"));
        }
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
            entries: self.entries,
            postings: self.postings,
            accounts: accounts.len() as u64,
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
    fn verification_finds_unbalanced_entries_wrong_caches_and_negative_balances() {
        let mut v = Verification::new();
        v.entry();
        v.posting(1, 10, Currency::Mmk, d("-5"));
        v.posting(1, 11, Currency::Mmk, d("5"));
        v.entry();
        v.posting(2, 11, Currency::Mmk, d("-7"));
        let accounts = vec![
            StoredAccount { id: 10, account: Account::clearing("sandbox", Currency::Mmk), cached_balance: None },
            StoredAccount { id: 11, account: Account::available(1, Currency::Mmk), cached_balance: Some(d("5")) },
        ];
        let report = v.finish(accounts);
        assert_eq!(report.violations.len(), 3, "{:?}", report.violations);
        assert!(report.violations[0].contains("entry 2 does not balance"));
        assert!(report.violations.iter().any(|v| v.contains("caches 5 but its postings sum to -2")));
        assert!(report.violations.iter().any(|v| v.contains("is negative")));
    }
}
