//! The ledger, over real HTTP on both backends: completed deposits credit amount less fee,
//! payouts hold amount plus fee and then post or release it, refunds take the credit back, a
//! payout the balance cannot cover is refused with nothing stored, concurrent payouts never
//! overdraw, an event applied twice posts once, a failed accounting is retried, the merchant
//! views answer, and every scenario ends with the ledger verified from its history.

use std::collections::HashSet;
use std::time::Duration;

use octopus_client::NewOrder;
use octopus_domain::ledger::{FeeRule, FeeSchedule};
use octopus_domain::{PaymentStatus, StatusChange};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{http, pay, spawn_app, spawn_app_with, test_config, Backend, Creds, TestApp};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

async fn set_fee(
    app: &TestApp,
    creds: &Creds,
    payment: &str,
    accounting_type: &str,
    rule: FeeRule,
) {
    app.storage()
        .set_fee_rule(
            app.owner_id(creds).await,
            &FeeSchedule::parse(payment, accounting_type, rule).unwrap(),
            0,
        )
        .await
        .unwrap();
    // The test server reads fee schedules for every order (`test_config`): no wait.
}

/// A gateway whose sandbox payouts stay in place for an hour: their holds are what a test
/// looks at.
async fn spawn_app_holding_payouts(backend: Backend) -> TestApp {
    let mut config = test_config();
    config.sandbox_payout_delay = Duration::from_secs(3600);
    spawn_app_with(backend, config).await
}

fn percent(p: &str, fixed: &str) -> FeeRule {
    FeeRule::new(d(p), d(fixed), Decimal::ZERO, None).unwrap()
}

async fn signed(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let fields: octopus_domain::RequestFields = fields.iter().copied().collect();
    let a = app.client.post_signed(path, &fields).await.unwrap();
    (a.status, a.body)
}

async fn deposits_credit_the_amount_received_less_the_fee(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "receive", percent("2.5", "1.00")).await;
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "dep-1",
            "100.00",
            "thb",
            "promptpay",
            "TH",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.fee, "3.50", "the fee is shown on the order");
    assert_eq!(
        app.balance(m, "thb").await,
        (Decimal::ZERO, Decimal::ZERO),
        "nothing before payment"
    );
    pay(&created.payment_url).await;
    let order = app.client.get_order("dep-1").await.unwrap();
    assert_eq!(order.accounting_status, "accounted");
    assert_eq!(app.balance(m, "thb").await, (d("96.5"), Decimal::ZERO));
    let ledger = app.client.merchant_ledger(&m.merchant_uid).await.unwrap();
    assert_eq!(ledger.get("thb").map(String::as_str), Some("96.500000"));

    // A floating amount: the fee is on what was received, to six places.
    let mut floating =
        NewOrder::deposit(&m.merchant_uid, "dep-2", "100.00", "thb", "promptpay", "TH");
    floating.float_precision = Some("2".into());
    let floating = app.client.create_order(&floating).await.unwrap();
    pay(&floating.payment_url).await;
    let received = d(&floating.payment.final_amount);
    let fee = (received * d("0.025") + d("1")).round_dp(6);
    let order = app.client.get_order("dep-2").await.unwrap();
    assert_eq!(d(&order.fee), fee);
    assert_eq!(app.balance(m, "thb").await.0, d("96.5") + received - fee);

    // Failed and expired deposits post nothing.
    let failed = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "dep-3",
            "50.00",
            "thb",
            "promptpay",
            "TH",
        ))
        .await
        .unwrap();
    crate::helpers::simulate(&failed.payment_url, "failed").await;
    assert_eq!(
        app.client
            .get_order("dep-3")
            .await
            .unwrap()
            .accounting_status,
        "none"
    );
    assert_eq!(app.balance(m, "thb").await.0, d("96.5") + received - fee);
    app.assert_ledger_sound().await;
}

