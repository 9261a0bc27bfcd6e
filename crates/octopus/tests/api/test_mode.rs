//! Test mode end to end, on both backends: every merchant has a live book and a test book.
//! Test keys reach only the sandbox and live keys never do; test money and test orders are
//! kept apart from live ones (balances, `merchant_order_id`s); a test order says `"test":"1"`
//! on order/new, order/get and every (signed) callback while a live one has no such field;
//! only a test order's cashier page can be paid or failed by hand; and `octopus merchant
//! create` hands out both keys, each working in its own mode.

use std::collections::BTreeSet;
use std::time::Duration;

use octopus_client::{Client, NewOrder};
use octopus_domain::ledger::{FeeRule, FeeSchedule};
use octopus_domain::RequestFields;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::callbacks::verify;
use crate::helpers::accounts::{json_lines, octopus, own_channel, thai_promptpay};
use crate::helpers::paykassma::PkSim;
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{http, pay, simulate, spawn_app, Backend, Creds};

const WAIT: Duration = Duration::from_secs(15);

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn thb_deposit(creds: &Creds, id: &str, amount: &str) -> NewOrder {
    NewOrder::deposit(
        &creds.merchant_uid,
        id,
        amount,
        "thb",
        "thailand",
        "thailand",
    )
}

fn wavepay(creds: &Creds, id: &str, amount: &str) -> NewOrder {
    NewOrder::deposit(&creds.merchant_uid, id, amount, "mmk", "wavepay", "myanmar")
}

/// A signed request through `client`: (HTTP status, JSON body).
async fn signed(client: &Client, path: &str, fields: &RequestFields) -> (u16, Value) {
    let a = client
        .post_signed(path, fields)
        .await
        .expect("request sent");
    (a.status, a.body)
}

/// `order/new` as sent by `client`: (HTTP status, JSON body).
async fn order_new(client: &Client, order: &NewOrder) -> (u16, Value) {
    signed(client, "/octopus/api/order/new", &order.to_fields()).await
}

/// `order/get` of `merchant_order_id` as sent by `client`: (HTTP status, JSON body).
async fn order_get(client: &Client, merchant_order_id: &str) -> (u16, Value) {
    let fields: RequestFields = [("merchant_order_id", merchant_order_id)]
        .into_iter()
        .collect();
    signed(client, "/octopus/api/order/get", &fields).await
}

fn refused(data: &str) -> Value {
    serde_json::json!({"result": "error", "data": data})
}

fn not_found() -> Value {
    refused("Order not found")
}

/// `get_merchant_balance` of the key's book: currency → (available, held, total).
async fn balances(client: &Client, merchant_uid: &str) -> Value {
    let fields: RequestFields = [("merchant_uid", merchant_uid)].into_iter().collect();
    let (status, body) = signed(client, "/octopus/api/ledger/get_merchant_balance", &fields).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["balances"].clone()
}

