//! A standing check against hostile input, over real HTTP on both backends: random signed
//! merchant bodies and random postbacks (signed and not), generated afresh each run. Whatever
//! comes in, the gateway answers in a documented shape and never with a 5xx, stores nothing for
//! what it refuses, and its ledger verifies afterwards.

use std::collections::{BTreeMap, HashSet};

use futures::stream::{self, StreamExt};
use md5::Md5;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use crate::helpers::paykassma::PkSim;
use crate::helpers::{http, spawn_app, Backend, TestApp};

/// Random bodies per run.
const MERCHANT_BODIES: usize = 2_000;
const POSTBACKS: usize = 500;
/// Requests in flight at once.
const IN_FLIGHT: usize = 8;

/// Words the gateway must never show a client.
const INTERNALS: [&str; 10] = [
    "sqlite",
    "postgres",
    "panick",
    "thread",
    "serde",
    "deserialize",
    "Failed to",
    "rusqlite",
    "tokio",
    "SQL",
];

fn sample<T: std::fmt::Debug>(strategy: impl Strategy<Value = T>, runner: &mut TestRunner) -> T {
    strategy.new_tree(runner).expect("a value").current()
}

/// Text a merchant or a provider might send, or an attacker would.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("100.00".to_string()),
        Just("100.50".to_string()),
        Just("-6000".to_string()),
        Just("0".to_string()),
        Just("6000.001".to_string()),
        Just("99999999999999999999".to_string()),
        Just("1e5".to_string()),
        Just("usd".to_string()),
        Just("mmk".to_string()),
        Just("income".to_string()),
        Just("expense".to_string()),
        Just("myanmar".to_string()),
        Just("wavepay".to_string()),
        Just("json".to_string()),
        Just("http://127.0.0.1/notify".to_string()),
        Just("https://merchant.example/notify".to_string()),
        Just("\u{202e}evil\u{200b}".to_string()),
        Just("\u{feff}BOM".to_string()),
        Just("'; DROP TABLE orders; --".to_string()),
        "[0-9]{1,20}(\\.[0-9]{0,8})?",
        "\\PC{0,40}",
        any::<String>(),
    ]
}

/// Any JSON value, mostly strings (numbers, other types and nesting now and then).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        6 => text().prop_map(Value::String),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const ORDER_KEYS: [&str; 20] = [
    "transaction_type",
    "amount",
    "currency",
    "payment",
    "country",
    "merchant_order_id",
    "merchant_uid",
    "response_type",
    "notify_url",
    "redirect_url",
    "ttl",
    "float_precision",
    "additional",
    "to",
    "to_name",
    "to_bank_name",
    "from",
    "merchant_id",
    "accounting_type",
    "lang",
];

/// A merchant body: a plausible order with some fields replaced, dropped or added.
fn merchant_body(merchant_uid: String) -> impl Strategy<Value = Map<String, Value>> {
    let plausible = prop_oneof![
        Just(vec![
            ("transaction_type", "income"),
            ("amount", "100.00"),
            ("currency", "usd"),
            ("payment", "card"),
            ("country", "US"),
            ("response_type", "json"),
        ]),
        Just(vec![
            ("transaction_type", "expense"),
            ("amount", "5.00"),
            ("currency", "usd"),
            ("payment", "card"),
            ("country", "US"),
            ("to", "123456789"),
            ("to_name", "Jane Doe"),
            ("to_bank_name", "kbz"),
            ("response_type", "json"),
        ]),
        Just(vec![
            ("transaction_type", "income"),
            ("amount", "6000.00"),
            ("currency", "mmk"),
            ("payment", "wavepay"),
            ("country", "myanmar"),
            ("response_type", "json"),
        ]),
    ];
    (
        plausible,
        prop::collection::vec((prop::sample::select(ORDER_KEYS.to_vec()), value()), 0..4),
        prop::collection::vec(prop::sample::select(ORDER_KEYS.to_vec()), 0..2),
        prop::collection::btree_map("\\PC{1,12}", value(), 0..2),
        "[a-zA-Z0-9_-]{1,24}",
        prop::bool::weighted(0.9),
    )
        .prop_map(move |(base, replaced, dropped, extra, id, own_uid)| {
            let mut body: Map<String, Value> = base
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            body.insert("merchant_order_id".into(), json!(format!("hostile-{id}")));
            body.insert(
                "merchant_uid".into(),
                json!(if own_uid {
                    merchant_uid.clone()
                } else {
                    "M-someone-else".into()
                }),
            );
            for (k, v) in replaced {
                body.insert(k.to_string(), v);
            }
            for k in dropped {
                body.remove(k);
            }
            for (k, v) in extra {
                body.insert(k, v);
            }
            body
        })
}