async fn payouts_hold_then_post_on_success_and_release_on_failure(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "pay", percent("1", "0")).await;
    app.fund(m, "mmk", "1000.00").await;
    let payout = NewOrder::payout(
        &m.merchant_uid,
        "out-1",
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
        "09123456789",
        "Aung",
        "wavepay",
    );
    let created = app.client.create_order(&payout).await.unwrap();
    assert_eq!(created.payment.fee, "1.00");
    assert_eq!(
        created.payment.accounting_status, "delivered",
        "held, waiting for the payout's end"
    );
    assert_eq!(app.balance(m, "mmk").await, (d("899"), d("101")));
    let declined = NewOrder::payout(
        &m.merchant_uid,
        "out-2",
        "200.00",
        "mmk",
        "wavepay",
        "myanmar",
        "4000000000",
        "Aung",
        "wavepay",
    );
    app.client.create_order(&declined).await.unwrap();
    assert_eq!(app.balance(m, "mmk").await, (d("697"), d("303")));

    let done = app
        .wait_for_status(&app.client, "out-1", "completed", Duration::from_secs(10))
        .await;
    assert_eq!(done.accounting_status, "accounted");
    let failed = app
        .wait_for_status(&app.client, "out-2", "failed", Duration::from_secs(10))
        .await;
    assert_eq!(failed.accounting_status, "accounted");
    // The completed payout spent its hold; the failed one came back.
    assert_eq!(app.balance(m, "mmk").await, (d("899"), Decimal::ZERO));

    let (status, body) = signed(
        &app,
        "/octopus/api/ledger/get_merchant_balance",
        &[("merchant_uid", &m.merchant_uid)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["balances"]["mmk"],
        json!({"available": "899.000000", "held": "0.000000", "total": "899.000000"})
    );
    let (_, body) = signed(
        &app,
        "/octopus/api/ledger/get_merchant_entries",
        &[("merchant_uid", &m.merchant_uid)],
    )
    .await;
    let kinds: Vec<&str> = body["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 5);
    assert!(kinds.contains(&"payout_settle") && kinds.contains(&"payout_release"));
    assert_eq!(
        kinds.last(),
        Some(&"deposit_credit"),
        "newest first; the funding is oldest"
    );
    app.assert_ledger_sound().await;
}

async fn accounting_types_have_their_own_fees_and_show_in_the_ledger(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    for (accounting_type, p) in [
        ("recharge", "0"),
        ("receive", "2"),
        ("pay", "1"),
        ("settle", "0.5"),
    ] {
        set_fee(&app, m, "*", accounting_type, percent(p, "0")).await;
    }
    set_fee(
        &app,
        m,
        "gcash",
        "*",
        FeeRule::new(d("3"), Decimal::ZERO, d("5"), Some(d("20"))).unwrap(),
    )
    .await;
    let orders = [
        (
            "t-recharge",
            "income",
            "recharge",
            "bank",
            "1000.00",
            "0.00",
        ),
        ("t-receive", "income", "receive", "bank", "1000.00", "20.00"),
        ("t-gcash", "income", "receive", "gcash", "100.00", "5.00"), // 3% = 3.00, minimum 5
        ("t-pay", "expense", "pay", "bank", "100.00", "1.00"),
        ("t-settle", "expense", "settle", "bank", "100.00", "0.50"),
    ];
    for (id, tt, at, payment, amount, fee) in orders {
        let mut o = if tt == "income" {
            NewOrder::deposit(&m.merchant_uid, id, amount, "php", payment, "ph")
        } else {
            NewOrder::payout(
                &m.merchant_uid,
                id,
                amount,
                "php",
                payment,
                "ph",
                "09170000000",
                "Juan",
                "gcash",
            )
        };
        o.accounting_type = Some(at.into());
        let created = app.client.create_order(&o).await.unwrap();
        assert_eq!(created.payment.fee, fee, "{id}");
        if tt == "income" {
            pay(&created.payment_url).await;
        }
    }
    let (_, body) = signed(
        &app,
        "/octopus/api/ledger/get_merchant_entries",
        &[("merchant_uid", &m.merchant_uid), ("limit", "100")],
    )
    .await;
    let seen: HashSet<(String, String)> = body["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["accounting_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("deposit_credit", "recharge"),
        ("deposit_credit", "receive"),
        ("payout_hold", "pay"),
        ("payout_hold", "settle"),
    ] {
        assert!(
            seen.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {seen:?}"
        );
    }
    // 1000 + (1000 - 20) + (100 - 5) - 101 - 100.5
    assert_eq!(app.balance(m, "php").await, (d("1873.5"), d("201.5")));
    app.assert_ledger_sound().await;
}

async fn refunds_debit_the_merchant(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "*", percent("2", "0")).await;
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "ref-1",
            "500.00",
            "inr",
            "upi",
            "India",
        ))
        .await
        .unwrap();
    pay(&created.payment_url).await;
    assert_eq!(app.balance(m, "inr").await.0, d("490"));
    let order = octopus_server::services::orders::refund(
        app.storage(),
        &created.payment.payment_uid,
        "customer complaint",
    )
    .await
    .unwrap();
    assert_eq!(order.payment_status, PaymentStatus::Refund);
    assert_eq!(
        app.balance(m, "inr").await,
        (Decimal::ZERO, Decimal::ZERO),
        "the whole credit is taken back"
    );
    let after = app.client.get_order("ref-1").await.unwrap();
    assert_eq!(
        (
            after.payment_status.as_str(),
            after.accounting_status.as_str()
        ),
        ("refund", "accounted")
    );
    // Twice is refused by the state machine; a payout is never refunded.
    assert!(octopus_server::services::orders::refund(
        app.storage(),
        &created.payment.payment_uid,
        ""
    )
    .await
    .is_err());

    // A refund the balance no longer covers is refused and changes nothing.
    let spent = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "ref-2",
            "100.00",
            "inr",
            "upi",
            "India",
        ))
        .await
        .unwrap();
    pay(&spent.payment_url).await;
    let payout = NewOrder::payout(
        &m.merchant_uid,
        "ref-2-out",
        "90.00",
        "inr",
        "upi",
        "India",
        "1234567890",
        "Ravi",
        "UPI",
    );
    app.client.create_order(&payout).await.unwrap();
    let refused =
        octopus_server::services::orders::refund(app.storage(), &spent.payment.payment_uid, "")
            .await
            .unwrap_err();
    assert_eq!(refused.data(), json!("Insufficient balance"));
    assert_eq!(refused.status().as_u16(), 422);
    assert_eq!(
        app.client.get_order("ref-2").await.unwrap().payment_status,
        "completed"
    );
    app.assert_ledger_sound().await;
}

