//! The operator's own accounts end to end, on both backends: deposits given an online account
//! and a unique final amount, completed by a signed device report (and called back, credited
//! once), the device protocol's refusals, suspense (no match, two candidates, a real-name
//! mismatch, after the grace) with assignment and return, late matches, offline devices,
//! manual confirmation and the payout queue.

use std::collections::BTreeSet;
use std::time::Duration;

use octopus_client::device::{DeviceClient, REPORT_PATH};
use octopus_client::NewOrder;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::helpers::accounts::{
    json_lines, octopus, octopus_result, own_account, own_channel, thai_promptpay,
};
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{spawn_app, Backend, TestApp};

fn thb_deposit(app: &TestApp, id: &str, amount: &str) -> NewOrder {
    NewOrder {
        float_precision: Some("2".into()),
        ..NewOrder::deposit(
            &app.live.merchant_uid,
            id,
            amount,
            "thb",
            "thailand",
            "thailand",
        )
    }
}

fn decimal(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

async fn transfers(app: &TestApp) -> i64 {
    app.db.query_count("SELECT COUNT(*) FROM transfers").await
}

async fn a_thai_deposit_gets_an_account_and_a_unique_amount_and_a_report_completes_it(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start(vec![], Reply::Success).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;

    let mut order = thb_deposit(&app, "th-1", "500.00");
    order.notify_url = Some(receiver.url.clone());
    let created = app
        .live_client
        .create_order(&order)
        .await
        .expect("order/new");
    let p = &created.payment;
    assert_eq!(p.channel, "own");
    let final_amount = decimal(&p.final_amount);
    assert!(
        final_amount > decimal("500.00") && final_amount < decimal("501.00"),
        "{final_amount}"
    );
    assert_eq!(
        decimal(&p.floating_amount),
        final_amount - decimal("500.00")
    );
    let rules: Value = serde_json::from_str(&p.distribute_rules).unwrap();
    assert_eq!(rules["chosen"], "own");
    assert_eq!(rules["account"]["chosen"], account.id.as_str());
    // The payer is shown the account the order was given.
    let page = crate::helpers::http()
        .get(&created.payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in ["0812345678", "Somchai Jaidee", "<svg"] {
        assert!(page.contains(shown), "the page shows {shown}");
    }

    // A transfer of another amount is not this order's: suspense.
    let other = account
        .report(&account.transfer("500.00", "thb", "FT-OTHER"))
        .await;
    assert_eq!(other["outcome"], "suspense");
    // The exact amount completes it.
    let answer = account
        .report(&account.transfer(&p.final_amount, "thb", "FT-1"))
        .await;
    assert_eq!(answer["outcome"], "matched");
    assert_eq!(answer["payment_uid"], p.payment_uid.as_str());
    let done = app.live_client.get_order("th-1").await.unwrap();
    assert_eq!(done.payment_status, "completed");
    assert_eq!(done.final_amount, p.final_amount);
    // Reported again: one transfer, one credit.
    let again = account
        .report(&account.transfer(&p.final_amount, "thb", "FT-1"))
        .await;
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(again["transfer"], answer["transfer"]);
    assert_eq!(transfers(&app).await, 2);
    let (available, _) = app.balance(&app.live, "thb").await;
    assert_eq!(
        available, final_amount,
        "credited once, with what was received"
    );
    let callbacks = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(callbacks[0].json["payment_status"], "completed");
    assert_eq!(callbacks[0].json["order_uid"], p.payment_uid.as_str());
    app.assert_ledger_sound().await;
    // The transfer that matched nothing waits in suspense.
    let waiting = json_lines(&octopus(&app, &["suspense", "list"]));
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["reference"], "FT-OTHER");
}

async fn device_requests_that_break_the_protocol_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let created = app
        .live_client
        .create_order(&thb_deposit(&app, "th-p", "100.00"))
        .await
        .unwrap();
    let report = account.transfer(&created.payment.final_amount, "thb", "FT-P");
    let body = serde_json::to_vec(&report.body()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let refused = |answer: octopus_client::Answer, why: &str| {
        assert_eq!(answer.status, 401, "{why}: {}", answer.body);
        assert_eq!(answer.body["result"], "error", "{why}");
        answer.body["data"].as_str().unwrap_or_default().to_string()
    };

    // A stale timestamp, and one from the future.
    for at in [now - 310, now + 310] {
        let headers = account
            .device
            .signed_headers(REPORT_PATH, &body, at, "nonce-stale-0000000");
        let answer = account
            .device
            .post_with(REPORT_PATH, body.clone(), &headers)
            .await
            .unwrap();
        assert!(refused(answer, "stale").contains("X-Octopus-Timestamp"));
    }
    // A bad signature: signed with another secret, and the body changed after signing.
    let forger = DeviceClient::new(&app.base_url, &account.device_id, "not-the-secret");
    let headers = forger.signed_headers(REPORT_PATH, &body, now, "nonce-forged-000000");
    let answer = forger
        .post_with(REPORT_PATH, body.clone(), &headers)
        .await
        .unwrap();
    assert_eq!(refused(answer, "forged"), "Invalid device signature");
    let headers = account
        .device
        .signed_headers(REPORT_PATH, &body, now, "nonce-altered-00000");
    let mut altered = report.clone();
    altered.amount = "1.00".into();
    let answer = account
        .device
        .post_with(
            REPORT_PATH,
            serde_json::to_vec(&altered.body()).unwrap(),
            &headers,
        )
        .await
        .unwrap();
    assert_eq!(refused(answer, "altered"), "Invalid device signature");
    // Missing headers.
    let answer = account
        .device
        .post_with(REPORT_PATH, body.clone(), &[])
        .await
        .unwrap();
    assert!(refused(answer, "unsigned").contains("headers are required"));
    assert_eq!(transfers(&app).await, 0, "nothing was recorded");

    // A valid request, then the same request replayed (same nonce).
    let headers = account
        .device
        .signed_headers(REPORT_PATH, &body, now, "nonce-replayed-0000");
    let first = account
        .device
        .post_with(REPORT_PATH, body.clone(), &headers)
        .await
        .unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["data"]["outcome"], "matched");
    let replay = account
        .device
        .post_with(REPORT_PATH, body.clone(), &headers)
        .await
        .unwrap();
    assert_eq!(refused(replay, "replayed"), "This nonce was used before");
    assert_eq!(transfers(&app).await, 1);

    // A revoked device is refused like an unknown one.
    octopus(&app, &["device", "revoke", &account.device_id]);
    let answer = account
        .device
        .report(&account.transfer("100.50", "thb", "FT-R"))
        .await
        .unwrap();
    assert_eq!(refused(answer, "revoked"), "Invalid device signature");
    let answer = account.device.heartbeat().await.unwrap();
    assert_eq!(
        refused(answer, "revoked heartbeat"),
        "Invalid device signature"
    );
    assert_eq!(transfers(&app).await, 1);
    let devices = json_lines(&octopus(&app, &["device", "list"]));
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["online"], false);
    assert!(devices[0]["revoked_at"].is_string());
    app.assert_ledger_sound().await;
}

