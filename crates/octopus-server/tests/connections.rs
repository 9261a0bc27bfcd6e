//! The connection layer on its own (`octopus_server::http::connections::serve` over a real socket,
//! with a router of its own: a handler that panics, one that takes a while), for what the
//! gateway's routes cannot show: a panic costs no connection slot, room is made only for a
//! connection that needs it, and a head started on an idle connection gets the header timeout.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use octopus_server::http::connections::{serve, ConnectionLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(
    cap: usize,
    limits: ConnectionLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let router = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("a handler that panics");
                }
                "never"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, router, limits, cap, async {
        let _ = stopped.await;
    }));
    (address, stop)
}

/// One request on a new connection; the status, or None when the connection ended first.
async fn get_status(address: std::net::SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_500_and_costs_no_connection_slot() {
    let metrics = octopus_server::metrics::handle();
    let (address, _stop) = start(2, ConnectionLimits::default()).await;
    assert_eq!(get_status(address, "/ok").await, Some(200));
    for _ in 0..3 {
        assert_eq!(
            get_status(address, "/panic").await,
            Some(500),
            "a panic is the documented 500"
        );
    }
    // Counted (only this test's handler panics in this process).
    let panics: f64 = metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix("octopus_http_panics_total "))
        .unwrap_or_else(|| panic!("no panic counter in {}", metrics.render()))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(panics, 3.0);
    for i in 0..3 {
        assert_eq!(
            get_status(address, "/ok").await,
            Some(200),
            "request {i} after the panics"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_at_the_cap_are_served_not_closed_to_make_room() {
    let (address, _stop) = start(2, ConnectionLimits::default()).await;
    for round in 0..3 {
        let (a, b) = tokio::join!(get_status(address, "/slow"), get_status(address, "/slow"));
        assert_eq!(
            (a, b),
            (Some(200), Some(200)),
            "round {round}: both connections within the cap are answered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_begun_on_an_idle_connection_gets_the_header_timeout_not_the_idle_one() {
    let limits = ConnectionLimits {
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(60),
        ..ConnectionLimits::default()
    };
    let (address, _stop) = start(16, limits).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the half-sent head is still open after 10 s: {closed:?}"
    );
}
