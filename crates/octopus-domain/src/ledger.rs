//! The double-entry ledger: which accounts exist, which journal entry each order event
//! posts, how fees are computed, and how a ledger is verified from its history.
//!
//! Every movement is one [`JournalEntry`] whose postings sum to zero (in its one currency);
//! [`JournalEntry::new`] refuses anything else. A posting's amount credits its account when
//! positive and debits it when negative; an account's balance is the sum of its postings.
//! Entries carry a unique key derived from the order and the event, so applying the same
//! event twice posts once. Each kind of entry moves each account it touches one way only
//! ([`side`]): a deposit credit never debits the merchant, a fee is never negative, and the
//! amount an entry moves is positive and exact in its currency. [`JournalEntry::new`] refuses
//! an entry that breaks this and [`Verification`] reports a journal or an order that does.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::{Amount, Currency, LEDGER_PLACES};
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
        Account {
            kind: AccountKind::Available,
            merchant_id: Some(merchant_id),
            channel: None,
            currency,
        }
    }
    pub fn held(merchant_id: i64, currency: Currency) -> Self {
        Account {
            kind: AccountKind::Held,
            merchant_id: Some(merchant_id),
            channel: None,
            currency,
        }
    }
    pub fn fee_income(currency: Currency) -> Self {
        Account {
            kind: AccountKind::FeeIncome,
            merchant_id: None,
            channel: None,
            currency,
        }
    }
    /// The fee income of an order: test orders' fees go to an account of their own
    /// (`fee_income:test:<currency>`), so the operator's revenue never counts sandbox money.
    pub fn fee_income_of(order: &Order) -> Self {
        let mut account = Account::fee_income(order.currency);
        if order.test {
            account.channel = Some("test".into());
        }
        account
    }
    pub fn clearing(channel: &str, currency: Currency) -> Self {
        Account {
            kind: AccountKind::Clearing,
            merchant_id: None,
            channel: Some(channel.to_string()),
            currency,
        }
    }
    pub fn suspense(currency: Currency) -> Self {
        Account {
            kind: AccountKind::Suspense,
            merchant_id: None,
            channel: None,
            currency,
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Money arrived on an own account that no order could take: held in suspense.
    SuspenseIn,
    /// Money leaves suspense: assigned to an order (which then credits it) or returned to
    /// the payer.
    SuspenseOut,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::DepositCredit => "deposit_credit",
            EntryKind::PayoutHold => "payout_hold",
            EntryKind::PayoutSettle => "payout_settle",
            EntryKind::PayoutRelease => "payout_release",
            EntryKind::Refund => "refund",
            EntryKind::SuspenseIn => "suspense_in",
            EntryKind::SuspenseOut => "suspense_out",
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
            "suspense_in" => EntryKind::SuspenseIn,
            "suspense_out" => EntryKind::SuspenseOut,
            _ => return Err(UnknownValue),
        })
    }
}

/// The unique key of a journal entry: the order it belongs to and what it records. The same
/// event always makes the same key, so it posts once. Stored as `payment_uid:kind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey {
    pub payment_uid: String,
    pub kind: EntryKind,
}

/// A stored entry key that is not `payment_uid:kind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid journal entry key: {0:?}")]
pub struct InvalidEntryKey(pub String);

impl EntryKey {
    pub fn new(payment_uid: &str, kind: EntryKind) -> EntryKey {
        EntryKey {
            payment_uid: payment_uid.to_string(),
            kind,
        }
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.payment_uid, self.kind.as_str())
    }
}

impl FromStr for EntryKey {
    type Err = InvalidEntryKey;
    fn from_str(text: &str) -> Result<EntryKey, InvalidEntryKey> {
        let invalid = || InvalidEntryKey(text.to_string());
        let (payment_uid, kind) = text.rsplit_once(':').ok_or_else(invalid)?;
        if payment_uid.is_empty() {
            return Err(invalid());
        }
        Ok(EntryKey {
            payment_uid: payment_uid.to_string(),
            kind: kind.parse().map_err(|_| invalid())?,
        })
    }
}

/// Which way a posting moves its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A positive amount.
    Credit,
    /// A negative amount.
    Debit,
}

impl Side {
    fn of(amount: Decimal) -> Side {
        if amount.is_sign_negative() {
            Side::Debit
        } else {
            Side::Credit
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Side::Credit => "credits",
            Side::Debit => "debits",
        }
    }
}

/// How an entry of `kind` moves an account of `account` kind (`None`: it never touches one).
/// The one table the entries below are built to and the journal is verified against.
pub fn side(kind: EntryKind, account: AccountKind) -> Option<Side> {
    use AccountKind as A;
    use EntryKind as E;
    match (kind, account) {
        (E::DepositCredit, A::Clearing) => Some(Side::Debit),
        (E::DepositCredit, A::Available | A::FeeIncome) => Some(Side::Credit),
        (E::Refund, A::Available | A::FeeIncome) => Some(Side::Debit),
        (E::Refund, A::Clearing) => Some(Side::Credit),
        (E::PayoutHold, A::Available) => Some(Side::Debit),
        (E::PayoutHold, A::Held) => Some(Side::Credit),
        (E::PayoutSettle, A::Held) => Some(Side::Debit),
        (E::PayoutSettle, A::Clearing | A::FeeIncome) => Some(Side::Credit),
        (E::PayoutRelease, A::Held) => Some(Side::Debit),
        (E::PayoutRelease, A::Available) => Some(Side::Credit),
        (E::SuspenseIn, A::Clearing) => Some(Side::Debit),
        (E::SuspenseIn, A::Suspense) => Some(Side::Credit),
        (E::SuspenseOut, A::Suspense) => Some(Side::Debit),
        (E::SuspenseOut, A::Clearing) => Some(Side::Credit),
        _ => None,
    }
}

