//! Authentication: a wrong signature, an unknown key, a missing header and another merchant's
//! `merchant_uid` are refused with 401, an unknown key looks exactly like a bad signature, and
//! nothing is stored.

use octopus_client::NewOrder;
use serde_json::json;

use crate::helpers::{spawn_app, Backend};

async fn bad_signatures_unknown_keys_and_foreign_merchants_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let fields = NewOrder::deposit(
        &m.merchant_uid,
        "auth-1",
        "100.00",
        "mmk",
        "myanmar",
        "myanmar",
    )
    .to_fields();
    let body = fields.to_json();
    let good = app.client.sign(&fields);
    let path = "/octopus/api/order/new";
    let refused =
        json!({"result": "error", "data": "Authentication failed: invalid OC-Key or OC-Signature"});

    // wrong secret
    let wrong = octopus_domain::signing::SigningKey::new(b"not the secret").sign(&fields);
    let a = app
        .client
        .post_raw(path, body.clone(), &m.api_key, &wrong)
        .await
        .unwrap();
    assert_eq!((a.status, &a.body), (401, &refused));
    // signature of other content
    let mut tampered = fields.clone();
    tampered.insert("amount", "100000.00");
    let a = app
        .client
        .post_raw(path, tampered.to_json(), &m.api_key, &good)
        .await
        .unwrap();
    assert_eq!((a.status, &a.body), (401, &refused));
    // not hex
    let a = app
        .client
        .post_raw(path, body.clone(), &m.api_key, "zz-not-hex")
        .await
        .unwrap();
    assert_eq!((a.status, &a.body), (401, &refused));
    // unknown key: the very same answer
    let a = app
        .client
        .post_raw(path, body.clone(), "ock_doesnotexist000000000000", &good)
        .await
        .unwrap();
    assert_eq!((a.status, &a.body), (401, &refused));
    // missing headers
    let response = crate::helpers::http()
        .post(format!("{}{path}", app.base_url))
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // a valid key and signature, but another merchant's uid in the body
    let other = app.new_merchant("Other Merchant").await;
    let foreign = NewOrder::deposit(
        &other.merchant_uid,
        "auth-2",
        "100.00",
        "mmk",
        "myanmar",
        "myanmar",
    )
    .to_fields();
    let a = app.client.post_signed(path, &foreign).await.unwrap();
    assert_eq!(a.status, 401);
    assert_eq!(
        a.body["data"],
        "Authentication failed: merchant_uid does not belong to this OC-Key"
    );

    assert_eq!(app.storage().order_count(m.merchant_id).await.unwrap(), 0);
    assert_eq!(
        app.storage().order_count(other.merchant_id).await.unwrap(),
        0
    );

    // and the same request, correctly signed, is accepted
    let a = app
        .client
        .post_raw(path, body, &m.api_key, &good)
        .await
        .unwrap();
    assert_eq!(a.status, 200);
}

async fn empty_fields_may_be_signed_either_way(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut fields = NewOrder::deposit(
        &m.merchant_uid,
        "empty-1",
        "100.00",
        "mmk",
        "myanmar",
        "myanmar",
    )
    .to_fields();
    fields.insert("redirect_url", "");
    fields.insert("from", "");
    let key = octopus_domain::signing::SigningKey::new(m.api_secret.as_bytes());
    // a client that drops empty fields before signing
    let dropped = key.sign_str(&octopus_domain::signing::canonical(&fields, false));
    let a = app
        .client
        .post_raw(
            "/octopus/api/order/new",
            fields.to_json(),
            &m.api_key,
            &dropped,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    // a client that keeps them as key=
    let kept = key.sign_str(&octopus_domain::signing::canonical(&fields, true));
    let a = app
        .client
        .post_raw(
            "/octopus/api/order/new",
            fields.to_json(),
            &m.api_key,
            &kept,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200);
}

async fn a_second_key_of_a_merchant_works_and_signs_its_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    let second = app.another_key(&app.merchant, "second-secret").await;
    let client = app.client_for(&second);
    let created = client
        .create_order(&NewOrder::deposit(
            &second.merchant_uid,
            "k2-1",
            "5",
            "usd",
            "card",
            "US",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.signature_key, second.api_key);
    // both keys see the merchant's orders
    assert_eq!(
        app.client.get_order("k2-1").await.unwrap().signature_key,
        second.api_key
    );
}

crate::on_both_backends!(
    bad_signatures_unknown_keys_and_foreign_merchants_are_refused,
    empty_fields_may_be_signed_either_way,
    a_second_key_of_a_merchant_works_and_signs_its_orders,
);
