//! Rate limits over real HTTP on both backends: a burst over a limit is answered 429
//! `{"result":"error","data":"Too many requests"}` with `Retry-After`, the refused requests
//! store nothing, and after the wait the same client is served again. Per API key on the
//! merchant API (another merchant's key keeps its budget), per client IP on the cashier pages,
//! the postbacks and the device API; behind a trusted proxy each forwarded client has its own
//! budget, an IPv6 host shares one per /64, and a client that is not a trusted proxy cannot
//! get a fresh budget by forging `X-Forwarded-For`.

use std::net::IpAddr;
use std::time::Duration;

use futures::future::join_all;
use octopus_client::device::{new_nonce, REPORT_PATH};
use octopus_client::NewOrder;
use octopus_server::http::rate_limit::parse_limit;
use octopus_server::ServerConfig;

use crate::helpers::accounts::{own_channel, thai_promptpay};
use crate::helpers::paykassma::{deposit_transaction, PkSim};
use crate::helpers::{
    command, db_args, http, spawn_app_with, test_config, Backend, Creds, TestApp, TestDb,
};

/// The one answer of every refusal over a limit (as JSON: its members' order is not part of it).
fn too_many() -> serde_json::Value {
    serde_json::json!({"result": "error", "data": "Too many requests"})
}
/// Requests sent at once in a burst (every limit below lets 3 through).
const BURST: usize = 12;

/// What a test reads of an answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let headers = response.headers().clone();
    Reply {
        status,
        retry_after,
        headers,
        body: response.text().await.unwrap(),
    }
}

/// Checks a refusal over a limit; returns its `Retry-After` in seconds.
fn assert_too_many(r: &Reply, what: &str) -> u64 {
    let body: serde_json::Value =
        serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{what}: not JSON: {}", r.body));
    assert_eq!((r.status, body), (429, too_many()), "{what}");
    let seconds: u64 = r
        .retry_after
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .parse()
        .unwrap_or_else(|_| panic!("{what}: Retry-After {:?}", r.retry_after));
    assert!(seconds >= 1, "{what}: Retry-After {seconds}");
    seconds
}

/// Splits a burst's answers into (served, refused) by their index, after checking that every
/// one is `served_status` or a proper 429 and that the limit let some through and refused
/// others; also returns the longest `Retry-After`.
fn split(replies: &[Reply], served_status: u16, what: &str) -> (Vec<usize>, Vec<usize>, u64) {
    let (mut served, mut refused, mut wait) = (Vec::new(), Vec::new(), 0);
    for (i, r) in replies.iter().enumerate() {
        if r.status == 429 {
            wait = wait.max(assert_too_many(r, what));
            refused.push(i);
        } else {
            assert_eq!(r.status, served_status, "{what} #{i}: {}", r.body);
            assert!(r.retry_after.is_none(), "{what} #{i}: {r:?}");
            served.push(i);
        }
    }
    assert!(
        !served.is_empty() && !refused.is_empty(),
        "{what}: {} served, {} refused of {}",
        served.len(),
        refused.len(),
        replies.len()
    );
    (served, refused, wait)
}

