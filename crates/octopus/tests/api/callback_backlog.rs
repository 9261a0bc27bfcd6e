//! A backlog of callbacks for one merchant host, on both backends (issue 9, point 7): the
//! merchant's receiver is slow while more than 10,000 callbacks fall due for its host, then
//! becomes fast. Every callback must then be delivered exactly once (the receiver counts each
//! order_uid and status), with two nodes delivering side by side and none dying. The drain
//! rate is printed, not asserted: speed belongs to the benchmark (docs/benchmarks.md).
//!
//! The backlog is seeded through storage (`create_order`, then `change_status` to completed,
//! the calls the API and the cashier page make, so the rows are the real ones) rather than
//! through 20,000 HTTP requests, to keep the test well under a minute on two cores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use futures::StreamExt;
use octopus_client::NewOrder;
use octopus_domain::{PaymentStatus, StatusChange};
use octopus_storage::CreateOutcome;
use tokio::sync::watch;

use crate::helpers::{spawn_app_with, test_config, Backend};

/// Callbacks seeded: enough that at least [`BACKLOG`] are still due when the receiver
/// becomes fast (a few go out while it is slow).
const SEEDED: usize = 10_200;
const BACKLOG: usize = 10_000;
/// The longest the slow receiver holds a request: well under the test's callback timeout,
/// so no attempt times out (a timed-out attempt is rightly sent again).
const HOLD: Duration = Duration::from_secs(10);

/// What the merchant's receiver saw.
#[derive(Default)]
struct Seen {
    /// Requests answered `success`, per (order_uid, payment_status).
    acknowledged: Mutex<HashMap<(String, String), u32>>,
    total: AtomicUsize,
    in_flight: AtomicUsize,
    /// The most requests in flight at once while fast.
    most_at_once: AtomicUsize,
}

#[derive(Clone)]
struct ReceiverState {
    seen: Arc<Seen>,
    fast: watch::Receiver<bool>,
}

