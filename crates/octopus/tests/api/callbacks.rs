//! Merchant callbacks against real HTTP receivers, on both backends: signed as documented,
//! acknowledged only by HTTP 200 `success`, retried on the schedule (errors, wrong bodies,
//! silence), given up when the schedule ends, delivered in order per order, resumed after a
//! restart, never held up by another merchant's slow receiver, refused towards private
//! addresses unless allowed, and resent by hand.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use octopus_client::NewOrder;
use octopus_storage::CallbackState;
use sha2::Sha256;

use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{pay, spawn_app, spawn_app_with, test_config, Backend, Creds, TestApp};

const WAIT: Duration = Duration::from_secs(15);

// The verifier of docs/callbacks.md, copied here as it is written there (the test
// `docs_callbacks_md_worked_example_and_code_hold` checks that the two stay the same).
// BEGIN documented verifier
/// Whether `raw_body` (the callback's body as received) carries a valid `Oc-Signature`.
pub fn verify(raw_body: &[u8], signature_header: &str, api_secret: &str) -> bool {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(raw_body) else {
        return false;
    };
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.sort();
    let canonical = keys
        .iter()
        .map(|key| match &fields[*key] {
            serde_json::Value::String(value) => format!("{key}={value}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join("&");
    let Ok(given) = hex::decode(signature_header.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(api_secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    mac.verify_slice(&given).is_ok() // constant time
}
// END documented verifier

/// The fenced block of `lang` that follows `heading` in docs/callbacks.md.
fn doc_block(doc: &str, heading: &str, lang: &str) -> String {
    let from = doc
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} in docs/callbacks.md"));
    let fence = format!("```{lang}\n");
    let start = doc[from..].find(&fence).unwrap() + from + fence.len();
    let end = doc[start..].find("```").unwrap() + start;
    doc[start..end].to_string()
}

/// docs/callbacks.md: its worked example verifies (and fails once changed), and its Rust
/// verifier is the one these tests use on real callbacks.
#[test]
fn docs_callbacks_md_worked_example_and_code_hold() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/callbacks.md"
    ))
    .unwrap();
    let body = doc_block(&doc, "### Worked example", "json");
    let canonical = doc_block(&doc, "Canonical string", "");
    let signature = doc
        .split("`Oc-Signature`: `")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap();
    assert!(verify(body.trim().as_bytes(), signature, "API_SECRET"));
    assert!(verify(
        body.trim().as_bytes(),
        &signature.to_uppercase(),
        "API_SECRET"
    ));
    assert!(!verify(body.trim().as_bytes(), signature, "API_SECRET2"));
    assert!(!verify(
        body.replace("100.00\",\"currency", "100.01\",\"currency")
            .trim()
            .as_bytes(),
        signature,
        "API_SECRET"
    ));
    assert!(!verify(body.trim().as_bytes(), "not hex", "API_SECRET"));
    let mut mac = Hmac::<Sha256>::new_from_slice(b"API_SECRET").unwrap();
    mac.update(canonical.trim().as_bytes());
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        signature,
        "the canonical string shown is the one signed"
    );

    let documented = doc_block(&doc, "### Rust", "rust");
    let documented = documented
        .split_once("/// Whether")
        .map(|(_, rest)| format!("/// Whether{rest}"))
        .unwrap();
    let source = include_str!("callbacks.rs");
    let ours = source
        .split("// BEGIN documented verifier\n")
        .nth(1)
        .unwrap()
        .split("// END documented verifier")
        .next()
        .unwrap();
    assert_eq!(
        documented, ours,
        "the Rust verifier in docs/callbacks.md is the one tested here"
    );
}

async fn deposit_with_callback(
    app: &TestApp,
    m: &Creds,
    id: &str,
    notify_url: &str,
) -> octopus_client::Created {
    let mut order = NewOrder::deposit(&m.merchant_uid, id, "120.00", "mmk", "wavepay", "myanmar");
    order.notify_url = Some(notify_url.to_string());
    app.client_for(m).create_order(&order).await.unwrap()
}

