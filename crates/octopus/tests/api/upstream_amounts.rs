//! Amounts reported by an upstream, over real HTTP on both backends, with validly signed
//! Paykassma postbacks of the test's own making: an impossible amount (negative, zero, finer
//! than the currency, more than 15 digits, an exponent) is acknowledged, changes nothing and
//! waits for the operator on the order's history; a transaction counts once per order (listed
//! twice in one postback, repeated by a later one, or named for another order); a postback
//! without `direction` is read by its signed transactions; the postback endpoint answers JSON
//! whatever goes wrong; and `ledger verify` fails on rows that must never be.

use std::time::Duration;

use octopus_client::NewOrder;
use octopus_domain::ledger::{AccountKind, FeeRule, FeeSchedule};
use rust_decimal::Decimal;
use serde_json::Value;

use tokio::io::AsyncWriteExt;

use crate::helpers::paykassma::{deposit_transaction, withdrawal_transaction, PkSim};
use crate::helpers::raw_http::{read_answer, request};
use crate::helpers::{http, spawn_app, spawn_app_with, test_config, Backend, TestApp};

const OK: &str = r#"{"status":"ok"}"#;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn wavepay(merchant_uid: &str, id: &str, amount: &str) -> NewOrder {
    NewOrder::deposit(merchant_uid, id, amount, "mmk", "wavepay", "myanmar")
}

/// The errors kept on an order's history for its postbacks that were not applied.
async fn not_applied(app: &TestApp, payment_uid: &str) -> Vec<String> {
    let (_, exchanges) = app.storage().upstream_of(payment_uid).await.unwrap();
    exchanges
        .into_iter()
        .filter(|e| e.operation == "postback" && !e.error.is_empty())
        .map(|e| e.error)
        .collect()
}

/// The balance of the gateway's fee income in mmk, recomputed from the journal.
async fn fee_income(app: &TestApp) -> Decimal {
    let report = app.storage().verify_ledger().await.unwrap();
    report
        .balances
        .iter()
        .filter(|(a, _)| a.kind == AccountKind::FeeIncome && a.currency.code() == "mmk")
        .map(|(_, b)| *b)
        .sum()
}

