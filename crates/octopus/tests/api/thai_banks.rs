//! Thai bank codes (docs/api.md "Thai bank codes"): a Thailand order's `from_bank_name` and
//! `to_bank_name` are a code or short name of the list in any case, kept as sent; anything else
//! is a 400 naming the field, with nothing stored and nothing held. And the table in
//! docs/api.md is the list the gateway uses.

use octopus_client::NewOrder;
use octopus_domain::thai_bank::{ThaiBank, MERGED};
use serde_json::json;

use crate::helpers::{invalid, spawn_app, Backend, TestApp};

fn refusal(field: &str) -> serde_json::Value {
    invalid(&format!(
        "The '{field}' field must be a Thai bank code or short name, such as \"004\" or \"KBANK\" (see \"Thai bank codes\" in docs/api.md)."
    ))
}

/// `order/get` of `merchant_order_id`: its status and body.
async fn order_get(app: &TestApp, merchant_order_id: &str) -> (u16, serde_json::Value) {
    let fields: octopus_domain::RequestFields = [("merchant_order_id", merchant_order_id)]
        .into_iter()
        .collect();
    let answer = app
        .client
        .post_signed("/octopus/api/order/get", &fields)
        .await
        .unwrap();
    (answer.status, answer.body)
}

async fn thai_bank_names_are_codes_or_short_names_in_any_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    app.fund(&m, "thb", "1000.00").await;
    let deposit =
        |id: &str| NewOrder::deposit(&m.merchant_uid, id, "100.00", "thb", "thailand", "TH");
    let payout = |id: &str, bank: &str| {
        NewOrder::payout(
            &m.merchant_uid,
            id,
            "10.00",
            "thb",
            "thailand",
            "thailand",
            "1234567890",
            "Somchai",
            bank,
        )
    };

    // Accepted, and kept as sent in the answer and in order/get.
    for (i, bank) in ["kbank", "004", "Kbank ", "TBANK"].into_iter().enumerate() {
        let mut to = deposit(&format!("to-ok-{i}"));
        to.to_bank_name = Some(bank.into());
        let mut from = deposit(&format!("from-ok-{i}"));
        from.from_bank_name = Some(bank.into());
        let out = payout(&format!("out-ok-{i}"), bank);
        for (order, field) in [
            (to, "to_bank_name"),
            (from, "from_bank_name"),
            (out, "to_bank_name"),
        ] {
            let created = app
                .client
                .create_order(&order)
                .await
                .unwrap_or_else(|e| panic!("{field} = {bank:?}: {e}"));
            let sent = match field {
                "to_bank_name" => &created.payment.to_bank_name,
                _ => &created.payment.from_bank_name,
            };
            assert_eq!(sent, bank, "{field} answered as sent");
            let (status, got) = order_get(&app, &order.merchant_order_id).await;
            assert_eq!(status, 200, "{got}");
            assert_eq!(got["data"][field], bank, "{field} stored as sent");
        }
    }

    // Refused, naming the field; nothing stored, nothing held.
    let stored = app.storage().order_count(m.merchant_id).await.unwrap();
    let available = app.balance(&m, "thb").await.0;
    for (i, bank) in ["KBANK2", "999", "Kasikornbank", "kbz"]
        .into_iter()
        .enumerate()
    {
        let mut to = deposit(&format!("to-bad-{i}"));
        to.to_bank_name = Some(bank.into());
        let mut from = deposit(&format!("from-bad-{i}"));
        from.from_bank_name = Some(bank.into());
        let out = payout(&format!("out-bad-{i}"), bank);
        for (order, field) in [
            (to, "to_bank_name"),
            (from, "from_bank_name"),
            (out, "to_bank_name"),
        ] {
            let answer = app
                .client
                .post_signed("/octopus/api/order/new", &order.to_fields())
                .await
                .unwrap();
            assert_eq!(
                (answer.status, &answer.body),
                (400, &refusal(field)),
                "{field} = {bank:?}"
            );
            let (status, got) = order_get(&app, &order.merchant_order_id).await;
            assert_eq!(
                (status, got),
                (404, json!({"result": "error", "data": "Order not found"})),
                "nothing stored for {field} = {bank:?}"
            );
        }
    }
    assert_eq!(
        app.storage().order_count(m.merchant_id).await.unwrap(),
        stored
    );
    assert_eq!(
        app.balance(&m, "thb").await.0,
        available,
        "no refused payout held money"
    );

    // Outside Thailand a bank name is free text.
    let mut myanmar = NewOrder::deposit(
        &m.merchant_uid,
        "mm-1",
        "100.00",
        "mmk",
        "myanmar",
        "myanmar",
    );
    myanmar.to_bank_name = Some("KBANK2".into());
    let created = app.client.create_order(&myanmar).await.unwrap();
    assert_eq!(created.payment.to_bank_name, "KBANK2");
    app.assert_ledger_sound().await;
}

/// docs/api.md "Thai bank codes": its table is the list the gateway uses, row for row.
#[test]
fn docs_api_md_lists_every_thai_bank() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md")).unwrap();
    let section = doc
        .split("### Thai bank codes")
        .nth(1)
        .expect("a \"Thai bank codes\" section in docs/api.md");
    let section = section.split("\n#").next().unwrap();
    let rows: Vec<(String, String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            assert_eq!(cells.len(), 3, "{l}");
            (cells[0].clone(), cells[1].clone(), cells[2].clone())
        })
        .collect();
    let mut expected: Vec<(String, String, String)> = ThaiBank::ALL
        .iter()
        .map(|b| (b.code().into(), b.short_name().into(), b.name().into()))
        .collect();
    for (code, short_name, _, became) in MERGED {
        // A merged bank's row says which bank it is read as.
        let row = rows
            .iter()
            .find(|r| r.0 == *code)
            .unwrap_or_else(|| panic!("{code} in docs/api.md"));
        assert_eq!(row.1, *short_name);
        assert!(
            row.2.contains(&became.to_string()),
            "{row:?} names {became}"
        );
        expected.push(row.clone());
    }
    expected.sort();
    let mut rows = rows;
    rows.sort();
    assert_eq!(rows, expected);
    for (code, short_name, _) in &rows {
        assert_eq!(
            ThaiBank::parse(code).unwrap(),
            ThaiBank::parse(short_name).unwrap()
        );
    }
}

crate::on_both_backends!(thai_bank_names_are_codes_or_short_names_in_any_case);
