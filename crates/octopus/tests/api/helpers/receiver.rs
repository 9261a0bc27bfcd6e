//! A merchant's callback receiver for the tests: a real HTTP server on port 0 that records
//! every request and answers as told (success, an error, a wrong body, or nothing at all).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::oneshot;

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// HTTP 200 `success`.
    Success,
    /// This status and body.
    Answer(u16, &'static str),
    /// No answer for this long (longer than the gateway waits), then `success`.
    Hang(Duration),
}

/// A request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    /// The sender's address (which process sent it: see `cluster::open_ports`).
    pub peer: SocketAddr,
    pub body: String,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
}

#[derive(Clone)]
struct Shared {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    then: Arc<Mutex<Reply>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
    _stop: oneshot::Sender<()>,
}

impl Receiver {
    /// Answers `replies` in turn, then `then` for ever.
    pub async fn start(replies: Vec<Reply>, then: Reply) -> Receiver {
        let shared = Shared {
            replies: Arc::new(Mutex::new(replies.into())),
            then: Arc::new(Mutex::new(then)),
            received: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new()
            .route("/callback", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/callback", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        });
        Receiver {
            url,
            shared,
            _stop: stop,
        }
    }

    /// From now on, answers `then` (after the replies still queued).
    pub fn answer_from_now(&self, then: Reply) {
        *self.shared.then.lock().unwrap() = then;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {n} callbacks in {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    shared.received.lock().unwrap().push(Received {
        at: Instant::now(),
        peer,
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        body: text,
        headers,
    });
    let reply = shared
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| shared.then.lock().unwrap().clone());
    match reply {
        Reply::Success => (StatusCode::OK, "success").into_response(),
        Reply::Answer(status, body) => {
            (StatusCode::from_u16(status).unwrap(), body).into_response()
        }
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "success").into_response()
        }
    }
}
