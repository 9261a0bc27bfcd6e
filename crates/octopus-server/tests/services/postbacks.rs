//! Postback handling: a signed postback that reports a deposit's money completes it and
//! credits the merchant once; the same postback again changes nothing; one that reports an
//! impossible amount changes nothing and is answered as impossible.

use octopus_domain::PaymentStatus;
use octopus_server::services::upstream::{confirm_deposit, Confirmed, PostbackOutcome};
use serde_json::Value;

use crate::setup::{d, held_postback, Gateway};

/// A deposit of 6000 MMK on `pk-mm` whose payer confirmed `transaction_id` before the
/// provider saw the transfer; the provider then sees it and keeps its postback.
async fn confirmed_deposit(
    gw: &Gateway,
    sim: &octopus_paykassma_sim::Sim,
    id: &str,
    transaction_id: &str,
) -> octopus_domain::Order {
    let (order, _) = gw.create(&gw.deposit(id, "6000.00")).await.unwrap();
    assert_eq!(
        (order.channel.as_str(), order.payment_status),
        ("pk-mm", PaymentStatus::Pending)
    );
    let answer = confirm_deposit(&gw.services, &gw.channel("pk-mm"), &order, transaction_id)
        .await
        .unwrap();
    assert!(matches!(answer, Confirmed::Processing { .. }));
    sim.transfer(transaction_id, 6000, "MMK");
    gw.order(&order.payment_uid).await
}

#[tokio::test]
async fn a_postback_credits_a_deposit_once_however_often_it_comes() {
    let gw = Gateway::start().await;
    let pk = gw.paykassma("pk-mm", 10, 100_000_000).await;
    let order = confirmed_deposit(&gw, &pk, "pb-1", "TXONE").await;
    assert_eq!(order.payment_status, PaymentStatus::Processing);
    assert_eq!(gw.balance().await, (d("0"), d("0")));
    assert!(gw.callbacks_woken());
    let postback = held_postback(&pk, 0);

    let outcomes = gw.postback("pk-mm", &postback).await;
    assert!(
        matches!(&outcomes[..], [PostbackOutcome::Applied(uid)] if *uid == order.payment_uid),
        "{outcomes:?}"
    );
    let done = gw.order(&order.payment_uid).await;
    assert_eq!(done.payment_status, PaymentStatus::Completed);
    assert_eq!(done.final_amount, d("6000"));
    assert_eq!(gw.balance().await, (d("6000"), d("0")));
    assert!(gw.callbacks_woken());

    for _ in 0..3 {
        let outcomes = gw.postback("pk-mm", &postback).await;
        assert!(
            matches!(&outcomes[..], [PostbackOutcome::AlreadyApplied(uid)] if *uid == order.payment_uid),
            "{outcomes:?}"
        );
    }
    assert!(!gw.callbacks_woken(), "a repeat changes no order");
    assert_eq!(gw.balance().await, (d("6000"), d("0")), "credited once");
    assert_eq!(
        gw.times(&order.payment_uid, PaymentStatus::Completed).await,
        1
    );
    gw.assert_ledger_sound().await;
}

/// An order without a notify_url queues no callback when it changes, and wakes no
/// dispatcher for it.
#[tokio::test]
async fn a_change_of_an_order_without_a_notify_url_wakes_no_dispatcher() {
    let gw = Gateway::start().await;
    let pk = gw.paykassma("pk-mm", 10, 100_000_000).await;
    let mut request = gw.deposit("pb-silent", "6000.00");
    request.notify_url = None;
    let (order, _) = gw.create(&request).await.unwrap();
    gw.callbacks_woken();
    let answer = confirm_deposit(&gw.services, &gw.channel("pk-mm"), &order, "TXSILENT")
        .await
        .unwrap();
    assert!(matches!(answer, Confirmed::Processing { .. }));
    pk.transfer("TXSILENT", 6000, "MMK");
    let outcomes = gw.postback("pk-mm", &held_postback(&pk, 0)).await;
    assert!(
        matches!(&outcomes[..], [PostbackOutcome::Applied(uid)] if *uid == order.payment_uid),
        "{outcomes:?}"
    );
    assert_eq!(
        gw.order(&order.payment_uid).await.payment_status,
        PaymentStatus::Completed
    );
    assert_eq!(gw.balance().await, (d("6000"), d("0")));
    assert!(!gw.callbacks_woken(), "nothing to report, nobody woken");
}

#[tokio::test]
async fn a_postback_with_an_impossible_amount_changes_nothing() {
    let gw = Gateway::start().await;
    let pk = gw.paykassma("pk-mm", 10, 100_000_000).await;
    let order = confirmed_deposit(&gw, &pk, "pb-2", "TXTWO").await;
    gw.callbacks_woken();
    let genuine = held_postback(&pk, 0);

    // The same postback, validly signed, reporting a thousandth of a kyat more.
    for amount in ["6000.001", "-6000"] {
        let mut forged = genuine.clone();
        forged["additional_data"][0]["amount"] = Value::String(amount.into());
        let signed = serde_json::to_string(&forged["additional_data"]).unwrap();
        forged["signature"] = Value::String(pk.postback_signature(&signed));
        let outcomes = gw.postback("pk-mm", &forged).await;
        assert!(
            matches!(&outcomes[..], [PostbackOutcome::Impossible(Some(uid), _)] if *uid == order.payment_uid),
            "{amount}: {outcomes:?}"
        );
        let now = gw.order(&order.payment_uid).await;
        assert_eq!(now.payment_status, PaymentStatus::Processing, "{amount}");
        assert_eq!(now.final_amount, d("6000"));
        assert_eq!(gw.balance().await, (d("0"), d("0")), "{amount}");
    }
    assert!(!gw.callbacks_woken(), "no order changed");
    assert_eq!(
        gw.times(&order.payment_uid, PaymentStatus::Completed).await,
        0
    );

    // Nothing was taken by them: the genuine postback still completes the order.
    let outcomes = gw.postback("pk-mm", &genuine).await;
    assert!(
        matches!(&outcomes[..], [PostbackOutcome::Applied(uid)] if *uid == order.payment_uid),
        "{outcomes:?}"
    );
    assert_eq!(gw.balance().await, (d("6000"), d("0")));
    gw.assert_ledger_sound().await;
}
