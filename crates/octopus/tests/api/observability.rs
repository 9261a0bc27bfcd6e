//! Observability (issue 14): `/readyz` beside `/healthz`, Prometheus metrics on their own
//! listener (`--metrics-listen`), request ids, JSON logs. A real `octopus serve` process is
//! scraped over HTTP after real requests; on PostgreSQL it reaches its database through a
//! TCP proxy the test cuts and restores, and `/readyz` follows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use octopus_client::NewOrder;
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::helpers::{db_args, merchant_create, spawn_app, Backend, ServerProcess, TestDb};

const WAIT: Duration = Duration::from_secs(20);

/// `/readyz` of a served app: its database answers with every migration, its workers run.
async fn a_serving_node_is_ready(backend: Backend) {
    let app = spawn_app(backend).await;
    let answer = reqwest::get(format!("{}/readyz", app.base_url))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["workers"], "running");
    assert!(body["migrations"].as_i64().unwrap() >= 14, "{body}");
    // The operations gauges on both backends: a callback to an endpoint that fails stays
    // pending (due, or scheduled for its retry); nothing else is waiting.
    let receiver = crate::helpers::receiver::Receiver::start(
        vec![],
        crate::helpers::receiver::Reply::Answer(500, "no"),
    )
    .await;
    let mut order = NewOrder::deposit(
        &app.merchant.merchant_uid,
        "g-1",
        "5.00",
        "usd",
        "card",
        "US",
    );
    order.notify_url = Some(receiver.url.clone());
    let created = app.client.create_order(&order).await.unwrap();
    crate::helpers::pay(&created.payment_url).await;
    let gauges = app
        .storage()
        .gauges(octopus_domain::Timestamp::MAX / 2)
        .await
        .unwrap();
    assert_eq!(
        gauges.callbacks_due + gauges.callbacks_scheduled,
        1,
        "{gauges:?}"
    );
    assert_eq!(
        (
            gauges.accounts_online,
            gauges.suspense_waiting,
            gauges.accounting_failed
        ),
        (0, 0, 0)
    );
}

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, nothing accepted) and
/// put back on the same port.
struct Proxy {
    address: std::net::SocketAddr,
    target: String,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            address: listener.local_addr().unwrap(),
            target: target.to_string(),
            tasks: Arc::new(Mutex::new(JoinSet::new())),
        };
        proxy.accept(listener).await;
        proxy
    }

    async fn accept(&self, listener: TcpListener) {
        let target = self.target.clone();
        let tasks = Arc::clone(&self.tasks);
        let inner = Arc::clone(&self.tasks);
        tasks.lock().await.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                inner.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
    }

    /// Drops every connection and stops accepting.
    async fn cut(&self) {
        self.tasks.lock().await.abort_all();
    }

    /// Accepts again on the same port.
    async fn restore(&self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.address).unwrap();
        self.accept(socket.listen(64).unwrap()).await;
    }
}

async fn readyz(base: &str) -> (u16, Value) {
    match reqwest::get(format!("{base}/readyz")).await {
        Ok(answer) => (
            answer.status().as_u16(),
            answer.json().await.unwrap_or(Value::Null),
        ),
        Err(e) => panic!("/readyz did not answer: {e}"),
    }
}