/// Polls the order until its notify_status is `status`.
/// The order once an attempt of its callbacks has failed (still `delivered`: retries follow).
async fn wait_fail_reason(app: &TestApp, id: &str) -> octopus_client::Payment {
    let deadline = Instant::now() + WAIT;
    loop {
        let order = app.client.get_order(id).await.unwrap();
        if !order.notify_fail_reason.is_empty() {
            assert_eq!(order.notify_status, "delivered");
            return order;
        }
        assert!(Instant::now() < deadline, "no failed attempt of {id}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn wait_notify(app: &TestApp, id: &str, status: &str) -> octopus_client::Payment {
    app.wait_for_notify(id, status, WAIT).await
}

async fn a_completion_sends_a_callback_signed_as_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let created = deposit_with_callback(&app, &m, "cb-1", &receiver.url).await;
    // Callbacks are queued with the change they report (the outbox): none with the creation.
    assert!(
        app.storage()
            .callbacks_of(&created.payment.payment_uid)
            .await
            .unwrap()
            .is_empty(),
        "no callback for the creation itself"
    );
    pay(&created.payment_url).await;
    let got = receiver.wait_for(1, WAIT).await;
    let cb = &got[0];
    assert_eq!(cb.headers.get("content-type").unwrap(), "application/json");
    let signature = cb
        .headers
        .get("oc-signature")
        .expect("Oc-Signature header")
        .to_str()
        .unwrap();
    assert!(
        verify(cb.body.as_bytes(), signature, &m.api_secret),
        "the documented verifier accepts it"
    );
    assert!(!verify(cb.body.as_bytes(), signature, "another secret"));
    assert!(!cb.body.contains(&m.api_secret), "the secret is never sent");
    let body = &cb.json;
    for field in [
        "transaction_type",
        "merchant_uid",
        "amount",
        "final_amount",
        "currency",
        "notify_url",
        "merchant_order_id",
        "payment_status",
        "payment_fail_reason",
        "order_uid",
        "signature_key",
        "tenant",
    ] {
        assert!(
            body.get(field).is_some_and(|v| v.is_string()),
            "{field} in {body}"
        );
    }
    assert_eq!(body["payment_status"], "completed");
    assert_eq!(body["order_uid"], created.payment.payment_uid.as_str());
    assert_eq!(body["signature_key"], m.api_key.as_str());
    assert_eq!(body["merchant_order_id"], "cb-1");
    assert_eq!(body["amount"], "120.00");
    assert_eq!(body["final_amount"], "120.00");
    assert_eq!(body["notify_url"], receiver.url.as_str());
    assert_eq!(body["tenant"], "octopus");
    let order = wait_notify(&app, "cb-1", "completed").await;
    assert_eq!(order.notify_fail_reason, "");
    let callbacks = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].0.state, CallbackState::Completed);
    assert_eq!(callbacks[0].1.len(), 1);
    assert_eq!(callbacks[0].1[0].http_status, Some(200));
    assert_eq!(callbacks[0].1[0].response_head, "success");
    assert_eq!(
        receiver.received().len(),
        1,
        "no callback for the creation itself: the only one is the completion's"
    );

    // An order without notify_url has no callbacks.
    let plain = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "cb-none",
            "1.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    pay(&plain.payment_url).await;
    assert!(app
        .storage()
        .callbacks_of(&plain.payment.payment_uid)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.client.get_order("cb-none").await.unwrap().notify_status,
        "none"
    );
}

