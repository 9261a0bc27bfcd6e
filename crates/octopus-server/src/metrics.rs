//! What the gateway tells Prometheus: one recorder for the process (the `metrics` facade with
//! the Prometheus exporter), served on its own listener (`--metrics-listen`) so the numbers
//! never share a port, a rate limit or a load balancer with merchants; the request layer that
//! counts and times every HTTP request by route and status and gives each a request id; the
//! sampler of the operations gauges; and the names of every metric, here in one place (the
//! storage's group commits in `octopus_storage::metrics`; docs/operations.md lists them all
//! with their labels).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Requests answered, by `method`, `route` (the route's pattern, `unmatched` for none) and
/// `status`.
pub const HTTP_REQUESTS: &str = "octopus_http_requests_total";
/// Seconds from a request's arrival to its answer's head, by `method` and `route`.
pub const HTTP_SECONDS: &str = "octopus_http_request_duration_seconds";
/// Requests whose handler panicked (answered the documented 500 outside the routing, so not
/// in [`HTTP_REQUESTS`]).
pub const HTTP_PANICS: &str = "octopus_http_panics_total";
/// Orders stored by order/new, by `type`, `channel` and `status` (refused ones too).
pub const ORDERS_CREATED: &str = "octopus_orders_created_total";
/// Calls to upstream providers, by `channel`, `operation` and `outcome` (`answered`,
/// `error`: a transport error or a 5xx).
pub const UPSTREAM_CALLS: &str = "octopus_upstream_calls_total";
/// Seconds an upstream call took, by `channel` and `operation`.
pub const UPSTREAM_SECONDS: &str = "octopus_upstream_call_duration_seconds";
/// Callback attempts, by `outcome` (`acknowledged`, `retry`, `gave_up`).
pub const CALLBACK_ATTEMPTS: &str = "octopus_callback_attempts_total";
/// Status changes applied to orders, by `type`, `channel` and the `status` reached.
pub const STATUS_CHANGES: &str = "octopus_order_status_changes_total";
/// Status changes that left the order's accounting failed (retried in the background), by
/// `type` and `channel`.
pub const ACCOUNTING_FAILURES: &str = "octopus_accounting_failures_total";
/// Signed heartbeats received from devices.
pub const DEVICE_HEARTBEATS: &str = "octopus_device_heartbeats_total";
/// The operations gauges, read from the database every [`GAUGES_EVERY`] by each node (the
/// same for every node: take `max` across nodes): callbacks due now (the queue) and waiting
/// for a later retry, own accounts online, transfers waiting in suspense, orders whose
/// accounting failed.
pub const CALLBACKS_DUE: &str = "octopus_callbacks_due";
pub const CALLBACKS_SCHEDULED: &str = "octopus_callbacks_scheduled";
pub const ACCOUNTS_ONLINE: &str = "octopus_accounts_online";
pub const SUSPENSE_WAITING: &str = "octopus_suspense_waiting";
pub const ACCOUNTING_FAILED_ORDERS: &str = "octopus_accounting_failed_orders";
/// How often the gauges are read.
pub const GAUGES_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The request id header: taken from the client when it is a plausible id, made otherwise,
/// and returned on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request the current task serves.
    static CURRENT_REQUEST: String;
}

/// The id of the request being served (what the order's history records of it); empty outside
/// a request (background work).
pub fn current_request_id() -> String {
    CURRENT_REQUEST
        .try_with(|id| id.clone())
        .unwrap_or_default()
}

/// Latency buckets (seconds) of the histograms: 1 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Writes per group commit: 1 to 1,024.
const GROUP_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (several servers in one process, as in the
/// tests, share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(octopus_storage::metrics::GROUP_SIZE.into()),
                    GROUP_BUCKETS,
                )
            })
            .expect("valid buckets");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a library's test harness): ours still renders
        // what it records through the handle, but the facade's macros reach the other one.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        handle
    })
}

