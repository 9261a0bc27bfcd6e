//! The decisions alone, without storage: each refusal and what an accepted change carries,
//! and random sequences of orders against an independent model of the ledger rules.

use std::collections::HashSet;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::ledger::{EntryKey, EntryKind};
use crate::money::Currency;
use crate::order::tests::sample_order;
use crate::order::{NotifyStatus, TransactionType};

/// A book holding what `needs` asks, read from `stored` (a stand-in for the database: balances
/// of merchant accounts and the keys posted).
fn load(needs: &Needs, stored: &Book) -> Book {
    let mut book = Book::new();
    for account in needs.merchant_accounts() {
        book.set_balance(
            account.clone(),
            stored.balance(account).unwrap_or(Decimal::ZERO),
        );
    }
    let posted: HashSet<EntryKey> = needs
        .entry_keys
        .iter()
        .filter(|k| stored.entries.get(*k).copied().unwrap_or(false))
        .cloned()
        .collect();
    book.set_posted(&needs.entry_keys, &posted);
    book
}

/// Writes what a decision left in `book` back to `stored`, as a backend would.
fn store(book: &Book, stored: &mut Book) {
    for (account, balance) in &book.balances {
        stored.balances.insert(account.clone(), *balance);
    }
    for (key, posted) in &book.entries {
        if *posted {
            stored.entries.insert(key.clone(), true);
        }
    }
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn deposit(uid: &str, amount: &str) -> Order {
    Order {
        payment_uid: uid.into(),
        merchant_order_id: uid.into(),
        amount: dec(amount),
        final_amount: dec(amount),
        fee_rule: crate::ledger::FeeRule::decode("2|0.1|0|").unwrap(),
        notify_url: "https://merchant.example/cb".into(),
        ..sample_order()
    }
}

fn payout(uid: &str, amount: &str, fee: &str) -> Order {
    Order {
        payment_uid: uid.into(),
        merchant_order_id: uid.into(),
        transaction_type: TransactionType::Expense,
        accounting_type: crate::order::AccountingType::Pay,
        amount: dec(amount),
        final_amount: dec(amount),
        fee: dec(fee),
        ..sample_order()
    }
}

fn available() -> Account {
    Account::available(1, Currency::Mmk)
}

fn held() -> Account {
    Account::held(1, Currency::Mmk)
}

fn changed(order: &Order, to: PaymentStatus, stored: &mut Book) -> Result<Changed, Refusal> {
    let request = StatusChange::new(to, "test", 10);
    let mut book = load(&needs_to_change(order, &request), stored);
    let decided = change(order, &request, &mut book)?;
    store(&book, stored);
    Ok(decided)
}

#[test]
fn a_completed_deposit_credits_less_the_fee_and_queues_its_callback() {
    let mut stored = Book::new();
    let order = deposit("d1", "100");
    let decided = changed(&order, PaymentStatus::Completed, &mut stored).unwrap();
    assert_eq!(decided.order.payment_status, PaymentStatus::Completed);
    assert_eq!(decided.order.accounting_status, AccountingStatus::Accounted);
    // The order returned says a callback is on its way: every backend answers the same.
    assert_eq!(decided.order.notify_status, NotifyStatus::Delivered);
    assert_eq!(decided.order.fee, dec("2.1"));
    let entry = decided.entry.expect("a completion posts");
    assert_eq!(entry.entry.kind, EntryKind::DepositCredit);
    assert_eq!(stored.balance(&available()), Some(dec("97.9")));
    let callback = decided.callback.expect("the order has a notify_url");
    assert_eq!(callback.payload.get("payment_status"), Some("completed"));
    assert_eq!(callback.host, "merchant.example");
    assert!(!callback.manual);
    assert_eq!(decided.event.to_status, PaymentStatus::Completed);
}

#[test]
fn an_entry_posted_before_is_not_posted_again() {
    let mut stored = Book::new();
    let order = deposit("d1", "100");
    changed(&order, PaymentStatus::Completed, &mut stored).unwrap();
    // The same completion decided again (an order whose status was reset by hand, say).
    let again = changed(&order, PaymentStatus::Completed, &mut stored).unwrap();
    assert_eq!(again.entry, None);
    assert_eq!(again.order.accounting_status, AccountingStatus::Accounted);
    assert_eq!(stored.balance(&available()), Some(dec("97.9")));
}

#[test]
fn without_a_notify_url_no_callback_is_queued_and_notify_status_stays() {
    let mut stored = Book::new();
    let order = Order {
        notify_url: String::new(),
        ..deposit("d1", "100")
    };
    let decided = changed(&order, PaymentStatus::Failed, &mut stored).unwrap();
    assert_eq!(decided.callback, None);
    assert_eq!(decided.order.notify_status, NotifyStatus::None);
    assert_eq!(decided.entry, None);
}

#[test]
fn a_payout_holds_amount_plus_fee_or_is_refused() {
    let mut stored = Book::new();
    stored.set_balance(available(), dec("100"));
    let order = payout("p1", "90", "1.15");
    let mut book = load(&needs_to_create(&order), &stored);
    let created = create(order.clone(), None, &mut book).unwrap();
    let Created::New { order: new, hold } = created else {
        panic!("a new payout")
    };
    assert_eq!(new.accounting_status, AccountingStatus::Delivered);
    assert_eq!(
        hold.unwrap().after,
        vec![Some(dec("8.85")), Some(dec("91.15"))]
    );
    store(&book, &mut stored);

    let second = payout("p2", "9", "0.5");
    let mut book = load(&needs_to_create(&second), &stored);
    assert_eq!(
        create(second, None, &mut book),
        Err(Refusal::InsufficientBalance)
    );
    // A retry of the accepted payout gets its order back, whatever the balance now.
    let mut book = load(&needs_to_create(&order), &stored);
    assert_eq!(
        create(order, Some(new.clone()), &mut book),
        Ok(Created::Existing(new))
    );
}

#[test]
fn a_refund_the_balance_cannot_cover_is_refused_and_anything_else_fails_its_accounting() {
    let mut stored = Book::new();
    let order = deposit("d1", "100");
    let completed = changed(&order, PaymentStatus::Completed, &mut stored)
        .unwrap()
        .order;
    // The merchant paid its money out meanwhile.
    stored.set_balance(available(), dec("10"));
    assert_eq!(
        changed(&completed, PaymentStatus::Refund, &mut stored),
        Err(Refusal::InsufficientBalance)
    );

    // A payout whose hold is missing (as after a database restored by hand) still settles
    // upstream: the change stands, its accounting fails and waits for a retry.
    let payout = Order {
        payment_status: PaymentStatus::Processing,
        ..payout("p1", "50", "1")
    };
    let settled = changed(&payout, PaymentStatus::Completed, &mut stored).unwrap();
    assert_eq!(settled.order.payment_status, PaymentStatus::Completed);
    assert_eq!(settled.order.accounting_status, AccountingStatus::Failed);
    assert!(settled
        .order
        .accounting_fail_reason
        .contains("held balance of mmk would become"));
    assert_eq!(settled.entry, None);
}

#[test]
fn an_illegal_change_is_refused() {
    let mut stored = Book::new();
    let order = Order {
        payment_status: PaymentStatus::Failed,
        ..deposit("d1", "100")
    };
    assert!(matches!(
        changed(&order, PaymentStatus::Completed, &mut stored),
        Err(Refusal::Illegal(_))
    ));
}

#[test]
fn a_decision_without_what_it_needs_fails_closed() {
    let order = deposit("d1", "100");
    let request = StatusChange::new(PaymentStatus::Completed, "test", 10);
    assert!(matches!(
        change(&order, &request, &mut Book::new()),
        Err(Refusal::NotLoaded(_))
    ));
}

#[test]
fn a_retry_posts_what_is_missing_and_records_the_outcome() {
    let mut stored = Book::new();
    let payout = Order {
        payment_status: PaymentStatus::Processing,
        ..payout("p1", "50", "1")
    };
    let settled = changed(&payout, PaymentStatus::Completed, &mut stored)
        .unwrap()
        .order;
    assert_eq!(settled.accounting_status, AccountingStatus::Failed);
    let history = [
        OrderEvent::creation(0, String::new()),
        OrderEvent {
            from_status: PaymentStatus::Pending,
            to_status: PaymentStatus::Processing,
            reason: String::new(),
            created_at: 5,
            request_id: String::new(),
        },
        OrderEvent {
            from_status: PaymentStatus::Processing,
            to_status: PaymentStatus::Completed,
            reason: String::new(),
            created_at: 10,
            request_id: String::new(),
        },
    ];
    // Still not enough money: the hold cannot post, nothing does.
    let needs = needs_to_retry(&settled, &history);
    let mut book = load(&needs, &stored);
    let retried = retry_accounting(&settled, &history, &mut book, 20).unwrap();
    assert!(retried.entries.is_empty());
    assert_eq!(retried.order.accounting_status, AccountingStatus::Failed);

    // Once the merchant has the money, hold and settle post, in that order.
    stored.set_balance(available(), dec("60"));
    let mut book = load(&needs, &stored);
    let retried = retry_accounting(&settled, &history, &mut book, 30).unwrap();
    let kinds: Vec<EntryKind> = retried.entries.iter().map(|e| e.entry.kind).collect();
    assert_eq!(kinds, [EntryKind::PayoutHold, EntryKind::PayoutSettle]);
    assert_eq!(retried.order.accounting_status, AccountingStatus::Accounted);
    assert_eq!(retried.order.updated_at, 30);
    store(&book, &mut stored);
    assert_eq!(stored.balance(&available()), Some(dec("9")));
    assert_eq!(stored.balance(&held()), Some(Decimal::ZERO));

    // A second retry finds everything posted.
    let mut book = load(&needs, &stored);
    let again = retry_accounting(&retried.order, &history, &mut book, 40).unwrap();
    assert!(again.entries.is_empty());
    assert_eq!(again.order.accounting_status, AccountingStatus::Accounted);
}

#[test]
fn a_resend_needs_a_notify_url() {
    let order = deposit("d1", "100");
    let (marked, callback) = resend(&order, 50).unwrap();
    assert!(callback.manual);
    assert_eq!(callback.at, 50);
    assert_eq!(marked.notify_status, NotifyStatus::Delivered);
    let silent = Order {
        notify_url: String::new(),
        ..order
    };
    assert_eq!(resend(&silent, 50), Err(Refusal::NoNotifyUrl));
}

// ---- random sequences against an independent model ----

#[derive(Debug, Clone)]
enum Op {
    Deposit(u32),
    Payout(u32),
    /// Complete an order; a deposit receives its amount changed by this many cents.
    Complete(usize, i32),
    Fail(usize),
    Refund(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u32..100_000).prop_map(Op::Deposit),
        3 => (1u32..60_000).prop_map(Op::Payout),
        3 => (any::<usize>(), -5_000i32..500).prop_map(|(i, d)| Op::Complete(i, d)),
        1 => any::<usize>().prop_map(Op::Fail),
        1 => any::<usize>().prop_map(Op::Refund),
    ]
}