async fn a_payout_the_balance_cannot_cover_is_refused_with_nothing_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "pay", percent("0", "2.00")).await;
    app.fund(m, "usd", "50.00").await;
    let too_much = NewOrder::payout(
        &m.merchant_uid,
        "big-out",
        "48.01",
        "usd",
        "bank",
        "US",
        "1",
        "A",
        "B",
    );
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &too_much.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body,
        json!({"result": "error", "data": "Insufficient balance"})
    );
    assert_eq!(
        app.storage().order_count(m.merchant_id).await.unwrap(),
        1,
        "only the funding deposit"
    );
    assert_eq!(app.balance(m, "usd").await, (d("50"), Decimal::ZERO));
    // Another currency's money does not count.
    let other = NewOrder::payout(
        &m.merchant_uid,
        "eur-out",
        "1.00",
        "thb",
        "bank",
        "TH",
        "1",
        "A",
        "004",
    );
    assert_eq!(
        app.client
            .post_signed("/octopus/api/order/new", &other.to_fields())
            .await
            .unwrap()
            .status,
        422
    );
    // Exactly the balance (amount plus fee) is fine, and the refused id can be used again.
    let mut exact = too_much.clone();
    exact.amount = "48.00".into();
    let created = app.client.create_order(&exact).await.unwrap();
    assert_eq!(created.payment.merchant_order_id, "big-out");
    assert_eq!(app.balance(m, "usd").await, (Decimal::ZERO, d("50")));
    app.assert_ledger_sound().await;
}

/// A retried payout gets its order back even when its hold has spent the balance; a
/// different payout under its id is a conflict.
async fn a_retried_payout_is_found_after_it_spent_the_balance(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    app.fund(m, "thb", "100.00").await;
    let payout = NewOrder::payout(
        &m.merchant_uid,
        "retry-out",
        "100.00",
        "thb",
        "bank",
        "TH",
        "1234567890",
        "Somchai",
        "004",
    );
    let first = app.client.create_order(&payout).await.unwrap();
    assert_eq!(app.balance(m, "thb").await.0, Decimal::ZERO);
    let again = app.client.create_order(&payout).await.unwrap();
    assert_eq!(again.payment.payment_uid, first.payment.payment_uid);
    let mut other = payout.clone();
    other.amount = "50.00".into();
    assert_eq!(
        app.client
            .post_signed("/octopus/api/order/new", &other.to_fields())
            .await
            .unwrap()
            .status,
        409
    );
    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 2);
    app.assert_ledger_sound().await;
}

