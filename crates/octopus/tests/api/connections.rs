//! What a hostile or clumsy client can do to a connection, and that it cannot stop the gateway
//! serving the others: connections that send half a request and wait, under the common soft
//! file limit of 1,024; slow heads, slow bodies and idle kept-alive connections; a refused
//! request on a pooled connection; a 413 to a client still sending its body.

use std::time::Duration;

use octopus_client::{Client, NewOrder};
use octopus_domain::RequestFields;
use octopus_server::ServerConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::raw_http::{closed_by_server, exchange, read_answer, request};
use crate::helpers::{
    merchant_create, spawn_app_with, test_config, Backend, ServerProcess, TestApp, TestDb,
};

/// A signed order/new body and its headers, for raw requests.
fn signed_deposit(app: &TestApp, merchant_order_id: &str) -> (Vec<u8>, String) {
    let fields: RequestFields = [
        ("transaction_type", "income"),
        ("amount", "10.00"),
        ("currency", "usd"),
        ("payment", "card"),
        ("country", "US"),
        ("merchant_order_id", merchant_order_id),
        ("merchant_uid", app.merchant.merchant_uid.as_str()),
        ("response_type", "json"),
    ]
    .into_iter()
    .collect();
    (fields.to_json().into_bytes(), app.client.sign(&fields))
}

fn order_new(app: &TestApp, body: &[u8], signature: &str, content_type: &str) -> Vec<u8> {
    request(
        "POST",
        "/octopus/api/order/new",
        &[
            ("Content-Type", content_type),
            ("OC-Key", &app.merchant.api_key),
            ("OC-Signature", signature),
        ],
        body,
    )
}

/// This test process opens many sockets of its own.
fn room_for(sockets: u64) {
    let limit = octopus_server::http::connections::raise_file_limit().expect("read the file limit");
    assert!(
        limit.now >= sockets + 256,
        "the test needs an open-file limit of at least {}",
        sockets + 256
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_under_a_1024_file_limit_do_not_stop_the_gateway() {
    const ATTACKERS: usize = 1_100;
    room_for(ATTACKERS as u64 + 64);
    let db = TestDb::new(&Backend::Sqlite).await;
    let creds = merchant_create(&db);
    // Long timeouts: what keeps the gateway serving here is the cap and making room, not a
    // timer running out.
    let server = ServerProcess::start_with_file_limit(
        &db,
        &["--header-timeout", "600", "--idle-timeout", "600"],
        1024,
        1024,
    );
    server.wait_for_output("accepting at most 768 connections");
    let address = server.url.trim_start_matches("http://").to_string();

    // One client opens 1,100 connections, each sending half a request, and waits.
    let mut held = Vec::with_capacity(ATTACKERS);
    for _ in 0..ATTACKERS {
        let connect =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&address)).await;
        if let Ok(Ok(mut stream)) = connect {
            let _ = stream.write_all(b"POST /octopus/api/order/new HTTP/1.1\r\nHost: victim\r\nContent-Type: application/json\r\n").await;
            held.push(stream);
        }
    }
    assert!(
        held.len() >= 1_000,
        "the attack could open only {} connections",
        held.len()
    );

    // Everyone else is still served while the attacker holds on.
    let client = Client::new(
        &server.url,
        creds["test_api_key"].as_str().unwrap(),
        creds["test_api_secret"].as_str().unwrap(),
    );
    let uid = creds["merchant_uid"].as_str().unwrap();
    for i in 0..5 {
        let order = NewOrder::deposit(
            uid,
            &format!("during-attack-{i}"),
            "12.34",
            "usd",
            "card",
            "US",
        );
        let created = tokio::time::timeout(Duration::from_secs(20), client.create_order(&order))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "order/new {i} got no answer while one client held {} half-sent requests",
                    held.len()
                )
            })
            .expect("order/new is served");
        assert_eq!(created.payment.payment_status, "pending");
    }
    let health = tokio::time::timeout(
        Duration::from_secs(20),
        reqwest::get(format!("{}/healthz", server.url)),
    )
    .await
    .expect("healthz answers during the attack")
    .unwrap();
    assert_eq!(health.status(), 200);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soft_file_limit_is_raised_to_the_hard_limit_at_start() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let server = ServerProcess::start_with_file_limit(&db, &[], 512, 4096);
    let lines = server.wait_for_output("accepting at most 3072 connections");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("raised the open file limit")
                && l.contains("512")
                && l.contains("4096")),
        "the raise is logged: {lines:?}"
    );
}

