//! The API key lifecycle through the real `octopus key` commands, on both backends: a new
//! key prints exactly its key, secret and mode and works at once; `key list` shows labels,
//! modes and last use but never a secret; a rotated key keeps working until its expiry and
//! then only the new one does; a revocation is in force on every node within 2 s; an IP
//! allowlist refuses correctly signed requests from elsewhere (through trusted proxies too)
//! with nothing stored; a key created to expire stops working when it does.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use octopus_client::NewOrder;
use octopus_domain::signing::SigningKey;
use octopus_domain::RequestFields;
use serde_json::{json, Value};

use crate::helpers::accounts::{json_lines, octopus, octopus_result};
use crate::helpers::{http, spawn_app, spawn_app_with, test_config, Backend, Creds, TestApp};

/// The answer to a request whose key is unknown, revoked or expired, or whose signature is
/// wrong (they are never told apart).
const AUTH_FAILED: &str = "Authentication failed: invalid OC-Key or OC-Signature";
const LEDGER: &str = "/octopus/api/ledger/get_merchant_ledger";
const ORDER_NEW: &str = "/octopus/api/order/new";
/// How long a test waits for a change that must come within about a second.
const WAIT: Duration = Duration::from_secs(10);

fn error(data: &str) -> Value {
    json!({"result": "error", "data": data})
}

/// Runs `octopus key create --merchant <uid> <extra>`: the key as credentials, and its output
/// as printed.
async fn key_create(app: &TestApp, extra: &[&str]) -> (Creds, Value) {
    let mut args = vec!["key", "create", "--merchant", &app.live.merchant_uid];
    args.extend_from_slice(extra);
    let out = octopus(app, &args);
    let printed = printed_key(&out);
    let creds = creds_of(app, &printed).await;
    (creds, printed)
}

/// A key as `key create` / `key rotate` print it: one line, one JSON object.
fn printed_key(out: &str) -> Value {
    assert_eq!(out.lines().count(), 1, "one line: {out:?}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}"))
}

/// The credentials of a printed key (its book read from the database).
async fn creds_of(app: &TestApp, printed: &Value) -> Creds {
    let api_key = printed["api_key"].as_str().expect("api_key").to_string();
    let stored = app
        .storage()
        .api_key(&api_key)
        .await
        .unwrap()
        .expect("the printed key is stored");
    Creds {
        merchant_id: stored.merchant.id,
        merchant_uid: app.live.merchant_uid.clone(),
        api_key,
        api_secret: printed["api_secret"]
            .as_str()
            .expect("api_secret")
            .to_string(),
    }
}

/// A signed POST of `fields` to `path` at `base_url`, signed with `secret` under `creds`'
/// key; the caller may add headers.
fn signed_with(
    base_url: &str,
    creds: &Creds,
    secret: &str,
    path: &str,
    fields: &RequestFields,
) -> reqwest::RequestBuilder {
    http()
        .post(format!("{base_url}{path}"))
        .header("Content-Type", "application/json")
        .header("OC-Key", &creds.api_key)
        .header(
            "OC-Signature",
            SigningKey::new(secret.as_bytes()).sign(fields),
        )
        .body(fields.to_json())
}