async fn transfers_no_single_order_takes_go_to_suspense_and_the_operator_decides(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;

    // Two candidates: an older order's hold was released (as after its grace) and a new order
    // took the same amount.
    let mut a = thb_deposit(&app, "two-a", "300.00");
    a.float_precision = None;
    let a = app.live_client.create_order(&a).await.unwrap().payment;
    assert_eq!(
        a.final_amount, "300.00",
        "no offset asked: the amount itself, held"
    );
    app.execute_sql("UPDATE orders SET amount_locked = (1 = 0) WHERE merchant_order_id = 'two-a'")
        .await;
    let mut b = thb_deposit(&app, "two-b", "300.00");
    b.float_precision = None;
    let b = app.live_client.create_order(&b).await.unwrap().payment;
    assert_eq!(b.final_amount, "300.00");
    let two = account
        .report(&account.transfer("300.00", "thb", "FT-TWO"))
        .await;
    assert_eq!(two["outcome"], "suspense");

    // A real-name mismatch: the order names its payer's account, the bank shows other digits.
    let mut named = thb_deposit(&app, "named", "400.00");
    named.from = Some("987-6-51234-2".into());
    let named = app.live_client.create_order(&named).await.unwrap().payment;
    let mut wrong = account.transfer(&named.final_amount, "thb", "FT-NAME");
    wrong.payer_account = "xxx-x-x9999-x".into();
    assert_eq!(account.report(&wrong).await["outcome"], "suspense");
    let mut right = account.transfer(&named.final_amount, "thb", "FT-NAME-OK");
    right.payer_account = "xxx-x-x1234-x".into();
    assert_eq!(account.report(&right).await["outcome"], "matched");

    // No order at all.
    let none = account
        .report(&account.transfer("12.34", "thb", "FT-NONE"))
        .await;
    assert_eq!(none["outcome"], "suspense");

    let waiting = json_lines(&octopus(&app, &["suspense", "list"]));
    let refs: BTreeSet<&str> = waiting
        .iter()
        .map(|t| t["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, BTreeSet::from(["FT-TWO", "FT-NAME", "FT-NONE"]));
    let reason = |r: &str| {
        waiting.iter().find(|t| t["reference"] == r).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason("FT-TWO").starts_with("2 open orders"),
        "{}",
        reason("FT-TWO")
    );
    assert!(
        reason("FT-NAME").contains("payer account"),
        "{}",
        reason("FT-NAME")
    );
    app.assert_ledger_sound().await;

    // Assigned: the order completes with what was received, the money leaves suspense.
    let two = waiting.iter().find(|t| t["reference"] == "FT-TWO").unwrap();
    let assigned = json_lines(&octopus(
        &app,
        &[
            "suspense",
            "assign",
            two["transfer"].as_str().unwrap(),
            &a.payment_uid,
            "--reason",
            "payer sent the receipt",
            "--by",
            "alice",
        ],
    ));
    assert_eq!(assigned[0]["status"], "assigned");
    let a_now = app.live_client.get_order("two-a").await.unwrap();
    assert_eq!(a_now.payment_status, "completed");
    let history = app.storage().order_events(&a.payment_uid).await.unwrap();
    assert!(history.iter().any(|e| e
        .reason
        .contains("assigned by alice: payer sent the receipt")));
    // Assigning it again changes nothing; assigning it elsewhere is refused.
    octopus(
        &app,
        &[
            "suspense",
            "assign",
            two["transfer"].as_str().unwrap(),
            &a.payment_uid,
            "--reason",
            "again",
        ],
    );
    let (ok, _, err) = octopus_result(
        &app,
        &[
            "suspense",
            "assign",
            two["transfer"].as_str().unwrap(),
            &b.payment_uid,
            "--reason",
            "elsewhere",
        ],
    );
    assert!(!ok && err.contains("not in suspense"), "{err}");
    // Returned to the payer.
    let none = waiting
        .iter()
        .find(|t| t["reference"] == "FT-NONE")
        .unwrap();
    let returned = json_lines(&octopus(
        &app,
        &[
            "suspense",
            "returned",
            none["transfer"].as_str().unwrap(),
            "--reference",
            "RET-1",
        ],
    ));
    assert_eq!(returned[0]["status"], "returned");
    assert_eq!(returned[0]["return_reference"], "RET-1");
    let left = json_lines(&octopus(&app, &["suspense", "list"]));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["reference"], "FT-NAME");
    let (available, _) = app.balance(&app.live, "thb").await;
    assert_eq!(available, decimal("300.00") + decimal(&named.final_amount));
    app.assert_ledger_sound().await;
    let verified = octopus(&app, &["ledger", "verify"]);
    assert!(verified.contains("OK: every entry balances"), "{verified}");
}

async fn late_payments_complete_within_the_grace_and_go_to_suspense_after_it(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let mut late = thb_deposit(&app, "late", "200.00");
    late.ttl = Some("1".into());
    let late = app.live_client.create_order(&late).await.unwrap().payment;
    app.wait_for_status(&app.live_client, "late", "overdue", Duration::from_secs(10))
        .await;
    let answer = account
        .report(&account.transfer(&late.final_amount, "thb", "FT-LATE"))
        .await;
    assert_eq!(answer["outcome"], "matched");
    let history = app.storage().order_events(&late.payment_uid).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.to_status.as_str() == "completed" && e.reason.contains("late")),
        "{history:?}"
    );

    // Past the grace: the order's hold ended (as the worker frees it), so its amount is free
    // and the transfer goes to suspense.
    let mut gone = thb_deposit(&app, "gone", "250.00");
    gone.ttl = Some("1".into());
    let gone = app.live_client.create_order(&gone).await.unwrap().payment;
    app.wait_for_status(&app.live_client, "gone", "overdue", Duration::from_secs(10))
        .await;
    app.execute_sql("UPDATE orders SET expires_at = 1000 WHERE merchant_order_id = 'gone'")
        .await;
    let answer = account
        .report(&account.transfer(&gone.final_amount, "thb", "FT-GONE"))
        .await;
    assert_eq!(answer["outcome"], "suspense");
    let waiting = json_lines(&octopus(&app, &["suspense", "list"]));
    assert!(waiting[0]["reason"].as_str().unwrap().contains("grace"));
    app.assert_ledger_sound().await;
}