/// What is wrong with a posting of `amount` to `account` in an entry of `kind`, if anything.
fn wrong_side(kind: EntryKind, account: &Account, amount: Decimal) -> Option<String> {
    match side(kind, account.kind) {
        None => Some(format!("a {} never posts to {account}", kind.as_str())),
        Some(expected) if expected != Side::of(amount) => Some(format!(
            "it {} {account} by {}, which a {} only {}",
            Side::of(amount).as_str(),
            amount.abs(),
            kind.as_str(),
            expected.as_str()
        )),
        Some(_) => None,
    }
}

/// What is wrong with the amount and fee an entry records, if anything: the amount moved is
/// positive and exact in the currency; the fee is not negative and exact to the ledger's places.
fn wrong_amounts(amount: Decimal, fee: Decimal, currency: Currency) -> Option<String> {
    if amount <= Decimal::ZERO {
        return Some(format!(
            "it moves {amount} {currency}, which is not greater than zero"
        ));
    }
    if amount.normalize().scale() > currency.precision() {
        return Some(format!(
            "it moves {amount} {currency}, finer than the currency's {} decimal places",
            currency.precision()
        ));
    }
    if fee.is_sign_negative() && !fee.is_zero() {
        return Some(format!("its fee {fee} is negative"));
    }
    if fee.normalize().scale() > LEDGER_PLACES {
        return Some(format!(
            "its fee {fee} has more than {LEDGER_PLACES} decimal places"
        ));
    }
    None
}

/// An entry that does not balance, is not exact to the ledger's places, or moves money in a
/// way its kind never does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal entry {key} refused: {reason}")]
pub struct Unbalanced {
    pub key: EntryKey,
    pub reason: String,
}

/// One balanced, immutable movement of money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Unique: the same event always makes the same key, so it posts once.
    pub key: EntryKey,
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
    /// currency, carry more than six decimal places or move an account the wrong way for the
    /// entry's kind, and one whose amount is not positive and exact in the currency or whose
    /// fee is negative. Zero postings are dropped.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: EntryKind,
        order: &Order,
        amount: Decimal,
        fee: Decimal,
        postings: Vec<Posting>,
        created_at: Timestamp,
    ) -> Result<JournalEntry, Unbalanced> {
        let mut entry = JournalEntry::checked(
            EntryKey::new(&order.payment_uid, kind),
            order.currency,
            amount,
            fee,
            postings,
            created_at,
        )?;
        entry.order_id = order.id;
        entry.merchant_id = order.merchant_id;
        entry.accounting_type = order.accounting_type;
        Ok(entry)
    }

    /// An entry of a bank transfer no order holds (suspense): keyed by the transfer's uid, of
    /// no order and no merchant, checked like every other entry.
    pub fn for_transfer(
        transfer_uid: &str,
        kind: EntryKind,
        currency: Currency,
        amount: Decimal,
        postings: Vec<Posting>,
        created_at: Timestamp,
    ) -> Result<JournalEntry, Unbalanced> {
        JournalEntry::checked(
            EntryKey::new(transfer_uid, kind),
            currency,
            amount,
            Decimal::ZERO,
            postings,
            created_at,
        )
    }

    fn checked(
        key: EntryKey,
        currency: Currency,
        amount: Decimal,
        fee: Decimal,
        postings: Vec<Posting>,
        created_at: Timestamp,
    ) -> Result<JournalEntry, Unbalanced> {
        let kind = key.kind;
        let fail = |reason: String| Unbalanced {
            key: key.clone(),
            reason,
        };
        let postings: Vec<Posting> = postings
            .into_iter()
            .filter(|p| !p.amount.is_zero())
            .collect();
        if postings.is_empty() {
            return Err(fail("no postings".into()));
        }
        if let Some(why) = wrong_amounts(amount, fee, currency) {
            return Err(fail(why));
        }
        let mut sum = Decimal::ZERO;
        for p in &postings {
            if p.account.currency != currency {
                return Err(fail(format!(
                    "posting to {} in an entry of {}",
                    p.account, currency
                )));
            }
            if p.amount.normalize().scale() > LEDGER_PLACES {
                return Err(fail(format!(
                    "{} has more than {LEDGER_PLACES} decimal places",
                    p.amount
                )));
            }
            if let Some(why) = wrong_side(kind, &p.account, p.amount) {
                return Err(fail(why));
            }
            sum += p.amount;
        }
        if !sum.is_zero() {
            return Err(fail(format!("postings sum to {sum}, not zero")));
        }
        Ok(JournalEntry {
            key,
            kind,
            order_id: 0,
            merchant_id: 0,
            accounting_type: AccountingType::Receive,
            currency,
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
    pub fn new(
        percent: Decimal,
        fixed: Decimal,
        minimum: Decimal,
        maximum: Option<Decimal>,
    ) -> Result<Self, InvalidFeeRule> {
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
        Ok(FeeRule {
            percent,
            fixed,
            minimum,
            maximum,
        })
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
            self.maximum
                .map(|m| m.normalize().to_string())
                .unwrap_or_default()
        )
    }

    /// Reads a rule as [`FeeRule::encode`] wrote it, with the checks of [`FeeRule::new`]: a
    /// stored rule that does not read fails closed (it never silently means a zero fee).
    pub fn decode(text: &str) -> Result<FeeRule, InvalidFeeRule> {
        // Orders stored before fee schedules existed (migration 2) carry no rule: they pay none.
        if text.is_empty() {
            return Ok(FeeRule::default());
        }
        let invalid = || InvalidFeeRule(format!("{text:?} is not percent|fixed|minimum|maximum"));
        let parts: Vec<&str> = text.split('|').collect();
        let [percent, fixed, minimum, maximum] = parts.as_slice() else {
            return Err(invalid());
        };
        let number = |part: &str| part.parse::<Decimal>().map_err(|_| invalid());
        FeeRule::new(
            number(percent)?,
            number(fixed)?,
            number(minimum)?,
            if maximum.is_empty() {
                None
            } else {
                Some(number(maximum)?)
            },
        )
    }
}

/// Which orders a fee schedule applies to, along one of its two dimensions (payment method,
/// accounting type): every one, stored as `*`, or those with one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<T> {
    Any,
    Only(T),
}

