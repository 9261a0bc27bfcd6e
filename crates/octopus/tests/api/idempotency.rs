//! Idempotency: the same `merchant_order_id` with the same parameters returns the original
//! order; with different parameters it is a 409; concurrent identical creates make one order.

use std::collections::HashSet;

use octopus_client::NewOrder;
use serde_json::json;

use crate::helpers::{spawn_app, Backend};

async fn retries_return_the_original_and_conflicts_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let order = NewOrder::deposit(
        &m.merchant_uid,
        "idem-1",
        "100.50",
        "thb",
        "thailand",
        "thailand",
    );
    let first = app.client.create_order(&order).await.unwrap();
    let again = app.client.create_order(&order).await.unwrap();
    assert_eq!(again.payment.payment_uid, first.payment.payment_uid);
    assert_eq!(again.payment_url, first.payment_url);

    // The same amount written differently, and another answer format, are the same order.
    let mut same = order.clone();
    same.amount = "100.5".into();
    same.country = "TH".into();
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &{
            let mut f = same.to_fields();
            f.insert("response_type", "");
            f
        })
        .await
        .unwrap();
    assert_eq!(answer.status, 302);

    // A different amount under the same merchant_order_id is a conflict.
    let mut different = order.clone();
    different.amount = "200.00".into();
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &different.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 409);
    assert_eq!(
        answer.body,
        json!({"result": "error", "data": "Duplicate merchant_order_id: an order with this merchant_order_id exists with different parameters"})
    );
    // So is a payout reusing a deposit's id.
    let payout = NewOrder::payout(
        &m.merchant_uid,
        "idem-1",
        "100.50",
        "thb",
        "thailand",
        "thailand",
        "1",
        "A",
        "004",
    );
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &payout.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 409);

    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 1);
    let stored = app.client.get_order("idem-1").await.unwrap();
    assert_eq!(stored.amount, "100.50");
}

async fn fifty_concurrent_identical_creates_make_one_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let order = NewOrder::deposit(&m.merchant_uid, "race-1", "77.00", "php", "gcash", "ph");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(
            async move { client.create_order(&order).await },
        ));
    }
    let mut uids = HashSet::new();
    for t in tasks {
        let created = t.await.unwrap().expect("every concurrent create succeeds");
        uids.insert(created.payment.payment_uid);
    }
    assert_eq!(uids.len(), 1, "all 50 answers name the same order");
    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 1);
    let events = app
        .storage()
        .order_events(uids.iter().next().unwrap())
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "one creation event");

    // Concurrent creates that differ: exactly one wins, the others are conflicts.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = app.client.clone();
        let mut order = NewOrder::deposit(&m.merchant_uid, "race-2", "1.00", "php", "gcash", "ph");
        order.amount = format!("{}.00", i + 1);
        tasks.push(tokio::spawn(async move {
            client
                .post_signed("/octopus/api/order/new", &order.to_fields())
                .await
                .unwrap()
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 2);
}

async fn floating_amounts_are_unique_among_open_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut finals = HashSet::new();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = app.client.clone();
        let mut order = NewOrder::deposit(
            &m.merchant_uid,
            &format!("float-{i}"),
            "500.00",
            "thb",
            "thailand",
            "TH",
        );
        order.float_precision = Some(if i % 2 == 0 { "2" } else { "-2" }.into());
        tasks.push(tokio::spawn(async move {
            client.create_order(&order).await.unwrap().payment
        }));
    }
    for t in tasks {
        let p = t.await.unwrap();
        let amount: rust_decimal::Decimal = p.amount.parse().unwrap();
        let final_amount: rust_decimal::Decimal = p.final_amount.parse().unwrap();
        let floating: rust_decimal::Decimal = p.floating_amount.parse().unwrap();
        assert_eq!(final_amount, amount + floating);
        assert!(
            floating != rust_decimal::Decimal::ZERO && floating.abs() < rust_decimal::Decimal::ONE
        );
        assert!(
            finals.insert(p.final_amount.clone()),
            "final amount {} given twice",
            p.final_amount
        );
    }
}

crate::on_both_backends!(
    retries_return_the_original_and_conflicts_are_refused,
    fifty_concurrent_identical_creates_make_one_order,
    floating_amounts_are_unique_among_open_orders,
);
