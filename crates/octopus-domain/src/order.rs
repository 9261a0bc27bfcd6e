//! Orders and the one state machine every status change goes through.
//!
//! `payment_status` moves only along the edges of [`PaymentStatus::can_become`]; each change is
//! applied by [`Order::apply`], which refuses illegal moves and returns the event to record.
//! Money is never dropped: an upstream success that arrives after an order went `overdue`
//! still completes it. Nor is money made up: an order completes only with an amount received
//! that is greater than zero and exact in its currency, whoever reports it.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Amount, Currency};
use crate::Timestamp;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The lowercase text used on the wire and in storage.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(UnknownValue) }
            }
        }
    };
}

/// A stored text that is not one of the enum's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownValue;

wire_enum!(
    /// Deposit (`income`) or payout (`expense`).
    TransactionType { Income => "income", Expense => "expense" }
);

wire_enum!(
    /// How an order moves the merchant's money (see the glossary).
    AccountingType { Recharge => "recharge", Receive => "receive", Pay => "pay", Settle => "settle" }
);

wire_enum!(
    /// Where an order is in its life.
    PaymentStatus {
        None => "none",
        Pending => "pending",
        Preparing => "preparing",
        Processing => "processing",
        Completed => "completed",
        Failed => "failed",
        Reject => "reject",
        Refund => "refund",
        Overdue => "overdue",
    }
);

wire_enum!(
    /// Delivery state of the merchant callback.
    NotifyStatus { None => "none", Delivered => "delivered", Completed => "completed", Failed => "failed" }
);

wire_enum!(
    /// Ledger posting state of the order.
    AccountingStatus { None => "none", Delivered => "delivered", Accounted => "accounted", Failed => "failed" }
);

impl AccountingType {
    /// The accounting type used when a merchant sends none.
    pub fn default_for(transaction_type: TransactionType) -> AccountingType {
        match transaction_type {
            TransactionType::Income => AccountingType::Receive,
            TransactionType::Expense => AccountingType::Pay,
        }
    }

    /// Whether this accounting type belongs to the transaction type.
    pub fn fits(self, transaction_type: TransactionType) -> bool {
        matches!(
            (transaction_type, self),
            (
                TransactionType::Income,
                AccountingType::Recharge | AccountingType::Receive
            ) | (
                TransactionType::Expense,
                AccountingType::Pay | AccountingType::Settle
            )
        )
    }
}

impl PaymentStatus {
    /// The legal edges of the order state machine.
    pub fn can_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        match self {
            None => matches!(next, Pending),
            Pending => matches!(
                next,
                Preparing | Processing | Completed | Failed | Reject | Overdue
            ),
            // A payout held for review goes back to `pending` when approved, to be sent.
            Preparing => matches!(
                next,
                Pending | Processing | Completed | Failed | Reject | Overdue
            ),
            Processing => matches!(next, Completed | Failed | Reject | Overdue),
            // A late upstream answer still settles an overdue order.
            Overdue => matches!(next, Completed | Failed),
            Completed => matches!(next, Refund),
            Failed | Reject | Refund => false,
        }
    }

    /// No further change is possible except a refund of a completed deposit.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentStatus::Completed
                | PaymentStatus::Failed
                | PaymentStatus::Reject
                | PaymentStatus::Refund
        )
    }

    /// Money moved for the order (a deposit credited, a payout settled), even if refunded
    /// since: the upstream references it counted are spent.
    pub fn moved_money(self) -> bool {
        matches!(self, PaymentStatus::Completed | PaymentStatus::Refund)
    }

    /// The order still waits for the payer or the upstream.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentStatus::Pending | PaymentStatus::Preparing | PaymentStatus::Processing
        )
    }
}