/// The answer is one of the documented shapes, with no internals in it.
fn assert_documented(status: u16, text: &str, request: &str) {
    assert!(status < 500, "HTTP {status} for {request}: {text}");
    for word in INTERNALS {
        assert!(
            !text.contains(word),
            "internals ({word}) in the answer to {request}: {text}"
        );
    }
    if status == 302 {
        return;
    }
    let answer: Value =
        serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON for {request}: {text}"));
    let object = answer
        .as_object()
        .unwrap_or_else(|| panic!("not an object for {request}: {text}"));
    assert_eq!(
        object.len(),
        2,
        "only result and data, for {request}: {text}"
    );
    match (status, answer["result"].as_str()) {
        (200, Some("success")) => assert!(answer["data"].is_object(), "{request}: {text}"),
        (400 | 401 | 403 | 404 | 408 | 409 | 413 | 422 | 429, Some("error")) => {
            let data = &answer["data"];
            let plain = data.is_string();
            let invalid = data.as_object().is_some_and(|d| {
                d.len() == 2
                    && d["error"] == "Invalid parameters"
                    && d["details"].as_str().is_some_and(|s| !s.is_empty())
            });
            assert!(
                plain || invalid,
                "undocumented error shape for {request}: {text}"
            );
            assert_eq!(
                status == 400,
                invalid,
                "400 and only 400 has the Invalid parameters shape: {request}: {text}"
            );
        }
        _ => panic!("HTTP {status} with {text} for {request}"),
    }
}

async fn random_signed_merchant_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    app.fund(&app.merchant, "usd", "1000.00").await;
    let funding = app
        .storage()
        .order_count(app.merchant.merchant_id)
        .await
        .unwrap();
    let mut runner = TestRunner::default();
    let bodies: Vec<(Vec<u8>, &str)> = (0..MERCHANT_BODIES)
        .map(|i| {
            let body = sample(
                merchant_body(app.merchant.merchant_uid.clone()),
                &mut runner,
            );
            let json = serde_json::to_string(&Value::Object(body)).unwrap();
            match i % 20 {
                // Now and then not a JSON object: bytes, a cut-off body, another type, another
                // Content-Type.
                0 => (
                    sample(prop::collection::vec(any::<u8>(), 0..64), &mut runner),
                    "application/json",
                ),
                1 => (
                    json.as_bytes()[..json.len() / 2].to_vec(),
                    "application/json",
                ),
                2 => (format!("[{json}]").into_bytes(), "application/json"),
                3 => (json.into_bytes(), "application/x-www-form-urlencoded"),
                4 => (json.into_bytes(), "application/json; charset=utf-8"),
                _ => (json.into_bytes(), "application/json"),
            }
        })
        .collect();
    let client = http();
    let answers: Vec<(String, u16, String)> = stream::iter(bodies)
        .map(|(body, content_type)| {
            let client = client.clone();
            let app = &app;
            async move {
                // Signed as the documents say, when the body can be signed at all (other value
                // types are refused before the signature is looked at).
                let signature = octopus_domain::RequestFields::from_json(&body)
                    .map(|fields| app.client.sign(&fields))
                    .unwrap_or_else(|_| "0".repeat(64));
                let shown = String::from_utf8_lossy(&body).to_string();
                let r = client
                    .post(format!("{}/octopus/api/order/new", app.base_url))
                    .header("Content-Type", content_type)
                    .header("OC-Key", &app.merchant.api_key)
                    .header("OC-Signature", signature)
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("no answer for {shown}: {e}"));
                let status = r.status().as_u16();
                (shown, status, r.text().await.unwrap())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut accepted = HashSet::new();
    for (body, status, text) in &answers {
        assert_documented(*status, text, body);
        if *status == 200 || *status == 302 {
            let id = serde_json::from_str::<Value>(body).expect("an accepted body is JSON")
                ["merchant_order_id"]
                .clone();
            accepted.insert(id.to_string());
        }
    }
    // Nothing is stored for a refusal: the orders are exactly the distinct accepted ones.
    let stored = app
        .storage()
        .order_count(app.merchant.merchant_id)
        .await
        .unwrap()
        - funding;
    assert_eq!(stored, accepted.len() as u64, "orders stored vs accepted");
    app.assert_ledger_sound().await;
}

/// `sha1(access_key . private_key . md5(additional_data))`, as the provider signs.
fn paykassma_signature(additional_data: &str, private_key: &str) -> String {
    let access = octopus_paykassma_sim::SimConfig::default().postback_access_key;
    let md5 = hex::encode(Md5::digest(additional_data.as_bytes()));
    hex::encode(Sha1::digest(
        format!("{access}{private_key}{md5}").as_bytes(),
    ))
}

/// A postback: transactions with random fields, for open deposits of the app or not, signed
/// properly most of the time.
fn postback(payment_uids: Vec<String>) -> impl Strategy<Value = Value> {
    let order_id = prop_oneof![prop::sample::select(payment_uids), text()];
    let transaction = (
        order_id.clone(),
        prop_oneof![
            text().prop_map(Value::String),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!(6000)),
            Just(json!("6000.00"))
        ],
        prop_oneof![Just(json!("MMK")), Just(json!("mmk")), value()],
        prop_oneof!["TX[0-9]{1,4}".prop_map(Value::String), value()],
        prop_oneof![Just(json!(1)), Just(json!(5)), value()],
        prop::collection::btree_map("[a-z_]{1,10}", value(), 0..2),
    )
        .prop_map(|(id, amount, currency, transaction_id, status, extra)| {
            let mut t: BTreeMap<String, Value> = extra;
            t.insert("plugin_custom_order_id".into(), json!(id));
            t.insert("withdrawal_id".into(), json!(id));
            t.insert("amount".into(), amount);
            t.insert("currency_code".into(), currency);
            t.insert("transaction_id".into(), transaction_id);
            t.insert("withdrawal_status".into(), status);
            Value::Object(t.into_iter().collect())
        });
    (
        prop::collection::vec(transaction, 0..3),
        prop_oneof![
            Just(json!("ingoing")),
            Just(json!("outgoing")),
            Just(Value::Null),
            value()
        ],
        prop::sample::select(vec!["right", "right", "right", "wrong", "none"]),
    )
        .prop_map(|(transactions, direction, signing)| {
            let additional = serde_json::to_string(&transactions).unwrap();
            let signature = match signing {
                "right" => json!(paykassma_signature(
                    &additional,
                    &octopus_paykassma_sim::SimConfig::default().postback_private_key
                )),
                "wrong" => json!(paykassma_signature(&additional, "not-the-key")),
                _ => Value::Null,
            };
            let mut body = json!({
                "additional_data": transactions,
                "access_key": octopus_paykassma_sim::SimConfig::default().postback_access_key,
                "signature": signature,
            });
            if !direction.is_null() {
                body["direction"] = direction;
            }
            body
        })
}

