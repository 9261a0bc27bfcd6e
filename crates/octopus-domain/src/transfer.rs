//! Transfers: money a device saw arrive on one of the operator's own accounts, and what became
//! of it. A transfer is matched to the one open deposit on that account with exactly its
//! amount and currency (and, where the order names the payer's account, agreeing visible
//! digits); anything else goes to **suspense**, posted in the ledger, until the operator
//! assigns it to an order or records its return to the payer. Never silently dropped, never
//! credited twice: the bank's reference makes a transfer unique per account, and a transfer
//! changes status through one state machine, like an order.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::ledger::{Account, EntryKind, JournalEntry, Posting, Unbalanced};
use crate::money::Currency;
use crate::order::{Order, PaymentStatus, TransactionType};
use crate::Timestamp;

/// How long after an order goes `overdue` a transfer may still complete it (marked late), and
/// its final amount stays reserved on its account.
pub const LATE_GRACE_MS: i64 = 24 * 3600 * 1000;

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferStatus {
    /// Reported, not yet decided: in memory only (a transfer is stored once decided).
    Received,
    /// Completed the order it matched.
    Matched,
    /// Held in suspense for the operator.
    Suspense,
    /// Taken out of suspense by the operator and credited to an order.
    Assigned,
    /// Taken out of suspense: the money went back to the payer.
    Returned,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Received => "received",
            TransferStatus::Matched => "matched",
            TransferStatus::Suspense => "suspense",
            TransferStatus::Assigned => "assigned",
            TransferStatus::Returned => "returned",
        }
    }

    /// The one legal way between statuses.
    pub fn can_become(self, next: TransferStatus) -> bool {
        use TransferStatus::*;
        matches!(
            (self, next),
            (Received, Matched | Suspense) | (Suspense, Assigned | Returned)
        )
    }

    /// The ledger entries a transfer in this status has.
    pub fn entries(self) -> &'static [EntryKind] {
        match self {
            TransferStatus::Received | TransferStatus::Matched => &[],
            TransferStatus::Suspense => &[EntryKind::SuspenseIn],
            TransferStatus::Assigned | TransferStatus::Returned => {
                &[EntryKind::SuspenseIn, EntryKind::SuspenseOut]
            }
        }
    }
}

impl fmt::Display for TransferStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TransferStatus {
    type Err = crate::order::UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "received" => TransferStatus::Received,
            "matched" => TransferStatus::Matched,
            "suspense" => TransferStatus::Suspense,
            "assigned" => TransferStatus::Assigned,
            "returned" => TransferStatus::Returned,
            _ => return Err(crate::order::UnknownValue),
        })
    }
}