async fn a_receiver_failing_twice_then_acknowledging_completes_after_three_attempts(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(
        vec![Reply::Answer(500, "oops"), Reply::Answer(503, "busy")],
        Reply::Success,
    )
    .await;
    let created = deposit_with_callback(&app, &m, "cb-3", &receiver.url).await;
    pay(&created.payment_url).await;
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(got.len(), 3);
    assert!(
        got.windows(2)
            .all(|w| w[1].at.duration_since(w[0].at) >= Duration::from_millis(200)),
        "retried after a delay"
    );
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same callback each time"
    );
    wait_notify(&app, "cb-3", "completed").await;
    let (callback, attempts) = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(callback.attempts, 3);
    let seen: Vec<(Option<u16>, &str)> = attempts
        .iter()
        .map(|a| (a.http_status, a.error.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some(500), "HTTP 500"),
            (Some(503), "HTTP 503"),
            (Some(200), "")
        ]
    );
    assert_eq!(attempts[0].response_head, "oops");
    assert!(attempts
        .iter()
        .all(|a| !a.manual && a.latency_ms >= 0 && a.started_at > 0));
}

async fn a_200_with_another_body_is_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(
        vec![
            Reply::Answer(200, "OK"),
            Reply::Answer(200, "{\"result\":\"success\"}"),
        ],
        Reply::Answer(200, "  Success \n"),
    )
    .await;
    let created = deposit_with_callback(&app, &m, "cb-body", &receiver.url).await;
    pay(&created.payment_url).await;
    receiver.wait_for(3, WAIT).await;
    let order = wait_notify(&app, "cb-body", "completed").await;
    assert_eq!(
        order.notify_fail_reason, "HTTP 200, but the body was not \"success\"",
        "the last failure stays"
    );
    let (_, attempts) = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts[0].error,
        "HTTP 200, but the body was not \"success\""
    );
}

async fn a_receiver_that_never_answers_times_out_and_is_retried(backend: Backend) {
    let mut config = test_config();
    config.callback_timeout = Duration::from_millis(700);
    let app = spawn_app_with(backend, config).await;
    let m = app.merchant.clone();
    let receiver =
        Receiver::start(vec![Reply::Hang(Duration::from_secs(30))], Reply::Success).await;
    let created = deposit_with_callback(&app, &m, "cb-hang", &receiver.url).await;
    pay(&created.payment_url).await;
    wait_notify(&app, "cb-hang", "completed").await;
    let (_, attempts) = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].http_status, None);
    assert_eq!(attempts[0].error, "no answer within 0.7 s");
    assert!(
        attempts[0].latency_ms >= 650 && attempts[0].latency_ms < 5000,
        "{}",
        attempts[0].latency_ms
    );
}

async fn a_used_up_schedule_fails_the_callback(backend: Backend) {
    let app = spawn_app(backend).await; // schedule: 300ms, 300ms, 300ms -> 4 attempts
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![], Reply::Answer(500, "down")).await;
    let created = deposit_with_callback(&app, &m, "cb-dead", &receiver.url).await;
    pay(&created.payment_url).await;
    let order = wait_notify(&app, "cb-dead", "failed").await;
    assert_eq!(
        order.notify_fail_reason,
        "gave up after 4 attempts; the last: HTTP 500"
    );
    let (callback, attempts) = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(callback.state, CallbackState::Failed);
    assert_eq!(attempts.len(), 4);
    // A later order's callback to the same receiver runs its whole schedule after the first
    // gave up; a retry of the first, due long before that schedule ends, would be claimed
    // first (claims take the earliest due first) and be seen by then.
    let later = deposit_with_callback(&app, &m, "cb-dead-later", &receiver.url).await;
    pay(&later.payment_url).await;
    wait_notify(&app, "cb-dead-later", "failed").await;
    let attempts_of = |uid: &str| {
        receiver
            .received()
            .iter()
            .filter(|r| r.json["order_uid"] == uid)
            .count()
    };
    assert_eq!(attempts_of(&later.payment.payment_uid), 4);
    assert_eq!(
        attempts_of(&created.payment.payment_uid),
        4,
        "no attempt after giving up"
    );
}

