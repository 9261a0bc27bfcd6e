//! The admin API's orders and money on both backends (issue 13): the search by any id and by
//! filters, paged without loss or repeat, its CSV equal to the filtered set; an order's detail
//! with history and callback attempts; the actions (resend a callback, refund, fail a stuck
//! order, approve and reject payouts held for review), each refused without a reason, each in
//! the audit log with the order before and after; the ledger's balances, entries and
//! verification.

use std::collections::BTreeSet;
use std::time::Duration;

use octopus_client::NewOrder;
use serde_json::{json, Value};

use crate::helpers::accounts::octopus;
use crate::helpers::admin::{self, AdminSession};
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{pay, spawn_app, spawn_app_with, test_config, Backend, Creds, TestApp};

const WAIT: Duration = Duration::from_secs(10);

fn deposit(m: &Creds, id: &str, amount: &str) -> NewOrder {
    NewOrder::deposit(&m.merchant_uid, id, amount, "mmk", "wavepay", "myanmar")
}

fn payout(m: &Creds, id: &str, amount: &str) -> NewOrder {
    NewOrder::payout(
        &m.merchant_uid,
        id,
        amount,
        "thb",
        "bank",
        "TH",
        "1234567890",
        "Somchai Jaidee",
        "KBANK",
    )
}