/// Binds the metrics listener at `address` (before anything starts: a port taken stops the
/// start) and installs the recorder.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(address).await?;
    handle();
    Ok(listener)
}

/// Serves `GET /metrics` on `listener` in the background, and drains the histograms' samples
/// every 5 s whether or not anyone scrapes (they would pile up otherwise).
pub fn serve(listener: TcpListener) {
    let handle = handle();
    let app = Router::new().route("/metrics", get(move || async move { handle.render() }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Counts a status change just applied (and whether it left the accounting failed).
pub fn count_change(order: &octopus_domain::Order) {
    let (kind, channel) = (order.transaction_type.as_str(), order.channel.clone());
    metrics::counter!(
        STATUS_CHANGES,
        "type" => kind,
        "channel" => channel.clone(),
        "status" => order.payment_status.as_str(),
    )
    .increment(1);
    if order.accounting_status == octopus_domain::AccountingStatus::Failed {
        metrics::counter!(ACCOUNTING_FAILURES, "type" => kind, "channel" => channel).increment(1);
    }
}

/// Reads the operations gauges every [`GAUGES_EVERY`] until `stop` (a worker of the server).
pub async fn sample_gauges(
    storage: std::sync::Arc<dyn octopus_storage::Storage>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(GAUGES_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        match storage.gauges(crate::clock::now_ms()).await {
            Ok(g) => {
                metrics::gauge!(CALLBACKS_DUE).set(g.callbacks_due as f64);
                metrics::gauge!(CALLBACKS_SCHEDULED).set(g.callbacks_scheduled as f64);
                metrics::gauge!(ACCOUNTS_ONLINE).set(g.accounts_online as f64);
                metrics::gauge!(SUSPENSE_WAITING).set(g.suspense_waiting as f64);
                metrics::gauge!(ACCOUNTING_FAILED_ORDERS).set(g.accounting_failed as f64);
            }
            Err(e) => tracing::warn!(error = %e, "reading the operations gauges failed"),
        }
    }
}

/// A request's method as a label: the standard ones by name, any other as `other` (a client
/// may send any token as a method; each would otherwise be a new series).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Whether a client's request id may be kept: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn plausible(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A new request id: 16 random bytes as hex.
fn new_request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The route pattern a request matched, carried out on its answer by [`route_of`].
#[derive(Debug, Clone)]
struct RoutePattern(String);

/// Inside the routing (a route layer): puts the pattern the request matched on its answer,
/// for [`track`], which runs outside the routing and cannot see it.
pub async fn route_of(request: Request, next: Next) -> Response {
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut response = next.run(request).await;
    if let Some(pattern) = pattern {
        response.extensions_mut().insert(RoutePattern(pattern));
    }
    response
}

/// The request id of a request (after [`track`] ran: always there).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Outside the routing: counts and times every request by route and status, and gives it a
/// request id (the
/// client's `X-Request-Id` when plausible): in the request's extensions and tracing span, and
/// on the answer.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plausible(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span =
        tracing::info_span!("request", request_id = %id, %method, path = %request.uri().path());
    let span_for_log = span.clone();
    let mut response = {
        use tracing::Instrument;
        CURRENT_REQUEST
            .scope(id.clone(), next.run(request).instrument(span))
            .await
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let _entered = span_for_log.enter();
    tracing::debug!(
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "answered"
    );
    let route = response
        .extensions()
        .get::<RoutePattern>()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| "unmatched".to_string());
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_only_when_plausible() {
        assert!(plausible("abc-123_x.y"));
        assert!(!plausible(""));
        assert!(!plausible(&"a".repeat(65)));
        assert!(!plausible("a b"));
        assert!(!plausible("a\nb"));
        let made = new_request_id();
        assert_eq!(made.len(), 32);
        assert!(plausible(&made));
        assert_ne!(made, new_request_id());
    }
}