async fn callbacks_of_one_order_go_out_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    // The first callback (overdue) fails twice; the later ones must wait for it.
    let receiver = Receiver::start(
        vec![Reply::Answer(500, "no"), Reply::Answer(500, "no")],
        Reply::Success,
    )
    .await;
    let mut order = NewOrder::deposit(
        &m.merchant_uid,
        "cb-order",
        "10.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.notify_url = Some(receiver.url.clone());
    order.ttl = Some("1".into());
    let created = app.client.create_order(&order).await.unwrap();
    app.wait_for_status(&app.client, "cb-order", "overdue", WAIT)
        .await;
    pay(&created.payment_url).await; // a late payment
    octopus_server::services::orders::refund(app.storage(), &created.payment.payment_uid, "test")
        .await
        .unwrap();
    let got = receiver.wait_for(5, WAIT).await;
    let statuses: Vec<&str> = got
        .iter()
        .map(|r| r.json["payment_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["overdue", "overdue", "overdue", "completed", "refund"]
    );
    wait_notify(&app, "cb-order", "completed").await;
}

async fn a_restart_in_the_middle_of_the_schedule_resumes_it(backend: Backend) {
    let mut config = test_config();
    config.callback_schedule = octopus_domain::callback::Schedule::parse("1500ms").unwrap();
    let mut app = spawn_app_with(backend, config).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![Reply::Answer(502, "bad gateway")], Reply::Success).await;
    let created = deposit_with_callback(&app, &m, "cb-restart", &receiver.url).await;
    pay(&created.payment_url).await;
    receiver.wait_for(1, WAIT).await;
    wait_notify(&app, "cb-restart", "delivered").await;
    app.restart().await;
    receiver.wait_for(2, WAIT).await;
    wait_notify(&app, "cb-restart", "completed").await;
    let (_, attempts) = app
        .storage()
        .callbacks_of(&created.payment.payment_uid)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        attempts.iter().map(|a| a.http_status).collect::<Vec<_>>(),
        vec![Some(502), Some(200)]
    );
}

async fn a_slow_receiver_does_not_delay_another_merchants_callback(backend: Backend) {
    let mut config = test_config();
    config.callback_timeout = Duration::from_secs(4);
    config.callback_host_concurrency = 4;
    config.callback_concurrency = 8;
    let app = spawn_app_with(backend, config).await;
    let slow_merchant = app.merchant.clone();
    let fast_merchant = app.new_merchant("Fast Shop").await;
    let slow = Receiver::start(vec![], Reply::Hang(Duration::from_secs(30))).await;
    let fast = Receiver::start(vec![], Reply::Success).await;
    for i in 0..12 {
        let created =
            deposit_with_callback(&app, &slow_merchant, &format!("slow-{i}"), &slow.url).await;
        pay(&created.payment_url).await;
    }
    slow.wait_for(4, WAIT).await; // the slow host's slots are taken
    let started = Instant::now();
    let created = deposit_with_callback(&app, &fast_merchant, "fast-1", &fast.url).await;
    pay(&created.payment_url).await;
    fast.wait_for(1, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the fast merchant waited {:?}",
        started.elapsed()
    );
    assert!(
        slow.received().len() <= 4,
        "never more than 4 at once to one host: {}",
        slow.received().len()
    );
}

async fn a_loopback_destination_is_refused_unless_allowed(backend: Backend) {
    let mut config = test_config();
    config.allow_private_callbacks = false;
    let app = spawn_app_with(backend, config).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![], Reply::Success).await;
    // A literal private address is refused when the order is created (see compatibility.rs).
    let mut literal = NewOrder::deposit(
        &m.merchant_uid,
        "cb-private",
        "120.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    literal.notify_url = Some(receiver.url.clone());
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &literal.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.body["data"]["details"],
        "The 'notify_url' field points to 127.0.0.1, a loopback address; private destinations are not allowed."
    );
    // A name that resolves to a private address is refused after DNS.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let named = deposit_with_callback(&app, &m, "cb-private-name", &by_name).await;
    pay(&named.payment_url).await;
    let order = wait_fail_reason(&app, "cb-private-name").await;
    assert!(
        order
            .notify_fail_reason
            .starts_with("notify_url host localhost resolves to")
            && order
                .notify_fail_reason
                .ends_with("private destinations are not allowed"),
        "{}",
        order.notify_fail_reason
    );
    // Once the schedule is used up every attempt is over (the receiver records a request
    // before it answers): each was refused, and none reached the receiver.
    wait_notify(&app, "cb-private-name", "failed").await;
    let (_, attempts) = app
        .storage()
        .callbacks_of(&named.payment.payment_uid)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(attempts.len(), 4);
    assert!(
        attempts.iter().all(|a| a.http_status.is_none()
            && a.error.ends_with("private destinations are not allowed")),
        "{attempts:?}"
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private address"
    );
}