/// The fee rules restated without the ledger's code: deposits 2% + 0.10 of what was received
/// (never more than that), payouts 1% + 0.25 of the amount, half away from zero to 6 places.
fn model_deposit_fee(received: Decimal) -> Decimal {
    (received * dec("0.02") + dec("0.10"))
        .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .min(received)
}

fn model_payout_fee(amount: Decimal) -> Decimal {
    (amount * dec("0.01") + dec("0.25"))
        .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

struct ModelOrder {
    order: Order,
    amount: Decimal,
    fee: Decimal,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the sequence, the balances are what the model says, never negative, and
    /// each decision accepts or refuses exactly when the model does.
    #[test]
    fn random_sequences_keep_the_model_balances(ops in proptest::collection::vec(op(), 1..40)) {
        let mut stored = Book::new();
        let mut orders: Vec<ModelOrder> = Vec::new();
        let (mut model_available, mut model_held) = (Decimal::ZERO, Decimal::ZERO);
        for (n, op) in ops.into_iter().enumerate() {
            let uid = format!("o{n}");
            match op {
                Op::Deposit(cents) => {
                    let amount = Decimal::new(cents.into(), 2);
                    let order = Order { id: n as i64, ..deposit(&uid, &amount.to_string()) };
                    let mut book = load(&needs_to_create(&order), &stored);
                    let Created::New { order, hold } = create(order, None, &mut book).unwrap() else {
                        panic!("a new deposit");
                    };
                    prop_assert!(hold.is_none());
                    orders.push(ModelOrder { order, amount, fee: Decimal::ZERO });
                }
                Op::Payout(cents) => {
                    let amount = Decimal::new(cents.into(), 2);
                    let fee = model_payout_fee(amount);
                    let order = Order {
                        id: n as i64,
                        ..payout(&uid, &amount.to_string(), &fee.to_string())
                    };
                    let mut book = load(&needs_to_create(&order), &stored);
                    let fits = model_available >= amount + fee;
                    match create(order, None, &mut book) {
                        Ok(Created::New { order, hold }) => {
                            prop_assert!(fits, "a payout the balance cannot cover was accepted");
                            prop_assert!(hold.is_some());
                            store(&book, &mut stored);
                            model_available -= amount + fee;
                            model_held += amount + fee;
                            orders.push(ModelOrder { order, amount, fee });
                        }
                        Ok(Created::Existing(_)) => prop_assert!(false, "nothing existed"),
                        Err(refusal) => {
                            prop_assert!(!fits, "a covered payout was refused");
                            prop_assert_eq!(refusal, Refusal::InsufficientBalance);
                        }
                    }
                }
                Op::Complete(..) | Op::Fail(_) | Op::Refund(_) if orders.is_empty() => {}
                Op::Complete(i, delta) => {
                    let count = orders.len();
                    let m = &mut orders[i % count];
                    let mut request = StatusChange::new(PaymentStatus::Completed, "done", n as i64);
                    let payout = m.order.transaction_type == TransactionType::Expense;
                    let received = (m.amount + Decimal::new(delta.into(), 2)).max(dec("0.01"));
                    if !payout {
                        request = request.with_final_amount(received);
                    }
                    let legal = m.order.payment_status.can_become(PaymentStatus::Completed);
                    let mut book = load(&needs_to_change(&m.order, &request), &stored);
                    match change(&m.order, &request, &mut book) {
                        Ok(decided) => {
                            prop_assert!(legal);
                            prop_assert_eq!(decided.order.accounting_status, AccountingStatus::Accounted);
                            store(&book, &mut stored);
                            if payout {
                                model_held -= m.amount + m.fee;
                            } else {
                                m.fee = model_deposit_fee(received);
                                m.amount = received;
                                model_available += received - m.fee;
                            }
                            m.order = decided.order;
                        }
                        Err(refusal) => {
                            prop_assert!(!legal, "a legal completion was refused: {}", refusal);
                        }
                    }
                }
                Op::Fail(i) => {
                    let count = orders.len();
                    let m = &mut orders[i % count];
                    let request = StatusChange::new(PaymentStatus::Failed, "failed", n as i64);
                    let legal = m.order.payment_status.can_become(PaymentStatus::Failed);
                    let mut book = load(&needs_to_change(&m.order, &request), &stored);
                    match change(&m.order, &request, &mut book) {
                        Ok(decided) => {
                            prop_assert!(legal);
                            store(&book, &mut stored);
                            if m.order.transaction_type == TransactionType::Expense {
                                model_held -= m.amount + m.fee;
                                model_available += m.amount + m.fee;
                            }
                            m.order = decided.order;
                        }
                        Err(_) => prop_assert!(!legal),
                    }
                }
                Op::Refund(i) => {
                    let count = orders.len();
                    let m = &mut orders[i % count];
                    let request = StatusChange::new(PaymentStatus::Refund, "refund", n as i64);
                    let legal = m.order.payment_status.can_become(PaymentStatus::Refund)
                        && m.order.transaction_type == TransactionType::Income;
                    let covered = model_available >= m.amount - m.fee;
                    let mut book = load(&needs_to_change(&m.order, &request), &stored);
                    match change(&m.order, &request, &mut book) {
                        Ok(decided) => {
                            prop_assert!(legal && covered);
                            store(&book, &mut stored);
                            model_available -= m.amount - m.fee;
                            m.order = decided.order;
                        }
                        Err(Refusal::InsufficientBalance) => prop_assert!(legal && !covered),
                        Err(_) => prop_assert!(!legal),
                    }
                }
            }
            let available = stored.balance(&available()).unwrap_or(Decimal::ZERO);
            let held = stored.balance(&held()).unwrap_or(Decimal::ZERO);
            prop_assert_eq!(available, model_available);
            prop_assert_eq!(held, model_held);
            prop_assert!(!available.is_sign_negative() || available.is_zero());
            prop_assert!(!held.is_sign_negative() || held.is_zero());
        }
    }
}

// ---- deciding against a balance read without a lock ----

#[test]
fn a_book_knows_the_starting_balances_its_decisions_hold_for() {
    let mut book = Book::new();
    book.set_balance(available(), dec("100"));
    book.set_balance(held(), dec("0"));
    for (uid, amount) in [("p1", "30"), ("p2", "50")] {
        let order = payout(uid, amount, "1");
        assert!(matches!(
            create(order, None, &mut book),
            Ok(Created::New { .. })
        ));
    }
    // 82 held: any starting balance of at least 82 accepts both the same way.
    let conditions = book.conditions();
    let of = |account: Account| conditions.iter().find(|c| c.account == account).cloned();
    let available_condition = of(available()).unwrap();
    assert_eq!(available_condition.moved, dec("-82"));
    assert_eq!(available_condition.at_least, Some(dec("82")));
    assert_eq!(available_condition.at_most, None);
    assert!(available_condition.holds_for(dec("82")));
    assert!(!available_condition.holds_for(dec("81.99")));
    assert_eq!(of(held()).unwrap().moved, dec("82"));

    // A refused payout holds for every balance at which it would still not fit: 18 left after
    // the two, 41 asked, so any starting balance below 123 (and at least 82) decides alike.
    let refused = payout("p3", "40", "1");
    assert_eq!(
        create(refused, None, &mut book),
        Err(Refusal::InsufficientBalance)
    );
    let available_condition = book
        .conditions()
        .into_iter()
        .find(|c| c.account == available());
    let available_condition = available_condition.unwrap();
    assert_eq!(available_condition.below, Some(dec("123")));
    assert!(available_condition.holds_for(dec("122.99")));
    assert!(!available_condition.holds_for(dec("123")));
    assert!(!available_condition.holds_for(dec("81.99")));

    // A failed accounting's reason names the balance it would have left: it holds for the
    // balance it was decided against only.
    let mut book = Book::new();
    book.set_balance(held(), dec("5"));
    let payout = Order {
        payment_status: PaymentStatus::Processing,
        ..payout("s1", "30", "1")
    };
    let request = StatusChange::new(PaymentStatus::Completed, "paid", 10);
    book.set_posted(
        &needs_to_change(&payout, &request).entry_keys,
        &HashSet::new(),
    );
    let settled = change(&payout, &request, &mut book).unwrap();
    assert_eq!(settled.order.accounting_status, AccountingStatus::Failed);
    let held_condition = book.conditions().into_iter().find(|c| c.account == held());
    let held_condition = held_condition.unwrap();
    assert!(held_condition.holds_for(dec("5")));
    assert!(!held_condition.holds_for(dec("5.01")));
    assert!(!held_condition.holds_for(dec("4.99")));

    // An account looked at and neither moved nor checked sets no condition.
    let mut untouched = Book::new();
    untouched.set_balance(available(), dec("5"));
    assert!(untouched.conditions().is_empty());
}

#[derive(Debug, Clone)]
enum GroupOp {
    Payout(u32),
    /// A pending deposit of this many cents completed.
    Credit(u32),
    /// A completed deposit of this many cents refunded.
    Refund(u32),
    /// A payout of this many cents, held before, completed (its hold settled).
    Settle(u32),
    /// A payout of this many cents, held before, failed (its hold released).
    Release(u32),
}

fn group_op() -> impl Strategy<Value = GroupOp> {
    prop_oneof![
        3 => (1u32..50_000).prop_map(GroupOp::Payout),
        1 => (1u32..50_000).prop_map(GroupOp::Credit),
        1 => (1u32..50_000).prop_map(GroupOp::Refund),
        1 => (1u32..50_000).prop_map(GroupOp::Settle),
        1 => (1u32..50_000).prop_map(GroupOp::Release),
    ]
}

/// The orders of a group, made once: the same requests are decided against different books.
fn group_requests(ops: &[GroupOp]) -> Vec<(Order, Option<StatusChange>)> {
    ops.iter()
        .enumerate()
        .map(|(n, op)| {
            let uid = format!("g{n}");
            match op {
                GroupOp::Payout(cents) => {
                    let amount = Decimal::new((*cents).into(), 2);
                    (payout(&uid, &amount.to_string(), "0.25"), None)
                }
                GroupOp::Credit(cents) => {
                    let amount = Decimal::new((*cents).into(), 2);
                    let change = StatusChange::new(PaymentStatus::Completed, "paid", 20)
                        .with_final_amount(amount);
                    (deposit(&uid, &amount.to_string()), Some(change))
                }
                GroupOp::Refund(cents) => {
                    let amount = Decimal::new((*cents).into(), 2);
                    let mut scratch = Book::new();
                    scratch.set_balance(available(), Decimal::ZERO);
                    let pending = deposit(&uid, &amount.to_string());
                    let paid = StatusChange::new(PaymentStatus::Completed, "paid", 10);
                    let mut scratch = load(&needs_to_change(&pending, &paid), &scratch);
                    let completed = change(&pending, &paid, &mut scratch).unwrap().order;
                    let refund = StatusChange::new(PaymentStatus::Refund, "refund", 20);
                    (completed, Some(refund))
                }
                GroupOp::Settle(cents) | GroupOp::Release(cents) => {
                    let amount = Decimal::new((*cents).into(), 2);
                    let held = Order {
                        payment_status: PaymentStatus::Processing,
                        accounting_status: AccountingStatus::Delivered,
                        ..payout(&uid, &amount.to_string(), "0.25")
                    };
                    let to = match op {
                        GroupOp::Settle(_) => PaymentStatus::Completed,
                        _ => PaymentStatus::Failed,
                    };
                    (held, Some(StatusChange::new(to, "upstream", 20)))
                }
            }
        })
        .collect()
}

/// What one request of a group came to: the entry it posts and the order as it leaves it.
type GroupOutcome = Result<(Option<PlannedEntry>, Order), Refusal>;

/// Decides a group in order against starting balances `available` and `held`: each request's
/// outcome, and the book it leaves.
fn decide_group(
    requests: &[(Order, Option<StatusChange>)],
    available_start: Decimal,
    held_start: Decimal,
) -> (Vec<GroupOutcome>, Book) {
    let mut needs = Needs::default();
    for (order, change) in requests {
        needs.extend(match change {
            None => needs_to_create(order),
            Some(change) => needs_to_change(order, change),
        });
    }
    let mut stored = Book::new();
    stored.set_balance(available(), available_start);
    stored.set_balance(held(), held_start);
    let mut book = load(&needs, &stored);
    let outcomes = requests
        .iter()
        .map(|(order, request)| match request {
            None => create(order.clone(), None, &mut book).map(|created| match created {
                Created::New { order, hold } => (hold, order),
                Created::Existing(order) => (None, order),
            }),
            Some(request) => {
                change(order, request, &mut book).map(|changed| (changed.entry, changed.order))
            }
        })
        .collect();
    (outcomes, book)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For starting balances within a group's conditions (sampled at and around each bound),
    /// the group decides the same (the same refusals, orders, reasons and entries), each
    /// merchant balance shifted by the difference; just below an accepting group's lowest
    /// balance, it does not (the bound is tight, so a lock-last writer retries only when it
    /// must).
    #[test]
    fn decisions_hold_for_every_balance_within_their_conditions(
        ops in proptest::collection::vec(group_op(), 1..20),
        read in (0u32..200_000, 0u32..200_000),
        other in (0u32..200_000, 0u32..200_000),
    ) {
        let requests = group_requests(&ops);
        let read = (Decimal::new(read.0.into(), 2), Decimal::new(read.1.into(), 2));
        let (outcomes, book) = decide_group(&requests, read.0, read.1);
        let conditions = book.conditions();
        let condition = |account: Account| conditions.iter().find(|c| c.account == account).cloned();
        let (on_available, on_held) = (condition(available()), condition(held()));
        let cent = dec("0.01");
        let near = |c: &Option<Condition>| -> Vec<Decimal> {
            let Some(c) = c else { return Vec::new() };
            [c.at_least, c.at_most, c.below]
                .into_iter()
                .flatten()
                .flat_map(|bound| [bound - cent, bound, bound + cent])
                .collect()
        };
        let mut candidates = vec![(Decimal::new(other.0.into(), 2), Decimal::new(other.1.into(), 2))];
        candidates.extend(near(&on_available).into_iter().map(|a| (a, read.1)));
        candidates.extend(near(&on_held).into_iter().map(|h| (read.0, h)));
        for (a, h) in candidates.into_iter().filter(|(a, h)| !a.is_sign_negative() && !h.is_sign_negative()) {
            let within = on_available.as_ref().is_none_or(|c| c.holds_for(a))
                && on_held.as_ref().is_none_or(|c| c.holds_for(h));
            let (again, again_book) = decide_group(&requests, a, h);
            if within {
                let shift = |account: &Account| {
                    if *account == available() { a - read.0 } else if *account == held() { h - read.1 } else { Decimal::ZERO }
                };
                prop_assert_eq!(again.len(), outcomes.len());
                for (x, y) in outcomes.iter().zip(&again) {
                    match (x, y) {
                        (Ok((x_entry, x_order)), Ok((y_entry, y_order))) => {
                            prop_assert_eq!(x_order, y_order);
                            prop_assert_eq!(x_entry.as_ref().map(|p| &p.entry), y_entry.as_ref().map(|p| &p.entry));
                            if let (Some(x), Some(y)) = (x_entry, y_entry) {
                                for ((posting, before), after) in x.entry.postings.iter().zip(&x.after).zip(&y.after) {
                                    prop_assert_eq!(before.map(|b| b + shift(&posting.account)), *after);
                                }
                            }
                        }
                        (Err(x), Err(y)) => prop_assert_eq!(x, y),
                        _ => prop_assert!(false, "decided otherwise from ({}, {}) within its conditions", a, h),
                    }
                }
                for c in &conditions {
                    let ended = again_book.balance(&c.account).unwrap();
                    prop_assert_eq!(ended, c.loaded + shift(&c.account) + c.moved);
                }
            } else if outcomes.iter().all(|o| o.is_ok()) && (a < read.0 && h == read.1) {
                // Below an accepting group's bound one of its debits no longer fits.
                let kind = |o: &GroupOutcome| o.as_ref().map(|(_, order)| order.accounting_status).ok();
                let same = again.iter().zip(&outcomes).all(|(x, y)| kind(x) == kind(y));
                prop_assert!(!same, "a balance below the bound decided the same");
            }
        }
    }
}
