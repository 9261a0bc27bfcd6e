//! Property test of the ledger: random sequences of deposits, payouts, completions, failures
//! and refunds, against the real server and storage, keep every invariant — the balances are
//! exactly what a simple model of the rules says, no balance is ever negative, every entry
//! balances and every cached balance matches the journal.

use std::time::Duration;

use octopus_client::NewOrder;
use octopus_domain::ledger::{FeeRule, FeeSchedule};
use octopus_domain::{PaymentStatus, StatusChange};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rust_decimal::Decimal;

use crate::helpers::{spawn_app_with, test_config, Backend};

#[derive(Debug, Clone)]
enum Op {
    Deposit(u32),
    Payout(u32),
    /// Complete an order; a deposit receives its amount changed by this many cents (the payer
    /// paid more or less), never below one cent.
    Complete(usize, i32),
    Fail(usize),
    Refund(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u32..100_000).prop_map(Op::Deposit),
        3 => (1u32..60_000).prop_map(Op::Payout),
        3 => (any::<usize>(), -5_000i32..500).prop_map(|(i, delta)| Op::Complete(i, delta)),
        1 => any::<usize>().prop_map(Op::Fail),
        1 => any::<usize>().prop_map(Op::Refund),
    ]
}

/// The fee rules restated independently of the gateway's code: deposits pay 2% + 0.10 of what
/// was received (never more than that), payouts 1% + 0.25 of the amount; half away from zero
/// to six places.
fn model_deposit_fee(received: Decimal) -> Decimal {
    let raw = received * Decimal::new(2, 2) + Decimal::new(10, 2);
    raw.round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .min(received)
}