async fn a_callback_is_resent_by_hand(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let created = deposit_with_callback(&app, &m, "cb-resend", &receiver.url).await;
    pay(&created.payment_url).await;
    receiver.wait_for(1, WAIT).await;
    wait_notify(&app, "cb-resend", "completed").await;
    let resent = app
        .storage()
        .resend_callback(&created.payment.payment_uid, 1)
        .await
        .unwrap();
    assert!(resent.manual);
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[1].json["payment_status"], "completed");
    assert_eq!(got[1].json["order_uid"], got[0].json["order_uid"]);
    let deadline = Instant::now() + WAIT;
    loop {
        let all = app
            .storage()
            .callbacks_of(&created.payment.payment_uid)
            .await
            .unwrap();
        if all.len() == 2 && all[1].0.state == CallbackState::Completed {
            assert!(all[1].1.iter().all(|a| a.manual), "recorded as manual");
            assert!(all[0].1.iter().all(|a| !a.manual));
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // An order without notify_url cannot be resent.
    let plain = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "cb-plain",
            "1.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert!(app
        .storage()
        .resend_callback(&plain.payment.payment_uid, 1)
        .await
        .is_err());
}

/// A payout's end (here the declining test account) reaches its merchant too.
async fn payout_changes_are_called_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    app.fund(&m, "usd", "50.00").await;
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let mut payout = NewOrder::payout(
        &m.merchant_uid,
        "cb-out",
        "20.00",
        "usd",
        "bank",
        "US",
        "4000000000",
        "A",
        "B",
    );
    payout.notify_url = Some(receiver.url.clone());
    app.client.create_order(&payout).await.unwrap();
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].json["payment_status"], "failed");
    assert_eq!(got[0].json["transaction_type"], "expense");
    assert_eq!(
        got[0].json["payment_fail_reason"],
        "Sandbox: payouts to test account 4000000000 are always declined"
    );
    assert_eq!(got[0].json["amount"], "20.00");
    wait_notify(&app, "cb-out", "completed").await;
}