/// The payment_uids of a search answer.
fn uids(answer: &Value) -> Vec<String> {
    answer["data"]["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("no orders in {answer}"))
        .iter()
        .map(|o| o["payment_uid"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a search, following `next`.
async fn all_pages(admin: &AdminSession, query: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = admin
            .get(&format!("/octopus/admin/v1/orders?{query}&limit=3{after}"))
            .await;
        assert_eq!(status, 200, "{page}");
        found.extend(uids(&page));
        match page["data"]["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return found,
        }
    }
}

/// The audit lines of an action, newest first.
async fn audited(admin: &AdminSession, action: &str) -> Vec<Value> {
    let (status, audit) = admin
        .get(&format!("/octopus/admin/v1/audit?action={action}"))
        .await;
    assert_eq!(status, 200, "{audit}");
    audit["data"]["entries"].as_array().unwrap().clone()
}

async fn orders_of(app: &TestApp) -> (Creds, Vec<String>) {
    let m = app.merchant.clone();
    let mut uids = Vec::new();
    for (i, amount) in ["10.00", "250.00", "999.00", "1000.00", "5000.00"]
        .iter()
        .enumerate()
    {
        let created = app
            .client
            .create_order(&deposit(&m, &format!("find-{i}"), amount))
            .await
            .unwrap();
        uids.push(created.payment.payment_uid);
    }
    (m, uids)
}

/// An order is found by its merchant_order_id and by its payment_uid; filters narrow the list
/// (merchant, status, type, amount range, time, test); paging walks the whole set newest first
/// with nothing lost or repeated; the CSV export holds exactly the filtered set; bad filters
/// are refused in the documented shape.
async fn orders_are_found_by_any_id_and_filtered_and_exported(backend: Backend) {
    let app = spawn_app(backend).await;
    let (m, created) = orders_of(&app).await;
    let other = app.new_merchant("Other shop").await;
    let theirs = app
        .client_for(&other)
        .create_order(&deposit(&other, "find-1", "250.00"))
        .await
        .unwrap();
    pay(&app
        .client
        .create_order(&deposit(&m, "find-paid", "300.00"))
        .await
        .unwrap()
        .payment_url)
    .await;
    let viewer = admin::operator(&app, "view@example.com", "viewer").await;

    // By any id: a merchant_order_id two merchants use finds both; a payment_uid finds one.
    let (status, both) = viewer.get("/octopus/admin/v1/orders?q=find-1").await;
    assert_eq!(status, 200, "{both}");
    let found: BTreeSet<String> = uids(&both).into_iter().collect();
    let expected: BTreeSet<String> = [created[1].clone(), theirs.payment.payment_uid.clone()]
        .into_iter()
        .collect();
    assert_eq!(found, expected);
    let (_, one) = viewer
        .get(&format!("/octopus/admin/v1/orders?q={}", created[3]))
        .await;
    assert_eq!(uids(&one), vec![created[3].clone()]);
    assert_eq!(one["data"]["orders"][0]["amount"], "1000.00");
    assert_eq!(one["data"]["orders"][0]["merchant_order_id"], "find-3");
    let (_, none) = viewer
        .get("/octopus/admin/v1/orders?q=nothing-like-it")
        .await;
    assert_eq!(uids(&none), Vec::<String>::new());

    // Filters: the merchant, the amount range (inclusive, exact), the status, a period.
    let mine = all_pages(&viewer, &format!("merchant_uid={}", m.merchant_uid)).await;
    assert_eq!(mine.len(), 6, "{mine:?}");
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(&mine[1..], &newest_first[..], "newest first, every page");
    let ranged = all_pages(
        &viewer,
        &format!(
            "merchant_uid={}&amount_min=250&amount_max=1000.00&status=pending",
            m.merchant_uid
        ),
    )
    .await;
    assert_eq!(
        ranged,
        vec![created[3].clone(), created[2].clone(), created[1].clone()]
    );
    let completed = all_pages(&viewer, "status=completed&type=income&test=true").await;
    assert_eq!(completed.len(), 1);
    let future = all_pages(&viewer, "since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());
    assert!(
        all_pages(&viewer, "test=false").await.is_empty(),
        "all are test orders"
    );

    // The export: every filtered order (not one page), one line each, the header first.
    let query = format!("merchant_uid={}&amount_min=250", m.merchant_uid);
    let (status, csv) = viewer
        .get_text(&format!("/octopus/admin/v1/orders.csv?{query}"))
        .await;
    assert_eq!(status, 200);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("created_at,payment_uid,"));
    let exported: Vec<String> = lines
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(exported, all_pages(&viewer, &query).await);
    assert_eq!(exported.len(), 5);

    // Refused filters: the documented shape, which field.
    for (query, field) in [
        ("amount_min=1e3", "amount_min"),
        ("amount_min=-5", "amount_min"),
        ("status=lost", "status"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("after=garbage", "after"),
        ("test=maybe", "test"),
    ] {
        let (status, body) = viewer
            .get(&format!("/octopus/admin/v1/orders?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["data"]["error"], "Invalid parameters", "{body}");
        assert!(
            body["data"]["details"].as_str().unwrap().starts_with(field),
            "{query}: {body}"
        );
    }
}

/// A deposit's detail shows its history and the failed callback attempts; support resends
/// the callback (audited) and it is delivered; finance refunds the completed deposit with a
/// reason (none: refused, nothing changed), the balance gives the credit back, the audit log
/// has the order before and after; a viewer may do neither.
async fn an_operator_reads_an_order_resends_its_callback_and_refunds_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(
        vec![
            Reply::Answer(500, "down"),
            Reply::Answer(500, "down"),
            Reply::Answer(500, "down"),
            Reply::Answer(500, "down"),
        ],
        Reply::Success,
    )
    .await;
    let mut order = deposit(&m, "detail-1", "120.00");
    order.notify_url = Some(receiver.url.clone());
    let created = app.client.create_order(&order).await.unwrap();
    let uid = created.payment.payment_uid.clone();
    pay(&created.payment_url).await;
    receiver.wait_for(1, WAIT).await;

    let support = admin::operator(&app, "help@example.com", "support").await;
    // The detail once the first (failed) attempt is recorded.
    let deadline = std::time::Instant::now() + WAIT;
    let detail = loop {
        let (status, detail) = support
            .get(&format!("/octopus/admin/v1/orders/{uid}"))
            .await;
        assert_eq!(status, 200, "{detail}");
        if detail["data"]["callbacks"][0]["attempt_log"][0].is_object() {
            break detail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt recorded: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    let data = &detail["data"];
    assert_eq!(data["order"]["payment_status"], "completed");
    let moves: Vec<(String, String)> = data["status_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        moves.last().unwrap(),
        &("pending".into(), "completed".into())
    );
    let attempts = &data["callbacks"][0]["attempt_log"];
    assert_eq!(attempts[0]["http_status"], 500, "{attempts}");
    assert!(
        data["ledger_entries"].is_null(),
        "support does not read money"
    );
    let (status, _) = support.get("/octopus/admin/v1/orders/no-such-order").await;
    assert_eq!(status, 404);

    // Support resends: a manual callback, delivered.
    let (status, resent) = support
        .post(
            &format!("/octopus/admin/v1/orders/{uid}/resend-callback"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{resent}");
    assert_eq!(resent["data"]["manual"], true);
    app.wait_for_notify("detail-1", "completed", WAIT).await;
    assert_eq!(support.get("/octopus/admin/v1/audit").await.0, 403);

    // Support may not refund; finance may, with a reason.
    let (status, _) = support
        .post(
            &format!("/octopus/admin/v1/orders/{uid}/refund"),
            json!({"reason": "asked"}),
        )
        .await;
    assert_eq!(status, 403);
    let finance = admin::operator(&app, "money@example.com", "finance").await;
    let (_, with_money) = finance
        .get(&format!("/octopus/admin/v1/orders/{uid}"))
        .await;
    let entries = with_money["data"]["ledger_entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let before = app.balance(&m, "mmk").await;
    let (status, refused) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{uid}/refund"),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(app.balance(&m, "mmk").await, before, "nothing moved");
    let (status, refunded) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{uid}/refund"),
            json!({"reason": "payer asked"}),
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["data"]["payment_status"], "refund");
    let after = app.balance(&m, "mmk").await;
    assert_eq!(after.0, before.0 - rust_decimal::Decimal::new(12000, 2));
    app.assert_ledger_sound().await;

    let admin = admin::operator(&app, "boss@example.com", "admin").await;
    let resends = audited(&admin, "order.resend_callback").await;
    assert_eq!(resends.len(), 1);
    assert_eq!(resends[0]["actor"], "help@example.com");
    assert_eq!(resends[0]["role"], "support");
    let refunds = audited(&admin, "order.refund").await;
    assert_eq!(refunds.len(), 1, "the refused one is not an action");
    let line = &refunds[0];
    assert_eq!(line["actor"], "money@example.com");
    assert_eq!(line["target"], uid.as_str());
    let was: Value = serde_json::from_str(line["before"].as_str().unwrap()).unwrap();
    let now: Value = serde_json::from_str(line["after"].as_str().unwrap()).unwrap();
    assert_eq!(was["payment_status"], "completed");
    assert_eq!(now["payment_status"], "refund");
    // The history says who and why.
    let (_, detail) = admin.get(&format!("/octopus/admin/v1/orders/{uid}")).await;
    let last = detail["data"]["status_changes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["to"], "refund");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("refunded by money@example.com: payer asked"),
        "{last}"
    );
}

/// Payouts held for review: finance approves one (it goes on and completes in the sandbox)
/// and rejects another with a reason (its hold released); a pending deposit nobody pays is
/// failed by hand; a closed order cannot be failed; the ledger verifies sound throughout.
async fn payouts_are_approved_and_rejected_and_stuck_orders_failed(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    app.fund(&m, "thb", "10000.00").await;
    octopus(
        &app,
        &["review", "set", "--currency", "thb", "--above", "1000"],
    );
    let first = app
        .client
        .create_order(&payout(&m, "rv-1", "1500.00"))
        .await
        .unwrap()
        .payment;
    let second = app
        .client
        .create_order(&payout(&m, "rv-2", "2500.00"))
        .await
        .unwrap()
        .payment;
    assert_eq!(first.payment_status, "preparing");
    let finance = admin::operator(&app, "money@example.com", "finance").await;
    let (status, held) = finance.get("/octopus/admin/v1/payouts/review").await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.balance(&m, "thb").await.1,
        rust_decimal::Decimal::new(4000, 0)
    );

    let (status, approved) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/approve", first.payment_uid),
            json!({"reason": "known payee"}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    app.wait_for_status(&app.client, "rv-1", "completed", WAIT)
        .await;
    let (status, _) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/reject", second.payment_uid),
            json!({}),
        )
        .await;
    assert_eq!(status, 400, "a rejection needs a reason");
    let (status, rejected) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/reject", second.payment_uid),
            json!({"reason": "unknown payee"}),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["data"]["payment_status"], "reject");
    assert_eq!(app.balance(&m, "thb").await.1, rust_decimal::Decimal::ZERO);
    // Decided once.
    let (status, _) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/approve", second.payment_uid),
            json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(status, 409);

    let stuck = app
        .client
        .create_order(&deposit(&m, "stuck-1", "50.00"))
        .await
        .unwrap()
        .payment;
    let (status, failed) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/fail", stuck.payment_uid),
            json!({"reason": "payer never paid"}),
        )
        .await;
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["data"]["payment_status"], "failed");
    assert_eq!(failed["data"]["payment_fail_reason"], "payer never paid");
    let (status, _) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/fail", stuck.payment_uid),
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(status, 409, "closed already");

    let (status, verified) = finance.get("/octopus/admin/v1/ledger/verify").await;
    assert_eq!(status, 200);
    assert_eq!(verified["data"]["sound"], true, "{verified}");
    let (status, balances) = finance
        .get(&format!(
            "/octopus/admin/v1/ledger/balances?merchant_uid={}&test=true",
            m.merchant_uid
        ))
        .await;
    assert_eq!(status, 200, "{balances}");
    let thb = balances["data"]["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "thb")
        .unwrap()
        .clone();
    assert_eq!(thb["available"], "8500", "{thb}");
    assert_eq!(thb["held"], "0");
    let (_, entries) = finance
        .get(&format!(
            "/octopus/admin/v1/ledger/entries?merchant_uid={}&test=true&currency=thb&limit=2",
            m.merchant_uid
        ))
        .await;
    assert_eq!(entries["data"]["entries"].as_array().unwrap().len(), 2);
    let next = entries["data"]["next"].as_i64().expect("more entries");
    let (_, rest) = finance
        .get(&format!(
            "/octopus/admin/v1/ledger/entries?merchant_uid={}&test=true&currency=thb&before={next}",
            m.merchant_uid
        ))
        .await;
    let (status, csv) = finance
        .get_text(&format!(
            "/octopus/admin/v1/ledger/entries.csv?merchant_uid={}&test=true&currency=thb",
            m.merchant_uid
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        csv.lines().count() - 1,
        2 + rest["data"]["entries"].as_array().unwrap().len()
    );
    let admin = admin::operator(&app, "boss@example.com", "admin").await;
    for action in ["payout.approve", "payout.reject", "order.fail"] {
        let lines = audited(&admin, action).await;
        assert_eq!(lines.len(), 1, "{action}");
        assert_eq!(lines[0]["actor"], "money@example.com");
        assert!(!lines[0]["before"].as_str().unwrap().is_empty());
        assert!(!lines[0]["after"].as_str().unwrap().is_empty());
    }
    app.assert_ledger_sound().await;
}

/// The own-accounts money actions through the admin API: the payout queue (listed, its bank
/// CSV, one payout marked sent with its reference, one failed with its hold back; a debit in
/// the entries' CSV stays a number), a late deposit
/// confirmed by hand, a transfer in suspense recorded as returned; refusals change nothing;
/// each action audited with before and after.
async fn own_account_money_moves_through_the_admin_api(backend: Backend) {
    use crate::helpers::accounts::{own_channel, thai_promptpay};
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    app.fund(&app.live, "thb", "5000.00").await;
    let live = app.live.clone();
    let payout_to = |id: &str, amount: &str| {
        NewOrder::payout(
            &live.merchant_uid,
            id,
            amount,
            "thb",
            "thailand",
            "thailand",
            "1234567890",
            "Somsri Jaidee",
            "scb",
        )
    };
    let sent = app
        .live_client
        .create_order(&payout_to("q-1", "1000.00"))
        .await
        .unwrap()
        .payment;
    let failed = app
        .live_client
        .create_order(&payout_to("q-2", "400.00"))
        .await
        .unwrap()
        .payment;
    let finance = admin::operator(&app, "money@example.com", "finance").await;
    let (status, queue) = finance.get("/octopus/admin/v1/payouts?channel=own").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["data"].as_array().unwrap().len(), 2);
    let (_, csv) = finance
        .get_text("/octopus/admin/v1/payouts.csv?channel=own")
        .await;
    assert!(
        csv.contains(",1234567890,Somsri Jaidee,1000.00,THB,"),
        "{csv}"
    );
    let held_before = app.balance(&live, "thb").await;
    let (status, refused) = finance
        .post(
            &format!("/octopus/admin/v1/payouts/{}/sent", sent.payment_uid),
            json!({"reference": " "}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        app.balance(&live, "thb").await,
        held_before,
        "nothing moved"
    );
    let (status, done) = finance
        .post(
            &format!("/octopus/admin/v1/payouts/{}/sent", sent.payment_uid),
            json!({"reference": "SCB-778"}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["data"]["payment_status"], "completed");
    assert_eq!(done["data"]["reference"], "SCB-778");
    let (status, gone) = finance
        .post(
            &format!("/octopus/admin/v1/payouts/{}/failed", failed.payment_uid),
            json!({"reason": "account closed"}),
        )
        .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["data"]["payment_status"], "failed");
    let (available, held) = app.balance(&live, "thb").await;
    assert_eq!(held, rust_decimal::Decimal::ZERO, "both holds ended");
    assert_eq!(
        available,
        rust_decimal::Decimal::new(4000, 0),
        "the failed one's came back"
    );
    let (_, entries) = finance
        .get_text(&format!(
            "/octopus/admin/v1/ledger/entries.csv?merchant_uid={}",
            live.merchant_uid
        ))
        .await;
    assert!(entries.contains(",-1000"), "a debit is a number: {entries}");
    assert!(
        !entries.contains(",'-"),
        "no debit read as a formula: {entries}"
    );

    // A late deposit (overdue) confirmed by hand with what was received.
    let mut late = NewOrder::deposit(
        &live.merchant_uid,
        "late-1",
        "200.00",
        "thb",
        "thailand",
        "thailand",
    );
    late.float_precision = Some("2".into());
    late.ttl = Some("1".into());
    let late = app.live_client.create_order(&late).await.unwrap().payment;
    app.wait_for_status(&app.live_client, "late-1", "overdue", WAIT)
        .await;
    let (status, confirmed) = finance
        .post(
            &format!("/octopus/admin/v1/orders/{}/confirm", late.payment_uid),
            json!({"reference": "FT-LATE-9", "amount": "200.00", "reason": "paid after the deadline"}),
        )
        .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["data"]["payment_status"], "completed");

    // A transfer no order takes, returned to its payer.
    let odd = account
        .report(&account.transfer("777.00", "thb", "FT-ODD"))
        .await;
    assert_eq!(odd["outcome"], "suspense");
    let (_, waiting) = finance.get("/octopus/admin/v1/suspense").await;
    let transfer = waiting["data"][0]["transfer"].as_str().unwrap().to_string();
    let (status, returned) = finance
        .post(
            &format!("/octopus/admin/v1/suspense/{transfer}/returned"),
            json!({"reference": "RET-1", "reason": "unknown payer"}),
        )
        .await;
    assert_eq!(status, 200, "{returned}");
    assert_eq!(returned["data"]["status"], "returned");
    let (_, waiting) = finance.get("/octopus/admin/v1/suspense").await;
    assert_eq!(waiting["data"], json!([]));

    let admin = admin::operator(&app, "boss@example.com", "admin").await;
    for action in [
        "payout.sent",
        "payout.failed",
        "order.confirm",
        "suspense.returned",
    ] {
        let lines = audited(&admin, action).await;
        assert_eq!(
            lines.len(),
            1,
            "{action} once (the refusals are not actions)"
        );
        let before: Value = serde_json::from_str(lines[0]["before"].as_str().unwrap()).unwrap();
        let after: Value = serde_json::from_str(lines[0]["after"].as_str().unwrap()).unwrap();
        assert_ne!(before, after, "{action}: before and after differ");
    }
    app.assert_ledger_sound().await;
}

/// Orders created in the same millisecond page by their id: every one found once.
async fn pages_keep_orders_of_the_same_millisecond_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, created) = orders_of(&app).await;
    app.execute_sql("UPDATE orders SET created_at = 1790000000000")
        .await;
    let viewer = admin::operator(&app, "view@example.com", "viewer").await;
    let mut found = all_pages(&viewer, "test=true").await;
    assert_eq!(found.len(), created.len());
    found.sort();
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(found, expected, "none lost, none twice");
}

/// A filter no index serves (the type) reads a window of orders per page (4 here, 5,000 by
/// default) instead of every order of the period: under the newest orders that do not match,
/// a page is short or empty, says how far back it read and has a `next`, and following
/// `next` finds every match, once, newest first, as does the CSV and the console's list (which
/// says it searched only so far). Filters their index serves read no window.
async fn a_filter_no_index_serves_pages_through_windows_to_every_match(backend: Backend) {
    let app = spawn_app_with(
        backend,
        octopus_server::config::ServerConfig {
            search_window: 4,
            ..test_config()
        },
    )
    .await;
    let m = app.merchant.clone();
    app.fund(&m, "thb", "100000.00").await;
    for i in 0..2 {
        app.client
            .create_order(&deposit(&m, &format!("old-{i}"), "100.00"))
            .await
            .unwrap();
    }
    for i in 0..9 {
        app.client
            .create_order(&payout(&m, &format!("new-{i}"), "100.00"))
            .await
            .unwrap();
    }
    let viewer = admin::operator(&app, "view@example.com", "viewer").await;

    // Every order of the merchant (its index serves the filter: one page, no window).
    let (status, every) = viewer
        .get(&format!(
            "/octopus/admin/v1/orders?merchant_uid={}&limit=200",
            m.merchant_uid
        ))
        .await;
    assert_eq!(status, 200, "{every}");
    assert_eq!(every["data"]["searched_back_to"], Value::Null);
    let deposits: Vec<String> = every["data"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["transaction_type"] == "income")
        .map(|o| o["payment_uid"].as_str().unwrap().to_string())
        .collect();
    assert!(
        deposits.len() >= 3,
        "the funding deposit and two more: {deposits:?}"
    );

    // The newest four orders are payouts: the first page of deposits is empty, and goes on.
    let (status, first) = viewer
        .get("/octopus/admin/v1/orders?type=income&limit=3")
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(uids(&first), Vec::<String>::new());
    let back_to = first["data"]["searched_back_to"].as_str().unwrap();
    assert!(back_to.ends_with('Z'), "an RFC 3339 time: {back_to}");
    assert!(first["data"]["next"].is_string(), "{first}");

    for query in [
        "type=income".to_string(),
        format!("merchant_uid={}&type=income", m.merchant_uid),
    ] {
        assert_eq!(all_pages(&viewer, &query).await, deposits, "{query}");
        let (status, csv) = viewer
            .get_text(&format!("/octopus/admin/v1/orders.csv?{query}"))
            .await;
        assert_eq!(status, 200);
        let exported: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().to_string())
            .collect();
        assert_eq!(exported, deposits, "the CSV of {query}");
    }

    let (status, page) = viewer.get_text("/console/orders?type=income&limit=3").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="searched""#), "{page}");
    assert!(page.contains(r#"id="next""#), "{page}");
}

/// The order's history names the request that made each step (`X-Request-Id`, the client's
/// own or one the gateway made and returned): the merchant's order/new, the payer's page post;
/// a change made in the background names none.
async fn the_history_names_the_request_of_each_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let order = NewOrder::deposit(&m.merchant_uid, "traced-1", "12.00", "usd", "card", "US");
    let created =
        crate::helpers::signed_order_request(&app, &order.to_fields(), "application/json")
            .header("X-Request-Id", "merchant-req-1")
            .send()
            .await
            .unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()["x-request-id"], "merchant-req-1");
    let created: Value = created.json().await.unwrap();
    let uid = created["data"]["payment"]["payment_uid"]
        .as_str()
        .unwrap()
        .to_string();
    let payment_url = created["data"]["payment_url"].as_str().unwrap().to_string();
    let token = crate::helpers::page_token(&payment_url).await;
    let paid = crate::helpers::http()
        .post(format!("{payment_url}/simulate"))
        .header("X-Request-Id", "payer-req-2")
        .form(&[("outcome", "completed"), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    // A sandbox payout completes in the background: its completion names no request.
    app.fund(&m, "usd", "50.00").await;
    let out = NewOrder::payout(
        &m.merchant_uid,
        "traced-out",
        "5.00",
        "usd",
        "bank",
        "US",
        "1",
        "A",
        "B",
    );
    let made = app.client.create_order(&out).await.unwrap();
    app.wait_for_status(&app.client, "traced-out", "completed", WAIT)
        .await;

    let admin = admin::operator(&app, "trace@example.com", "support").await;
    let history = |detail: &Value| -> Vec<(String, String)> {
        detail["data"]["status_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["to"].as_str().unwrap().to_string(),
                    e["request_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (_, detail) = admin.get(&format!("/octopus/admin/v1/orders/{uid}")).await;
    assert_eq!(
        history(&detail),
        [
            ("pending".to_string(), "merchant-req-1".to_string()),
            ("completed".to_string(), "payer-req-2".to_string())
        ],
        "{detail}"
    );
    let (_, detail) = admin
        .get(&format!(
            "/octopus/admin/v1/orders/{}",
            made.payment.payment_uid
        ))
        .await;
    let steps = history(&detail);
    let made_by = &steps[0].1;
    assert_eq!(made_by.len(), 32, "an id the gateway made: {steps:?}");
    assert_eq!(
        steps.last().unwrap(),
        &("completed".to_string(), String::new()),
        "{steps:?}"
    );
}

crate::on_both_backends!(
    the_history_names_the_request_of_each_change,
    a_filter_no_index_serves_pages_through_windows_to_every_match,
    own_account_money_moves_through_the_admin_api,
    pages_keep_orders_of_the_same_millisecond_apart,
    orders_are_found_by_any_id_and_filtered_and_exported,
    an_operator_reads_an_order_resends_its_callback_and_refunds_it,
    payouts_are_approved_and_rejected_and_stuck_orders_failed,
);