async fn an_account_without_an_online_device_takes_no_new_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    app.set_channel_enabled("sandbox", false).await;
    app.execute_sql("UPDATE devices SET last_heartbeat_at = 1000")
        .await;
    let answer = app
        .live_client
        .post_signed(
            "/octopus/api/order/new",
            &thb_deposit(&app, "off", "100.00").to_fields(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body["data"],
        format!(
            "No channel available (own: no account takes it ({} no device online); sandbox: disabled)",
            account.id
        )
    );
    assert!(
        app.live_client.get_order("off").await.is_err(),
        "nothing stored"
    );
    // A heartbeat brings it back.
    account.device.heartbeat().await.unwrap();
    app.live_client
        .create_order(&thb_deposit(&app, "on", "100.00"))
        .await
        .expect("the account is online again");
}

async fn a_manual_confirmation_completes_a_deposit_with_what_was_received(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let p = app
        .live_client
        .create_order(&thb_deposit(&app, "manual", "700.00"))
        .await
        .unwrap()
        .payment;
    let (ok, _, err) = octopus_result(
        &app,
        &[
            "order",
            "confirm",
            &p.payment_uid,
            "--reference",
            "FT-M",
            "--amount",
            "1,160.00",
            "--reason",
            "receipt",
        ],
    );
    assert!(!ok && err.contains("amount"), "{err}");
    let done = json_lines(&octopus(
        &app,
        &[
            "order",
            "confirm",
            &p.payment_uid,
            "--reference",
            "FT-M",
            "--amount",
            "650.00",
            "--reason",
            "payer sent a receipt",
            "--by",
            "bob",
        ],
    ));
    assert_eq!(done[0]["payment_status"], "completed");
    assert_eq!(done[0]["final_amount"], "650.00");
    let history = app.storage().order_events(&p.payment_uid).await.unwrap();
    assert!(history.iter().any(|e| e
        .reason
        .contains("confirmed by hand by bob: payer sent a receipt")));
    // The device reporting the same transfer later credits nothing more.
    let later = account
        .report(&account.transfer("650.00", "thb", "FT-M"))
        .await;
    assert_eq!(later["outcome"], "matched");
    let (available, _) = app.balance(&app.live, "thb").await;
    assert_eq!(available, decimal("650.00"));
    app.assert_ledger_sound().await;
}

