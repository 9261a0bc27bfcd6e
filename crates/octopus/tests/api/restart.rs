//! Orders survive a server restart: the storage is closed and reopened, and every order
//! (with its status and history) is still there.

use std::time::Duration;

use octopus_client::NewOrder;

use crate::helpers::{spawn_app, Backend};

async fn orders_survive_a_server_restart(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let uid = app.merchant.merchant_uid.clone();
    app.fund(&app.merchant, "usd", "5.00").await;
    let mut created = Vec::new();
    for i in 0..20 {
        let order = NewOrder::deposit(
            &uid,
            &format!("keep-{i}"),
            &format!("{}.25", 10 + i),
            "usd",
            "card",
            "US",
        );
        created.push(app.client.create_order(&order).await.unwrap().payment);
    }
    let payout = NewOrder::payout(
        &uid,
        "keep-payout",
        "5.00",
        "usd",
        "bank",
        "US",
        "1",
        "A",
        "B",
    );
    app.client.create_order(&payout).await.unwrap();
    app.wait_for_status(
        &app.client,
        "keep-payout",
        "completed",
        Duration::from_secs(10),
    )
    .await;

    app.restart().await;

    for before in &created {
        let after = app
            .client
            .get_order(&before.merchant_order_id)
            .await
            .unwrap();
        assert_eq!(after.payment_uid, before.payment_uid);
        assert_eq!(after.amount, before.amount);
        assert_eq!(after.payment_status, "pending");
    }
    assert_eq!(
        app.client
            .get_order("keep-payout")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
    assert_eq!(
        app.storage()
            .order_count(app.merchant.merchant_id)
            .await
            .unwrap(),
        22,
        "20 deposits, a payout, its funding"
    );
    // The API key still works after the restart (secrets are read back through the master key),
    // and idempotency still holds.
    let again = NewOrder::deposit(&uid, "keep-0", "10.25", "usd", "card", "US");
    assert_eq!(
        app.client
            .create_order(&again)
            .await
            .unwrap()
            .payment
            .payment_uid,
        created[0].payment_uid
    );
}

/// A payout whose delay runs across a restart is still completed by the new process.
async fn pending_background_work_resumes_after_a_restart(backend: Backend) {
    let mut config = crate::helpers::test_config();
    config.sandbox_payout_delay = Duration::from_millis(1500);
    let mut app = crate::helpers::spawn_app_with(backend, config).await;
    let uid = app.merchant.merchant_uid.clone();
    app.fund(&app.merchant, "usd", "5.00").await;
    let payout = NewOrder::payout(&uid, "resume-1", "5.00", "usd", "bank", "US", "1", "A", "B");
    app.client.create_order(&payout).await.unwrap();
    app.restart().await;
    app.wait_for_status(
        &app.client,
        "resume-1",
        "completed",
        Duration::from_secs(15),
    )
    .await;
}

crate::on_both_backends!(
    orders_survive_a_server_restart,
    pending_background_work_resumes_after_a_restart
);