async fn random_postbacks(backend: Backend) {
    let app = spawn_app(backend).await;
    let _pk = PkSim::start(&app, "pk-hostile", 10).await;
    let mut payment_uids = Vec::new();
    for i in 0..5 {
        let order = octopus_client::NewOrder::deposit(
            &app.merchant.merchant_uid,
            &format!("hostile-pk-{i}"),
            "6000.00",
            "mmk",
            "wavepay",
            "myanmar",
        );
        payment_uids.push(
            app.client
                .create_order(&order)
                .await
                .unwrap()
                .payment
                .payment_uid,
        );
    }
    let before = balances(&app).await;
    let mut runner = TestRunner::default();
    let bodies: Vec<String> = (0..POSTBACKS)
        .map(|i| match i % 25 {
            // Now and then, not JSON at all.
            0 => sample(any::<String>(), &mut runner),
            _ => {
                serde_json::to_string(&sample(postback(payment_uids.clone()), &mut runner)).unwrap()
            }
        })
        .collect();
    let client = http();
    let answers: Vec<(String, u16, String)> = stream::iter(bodies)
        .map(|body| {
            let client = client.clone();
            let url = format!("{}/octopus/postback/pk-hostile", app.base_url);
            async move {
                let r = client
                    .post(url)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("no answer for {body}: {e}"));
                let status = r.status().as_u16();
                (body, status, r.text().await.unwrap())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for (body, status, text) in &answers {
        assert!(*status < 500, "HTTP {status} for postback {body}: {text}");
        for word in INTERNALS {
            assert!(
                !text.contains(word),
                "internals ({word}) in the answer to {body}: {text}"
            );
        }
        let answer: Value = serde_json::from_str(text)
            .unwrap_or_else(|_| panic!("not JSON for postback {body}: {text}"));
        match answer["status"].as_str() {
            Some("ok") => assert_eq!(*status, 200, "{body}: {text}"),
            Some("error") => assert!(
                answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}: {text}"
            ),
            _ => panic!("undocumented postback answer for {body}: {text}"),
        }
    }
    // Whatever completed, completed with a real amount, credited once.
    for i in 0..5 {
        let order = app
            .client
            .get_order(&format!("hostile-pk-{i}"))
            .await
            .unwrap();
        if order.payment_status == "completed" {
            let received: rust_decimal::Decimal = order.final_amount.parse().unwrap();
            assert!(
                received > rust_decimal::Decimal::ZERO,
                "completed with {received}"
            );
            assert!(
                received.normalize().scale() <= 2,
                "completed with {received}"
            );
        }
    }
    let after = balances(&app).await;
    assert!(
        after.0 >= before.0 && after.1 >= before.1,
        "balances only grow from deposits: {before:?} -> {after:?}"
    );
    app.assert_ledger_sound().await;
}

async fn balances(app: &TestApp) -> (rust_decimal::Decimal, rust_decimal::Decimal) {
    app.balance(&app.merchant, "mmk").await
}

crate::on_both_backends!(random_signed_merchant_bodies, random_postbacks);