/// A transfer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Octopus's id of the transfer (`tr_...`), named by `octopus suspense ...`.
    pub uid: String,
    pub account: String,
    /// The channel of the account (its clearing account receives the money).
    pub channel: String,
    pub device: String,
    pub amount: Decimal,
    pub currency: Currency,
    pub reference: String,
    pub occurred_at: Timestamp,
    pub payer_account: String,
    pub payer_name: String,
    pub text: String,
    pub status: TransferStatus,
    /// The order it completed (matched or assigned).
    pub payment_uid: String,
    /// Matched after its order went overdue (within the grace).
    pub late: bool,
    /// Why it went to suspense, or what the operator said.
    pub reason: String,
    /// The bank reference of the return to the payer.
    pub return_reference: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Transfer {
    /// A new transfer from a device's report, `received`.
    pub fn reported(
        uid: String,
        channel: &str,
        device: &str,
        report: &crate::device::Report,
        now: Timestamp,
    ) -> Transfer {
        Transfer {
            uid,
            account: report.account.clone(),
            channel: channel.to_string(),
            device: device.to_string(),
            amount: report.amount,
            currency: report.currency,
            reference: report.reference.clone(),
            occurred_at: report.occurred_at,
            payer_account: report.payer_account.clone(),
            payer_name: report.payer_name.clone(),
            text: report.text.clone(),
            status: TransferStatus::Received,
            payment_uid: String::new(),
            late: false,
            reason: String::new(),
            return_reference: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Moves the transfer to `next` through the state machine.
    pub fn become_(&mut self, next: TransferStatus, at: Timestamp) -> Result<(), IllegalTransfer> {
        if !self.status.can_become(next) {
            return Err(IllegalTransfer {
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        self.updated_at = at;
        Ok(())
    }

    /// The entry that puts the transfer in suspense: the channel's clearing account (where
    /// the money arrived) owes it to the suspense account until the operator decides.
    pub fn suspense_in(&self, at: Timestamp) -> Result<JournalEntry, Unbalanced> {
        JournalEntry::for_transfer(
            &self.uid,
            EntryKind::SuspenseIn,
            self.currency,
            self.amount,
            vec![
                Posting {
                    account: Account::clearing(&self.channel, self.currency),
                    amount: -self.amount,
                },
                Posting {
                    account: Account::suspense(self.currency),
                    amount: self.amount,
                },
            ],
            at,
        )
    }

    /// The entry that takes the transfer out of suspense (assigned: the order's own deposit
    /// entry then credits the merchant from clearing; returned: the money left the account).
    pub fn suspense_out(&self, at: Timestamp) -> Result<JournalEntry, Unbalanced> {
        JournalEntry::for_transfer(
            &self.uid,
            EntryKind::SuspenseOut,
            self.currency,
            self.amount,
            vec![
                Posting {
                    account: Account::suspense(self.currency),
                    amount: -self.amount,
                },
                Posting {
                    account: Account::clearing(&self.channel, self.currency),
                    amount: self.amount,
                },
            ],
            at,
        )
    }
}

/// A transfer status change the state machine refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a transfer cannot go from {from} to {to}")]
pub struct IllegalTransfer {
    pub from: TransferStatus,
    pub to: TransferStatus,
}

/// What a transfer is, for the orders open on its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matching {
    /// It completes this order; `late` when the order was overdue (within the grace).
    Order { payment_uid: String, late: bool },
    /// No order takes it; the reason is the operator's.
    Suspense { reason: String },
}

/// Decides which order a transfer completes, among `orders` (the deposits of its account with
/// its exact amount and currency, as storage found them): the one that is open, or overdue
/// within the grace, and whose payer account (if it names one) agrees with the transfer's
/// visible digits. None or several → suspense.
pub fn decide(transfer: &Transfer, orders: &[Order], now: Timestamp) -> Matching {
    let mut takers = Vec::new();
    let mut refused = Vec::new();
    for order in orders {
        if order.transaction_type != TransactionType::Income
            || order.account != transfer.account
            || order.currency != transfer.currency
            || order.final_amount != transfer.amount
        {
            continue;
        }
        let late = match order.payment_status {
            s if s.is_open() => false,
            PaymentStatus::Overdue if order.expires_at.is_some_and(|until| now <= until) => true,
            PaymentStatus::Overdue => {
                refused.push(format!(
                    "order {} is past its grace for late payments",
                    order.payment_uid
                ));
                continue;
            }
            _ => continue,
        };
        if !order.from.is_empty() && !payer_agrees(&transfer.payer_account, &order.from) {
            refused.push(format!(
                "the payer account does not agree with order {}'s",
                order.payment_uid
            ));
            continue;
        }
        takers.push((order, late));
    }
    match takers.as_slice() {
        [(order, late)] => Matching::Order {
            payment_uid: order.payment_uid.clone(),
            late: *late,
        },
        [] if refused.is_empty() => Matching::Suspense {
            reason: format!(
                "no open order of {} {} on this account",
                crate::money::format_amount(transfer.amount, transfer.currency),
                transfer.currency.code()
            ),
        },
        [] => Matching::Suspense {
            reason: refused.join("; "),
        },
        several => Matching::Suspense {
            reason: format!(
                "{} open orders of this amount: {}",
                several.len(),
                several
                    .iter()
                    .map(|(o, _)| o.payment_uid.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Fewer visible digits than this cannot show that a transfer is the order's payer's.
pub const MIN_VISIBLE_DIGITS: usize = 4;

/// Whether the payer account a bank showed (often masked: `xxx-x-x1234-x`, `***1234`) agrees
/// with the account the order names. Separators are ignored. When both have the same length,
/// every visible digit must equal the one in its place; otherwise the visible digits at the end
/// must end the order's account. Fewer than [`MIN_VISIBLE_DIGITS`] visible digits cannot agree
/// (the transfer goes to suspense for the operator rather than to an order it may not belong
/// to).
pub fn payer_agrees(shown: &str, expected: &str) -> bool {
    let is_sep = |c: char| c == '-' || c == ' ' || c == '.';
    let shown: Vec<char> = shown.chars().filter(|c| !is_sep(*c)).collect();
    let expected: Vec<char> = expected.chars().filter(|c| !is_sep(*c)).collect();
    // Too few visible digits prove nothing (one digit agrees with a tenth of all accounts).
    if shown.iter().filter(|c| c.is_ascii_digit()).count() < MIN_VISIBLE_DIGITS
        || expected.is_empty()
    {
        return false;
    }
    if shown.len() == expected.len() {
        return shown
            .iter()
            .zip(&expected)
            .all(|(s, e)| !s.is_ascii_digit() || s == e);
    }
    let tail: Vec<char> = shown
        .iter()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    let trailing_masked = shown
        .iter()
        .rev()
        .take_while(|c| !c.is_ascii_digit())
        .count();
    if trailing_masked >= expected.len() {
        return false;
    }
    let end = &expected[..expected.len() - trailing_masked];
    tail.len() <= end.len() && end.iter().rev().zip(&tail).all(|(e, t)| e == t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::sample_order;

    fn transfer(amount: i64) -> Transfer {
        let report = crate::device::Report {
            account: "acc_1".into(),
            amount: Decimal::new(amount, 2),
            currency: Currency::Thb,
            reference: "FT1".into(),
            occurred_at: 0,
            payer_account: "xxx-x-x1234-x".into(),
            payer_name: String::new(),
            text: String::new(),
        };
        Transfer::reported("tr_1".into(), "own", "dev_1", &report, 0)
    }

    fn order(uid: &str, final_amount: i64, status: PaymentStatus) -> Order {
        let mut o = sample_order();
        o.payment_uid = uid.into();
        o.account = "acc_1".into();
        o.currency = Currency::Thb;
        o.final_amount = Decimal::new(final_amount, 2);
        o.payment_status = status;
        o
    }

    #[test]
    fn one_open_order_of_the_exact_amount_takes_the_transfer() {
        let t = transfer(10037);
        let orders = vec![order("A", 10037, PaymentStatus::Pending)];
        assert_eq!(
            decide(&t, &orders, 0),
            Matching::Order {
                payment_uid: "A".into(),
                late: false
            }
        );
        let other_amount = vec![order("A", 10036, PaymentStatus::Pending)];
        assert!(matches!(
            decide(&t, &other_amount, 0),
            Matching::Suspense { .. }
        ));
        let mut other_account = order("A", 10037, PaymentStatus::Pending);
        other_account.account = "acc_2".into();
        assert!(matches!(
            decide(&t, &[other_account], 0),
            Matching::Suspense { .. }
        ));
        let done = vec![order("A", 10037, PaymentStatus::Completed)];
        assert!(matches!(decide(&t, &done, 0), Matching::Suspense { .. }));
    }

    #[test]
    fn two_candidates_go_to_suspense() {
        let t = transfer(10037);
        let orders = vec![
            order("A", 10037, PaymentStatus::Pending),
            order("B", 10037, PaymentStatus::Pending),
        ];
        match decide(&t, &orders, 0) {
            Matching::Suspense { reason } => {
                assert_eq!(reason, "2 open orders of this amount: A, B")
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn late_within_the_grace_and_suspense_after_it() {
        let t = transfer(10037);
        let mut o = order("A", 10037, PaymentStatus::Overdue);
        o.expires_at = Some(1_000);
        assert_eq!(
            decide(&t, std::slice::from_ref(&o), 1_000),
            Matching::Order {
                payment_uid: "A".into(),
                late: true
            }
        );
        match decide(&t, &[o], 1_001) {
            Matching::Suspense { reason } => assert!(reason.contains("past its grace"), "{reason}"),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn a_payer_account_that_disagrees_goes_to_suspense() {
        let t = transfer(10037);
        let mut o = order("A", 10037, PaymentStatus::Pending);
        o.from = "987-6-51234-2".into();
        assert!(matches!(
            decide(&t, std::slice::from_ref(&o), 0),
            Matching::Order { .. }
        ));
        o.from = "987-6-59999-2".into();
        match decide(&t, &[o], 0) {
            Matching::Suspense { reason } => assert!(reason.contains("payer account"), "{reason}"),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn visible_digits_agree_by_place_or_at_the_end() {
        assert!(payer_agrees("xxx-x-x1234-x", "987-6-51234-2"));
        assert!(payer_agrees("XXX-X-X1234-X", "9876512342"));
        assert!(!payer_agrees("xxx-x-x1235-x", "987-6-51234-2"));
        assert!(payer_agrees("***1234", "1234561234"));
        assert!(payer_agrees("x1234", "99991234"));
        assert!(!payer_agrees("x1234", "99991235"));
        assert!(payer_agrees("1234x", "99912345"), "a masked last digit");
        assert!(!payer_agrees("xxxx", "1234"), "nothing visible");
        assert!(!payer_agrees("", "1234"));
        assert!(
            !payer_agrees("123456789", "1234"),
            "longer than the account"
        );
        assert!(!payer_agrees("2", "9876512342"), "one digit proves nothing");
        assert!(!payer_agrees("xxxxxxxxx2", "9876512342"));
        assert!(
            !payer_agrees("xxxxxx342", "987651342"),
            "three digits are not enough"
        );
    }

    #[test]
    fn transfers_move_through_one_state_machine_and_balance_in_the_ledger() {
        let mut t = transfer(10037);
        assert!(t.become_(TransferStatus::Assigned, 1).is_err());
        t.become_(TransferStatus::Suspense, 1).unwrap();
        assert!(t.become_(TransferStatus::Matched, 2).is_err());
        let into = t.suspense_in(1).unwrap();
        assert_eq!(
            into.postings.iter().map(|p| p.amount).sum::<Decimal>(),
            Decimal::ZERO
        );
        assert_eq!(into.key.to_string(), "tr_1:suspense_in");
        t.become_(TransferStatus::Returned, 2).unwrap();
        assert!(t.become_(TransferStatus::Assigned, 3).is_err());
        let out = t.suspense_out(2).unwrap();
        assert_eq!(out.key.to_string(), "tr_1:suspense_out");
        assert_eq!(
            TransferStatus::Returned.entries(),
            &[EntryKind::SuspenseIn, EntryKind::SuspenseOut]
        );
        for s in ["received", "matched", "suspense", "assigned", "returned"] {
            assert_eq!(s.parse::<TransferStatus>().unwrap().as_str(), s);
        }
    }
}
