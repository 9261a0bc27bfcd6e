//! Payout failover: a channel that refuses a payout outright passes it to the next candidate
//! of its route; the order moves there, is sent there, and its routing decision says why.

use octopus_domain::PaymentStatus;

use crate::setup::{d, Gateway, NOW};

#[tokio::test]
async fn a_refused_payout_is_rerouted_to_the_next_channel_and_sent_there() {
    let gw = Gateway::start().await;
    let poor = gw.paykassma("pk-poor", 10, 1_000).await;
    let rich = gw.paykassma("pk-rich", 20, 100_000_000).await;
    gw.fund("20000.00").await;

    let (order, created) = gw.create(&gw.payout("fo-1", "6000.00")).await.unwrap();
    assert!(created);
    assert_eq!(
        (order.channel.as_str(), order.payment_status),
        ("pk-rich", PaymentStatus::Processing)
    );
    let stored = gw.order(&order.payment_uid).await;
    assert_eq!(stored.channel, "pk-rich");
    assert_eq!(stored.payment_status, PaymentStatus::Processing);
    assert_eq!(stored.distribute_rules, order.distribute_rules);
    let rules: serde_json::Value = serde_json::from_str(&stored.distribute_rules).unwrap();
    assert_eq!(rules["chosen"], "pk-rich");
    assert_eq!(
        rules["candidates"],
        serde_json::json!(["pk-poor", "pk-rich"])
    );
    assert_eq!(rules["failovers"][0]["channel"], "pk-poor");
    assert_eq!(rules["failovers"][0]["reason"], "Insufficient balance");
    assert_eq!(
        rules["skipped"]["sandbox"],
        "sandbox: only test keys reach it"
    );
    // Sent to the second upstream only; the first refused it.
    assert_eq!(poor.state()["withdrawals"], serde_json::json!([]));
    assert_eq!(
        rich.state()["withdrawals"][0]["withdrawal_id"],
        order.payment_uid.as_str()
    );
    // Both exchanges are on the order's history, on their channels.
    let (_, exchanges) = gw.storage.upstream_of(&order.payment_uid).await.unwrap();
    let tried: Vec<(&str, &str)> = exchanges
        .iter()
        .map(|e| (e.channel.as_str(), e.operation.as_str()))
        .collect();
    assert_eq!(
        tried,
        [("pk-poor", "withdrawal"), ("pk-rich", "withdrawal")]
    );
    // Held once, on whichever channel; the change was stamped by the services' clock.
    assert_eq!(gw.balance().await, (d("14000"), d("6000")));
    assert_eq!(stored.updated_at, NOW);
    assert!(gw.callbacks_woken(), "a status change wakes the callbacks");
    gw.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_payout_every_channel_refuses_fails_on_the_last_and_its_hold_returns() {
    let gw = Gateway::start().await;
    let poor = gw.paykassma("pk-poor", 10, 1_000).await;
    let poorer = gw.paykassma("pk-poorer", 20, 500).await;
    gw.fund("20000.00").await;

    let (order, _) = gw.create(&gw.payout("fo-2", "6000.00")).await.unwrap();
    assert_eq!(
        (order.channel.as_str(), order.payment_status),
        ("pk-poorer", PaymentStatus::Failed)
    );
    assert_eq!(order.payment_fail_reason, "Insufficient balance");
    let rules: serde_json::Value =
        serde_json::from_str(&gw.order(&order.payment_uid).await.distribute_rules).unwrap();
    assert_eq!(rules["chosen"], "pk-poorer");
    assert_eq!(rules["failovers"][0]["channel"], "pk-poor");
    assert_eq!(
        rules["failovers"].as_array().map(Vec::len),
        Some(1),
        "the last refusal fails the payout rather than being a failover"
    );
    assert_eq!(poor.state()["withdrawals"], serde_json::json!([]));
    assert_eq!(poorer.state()["withdrawals"], serde_json::json!([]));
    assert_eq!(gw.balance().await, (d("20000"), d("0")));
    assert_eq!(gw.times(&order.payment_uid, PaymentStatus::Failed).await, 1);
    gw.assert_ledger_sound().await;
}
