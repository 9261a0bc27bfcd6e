//! Paykassma (Wavepay, Myanmar) through the project's simulator over real HTTP, on both
//! backends: a deposit from order/new through create, the payer's confirmation (activate) and
//! the postback to completed, credited and called back; short payments; a transfer found later
//! and reported by postback; duplicate, reversed and wrongly signed postbacks; failover on 5xx
//! and timeouts; payouts through withdrawal create and postback (success, failure, insufficient
//! upstream balance); the account number check; a late success after expiry still credited.

use std::time::{Duration, Instant};

use octopus_client::NewOrder;
use octopus_paykassma_sim::Faults;
use rust_decimal::Decimal;

use crate::helpers::paykassma::PkSim;
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{http, spawn_app, Backend, TestApp};

const WAIT: Duration = Duration::from_secs(15);

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn wavepay(merchant_uid: &str, id: &str, amount: &str) -> NewOrder {
    NewOrder::deposit(merchant_uid, id, amount, "mmk", "wavepay", "myanmar")
}

/// The payer submits the transaction ID on the cashier page; returns the page's HTML.
async fn confirm(payment_url: &str, transaction_id: &str) -> String {
    let token = crate::helpers::page_token(payment_url).await;
    let r = http()
        .post(format!("{payment_url}/confirm"))
        .form(&[("transaction_id", transaction_id), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn wait_status(app: &TestApp, id: &str, status: &str) -> octopus_client::Payment {
    app.wait_for_status(&app.live_client, id, status, WAIT)
        .await
}

async fn deposit_through_create_activate_and_postback(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let mut order = wavepay(&m.merchant_uid, "pk-1", "6000.00");
    order.notify_url = Some(receiver.url.clone());
    let created = app.live_client.create_order(&order).await.unwrap();
    assert_eq!(created.payment.channel, "pk-mm");
    assert_eq!(created.payment.payment_status, "pending");

    // The cashier page shows the wallet to pay to, as Paykassma gave it.
    let page = http()
        .get(&created.payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let account = pk.state()["calls"][0]["body"]["label"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        account, created.payment.payment_uid,
        "the order's label upstream is its payment_uid"
    );
    assert!(page.contains("id=\"pay-account\">09"), "{page}");
    assert!(page.contains("name=\"transaction_id\""));

    pk.sim.transfer("5750E9FBB3", 6000, "MMK");
    let page = confirm(&created.payment_url, "5750E9FBB3").await;
    assert!(page.contains("Payment received"), "{page}");
    let done = wait_status(&app, "pk-1", "completed").await;
    assert_eq!(done.final_amount, "6000.00");
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"));

    // The postback that follows is acknowledged and changes nothing more.
    let deadline = Instant::now() + WAIT;
    while pk.state()["postbacks"][0]["acknowledged"] != true {
        assert!(
            Instant::now() < deadline,
            "postback not acknowledged: {}",
            pk.state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].json["payment_status"], "completed");
    // The postback was handled (acknowledged above), and callbacks are queued with the change
    // they report: the outbox holds every callback there will be. Once the order's callbacks
    // are all acknowledged, the receiver has had each of them.
    app.wait_for_notify_with(&app.live_client, "pk-1", "completed", WAIT)
        .await;
    let queued = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "one status change, one callback");
    assert_eq!(
        receiver.received().len(),
        1,
        "one status change, one callback"
    );

    // Every exchange is on the order's history, without the plugin secret.
    let (instructions, exchanges) = app
        .storage()
        .upstream_of(&created.payment.payment_uid)
        .await
        .unwrap();
    // The instructions come back typed; as JSON they name the account.
    let instructions = instructions.expect("pay instructions are stored").to_json();
    assert!(instructions.contains("\"account\""));
    let ops: Vec<&str> = exchanges.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["create", "activate", "postback"]);
    assert!(
        exchanges
            .iter()
            .all(|e| !e.request.contains("plugin-secret")),
        "{exchanges:?}"
    );
    assert!(exchanges[0].request.contains("?secret=***"));
    app.assert_ledger_sound().await;
}

async fn a_short_payment_waits_for_the_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-short", "6000.00"))
        .await
        .unwrap();
    pk.sim.transfer("TXA", 5000, "MMK");
    let page = confirm(&created.payment_url, "TXA").await;
    assert!(page.contains("1000.00 MMK is still missing"), "{page}");
    assert_eq!(
        app.live_client
            .get_order("pk-short")
            .await
            .unwrap()
            .payment_status,
        "processing"
    );
    pk.sim.transfer("TXB", 1000, "MMK");
    confirm(&created.payment_url, "TXB").await;
    let done = wait_status(&app, "pk-short", "completed").await;
    assert_eq!(done.final_amount, "6000.00");
    // A transaction ID longer than 11 characters is refused before Paykassma is asked.
    let other = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-long", "100.00"))
        .await
        .unwrap();
    let token = crate::helpers::page_token(&other.payment_url).await;
    let r = http()
        .post(format!("{}/confirm", other.payment_url))
        .form(&[("transaction_id", "123456789012"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// The payer confirms before Paykassma sees the transfer; its postback completes the order,
/// once, however often it is repeated.
async fn a_transfer_found_later_is_credited_once_by_repeated_postbacks(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    pk.sim.set_faults(Faults {
        postback_duplicates: 5,
        ..Faults::default()
    });
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-later", "6000.00"))
        .await
        .unwrap();
    let page = confirm(&created.payment_url, "TXLATE").await;
    assert!(page.contains("being checked"), "{page}");
    assert_eq!(
        app.live_client
            .get_order("pk-later")
            .await
            .unwrap()
            .payment_status,
        "processing"
    );
    pk.sim.transfer("TXLATE", 6000, "MMK");
    wait_status(&app, "pk-later", "completed").await;
    let deadline = Instant::now() + WAIT;
    // All six deliveries (the postback and its five repeats) handled: each is kept on the
    // order's history once applied (or found applied already).
    loop {
        let (_, exchanges) = app
            .storage()
            .upstream_of(&created.payment.payment_uid)
            .await
            .unwrap();
        let handled = exchanges
            .iter()
            .filter(|e| e.operation == "postback")
            .count();
        if handled >= 6 {
            break;
        }
        assert!(Instant::now() < deadline, "{handled} of 6: {}", pk.state());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"), "credited once");
    let events = app
        .storage()
        .order_events(&created.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.to_status.as_str() == "completed")
            .count(),
        1
    );
    app.assert_ledger_sound().await;
}

async fn postbacks_in_reverse_order_and_with_a_bad_signature(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    pk.sim.set_faults(Faults {
        hold_postbacks: true,
        ..Faults::default()
    });
    let a = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-a", "100.00"))
        .await
        .unwrap();
    let b = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-b", "200.00"))
        .await
        .unwrap();
    confirm(&a.payment_url, "TA").await;
    confirm(&b.payment_url, "TB").await;
    pk.sim.transfer("TA", 100, "MMK");
    pk.sim.transfer("TB", 200, "MMK");
    pk.sim.release(true);
    wait_status(&app, "pk-a", "completed").await;
    wait_status(&app, "pk-b", "completed").await;

    // A postback signed with another key is refused and changes nothing.
    pk.sim.set_faults(Faults {
        postback_wrong_signature: true,
        ..Faults::default()
    });
    let c = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-c", "300.00"))
        .await
        .unwrap();
    confirm(&c.payment_url, "TC").await;
    pk.sim.transfer("TC", 300, "MMK");
    let deadline = Instant::now() + WAIT;
    while pk.state()["postbacks"][2]["attempts"].as_u64().unwrap_or(0) < 3 {
        assert!(Instant::now() < deadline, "{}", pk.state());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pk.state()["postbacks"][2]["acknowledged"], false);
    let order = app.live_client.get_order("pk-c").await.unwrap();
    assert_eq!(order.payment_status, "processing");
    assert_eq!(app.balance(&m, "mmk").await.0, d("300"));
}

/// A channel whose upstream answers 5xx or not at all on creation is passed over for the next.
async fn a_failing_upstream_fails_over_to_the_next_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let first = PkSim::start(&app, "pk-first", 10).await;
    let _second = PkSim::start(&app, "pk-second", 20).await;
    first.sim.set_faults(Faults {
        create_5xx: 1,
        create_timeout: 1,
        ..Faults::default()
    });
    for (id, why) in [
        ("pk-f1", "Paykassma answered HTTP 500"),
        ("pk-f2", "Paykassma did not answer in time"),
    ] {
        let created = app
            .live_client
            .create_order(&wavepay(&m.merchant_uid, id, "100.00"))
            .await
            .unwrap();
        assert_eq!(created.payment.channel, "pk-second", "{id}");
        let rules: serde_json::Value = serde_json::from_str(
            &app.live_client
                .get_order(id)
                .await
                .unwrap()
                .distribute_rules,
        )
        .unwrap();
        assert_eq!(rules["chosen"], "pk-second");
        assert_eq!(rules["failovers"][0]["channel"], "pk-first");
        assert_eq!(rules["failovers"][0]["reason"], why);
    }
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-f3", "100.00"))
        .await
        .unwrap();
    assert_eq!(created.payment.channel, "pk-first", "healthy again");
}

async fn payouts_through_withdrawal_create_and_postbacks(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    app.fund(&m, "mmk", "20000.00").await;
    let payout = |id: &str, to: &str| {
        NewOrder::payout(
            &m.merchant_uid,
            id,
            "6000.00",
            "mmk",
            "wavepay",
            "myanmar",
            to,
            "Daw Aye",
            "wavepay",
        )
    };

    let sent = app
        .live_client
        .create_order(&payout("pk-out", "01642234663"))
        .await
        .unwrap();
    assert_eq!(sent.payment.channel, "pk-mm");
    assert_eq!(sent.payment.payment_status, "processing");
    let uid = sent.payment.payment_uid.clone();
    assert_eq!(pk.state()["withdrawals"][0]["withdrawal_id"], uid.as_str());
    assert_eq!(app.balance(&m, "mmk").await, (d("14000"), d("6000")));
    assert!(pk.sim.finish_withdrawal(&uid, 1));
    wait_status(&app, "pk-out", "completed").await;
    assert_eq!(app.balance(&m, "mmk").await, (d("14000"), d("0")));

    let rejected = app
        .live_client
        .create_order(&payout("pk-out-2", "09123456789"))
        .await
        .unwrap();
    assert!(pk.sim.finish_withdrawal(&rejected.payment.payment_uid, 5));
    let order = wait_status(&app, "pk-out-2", "failed").await;
    assert_eq!(order.payment_fail_reason, "Paykassma: withdrawal rejected");
    assert_eq!(
        app.balance(&m, "mmk").await,
        (d("14000"), d("0")),
        "the hold came back"
    );

    // An account number Paykassma cannot pay to is the merchant's to fix (the sandbox, which
    // would take it, is disabled here).
    app.set_channel_enabled("sandbox", false).await;
    let answer = app
        .live_client
        .post_signed(
            "/octopus/api/order/new",
            &payout("pk-out-3", "12345").to_fields(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.body["data"]["details"],
        "The 'to' field must be a wavepay account number of 10 to 11 digits."
    );
    app.assert_ledger_sound().await;
}

async fn insufficient_upstream_balance_fails_the_payout(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let _pk = PkSim::start(&app, "pk-mm", 10).await;
    app.fund(&m, "mmk", "1000000000.00").await;
    // The only channel left (the sandbox would take the payout as the next candidate).
    app.set_channel_enabled("sandbox", false).await;
    let big = NewOrder::payout(
        &m.merchant_uid,
        "pk-big",
        "200000000.00",
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "U Ba",
        "wavepay",
    );
    let sent = app.live_client.create_order(&big).await.unwrap();
    assert_eq!(sent.payment.payment_status, "failed");
    assert_eq!(sent.payment.payment_fail_reason, "Insufficient balance");
    assert_eq!(app.balance(&m, "mmk").await, (d("1000000000"), d("0")));
    app.assert_ledger_sound().await;
}

async fn a_late_success_after_expiry_is_still_credited(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let mut order = wavepay(&m.merchant_uid, "pk-late", "500.00");
    order.ttl = Some("1".into());
    let created = app.live_client.create_order(&order).await.unwrap();
    wait_status(&app, "pk-late", "overdue").await;
    pk.sim.transfer("TXL", 500, "MMK");
    confirm(&created.payment_url, "TXL").await;
    wait_status(&app, "pk-late", "completed").await;
    assert_eq!(app.balance(&m, "mmk").await.0, d("500"));
    let events = app
        .storage()
        .order_events(&created.payment.payment_uid)
        .await
        .unwrap();
    assert!(
        events.last().unwrap().reason.contains("late"),
        "{:?}",
        events.last()
    );
}

/// A channel that refuses a payout outright (here: its Paykassma balance is short) passes it
/// to the next candidate; the order moves there and the decision says why.
async fn a_refused_payout_fails_over_to_the_next_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let _poor = PkSim::start(&app, "pk-poor", 10).await;
    let rich = PkSim::start(&app, "pk-rich", 20).await;
    app.fund(&m, "mmk", "1000000000.00").await;
    // Both simulators start with 100,000,000 MMK: the first is drained by an earlier payout.
    let first = NewOrder::payout(
        &m.merchant_uid,
        "pk-fo-0",
        "90000000.00",
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "U Ba",
        "wavepay",
    );
    assert_eq!(
        app.live_client
            .create_order(&first)
            .await
            .unwrap()
            .payment
            .channel,
        "pk-poor"
    );
    let half = NewOrder::payout(
        &m.merchant_uid,
        "pk-fo",
        "50000000.00",
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "U Ba",
        "wavepay",
    );
    let sent = app.live_client.create_order(&half).await.unwrap();
    assert_eq!(
        (
            sent.payment.channel.as_str(),
            sent.payment.payment_status.as_str()
        ),
        ("pk-rich", "processing")
    );
    let rules: serde_json::Value = serde_json::from_str(
        &app.live_client
            .get_order("pk-fo")
            .await
            .unwrap()
            .distribute_rules,
    )
    .unwrap();
    assert_eq!(rules["failovers"][0]["channel"], "pk-poor");
    assert_eq!(rules["failovers"][0]["reason"], "Insufficient balance");
    assert!(rich.sim.finish_withdrawal(&sent.payment.payment_uid, 1));
    wait_status(&app, "pk-fo", "completed").await;
    app.assert_ledger_sound().await;
}

/// Paykassma's `fail` answer to an activation fails the deposit with its message; a
/// transaction ID already given for another order is refused without asking Paykassma.
async fn a_failed_activation_fails_the_deposit(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let a = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-x", "100.00"))
        .await
        .unwrap();
    let b = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-y", "100.00"))
        .await
        .unwrap();
    pk.sim.transfer("TX-USED", 100, "MMK");
    confirm(&a.payment_url, "TX-USED").await;
    wait_status(&app, "pk-x", "completed").await;
    let calls = pk.state()["calls"].as_array().unwrap().len();
    let page = confirm(&b.payment_url, "TX-USED").await;
    assert!(page.contains("already used for another payment"), "{page}");
    assert_eq!(
        pk.state()["calls"].as_array().unwrap().len(),
        calls,
        "Paykassma was not asked"
    );
    assert_eq!(
        app.live_client
            .get_order("pk-y")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    let page = confirm(&b.payment_url, "FAIL1").await;
    assert!(page.contains("Transaction declined"), "{page}");
    let order = wait_status(&app, "pk-y", "failed").await;
    assert_eq!(order.payment_fail_reason, "Paykassma: Transaction declined");
}

/// What decides money in a postback is what its signature covers: a signed postback replayed
/// with another label and amount still only speaks for its own order and its signed amount;
/// a postback that contradicts its order is kept for the operator, not applied; credentials
/// never reach the history.
async fn only_the_signed_part_of_a_postback_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let a = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-sa", "6000.00"))
        .await
        .unwrap();
    let b = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-sb", "6000.00"))
        .await
        .unwrap();
    confirm(&a.payment_url, "TXS").await;
    pk.sim.transfer("TXS", 6000, "MMK");
    wait_status(&app, "pk-sa", "completed").await;
    let mut forged = pk.state()["postbacks"][0]["body"].clone();
    forged["label"] = serde_json::json!(b.payment.payment_uid);
    forged["amount"] = serde_json::json!(999999);
    let r = http()
        .post(format!("{}/octopus/postback/pk-mm", app.base_url))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "it is A's postback, already applied");
    assert_eq!(
        app.live_client
            .get_order("pk-sb")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    assert_eq!(
        app.live_client
            .get_order("pk-sa")
            .await
            .unwrap()
            .final_amount,
        "6000.00"
    );
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"));
    // Changing a signed transaction breaks the signature.
    forged["additional_data"][0]["amount"] = serde_json::json!("999999");
    let r = http()
        .post(format!("{}/octopus/postback/pk-mm", app.base_url))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (_, exchanges) = app
        .storage()
        .upstream_of(&a.payment.payment_uid)
        .await
        .unwrap();
    let text = format!("{exchanges:?}");
    let access_key = octopus_paykassma_sim::SimConfig::default().postback_access_key;
    assert!(
        text.contains("postback") && !text.contains(&access_key),
        "{text}"
    );
    assert!(!text.contains(
        pk.state()["postbacks"][0]["body"]["signature"]
            .as_str()
            .unwrap()
    ));

    // A payout reported successful after it was reported failed is not flipped: it waits for
    // the operator, on its history.
    app.fund(&m, "mmk", "10000.00").await;
    let payout = NewOrder::payout(
        &m.merchant_uid,
        "pk-sp",
        "5000.00",
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "U Ba",
        "wavepay",
    );
    let sent = app.live_client.create_order(&payout).await.unwrap();
    assert!(pk.sim.finish_withdrawal(&sent.payment.payment_uid, 5));
    wait_status(&app, "pk-sp", "failed").await;
    assert!(pk.sim.finish_withdrawal(&sent.payment.payment_uid, 1));
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, exchanges) = app
            .storage()
            .upstream_of(&sent.payment.payment_uid)
            .await
            .unwrap();
        if let Some(e) = exchanges
            .iter()
            .find(|e| e.error.contains("needs the operator"))
        {
            assert!(
                e.error.contains("withdrawal succeeded") && e.error.contains("failed"),
                "{}",
                e.error
            );
            break;
        }
        assert!(Instant::now() < deadline, "{exchanges:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.live_client
            .get_order("pk-sp")
            .await
            .unwrap()
            .payment_status,
        "failed"
    );
    app.assert_ledger_sound().await;
}

/// Payout faults: 503 (certainly not taken) fails over to the next channel; a timeout (maybe
/// taken) keeps the payout processing on its channel and never sends it elsewhere.
async fn payout_faults_fail_over_only_when_certain(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let first = PkSim::start(&app, "pk-first", 10).await;
    let second = PkSim::start(&app, "pk-second", 20).await;
    app.fund(&m, "mmk", "100000.00").await;
    let payout = |id: &str| {
        NewOrder::payout(
            &m.merchant_uid,
            id,
            "1000.00",
            "mmk",
            "wavepay",
            "myanmar",
            "01642234663",
            "U Ba",
            "wavepay",
        )
    };
    first.sim.set_faults(Faults {
        withdrawal_5xx: 1,
        ..Faults::default()
    });
    let sent = app
        .live_client
        .create_order(&payout("pk-p503"))
        .await
        .unwrap();
    assert_eq!(
        (
            sent.payment.channel.as_str(),
            sent.payment.payment_status.as_str()
        ),
        ("pk-second", "processing")
    );
    let rules: serde_json::Value = serde_json::from_str(
        &app.live_client
            .get_order("pk-p503")
            .await
            .unwrap()
            .distribute_rules,
    )
    .unwrap();
    assert_eq!(
        rules["failovers"][0]["reason"],
        "Paykassma answered HTTP 503"
    );

    first.sim.set_faults(Faults {
        withdrawal_timeout: 1,
        ..Faults::default()
    });
    let sent = app
        .live_client
        .create_order(&payout("pk-ptime"))
        .await
        .unwrap();
    assert_eq!(
        (
            sent.payment.channel.as_str(),
            sent.payment.payment_status.as_str()
        ),
        ("pk-first", "processing")
    );
    let withdrawals = |sim: &PkSim| {
        sim.state()["withdrawals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["withdrawal_id"] == sent.payment.payment_uid.as_str())
            .count()
    };
    assert_eq!(
        (withdrawals(&first), withdrawals(&second)),
        (1, 0),
        "sent once, to the first channel only"
    );
    assert!(first.sim.finish_withdrawal(&sent.payment.payment_uid, 1));
    wait_status(&app, "pk-ptime", "completed").await;
    app.assert_ledger_sound().await;
}

/// Real money never fails over to the sandbox; a retry of an order whose channel is gone since
/// gets the order, not a refusal.
async fn real_money_never_fails_over_to_the_sandbox(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-r1", "100.00"))
        .await
        .unwrap();
    pk.sim.set_faults(Faults {
        create_5xx: 1,
        ..Faults::default()
    });
    let answer = app
        .live_client
        .post_signed(
            "/octopus/api/order/new",
            &wavepay(&m.merchant_uid, "pk-r2", "100.00").to_fields(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(
        answer.body["data"],
        "No channel available (pk-mm: Paykassma answered HTTP 500)"
    );
    assert!(
        app.live_client.get_order("pk-r2").await.is_err(),
        "nothing stored"
    );

    app.set_channel_enabled("pk-mm", false).await;
    app.set_channel_enabled("sandbox", false).await;
    let again = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "pk-r1", "100.00"))
        .await
        .unwrap();
    assert_eq!(again.payment.payment_uid, created.payment.payment_uid);
}

crate::on_both_backends!(
    only_the_signed_part_of_a_postback_counts,
    payout_faults_fail_over_only_when_certain,
    real_money_never_fails_over_to_the_sandbox,
    a_refused_payout_fails_over_to_the_next_channel,
    a_failed_activation_fails_the_deposit,
    deposit_through_create_activate_and_postback,
    a_short_payment_waits_for_the_rest,
    a_transfer_found_later_is_credited_once_by_repeated_postbacks,
    postbacks_in_reverse_order_and_with_a_bad_signature,
    a_failing_upstream_fails_over_to_the_next_channel,
    payouts_through_withdrawal_create_and_postbacks,
    insufficient_upstream_balance_fails_the_payout,
    a_late_success_after_expiry_is_still_credited,
);