/// Each impossible amount: answered as Paykassma expects (so it stops repeating), the order
/// exactly as it was, nothing posted, the reason on the order's history for the operator;
/// repeated, the same again.
async fn impossible_amounts_are_acknowledged_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let cases = [
        (
            r#""-6000""#,
            r#"the amount "-6000" must be greater than zero"#,
        ),
        ("-6000", "the amount -6000 must be greater than zero"),
        (r#""0""#, r#"the amount "0" must be greater than zero"#),
        (
            r#""6000.001""#,
            r#"the amount "6000.001" has more decimal places than the currency allows (mmk has 2 decimal places)"#,
        ),
        (
            r#""99999999999999999999""#,
            r#"the amount "99999999999999999999" is too large (at most 15 digits before the point)"#,
        ),
        (
            "99999999999999999999",
            "the amount 99999999999999999999 is too large",
        ),
        (
            r#""6e3""#,
            r#"the amount "6e3" must be a decimal number such as "100.00""#,
        ),
        (
            "6e3",
            r#"the amount 6e3 must be a decimal number such as "100.00""#,
        ),
    ];
    for (i, (amount, why)) in cases.iter().enumerate() {
        let id = format!("imp-{i}");
        let created = app
            .live_client
            .create_order(&wavepay(&m.merchant_uid, &id, "6000.00"))
            .await
            .unwrap();
        assert_eq!(created.payment.channel, "pk-mm");
        let uid = created.payment.payment_uid.clone();
        let before = app.live_client.get_order(&id).await.unwrap();
        let transaction = deposit_transaction(&format!("TXI{i}"), &uid, amount);
        for attempt in 1..=2 {
            let (status, body) = pk
                .post_postback(
                    &app,
                    "pk-mm",
                    Some("ingoing"),
                    std::slice::from_ref(&transaction),
                )
                .await;
            assert_eq!(
                (status, body.as_str()),
                (200, OK),
                "{amount}, attempt {attempt}"
            );
            assert_eq!(
                app.live_client.get_order(&id).await.unwrap(),
                before,
                "{amount}: the order is unchanged"
            );
            let kept = not_applied(&app, &uid).await;
            assert_eq!(kept.len(), attempt, "{amount}: {kept:?}");
            let expected = format!("not applied, needs the operator: transaction TXI{i}: {why}");
            assert!(
                kept.iter().all(|e| e.starts_with(&expected)),
                "{amount}: {kept:?}"
            );
        }
        let events = app.storage().order_events(&uid).await.unwrap();
        assert_eq!(events.len(), 1, "only its creation: {events:?}");
    }
    // Several impossible things at once: the first one found is named.
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "imp-two", "6000.00"))
        .await
        .unwrap();
    let uid = created.payment.payment_uid.clone();
    let (status, body) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[
                deposit_transaction("TXA", &uid, r#""100""#),
                deposit_transaction("TXB", &uid, r#""-100""#),
            ],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    assert_eq!(
        app.live_client
            .get_order("imp-two")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    assert!(not_applied(&app, &uid).await[0]
        .contains("transaction TXB: the amount \"-100\" must be greater than zero"));

    // An impossible postback for no order it names is acknowledged too (and logged); a possible
    // one for no known order is not, so the provider repeats it until the order exists.
    let (status, body) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[deposit_transaction("TXU", "Pnosuchorder", r#""-6000""#)],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    let (status, _) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[deposit_transaction("TXV", "Pnosuchorder", r#""6000""#)],
        )
        .await;
    assert_eq!(status, 404);

    assert_eq!(
        app.balance(&m, "mmk").await,
        (Decimal::ZERO, Decimal::ZERO),
        "nothing credited"
    );
    assert!(app
        .storage()
        .merchant_entries(m.merchant_id, None, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(fee_income(&app).await, Decimal::ZERO);
    app.assert_ledger_sound().await;
}

/// Paykassma's answer to the payer's confirmation with an impossible `deposit_amount` credits
/// nothing: the order waits (processing) with the reason on its history, and its postback,
/// with a possible amount, still settles it.
async fn an_activation_with_an_impossible_amount_credits_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    pk.sim.set_faults(octopus_paykassma_sim::Faults {
        activation_deposit_amount: Some("-6000".into()),
        hold_postbacks: true,
        ..Default::default()
    });
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "act-neg", "6000.00"))
        .await
        .unwrap();
    let uid = created.payment.payment_uid.clone();
    pk.sim.transfer("TXACT", 6000, "MMK");
    let token = crate::helpers::page_token(&created.payment_url).await;
    let r = http()
        .post(format!("{}/confirm", created.payment_url))
        .form(&[("transaction_id", "TXACT"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("being checked"));
    let order = app.live_client.get_order("act-neg").await.unwrap();
    assert_eq!(
        (order.payment_status.as_str(), order.final_amount.as_str()),
        ("processing", "6000.00")
    );
    assert_eq!(app.balance(&m, "mmk").await.0, Decimal::ZERO);
    let (_, exchanges) = app.storage().upstream_of(&uid).await.unwrap();
    let activate = exchanges
        .iter()
        .find(|e| e.operation == "activate")
        .unwrap();
    assert_eq!(
        activate.error,
        "not applied, needs the operator: Paykassma confirmed the deposit, but deposit_amount: the amount -6000 must be greater than zero"
    );
    let events = app.storage().order_events(&uid).await.unwrap();
    assert!(
        events
            .last()
            .unwrap()
            .reason
            .starts_with("not applied, needs the operator"),
        "{events:?}"
    );

    pk.sim.release(false);
    let done = app
        .wait_for_status(
            &app.live_client,
            "act-neg",
            "completed",
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(done.final_amount, "6000.00");
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"));
    app.assert_ledger_sound().await;
}

/// One transfer listed twice in one postback is one transfer; a later postback repeating it is
/// already applied; one that adds a new transfer to a completed order waits for the operator;
/// the same transfer named for another order is not counted again.
async fn a_transaction_counts_once_per_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let a = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "once-a", "6000.00"))
        .await
        .unwrap();
    let uid = a.payment.payment_uid.clone();
    let tx1 = deposit_transaction("TX1", &uid, r#""6000""#);
    let (status, body) = pk
        .post_postback(&app, "pk-mm", Some("ingoing"), &[tx1.clone(), tx1.clone()])
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    let done = app.live_client.get_order("once-a").await.unwrap();
    assert_eq!(
        (done.payment_status.as_str(), done.final_amount.as_str()),
        ("completed", "6000.00")
    );
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"), "credited once");

    // The provider repeats the transaction in later postbacks (alone, or listed three times):
    // already applied, nothing more, nothing for the operator.
    for repeat in [
        vec![tx1.clone()],
        vec![tx1.clone(), tx1.clone(), tx1.clone()],
    ] {
        let (status, body) = pk
            .post_postback(&app, "pk-mm", Some("ingoing"), &repeat)
            .await;
        assert_eq!((status, body.as_str()), (200, OK));
        assert_eq!(app.live_client.get_order("once-a").await.unwrap(), done);
    }
    assert!(not_applied(&app, &uid).await.is_empty());
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"));
    let events = app.storage().order_events(&uid).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.to_status.as_str() == "completed")
            .count(),
        1
    );

    // A new transfer reported with it for the completed order is not credited: the operator
    // decides.
    let tx2 = deposit_transaction("TX2", &uid, r#""500""#);
    let (status, body) = pk
        .post_postback(&app, "pk-mm", Some("ingoing"), &[tx1.clone(), tx2])
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    assert_eq!(app.live_client.get_order("once-a").await.unwrap(), done);
    let kept = not_applied(&app, &uid).await;
    assert_eq!(
        kept,
        ["not applied, needs the operator: 6500.00 reported for an order completed with 6000.00"],
        "{kept:?}"
    );

    // The same transfer named for another order is not counted for it too.
    let b = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "once-b", "6000.00"))
        .await
        .unwrap();
    let before = app.live_client.get_order("once-b").await.unwrap();
    let (status, body) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[deposit_transaction(
                "TX1",
                &b.payment.payment_uid,
                r#""6000""#,
            )],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    assert_eq!(app.live_client.get_order("once-b").await.unwrap(), before);
    let kept = not_applied(&app, &b.payment.payment_uid).await;
    assert_eq!(
        kept,
        [format!(
            "not applied, needs the operator: transaction TX1 was already counted for order {uid}"
        )]
    );

    // One transaction listed with two different amounts cannot be taken either.
    let c = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "once-c", "6000.00"))
        .await
        .unwrap();
    let cu = c.payment.payment_uid.clone();
    let (status, _) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[
                deposit_transaction("TX3", &cu, r#""6000""#),
                deposit_transaction("TX3", &cu, "5000"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.live_client
            .get_order("once-c")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    assert_eq!(
        not_applied(&app, &cu).await,
        ["not applied, needs the operator: transaction TX3 is listed twice, with 6000 and 5000"]
    );

    assert_eq!(app.balance(&m, "mmk").await, (d("6000"), Decimal::ZERO));
    app.assert_ledger_sound().await;
}

/// A postback without `direction` is read by what its signed transactions are: a deposit's
/// completes its deposit, a withdrawal's settles its payout.
async fn a_postback_without_direction_is_read_by_its_transactions(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let created = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "nodir-in", "6000.00"))
        .await
        .unwrap();
    let (status, body) = pk
        .post_postback(
            &app,
            "pk-mm",
            None,
            &[deposit_transaction(
                "TXN",
                &created.payment.payment_uid,
                r#""6000""#,
            )],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    let done = app.live_client.get_order("nodir-in").await.unwrap();
    assert_eq!(
        (done.payment_status.as_str(), done.final_amount.as_str()),
        ("completed", "6000.00")
    );
    assert_eq!(app.balance(&m, "mmk").await, (d("6000"), Decimal::ZERO));

    let payout = NewOrder::payout(
        &m.merchant_uid,
        "nodir-out",
        "5000.00",
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "Daw Aye",
        "wavepay",
    );
    let sent = app.live_client.create_order(&payout).await.unwrap();
    assert_eq!(
        (
            sent.payment.channel.as_str(),
            sent.payment.payment_status.as_str()
        ),
        ("pk-mm", "processing")
    );
    assert_eq!(app.balance(&m, "mmk").await, (d("1000"), d("5000")));
    let (status, body) = pk
        .post_postback(
            &app,
            "pk-mm",
            None,
            &[withdrawal_transaction(&sent.payment.payment_uid, "5000", 1)],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    assert_eq!(
        app.live_client
            .get_order("nodir-out")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
    assert_eq!(app.balance(&m, "mmk").await, (d("1000"), Decimal::ZERO));

    // Transactions that are neither all deposits nor all withdrawals cannot be read either
    // way: acknowledged, nothing changed.
    let other = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "nodir-mixed", "100.00"))
        .await
        .unwrap();
    let mixed = [
        deposit_transaction("TXM", &other.payment.payment_uid, r#""100""#),
        withdrawal_transaction(&sent.payment.payment_uid, "5000", 5),
    ];
    let (status, body) = pk.post_postback(&app, "pk-mm", None, &mixed).await;
    assert_eq!((status, body.as_str()), (200, OK));
    assert_eq!(
        app.live_client
            .get_order("nodir-mixed")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    assert_eq!(
        app.live_client
            .get_order("nodir-out")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
    app.assert_ledger_sound().await;
}

/// Whatever is refused at the postback endpoint is refused in its JSON shape.
async fn postback_refusals_are_json(backend: Backend) {
    let mut config = test_config();
    config.connections.body_timeout = Duration::from_millis(500);
    let app = spawn_app_with(backend, config).await;
    let _pk = PkSim::start(&app, "pk-mm", 10).await;
    let url = format!("{}/octopus/postback/pk-mm", app.base_url);
    let shape = |status: u16, body: &str, message: &str| {
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON ({status}): {body}"));
        assert_eq!(
            v,
            serde_json::json!({"status": "error", "message": message}),
            "{status}"
        );
    };
    // A body over the limit (2 MiB).
    let big = format!(
        r#"{{"additional_data":[],"pad":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    let r = http()
        .post(&url)
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 413);
    shape(status, &r.text().await.unwrap(), "postback too large");
    // A channel code that is not UTF-8.
    let r = http()
        .post(format!("{}/octopus/postback/%FF%FE", app.base_url))
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 404);
    shape(status, &r.text().await.unwrap(), "unknown channel");
    // Another method.
    let r = http().get(&url).send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 405);
    assert_eq!(r.headers()["allow"], "POST");
    shape(status, &r.text().await.unwrap(), "use POST");
    // A body that never finishes arriving (the body timeout is 500 ms here).
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let full = request(
        "POST",
        "/octopus/postback/pk-mm",
        &[("Content-Type", "application/json")],
        br#"{"additional_data":[],"signature":"00"}"#,
    );
    stream.write_all(&full[..full.len() - 5]).await.unwrap();
    let answer = read_answer(&mut stream, Duration::from_secs(20))
        .await
        .expect("an answer");
    assert_eq!(answer.status, 408);
    shape(
        408,
        &String::from_utf8_lossy(&answer.body),
        "the postback did not arrive in time",
    );
    // Unreadable, and badly signed.
    let r = http().post(&url).body("not json").send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 400);
    shape(status, &r.text().await.unwrap(), "unreadable postback");
    let r = http()
        .post(&url)
        .body(r#"{"additional_data":[],"signature":"00","access_key":"k"}"#)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 401);
    shape(status, &r.text().await.unwrap(), "invalid signature");
}

/// `ledger verify` fails on what must never be, written behind the gateway's back: a
/// completed order that received a negative amount or one finer than its currency, an entry
/// that moves a negative amount or takes a negative fee, and postings the wrong way (the
/// merchant debited, fee income negative, for a deposit credit).
async fn ledger_verify_fails_on_impossible_rows(backend: Backend) {
    let mut app = spawn_app(backend.clone()).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let rule = FeeRule::new(d("1"), Decimal::ZERO, Decimal::ZERO, None).unwrap();
    app.storage()
        .set_fee_rule(
            app.owner_id(&m).await,
            &FeeSchedule::parse("*", "receive", rule).unwrap(),
            0,
        )
        .await
        .unwrap();
    let mut uids = Vec::new();
    for id in ["v-a", "v-b"] {
        let created = app
            .live_client
            .create_order(&wavepay(&m.merchant_uid, id, "6000.00"))
            .await
            .unwrap();
        assert_eq!(created.payment.fee, "60.00");
        let uid = created.payment.payment_uid.clone();
        let (status, _) = pk
            .post_postback(
                &app,
                "pk-mm",
                Some("ingoing"),
                &[deposit_transaction(&format!("T{id}"), &uid, "6000")],
            )
            .await;
        assert_eq!(status, 200);
        uids.push(uid);
    }
    assert_eq!(app.balance(&m, "mmk").await.0, d("11880"));
    assert_eq!(fee_income(&app).await, d("120"));
    app.assert_ledger_sound().await;
    app.stop().await;

    let (a, b) = (&uids[0], &uids[1]);
    let (unlock, flip) = match backend {
        Backend::Sqlite => (
            "DROP TRIGGER journal_entries_no_update; DROP TRIGGER postings_no_update;",
            "amount = CASE WHEN amount LIKE '-%' THEN substr(amount, 2) ELSE '-' || amount END",
        ),
        Backend::Postgres(_) => (
            "DROP TRIGGER journal_entries_append_only ON journal_entries; DROP TRIGGER postings_append_only ON postings;",
            "amount = -amount",
        ),
    };
    app.execute_sql(&format!(
        "{unlock}
         UPDATE orders SET final_amount = '-6000.00' WHERE payment_uid = '{a}';
         UPDATE orders SET final_amount = '6000.001' WHERE payment_uid = '{b}';
         UPDATE journal_entries SET amount = '-6000.000000' WHERE entry_key = '{a}:deposit_credit';
         UPDATE journal_entries SET fee = '-60.000000' WHERE entry_key = '{b}:deposit_credit';
         UPDATE postings SET {flip} WHERE entry_id = (SELECT id FROM journal_entries WHERE entry_key = '{a}:deposit_credit');"
    ))
    .await;
    let report = app.storage().verify_ledger().await.unwrap();
    let all = report.violations.join("\n");
    let available = format!("available:{}:mmk", m.merchant_id);
    for expected in [
        format!("order {a} (income completed) received -6000.00 mmk, which must be greater than zero"),
        format!("order {b} (income completed) received 6000.001 mmk, which has more decimal places than the currency allows"),
        format!("({a}:deposit_credit) is impossible: it moves -6000.000000 mmk, which is not greater than zero"),
        format!("({b}:deposit_credit) is impossible: its fee -60.000000 is negative"),
        format!("({a}:deposit_credit) moves money the wrong way: it debits {available} by 5940.000000, which a deposit_credit only credits"),
        format!("({a}:deposit_credit) moves money the wrong way: it debits fee_income:mmk by 60.000000, which a deposit_credit only credits"),
        format!("({a}:deposit_credit) moves money the wrong way: it credits clearing:pk-mm:mmk by 6000.000000, which a deposit_credit only debits"),
    ] {
        assert!(all.contains(&expected), "missing {expected:?} in\n{all}");
    }
    // Fee income still sums to zero here (b's 60 less a's flipped 60).
    assert!(!all.contains("fee_income:mmk is negative"), "{all}");

    // With b's credit flipped as well, fee income is below zero.
    app.execute_sql(&format!(
        "UPDATE postings SET {flip} WHERE entry_id = (SELECT id FROM journal_entries WHERE entry_key = '{b}:deposit_credit');"
    ))
    .await;
    let report = app.storage().verify_ledger().await.unwrap();
    let all = report.violations.join("\n");
    assert!(
        all.contains("account fee_income:mmk is negative: -120"),
        "{all}"
    );
    assert!(
        all.contains(&format!("account {available} is negative: -11880")),
        "{all}"
    );
}

/// A payer who types another order's transaction ID on their own page (by mistake, or to
/// block it) cannot keep that order's real transfer from being credited: the provider's signed
/// postback for the other order takes the reference over; once money moved with a reference,
/// it is not taken again.
async fn a_reference_typed_for_another_order_does_not_block_its_postback(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    let a = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "squat-a", "6000.00"))
        .await
        .unwrap();
    let b = app
        .live_client
        .create_order(&wavepay(&m.merchant_uid, "squat-b", "6000.00"))
        .await
        .unwrap();
    let token = crate::helpers::page_token(&a.payment_url).await;
    let r = http()
        .post(format!("{}/confirm", a.payment_url))
        .form(&[("transaction_id", "TXB"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_ne!(
        app.live_client
            .get_order("squat-a")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
    let (status, body) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[deposit_transaction(
                "TXB",
                &b.payment.payment_uid,
                r#""6000""#,
            )],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let order_b = app.live_client.get_order("squat-b").await.unwrap();
    assert_eq!(
        order_b.payment_status,
        "completed",
        "B's real transfer is credited: {:?}",
        not_applied(&app, &b.payment.payment_uid).await
    );
    assert_eq!(order_b.final_amount, "6000.00");
    assert_eq!(
        app.storage()
            .order_by_upstream_reference("pk-mm", "TXB")
            .await
            .unwrap(),
        Some(b.payment.payment_uid.clone())
    );
    // Spent now: the same transfer named for A is not counted again.
    let (status, _) = pk
        .post_postback(
            &app,
            "pk-mm",
            Some("ingoing"),
            &[deposit_transaction(
                "TXB",
                &a.payment.payment_uid,
                r#""6000""#,
            )],
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(
        app.live_client
            .get_order("squat-a")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
    assert!(not_applied(&app, &a.payment.payment_uid)
        .await
        .iter()
        .any(|e| e.contains("already counted")));
    assert_eq!(app.balance(&m, "mmk").await.0, d("6000"), "credited once");
    app.assert_ledger_sound().await;
}

crate::on_both_backends!(
    impossible_amounts_are_acknowledged_and_change_nothing,
    a_reference_typed_for_another_order_does_not_block_its_postback,
    an_activation_with_an_impossible_amount_credits_nothing,
    a_transaction_counts_once_per_order,
    a_postback_without_direction_is_read_by_its_transactions,
    postback_refusals_are_json,
    ledger_verify_fails_on_impossible_rows,
);