impl<T> Scope<T> {
    /// How [`Scope::Any`] is written, by the operator and in storage.
    pub const ANY: &'static str = "*";
}

impl Scope<String> {
    /// A payment method scope as the operator writes it: `*`, or a method (kept in lower case,
    /// as order requests are matched without regard to case). A blank one is refused.
    pub fn payment(text: &str) -> Result<Scope<String>, InvalidFeeRule> {
        match text.trim() {
            "" => Err(InvalidFeeRule(
                "the payment method must not be blank".into(),
            )),
            Self::ANY => Ok(Scope::Any),
            method => Ok(Scope::Only(method.to_lowercase())),
        }
    }

    /// As stored and shown.
    pub fn as_stored(&self) -> &str {
        match self {
            Scope::Any => Self::ANY,
            Scope::Only(method) => method,
        }
    }

    fn covers(&self, payment: &str) -> bool {
        match self {
            Scope::Any => true,
            Scope::Only(method) => method.eq_ignore_ascii_case(payment),
        }
    }
}

impl Scope<AccountingType> {
    /// An accounting type scope: `*`, or one of the accounting types.
    pub fn accounting_type(text: &str) -> Result<Scope<AccountingType>, InvalidFeeRule> {
        match text {
            Self::ANY => Ok(Scope::Any),
            other => other.parse().map(Scope::Only).map_err(|_| {
                InvalidFeeRule(
                    "the accounting type must be recharge, receive, pay, settle or *".into(),
                )
            }),
        }
    }

    /// As stored and shown.
    pub fn as_stored(&self) -> &'static str {
        match self {
            Scope::Any => Self::ANY,
            Scope::Only(t) => t.as_str(),
        }
    }
}

/// A merchant's fee schedule: the rule for the orders of its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeSchedule {
    pub payment: Scope<String>,
    pub accounting_type: Scope<AccountingType>,
    pub rule: FeeRule,
}

impl FeeSchedule {
    /// A schedule from the operator's words: a payment method or `*`, an accounting type or
    /// `*`, and the rule.
    pub fn parse(
        payment: &str,
        accounting_type: &str,
        rule: FeeRule,
    ) -> Result<FeeSchedule, InvalidFeeRule> {
        Ok(FeeSchedule {
            payment: Scope::payment(payment)?,
            accounting_type: Scope::accounting_type(accounting_type)?,
            rule,
        })
    }
}

/// The fee rule of a new order from its merchant's schedules: the most specific one wins —
/// payment method and accounting type, then the method with any type, then any method with
/// the type, then any; without one the fee is zero.
pub fn fee_rule_for(
    schedules: &[FeeSchedule],
    payment: &str,
    accounting_type: AccountingType,
) -> FeeRule {
    let exact_type = |s: &&FeeSchedule| s.accounting_type == Scope::Only(accounting_type);
    let any_type = |s: &&FeeSchedule| s.accounting_type == Scope::Any;
    let exact_method = |s: &&FeeSchedule| s.payment != Scope::Any && s.payment.covers(payment);
    let any_method = |s: &&FeeSchedule| s.payment == Scope::Any;
    let most_specific_first: [&dyn Fn(&&FeeSchedule) -> bool; 4] = [
        &|s| exact_method(s) && exact_type(s),
        &|s| exact_method(s) && any_type(s),
        &|s| any_method(s) && exact_type(s),
        &|s| any_method(s) && any_type(s),
    ];
    most_specific_first
        .iter()
        .find_map(|matches| schedules.iter().find(|s| matches(s)))
        .map(|s| s.rule.clone())
        .unwrap_or_default()
}

/// The fee of a deposit that received `amount`: never more than the amount itself, so a
/// deposit never takes from the merchant.
pub fn deposit_fee(rule: &FeeRule, amount: Decimal) -> Decimal {
    rule.fee_for(amount).min(amount)
}

/// The entry a new order posts when it is created: a payout reserves amount plus fee.
pub fn on_create(order: &Order) -> Result<Option<JournalEntry>, Unbalanced> {
    // A payout refused when created (blocklists, velocity) holds nothing.
    if order.transaction_type != TransactionType::Expense || order.refused_at_creation() {
        return Ok(None);
    }
    let (m, c) = (order.merchant_id, order.currency);
    let hold = order.amount + order.fee;
    JournalEntry::new(
        EntryKind::PayoutHold,
        order,
        order.amount,
        order.fee,
        vec![
            Posting {
                account: Account::available(m, c),
                amount: -hold,
            },
            Posting {
                account: Account::held(m, c),
                amount: hold,
            },
        ],
        order.created_at,
    )
    .map(Some)
}