/// Polls `/readyz` until it answers `status`; returns its body.
async fn until_readyz(base: &str, status: u16) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (now, body) = readyz(base).await;
        if now == status {
            return body;
        }
        assert!(Instant::now() < deadline, "/readyz stayed {now}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The metrics' text, scraped.
async fn scrape(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// Whether a sample line (not a comment) holds every one of `needle`.
fn has_sample(scraped: &str, needle: &[&str]) -> bool {
    scraped
        .lines()
        .any(|l| !l.starts_with('#') && needle.iter().all(|n| l.contains(n)))
}

/// The metrics listener's address, from the line the server logs.
fn metrics_url(server: &ServerProcess) -> String {
    let lines = server.wait_for_output("metrics on http://");
    let line = lines
        .iter()
        .find(|l| l.contains("metrics on http://"))
        .unwrap();
    let at = line.find("metrics on http://").unwrap() + "metrics on ".len();
    line[at..]
        .split(|c: char| c == '"' || c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

/// One process on PostgreSQL through the proxy, metrics and JSON logs on: requests and orders
/// appear in the metrics with their labels, every answer carries a request id (the client's
/// when plausible) that the request's log line names, and `/readyz` goes unready when the
/// database is cut off and ready when it is back, while `/healthz` stays up.
async fn metrics_request_ids_and_readiness_through_an_outage(backend: Backend) {
    let Backend::Postgres(_) = backend else {
        return; // SQLite cannot be cut off from its node; `a_serving_node_is_ready` covers it.
    };
    let db = TestDb::new(&backend).await;
    let direct = db.database_url().unwrap();
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let through = direct.replace("@127.0.0.1:5432", &format!("@{}", proxy.address));
    assert_ne!(through, direct, "the test database is on 127.0.0.1:5432");
    let mut args = db_args(&db);
    let url_at = args.iter().position(|a| a == "--database-url").unwrap() + 1;
    args[url_at] = through;
    let creds = merchant_create(&db);
    let server = ServerProcess::start_logged(
        args,
        &["--metrics-listen", "127.0.0.1:0", "--log-format", "json"],
        &[("OCTOPUS_LOG", "info,octopus_server::metrics=debug")],
    );
    let metrics = metrics_url(&server);
    let body = until_readyz(&server.url, 200).await;
    assert_eq!(body["database"], "ok");

    let field = |k: &str| creds[k].as_str().unwrap().to_string();
    let client = octopus_client::Client::new(
        &server.url,
        &field("test_api_key"),
        &field("test_api_secret"),
    );
    let order = NewOrder::deposit(
        &field("merchant_uid"),
        "obs-1",
        "5.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    let created = client.create_order(&order).await.unwrap();
    crate::helpers::pay(&created.payment_url).await;
    // A live top-up to an own account: a device's heartbeat (the deposit is confirmed by hand
    // with the CLI, another process, whose change this node does not count).
    let live = octopus_client::Client::new(&server.url, &field("api_key"), &field("api_secret"));
    crate::helpers::accounts::fund_live_on(
        &db,
        None,
        &server.url,
        &live,
        &field("merchant_uid"),
        "mmk",
        "100.00",
    )
    .await;

    let http = reqwest::Client::new();
    let kept = http
        .get(format!("{}/healthz", server.url))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-me-42");
    let made = http
        .get(format!("{}/healthz", server.url))
        .header("X-Request-Id", "not plausible: it has spaces")
        .send()
        .await
        .unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "a new id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    let scraped = scrape(&metrics).await;
    let has = |needle: &[&str]| has_sample(&scraped, needle);
    assert!(
        has(&[
            "octopus_http_requests_total{",
            r#"route="/readyz""#,
            r#"status="200""#
        ]),
        "{scraped}"
    );
    assert!(has(&[
        "octopus_http_requests_total{",
        r#"route="/healthz""#,
        r#"method="GET""#
    ]));
    assert!(has(&[
        "octopus_http_request_duration_seconds_bucket{",
        r#"route="/healthz""#
    ]));
    assert!(
        has(&[
            "octopus_orders_created_total{",
            r#"type="income""#,
            r#"status="pending""#
        ]),
        "{scraped}"
    );
    // Status changes, the group commits that wrote them, a device's heartbeat, the gauges.
    for needle in [
        &[
            "octopus_order_status_changes_total{",
            r#"type="income""#,
            r#"channel="sandbox""#,
            r#"status="completed""#,
        ][..],
        &[
            "octopus_storage_group_size_bucket{",
            r#"backend="postgres""#,
            r#"writer="deposits""#,
        ],
        &[
            "octopus_storage_group_commit_seconds_bucket{",
            r#"backend="postgres""#,
            r#"writer="changes""#,
        ],
        &["octopus_device_heartbeats_total "],
        &["octopus_callbacks_due "],
        &["octopus_callbacks_scheduled "],
        &["octopus_accounts_online "],
        &["octopus_suspense_waiting "],
        &["octopus_accounting_failed_orders "],
    ] {
        assert!(has(needle), "{needle:?} in {scraped}");
    }
    // A 405 under its route; a made-up method under `other`, whatever it is.
    let wrong = http
        .delete(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    let odd = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
    http.request(odd, format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    let scraped = scrape(&metrics).await;
    let has = |needle: &[&str]| has_sample(&scraped, needle);
    assert!(
        has(&[
            r#"method="DELETE""#,
            r#"route="/healthz""#,
            r#"status="405""#
        ]),
        "{scraped}"
    );
    assert!(has(&[r#"method="other""#]), "{scraped}");
    assert!(!scraped.contains("FROBNICATE"), "{scraped}");

    // JSON logs, the request's line naming its id.
    let logged = server.wait_for_output("trace-me-42");
    let line = logged.iter().find(|l| l.contains("trace-me-42")).unwrap();
    let entry: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    assert_eq!(entry["span"]["request_id"], "trace-me-42", "{entry}");
    assert!(entry["level"].is_string());

    proxy.cut().await;
    let body = until_readyz(&server.url, 503).await;
    assert_eq!(body["status"], "unready", "{body}");
    assert_eq!(body["database"], "unreachable");
    let health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "alive, only not ready");
    proxy.restore().await;
    let body = until_readyz(&server.url, 200).await;
    assert_eq!(body["status"], "ready", "{body}");
}

crate::on_both_backends!(
    a_serving_node_is_ready,
    metrics_request_ids_and_readiness_through_an_outage,
);