async fn concurrent_payouts_never_overdraw(backend: Backend) {
    let app = spawn_app_holding_payouts(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "pay", percent("1", "0")).await;
    app.fund(m, "vnd", "505000").await; // exactly 50 × (10000 + 100 fee)
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = app.client.clone();
        let payout = NewOrder::payout(
            &m.merchant_uid,
            &format!("race-{i}"),
            "10000",
            "vnd",
            "momo",
            "VN",
            "0901234567",
            "Lan",
            "momo",
        );
        tasks.push(tokio::spawn(async move {
            client
                .post_signed("/octopus/api/order/new", &payout.to_fields())
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
        50,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        50,
        "{statuses:?}"
    );
    assert_eq!(app.balance(m, "vnd").await, (Decimal::ZERO, d("505000")));
    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 51);
    app.assert_ledger_sound().await;
    if app.db.database_url().is_some() {
        // Each posting's balance after it is its account's running balance, in the order the
        // postings were written, whichever group of several payouts wrote it (on PostgreSQL
        // computed from the balance as locked).
        let key = octopus_domain::ledger::Account::available(
            m.merchant_id,
            octopus_domain::Currency::Vnd,
        )
        .key();
        let broken = app
            .db
            .query_count(&format!(
                "SELECT COUNT(*) FROM (SELECT p.balance_after,
                     SUM(p.amount) OVER (ORDER BY p.id) AS running
                   FROM postings p JOIN ledger_accounts a ON a.id = p.account_id
                   WHERE a.account_key = '{key}') t
                 WHERE t.balance_after <> t.running"
            ))
            .await;
        assert_eq!(
            broken, 0,
            "postings whose balance after is not the running balance"
        );
    }
}

async fn an_event_applied_twice_posts_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "twice",
            "70.00",
            "bdt",
            "bkash",
            "BD",
        ))
        .await
        .unwrap();
    let uid = created.payment.payment_uid.clone();
    let complete = StatusChange::new(PaymentStatus::Completed, "upstream says paid", 1)
        .with_final_amount(d("70"));
    app.storage()
        .change_status(&uid, complete.clone())
        .await
        .unwrap();
    // The same notification again (a repeated postback), and the payer's button too late.
    assert!(app.storage().change_status(&uid, complete).await.is_err());
    let r = crate::helpers::simulate(&created.payment_url, "completed").await;
    assert_eq!(r.status(), 409);
    // A retry of the accounting (as after a crash) finds everything posted already.
    let retried = app.storage().retry_accounting(&uid, 2).await.unwrap();
    assert_eq!(retried.accounting_status.as_str(), "accounted");
    let entries = app
        .storage()
        .merchant_entries(m.merchant_id, None, None, 100)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(app.balance(m, "bdt").await.0, d("70"));
    app.assert_ledger_sound().await;
}