/// The entry an order posts when it moves to `to` (the order as it is after the change,
/// with `final_amount` and `fee` of the change).
pub fn on_change(
    order: &Order,
    to: PaymentStatus,
    at: Timestamp,
) -> Result<Option<JournalEntry>, Unbalanced> {
    let (m, c) = (order.merchant_id, order.currency);
    let channel = order.channel.as_str();
    let entry = |kind: EntryKind, amount: Decimal, postings: Vec<Posting>| {
        JournalEntry::new(kind, order, amount, order.fee, postings, at).map(Some)
    };
    match (order.transaction_type, to) {
        (TransactionType::Income, PaymentStatus::Completed) => {
            let received = order.final_amount;
            entry(
                EntryKind::DepositCredit,
                received,
                vec![
                    Posting {
                        account: Account::clearing(channel, c),
                        amount: -received,
                    },
                    Posting {
                        account: Account::available(m, c),
                        amount: received - order.fee,
                    },
                    Posting {
                        account: Account::fee_income_of(order),
                        amount: order.fee,
                    },
                ],
            )
        }
        (TransactionType::Income, PaymentStatus::Refund) => {
            let received = order.final_amount;
            entry(
                EntryKind::Refund,
                received,
                vec![
                    Posting {
                        account: Account::available(m, c),
                        amount: -(received - order.fee),
                    },
                    Posting {
                        account: Account::fee_income_of(order),
                        amount: -order.fee,
                    },
                    Posting {
                        account: Account::clearing(channel, c),
                        amount: received,
                    },
                ],
            )
        }
        (TransactionType::Expense, PaymentStatus::Completed) => {
            let hold = order.amount + order.fee;
            entry(
                EntryKind::PayoutSettle,
                order.amount,
                vec![
                    Posting {
                        account: Account::held(m, c),
                        amount: -hold,
                    },
                    Posting {
                        account: Account::clearing(channel, c),
                        amount: order.amount,
                    },
                    Posting {
                        account: Account::fee_income_of(order),
                        amount: order.fee,
                    },
                ],
            )
        }
        (TransactionType::Expense, PaymentStatus::Failed | PaymentStatus::Reject) => {
            let hold = order.amount + order.fee;
            entry(
                EntryKind::PayoutRelease,
                order.amount,
                vec![
                    Posting {
                        account: Account::held(m, c),
                        amount: -hold,
                    },
                    Posting {
                        account: Account::available(m, c),
                        amount: hold,
                    },
                ],
            )
        }
        // Overdue keeps a payout's hold (the money may still move); other moves post nothing.
        _ => Ok(None),
    }
}