/// Holds each request up to [`HOLD`] while slow (at once when fast), then answers `success`.
async fn receive(State(state): State<ReceiverState>, body: Bytes) -> &'static str {
    let seen = &state.seen;
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let mut fast = state.fast.clone();
    if *fast.borrow() {
        seen.most_at_once.fetch_max(now, Ordering::SeqCst);
    } else {
        let _ = tokio::time::timeout(HOLD, fast.wait_for(|f| *f)).await;
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = (
        json["order_uid"].as_str().unwrap_or_default().to_string(),
        json["payment_status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    *seen.acknowledged.lock().unwrap().entry(key).or_default() += 1;
    seen.total.fetch_add(1, Ordering::SeqCst);
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    "success"
}

async fn start_receiver(seen: Arc<Seen>, fast: watch::Receiver<bool>) -> String {
    let app = axum::Router::new()
        .route("/callback", post(receive))
        .with_state(ReceiverState { seen, fast });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

async fn a_backlog_for_one_host_drains_each_callback_once(backend: Backend) {
    let mut config = test_config();
    config.callback_timeout = Duration::from_secs(20);
    // The gateway's default per-host limit, as the issue measured it.
    config.callback_host_concurrency =
        octopus_server::ServerConfig::default().callback_host_concurrency;
    let host_limit = config.callback_host_concurrency;
    let app = spawn_app_with(backend.clone(), config).await;
    let seen = Arc::new(Seen::default());
    let (fast, fast_rx) = watch::channel(false);
    let url = start_receiver(Arc::clone(&seen), fast_rx).await;

    // One order made through the API; the backlog's orders are copies of it.
    let m = app.merchant.clone();
    let mut first = NewOrder::deposit(
        &m.merchant_uid,
        "backlog-template",
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    first.notify_url = Some(url.clone());
    let created = app.client.create_order(&first).await.unwrap();
    let template = app
        .storage()
        .order_by_payment_uid(&created.payment.payment_uid)
        .await
        .unwrap()
        .unwrap();

    count_callback_updates(&app, &backend).await;
    let seeding = Instant::now();
    let storage = app.storage();
    let uids: Vec<String> = futures::stream::iter(0..SEEDED)
        .map(|i| {
            let mut order = template.clone();
            let now = octopus_server::clock::now_ms();
            order.id = 0;
            order.payment_uid = octopus_domain::ids::new_payment_uid(now);
            order.merchant_order_id = format!("backlog-{i}");
            order.created_at = now;
            order.updated_at = now;
            async move {
                let order = match storage
                    .create_order(order, Vec::new())
                    .await
                    .expect("create order")
                {
                    CreateOutcome::Created(o) => o,
                    CreateOutcome::Existing(_) => panic!("backlog-{i} exists"),
                };
                let paid = StatusChange::new(
                    PaymentStatus::Completed,
                    "sandbox: the payer paid",
                    octopus_server::clock::now_ms(),
                )
                .with_final_amount(order.amount);
                storage
                    .change_status(&order.payment_uid, paid)
                    .await
                    .expect("complete order");
                order.payment_uid
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let seeded_in = seeding.elapsed();
    let due = due_callbacks(&app).await;
    let delivered_while_slow = seen.total.load(Ordering::SeqCst);
    assert!(
        due >= BACKLOG as i64,
        "only {due} callbacks due when the receiver becomes fast"
    );

    // A second node delivers too; nobody dies, so nothing may go out twice.
    let second = app.second_node().await;
    let started = Instant::now();
    fast.send(true).unwrap();
    let deadline = started + Duration::from_secs(60);
    while seen.total.load(Ordering::SeqCst) < SEEDED {
        assert!(
            Instant::now() < deadline,
            "{} of {SEEDED} callbacks acknowledged after {:?} ({} due left)",
            seen.total.load(Ordering::SeqCst),
            started.elapsed(),
            due_callbacks(&app).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_in = started.elapsed();
    // Every attempt recorded: no callback is pending or leased any more, so none can go again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .db
        .query_count("SELECT COUNT(*) FROM callbacks WHERE state <> 'completed'")
        .await
        > 0
    {
        assert!(Instant::now() < deadline, "attempts left unrecorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = SEEDED - delivered_while_slow;
    let updates = app
        .db
        .query_count("SELECT COUNT(*) FROM callback_updates")
        .await;
    println!(
        "callback backlog ({backend:?}): {SEEDED} seeded in {:.1} s; {due} due for one host when it became fast; \
         {drained} drained in {:.1} s = {:.0} callbacks/s (two nodes, {host_limit} at once per node); \
         {updates} row updates of callbacks",
        seeded_in.as_secs_f64(),
        drained_in.as_secs_f64(),
        drained as f64 / drained_in.as_secs_f64()
    );
    assert_eq!(
        app.db
            .query_count("SELECT COUNT(*) FROM callback_attempts")
            .await,
        SEEDED as i64,
        "one attempt each"
    );
    // A callback is claimed once and recorded once: claims take only what the host can take
    // now, and never claim more to give it back.
    assert!(
        updates <= 2 * SEEDED as i64,
        "{updates} row updates of callbacks for {SEEDED} callbacks delivered at the first attempt"
    );

    let acknowledged = seen.acknowledged.lock().unwrap().clone();
    let twice: Vec<_> = acknowledged.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} callbacks went out more than once, e.g. {:?}",
        twice.len(),
        twice.first()
    );
    for uid in &uids {
        assert_eq!(
            acknowledged.get(&(uid.clone(), "completed".to_string())),
            Some(&1),
            "the callback of {uid}"
        );
    }
    assert_eq!(
        seen.total.load(Ordering::SeqCst),
        SEEDED,
        "no other request reached the receiver"
    );
    assert!(
        seen.most_at_once.load(Ordering::SeqCst) <= 2 * host_limit,
        "at most {host_limit} at once per node: {}",
        seen.most_at_once.load(Ordering::SeqCst)
    );
    assert_eq!(
        app.db.query_count("SELECT COUNT(*) FROM orders WHERE payment_status = 'completed' AND notify_status <> 'completed'").await,
        0,
        "every order's notify_status is completed"
    );
    second.stop().await;
}

/// Counts every row update of `callbacks` in a table `callback_updates` (a trigger added for
/// the test).
async fn count_callback_updates(app: &crate::helpers::TestApp, backend: &Backend) {
    match backend {
        Backend::Sqlite => {
            app.execute_sql(
                "CREATE TABLE callback_updates (callback_id INTEGER);
                 CREATE TRIGGER callbacks_updated AFTER UPDATE ON callbacks
                 BEGIN INSERT INTO callback_updates VALUES (NEW.id); END;",
            )
            .await
        }
        Backend::Postgres(_) => {
            app.execute_sql(
                "CREATE TABLE callback_updates (callback_id BIGINT);
                 CREATE FUNCTION callback_updated() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN INSERT INTO callback_updates VALUES (NEW.id); RETURN NEW; END $$;
                 CREATE TRIGGER callbacks_updated AFTER UPDATE ON callbacks
                   FOR EACH ROW EXECUTE FUNCTION callback_updated();",
            )
            .await
        }
    }
}

/// Callbacks pending and due now.
async fn due_callbacks(app: &crate::helpers::TestApp) -> i64 {
    let now = octopus_server::clock::now_ms();
    app.db
        .query_count(&format!(
            "SELECT COUNT(*) FROM callbacks WHERE state = 'pending' AND next_attempt_at <= {now}"
        ))
        .await
}

crate::on_both_backends!(a_backlog_for_one_host_drains_each_callback_once);