async fn payouts_through_own_accounts_wait_for_the_operator(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start(vec![], Reply::Success).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    thai_promptpay(&app, "own").await;
    app.fund(&app.live, "thb", "5000.00").await;
    let payout = |id: &str, amount: &str| {
        let mut p = NewOrder::payout(
            &app.live.merchant_uid,
            id,
            amount,
            "thb",
            "thailand",
            "thailand",
            "1234567890",
            "Somsri Jaidee",
            "scb",
        );
        p.notify_url = Some(receiver.url.clone());
        p
    };
    let sent = app
        .live_client
        .create_order(&payout("po-1", "1000.00"))
        .await
        .unwrap()
        .payment;
    let failed = app
        .live_client
        .create_order(&payout("po-2", "400.00"))
        .await
        .unwrap()
        .payment;
    assert_eq!(sent.channel, "own");
    let queued = json_lines(&octopus(&app, &["payout", "list", "--channel", "own"]));
    assert_eq!(queued.len(), 2);
    let csv = octopus(&app, &["payout", "export", "--channel", "own"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "bank_code,account,name,amount,currency,payment_uid"
    );
    assert_eq!(
        lines[1],
        format!(
            "014,1234567890,Somsri Jaidee,1000.00,THB,{}",
            sent.payment_uid
        )
    );
    assert_eq!(lines.len(), 3);
    let (_, held) = app.balance(&app.live, "thb").await;
    assert_eq!(held, decimal("1400.00"));

    octopus(
        &app,
        &["payout", "sent", &sent.payment_uid, "--reference", "BANK-1"],
    );
    octopus(
        &app,
        &[
            "payout",
            "failed",
            &failed.payment_uid,
            "--reason",
            "account closed",
        ],
    );
    let (available, held) = app.balance(&app.live, "thb").await;
    assert_eq!((available, held), (decimal("4000.00"), Decimal::ZERO));
    let callbacks = receiver.wait_for(2, Duration::from_secs(10)).await;
    let statuses: BTreeSet<String> = callbacks
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c.json["merchant_order_id"], c.json["payment_status"]
            )
        })
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from([
            "\"po-1\":\"completed\"".to_string(),
            "\"po-2\":\"failed\"".to_string()
        ])
    );
    let failed_now = app.live_client.get_order("po-2").await.unwrap();
    assert_eq!(failed_now.payment_fail_reason, "account closed");
    assert!(json_lines(&octopus(&app, &["payout", "list", "--channel", "own"])).is_empty());
    app.assert_ledger_sound().await;
}