fn model_payout_fee(amount: Decimal) -> Decimal {
    (amount * Decimal::new(1, 2) + Decimal::new(25, 2))
        .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[derive(Debug)]
struct ModelOrder {
    payout: bool,
    amount: Decimal,
    fee: Decimal,
    status: PaymentStatus,
    payment_uid: String,
}

/// The rules, restated as simply as possible: deposits pay 2% + 0.10 (never more than the
/// amount), payouts 1% + 0.25.
fn deposit_rule() -> FeeRule {
    FeeRule::new(Decimal::new(2, 0), Decimal::new(10, 2), Decimal::ZERO, None).unwrap()
}

fn payout_rule() -> FeeRule {
    FeeRule::new(Decimal::ONE, Decimal::new(25, 2), Decimal::ZERO, None).unwrap()
}

async fn run_case(backend: Backend, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut config = test_config();
    config.sandbox_payout_delay = Duration::from_secs(3600); // the model decides how payouts end
    let app = spawn_app_with(backend, config).await;
    let m = app.merchant.clone();
    let storage = app.storage();
    storage
        .set_fee_rule(
            app.owner_id(&m).await,
            &FeeSchedule::parse("*", "receive", deposit_rule()).unwrap(),
            0,
        )
        .await
        .unwrap();
    storage
        .set_fee_rule(
            app.owner_id(&m).await,
            &FeeSchedule::parse("*", "pay", payout_rule()).unwrap(),
            0,
        )
        .await
        .unwrap();
    let (mut available, mut held) = (Decimal::ZERO, Decimal::ZERO);
    let mut orders: Vec<ModelOrder> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let id = format!("p-{step}");
        match op {
            Op::Deposit(cents) => {
                let amount = Decimal::new(cents as i64, 2);
                let order = NewOrder::deposit(
                    &m.merchant_uid,
                    &id,
                    &amount.to_string(),
                    "usd",
                    "card",
                    "US",
                );
                let created = app.client.create_order(&order).await.unwrap();
                let fee = model_deposit_fee(amount);
                prop_assert_eq!(created.payment.fee.parse::<Decimal>().unwrap(), fee);
                orders.push(ModelOrder {
                    payout: false,
                    amount,
                    fee,
                    status: PaymentStatus::Pending,
                    payment_uid: created.payment.payment_uid,
                });
            }
            Op::Payout(cents) => {
                let amount = Decimal::new(cents as i64, 2);
                let fee = model_payout_fee(amount);
                let order = NewOrder::payout(
                    &m.merchant_uid,
                    &id,
                    &amount.to_string(),
                    "usd",
                    "bank",
                    "US",
                    "1",
                    "A",
                    "B",
                );
                let answer = app
                    .client
                    .post_signed("/octopus/api/order/new", &order.to_fields())
                    .await
                    .unwrap();
                if available >= amount + fee {
                    prop_assert_eq!(answer.status, 200, "{}", answer.body);
                    available -= amount + fee;
                    held += amount + fee;
                    let uid = answer.body["data"]["payment"]["payment_uid"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    orders.push(ModelOrder {
                        payout: true,
                        amount,
                        fee,
                        status: PaymentStatus::Pending,
                        payment_uid: uid,
                    });
                } else {
                    prop_assert_eq!(answer.status, 422, "{}", answer.body);
                }
            }
            Op::Complete(i, _) | Op::Fail(i) | Op::Refund(i) if orders.is_empty() => {
                let _ = i;
            }
            Op::Complete(i, delta) => {
                let n = orders.len();
                let o = &mut orders[i % n];
                let received = if o.payout {
                    o.amount
                } else {
                    (o.amount + Decimal::new(delta as i64, 2)).max(Decimal::new(1, 2))
                };
                let change = StatusChange::new(PaymentStatus::Completed, "model", step as i64)
                    .with_final_amount(received);
                let result = storage.change_status(&o.payment_uid, change).await;
                if o.status == PaymentStatus::Pending {
                    prop_assert!(result.is_ok(), "{:?}", result);
                    o.status = PaymentStatus::Completed;
                    if o.payout {
                        held -= o.amount + o.fee;
                    } else {
                        // The fee is on what was received.
                        o.amount = received;
                        o.fee = model_deposit_fee(received);
                        prop_assert_eq!(result.unwrap().fee, o.fee);
                        available += o.amount - o.fee;
                    }
                } else {
                    prop_assert!(result.is_err());
                }
            }
            Op::Fail(i) => {
                let n = orders.len();
                let o = &mut orders[i % n];
                let change =
                    StatusChange::new(PaymentStatus::Failed, "model", step as i64).failing("model");
                let result = storage.change_status(&o.payment_uid, change).await;
                if o.status == PaymentStatus::Pending {
                    prop_assert!(result.is_ok(), "{:?}", result);
                    o.status = PaymentStatus::Failed;
                    if o.payout {
                        held -= o.amount + o.fee;
                        available += o.amount + o.fee;
                    }
                } else {
                    prop_assert!(result.is_err());
                }
            }
            Op::Refund(i) => {
                let n = orders.len();
                let o = &mut orders[i % n];
                let result =
                    octopus_server::services::orders::refund(storage, &o.payment_uid, "model")
                        .await;
                let credited = o.amount - o.fee;
                if !o.payout && o.status == PaymentStatus::Completed && available >= credited {
                    prop_assert!(result.is_ok(), "{:?}", result.err());
                    o.status = PaymentStatus::Refund;
                    available -= credited;
                } else {
                    prop_assert!(result.is_err());
                }
            }
        }
        let (a, h) = app.balance(&m, "usd").await;
        prop_assert_eq!((a, h), (available, held), "after step {}", step);
        prop_assert!(a >= Decimal::ZERO && h >= Decimal::ZERO);
        let report = storage.verify_ledger().await.unwrap();
        prop_assert!(report.is_sound(), "{:?}", report.violations);
    }
    Ok(())
}

fn run(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..30), |ops| {
            runtime.block_on(run_case(backend.clone(), ops))
        })
        .unwrap();
}

#[test]
fn random_ledger_histories_keep_every_invariant_on_sqlite() {
    run(Backend::Sqlite, 64);
}

#[test]
fn random_ledger_histories_keep_every_invariant_on_postgres() {
    if let Some(backend) = Backend::postgres("random_ledger_histories_keep_every_invariant") {
        run(backend, 24);
    }
}