/// Whether an operator may fail this order by hand ("fail a stuck order"): only an open one,
/// and never a payout in `processing` — it has been sent upstream (perhaps with its outcome
/// unknown), so failing it would give the merchant back money that may be paid out; its
/// upstream's answer ends it (an own-accounts queued payout is `pending`, and fails here).
pub fn operator_may_fail(order: &Order) -> Result<(), String> {
    if !order.payment_status.is_open() {
        return Err(format!(
            "This order is {}: only an open order can be failed.",
            order.payment_status
        ));
    }
    if order.transaction_type == TransactionType::Expense
        && order.payment_status == PaymentStatus::Processing
    {
        return Err(
            "This payout was sent upstream: its upstream's answer ends it, not a failure by hand."
                .into(),
        );
    }
    Ok(())
}

/// A status change the state machine refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot go from {from} to {to}{detail}")]
pub struct IllegalTransition {
    pub from: PaymentStatus,
    pub to: PaymentStatus,
    pub detail: &'static str,
}

/// Why a completion with an impossible amount received is refused.
const IMPOSSIBLE_AMOUNT: &str =
    " (the amount received must be greater than zero and exact in the order's currency)";

impl IllegalTransition {
    /// The change was refused for its amount received, not because the order moved on: it
    /// will never apply, so whoever reported it must hear so (not "already applied").
    pub fn is_impossible_amount(&self) -> bool {
        self.detail == IMPOSSIBLE_AMOUNT
    }
}

/// A requested status change, with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub to: PaymentStatus,
    /// Why the change happened, recorded on the order's history.
    pub reason: String,
    /// Sets `payment_fail_reason` (kept after later changes, as the BRIEF asks).
    pub fail_reason: Option<String>,
    /// The amount actually moved, when the upstream reports it.
    pub final_amount: Option<Decimal>,
    /// Only apply if the order is still in this status (guards concurrent workers).
    pub expected_from: Option<PaymentStatus>,
    /// The bank's reference of the transfer that settled the order (own accounts: a matched
    /// or assigned transfer, a manual confirmation, a payout marked sent).
    pub reference: Option<String>,
    /// When background work should look at the order next (a payout approved after review is
    /// due to be sent at once).
    pub check_at: Option<Timestamp>,
    pub at: Timestamp,
    /// The id of the request that asked for it, recorded on the order's history.
    pub request_id: String,
}

impl StatusChange {
    pub fn new(to: PaymentStatus, reason: impl Into<String>, at: Timestamp) -> Self {
        StatusChange {
            to,
            reason: reason.into(),
            fail_reason: None,
            final_amount: None,
            expected_from: None,
            reference: None,
            check_at: None,
            at,
            request_id: String::new(),
        }
    }

    /// The order is due for background work at `at` after the change.
    pub fn checking_at(mut self, at: Timestamp) -> Self {
        self.check_at = Some(at);
        self
    }

    pub fn with_reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    pub fn failing(mut self, fail_reason: impl Into<String>) -> Self {
        self.fail_reason = Some(fail_reason.into());
        self
    }

    pub fn with_final_amount(mut self, amount: Decimal) -> Self {
        self.final_amount = Some(amount);
        self
    }

    pub fn from_status(mut self, status: PaymentStatus) -> Self {
        self.expected_from = Some(status);
        self
    }
}

/// One recorded status change of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderEvent {
    pub from_status: PaymentStatus,
    pub to_status: PaymentStatus,
    pub reason: String,
    pub created_at: Timestamp,
    /// The id of the request that made the change (`X-Request-Id`; empty for background work
    /// and the CLI).
    pub request_id: String,
}

impl OrderEvent {
    /// The creation of an order (`none` → `pending`). Storage does not keep a row for it: the
    /// order's own row, with its `created_at` and `request_id`, records the creation.
    pub fn creation(created_at: Timestamp, request_id: String) -> OrderEvent {
        OrderEvent {
            from_status: PaymentStatus::None,
            to_status: PaymentStatus::Pending,
            reason: "order created".to_string(),
            created_at,
            request_id,
        }
    }
}