const CONCURRENT: usize = 200;

async fn concurrent_deposits_of_one_amount_never_share_a_final_amount(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    thai_promptpay(&app, "own").await;
    app.set_channel_enabled("sandbox", false).await;
    let node = app.second_node().await;
    let clients = [app.live_client.clone(), node.client_for(&app.live)];
    let mut running = tokio::task::JoinSet::new();
    for i in 0..CONCURRENT {
        let client = clients[i % 2].clone();
        let order = thb_deposit(&app, &format!("c-{i}"), "100.00");
        running.spawn(async move {
            client
                .post_signed("/octopus/api/order/new", &order.to_fields())
                .await
        });
    }
    let mut amounts = BTreeSet::new();
    let mut refused = 0;
    while let Some(done) = running.join_next().await {
        let answer = done.unwrap().unwrap();
        match answer.status {
            200 => {
                let final_amount = answer.body["data"]["payment"]["final_amount"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(
                    amounts.insert(final_amount.clone()),
                    "{final_amount} given twice"
                );
            }
            422 => {
                assert_eq!(
                    answer.body["data"],
                    "No channel available (own: no account has a free amount; sandbox: disabled)"
                );
                refused += 1;
            }
            other => panic!("HTTP {other}: {}", answer.body),
        }
    }
    assert_eq!(
        amounts.len(),
        99,
        "two decimals give 99 offsets, every one given once"
    );
    assert_eq!(refused, CONCURRENT - 99);
    node.stop().await;
}

async fn the_operator_cannot_credit_a_transfer_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let deposit = |id: &str, amount: &str| {
        let mut o = thb_deposit(&app, id, amount);
        o.float_precision = None;
        o
    };
    let a = app
        .live_client
        .create_order(&deposit("dup-a", "77.77"))
        .await
        .unwrap()
        .payment;
    let b = app
        .live_client
        .create_order(&deposit("dup-b", "88.88"))
        .await
        .unwrap()
        .payment;
    let stray = account
        .report(&account.transfer("77.00", "thb", "FT-STRAY"))
        .await;
    assert_eq!(stray["outcome"], "suspense");
    let transfer = stray["transfer"].as_str().unwrap().to_string();

    // A manual confirmation cannot reuse the reference of a transfer in suspense.
    let (ok, _, err) = octopus_result(
        &app,
        &[
            "order",
            "confirm",
            &a.payment_uid,
            "--reference",
            "FT-STRAY",
            "--amount",
            "77.00",
            "--reason",
            "receipt",
        ],
    );
    assert!(!ok && err.contains("in suspense"), "{err}");

    // Two operators assign the same transfer to two orders at once: one order is credited.
    let assign = |uid: &str| {
        crate::helpers::command()
            .args(["suspense", "assign", &transfer, uid, "--reason", "receipt"])
            .args(crate::helpers::db_args(&app.db))
            .env("OCTOPUS_MASTER_KEY", &app.master_key_text)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut first, mut second) = (assign(&a.payment_uid), assign(&b.payment_uid));
    let done = [
        first.wait().unwrap().success(),
        second.wait().unwrap().success(),
    ];
    assert_eq!(done.iter().filter(|ok| **ok).count(), 1, "{done:?}");
    let statuses = [
        app.live_client
            .get_order("dup-a")
            .await
            .unwrap()
            .payment_status,
        app.live_client
            .get_order("dup-b")
            .await
            .unwrap()
            .payment_status,
    ];
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.as_str() == "completed")
            .count(),
        1,
        "{statuses:?}"
    );
    let (available, _) = app.balance(&app.live, "thb").await;
    assert_eq!(available, decimal("77.00"));
    // And it cannot be returned after it was assigned.
    let (ok, _, err) = octopus_result(
        &app,
        &["suspense", "returned", &transfer, "--reference", "RET-X"],
    );
    assert!(!ok && err.contains("not in suspense"), "{err}");

    // A reference confirmed by hand for one amount does not match a report of another.
    let c = app
        .live_client
        .create_order(&deposit("dup-c", "99.99"))
        .await
        .unwrap()
        .payment;
    octopus(
        &app,
        &[
            "order",
            "confirm",
            &c.payment_uid,
            "--reference",
            "FT-C",
            "--amount",
            "99.99",
            "--reason",
            "receipt",
        ],
    );
    let other = account
        .report(&account.transfer("500.00", "thb", "FT-C"))
        .await;
    assert_eq!(other["outcome"], "suspense");
    let waiting = json_lines(&octopus(&app, &["suspense", "list"]));
    assert!(waiting
        .iter()
        .any(|t| t["reference"] == "FT-C"
            && t["reason"].as_str().unwrap().contains("another amount")));
    app.assert_ledger_sound().await;
}

