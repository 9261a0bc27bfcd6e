//! `order/get` returns every field the documents list, for the key's own merchant only.

use octopus_client::NewOrder;
use serde_json::Value;

use crate::helpers::{signed_order_request, spawn_app, Backend};

/// The fields the documents list for the order query (from ... signature_key), plus
/// floating_amount from the Thai document.
const DOCUMENTED_FIELDS: &[&str] = &[
    "from",
    "from_name",
    "from_bank_name",
    "to",
    "to_name",
    "to_bank_name",
    "amount",
    "floating_amount",
    "final_amount",
    "currency",
    "country",
    "transaction_type",
    "accounting_type",
    "merchant_order_id",
    "merchant_uid",
    "merchant_name",
    "channel",
    "payment_status",
    "payment_fail_reason",
    "payment",
    "response_type",
    "ip",
    "user_agent",
    "distribute_rules",
    "payment_uid",
    "redirect_url",
    "notify_url",
    "notify_status",
    "notify_fail_reason",
    "accounting_status",
    "accounting_fail_reason",
    "signature_key",
];

async fn order_query_returns_every_documented_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut order = NewOrder::deposit(&m.merchant_uid, "q-1", "1234.50", "thb", "thailand", "TH");
    order.from = Some("22088xxxxx".into());
    order.from_name = Some("Somchai".into());
    order.from_bank_name = Some("KBANK".into());
    order.redirect_url = Some("https://shop.example/back".into());
    order.notify_url = Some("https://shop.example/notify".into());
    order.member_id = Some("user-7".into());
    order.channel = Some("thailand".into());
    order.additional = Some("Pay from your own account".into());
    order.extra.insert("customer_tier".into(), "gold".into());
    let created = app.client.create_order(&order).await.unwrap();

    let fields: octopus_domain::RequestFields =
        [("merchant_order_id", "q-1")].into_iter().collect();
    let answer = app
        .client
        .post_signed("/octopus/api/order/get", &fields)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["result"], "success");
    let data = &answer.body["data"];
    for field in DOCUMENTED_FIELDS {
        assert!(
            data.get(*field).is_some_and(Value::is_string),
            "field {field} missing or not a string: {data}"
        );
    }
    let get = |k: &str| data[k].as_str().unwrap().to_string();
    assert_eq!(get("payment_uid"), created.payment.payment_uid);
    assert_eq!(get("amount"), "1234.50");
    assert_eq!(get("final_amount"), "1234.50");
    assert_eq!(get("floating_amount"), "0.00");
    assert_eq!(get("currency"), "thb");
    assert_eq!(get("country"), "TH");
    assert_eq!(get("transaction_type"), "income");
    assert_eq!(get("accounting_type"), "receive");
    assert_eq!(get("merchant_uid"), m.merchant_uid);
    assert_eq!(get("merchant_name"), "Test Merchant");
    assert_eq!(get("payment"), "thailand");
    assert_eq!(get("channel"), "sandbox");
    assert_eq!(get("payment_status"), "pending");
    assert_eq!(get("payment_fail_reason"), "");
    assert_eq!(get("response_type"), "json");
    assert_eq!(get("ip"), "127.0.0.1");
    assert_eq!(get("from_bank_name"), "KBANK");
    assert_eq!(get("redirect_url"), "https://shop.example/back");
    assert_eq!(get("notify_url"), "https://shop.example/notify");
    assert_eq!(get("notify_status"), "none");
    assert_eq!(get("accounting_status"), "none");
    assert_eq!(
        get("signature_key"),
        m.api_key,
        "the OC-Key, never the secret"
    );
    assert!(
        !answer.body.to_string().contains(&m.api_secret),
        "the secret never appears"
    );
    assert_eq!(get("merchant_id"), "user-7");
    assert_eq!(get("additional"), "Pay from your own account");
    let rules: Value = serde_json::from_str(&get("distribute_rules")).unwrap();
    assert_eq!(rules["chosen"], "sandbox");
    assert_eq!(rules["requested_channel"], "thailand");
    // by payment_uid as well
    let by_uid: octopus_domain::RequestFields =
        [("payment_uid", created.payment.payment_uid.as_str())]
            .into_iter()
            .collect();
    let answer = app
        .client
        .post_signed("/octopus/api/order/get", &by_uid)
        .await
        .unwrap();
    assert_eq!(answer.body["data"]["merchant_order_id"], "q-1");
}

async fn user_agent_and_forwarded_ip_are_recorded(backend: Backend) {
    let mut config = crate::helpers::test_config();
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let app = crate::helpers::spawn_app_with(backend, config).await;
    let m = &app.merchant;
    let fields = NewOrder::deposit(&m.merchant_uid, "ua-1", "10", "usd", "card", "US").to_fields();
    let response = signed_order_request(&app, &fields, "application/json")
        .header("User-Agent", "ShopBackend/2.1 (Java 17)")
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let found = app.client.get_order("ua-1").await.unwrap();
    assert_eq!(found.user_agent, "ShopBackend/2.1 (Java 17)");
    assert_eq!(
        found.ip, "203.0.113.9",
        "X-Forwarded-For of a trusted proxy is believed"
    );
}

async fn forwarded_for_is_ignored_from_untrusted_peers(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let fields = NewOrder::deposit(&m.merchant_uid, "xff-1", "10", "usd", "card", "US").to_fields();
    let response = signed_order_request(&app, &fields, "application/json")
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.client.get_order("xff-1").await.unwrap().ip, "127.0.0.1");
}

async fn another_merchants_order_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = &app.merchant;
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &a.merchant_uid,
            "shared-id",
            "10",
            "usd",
            "card",
            "US",
        ))
        .await
        .unwrap();
    let b = app.new_merchant("Other Merchant").await;
    let other = app.client_for(&b);
    for fields in [
        vec![("merchant_order_id", "shared-id")],
        vec![("payment_uid", created.payment.payment_uid.as_str())],
    ] {
        let fields: octopus_domain::RequestFields = fields.into_iter().collect();
        let answer = other
            .post_signed("/octopus/api/order/get", &fields)
            .await
            .unwrap();
        assert_eq!(answer.status, 404, "{}", answer.body);
        assert_eq!(
            answer.body,
            serde_json::json!({"result": "error", "data": "Order not found"})
        );
    }
    // B may use the same merchant_order_id for its own, different order.
    let own = other
        .create_order(&NewOrder::deposit(
            &b.merchant_uid,
            "shared-id",
            "99",
            "usd",
            "card",
            "US",
        ))
        .await
        .unwrap();
    assert_ne!(own.payment.payment_uid, created.payment.payment_uid);
    assert_eq!(other.get_order("shared-id").await.unwrap().amount, "99.00");
    assert_eq!(
        app.client.get_order("shared-id").await.unwrap().amount,
        "10.00"
    );
}

crate::on_both_backends!(
    order_query_returns_every_documented_field,
    user_agent_and_forwarded_ip_are_recorded,
    forwarded_for_is_ignored_from_untrusted_peers,
    another_merchants_order_is_not_found,
);
