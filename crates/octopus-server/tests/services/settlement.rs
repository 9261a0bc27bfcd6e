//! Payout settlement: a payout holds its amount and fee when it is sent; the upstream's word
//! that it was paid posts the hold, a failure (reported later, or a refusal when it is sent)
//! returns it. Each is applied once.

use octopus_domain::ledger::{FeeRule, FeeSchedule};
use octopus_domain::PaymentStatus;
use octopus_server::services::upstream::PostbackOutcome;

use crate::setup::{d, held_postback, Gateway, NOW};

/// 1% on Wavepay payouts, so the hold is amount plus fee.
async fn one_percent_on_payouts(gw: &Gateway) {
    let rule = FeeRule {
        percent: d("1"),
        ..FeeRule::default()
    };
    gw.storage
        .set_fee_rule(
            gw.merchant.merchant.id,
            &FeeSchedule::parse("wavepay", "pay", rule).unwrap(),
            NOW,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_completed_payout_posts_its_hold_and_a_failed_one_returns_it() {
    let gw = Gateway::start().await;
    let pk = gw.paykassma("pk-mm", 10, 100_000_000).await;
    one_percent_on_payouts(&gw).await;
    gw.fund("20000.00").await;

    // Sent: processing, 6000 + 60 held.
    let (paid, _) = gw.create(&gw.payout("st-1", "6000.00")).await.unwrap();
    assert_eq!(paid.payment_status, PaymentStatus::Processing);
    assert_eq!(paid.fee, d("60"));
    assert_eq!(gw.balance().await, (d("13940"), d("6060")));
    assert!(gw.callbacks_woken());

    // Paid upstream: the hold is posted, the available balance stays where the hold left it.
    assert!(pk.finish_withdrawal(&paid.payment_uid, 1));
    let outcomes = gw.postback("pk-mm", &held_postback(&pk, 0)).await;
    assert!(
        matches!(&outcomes[..], [PostbackOutcome::Applied(uid)] if *uid == paid.payment_uid),
        "{outcomes:?}"
    );
    let done = gw.order(&paid.payment_uid).await;
    assert_eq!(done.payment_status, PaymentStatus::Completed);
    assert_eq!(done.final_amount, d("6000"));
    assert_eq!(gw.balance().await, (d("13940"), d("0")));
    assert!(gw.callbacks_woken());

    // Failed upstream: the hold comes back whole, fee included.
    let (rejected, _) = gw.create(&gw.payout("st-2", "3000.00")).await.unwrap();
    assert_eq!(gw.balance().await, (d("10910"), d("3030")));
    assert!(pk.finish_withdrawal(&rejected.payment_uid, 5));
    let outcomes = gw.postback("pk-mm", &held_postback(&pk, 1)).await;
    assert!(
        matches!(&outcomes[..], [PostbackOutcome::Applied(uid)] if *uid == rejected.payment_uid),
        "{outcomes:?}"
    );
    let failed = gw.order(&rejected.payment_uid).await;
    assert_eq!(failed.payment_status, PaymentStatus::Failed);
    assert_eq!(failed.payment_fail_reason, "Paykassma: withdrawal rejected");
    assert_eq!(gw.balance().await, (d("13940"), d("0")));

    // Told again, either outcome: nothing moves twice.
    for (i, uid) in [(0, &paid.payment_uid), (1, &rejected.payment_uid)] {
        let outcomes = gw.postback("pk-mm", &held_postback(&pk, i)).await;
        assert!(
            matches!(&outcomes[..], [PostbackOutcome::AlreadyApplied(u)] if u == uid),
            "{outcomes:?}"
        );
    }
    assert_eq!(gw.balance().await, (d("13940"), d("0")));
    assert_eq!(
        gw.times(&paid.payment_uid, PaymentStatus::Completed).await,
        1
    );
    assert_eq!(
        gw.times(&rejected.payment_uid, PaymentStatus::Failed).await,
        1
    );
    gw.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_payout_the_upstream_refuses_when_sent_fails_and_releases_its_hold() {
    let gw = Gateway::start().await;
    let pk = gw.paykassma("pk-mm", 10, 5_000).await;
    one_percent_on_payouts(&gw).await;
    gw.fund("20000.00").await;

    let (order, _) = gw.create(&gw.payout("st-3", "6000.00")).await.unwrap();
    assert_eq!(
        (order.channel.as_str(), order.payment_status),
        ("pk-mm", PaymentStatus::Failed)
    );
    assert_eq!(order.payment_fail_reason, "Insufficient balance");
    assert_eq!(
        gw.balance().await,
        (d("20000"), d("0")),
        "the hold returned"
    );
    assert_eq!(pk.state()["withdrawals"], serde_json::json!([]));
    assert!(gw.callbacks_woken());

    // The upstream's balance allows a smaller one: that one is sent and held.
    let (small, _) = gw.create(&gw.payout("st-4", "4000.00")).await.unwrap();
    assert_eq!(small.payment_status, PaymentStatus::Processing);
    assert_eq!(gw.balance().await, (d("15960"), d("4040")));
    gw.assert_ledger_sound().await;
}
