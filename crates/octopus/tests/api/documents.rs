//! The deposit and payout examples of each merchant document, sent the way their Java code
//! sends them (TreeMap signing, `org.json` body with `\/` escapes), are accepted end to end:
//! created, answered in the documented shape, and found again by `order/get`.

use crate::helpers::{java_json, spawn_app, Backend};
use octopus_client::Payment;

/// (document, the example's fields without merchant_uid)
fn examples() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "000 Myanmar deposit",
            vec![
                ("transaction_type", "income"),
                ("amount", "100.00"),
                ("currency", "mmk"),
                ("payment", "myanmar"),
                ("to_bank_name", "kbz"),
                ("merchant_order_id", "mm-dep"),
                ("redirect_url", "https://example.com/redirect"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "myanmar"),
                ("channel", "myanmar"),
                ("accounting_type", "receive"),
            ],
        ),
        (
            "000 Myanmar payout",
            vec![
                ("transaction_type", "expense"),
                ("amount", "100.00"),
                ("currency", "mmk"),
                ("payment", "myanmar"),
                ("to_bank_name", "kbz"),
                ("to_name", "aaaaaaa"),
                ("to", "99999999"),
                ("merchant_order_id", "mm-pay"),
                ("redirect_url", "https://example.com/redirect"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "myanmar"),
                ("channel", "myanmar"),
                ("accounting_type", "pay"),
            ],
        ),
        (
            "001 India deposit",
            vec![
                ("transaction_type", "income"),
                ("amount", "500.00"),
                ("currency", "inr"),
                ("payment", "india"),
                ("merchant_order_id", "in-dep"),
                ("redirect_url", "https://example.com/redirect"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "India"),
                ("accounting_type", "recharge"),
                ("from", "6660006666789"),
                ("from_name", "John Doe"),
                ("from_bank_name", "UPI"),
                ("merchant_id", "member-42"),
            ],
        ),
        (
            "001 India payout",
            vec![
                ("transaction_type", "expense"),
                ("amount", "250.50"),
                ("currency", "inr"),
                ("payment", "india"),
                ("to", "6660006666987"),
                ("to_name", "Jane Doe"),
                ("to_bank_name", "UPI"),
                ("merchant_order_id", "in-pay"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "India"),
                ("accounting_type", "settle"),
                ("merchant_id", "member-42"),
            ],
        ),
        (
            "002 Thai deposit",
            vec![
                ("transaction_type", "income"),
                ("amount", "100.00"),
                ("currency", "thb"),
                ("payment", "thailand"),
                ("merchant_order_id", "th-dep"),
                ("redirect_url", "https://example.com/redirect"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "thailand"),
                ("channel", "thailand"),
                ("accounting_type", "receive"),
                ("from", "22088xxxxx"),
            ],
        ),
        (
            "002 Thai payout",
            vec![
                ("transaction_type", "expense"),
                ("amount", "100.00"),
                ("currency", "thb"),
                ("payment", "thailand"),
                ("to_bank_name", "004"),
                ("to_name", "aaaaaaa"),
                ("to", "99999999"),
                ("merchant_order_id", "th-pay"),
                ("redirect_url", "https://example.com/redirect"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "thailand"),
                ("channel", "thailand"),
                ("accounting_type", "pay"),
            ],
        ),
        (
            "003 general deposit (GCash)",
            vec![
                ("transaction_type", "income"),
                ("amount", "100.00"),
                ("currency", "php"),
                ("payment", "gcash"),
                ("merchant_order_id", "ph-dep"),
                ("redirect_url", "https://example.com/redirect"),
                ("notify_url", "https://example.com/notify"),
                ("response_type", "json"),
                ("country", "ph"),
            ],
        ),
        (
            "003 general payout (bKash)",
            vec![
                ("transaction_type", "expense"),
                ("amount", "1000"),
                ("currency", "bdt"),
                ("payment", "bkash"),
                ("to", "01712345678"),
                ("to_name", "Rahim"),
                ("to_bank_name", "bkash"),
                ("merchant_order_id", "bd-pay"),
                ("response_type", "json"),
                ("country", "BD"),
            ],
        ),
    ]
}