/// An order as stored. Optional texts are empty strings when absent (the API shows `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Internal numeric id, assigned by storage; 0 before the order is stored.
    pub id: i64,
    pub payment_uid: String,
    pub merchant_id: i64,
    pub merchant_uid: String,
    pub merchant_name: String,
    /// The OC-Key that created the order (its secret signs the callbacks).
    pub signature_key: String,
    pub merchant_order_id: String,
    pub transaction_type: TransactionType,
    pub accounting_type: AccountingType,
    pub amount: Decimal,
    /// Offset added to `amount` to make a bank-transfer amount unique (zero when none).
    pub floating_amount: Decimal,
    /// What the payer must pay; once settled, what actually moved.
    pub final_amount: Decimal,
    pub currency: Currency,
    /// The country as the merchant wrote it, and its ISO 3166-1 alpha-2 code.
    pub country: String,
    pub country_code: String,
    pub payment: String,
    pub channel: String,
    /// The operator's own account the order was given (channels of kind `accounts`), or "".
    pub account: String,
    /// The bank's reference of the transfer that settled it (own accounts), or "".
    pub reference: String,
    pub from: String,
    pub from_name: String,
    pub from_bank_name: String,
    pub to: String,
    pub to_name: String,
    pub to_bank_name: String,
    /// The merchant's identifier of its end user (request field `merchant_id`).
    pub member_id: String,
    pub redirect_url: String,
    pub notify_url: String,
    pub response_type: String,
    pub ip: String,
    pub user_agent: String,
    pub ttl: Option<i64>,
    pub float_precision: i8,
    pub additional: String,
    /// Unknown request fields, kept as a JSON object.
    pub extra: String,
    /// The routing decision, as JSON.
    pub distribute_rules: String,
    pub payment_status: PaymentStatus,
    pub payment_fail_reason: String,
    pub notify_status: NotifyStatus,
    pub notify_fail_reason: String,
    pub accounting_status: AccountingStatus,
    pub accounting_fail_reason: String,
    /// The gateway's fee: computed on `amount` at creation (payouts hold amount + fee), and for
    /// deposits again on the amount received when they complete.
    pub fee: Decimal,
    /// The fee schedule the order was created under.
    pub fee_rule: crate::ledger::FeeRule,
    /// Hash of the order-defining parameters, to tell a retry from a conflicting reuse.
    pub fingerprint: String,
    /// Whether `final_amount` is reserved on the channel (floating amounts while open).
    pub amount_locked: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the order becomes overdue if still open.
    pub expires_at: Option<Timestamp>,
    /// When background work should next look at the order (connector checks).
    pub next_check_at: Option<Timestamp>,
    /// A test-mode order (made with a test key): sandbox money only, kept apart from live.
    pub test: bool,
    /// The id of the request that created it (`X-Request-Id`; empty when made otherwise).
    pub request_id: String,
}

/// An order of this status and channel was refused when created (no channel was ever chosen):
/// it moved nothing and calls for no journal entry.
pub fn refused_at_creation(status: PaymentStatus, channel: &str) -> bool {
    status == PaymentStatus::Reject && channel.is_empty()
}

impl Order {
    /// Refused when created (a blocklist or velocity rule): stored as `reject` without a
    /// channel, and answered with its reason whenever the merchant sends it again.
    pub fn refused_at_creation(&self) -> bool {
        refused_at_creation(self.payment_status, &self.channel)
    }

    /// Refuses the order at creation with `reason` (a blocklist entry or velocity rule): it
    /// becomes `reject` with no channel, account, fee, floating amount, expiry or check — what
    /// `refused_at_creation` recognises, and what moves nothing in the ledger.
    pub fn refuse(&mut self, reason: String) {
        self.payment_status = PaymentStatus::Reject;
        self.payment_fail_reason = reason;
        self.channel.clear();
        self.account.clear();
        self.distribute_rules.clear();
        self.fee = Decimal::ZERO;
        self.fee_rule = crate::ledger::FeeRule::default();
        self.floating_amount = Decimal::ZERO;
        self.final_amount = self.amount;
        self.amount_locked = false;
        self.expires_at = None;
        self.next_check_at = None;
    }

