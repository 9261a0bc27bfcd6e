//! Refused requests: every required field's absence and every malformed value gives its
//! documented error (400, `{"error":"Invalid parameters","details":...}` naming the field),
//! bodies that are not JSON objects of strings are refused, oversized bodies get 413, and
//! nothing is stored for any of them.

use octopus_client::NewOrder;
use octopus_domain::RequestFields;
use serde_json::json;

use crate::helpers::{invalid, spawn_app, Backend};

fn deposit(uid: &str, id: &str) -> RequestFields {
    NewOrder::deposit(uid, id, "100.00", "mmk", "myanmar", "myanmar").to_fields()
}

fn payout(uid: &str, id: &str) -> RequestFields {
    NewOrder::payout(
        uid, id, "100.00", "mmk", "myanmar", "myanmar", "99999999", "Jane", "kbz",
    )
    .to_fields()
}

async fn missing_and_malformed_fields_get_their_documented_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let uid = app.merchant.merchant_uid.clone();
    let mut cases: Vec<(RequestFields, String)> = Vec::new();

    for field in [
        "transaction_type",
        "amount",
        "merchant_order_id",
        "merchant_uid",
        "currency",
        "payment",
        "country",
    ] {
        let mut absent = deposit(&uid, &format!("missing-{field}"));
        absent.remove(field);
        cases.push((absent, format!("The '{field}' field is required.")));
        let mut empty = deposit(&uid, &format!("empty-{field}"));
        empty.insert(field, "");
        cases.push((empty, format!("The '{field}' field is required.")));
    }
    for field in ["to", "to_name", "to_bank_name"] {
        let mut f = payout(&uid, &format!("payout-missing-{field}"));
        f.remove(field);
        cases.push((f, format!("The '{field}' field is required.")));
    }

    let malformed: &[(&str, &str, &str)] = &[
        ("amount", "abc", "The 'amount' field must be a decimal number such as \"100.00\"."),
        ("amount", "-5", "The 'amount' field must be a decimal number such as \"100.00\"."),
        ("amount", "1e3", "The 'amount' field must be a decimal number such as \"100.00\"."),
        ("amount", "0", "The 'amount' field must be greater than zero."),
        ("amount", "10.001", "The 'amount' field may have at most 2 decimal places for mmk."),
        ("amount", "9999999999999999", "The 'amount' field is too large."),
        ("transaction_type", "deposit", "The 'transaction_type' field must be income or expense."),
        ("currency", "eur", "The 'currency' field must be one of cny, usd, thb, vnd, php, sgd, idr, bdt, twd, brl, mxn, inr, mmk."),
        ("country", "atlantis", "The 'country' field must be a country name or ISO 3166 code, such as \"myanmar\" or \"TH\"."),
        ("accounting_type", "pay", "The 'accounting_type' field must be recharge or receive for income."),
        ("accounting_type", "refund", "The 'accounting_type' field must be recharge or receive for income."),
        ("response_type", "xml", "The 'response_type' field must be \"json\" or empty."),
        ("notify_url", "not a url", "The 'notify_url' field must be an absolute http or https URL."),
        ("redirect_url", "javascript:alert(1)", "The 'redirect_url' field must be an absolute http or https URL."),
        ("ttl", "0", "The 'ttl' field must be a whole number of seconds from 1 to 2592000."),
        ("ttl", "ten", "The 'ttl' field must be a whole number of seconds from 1 to 2592000."),
        ("float_precision", "3", "The 'float_precision' field must be one of -2, -1, 0, 1, 2."),
        ("from_name", "a\u{7}b", "The 'from_name' field must not contain control characters."),
    ];
    for (i, (field, value, details)) in malformed.iter().enumerate() {
        let mut f = deposit(&uid, &format!("bad-{i}"));
        f.insert(*field, *value);
        cases.push((f, details.to_string()));
    }
    let mut long_id = deposit(&uid, &"x".repeat(65));
    long_id.insert("merchant_order_id", "x".repeat(65));
    cases.push((
        long_id,
        "The 'merchant_order_id' field must be at most 64 characters.".into(),
    ));
    let mut vnd = deposit(&uid, "vnd-cents");
    vnd.insert("currency", "vnd");
    vnd.insert("amount", "1000.50");
    cases.push((
        vnd,
        "The 'amount' field may have at most 0 decimal places for vnd.".into(),
    ));
    let mut wrong_type = payout(&uid, "payout-wrong-accounting");
    wrong_type.insert("accounting_type", "receive");
    cases.push((
        wrong_type,
        "The 'accounting_type' field must be pay or settle for expense.".into(),
    ));

    for (fields, details) in &cases {
        let answer = app
            .client
            .post_signed("/octopus/api/order/new", fields)
            .await
            .unwrap();
        assert_eq!(answer.status, 400, "{details}: {}", answer.body);
        assert_eq!(answer.body, invalid(details));
    }
    assert_eq!(
        app.storage()
            .order_count(app.merchant.merchant_id)
            .await
            .unwrap(),
        0,
        "nothing stored"
    );
}