/// A callback whose lease ran out while its attempt was in flight is claimed again (here by
/// "another node" whose clock is past the lease); the late result of the first attempt is
/// logged but changes nothing, so it can neither reopen nor fail what the new claim settles.
/// Also: the order shows `delivered` as soon as the status change is stored.
async fn an_attempt_under_an_expired_claim_changes_nothing(backend: Backend) {
    use octopus_storage::{AttemptRecord, CallbackAttempt, CallbackOutcome};
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    // Longer than the test's 2 s timeout: the first attempt ends in a timeout.
    let receiver = Receiver::start(vec![], Reply::Hang(Duration::from_secs(6))).await;
    let created = deposit_with_callback(&app, &m, "cb-lease", &receiver.url).await;
    pay(&created.payment_url).await;
    let order = app.client.get_order("cb-lease").await.unwrap();
    assert_eq!(
        order.notify_status, "delivered",
        "on its way from the status change on"
    );
    receiver.wait_for(1, WAIT).await;

    let later = octopus_server::clock::now_ms() + 91_000;
    let taken = app
        .storage()
        .claim_callbacks(later, 90_000, &octopus_storage::ClaimRoom::new(10, 10))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "the lease is over for a clock 91 s ahead");
    let uid = created.payment.payment_uid.clone();
    let deadline = Instant::now() + WAIT;
    let (callback, attempts) = loop {
        let all = app.storage().callbacks_of(&uid).await.unwrap();
        if all[0].1.len() == 1 {
            break all[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the first attempt was never logged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        attempts[0].error.starts_with("no answer within"),
        "{:?}",
        attempts[0]
    );
    assert_eq!(callback.state, CallbackState::Pending);
    assert_eq!(
        callback.claimed_until, taken[0].claimed_until,
        "still held by the new claim"
    );
    assert_eq!(
        callback.attempts, 0,
        "the stale attempt counted for nothing"
    );
    let order = app.client.get_order("cb-lease").await.unwrap();
    assert_eq!(
        (
            order.notify_status.as_str(),
            order.notify_fail_reason.as_str()
        ),
        ("delivered", "")
    );

    let record = AttemptRecord {
        order_id: taken[0].order_id,
        attempt: CallbackAttempt {
            callback_id: taken[0].id,
            attempt: 1,
            manual: false,
            started_at: later,
            http_status: Some(200),
            latency_ms: 3,
            error: String::new(),
            response_head: "success".into(),
        },
        outcome: CallbackOutcome::Acknowledged,
        claim: taken[0].claimed_until,
    };
    app.storage()
        .record_callback_attempts(vec![record], later)
        .await
        .unwrap();
    let all = app.storage().callbacks_of(&uid).await.unwrap();
    assert_eq!(
        (all[0].0.state, all[0].1.len()),
        (CallbackState::Completed, 2)
    );
    assert_eq!(
        app.client
            .get_order("cb-lease")
            .await
            .unwrap()
            .notify_status,
        "completed"
    );
}

/// A proxy in the gateway's environment is never used for callbacks: it would resolve and
/// reach the notify_url itself, past the address check.
async fn callbacks_ignore_proxies_from_the_environment(backend: Backend) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((_conn, _)) = proxy.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let db = crate::helpers::TestDb::new(&backend).await;
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", &proxy_url),
        ("ALL_PROXY", &proxy_url),
        ("all_proxy", &proxy_url),
    ];
    let server =
        crate::helpers::ServerProcess::start_with_env(&db, &["--allow-private-callbacks"], &env);
    let creds = crate::helpers::merchant_create(&db);
    let field = |k: &str| creds[k].as_str().unwrap().to_string();
    let client = octopus_client::Client::new(
        &server.url,
        &field("test_api_key"),
        &field("test_api_secret"),
    );
    let mut order = NewOrder::deposit(
        &field("merchant_uid"),
        "cb-proxy",
        "5.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.notify_url = Some("http://callback-host.invalid/notify".into());
    let created = client.create_order(&order).await.unwrap();
    pay(&created.payment_url).await;
    let deadline = Instant::now() + WAIT;
    let order = loop {
        let order = client.get_order("cb-proxy").await.unwrap();
        if !order.notify_fail_reason.is_empty() {
            break order;
        }
        assert!(Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        order.notify_fail_reason.starts_with("could not connect"),
        "{}",
        order.notify_fail_reason
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "nothing went through the proxy"
    );
}

crate::on_both_backends!(
    an_attempt_under_an_expired_claim_changes_nothing,
    callbacks_ignore_proxies_from_the_environment,
    a_completion_sends_a_callback_signed_as_documented,
    a_receiver_failing_twice_then_acknowledging_completes_after_three_attempts,
    a_200_with_another_body_is_retried,
    a_receiver_that_never_answers_times_out_and_is_retried,
    a_used_up_schedule_fails_the_callback,
    callbacks_of_one_order_go_out_in_order,
    a_restart_in_the_middle_of_the_schedule_resumes_it,
    a_slow_receiver_does_not_delay_another_merchants_callback,
    a_loopback_destination_is_refused_unless_allowed,
    a_callback_is_resent_by_hand,
    payout_changes_are_called_back,
);