fn short_timeouts() -> ServerConfig {
    let mut config = test_config();
    config.connections.header_timeout = Duration::from_millis(500);
    config.connections.body_timeout = Duration::from_millis(500);
    config.connections.idle_timeout = Duration::from_millis(800);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_never_ends_is_closed_after_the_header_timeout() {
    // A long idle timeout: only the header timeout can close it within the wait below.
    let mut config = short_timeouts();
    config.connections.idle_timeout = Duration::from_secs(120);
    let app = spawn_app_with(Backend::Sqlite, config).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(20)).await,
        "the connection is still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_answered_408_and_closed() {
    let app = spawn_app_with(Backend::Sqlite, short_timeouts()).await;
    let (body, signature) = signed_deposit(&app, "slow-body");
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let full = order_new(&app, &body, &signature, "application/json");
    // Everything but the last ten bytes of the body.
    stream.write_all(&full[..full.len() - 10]).await.unwrap();
    let answer = read_answer(&mut stream, Duration::from_secs(20))
        .await
        .expect("an answer");
    assert_eq!(answer.status, 408);
    assert_eq!(
        answer.json(),
        serde_json::json!({"result": "error", "data": "Request timeout: the request body did not arrive in time"})
    );
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(closed_by_server(&mut stream, Duration::from_secs(20)).await);
    let missing = app.client.get_order("slow-body").await;
    assert!(
        missing.is_err(),
        "nothing is stored for a body that never came"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(Backend::Sqlite, short_timeouts()).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let answer = exchange(&mut stream, &request("GET", "/healthz", &[], b""))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_ne!(
        answer.header("connection"),
        Some("close"),
        "kept alive after an answer"
    );
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(20)).await,
        "the idle connection is still open"
    );
}

/// Writes a request as clients do: the head, then the body in 8 KiB blocks (Python's
/// `http.client`, a pooled client's separate writes); the body may arrive after the server
/// answered from the head alone.
async fn send_in_blocks(stream: &mut TcpStream, request: &[u8]) -> std::io::Result<()> {
    let head_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    stream.write_all(&request[..head_end]).await?;
    stream.flush().await?;
    for block in request[head_end..].chunks(8192) {
        // Let the server see the head (and answer) before the body comes.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        stream.write_all(block).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_before_its_body_was_read_leaves_the_connection_usable() {
    let app = spawn_app_with(Backend::Sqlite, test_config()).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    for i in 0..20 {
        let (body, signature) = signed_deposit(&app, &format!("after-refusal-{i}"));
        send_in_blocks(
            &mut stream,
            &order_new(&app, &body, &signature, "text/plain"),
        )
        .await
        .unwrap();
        let refused = read_answer(&mut stream, Duration::from_secs(30))
            .await
            .expect("the refusal");
        assert_eq!(refused.status, 400);
        assert_eq!(
            refused.json(),
            crate::helpers::invalid(
                "The request body must be JSON with Content-Type: application/json."
            )
        );
        // Either the answer said the connection ends, or the same connection takes the next
        // request; Octopus reads the refused body and keeps the connection.
        assert_ne!(
            refused.header("connection"),
            Some("close"),
            "a small refused body is read, not a reason to close"
        );
        let created = exchange(
            &mut stream,
            &order_new(&app, &body, &signature, "application/json"),
        )
        .await
        .unwrap_or_else(|e| {
            panic!("request {i} after a refusal on the same connection failed: {e}")
        });
        assert_eq!(
            created.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&created.body)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_still_sending_a_2_mb_body_reads_its_413() {
    let app = spawn_app_with(Backend::Sqlite, test_config()).await;
    let body = vec![b' '; 2_000_000];
    for i in 0..10 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        // Like Python's http.client: the whole body is written before the answer is read.
        send_in_blocks(
            &mut stream,
            &order_new(&app, &body, "00", "application/json"),
        )
        .await
        .unwrap_or_else(|e| {
            panic!("try {i}: sending the body failed with {e} instead of being read")
        });
        let answer = read_answer(&mut stream, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("try {i}: the client saw {e} instead of the 413"));
        assert_eq!(answer.status, 413);
        assert_eq!(
            answer.json(),
            serde_json::json!({"result": "error", "data": "Request body too large: the limit is 65536 bytes"})
        );
    }
}