/// A deposit an upstream refuses never fails over onto own accounts (it would get no account,
/// no unique amount, and no report could ever match it).
async fn own_accounts_are_never_an_upstreams_failover(backend: Backend) {
    let app = spawn_app(backend).await;
    let pk = crate::helpers::paykassma::PkSim::start(&app, "pk-first", 10).await;
    own_channel(&app, "own-mm", &["MM"], &["mmk"]).await;
    own_account(
        &app,
        "own-mm",
        &[
            "--method",
            "wallet",
            "--number",
            "09123456789",
            "--holder",
            "Aung Aung",
            "--currency",
            "mmk",
            "--wallet",
            "wavepay",
        ],
    )
    .await;
    app.set_channel_enabled("sandbox", false).await;
    pk.sim.set_faults(octopus_paykassma_sim::Faults {
        create_5xx: 1,
        ..Default::default()
    });
    let order = NewOrder::deposit(
        &app.live.merchant_uid,
        "pk-down",
        "6000.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    let answer = app
        .live_client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(
        answer.body["data"],
        "No channel available (pk-first: Paykassma answered HTTP 500)"
    );
    assert!(
        app.live_client.get_order("pk-down").await.is_err(),
        "nothing stored"
    );
    let orders_on_own = app
        .db
        .query_count("SELECT COUNT(*) FROM orders WHERE channel = 'own-mm' AND account_id = ''")
        .await;
    assert_eq!(orders_on_own, 0);
}

crate::on_both_backends!(
    own_accounts_are_never_an_upstreams_failover,
    the_operator_cannot_credit_a_transfer_twice,
    a_thai_deposit_gets_an_account_and_a_unique_amount_and_a_report_completes_it,
    device_requests_that_break_the_protocol_are_refused_and_change_nothing,
    transfers_no_single_order_takes_go_to_suspense_and_the_operator_decides,
    late_payments_complete_within_the_grace_and_go_to_suspense_after_it,
    an_account_without_an_online_device_takes_no_new_orders,
    a_manual_confirmation_completes_a_deposit_with_what_was_received,
    payouts_through_own_accounts_wait_for_the_operator,
    concurrent_deposits_of_one_amount_never_share_a_final_amount,
);