/// Every entry an order should have posted, given the statuses it went through (oldest
/// first, creation excluded). Used to retry accounting that failed; keys make it idempotent.
pub fn entries_for_history(
    order: &Order,
    reached: &[(PaymentStatus, Timestamp)],
) -> Result<Vec<JournalEntry>, Unbalanced> {
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
pub fn record_accounting(
    order: &mut Order,
    entries: usize,
    failure: Option<String>,
    at: Timestamp,
) {
    use crate::order::AccountingStatus;
    order.accounting_status = if failure.is_some() {
        AccountingStatus::Failed
    } else if entries == 0 {
        AccountingStatus::None
    } else if order.transaction_type == TransactionType::Expense && !order.payment_status.is_final()
    {
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
pub fn entries_called_for(
    transaction_type: TransactionType,
    status: PaymentStatus,
) -> &'static [EntryKind] {
    use PaymentStatus as S;
    match (transaction_type, status) {
        (TransactionType::Income, S::Completed) => &[EntryKind::DepositCredit],
        (TransactionType::Income, S::Refund) => &[EntryKind::DepositCredit, EntryKind::Refund],
        (TransactionType::Income, _) => &[],
        (TransactionType::Expense, S::None) => &[],
        (TransactionType::Expense, S::Completed) => {
            &[EntryKind::PayoutHold, EntryKind::PayoutSettle]
        }
        (TransactionType::Expense, S::Failed | S::Reject) => {
            &[EntryKind::PayoutHold, EntryKind::PayoutRelease]
        }
        (TransactionType::Expense, _) => &[EntryKind::PayoutHold],
    }
}

/// One journal entry as verification reads it.
#[derive(Debug, Clone)]
struct SeenEntry {
    key: String,
    /// `None` when the stored kind is not one of [`EntryKind`]'s.
    kind: Option<EntryKind>,
    currency: Currency,
    merchant_id: Option<i64>,
    sum: Decimal,
    /// Account and amount of each posting.
    postings: Vec<(i64, Decimal)>,
}

/// One stored journal entry, as storage feeds it to [`Verification::entry`].
#[derive(Debug, Clone, Copy)]
pub struct EntryRow<'a> {
    pub id: i64,
    pub key: &'a str,
    /// The stored kind, as text (an unknown one is a violation, not an error).
    pub kind: &'a str,
    pub currency: Currency,
    pub merchant_id: Option<i64>,
    pub amount: Decimal,
    pub fee: Decimal,
}

/// One stored order, as storage feeds it to [`Verification::order`].
#[derive(Debug, Clone, Copy)]
pub struct OrderRow<'a> {
    pub payment_uid: &'a str,
    pub transaction_type: TransactionType,
    pub status: PaymentStatus,
    /// The accounting failure recorded on the order, when its accounting failed.
    pub accounting_failure: Option<&'a str>,
    pub currency: Currency,
    pub amount: Decimal,
    pub final_amount: Decimal,
    pub fee: Decimal,
    /// Refused when created (`order::refused_at_creation`): no entry is called for.
    pub refused_at_creation: bool,
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

    fn seen(&mut self, id: i64, currency: Currency) -> &mut SeenEntry {
        self.entries.entry(id).or_insert_with(|| SeenEntry {
            key: String::new(),
            kind: None,
            currency,
            merchant_id: None,
            sum: Decimal::ZERO,
            postings: Vec::new(),
        })
    }

    /// One journal entry: its amount must be positive and exact in its currency, its fee not
    /// negative.
    pub fn entry(&mut self, row: EntryRow<'_>) {
        let kind: Option<EntryKind> = row.kind.parse().ok();
        if kind.is_none() {
            self.early.push(format!(
                "entry {} ({}) is of no known kind: {:?}",
                row.id, row.key, row.kind
            ));
        }
        if let Some(why) = wrong_amounts(row.amount, row.fee, row.currency) {
            self.early.push(format!(
                "entry {} ({}) is impossible: {why}",
                row.id, row.key
            ));
        }
        let seen = self.seen(row.id, row.currency);
        seen.key = row.key.to_string();
        seen.kind = kind;
        seen.currency = row.currency;
        seen.merchant_id = row.merchant_id;
    }

    /// One posting of entry `entry_id` to account `account_id`, whose currency is `currency`.
    pub fn posting(&mut self, entry_id: i64, account_id: i64, currency: Currency, amount: Decimal) {
        self.postings += 1;
        if amount.normalize().scale() > LEDGER_PLACES {
            self.early.push(format!("entry {entry_id} posts {amount}, finer than the ledger's {LEDGER_PLACES} decimal places"));
        }
        let seen = self.seen(entry_id, currency);
        let mismatch = (seen.currency != currency).then(|| {
            format!(
                "entry {entry_id} posts {currency} to an entry of {}",
                seen.currency
            )
        });
        seen.sum += amount;
        seen.postings.push((account_id, amount));
        self.early.extend(mismatch);
        *self.per_account.entry(account_id).or_default() += amount;
    }

    /// One order: the entries its status calls for must exist; its amount is positive and
    /// exact in its currency, its fee not negative, and once it completed, so is the amount
    /// it received (`final_amount`).
    pub fn order(&mut self, row: OrderRow<'_>) {
        let OrderRow {
            payment_uid,
            transaction_type,
            status,
            accounting_failure,
            currency,
            ..
        } = row;
        if let Err(e) = Amount::received(row.amount, currency) {
            self.early.push(format!(
                "order {payment_uid} has the amount {} {currency}, which {e}",
                row.amount
            ));
        }
        if matches!(status, PaymentStatus::Completed | PaymentStatus::Refund) {
            if let Err(e) = Amount::received(row.final_amount, currency) {
                self.early.push(format!(
                    "order {payment_uid} ({transaction_type} {status}) received {} {currency}, which {e}",
                    row.final_amount
                ));
            }
        }
        if row.fee.is_sign_negative() && !row.fee.is_zero() {
            self.early.push(format!(
                "order {payment_uid} has a negative fee: {}",
                row.fee
            ));
        }
        let called = if row.refused_at_creation {
            &[]
        } else {
            entries_called_for(transaction_type, status)
        };
        for kind in called {
            let why = match accounting_failure {
                Some(reason) => format!(
                    "order {payment_uid} ({transaction_type} {status}) has no {} entry: its accounting failed ({reason})",
                    kind.as_str()
                ),
                None => format!("order {payment_uid} ({transaction_type} {status}) has no {} entry", kind.as_str()),
            };
            self.expected
                .insert(EntryKey::new(payment_uid, *kind).to_string(), why);
        }
    }

    /// One transfer of an own account: the suspense entries its status calls for must exist
    /// (and no other entry may name it).
    pub fn transfer(&mut self, uid: &str, status: crate::transfer::TransferStatus) {
        for kind in status.entries() {
            self.expected.insert(
                EntryKey::new(uid, *kind).to_string(),
                format!("transfer {uid} ({status}) has no {} entry", kind.as_str()),
            );
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
            if e.postings.is_empty() {
                violations.push(format!("entry {id} ({}) has no postings", e.key));
            }
            if !e.sum.is_zero() {
                violations.push(format!(
                    "entry {id} does not balance: its postings sum to {} {}",
                    e.sum, e.currency
                ));
            }
            for (account_id, amount) in &e.postings {
                match by_id.get(account_id) {
                    None => violations.push(format!(
                        "entry {id} posts to account {account_id}, which does not exist"
                    )),
                    Some(a) if a.account.currency != e.currency => violations.push(format!(
                        "entry {id} of {} posts to {}",
                        e.currency, a.account
                    )),
                    Some(a)
                        if a.account.kind.is_merchant()
                            && a.account.merchant_id != e.merchant_id =>
                    {
                        violations.push(format!(
                            "entry {id} of merchant {:?} posts to {}",
                            e.merchant_id, a.account
                        ))
                    }
                    Some(a) => {
                        let wrong = e
                            .kind
                            .and_then(|kind| wrong_side(kind, &a.account, *amount));
                        if let Some(why) = wrong {
                            violations.push(format!(
                                "entry {id} ({}) moves money the wrong way: {why}",
                                e.key
                            ));
                        }
                    }
                }
            }
            if expected.remove(&e.key).is_none() {
                violations.push(format!(
                    "entry {id} ({}) is not called for by its order",
                    e.key
                ));
            }
        }
        let mut missing: Vec<String> = expected.into_values().collect();
        missing.sort();
        violations.extend(missing);
        let mut balances = Vec::with_capacity(accounts.len());
        for stored in &accounts {
            let computed = self
                .per_account
                .get(&stored.id)
                .copied()
                .unwrap_or_default();
            if stored.account.kind.is_merchant() {
                match stored.cached_balance {
                    Some(cached) if cached == computed => {}
                    Some(cached) => violations.push(format!(
                        "account {} caches {cached} but its postings sum to {computed}",
                        stored.account
                    )),
                    None => {
                        violations.push(format!("account {} has no cached balance", stored.account))
                    }
                }
                if computed.is_sign_negative() && !computed.is_zero() {
                    violations.push(format!(
                        "account {} is negative: {computed}",
                        stored.account
                    ));
                }
            } else if matches!(
                stored.account.kind,
                AccountKind::FeeIncome | AccountKind::Suspense
            ) && computed.is_sign_negative()
                && !computed.is_zero()
            {
                // Fees are only ever taken, and a refund gives back no more than was taken;
                // suspense gives out only what came in.
                violations.push(format!(
                    "account {} is negative: {computed}",
                    stored.account
                ));
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

    fn schedule(payment: &str, accounting_type: &str, percent: i64) -> FeeSchedule {
        FeeSchedule {
            payment: Scope::payment(payment).unwrap(),
            accounting_type: Scope::accounting_type(accounting_type).unwrap(),
            rule: FeeRule {
                percent: Decimal::new(percent, 0),
                ..FeeRule::default()
            },
        }
    }

    #[test]
    fn a_test_orders_fee_goes_to_test_fee_income() {
        let mut order = crate::order::tests::sample_order();
        order.payment_status = PaymentStatus::Completed;
        order.fee = d("2");
        let live = on_change(&order, PaymentStatus::Completed, 1)
            .unwrap()
            .unwrap();
        order.test = true;
        let test = on_change(&order, PaymentStatus::Completed, 1)
            .unwrap()
            .unwrap();
        let fee_account = |e: &JournalEntry| {
            e.postings
                .iter()
                .find(|p| p.account.kind == AccountKind::FeeIncome)
                .map(|p| p.account.key())
        };
        assert_eq!(fee_account(&live).as_deref(), Some("fee_income:mmk"));
        assert_eq!(fee_account(&test).as_deref(), Some("fee_income:test:mmk"));
    }

    #[test]
    fn the_most_specific_fee_schedule_wins() {
        let all = vec![
            schedule("*", "*", 1),
            schedule("*", "pay", 2),
            schedule("wavepay", "*", 3),
            schedule("WavePay", "receive", 4),
        ];
        let rule = |payment, t| fee_rule_for(&all, payment, t).percent;
        assert_eq!(rule("wavepay", AccountingType::Receive), Decimal::new(4, 0));
        assert_eq!(
            rule("WavePay", AccountingType::Recharge),
            Decimal::new(3, 0)
        );
        assert_eq!(rule("kbz", AccountingType::Pay), Decimal::new(2, 0));
        assert_eq!(rule("kbz", AccountingType::Settle), Decimal::new(1, 0));
        assert_eq!(
            fee_rule_for(&[], "kbz", AccountingType::Settle),
            FeeRule::default()
        );
        // A method named like the wildcard's text is the wildcard, not a method called "*".
        assert_eq!(Scope::payment(" * "), Ok(Scope::Any));
    }

    #[test]
    fn a_scope_that_does_not_read_is_refused() {
        assert!(Scope::payment("").is_err());
        assert!(Scope::payment("   ").is_err());
        for bad in ["", "any", "RECEIVE", "**", "receive "] {
            assert!(Scope::accounting_type(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Scope::accounting_type("pay"),
            Ok(Scope::Only(AccountingType::Pay))
        );
        assert_eq!(Scope::<AccountingType>::Any.as_stored(), "*");
        assert_eq!(Scope::payment("KBZPay").unwrap().as_stored(), "kbzpay");
    }
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
        assert_eq!(
            tiny.fee_for(d("0.05")),
            Decimal::ZERO,
            "rounded to six places"
        );
        assert_eq!(
            deposit_fee(
                &FeeRule::new(Decimal::ZERO, d("5"), Decimal::ZERO, None).unwrap(),
                d("2")
            ),
            d("2")
        );
        assert_eq!(FeeRule::decode(&rule.encode()), Ok(rule));
        assert!(FeeRule::new(d("-1"), Decimal::ZERO, Decimal::ZERO, None).is_err());
        assert!(FeeRule::new(d("101"), Decimal::ZERO, Decimal::ZERO, None).is_err());
        assert!(FeeRule::new(Decimal::ZERO, Decimal::ZERO, d("5"), Some(d("1"))).is_err());
    }

    #[test]
    fn entries_balance_and_name_their_event() {
        let mut deposit = sample_order();
        deposit.fee = d("2.5");
        deposit.final_amount = d("100");
        let credit = on_change(&deposit, PaymentStatus::Completed, 1)
            .unwrap()
            .unwrap();
        assert_eq!(credit.key.to_string(), "u:deposit_credit");
        assert_eq!(
            "u:deposit_credit".parse::<EntryKey>(),
            Ok(credit.key.clone()),
            "a stored key reads back as the key it was written from"
        );
        // A payment_uid may itself hold a colon; the kind is what follows the last one.
        assert_eq!(
            "a:b:refund".parse::<EntryKey>().map(|k| k.payment_uid),
            Ok("a:b".to_string())
        );
        for corrupt in ["u", "u:", ":refund", "u:deposit", "u:Refund"] {
            assert!(
                corrupt.parse::<EntryKey>().is_err(),
                "{corrupt:?} must not read"
            );
        }
        assert_eq!(credit.postings.len(), 3);
        assert!(on_change(&deposit, PaymentStatus::Failed, 1)
            .unwrap()
            .is_none());
        let refund = on_change(&deposit, PaymentStatus::Refund, 2)
            .unwrap()
            .unwrap();
        let sum: Decimal = credit
            .postings
            .iter()
            .chain(&refund.postings)
            .map(|p| p.amount)
            .sum();
        assert_eq!(sum, Decimal::ZERO);

        let mut payout = sample_order();
        payout.transaction_type = TransactionType::Expense;
        payout.fee = d("1.25");
        let hold = on_create(&payout).unwrap().unwrap();
        assert_eq!(hold.postings[0].amount, d("-101.25"));
        assert!(
            on_change(&payout, PaymentStatus::Overdue, 1)
                .unwrap()
                .is_none(),
            "overdue keeps the hold"
        );
        assert!(on_change(&payout, PaymentStatus::Reject, 1)
            .unwrap()
            .is_some());

        let bad = JournalEntry::new(
            EntryKind::Refund,
            &deposit,
            d("1"),
            Decimal::ZERO,
            vec![Posting {
                account: Account::fee_income(Currency::Mmk),
                amount: d("1"),
            }],
            0,
        );
        assert!(bad.is_err());
        let too_fine = JournalEntry::new(
            EntryKind::Refund,
            &deposit,
            d("1"),
            Decimal::ZERO,
            vec![
                Posting {
                    account: Account::fee_income(Currency::Mmk),
                    amount: d("0.0000001"),
                },
                Posting {
                    account: Account::suspense(Currency::Mmk),
                    amount: d("-0.0000001"),
                },
            ],
            0,
        );
        assert!(too_fine.is_err());
    }

    fn entry_row<'a>(id: i64, key: &'a str, kind: &'a str, amount: &str) -> EntryRow<'a> {
        EntryRow {
            id,
            key,
            kind,
            currency: Currency::Mmk,
            merchant_id: Some(1),
            amount: d(amount),
            fee: Decimal::ZERO,
        }
    }

    fn order_row(
        payment_uid: &'static str,
        transaction_type: TransactionType,
        status: PaymentStatus,
        accounting_failure: Option<&'static str>,
    ) -> OrderRow<'static> {
        OrderRow {
            payment_uid,
            transaction_type,
            status,
            accounting_failure,
            currency: Currency::Mmk,
            amount: d("5"),
            final_amount: d("5"),
            refused_at_creation: false,
            fee: Decimal::ZERO,
        }
    }

    #[test]
    fn verification_finds_every_kind_of_inconsistency() {
        let mut v = Verification::new();
        // a sound deposit credit of order "a"
        v.order(order_row(
            "a",
            TransactionType::Income,
            PaymentStatus::Completed,
            None,
        ));
        v.entry(entry_row(1, "a:deposit_credit", "deposit_credit", "5"));
        v.posting(1, 10, Currency::Mmk, d("-5"));
        v.posting(1, 11, Currency::Mmk, d("5"));
        // an unbalanced entry nobody called for
        v.entry(entry_row(2, "b:refund", "refund", "7"));
        v.posting(2, 11, Currency::Mmk, d("-7"));
        // a completed payout whose settle is missing; its accounting failed
        v.order(order_row(
            "c",
            TransactionType::Expense,
            PaymentStatus::Completed,
            Some("held would go negative"),
        ));
        v.entry(entry_row(3, "c:payout_hold", "payout_hold", "1"));
        v.posting(3, 11, Currency::Mmk, d("-1"));
        v.posting(3, 12, Currency::Mmk, d("1"));
        // an entry without postings
        v.entry(entry_row(4, "d:payout_hold", "payout_hold", "1"));
        v.order(order_row(
            "d",
            TransactionType::Expense,
            PaymentStatus::Pending,
            None,
        ));
        let accounts = vec![
            StoredAccount {
                id: 10,
                account: Account::clearing("sandbox", Currency::Mmk),
                cached_balance: None,
            },
            StoredAccount {
                id: 11,
                account: Account::available(1, Currency::Mmk),
                cached_balance: Some(d("5")),
            },
            StoredAccount {
                id: 12,
                account: Account::held(1, Currency::Mmk),
                cached_balance: Some(d("1")),
            },
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

    /// What must never be: the amounts of a postback that credited -6000 (a negative credit,
    /// a negative fee, fee income below zero, a completed order that received -6000.00), and
    /// amounts finer than their currency.
    #[test]
    fn verification_finds_wrong_signs_and_impossible_amounts() {
        let mut v = Verification::new();
        let mut order = order_row("n", TransactionType::Income, PaymentStatus::Completed, None);
        order.final_amount = d("-6000");
        order.fee = d("-6000");
        v.order(order);
        v.entry(EntryRow {
            fee: d("-6000"),
            ..entry_row(1, "n:deposit_credit", "deposit_credit", "-6000")
        });
        v.posting(1, 10, Currency::Mmk, d("6000"));
        v.posting(1, 13, Currency::Mmk, d("-6000"));
        // A too fine deposit, and a payout hold posting to the suspense account.
        let mut fine = order_row("f", TransactionType::Income, PaymentStatus::Completed, None);
        fine.amount = d("6000.001");
        fine.final_amount = d("6000.001");
        v.order(fine);
        v.entry(entry_row(
            2,
            "f:deposit_credit",
            "deposit_credit",
            "6000.001",
        ));
        v.posting(2, 10, Currency::Mmk, d("-6000.001"));
        v.posting(2, 11, Currency::Mmk, d("6000.001"));
        v.order(order_row(
            "h",
            TransactionType::Expense,
            PaymentStatus::Pending,
            None,
        ));
        v.entry(entry_row(3, "h:payout_hold", "payout_hold", "5"));
        v.posting(3, 11, Currency::Mmk, d("-5"));
        v.posting(3, 14, Currency::Mmk, d("5"));
        v.order(order_row(
            "k",
            TransactionType::Income,
            PaymentStatus::Pending,
            None,
        ));
        v.entry(entry_row(4, "k:deposit_credit", "windfall", "5"));
        v.posting(4, 10, Currency::Mmk, d("-0.0000001"));
        v.posting(4, 11, Currency::Mmk, d("0.0000001"));
        let accounts = vec![
            StoredAccount {
                id: 10,
                account: Account::clearing("pk", Currency::Mmk),
                cached_balance: None,
            },
            StoredAccount {
                id: 11,
                account: Account::available(1, Currency::Mmk),
                cached_balance: Some(d("5995.0010001")),
            },
            StoredAccount {
                id: 13,
                account: Account::fee_income(Currency::Mmk),
                cached_balance: None,
            },
            StoredAccount {
                id: 14,
                account: Account::suspense(Currency::Mmk),
                cached_balance: None,
            },
        ];
        let report = v.finish(accounts);
        let all = report.violations.join("\n");
        for expected in [
            "order n (income completed) received -6000 mmk, which must be greater than zero",
            "order n has a negative fee: -6000",
            "entry 1 (n:deposit_credit) is impossible: it moves -6000 mmk, which is not greater than zero",
            "entry 1 (n:deposit_credit) moves money the wrong way: it credits clearing:pk:mmk by 6000, which a deposit_credit only debits",
            "entry 1 (n:deposit_credit) moves money the wrong way: it debits fee_income:mmk by 6000, which a deposit_credit only credits",
            "account fee_income:mmk is negative: -6000",
            "order f has the amount 6000.001 mmk, which has more decimal places than the currency allows",
            "order f (income completed) received 6000.001 mmk, which has more decimal places than the currency allows",
            "entry 2 (f:deposit_credit) is impossible: it moves 6000.001 mmk, finer than the currency's 2 decimal places",
            "entry 3 (h:payout_hold) moves money the wrong way: a payout_hold never posts to suspense:mmk",
            "entry 4 (k:deposit_credit) is of no known kind: \"windfall\"",
            "entry 4 posts 0.0000001, finer than the ledger's 6 decimal places",
            "entry 4 (k:deposit_credit) is not called for by its order",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in\n{all}");
        }
        assert_eq!(report.violations.len(), 14, "{all}");
    }

    #[test]
    fn entries_refuse_wrong_signs_and_impossible_amounts() {
        let mut deposit = sample_order();
        deposit.final_amount = d("-6000");
        deposit.fee = d("-6000");
        let err = on_change(&deposit, PaymentStatus::Completed, 1).unwrap_err();
        assert_eq!(err.to_string(), "journal entry u:deposit_credit refused: it moves -6000 mmk, which is not greater than zero");
        deposit.final_amount = d("6000.001");
        deposit.fee = Decimal::ZERO;
        assert!(on_change(&deposit, PaymentStatus::Completed, 1)
            .unwrap_err()
            .reason
            .contains("finer than the currency's 2"));
        deposit.final_amount = d("100");
        deposit.fee = d("-1");
        assert!(on_change(&deposit, PaymentStatus::Completed, 1)
            .unwrap_err()
            .reason
            .contains("fee -1 is negative"));
        // A balanced entry that debits the merchant for a deposit is still refused.
        deposit.fee = Decimal::ZERO;
        let backwards = JournalEntry::new(
            EntryKind::DepositCredit,
            &deposit,
            d("100"),
            Decimal::ZERO,
            vec![
                Posting {
                    account: Account::clearing("sandbox", Currency::Mmk),
                    amount: d("100"),
                },
                Posting {
                    account: Account::available(1, Currency::Mmk),
                    amount: d("-100"),
                },
            ],
            0,
        )
        .unwrap_err();
        assert_eq!(
            backwards.reason,
            "it credits clearing:sandbox:mmk by 100, which a deposit_credit only debits"
        );
        // Every entry the gateway builds follows the table.
        for kind in [
            EntryKind::DepositCredit,
            EntryKind::Refund,
            EntryKind::PayoutHold,
            EntryKind::PayoutSettle,
            EntryKind::PayoutRelease,
        ] {
            assert_eq!(side(kind, AccountKind::Suspense), None, "{kind:?}");
        }
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
                    ok &= o
                        .apply(&crate::order::StatusChange::new(*to, "t", i as i64))
                        .is_ok();
                    reached.push((*to, i as i64));
                }
                if !ok {
                    continue;
                }
                let posted: Vec<EntryKind> = entries_for_history(&o, &reached)
                    .unwrap()
                    .iter()
                    .map(|e| e.kind)
                    .collect();
                assert_eq!(
                    posted,
                    entries_called_for(tt, o.payment_status),
                    "{tt} {path:?}"
                );
            }
        }
    }
}