async fn a_paid_test_deposit_credits_the_test_book_and_leaves_live_money_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let (test, live) = (app.merchant.clone(), app.live.clone());
    // Fees are the merchant's, whichever book: 2.5% + 1.00 on every deposit.
    app.storage()
        .set_fee_rule(
            app.owner_id(&live).await,
            &FeeSchedule::parse(
                "*",
                "receive",
                FeeRule::new(d("2.5"), d("1.00"), Decimal::ZERO, None).unwrap(),
            )
            .unwrap(),
            0,
        )
        .await
        .unwrap();
    app.fund(&live, "thb", "300.00").await;
    assert_eq!(app.balance(&live, "thb").await, (d("300"), Decimal::ZERO));
    assert_ne!(test.merchant_id, live.merchant_id, "two books");

    let created = app
        .client
        .create_order(&thb_deposit(&test, "tm-1", "100.00"))
        .await
        .expect("a test deposit");
    assert_eq!(created.payment.channel, "sandbox");
    assert_eq!(created.payment.fee, "3.50");
    pay(&created.payment_url).await;
    let order = app.client.get_order("tm-1").await.unwrap();
    assert_eq!(order.payment_status, "completed");
    assert_eq!(order.accounting_status, "accounted");

    // The books as stored: the test one credited, the live one as it was.
    assert_eq!(app.balance(&test, "thb").await, (d("96.5"), Decimal::ZERO));
    assert_eq!(app.balance(&live, "thb").await, (d("300"), Decimal::ZERO));

    // The merchant's views answer the key's book: test balances to the test key, live ones
    // to the live key, under the merchant's one uid and name.
    let ledger = app
        .client
        .merchant_ledger(&test.merchant_uid)
        .await
        .unwrap();
    assert_eq!(ledger["thb"], "96.500000");
    assert_eq!(ledger["merchant_uid"], test.merchant_uid);
    let live_ledger = app
        .live_client
        .merchant_ledger(&live.merchant_uid)
        .await
        .unwrap();
    assert_eq!(live_ledger["thb"], "300.000000");
    assert_eq!(live_ledger["merchant_name"], ledger["merchant_name"]);
    // The test book's answer says it is; the live one has no such field.
    assert_eq!(ledger["test"], "1");
    assert!(!live_ledger.contains_key("test"));
    assert_eq!(
        balances(&app.client, &test.merchant_uid).await["thb"],
        serde_json::json!({"available": "96.500000", "held": "0.000000", "total": "96.500000"})
    );
    assert_eq!(
        balances(&app.live_client, &live.merchant_uid).await["thb"],
        serde_json::json!({"available": "300.000000", "held": "0.000000", "total": "300.000000"})
    );

    // The entries too: the test deposit only in the test book.
    let fields: RequestFields = [("merchant_uid", test.merchant_uid.as_str())]
        .into_iter()
        .collect();
    let (_, test_entries) = signed(
        &app.client,
        "/octopus/api/ledger/get_merchant_entries",
        &fields,
    )
    .await;
    let (_, live_entries) = signed(
        &app.live_client,
        "/octopus/api/ledger/get_merchant_entries",
        &fields,
    )
    .await;
    let ids = |body: &Value| -> Vec<String> {
        body["data"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["merchant_order_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&test_entries), vec!["tm-1".to_string()]);
    assert!(
        ids(&live_entries).iter().all(|id| id.starts_with("fund-")),
        "{live_entries}"
    );
    app.assert_ledger_sound().await;
    // `octopus ledger verify` succeeds (`octopus` panics otherwise) and says so.
    let verified = octopus(&app, &["ledger", "verify"]);
    assert!(verified.contains("OK: every entry balances"), "{verified}");
}

async fn a_live_key_never_reaches_the_sandbox_and_a_test_key_never_reaches_real_money(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (test, live) = (app.merchant.clone(), app.live.clone());

    // Only the sandbox is configured: a live deposit has nowhere to go, and nothing is stored.
    let (status, body) = order_new(&app.live_client, &thb_deposit(&live, "live-1", "100.00")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body,
        refused("No channel available (sandbox: sandbox: only test keys reach it)")
    );
    assert_eq!(
        order_get(&app.live_client, "live-1").await,
        (404, not_found())
    );
    let (status, body) = order_new(
        &app.live_client,
        &NewOrder::payout(
            &live.merchant_uid,
            "live-payout-1",
            "10.00",
            "thb",
            "thailand",
            "thailand",
            "1234567890",
            "Somchai Jaidee",
            "kbank",
        ),
    )
    .await;
    assert_eq!(status, 422, "a live payout neither: {body}");
    assert_eq!(
        order_get(&app.live_client, "live-payout-1").await.0,
        404,
        "nothing stored"
    );

    // A real channel ahead of the sandbox: a test deposit still goes to the sandbox, and
    // Paykassma is never called.
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let created = app
        .client
        .create_order(&wavepay(&test, "test-1", "6000.00"))
        .await
        .expect("a test deposit");
    assert_eq!(created.payment.channel, "sandbox");
    let rules: Value = serde_json::from_str(&created.payment.distribute_rules).unwrap();
    assert_eq!(
        rules["skipped"]["pk-mm"], "real money: test keys only reach sandbox channels",
        "{rules}"
    );
    // ... while the live key's deposit does go to Paykassma (the channel is in use).
    let live_created = app
        .live_client
        .create_order(&wavepay(&live, "live-2", "6000.00"))
        .await
        .expect("a live deposit");
    assert_eq!(live_created.payment.channel, "pk-mm");
    let calls = pk.state()["calls"].as_array().unwrap().clone();
    assert_eq!(calls.len(), 1, "only the live deposit upstream: {calls:?}");
    assert_eq!(
        calls[0]["body"]["label"], live_created.payment.payment_uid,
        "{calls:?}"
    );

    // Without the sandbox, a test deposit is refused rather than sent to real money.
    app.set_channel_enabled("sandbox", false).await;
    let (status, body) = order_new(&app.client, &wavepay(&test, "test-2", "6000.00")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body,
        refused(
            "No channel available (pk-mm: real money: test keys only reach sandbox channels; \
             sandbox: disabled)"
        )
    );
    assert_eq!(order_get(&app.client, "test-2").await, (404, not_found()));
    assert_eq!(
        pk.state()["calls"].as_array().unwrap().len(),
        1,
        "Paykassma still has only the live deposit"
    );
}

async fn a_test_order_says_test_everywhere_and_a_live_order_nowhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let (test, live) = (app.merchant.clone(), app.live.clone());
    let receiver = Receiver::start(vec![], Reply::Success).await;

    // A test order.
    let mut order = thb_deposit(&test, "flag-test", "100.00");
    order.notify_url = Some(receiver.url.clone());
    let (status, created) = order_new(&app.client, &order).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["data"]["payment"]["test"], "1", "{created}");
    let payment_url = created["data"]["payment_url"].as_str().unwrap().to_string();
    pay(&payment_url).await;
    let (status, got) = order_get(&app.client, "flag-test").await;
    assert_eq!(status, 200);
    assert_eq!(got["data"]["test"], "1", "{got}");
    assert_eq!(got["data"]["payment_status"], "completed");
    let callbacks = receiver.wait_for(1, WAIT).await;
    let cb = &callbacks[0];
    assert_eq!(cb.json["test"], "1", "{}", cb.body);
    assert_eq!(cb.json["merchant_order_id"], "flag-test");
    assert_eq!(cb.json["signature_key"], test.api_key.as_str());
    let signature = cb
        .headers
        .get("oc-signature")
        .expect("Oc-Signature header")
        .to_str()
        .unwrap();
    assert!(
        verify(cb.body.as_bytes(), signature, &test.api_secret),
        "signed with the test secret, `test` included: {}",
        cb.body
    );
    // `test` is signed: a receiver that strips it cannot pass the callback off as live.
    let mut stripped = cb.json.clone();
    stripped.as_object_mut().unwrap().remove("test");
    assert!(!verify(
        stripped.to_string().as_bytes(),
        signature,
        &test.api_secret
    ));

    // A live order on a real channel (Paykassma): no `test` anywhere.
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let mut order = wavepay(&live, "flag-live", "6000.00");
    order.notify_url = Some(receiver.url.clone());
    let (status, created) = order_new(&app.live_client, &order).await;
    assert_eq!(status, 200, "{created}");
    let payment = &created["data"]["payment"];
    assert_eq!(payment["channel"], "pk-mm");
    assert!(payment.get("test").is_none(), "{created}");
    let payment_url = created["data"]["payment_url"].as_str().unwrap().to_string();
    pk.sim.transfer("5750E9FBB3", 6000, "MMK");
    let token = crate::helpers::page_token(&payment_url).await;
    let r = http()
        .post(format!("{payment_url}/confirm"))
        .form(&[("transaction_id", "5750E9FBB3"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.wait_for_status(&app.live_client, "flag-live", "completed", WAIT)
        .await;
    let (status, got) = order_get(&app.live_client, "flag-live").await;
    assert_eq!(status, 200);
    assert!(got["data"].get("test").is_none(), "{got}");
    let callbacks = receiver.wait_for(2, WAIT).await;
    let cb = callbacks
        .iter()
        .find(|c| c.json["merchant_order_id"] == "flag-live")
        .expect("the live order's callback");
    assert_eq!(cb.json["payment_status"], "completed");
    assert!(cb.json.get("test").is_none(), "{}", cb.body);
    let signature = cb.headers["oc-signature"].to_str().unwrap();
    assert!(verify(cb.body.as_bytes(), signature, &live.api_secret));
    assert!(!verify(cb.body.as_bytes(), signature, &test.api_secret));
}

async fn one_merchant_order_id_lives_in_each_book_independently(backend: Backend) {
    let app = spawn_app(backend).await;
    let (test, live) = (app.merchant.clone(), app.live.clone());
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    thai_promptpay(&app, "own").await;

    let test_order = app
        .client
        .create_order(&thb_deposit(&test, "same-1", "100.00"))
        .await
        .expect("the test order");
    // The same id in the live book, with other parameters: a new order, not a duplicate.
    let live_order = app
        .live_client
        .create_order(&thb_deposit(&live, "same-1", "250.00"))
        .await
        .expect("the live order");
    assert_ne!(
        test_order.payment.payment_uid,
        live_order.payment.payment_uid
    );
    assert_eq!(test_order.payment.channel, "sandbox");
    assert_eq!(live_order.payment.channel, "own");

    // Each key sees its own order under that id.
    let seen_test = app.client.get_order("same-1").await.unwrap();
    let seen_live = app.live_client.get_order("same-1").await.unwrap();
    assert_eq!(seen_test.payment_uid, test_order.payment.payment_uid);
    assert_eq!(seen_test.amount, "100.00");
    assert_eq!(seen_live.payment_uid, live_order.payment.payment_uid);
    assert_eq!(seen_live.amount, "250.00");

    // Idempotency holds within each book: the same parameters give the order back, others
    // are a conflict there (and only there).
    let again = app
        .client
        .create_order(&thb_deposit(&test, "same-1", "100.00"))
        .await
        .unwrap();
    assert_eq!(again.payment.payment_uid, test_order.payment.payment_uid);
    let (status, body) = order_new(&app.client, &thb_deposit(&test, "same-1", "250.00")).await;
    assert_eq!(status, 409, "{body}");

    // Neither key sees the other's order by its payment_uid.
    let by_uid = |uid: &str| -> RequestFields { [("payment_uid", uid)].into_iter().collect() };
    let (status, _) = signed(
        &app.client,
        "/octopus/api/order/get",
        &by_uid(&live_order.payment.payment_uid),
    )
    .await;
    assert_eq!(status, 404, "the test key cannot read the live order");
    let (status, _) = signed(
        &app.live_client,
        "/octopus/api/order/get",
        &by_uid(&test_order.payment.payment_uid),
    )
    .await;
    assert_eq!(status, 404, "the live key cannot read the test order");

    // Paying the test order changes only it.
    pay(&test_order.payment_url).await;
    assert_eq!(
        app.client.get_order("same-1").await.unwrap().payment_status,
        "completed"
    );
    assert_eq!(
        app.live_client
            .get_order("same-1")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    assert_eq!(app.balance(&live, "thb").await, (d("0"), d("0")));
    assert_eq!(app.balance(&test, "thb").await.0, d("100"));
    app.assert_ledger_sound().await;
}

async fn only_a_test_order_can_be_paid_or_failed_by_hand(backend: Backend) {
    let app = spawn_app(backend).await;
    let (test, live) = (app.merchant.clone(), app.live.clone());
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    thai_promptpay(&app, "own").await;

    let test_order = app
        .client
        .create_order(&thb_deposit(&test, "page-test", "100.00"))
        .await
        .unwrap();
    let page = http()
        .get(&test_order.payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"id="pay""#) && page.contains(r#"id="fail""#),
        "the sandbox page of a test order has Pay and Fail: {page}"
    );
    assert!(page.contains(r#"name="outcome" value="failed""#));

    let live_order = app
        .live_client
        .create_order(&thb_deposit(&live, "page-live", "100.00"))
        .await
        .unwrap();
    assert_eq!(live_order.payment.channel, "own");
    let page = http()
        .get(&live_order.payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(r#"id="pay""#) && !page.contains(r#"id="fail""#),
        "a live page has no Pay or Fail: {page}"
    );
    assert!(!page.contains("/simulate"), "{page}");
    assert!(
        !crate::helpers::page_token(&live_order.payment_url)
            .await
            .is_empty(),
        "the live page has a form token (so a refusal below is not about the token)"
    );
    // A payer (or anyone) posting the sandbox form for the live order finds no such page,
    // and the order waits for real money.
    for outcome in ["completed", "failed"] {
        let r = simulate(&live_order.payment_url, outcome).await;
        assert_eq!(r.status(), 404, "simulate {outcome} on a live order");
        let body = r.text().await.unwrap();
        assert!(
            body.contains(r#"id="headline""#),
            "the not-found page: {body}"
        );
    }
    let order = app.live_client.get_order("page-live").await.unwrap();
    assert_eq!(order.payment_status, "pending");
    assert_eq!(order.notify_status, "none");
    assert_eq!(app.balance(&live, "thb").await, (d("0"), d("0")));

    // The test order's buttons do what they say.
    let r = simulate(&test_order.payment_url, "failed").await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.client
            .get_order("page-test")
            .await
            .unwrap()
            .payment_status,
        "failed"
    );
}

async fn merchant_create_prints_both_keys_and_each_works_in_its_mode(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    thai_promptpay(&app, "own").await;
    let out = octopus(&app, &["merchant", "create", "--name", "Two Books Shop"]);
    let created: Value = serde_json::from_str(out.trim()).expect("merchant create prints JSON");
    let fields: BTreeSet<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "merchant_uid",
            "merchant_name",
            "api_key",
            "api_secret",
            "test_api_key",
            "test_api_secret",
        ]),
        "{created}"
    );
    assert_eq!(created["merchant_name"], "Two Books Shop");
    let text = |k: &str| created[k].as_str().unwrap().to_string();
    let uid = text("merchant_uid");
    assert_ne!(text("api_key"), text("test_api_key"));
    assert_ne!(text("api_secret"), text("test_api_secret"));
    let live = Client::new(&app.base_url, &text("api_key"), &text("api_secret"));
    let test = Client::new(
        &app.base_url,
        &text("test_api_key"),
        &text("test_api_secret"),
    );

    // The test key: the sandbox, with `test` on the order.
    let order = |id: &str| NewOrder::deposit(&uid, id, "100.00", "thb", "thailand", "thailand");
    let (status, body) = order_new(&test, &order("tb-test")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["payment"]["channel"], "sandbox");
    assert_eq!(body["data"]["payment"]["test"], "1");
    assert_eq!(body["data"]["payment"]["merchant_name"], "Two Books Shop");
    // The live key: the operator's own account, no `test`.
    let (status, body) = order_new(&live, &order("tb-live")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["payment"]["channel"], "own");
    assert!(body["data"]["payment"].get("test").is_none(), "{body}");
    // Both answer for the same merchant.
    for client in [&live, &test] {
        let ledger = client.merchant_ledger(&uid).await.expect("ledger");
        assert_eq!(ledger["merchant_name"], "Two Books Shop");
    }
    // The operator's list shows both keys with their modes.
    let keys = json_lines(&octopus(&app, &["key", "list", "--merchant", &uid]));
    let modes: BTreeSet<(String, String)> = keys
        .iter()
        .map(|k| {
            (
                k["api_key"].as_str().unwrap().to_string(),
                k["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        modes,
        BTreeSet::from([
            (text("api_key"), "live".to_string()),
            (text("test_api_key"), "test".to_string()),
        ])
    );
}

crate::on_both_backends!(
    a_paid_test_deposit_credits_the_test_book_and_leaves_live_money_alone,
    a_live_key_never_reaches_the_sandbox_and_a_test_key_never_reaches_real_money,
    a_test_order_says_test_everywhere_and_a_live_order_nowhere,
    one_merchant_order_id_lives_in_each_book_independently,
    only_a_test_order_can_be_paid_or_failed_by_hand,
    merchant_create_prints_both_keys_and_each_works_in_its_mode,
);