async fn accounting_that_cannot_post_is_marked_failed_and_retried(backend: Backend) {
    let app = spawn_app_with(backend, {
        let mut c = test_config();
        c.sandbox_payout_delay = Duration::from_secs(3600);
        c.accounting_retry_interval = Duration::from_millis(200);
        c
    })
    .await;
    let m = &app.merchant;
    app.fund(m, "sgd", "100.00").await;
    let created = app
        .client
        .create_order(&NewOrder::payout(
            &m.merchant_uid,
            "acc-1",
            "40.00",
            "sgd",
            "paynow",
            "SG",
            "1",
            "A",
            "B",
        ))
        .await
        .unwrap();
    // Break the ledger on purpose: the held balance loses the payout's hold.
    app.execute_sql(&format!(
        "UPDATE ledger_accounts SET balance = 0 WHERE account_key = 'held:{}:sgd'",
        m.merchant_id
    ))
    .await;
    // The upstream reports the payout done: that stands, but it cannot be accounted.
    let done = StatusChange::new(PaymentStatus::Completed, "upstream says paid", 5)
        .with_final_amount(d("40"));
    let order = app
        .storage()
        .change_status(&created.payment.payment_uid, done)
        .await
        .unwrap();
    assert_eq!(order.payment_status, PaymentStatus::Completed);
    assert_eq!(order.accounting_status.as_str(), "failed");
    assert_eq!(
        order.accounting_fail_reason,
        "the held balance of sgd would become -40.000000"
    );
    let seen = app.client.get_order("acc-1").await.unwrap();
    assert_eq!(
        (
            seen.accounting_status.as_str(),
            seen.accounting_fail_reason.as_str()
        ),
        ("failed", order.accounting_fail_reason.as_str())
    );
    assert!(
        !app.storage().verify_ledger().await.unwrap().is_sound(),
        "the corruption is visible"
    );

    // The operator repairs the balance; the accounting worker posts what was left out.
    app.execute_sql(&format!(
        "UPDATE ledger_accounts SET balance = 40 WHERE account_key = 'held:{}:sgd'",
        m.merchant_id
    ))
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = app.client.get_order("acc-1").await.unwrap();
        if now.accounting_status == "accounted" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "accounting was not retried: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.balance(m, "sgd").await, (d("60"), Decimal::ZERO));
    app.assert_ledger_sound().await;
}