async fn bodies_that_are_not_json_objects_of_strings_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let raw = |body: &str| {
        let body = body.to_string();
        let client = app.client.clone();
        let key = m.api_key.clone();
        async move {
            client
                .post_raw("/octopus/api/order/new", body, &key, "00")
                .await
                .unwrap()
        }
    };
    let cases = [
        ("{\"amount\": ", "The request body is not valid JSON."),
        ("", "The request body is not valid JSON."),
        ("[\"income\"]", "The request body must be a JSON object."),
        ("{\"amount\": true}", "The 'amount' field must be a string."),
        (
            "{\"amount\": {\"value\": 1}}",
            "The 'amount' field must be a string.",
        ),
        ("{\"amount\": null}", "The 'amount' field must be a string."),
        (
            "{\"amount\": \"1\", \"amount\": \"2\"}",
            "The 'amount' field appears more than once.",
        ),
    ];
    for (body, details) in cases {
        let answer = raw(body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.body, invalid(details), "{body}");
    }
    // JSON only
    let fields = deposit(&m.merchant_uid, "form-1");
    let response =
        crate::helpers::signed_order_request(&app, &fields, "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        invalid("The request body must be JSON with Content-Type: application/json.")
    );
    assert_eq!(
        app.storage().order_count(m.merchant_id).await.unwrap(),
        0,
        "nothing stored"
    );
}

async fn oversized_bodies_get_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut fields = deposit(&m.merchant_uid, "big-1");
    fields.insert("padding", "x".repeat(70 * 1024));
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &fields)
        .await
        .unwrap();
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.body,
        json!({"result": "error", "data": "Request body too large: the limit is 65536 bytes"})
    );
    // Without a Content-Length (chunked), the limit still holds.
    let body = fields.to_json();
    let stream = futures_stream(body.into_bytes());
    let response = crate::helpers::http()
        .post(format!("{}/octopus/api/order/new", app.base_url))
        .header("Content-Type", "application/json")
        .header("OC-Key", &m.api_key)
        .header("OC-Signature", app.client.sign(&fields))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // Just under the limit is fine.
    fields.insert("padding", "x".repeat(60 * 1024));
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &fields)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 1);
}

fn futures_stream(bytes: Vec<u8>) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(chunks)
}

async fn unknown_paths_and_methods_answer_in_the_documented_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let http = crate::helpers::http();
    let r = http
        .get(format!("{}/octopus/api/order/new", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"result": "error", "data": "Method not allowed: use POST"})
    );
    let r = http
        .post(format!("{}/octopus/api/nope", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"result": "error", "data": "Not found"})
    );
    let r = http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

crate::on_both_backends!(
    missing_and_malformed_fields_get_their_documented_error,
    bodies_that_are_not_json_objects_of_strings_are_refused,
    oversized_bodies_get_413,
    unknown_paths_and_methods_answer_in_the_documented_shape,
);