async fn every_document_example_is_accepted_end_to_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let creds = &app.merchant;
    // The payouts need money to pay out.
    let funded = ["mmk", "inr", "thb", "bdt"];
    for currency in funded {
        app.fund(creds, currency, "5000").await;
    }
    for (name, mut fields) in examples() {
        fields.push(("merchant_uid", creds.merchant_uid.as_str()));
        let signing: octopus_domain::RequestFields = fields.iter().copied().collect();
        let signature = app.client.sign(&signing);
        let answer = app
            .client
            .post_raw(
                "/octopus/api/order/new",
                java_json(&fields),
                &creds.api_key,
                &signature,
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{name}: {}", answer.body);
        assert_eq!(answer.body["result"], "success", "{name}");
        let data = &answer.body["data"];
        let payment: Payment = serde_json::from_value(data["payment"].clone()).unwrap();
        let field = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| *f == k)
                .map(|(_, v)| *v)
                .unwrap_or("")
        };
        assert_eq!(
            payment.transaction_type,
            field("transaction_type"),
            "{name}"
        );
        assert_eq!(payment.payment_status, "pending", "{name}");
        assert_eq!(payment.currency, field("currency"), "{name}");
        assert_eq!(
            payment.merchant_order_id,
            field("merchant_order_id"),
            "{name}"
        );
        assert_eq!(payment.to, field("to"), "{name}");
        assert_eq!(payment.from, field("from"), "{name}");
        assert_eq!(
            payment.notify_url,
            field("notify_url"),
            "{name}: URLs are stored decoded"
        );
        assert_eq!(payment.payment_uid.len(), 32, "{name}");
        assert_eq!(payment.channel, "sandbox", "{name}");
        if field("transaction_type") == "income" {
            let url = data["payment_url"].as_str().unwrap();
            assert_eq!(
                url,
                format!("{}/octopus/pay/{}", app.base_url, payment.payment_uid),
                "{name}"
            );
        } else {
            assert!(
                data.get("payment_url").is_none(),
                "{name}: payouts have no payment_url"
            );
        }
        // ... and the order query finds it with the same content.
        let found = app
            .client
            .get_order(field("merchant_order_id"))
            .await
            .unwrap();
        assert_eq!(found.payment_uid, payment.payment_uid, "{name}");
        assert_eq!(found.country, field("country"), "{name}");
        assert_eq!(found.merchant_id, field("merchant_id"), "{name}");
        let expected_accounting = match (field("accounting_type"), field("transaction_type")) {
            ("", "income") => "receive",
            ("", _) => "pay",
            (given, _) => given,
        };
        assert_eq!(found.accounting_type, expected_accounting, "{name}");
    }
    assert_eq!(
        app.storage().order_count(creds.merchant_id).await.unwrap(),
        (examples().len() + funded.len()) as u64
    );
    app.assert_ledger_sound().await;
}

/// The answer of `order/new` with an empty `response_type`, and with none at all, is a 302
/// to the payment page; payouts answer JSON either way.
async fn empty_response_type_redirects_deposits(backend: Backend) {
    let app = spawn_app(backend).await;
    let uid = app.merchant.merchant_uid.clone();
    for (id, response_type) in [("r-empty", Some("")), ("r-absent", None)] {
        let order =
            octopus_client::NewOrder::deposit(&uid, id, "100.00", "mmk", "myanmar", "myanmar");
        let mut fields = order.to_fields();
        match response_type {
            Some(v) => fields.insert("response_type", v),
            None => {
                fields.remove("response_type");
            }
        }
        let answer = app
            .client
            .post_signed("/octopus/api/order/new", &fields)
            .await
            .unwrap();
        assert_eq!(answer.status, 302, "{id}: {}", answer.body);
        let found = app.client.get_order(id).await.unwrap();
        assert_eq!(
            answer.location.as_deref(),
            Some(found.payment_url.as_str()),
            "{id}"
        );
        assert!(found.payment_url.starts_with(&app.base_url));
        // The page it points to exists.
        let page = crate::helpers::http()
            .get(found.payment_url.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }
    app.fund(&app.merchant, "usd", "5.00").await;
    let mut payout = octopus_client::NewOrder::payout(
        &uid, "p-empty", "5.00", "usd", "bank", "US", "123", "A", "B",
    );
    payout.response_type = String::new();
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &payout.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["data"]["payment"]["payment_status"], "pending");
}

crate::on_both_backends!(
    every_document_example_is_accepted_end_to_end,
    empty_response_type_redirects_deposits
);