/// Waits as long as the answers said.
async fn wait_retry_after(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

fn config_with(set: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
    let mut config = test_config();
    set(&mut config);
    config
}

fn limit(text: &str) -> Option<octopus_server::http::rate_limit::Rate> {
    parse_limit(text).unwrap()
}

fn deposit(creds: &Creds, id: &str) -> NewOrder {
    NewOrder::deposit(
        &creds.merchant_uid,
        id,
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
    )
}

/// `order/new` signed with `creds`, read with its headers.
async fn order_new(app: &TestApp, creds: &Creds, order: &NewOrder) -> Reply {
    let fields = order.to_fields();
    let signature = app.client_for(creds).sign(&fields);
    reply(
        http()
            .post(format!("{}/octopus/api/order/new", app.base_url))
            .header("Content-Type", "application/json")
            .header("OC-Key", &creds.api_key)
            .header("OC-Signature", signature)
            .body(fields.to_json())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn orders_of(app: &TestApp, creds: &Creds) -> i64 {
    app.db
        .query_count(&format!(
            "SELECT COUNT(*) FROM orders WHERE merchant_id = {}",
            creds.merchant_id
        ))
        .await
}

async fn the_merchant_api_is_limited_per_key(backend: Backend) {
    let config = config_with(|c| c.rate_limits.api_per_key = limit("3/s"));
    let app = spawn_app_with(backend, config).await;
    let m = app.merchant.clone();
    let other = app.new_merchant("Other Merchant").await;
    let orders: Vec<NewOrder> = (0..BURST)
        .map(|i| deposit(&m, &format!("rl-{i}")))
        .collect();
    let replies = join_all(orders.iter().map(|o| order_new(&app, &m, o))).await;
    let (served, refused, wait) = split(&replies, 200, "order/new burst");

    // Another merchant's key has its own budget, untouched by the burst.
    let theirs = app
        .client_for(&other)
        .create_order(&deposit(&other, "theirs-1"))
        .await
        .expect("another key is served");
    assert_eq!(theirs.payment.merchant_order_id, "theirs-1");

    // A refused order was not stored: only the served ones are.
    assert_eq!(orders_of(&app, &m).await, served.len() as i64);

    // After the wait the same key is served again: the refused order does not exist, and
    // sending it again creates it.
    wait_retry_after(wait).await;
    let again = &orders[refused[0]];
    match app.client.get_order(&again.merchant_order_id).await {
        Err(octopus_client::ClientError::Api { status: 404, .. }) => {}
        other => panic!("a refused order is not found, got {other:?}"),
    }
    let created = order_new(&app, &m, again).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(orders_of(&app, &m).await, served.len() as i64 + 1);
}

async fn cashier_pages_are_limited_per_ip(backend: Backend) {
    let config = config_with(|c| c.rate_limits.pages_per_ip = limit("3/s"));
    let app = spawn_app_with(backend, config).await;
    let created = app
        .client
        .create_order(&deposit(&app.merchant, "page-1"))
        .await
        .unwrap();
    let page = || async { reply(http().get(&created.payment_url).send().await.unwrap()).await };
    let replies = join_all((0..BURST).map(|_| page())).await;
    let (_, refused, wait) = split(&replies, 200, "page burst");
    // The refusal keeps the cashier's protective headers.
    let headers = &replies[refused[0]].headers;
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.contains_key("content-security-policy"));

    wait_retry_after(wait).await;
    let again = http().get(&created.payment_url).send().await.unwrap();
    assert_eq!(again.status(), 200);
    let body = again.text().await.unwrap();
    assert!(body.starts_with("<!doctype html>"), "{body}");
}

async fn postbacks_are_limited_per_ip(backend: Backend) {
    let config = config_with(|c| c.rate_limits.postbacks_per_ip = limit("3/s"));
    let app = spawn_app_with(backend, config).await;
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let mut uids = Vec::new();
    for i in 0..BURST {
        let mut order = deposit(&app.live, &format!("pb-{i}"));
        order.amount = "6000.00".into();
        let created = app.live_client.create_order(&order).await.unwrap();
        assert_eq!(created.payment.channel, "pk-mm");
        uids.push(created.payment.payment_uid);
    }
    let postback = |i: usize| {
        let transaction = deposit_transaction(&format!("TXR{i}"), &uids[i], r#""6000""#);
        let request = pk.postback_request(&app, "pk-mm", Some("ingoing"), &[transaction]);
        async move { reply(request.send().await.unwrap()).await }
    };
    let replies = join_all((0..BURST).map(postback)).await;
    let (served, refused, wait) = split(&replies, 200, "postback burst");
    let postbacks_kept = |uid: String| {
        let app = &app;
        async move {
            let (_, exchanges) = app.storage().upstream_of(&uid).await.unwrap();
            exchanges
                .iter()
                .filter(|e| e.operation == "postback")
                .count()
        }
    };
    for &i in &served {
        let order = app.live_client.get_order(&format!("pb-{i}")).await.unwrap();
        assert_eq!(order.payment_status, "completed", "served postback {i}");
        assert_eq!(postbacks_kept(uids[i].clone()).await, 1);
    }
    for &i in &refused {
        let order = app.live_client.get_order(&format!("pb-{i}")).await.unwrap();
        assert_ne!(order.payment_status, "completed", "refused postback {i}");
        assert_eq!(
            postbacks_kept(uids[i].clone()).await,
            0,
            "a refused postback is not kept on its order's history"
        );
    }

    // After the wait the provider's repeat is applied.
    wait_retry_after(wait).await;
    let again = postback(refused[0]).await;
    assert_eq!(
        (again.status, again.body.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    let order = app
        .live_client
        .get_order(&format!("pb-{}", refused[0]))
        .await
        .unwrap();
    assert_eq!(order.payment_status, "completed");
}

async fn device_requests_are_limited_per_ip(backend: Backend) {
    let config = config_with(|c| c.rate_limits.devices_per_ip = limit("3/s"));
    let app = spawn_app_with(backend, config).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let transfers = || app.db.query_count("SELECT COUNT(*) FROM transfers");
    // Transfers that match no order: each one served is kept (in suspense).
    let report = |i: usize| {
        let body = account
            .transfer("123.45", "thb", &format!("REF{i}"))
            .body()
            .to_string();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut request = http()
            .post(format!("{}{REPORT_PATH}", app.base_url))
            .header("content-type", "application/json");
        for (name, value) in
            account
                .device
                .signed_headers(REPORT_PATH, body.as_bytes(), unix, &new_nonce())
        {
            request = request.header(name, value);
        }
        let request = request.body(body);
        async move { reply(request.send().await.unwrap()).await }
    };
    let replies = join_all((0..BURST).map(report)).await;
    let (served, refused, wait) = split(&replies, 200, "report burst");
    assert_eq!(
        transfers().await,
        served.len() as i64,
        "a refused report stores nothing"
    );

    // After the wait the device is served again, and a refused report sent again is kept.
    wait_retry_after(wait).await;
    let again = report(refused[0]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(transfers().await, served.len() as i64 + 1);
}

/// Behind a trusted proxy (127.0.0.1 here) the budget is the forwarded client's; an IPv6
/// client's is its /64's; a peer that is not a trusted proxy is limited by its own address
/// whatever `X-Forwarded-For` it sends. (Two a minute, so nothing refills during the test.)
async fn behind_a_trusted_proxy_each_client_has_its_own_budget(backend: Backend) {
    let config = config_with(|c| {
        c.rate_limits.pages_per_ip = limit("2/min");
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    });
    let app = spawn_app_with(backend, config).await;
    let created = app
        .client
        .create_order(&deposit(&app.merchant, "proxied-1"))
        .await
        .unwrap();
    let url = created.payment_url.clone();
    let from = |client: &reqwest::Client, forwarded: &str| {
        let request = client.get(&url).header("X-Forwarded-For", forwarded);
        async move { reply(request.send().await.unwrap()).await }
    };
    let proxy = http();
    for client in ["203.0.113.7", "2001:db8:1:2::1"] {
        for _ in 0..2 {
            assert_eq!(from(&proxy, client).await.status, 200, "{client}");
        }
        let wait = assert_too_many(&from(&proxy, client).await, client);
        assert!(wait > 20 && wait <= 30, "one request in 30 s: {wait}");
    }
    // Another IPv4 client and another /64 have budgets of their own; the same /64 does not.
    assert_eq!(from(&proxy, "203.0.113.8").await.status, 200);
    assert_eq!(from(&proxy, "2001:db8:1:3::1").await.status, 200);
    assert_eq!(from(&proxy, "2001:db8:1:2:ffff:1:2:3").await.status, 429);
    // Of a chain, the nearest hop that is not a trusted proxy is the client.
    assert_eq!(from(&proxy, "198.51.100.1, 203.0.113.7").await.status, 429);

    // 127.0.0.2 is no trusted proxy: its forged X-Forwarded-For is ignored.
    let direct = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let forged = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
    let mut statuses: Vec<u16> = join_all(forged.iter().map(|f| from(&direct, f)))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429]);
}

crate::on_both_backends!(
    the_merchant_api_is_limited_per_key,
    cashier_pages_are_limited_per_ip,
    postbacks_are_limited_per_ip,
    device_requests_are_limited_per_ip,
    behind_a_trusted_proxy_each_client_has_its_own_budget,
);

/// A limit the server cannot read stops it at start, naming the flag and the format, before
/// the database is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_that_cannot_be_read_stops_the_server() {
    let db = TestDb::new(&Backend::Sqlite).await;
    for (flag, value) in [
        ("--rate-limit-api", "10/hour"),
        ("--rate-limit-pages", "0/s"),
        ("--rate-limit-postbacks", "lots"),
        ("--rate-limit-devices", "2000000/s"),
    ] {
        let out = command()
            .args(["serve", "--listen", "127.0.0.1:0", flag, value])
            .args(db_args(&db))
            .env("OCTOPUS_MASTER_KEY", "33".repeat(32))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value}: {stderr}");
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains("N/s, N/min or off") || stderr.contains("from 1 to 1000000"),
            "{flag} {value}: {stderr}"
        );
        let created = std::fs::read_dir(db.data_dir.path()).unwrap().count();
        assert_eq!(created, 0, "{flag} {value}: no database was created");
    }
}
