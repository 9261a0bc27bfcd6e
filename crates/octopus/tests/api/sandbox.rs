//! The sandbox channel moves orders through the state machine: the cashier's pay and fail
//! actions, payouts that complete after the configured delay, the declining test account,
//! expiry to `overdue`, and a late payment that still completes an overdue order.

use std::time::Duration;

use octopus_client::NewOrder;
use octopus_domain::PaymentStatus;

use crate::helpers::{simulate, spawn_app, Backend};

fn statuses(events: &[octopus_domain::OrderEvent]) -> Vec<(PaymentStatus, PaymentStatus)> {
    events
        .iter()
        .map(|e| (e.from_status, e.to_status))
        .collect()
}

async fn sandbox_pay_and_fail_move_deposits_through_the_state_machine(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let paid = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "sb-pay",
            "250.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    let r = simulate(&paid.payment_url, "completed").await;
    assert_eq!(r.status(), 303);
    let order = app.client.get_order("sb-pay").await.unwrap();
    assert_eq!(order.payment_status, "completed");
    assert_eq!(order.final_amount, "250.00");
    assert_eq!(order.expires_at, "", "a completed order no longer expires");
    let events = app
        .storage()
        .order_events(&paid.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(
        statuses(&events),
        vec![
            (PaymentStatus::None, PaymentStatus::Pending),
            (PaymentStatus::Pending, PaymentStatus::Completed)
        ]
    );
    assert!(events
        .iter()
        .all(|e| !e.reason.is_empty() && e.created_at > 0));

    // The state machine refuses a second outcome: completed cannot become failed. The payer
    // sees the page as it is, in words; a client that asks for JSON gets the documented shape.
    let r = simulate(&paid.payment_url, "failed").await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Payment received") && page.contains("nothing was changed"),
        "{page}"
    );
    let r = crate::helpers::http()
        .post(format!("{}/simulate", paid.payment_url))
        .header("Accept", "application/json")
        .form(&[
            ("outcome", "failed"),
            (
                "token",
                &crate::helpers::page_token(&paid.payment_url).await,
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["data"],
        "This order cannot go from completed to failed."
    );
    assert_eq!(
        app.client.get_order("sb-pay").await.unwrap().payment_status,
        "completed"
    );

    let failed = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "sb-fail",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(simulate(&failed.payment_url, "failed").await.status(), 303);
    let order = app.client.get_order("sb-fail").await.unwrap();
    assert_eq!(order.payment_status, "failed");
    assert_eq!(
        order.payment_fail_reason,
        "The payer failed the payment in the sandbox"
    );
    assert_eq!(
        simulate(&failed.payment_url, "completed").await.status(),
        409
    );
    assert_eq!(simulate(&failed.payment_url, "maybe").await.status(), 400);
    let unknown = format!("{}/octopus/pay/{}", app.base_url, "0".repeat(32));
    assert_eq!(simulate(&unknown, "completed").await.status(), 404);
}

async fn sandbox_payouts_complete_after_the_delay_and_the_test_account_fails(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    app.fund(m, "usd", "80.00").await;
    let ok = NewOrder::payout(
        &m.merchant_uid,
        "sb-out",
        "40.00",
        "usd",
        "bank",
        "US",
        "123456789",
        "Jane",
        "Chase",
    );
    let created = app.client.create_order(&ok).await.unwrap();
    assert_eq!(created.payment.payment_status, "pending");
    let declined = NewOrder::payout(
        &m.merchant_uid,
        "sb-declined",
        "40.00",
        "usd",
        "bank",
        "US",
        "4000000000",
        "Jane",
        "Chase",
    );
    app.client.create_order(&declined).await.unwrap();

    let done = app
        .wait_for_status(&app.client, "sb-out", "completed", Duration::from_secs(10))
        .await;
    assert_eq!(done.final_amount, "40.00");
    let failed = app
        .wait_for_status(
            &app.client,
            "sb-declined",
            "failed",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        failed.payment_fail_reason,
        "Sandbox: payouts to test account 4000000000 are always declined"
    );
    let events = app
        .storage()
        .order_events(&created.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().to_status, PaymentStatus::Completed);
    assert_eq!(events.len(), 2, "checked once: {events:?}");
    app.assert_ledger_sound().await;
}

async fn unpaid_deposits_become_overdue_and_a_late_payment_still_completes(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut order = NewOrder::deposit(&m.merchant_uid, "sb-late", "99.00", "php", "gcash", "ph");
    order.ttl = Some("1".into());
    let created = app.client.create_order(&order).await.unwrap();
    assert_eq!(created.payment.ttl, "1");
    let overdue = app
        .wait_for_status(&app.client, "sb-late", "overdue", Duration::from_secs(10))
        .await;
    assert_eq!(overdue.expires_at, "");
    // The payer pays anyway: money is never dropped.
    assert_eq!(
        simulate(&created.payment_url, "completed").await.status(),
        303
    );
    let done = app.client.get_order("sb-late").await.unwrap();
    assert_eq!(done.payment_status, "completed");
    let events = app
        .storage()
        .order_events(&created.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(
        statuses(&events),
        vec![
            (PaymentStatus::None, PaymentStatus::Pending),
            (PaymentStatus::Pending, PaymentStatus::Overdue),
            (PaymentStatus::Overdue, PaymentStatus::Completed),
        ]
    );
    // The late payment is credited (money is never dropped).
    assert_eq!(app.balance(m, "php").await.0, "99".parse().unwrap());
    app.assert_ledger_sound().await;
}

crate::on_both_backends!(
    sandbox_pay_and_fail_move_deposits_through_the_state_machine,
    sandbox_payouts_complete_after_the_delay_and_the_test_account_fails,
    unpaid_deposits_become_overdue_and_a_late_payment_still_completes,
);