fn signed(
    base_url: &str,
    creds: &Creds,
    path: &str,
    fields: &RequestFields,
) -> reqwest::RequestBuilder {
    signed_with(base_url, creds, &creds.api_secret, path, fields)
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request.send().await.expect("request sent");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// `get_merchant_ledger` with `creds` at `base_url` (changes nothing): (status, body).
async fn ledger(base_url: &str, creds: &Creds) -> (u16, Value) {
    let fields: RequestFields = [("merchant_uid", creds.merchant_uid.as_str())]
        .into_iter()
        .collect();
    answer(signed(base_url, creds, LEDGER, &fields)).await
}

/// The fields of a sandbox deposit `id` of `creds`' merchant.
fn deposit(creds: &Creds, id: &str) -> RequestFields {
    NewOrder::deposit(
        &creds.merchant_uid,
        id,
        "100.00",
        "thb",
        "thailand",
        "thailand",
    )
    .to_fields()
}

/// `key list` of the app's merchant, by key.
fn key_list(app: &TestApp) -> Vec<Value> {
    json_lines(&octopus(
        app,
        &["key", "list", "--merchant", &app.live.merchant_uid],
    ))
}

fn listed(app: &TestApp, api_key: &str) -> Value {
    key_list(app)
        .into_iter()
        .find(|k| k["api_key"] == api_key)
        .unwrap_or_else(|| panic!("{api_key} in key list"))
}

/// Polls `ledger` with `creds` at `base_url` every 50 ms until it answers `status`; returns
/// when, counted from `since` (panics after `WAIT`).
async fn wait_for_answer(base_url: &str, creds: &Creds, status: u16, since: Instant) -> Duration {
    loop {
        let (got, body) = ledger(base_url, creds).await;
        if got == status {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < WAIT,
            "{} still answered {got} {body} after {WAIT:?}, expected {status}",
            creds.api_key
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_new_key_prints_three_fields_works_at_once_and_is_listed_without_secrets(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (live, printed) = key_create(&app, &["--label", "checkout"]).await;
    let fields: BTreeSet<&str> = printed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["api_key", "api_secret", "mode"]),
        "exactly the contract's fields: {printed}"
    );
    assert_eq!(printed["mode"], "live");
    assert_eq!(live.merchant_id, app.live.merchant_id, "the live book");
    let (test, printed) = key_create(&app, &["--test", "--label", "staging"]).await;
    assert_eq!(printed["mode"], "test");
    assert_eq!(test.merchant_id, app.merchant.merchant_id, "the test book");

    // Listed before any use: label, mode, creation time, never used.
    let keys = key_list(&app);
    assert_eq!(
        keys.len(),
        4,
        "the merchant's two keys and the two new ones: {keys:?}"
    );
    for (creds, label, mode) in [(&live, "checkout", "live"), (&test, "staging", "test")] {
        let k = listed(&app, &creds.api_key);
        assert_eq!(k["label"], label);
        assert_eq!(k["mode"], mode);
        assert!(
            k["created_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("20")),
            "{k}"
        );
        assert_eq!(k["last_used_at"], Value::Null, "not used yet: {k}");
        assert_eq!(k["revoked_at"], Value::Null);
        assert_eq!(k["expires_at"], Value::Null);
    }

    // The test key reaches the sandbox, signing with its secret; a wrong secret is refused.
    let (status, body) = answer(signed(
        &app.base_url,
        &test,
        ORDER_NEW,
        &deposit(&test, "k-1"),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["payment"]["channel"], "sandbox");
    assert_eq!(body["data"]["payment"]["test"], "1");
    assert_eq!(
        body["data"]["payment"]["signature_key"],
        test.api_key.as_str()
    );
    let (status, body) = answer(signed_with(
        &app.base_url,
        &test,
        &live.api_secret,
        ORDER_NEW,
        &deposit(&test, "k-2"),
    ))
    .await;
    assert_eq!((status, body), (401, error(AUTH_FAILED)));
    // The live key signs too (the ledger, since only the sandbox is configured).
    let (status, body) = ledger(&app.base_url, &live).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].get("test").is_none());

    // Their last use is written in the background: it appears in the list.
    let deadline = Instant::now() + WAIT;
    loop {
        let used: Vec<bool> = [&live, &test]
            .iter()
            .map(|c| listed(&app, &c.api_key)["last_used_at"].is_string())
            .collect();
        if used == [true, true] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "last_used_at never set: {used:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No secret anywhere in the list, nor a field that could hold one.
    let out = octopus(&app, &["key", "list", "--merchant", &app.live.merchant_uid]);
    for secret in [
        &live.api_secret,
        &test.api_secret,
        &app.live.api_secret,
        &app.merchant.api_secret,
    ] {
        assert!(
            !out.contains(secret.as_str()),
            "a secret in key list: {out}"
        );
    }
    for k in json_lines(&out) {
        assert!(
            k.as_object().unwrap().keys().all(|f| !f.contains("secret")),
            "{k}"
        );
    }
}

async fn a_rotated_key_works_until_its_expiry_then_only_the_new_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (old, _) = key_create(&app, &["--label", "rotating"]).await;
    assert_eq!(ledger(&app.base_url, &old).await.0, 200);

    let rotated_at = Instant::now();
    let out = octopus(&app, &["key", "rotate", &old.api_key, "--expires-in", "3s"]);
    let printed = printed_key(&out);
    assert_eq!(printed["mode"], "live");
    let new = creds_of(&app, &printed).await;
    assert_ne!(new.api_key, old.api_key);
    assert_ne!(new.api_secret, old.api_secret);
    assert_eq!(new.merchant_id, old.merchant_id, "the same book");
    let listed_new = listed(&app, &new.api_key);
    assert_eq!(
        listed_new["label"], "rotating",
        "the new key keeps the label"
    );
    assert_eq!(listed_new["expires_at"], Value::Null);
    assert!(listed(&app, &old.api_key)["expires_at"].is_string());

    // Until the expiry both keys work; from it only the new one. The expiry is at least 3 s
    // after `rotated_at` (the command reads the clock after it).
    let mut old_worked = false;
    let refused_after = loop {
        let (old_status, old_body) = ledger(&app.base_url, &old).await;
        let (new_status, new_body) = ledger(&app.base_url, &new).await;
        let elapsed = rotated_at.elapsed();
        assert_eq!(new_status, 200, "the new key at {elapsed:?}: {new_body}");
        match old_status {
            200 => old_worked = true,
            401 => {
                assert_eq!(old_body, error(AUTH_FAILED));
                break elapsed;
            }
            other => panic!("the old key answered {other} {old_body}"),
        }
        assert!(
            elapsed < Duration::from_secs(3) + WAIT,
            "the old key still works {elapsed:?} after a rotation with 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(old_worked, "the old key worked after the rotation");
    assert!(
        refused_after >= Duration::from_millis(2990),
        "the old key was refused {refused_after:?} after the rotation, before its expiry"
    );
    // And it stays refused, on order/new too; the new key goes on.
    let (status, body) = answer(signed(
        &app.base_url,
        &old,
        ORDER_NEW,
        &deposit(&old, "r-1"),
    ))
    .await;
    assert_eq!((status, body), (401, error(AUTH_FAILED)));
    assert_eq!(ledger(&app.base_url, &new).await.0, 200);
}

async fn a_revocation_is_in_force_on_every_node_within_two_seconds(backend: Backend) {
    let app = spawn_app(backend).await;
    let node = app.second_node().await;
    let (key, _) = key_create(&app, &["--label", "leaked"]).await;
    // Both nodes have the key in memory.
    assert_eq!(ledger(&app.base_url, &key).await.0, 200);
    assert_eq!(ledger(&node.base_url, &key).await.0, 200);
    assert_eq!(ledger(&app.base_url, &key).await.0, 200);
    assert_eq!(ledger(&node.base_url, &key).await.0, 200);

    let out = octopus(&app, &["key", "revoke", &key.api_key]);
    let revoked = Instant::now();
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap(),
        json!({"api_key": key.api_key, "revoked": true})
    );
    let limit = Duration::from_secs(2);
    let until_refused = |base_url: String| {
        let key = key.clone();
        async move {
            loop {
                let (status, body) = ledger(&base_url, &key).await;
                let elapsed = revoked.elapsed();
                if status == 401 {
                    assert_eq!(body, error(AUTH_FAILED));
                    return elapsed;
                }
                assert_eq!(status, 200, "{body}");
                assert!(
                    elapsed < limit,
                    "{base_url} still serves the revoked key {elapsed:?} after the revocation"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let (first, second) = tokio::join!(
        until_refused(app.base_url.clone()),
        until_refused(node.base_url.clone())
    );
    assert!(first < limit && second < limit, "{first:?}, {second:?}");
    // It stays refused on both; the merchant's other keys work on both.
    for base_url in [&app.base_url, &node.base_url] {
        assert_eq!(ledger(base_url, &key).await, (401, error(AUTH_FAILED)));
        assert_eq!(ledger(base_url, &app.live).await.0, 200);
        assert_eq!(ledger(base_url, &app.merchant).await.0, 200);
    }
    assert!(listed(&app, &key.api_key)["revoked_at"].is_string());
    let (ok, _, err) = octopus_result(&app, &["key", "revoke", &key.api_key]);
    assert!(!ok, "a second revocation is refused");
    assert!(err.contains("revoked already"), "{err}");
    node.stop().await;
}

/// Whether a refused order/new left an order under `id` (read with another key of the book).
async fn stored(app: &TestApp, id: &str) -> bool {
    let fields: RequestFields = [("merchant_order_id", id)].into_iter().collect();
    let a = app
        .client
        .post_signed("/octopus/api/order/get", &fields)
        .await
        .unwrap();
    match a.status {
        200 => true,
        404 => false,
        other => panic!("order/get answered {other} {}", a.body),
    }
}

async fn an_ip_allowlist_refuses_signed_requests_from_elsewhere(backend: Backend) {
    // Straight from the client: the connection's address counts, `X-Forwarded-For` does not
    // (nobody is trusted to set it).
    let app = spawn_app(backend.clone()).await;
    let (key, _) = key_create(&app, &["--test", "--label", "office"]).await;
    let since = Instant::now();
    assert_eq!(
        ledger(&app.base_url, &key).await.0,
        200,
        "in use, so in memory"
    );
    let out = octopus(&app, &["key", "allow", &key.api_key, "--ip", "10.0.0.0/8"]);
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap(),
        json!({"api_key": key.api_key, "allowed_ips": "10.0.0.0/8"})
    );
    assert_eq!(listed(&app, &key.api_key)["allowed_ips"], "10.0.0.0/8");
    wait_for_answer(&app.base_url, &key, 403, since).await;

    let (status, body) = answer(signed(
        &app.base_url,
        &key,
        ORDER_NEW,
        &deposit(&key, "ip-1"),
    ))
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        json!({"result": "error", "data": "This IP address is not allowed for this key"})
    );
    let (status, body) = answer(
        signed(&app.base_url, &key, ORDER_NEW, &deposit(&key, "ip-2"))
            .header("X-Forwarded-For", "10.1.2.3"),
    )
    .await;
    assert_eq!(
        (status, body),
        (403, error("This IP address is not allowed for this key")),
        "a forwarded address from an untrusted peer is not believed"
    );
    // A bad signature learns nothing about the allowlist.
    let (status, body) = answer(signed_with(
        &app.base_url,
        &key,
        "not the secret",
        ORDER_NEW,
        &deposit(&key, "ip-3"),
    ))
    .await;
    assert_eq!((status, body), (401, error(AUTH_FAILED)));
    for id in ["ip-1", "ip-2", "ip-3"] {
        assert!(!stored(&app, id).await, "{id} stored");
    }
    drop(app);

    // Behind a trusted proxy (127.0.0.1): the address it forwards counts.
    let mut config = test_config();
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let app = spawn_app_with(backend, config).await;
    let (key, _) = key_create(&app, &["--test", "--allow-ip", "10.0.0.0/8"]).await;
    assert_eq!(listed(&app, &key.api_key)["allowed_ips"], "10.0.0.0/8");
    let (status, body) = answer(
        signed(&app.base_url, &key, ORDER_NEW, &deposit(&key, "px-1"))
            .header("X-Forwarded-For", "10.1.2.3"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["payment"]["ip"], "10.1.2.3", "{body}");
    assert!(stored(&app, "px-1").await);
    for (id, forwarded) in [
        ("px-2", Some("192.0.2.1")),
        // A client that writes an allowed address itself: the proxy appends the real one.
        ("px-3", Some("10.1.2.3, 192.0.2.1")),
        // The proxy's own address is not in the allowlist.
        ("px-4", None),
    ] {
        let mut request = signed(&app.base_url, &key, ORDER_NEW, &deposit(&key, id));
        if let Some(forwarded) = forwarded {
            request = request.header("X-Forwarded-For", forwarded);
        }
        let (status, body) = answer(request).await;
        assert_eq!(
            (status, body),
            (403, error("This IP address is not allowed for this key")),
            "{id} from {forwarded:?}"
        );
        assert!(!stored(&app, id).await, "{id} stored");
    }

    // The allowlist cleared: any address again.
    let since = Instant::now();
    let out = octopus(&app, &["key", "allow", &key.api_key, "--ip", ""]);
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap(),
        json!({"api_key": key.api_key, "allowed_ips": ""})
    );
    wait_for_answer(&app.base_url, &key, 200, since).await;
    let (status, body) = answer(
        signed(&app.base_url, &key, ORDER_NEW, &deposit(&key, "px-5"))
            .header("X-Forwarded-For", "192.0.2.1"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["payment"]["ip"], "192.0.2.1");
}

async fn a_key_created_to_expire_is_refused_once_it_has(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = Instant::now();
    let (key, printed) = key_create(&app, &["--expires-in", "1s"]).await;
    assert_eq!(printed["mode"], "live");
    assert!(listed(&app, &key.api_key)["expires_at"].is_string());
    let refused_after = wait_for_answer(&app.base_url, &key, 401, created).await;
    assert!(
        refused_after >= Duration::from_millis(990),
        "refused {refused_after:?} after creation, before its expiry"
    );
    assert_eq!(ledger(&app.base_url, &key).await, (401, error(AUTH_FAILED)));
    let (status, body) = answer(signed(
        &app.base_url,
        &key,
        ORDER_NEW,
        &deposit(&key, "x-1"),
    ))
    .await;
    assert_eq!((status, body), (401, error(AUTH_FAILED)));
    // The merchant's other keys are untouched.
    assert_eq!(ledger(&app.base_url, &app.live).await.0, 200);
}

crate::on_both_backends!(
    a_new_key_prints_three_fields_works_at_once_and_is_listed_without_secrets,
    a_rotated_key_works_until_its_expiry_then_only_the_new_one,
    a_revocation_is_in_force_on_every_node_within_two_seconds,
    an_ip_allowlist_refuses_signed_requests_from_elsewhere,
    a_key_created_to_expire_is_refused_once_it_has,
);