    /// A payout held for an operator's review (`preparing`: nothing else puts a payout there).
    pub fn awaits_review(&self) -> bool {
        self.transaction_type == TransactionType::Expense
            && self.payment_status == PaymentStatus::Preparing
    }

    /// Reserves `final_amount` as what the payer must pay: a floating amount, the order's
    /// amount plus an offset no other open order of the channel holds.
    pub fn hold_final_amount(&mut self, final_amount: Decimal) {
        self.final_amount = final_amount;
        self.floating_amount = final_amount - self.amount;
        self.amount_locked = true;
    }

    /// Applies a status change through the state machine and returns the event to record.
    pub fn apply(&mut self, change: &StatusChange) -> Result<OrderEvent, IllegalTransition> {
        let from = self.payment_status;
        if let Some(expected) = change.expected_from {
            if expected != from {
                return Err(IllegalTransition {
                    from,
                    to: change.to,
                    detail: " (it changed meanwhile)",
                });
            }
        }
        if !from.can_become(change.to) {
            return Err(IllegalTransition {
                from,
                to: change.to,
                detail: "",
            });
        }
        if from == PaymentStatus::Preparing
            && change.to == PaymentStatus::Pending
            && self.transaction_type != TransactionType::Expense
        {
            return Err(IllegalTransition {
                from,
                to: change.to,
                detail: " (only a payout approved after review goes back to pending)",
            });
        }
        if change.to == PaymentStatus::Refund && self.transaction_type != TransactionType::Income {
            return Err(IllegalTransition {
                from,
                to: change.to,
                detail: " (only deposits are refunded)",
            });
        }
        if change.to == PaymentStatus::Completed {
            // What a completion says was received is money in the ledger: a negative, zero,
            // too fine or absurdly large amount is refused here, whatever reported it.
            let received = change.final_amount.unwrap_or(self.final_amount);
            if Amount::received(received, self.currency).is_err() {
                return Err(IllegalTransition {
                    from,
                    to: change.to,
                    detail: IMPOSSIBLE_AMOUNT,
                });
            }
        }
        self.payment_status = change.to;
        self.updated_at = change.at;
        if from == PaymentStatus::Preparing && change.to == PaymentStatus::Pending {
            // A payout in review does not expire; approved, its ttl runs from now.
            self.expires_at = self.ttl.map(|t| change.at + t * 1000);
        }
        if let Some(reason) = &change.fail_reason {
            self.payment_fail_reason = reason.clone();
        }
        if let Some(amount) = change.final_amount {
            self.final_amount = amount;
        }
        if let Some(reference) = &change.reference {
            self.reference = reference.clone();
        }
        if change.to == PaymentStatus::Completed && self.transaction_type == TransactionType::Income
        {
            // The fee of a deposit is on what was actually received.
            self.fee = crate::ledger::deposit_fee(&self.fee_rule, self.final_amount);
        }
        if change.to == PaymentStatus::Overdue && !self.account.is_empty() && self.amount_locked {
            // A payer of an own account may still pay an overdue order: its amount stays
            // reserved through the grace (until `expires_at`), and a transfer then completes it
            // late (`transfer::decide`).
            self.expires_at = Some(change.at + crate::transfer::LATE_GRACE_MS);
        } else if !change.to.is_open() {
            // Closed or overdue orders no longer expire and free their floating amount.
            self.expires_at = None;
            self.amount_locked = false;
        }
        if change.to.is_final() {
            self.next_check_at = None;
        } else if let Some(at) = change.check_at {
            self.next_check_at = Some(at);
        }
        Ok(OrderEvent {
            from_status: from,
            to_status: change.to,
            reason: change.reason.clone(),
            created_at: change.at,
            request_id: change.request_id.clone(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_operator_fails_open_orders_but_never_a_payout_sent_upstream() {
        let mut o = sample_order();
        for (kind, status, may) in [
            (TransactionType::Income, PaymentStatus::Pending, true),
            (TransactionType::Income, PaymentStatus::Processing, true),
            (TransactionType::Expense, PaymentStatus::Pending, true),
            (TransactionType::Expense, PaymentStatus::Preparing, true),
            (TransactionType::Expense, PaymentStatus::Processing, false),
            (TransactionType::Income, PaymentStatus::Completed, false),
            (TransactionType::Income, PaymentStatus::Overdue, false),
        ] {
            o.transaction_type = kind;
            o.payment_status = status;
            assert_eq!(operator_may_fail(&o).is_ok(), may, "{kind:?} {status}");
        }
    }

    pub(crate) fn sample_order() -> Order {
        Order {
            id: 1,
            payment_uid: "u".into(),
            merchant_id: 1,
            merchant_uid: "M1".into(),
            merchant_name: "Demo".into(),
            signature_key: "k".into(),
            merchant_order_id: "o1".into(),
            transaction_type: TransactionType::Income,
            accounting_type: AccountingType::Receive,
            amount: Decimal::new(10000, 2),
            floating_amount: Decimal::ZERO,
            final_amount: Decimal::new(10000, 2),
            currency: Currency::Mmk,
            country: "myanmar".into(),
            country_code: "MM".into(),
            payment: "myanmar".into(),
            channel: "sandbox".into(),
            account: String::new(),
            reference: String::new(),
            from: String::new(),
            from_name: String::new(),
            from_bank_name: String::new(),
            to: String::new(),
            to_name: String::new(),
            to_bank_name: String::new(),
            member_id: String::new(),
            redirect_url: String::new(),
            notify_url: String::new(),
            response_type: "json".into(),
            ip: String::new(),
            user_agent: String::new(),
            ttl: None,
            float_precision: 0,
            additional: String::new(),
            extra: "{}".into(),
            distribute_rules: "{}".into(),
            payment_status: PaymentStatus::Pending,
            payment_fail_reason: String::new(),
            notify_status: NotifyStatus::None,
            notify_fail_reason: String::new(),
            accounting_status: AccountingStatus::None,
            accounting_fail_reason: String::new(),
            fee: Decimal::ZERO,
            fee_rule: crate::ledger::FeeRule::default(),
            fingerprint: String::new(),
            amount_locked: true,
            created_at: 0,
            updated_at: 0,
            expires_at: Some(100),
            next_check_at: Some(50),
            test: false,
            request_id: String::new(),
        }
    }

    #[test]
    fn legal_path_records_events_and_keeps_the_fail_reason() {
        let mut o = sample_order();
        let e = o
            .apply(&StatusChange::new(PaymentStatus::Overdue, "ttl elapsed", 5))
            .unwrap();
        assert_eq!(
            (e.from_status, e.to_status),
            (PaymentStatus::Pending, PaymentStatus::Overdue)
        );
        assert_eq!(o.expires_at, None);
        assert!(!o.amount_locked);
        // late success still completes the order
        o.apply(
            &StatusChange::new(PaymentStatus::Completed, "late", 6)
                .with_final_amount(Decimal::new(9900, 2)),
        )
        .unwrap();
        assert_eq!(o.final_amount, Decimal::new(9900, 2));
        assert_eq!(o.next_check_at, None);
        o.apply(&StatusChange::new(PaymentStatus::Refund, "operator", 7))
            .unwrap();
        assert!(o
            .apply(&StatusChange::new(PaymentStatus::Completed, "x", 8))
            .is_err());
    }

    #[test]
    fn refuses_illegal_moves() {
        let mut o = sample_order();
        o.apply(&StatusChange::new(PaymentStatus::Failed, "no", 1).failing("declined"))
            .unwrap();
        assert_eq!(o.payment_fail_reason, "declined");
        let err = o
            .apply(&StatusChange::new(PaymentStatus::Completed, "x", 2))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "an order cannot go from failed to completed"
        );
        assert_eq!(o.payment_status, PaymentStatus::Failed, "nothing changed");

        let mut payout = sample_order();
        payout.transaction_type = TransactionType::Expense;
        payout
            .apply(&StatusChange::new(PaymentStatus::Completed, "ok", 1))
            .unwrap();
        assert!(payout
            .apply(&StatusChange::new(PaymentStatus::Refund, "x", 2))
            .is_err());

        let mut raced = sample_order();
        let stale = StatusChange::new(PaymentStatus::Completed, "x", 1)
            .from_status(PaymentStatus::Processing);
        assert!(raced.apply(&stale).is_err());
    }

    #[test]
    fn a_completion_with_an_impossible_amount_received_is_refused() {
        for (amount, currency) in [
            (Decimal::new(-600000, 2), Currency::Mmk),
            (Decimal::ZERO, Currency::Mmk),
            (Decimal::new(6000001, 3), Currency::Mmk),
            (Decimal::new(15, 1), Currency::Vnd),
            ("99999999999999999999".parse().unwrap(), Currency::Mmk),
        ] {
            for tt in [TransactionType::Income, TransactionType::Expense] {
                let mut o = sample_order();
                o.transaction_type = tt;
                o.currency = currency;
                let before = o.clone();
                let err = o
                    .apply(
                        &StatusChange::new(PaymentStatus::Completed, "upstream", 1)
                            .with_final_amount(amount),
                    )
                    .unwrap_err();
                assert!(err.is_impossible_amount(), "{amount} {currency}: {err}");
                assert_eq!(
                    err.to_string(),
                    "an order cannot go from pending to completed (the amount received must be greater than zero and exact in the order's currency)"
                );
                assert_eq!(o, before, "nothing changed");
            }
        }
        // The order's own final_amount counts when the change carries none.
        let mut o = sample_order();
        o.final_amount = Decimal::new(-1, 0);
        assert!(o
            .apply(&StatusChange::new(PaymentStatus::Completed, "x", 1))
            .unwrap_err()
            .is_impossible_amount());
        // An exact amount with trailing zeros is fine; a failure carries no amount to check.
        let mut o = sample_order();
        o.apply(
            &StatusChange::new(PaymentStatus::Completed, "x", 1)
                .with_final_amount(Decimal::new(6000000, 3)),
        )
        .unwrap();
        let mut o = sample_order();
        o.final_amount = Decimal::ZERO;
        assert!(o
            .apply(&StatusChange::new(PaymentStatus::Failed, "x", 1))
            .is_ok());
        assert!(!IllegalTransition {
            from: PaymentStatus::Failed,
            to: PaymentStatus::Completed,
            detail: ""
        }
        .is_impossible_amount());
    }

    #[test]
    fn accounting_types_fit_their_transaction_type() {
        use AccountingType::*;
        assert!(Receive.fits(TransactionType::Income) && Recharge.fits(TransactionType::Income));
        assert!(Pay.fits(TransactionType::Expense) && Settle.fits(TransactionType::Expense));
        assert!(!Pay.fits(TransactionType::Income) && !Receive.fits(TransactionType::Expense));
        assert_eq!(AccountingType::default_for(TransactionType::Expense), Pay);
    }

    fn any_status() -> impl Strategy<Value = PaymentStatus> {
        proptest::sample::select(PaymentStatus::ALL.to_vec())
    }

    proptest! {
        /// Whatever sequence of changes is attempted, the order only ever walks legal edges,
        /// a refused change leaves it untouched, and final states stay final (except refund).
        #[test]
        fn random_change_sequences_only_walk_legal_edges(steps in proptest::collection::vec(any_status(), 0..30)) {
            let mut o = sample_order();
            for (i, to) in steps.into_iter().enumerate() {
                let before = o.clone();
                match o.apply(&StatusChange::new(to, "p", i as i64)) {
                    Ok(e) => {
                        prop_assert!(e.from_status.can_become(e.to_status));
                        prop_assert_eq!(o.payment_status, to);
                        if !to.is_open() { prop_assert!(!o.amount_locked && o.expires_at.is_none()); }
                    }
                    Err(_) => prop_assert_eq!(&o, &before),
                }
                if before.payment_status.is_final() && before.payment_status != PaymentStatus::Completed {
                    prop_assert_eq!(o.payment_status, before.payment_status);
                }
            }
        }
    }
}
