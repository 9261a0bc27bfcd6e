//! The connection layer on its own (`octopus_server::http::connections::serve` over a real socket,
//! with a router of its own: a handler that panics, one that takes a while), for what the
//! gateway's routes cannot show: a panic costs no connection slot, room is made only for a
//! connection that needs it, a head started on an idle connection gets the header timeout,
//! and a stopping server drains.

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
    let (address, stop, _) = start_draining(cap, limits, Duration::ZERO).await;
    (address, stop)
}

/// A server that drains for `drain_delay` when stopped; the task ends when it has stopped.
async fn start_draining(
    cap: usize,
    limits: ConnectionLimits,
    drain_delay: Duration,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
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
            "/slower",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(4500)).await;
                "slower"
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
    let served = tokio::spawn(serve(listener, router, limits, cap, drain_delay, async {
        let _ = stopped.await;
    }));
    (address, stop, served)
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

/// One request on an open keep-alive connection: the answer's head (status line and headers).
async fn request_on(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // The bodies here are short and sent with a length: read until the body is in.
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "the connection closed before answering");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return head.to_ascii_lowercase();
            }
        }
    }
}

#[tokio::test]
async fn a_stopping_server_answers_during_its_drain_delay_then_stops_accepting_and_finishes_requests_in_flight(
) {
    let drain = Duration::from_secs(3);
    let (address, stop, served) = start_draining(16, ConnectionLimits::default(), drain).await;
    let mut kept = TcpStream::connect(address).await.unwrap();
    let head = request_on(&mut kept, "/ok").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        !head.contains("connection: close"),
        "kept alive before the stop: {head}"
    );

    // A request in flight when the drain begins and still when accepting stops is answered.
    let slow = tokio::spawn(async move {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /slower HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).to_string()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    let stopped_at = std::time::Instant::now();

    // During the delay: the kept-alive connection is still answered, and told to close; a new
    // connection is accepted and answered too.
    let head = request_on(&mut kept, "/ok").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let mut after = [0u8; 1];
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), kept.read(&mut after))
            .await
            .expect("the server closes the connection after its answer")
            .unwrap(),
        0
    );
    let mut fresh = TcpStream::connect(address).await.unwrap();
    let head = request_on(&mut fresh, "/ok").await;
    assert!(
        head.starts_with("http/1.1 200") && head.contains("connection: close"),
        "{head}"
    );
    assert!(
        stopped_at.elapsed() < drain,
        "the checks above ran within the delay"
    );

    // A connection opened late in the delay whose request comes after accepting stopped: it is
    // answered, not closed unanswered.
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        stopped_at + drain - Duration::from_millis(300),
    ))
    .await;
    let mut late = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        stopped_at + drain + Duration::from_millis(300),
    ))
    .await;
    let head = request_on(&mut late, "/ok").await;
    assert!(
        head.starts_with("http/1.1 200") && head.contains("connection: close"),
        "{head}"
    );
    let slow = slow.await.unwrap();
    assert!(
        slow.starts_with("HTTP/1.1 200") && slow.ends_with("slower"),
        "{slow}"
    );
    assert!(
        stopped_at.elapsed() > drain,
        "it was still in flight when the delay ended"
    );
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("the server stops after its delay")
        .unwrap()
        .unwrap();
    assert!(
        stopped_at.elapsed() >= drain,
        "it went on accepting for the whole delay"
    );
    assert!(
        TcpStream::connect(address).await.is_err(),
        "no connection is accepted once the delay is over"
    );
}
