//! Every worked example of `vectors/signing.json` is accepted by the real server: the body is
//! sent byte for byte with the vector's signature, by a merchant holding the vector's secret.

use serde_json::Value;

use crate::helpers::{spawn_app, Backend};

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/signing.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

async fn every_signing_vector_is_accepted(backend: Backend) {
    for v in vectors() {
        let name = v["name"].as_str().unwrap();
        let body = v["body"].as_str().unwrap().to_string();
        let fields: Value = serde_json::from_str(&body).unwrap();
        // A fresh gateway per vector: several vectors reuse one merchant_order_id.
        let app = spawn_app(backend.clone()).await;
        let uid = fields["merchant_uid"].as_str().unwrap_or("Merchant_UID");
        let creds = app.merchant_with(uid, v["secret"].as_str().unwrap()).await;
        let client = app.client_for(&creds);
        if fields["transaction_type"] == "expense" {
            // A payout needs the money it pays out.
            app.fund(&creds, fields["currency"].as_str().unwrap(), "10000")
                .await;
        }
        let signature = v["signature"].as_str().unwrap();
        let path = if fields.get("transaction_type").is_some() {
            "/octopus/api/order/new"
        } else {
            "/octopus/api/order/get"
        };
        let answer = client
            .post_raw(path, body.clone(), &creds.api_key, signature)
            .await
            .unwrap();
        let expected = match name {
            "order-query" => 404,  // authenticated; the order does not exist
            "empty-values" => 302, // empty response_type redirects to the payment page
            _ => 200,
        };
        assert_eq!(answer.status, expected, "{name}: {}", answer.body);
        // The same signature in upper case is accepted too.
        let upper = client
            .post_raw(
                path,
                body.clone(),
                &creds.api_key,
                &signature.to_uppercase(),
            )
            .await
            .unwrap();
        assert_eq!(upper.status, expected, "{name} (upper-case hex)");
        // One changed byte of the signature is refused.
        let mut forged = signature.to_string();
        let last = if forged.ends_with('0') { "1" } else { "0" };
        forged.replace_range(forged.len() - 1.., last);
        let refused = client
            .post_raw(path, body, &creds.api_key, &forged)
            .await
            .unwrap();
        assert_eq!(refused.status, 401, "{name} with a forged signature");
    }
}

crate::on_both_backends!(every_signing_vector_is_accepted);