async fn ledger_entries_are_paged_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    for i in 0..5 {
        app.fund(m, "cny", &format!("{}.00", i + 1)).await;
    }
    app.fund(m, "usd", "9.00").await;
    let page = |cursor: String| {
        let app = &app;
        async move {
            let mut fields = vec![
                ("merchant_uid", m.merchant_uid.as_str()),
                ("currency", "cny"),
                ("limit", "2"),
            ];
            if !cursor.is_empty() {
                fields.push(("cursor", cursor.as_str()));
            }
            let (status, body) =
                signed(app, "/octopus/api/ledger/get_merchant_entries", &fields).await;
            assert_eq!(status, 200, "{body}");
            body["data"].clone()
        }
    };
    let mut amounts = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let data = page(cursor.clone()).await;
        pages += 1;
        for e in data["entries"].as_array().unwrap() {
            assert_eq!(e["currency"], "cny");
            assert_eq!(e["available_change"], e["amount"]);
            assert!(
                e["payment_uid"].as_str().unwrap().len() == 32
                    && e["merchant_order_id"]
                        .as_str()
                        .unwrap()
                        .starts_with("fund-")
            );
            amounts.push(e["amount"].as_str().unwrap().to_string());
        }
        cursor = data["next_cursor"].as_str().unwrap().to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        amounts,
        ["5.000000", "4.000000", "3.000000", "2.000000", "1.000000"]
    );
    let (_, first) = signed(
        &app,
        "/octopus/api/ledger/get_merchant_entries",
        &[("merchant_uid", &m.merchant_uid), ("limit", "1")],
    )
    .await;
    assert_eq!(
        first["data"]["entries"][0]["currency"], "usd",
        "the newest of all currencies"
    );
    assert_eq!(first["data"]["entries"][0]["available_after"], "9.000000");
    for (field, value) in [
        ("limit", "0"),
        ("limit", "101"),
        ("cursor", "abc"),
        ("currency", "eur"),
    ] {
        let (status, _) = signed(
            &app,
            "/octopus/api/ledger/get_merchant_entries",
            &[("merchant_uid", &m.merchant_uid), (field, value)],
        )
        .await;
        assert_eq!(status, 400, "{field}={value}");
    }
    // Another merchant's uid is refused; without merchant_uid it is a missing field.
    let (status, _) = signed(
        &app,
        "/octopus/api/ledger/get_merchant_entries",
        &[("merchant_uid", "Mnotmine")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = signed(&app, "/octopus/api/ledger/get_merchant_balance", &[]).await;
    assert_eq!(
        (status, body),
        (
            400,
            crate::helpers::invalid("The 'merchant_uid' field is required.")
        )
    );
    let ledger = app.client.merchant_ledger(&m.merchant_uid).await.unwrap();
    assert_eq!(ledger.get("cny").map(String::as_str), Some("15.000000"));
    assert_eq!(ledger.get("usd").map(String::as_str), Some("9.000000"));
    assert_eq!(
        ledger.len(),
        3 + octopus_domain::Currency::ALL.len(),
        "merchant_uid, merchant_name, every currency and test (a test key)"
    );
}

/// Two gateway nodes on one database share one ledger: payouts sent to both at once never
/// overdraw, and one completion reported to both nodes posts once.
async fn two_nodes_share_one_ledger(backend: Backend) {
    let app = spawn_app_holding_payouts(backend).await;
    let m = &app.merchant;
    let node = app.second_node().await;
    let other = node.client_for(m);
    app.fund(m, "mmk", "3000.00").await; // exactly 30 payouts of 100
    let mut tasks = Vec::new();
    for i in 0..60 {
        let client = if i % 2 == 0 {
            app.client.clone()
        } else {
            other.clone()
        };
        let payout = NewOrder::payout(
            &m.merchant_uid,
            &format!("two-{i}"),
            "100.00",
            "mmk",
            "wavepay",
            "myanmar",
            "09123456789",
            "A",
            "wavepay",
        );
        tasks.push(tokio::spawn(async move {
            client
                .post_signed("/octopus/api/order/new", &payout.to_fields())
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
        30,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        30,
        "{statuses:?}"
    );
    assert_eq!(app.balance(m, "mmk").await, (Decimal::ZERO, d("3000")));

    // One payout sent to both nodes at once (a merchant retrying on another node): one order,
    // every answer names it.
    app.fund(m, "inr", "250.00").await;
    let once = NewOrder::payout(
        &m.merchant_uid,
        "two-once",
        "250.00",
        "inr",
        "upi",
        "India",
        "1234567890",
        "Ravi",
        "UPI",
    );
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = if i % 2 == 0 {
            app.client.clone()
        } else {
            other.clone()
        };
        let once = once.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_order(&once)
                .await
                .map(|c| c.payment.payment_uid)
        }));
    }
    let mut uids = HashSet::new();
    for t in tasks {
        uids.insert(t.await.unwrap().expect("every answer is the one payout"));
    }
    assert_eq!(uids.len(), 1);
    assert_eq!(app.balance(m, "inr").await, (Decimal::ZERO, d("250")));

    // The same deposit completed through both nodes at once: one credit.
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "two-dep",
            "500.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    let urls = [
        format!("{}/simulate", created.payment_url),
        format!(
            "{}/octopus/pay/{}/simulate",
            node.base_url, created.payment.payment_uid
        ),
    ];
    // The token of the page served by one node is good on the other (one master key).
    let token = crate::helpers::page_token(&created.payment_url).await;
    let mut paid = Vec::new();
    for url in urls.iter().cycle().take(10) {
        let (url, token) = (url.clone(), token.clone());
        paid.push(tokio::spawn(async move {
            http()
                .post(url)
                .form(&[("outcome", "completed"), ("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for p in paid {
        codes.push(p.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 303).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 9, "{codes:?}");
    assert_eq!(app.balance(m, "mmk").await, (d("500"), d("3000")));
    node.stop().await;
    app.assert_ledger_sound().await;
}

/// A fee rule stored on an order that does not read (a corrupted row) stops every change of
/// the order with an error, instead of meaning a zero fee: nothing is credited, nothing
/// changes, and the merchant's view of the order fails rather than show a wrong fee.
async fn a_corrupt_fee_rule_stops_the_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    for (n, corrupt) in ["2.5|x|0|", "-2|0|0|", "2.5|1"].into_iter().enumerate() {
        let id = format!("dep-corrupt-{n}");
        let created = app
            .client
            .create_order(&NewOrder::deposit(
                &m.merchant_uid,
                &id,
                "100.00",
                "thb",
                "promptpay",
                "TH",
            ))
            .await
            .unwrap();
        app.execute_sql(&format!(
            "UPDATE orders SET fee_rule = '{corrupt}' WHERE merchant_order_id = '{id}'"
        ))
        .await;
        let change = StatusChange::new(PaymentStatus::Completed, "paid", 1);
        let refused = app
            .storage()
            .change_status(&created.payment.payment_uid, change)
            .await;
        assert!(
            matches!(
                refused,
                Err(octopus_storage::StorageError::Corrupt("orders.fee_rule"))
            ),
            "{corrupt:?}: {refused:?}"
        );
        let status = app
            .client
            .get_order(&id)
            .await
            .expect_err("the order does not read");
        assert!(status.to_string().contains("500"), "{corrupt:?}: {status}");
        let pending = app
            .db
            .query_count(&format!(
                "SELECT COUNT(*) FROM orders WHERE merchant_order_id = '{id}' AND payment_status = 'pending'"
            ))
            .await;
        assert_eq!(pending, 1, "{corrupt:?}: the order did not change");
    }
    assert_eq!(
        app.db
            .query_count("SELECT COUNT(*) FROM journal_entries")
            .await,
        0,
        "nothing was posted"
    );
    assert_eq!(app.balance(m, "thb").await, (Decimal::ZERO, Decimal::ZERO));
}

/// A stored fee schedule whose scope does not read (an accounting type no order has, written
/// by hand) is not skipped, which would silently mean another schedule or no fee: reading the
/// merchant's schedules fails, and so does creating an order, with nothing stored.
async fn a_fee_schedule_that_does_not_read_fails_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "receive", percent("2.5", "1.00")).await;
    app.execute_sql("UPDATE fee_rules SET accounting_type = 'Receive'")
        .await;
    let read = app.storage().fee_rules(app.owner_id(m).await).await;
    assert!(
        matches!(
            read,
            Err(octopus_storage::StorageError::Corrupt(
                "fee_rules.accounting_type"
            ))
        ),
        "{read:?}"
    );
    // No order of the merchant was created yet, so nothing is cached: the order reads them.
    let order = NewOrder::deposit(&m.merchant_uid, "dep-1", "100.00", "thb", "promptpay", "TH");
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(
        app.db.query_count("SELECT COUNT(*) FROM orders").await,
        0,
        "no order was stored"
    );
}

/// An order whose row does not read (a fee rule corrupted by hand) is skipped by the workers'
/// claims instead of stopping them: the other payouts due still settle, and it waits,
/// untouched, for the operator.
async fn a_corrupt_order_does_not_stall_the_checks_of_the_others(backend: Backend) {
    let mut config = test_config();
    config.sandbox_payout_delay = Duration::from_secs(2);
    let app = spawn_app_with(backend, config).await;
    let m = &app.merchant;
    app.fund(m, "mmk", "1000.00").await;
    for id in ["out-bad", "out-good"] {
        let payout = NewOrder::payout(
            &m.merchant_uid,
            id,
            "100.00",
            "mmk",
            "wavepay",
            "myanmar",
            "09123456789",
            "Aung",
            "wavepay",
        );
        app.client.create_order(&payout).await.unwrap();
    }
    // Both are due in two seconds, the corrupt one first.
    app.execute_sql("UPDATE orders SET fee_rule = 'x' WHERE merchant_order_id = 'out-bad'")
        .await;
    app.wait_for_status(
        &app.client,
        "out-good",
        "completed",
        Duration::from_secs(20),
    )
    .await;
    let untouched = app
        .db
        .query_count(
            "SELECT COUNT(*) FROM orders WHERE merchant_order_id = 'out-bad' AND payment_status = 'pending'",
        )
        .await;
    assert_eq!(untouched, 1);
}

/// On PostgreSQL a payout group reads the merchant balance without a lock and locks it last
/// (docs/ledger.md): here the balance moves while a group waits for that lock. Moved below
/// what the payout needs, the group is decided again against the balance as locked, and the
/// payout refused with nothing written; moved but still enough, the payout stands and its
/// posting records the balance as it was moved to, not as it was read; refused against the
/// balance read but fitting the balance as locked, it is decided again and stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_moved_while_a_payout_group_waits_is_decided_again() {
    let Some(backend) =
        Backend::postgres("a_balance_moved_while_a_payout_group_waits_is_decided_again")
    else {
        return;
    };
    let app = spawn_app_holding_payouts(backend).await;
    let m = &app.merchant;
    set_fee(&app, m, "*", "pay", percent("0", "0")).await;
    app.fund(m, "mmk", "1000").await;
    let key =
        octopus_domain::ledger::Account::available(m.merchant_id, octopus_domain::Currency::Mmk)
            .key();
    let orders_before = app.storage().order_count(m.merchant_id).await.unwrap();

    // Another writer holds the balance, the payout's group waits for it; the writer moves
    // the balance by `by` and commits; the payout's answer.
    // (`first` moves it before, committed, for the payout to read.)
    let race = |id: &'static str, amount: &'static str, first: &'static str, by: &'static str| {
        let (app, key) = (&app, key.clone());
        async move {
            let writer = app.db.postgres().await.expect("PostgreSQL");
            writer
                .batch_execute(&format!(
                    "UPDATE ledger_accounts SET balance = balance + {first} WHERE account_key = '{key}';
                     BEGIN; SELECT 1 FROM ledger_accounts WHERE account_key = '{key}' FOR UPDATE"
                ))
                .await
                .unwrap();
            let payout = NewOrder::payout(
                &m.merchant_uid,
                id,
                amount,
                "mmk",
                "wavepay",
                "myanmar",
                "09123456789",
                "A",
                "wavepay",
            );
            let client = app.client.clone();
            let sent = tokio::spawn(async move {
                client
                    .post_signed("/octopus/api/order/new", &payout.to_fields())
                    .await
                    .unwrap()
                    .status
            });
            // The group has decided and written everything but the balance, and waits to lock it.
            let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND query LIKE 'SELECT id, balance FROM ledger_accounts%WHERE id = ANY%FOR UPDATE'";
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while app.db.query_count(waiting).await == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the payout's group never waited for the balance"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            writer
                .batch_execute(&format!(
                    "UPDATE ledger_accounts SET balance = balance + {by} WHERE account_key = '{key}'; COMMIT"
                ))
                .await
                .unwrap();
            sent.await.unwrap()
        }
    };
    let undo = |by: &str| {
        format!("UPDATE ledger_accounts SET balance = balance - {by} WHERE account_key = '{key}'")
    };

    // Down to 500: the payout of 600 no longer fits.
    assert_eq!(race("moved-down", "600", "0", "-500").await, 422);
    assert_eq!(app.balance(m, "mmk").await, (d("500"), Decimal::ZERO));
    assert_eq!(
        app.storage().order_count(m.merchant_id).await.unwrap(),
        orders_before,
        "nothing stored"
    );
    app.execute_sql(&undo("-500")).await;
    app.assert_ledger_sound().await;

    // Up to 1500: the payout still fits, and holds from the balance as moved.
    assert_eq!(race("moved-up", "600", "0", "500").await, 200);
    assert_eq!(app.balance(m, "mmk").await, (d("900"), d("600")));
    let recorded = app
        .db
        .query_count(&format!(
            "SELECT p.balance_after::bigint FROM postings p JOIN ledger_accounts a ON a.id = p.account_id \
             WHERE a.account_key = '{key}' ORDER BY p.id DESC LIMIT 1"
        ))
        .await;
    assert_eq!(
        recorded, 900,
        "the posting's balance after is the moved balance's"
    );
    app.execute_sql(&undo("500")).await;
    app.assert_ledger_sound().await;

    // Refused against 200 (the balance of 400 lowered by 200), the payout of 300 fits the
    // balance as locked (put back to 400): decided again, it stands.
    assert_eq!(race("fits-after-all", "300", "-200", "200").await, 200);
    assert_eq!(app.balance(m, "mmk").await, (d("100"), d("900")));
    app.assert_ledger_sound().await;
}

crate::on_both_backends!(
    two_nodes_share_one_ledger,
    a_corrupt_order_does_not_stall_the_checks_of_the_others,
    a_fee_schedule_that_does_not_read_fails_closed,
    a_corrupt_fee_rule_stops_the_change,
    a_retried_payout_is_found_after_it_spent_the_balance,
    deposits_credit_the_amount_received_less_the_fee,
    payouts_hold_then_post_on_success_and_release_on_failure,
    accounting_types_have_their_own_fees_and_show_in_the_ledger,
    refunds_debit_the_merchant,
    a_payout_the_balance_cannot_cover_is_refused_with_nothing_stored,
    concurrent_payouts_never_overdraw,
    an_event_applied_twice_posts_once,
    accounting_that_cannot_post_is_marked_failed_and_retried,
    ledger_entries_are_paged_newest_first,
);
