//! Merchant safety end to end (issue 12): blocklists, velocity rules and payout review, over
//! real HTTP on both backends, administered with the real `octopus` binary as an operator does
//! it. What is checked here is what a merchant and an operator see:
//! - every blocklist kind refuses an order whose value matches once normalized, and only that
//!   kind's field; entries are per merchant or operator-wide, and expire;
//! - a refusal is HTTP 422 with the documented body, stored as `reject` (order/get finds it),
//!   answered the same on a retry, and moves no money; a retry of an order created before the
//!   entry still gets that order;
//! - `octopus blocklist list|remove|import` show, lift and add entries (an import is all or
//!   nothing and names the bad line);
//! - velocity rules count a member's (or payer account's) orders and volume per window, never
//!   the refused ones, per merchant and per book;
//! - payouts above a review threshold wait in `preparing` with their hold until an operator
//!   approves them (sent, settled, called back) or rejects them (hold released, called back).
//!
//! The rules' details (normalization of every form, probes, windows) are unit-tested in
//! `octopus_domain::risk`.

use std::time::{Duration, Instant};

use octopus_client::{Client, NewOrder, Payment};
use octopus_server::clock::{now_ms, rfc3339};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::accounts::{json_lines, octopus, octopus_result};
use crate::helpers::paykassma::PkSim;
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{spawn_app, Backend, Creds, TestApp};

const WAIT: Duration = Duration::from_secs(15);

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Orders and answers
// ---------------------------------------------------------------------------------------------

/// A sandbox deposit of `amount` thb by `member` (the `merchant_id` of order/new).
fn deposit_of(creds: &Creds, id: &str, amount: &str, member: &str) -> NewOrder {
    let mut order = NewOrder::deposit(&creds.merchant_uid, id, amount, "thb", "bank", "TH");
    if !member.is_empty() {
        order.member_id = Some(member.into());
    }
    order
}

/// A deposit of 100.00 thb with no member id.
fn deposit(creds: &Creds, id: &str) -> NewOrder {
    deposit_of(creds, id, "100.00", "")
}

/// A Thai bank payout of `amount` thb to the account `to` (held by "Somchai Jaidee").
fn payout(creds: &Creds, id: &str, amount: &str, to: &str) -> NewOrder {
    NewOrder::payout(
        &creds.merchant_uid,
        id,
        amount,
        "thb",
        "bank",
        "TH",
        to,
        "Somchai Jaidee",
        "KBANK",
    )
}

/// A Paykassma deposit (Myanmar, wavepay) of 6000.00 mmk by `member`, for a live key.
fn wavepay_of(creds: &Creds, id: &str, member: &str) -> NewOrder {
    let mut order = NewOrder::deposit(
        &creds.merchant_uid,
        id,
        "6000.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.member_id = Some(member.into());
    order
}

/// A Paykassma payout (wavepay) of `amount` mmk, for a live key.
fn wavepay_payout(creds: &Creds, id: &str, amount: &str) -> NewOrder {
    NewOrder::payout(
        &creds.merchant_uid,
        id,
        amount,
        "mmk",
        "wavepay",
        "myanmar",
        "01642234663",
        "Daw Aye",
        "wavepay",
    )
}

/// order/new as sent: the HTTP status and the JSON body.
async fn send(client: &Client, order: &NewOrder) -> (u16, Value) {
    let answer = client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await
        .expect("order/new answers");
    (answer.status, answer.body)
}

/// Asserts that order/new refuses `order` with HTTP 422 and exactly this reason.
async fn assert_refused(client: &Client, order: &NewOrder, reason: &str) {
    let (status, body) = send(client, order).await;
    assert_eq!(
        (status, body),
        (422, json!({"result": "error", "data": reason})),
        "order/new of {}",
        order.merchant_order_id
    );
}

/// Asserts that order/new takes `order`; returns it as created.
async fn assert_accepted(client: &Client, order: &NewOrder) -> Payment {
    match client.create_order(order).await {
        Ok(created) => created.payment,
        Err(e) => panic!("order/new of {} refused: {e}", order.merchant_order_id),
    }
}

// ---------------------------------------------------------------------------------------------
// The operator's commands
// ---------------------------------------------------------------------------------------------

/// `octopus blocklist add --kind K --value V --reason R --by risk-test <extra>`; returns the
/// entry it prints.
fn block(app: &TestApp, kind: &str, value: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "blocklist",
        "add",
        "--kind",
        kind,
        "--value",
        value,
        "--reason",
        "test entry",
        "--by",
        "risk-test",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(octopus(app, &args).trim()).expect("the entry as JSON")
}

/// `octopus blocklist list <extra>`, one JSON object per entry.
fn blocklist(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["blocklist", "list"];
    args.extend_from_slice(extra);
    json_lines(&octopus(app, &args))
}

/// `octopus velocity add --merchant UID <rule>`; returns the rule's id.
fn velocity(app: &TestApp, creds: &Creds, rule: &[&str]) -> i64 {
    let mut args = vec!["velocity", "add", "--merchant", &creds.merchant_uid];
    args.extend_from_slice(rule);
    let printed: Value = serde_json::from_str(octopus(app, &args).trim()).expect("rule JSON");
    printed["id"].as_i64().expect("the rule's id")
}

/// `octopus review set --currency C --above A <extra>`.
fn review(app: &TestApp, currency: &str, above: &str, extra: &[&str]) {
    let mut args = vec!["review", "set", "--currency", currency, "--above", above];
    args.extend_from_slice(extra);
    octopus(app, &args);
}

/// `octopus payout approve|reject UID --reason R --by reviewer`: (succeeded, printed JSON or
/// the error text).
fn decide(app: &TestApp, verb: &str, payment_uid: &str, reason: &str) -> (bool, String) {
    let (ok, out, err) = octopus_result(
        app,
        &[
            "payout",
            verb,
            payment_uid,
            "--reason",
            reason,
            "--by",
            "reviewer",
        ],
    );
    (ok, if ok { out } else { err })
}

/// The payouts `octopus payout in-review` lists.
fn in_review(app: &TestApp) -> Vec<Value> {
    json_lines(&octopus(app, &["payout", "in-review"]))
}

/// The callback the receiver got for `merchant_order_id` with `payment_status` (waits for it).
async fn callback_of(receiver: &Receiver, merchant_order_id: &str, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(got) = receiver.received().into_iter().find(|r| {
            r.json["merchant_order_id"] == merchant_order_id && r.json["payment_status"] == status
        }) {
            return got.json;
        }
        assert!(
            Instant::now() < deadline,
            "no {status} callback of {merchant_order_id}: {:?}",
            receiver
                .received()
                .iter()
                .map(|r| r.body.clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Blocklists: each kind, normalization, scope, expiry
// ---------------------------------------------------------------------------------------------

/// Each kind refuses the order whose field matches the entry once both are normalized, and
/// looks at its own field only: a blocked payer name does not stop a payout to that name, a
/// blocked payee account does not stop a deposit from that account.
async fn each_blocklist_kind_refuses_its_matching_order_and_no_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    app.fund(&m, "thb", "1000.00").await;

    // Written the way people write them; the orders below write them differently.
    let entries = [
        ("member_id", "User 42", "user42"),
        ("payer_account", "0164-223-4663", "01642234663"),
        ("payee_account", "123-456-7890", "1234567890"),
        ("payer_name", "  SOMCHAI   jaidee", "somchai jaidee"),
    ];
    for (kind, written, stored) in entries {
        let entry = block(&app, kind, written, &[]);
        assert_eq!(
            (entry["kind"].as_str(), entry["value"].as_str()),
            (Some(kind), Some(stored)),
            "stored normalized: {entry}"
        );
    }

    // member_id
    assert_refused(
        c,
        &deposit_of(&m, "bl-member", "100.00", "user42"),
        "Rejected: member id is blocked",
    )
    .await;
    assert_accepted(c, &deposit_of(&m, "bl-member-ok", "100.00", "user43")).await;

    // payer_account (the deposit's `from`)
    let mut from = deposit(&m, "bl-from");
    from.from = Some("01642234663".into());
    assert_refused(c, &from, "Rejected: payer account is blocked").await;
    let mut from_spaced = deposit(&m, "bl-from-spaced");
    from_spaced.from = Some("0164 223 4663".into());
    assert_refused(c, &from_spaced, "Rejected: payer account is blocked").await;
    let mut other_from = deposit(&m, "bl-from-ok");
    other_from.from = Some("01642234664".into());
    assert_accepted(c, &other_from).await;
    let mut from_payee = deposit(&m, "bl-from-payee");
    from_payee.from = Some("1234567890".into());
    assert_accepted(c, &from_payee).await;

    // payee_account (the payout's `to`); the payee's name is the blocked payer name.
    assert_refused(
        c,
        &payout(&m, "bl-to", "10.00", "1234567890"),
        "Rejected: payee account is blocked",
    )
    .await;
    let paid_out = assert_accepted(c, &payout(&m, "bl-to-ok", "10.00", "1234567891")).await;
    assert_eq!(paid_out.to_name, "Somchai Jaidee");

    // payer_name (`from_name`)
    let mut name = deposit(&m, "bl-name");
    name.from_name = Some("Somchai Jaidee".into());
    assert_refused(c, &name, "Rejected: payer name is blocked").await;
    let mut other_name = deposit(&m, "bl-name-ok");
    other_name.from_name = Some("Somchai Jaideee".into());
    assert_accepted(c, &other_name).await;

    // An order hitting several entries is refused once, naming the first kind.
    let mut both = deposit_of(&m, "bl-both", "100.00", "USER42");
    both.from_name = Some("somchai JAIDEE".into());
    assert_refused(c, &both, "Rejected: member id is blocked").await;
}

/// An IP entry is a network: the test client (127.0.0.1) passes a network it is not in and
/// is refused by one it is in, or by its own address (a /32).
async fn ip_entries_refuse_orders_from_their_network(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;

    let other = block(&app, "ip", "10.1.2.3/8", &[]);
    assert_eq!(other["value"], "10.0.0.0/8", "stored as its network");
    let passed = assert_accepted(c, &deposit(&m, "ip-ok")).await;
    assert_eq!(passed.ip, "127.0.0.1");

    block(&app, "ip", "127.0.0.0/8", &[]);
    assert_refused(c, &deposit(&m, "ip-net"), "Rejected: IP address is blocked").await;
    // Payouts too: the rule is about where the order comes from.
    assert_refused(
        c,
        &payout(&m, "ip-payout", "1.00", "1234567890"),
        "Rejected: IP address is blocked",
    )
    .await;

    octopus(
        &app,
        &[
            "blocklist",
            "remove",
            "--kind",
            "ip",
            "--value",
            "127.0.0.0/8",
        ],
    );
    assert_accepted(c, &deposit(&m, "ip-lifted")).await;
    let single = block(&app, "ip", "127.0.0.1", &[]);
    assert_eq!(single["value"], "127.0.0.1/32");
    assert_refused(
        c,
        &deposit(&m, "ip-single"),
        "Rejected: IP address is blocked",
    )
    .await;
}

/// An entry of merchant A refuses A's orders only; an operator-wide one refuses everyone's.
/// Removing A's entry needs A's scope.
async fn merchant_entries_stop_their_merchant_and_operator_wide_ones_everyone(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.merchant.clone();
    let b = app.new_merchant("B").await;
    let (ca, cb) = (&app.client, &app.client_for(&b));

    let entry = block(&app, "member_id", "m-a", &["--merchant", &a.merchant_uid]);
    assert_eq!(entry["merchant"], a.merchant_uid.as_str());
    block(&app, "member_id", "m-all", &[]);

    assert_refused(
        ca,
        &deposit_of(&a, "a-1", "100.00", "m-a"),
        "Rejected: member id is blocked",
    )
    .await;
    assert_accepted(cb, &deposit_of(&b, "b-1", "100.00", "m-a")).await;
    for (client, creds) in [(ca, &a), (cb, &b)] {
        assert_refused(
            client,
            &deposit_of(creds, "all-1", "100.00", "m-all"),
            "Rejected: member id is blocked",
        )
        .await;
    }

    // The listings by scope.
    let of_a = blocklist(&app, &["--merchant", &a.merchant_uid]);
    assert!(
        of_a.iter()
            .any(|e| e["value"] == "m-a" && e["merchant"] == a.merchant_uid.as_str()),
        "{of_a:?}"
    );
    let wide = blocklist(&app, &["--operator-wide"]);
    assert_eq!(
        wide.iter().map(|e| e["value"].clone()).collect::<Vec<_>>(),
        vec![json!("m-all")],
        "only the operator-wide entry: {wide:?}"
    );

    // A's entry is not an operator-wide one: removing it needs --merchant.
    let (ok, _, _) = octopus_result(
        &app,
        &[
            "blocklist",
            "remove",
            "--kind",
            "member_id",
            "--value",
            "m-a",
        ],
    );
    assert!(!ok, "there is no operator-wide entry m-a");
    octopus(
        &app,
        &[
            "blocklist",
            "remove",
            "--kind",
            "member_id",
            "--value",
            "M-A",
            "--merchant",
            &a.merchant_uid,
        ],
    );
    assert_accepted(ca, &deposit_of(&a, "a-2", "100.00", "m-a")).await;
}

/// `blocklist list` without a filter shows every entry, a merchant's with its merchant's uid
/// (so it cannot be mistaken for an operator-wide one).
async fn the_full_listing_names_each_entrys_merchant(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.merchant.clone();
    block(&app, "member_id", "m-a", &["--merchant", &a.merchant_uid]);
    block(&app, "member_id", "m-all", &[]);
    let all = blocklist(&app, &[]);
    let merchant_of = |value: &str| {
        all.iter()
            .find(|e| e["value"] == value)
            .unwrap_or_else(|| panic!("{value} is listed: {all:?}"))["merchant"]
            .clone()
    };
    assert_eq!(merchant_of("m-all"), json!(""), "operator-wide");
    assert_eq!(
        merchant_of("m-a"),
        json!(a.merchant_uid),
        "a merchant's entry in the full listing: {all:?}"
    );
}

/// An entry added with `--expires-in` refuses orders until then and not after; a refused
/// order keeps its answer after the entry is gone.
async fn an_entry_ends_when_it_expires(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    // 2 s rather than 1 s: the first order must arrive before the end even on a loaded
    // machine (the command's own start and exit come in between).
    let entry = block(&app, "member_id", "short-lived", &["--expires-in", "2s"]);
    let expires_at = entry["expires_at"]
        .as_str()
        .expect("an expiry time")
        .to_string();
    let first = deposit_of(&m, "exp-0", "100.00", "short-lived");
    assert_refused(c, &first, "Rejected: member id is blocked").await;

    // Polled with new orders until one is taken; that must be after the expiry time.
    let deadline = Instant::now() + WAIT;
    let mut n = 1;
    loop {
        let order = deposit_of(&m, &format!("exp-{n}"), "100.00", "short-lived");
        let (status, body) = send(c, &order).await;
        if status == 200 {
            let seen_at = rfc3339(now_ms());
            assert!(
                seen_at >= expires_at,
                "taken at {seen_at}, before the entry's end {expires_at}"
            );
            break;
        }
        assert_eq!(
            (status, body),
            (
                422,
                json!({"result": "error", "data": "Rejected: member id is blocked"})
            )
        );
        assert!(
            Instant::now() < deadline,
            "still refused {WAIT:?} after an entry of 2 s"
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The order refused while the entry held is still refused: the same request, the same answer.
    assert_refused(c, &first, "Rejected: member id is blocked").await;
}

// ---------------------------------------------------------------------------------------------
// What a refusal is
// ---------------------------------------------------------------------------------------------

/// A refused order is answered 422, stored as `reject` with the reason and no channel, found
/// by order/get, answered the same on a retry (a retry with other parameters is a conflict),
/// and holds nothing; an order created before the entry is still its retry's answer.
async fn a_refusal_is_stored_answered_again_and_moves_no_money(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    app.fund(&m, "thb", "1000.00").await;
    let before = app.balance(&m, "thb").await;
    assert_eq!(before, (d("1000"), Decimal::ZERO));

    block(&app, "payee_account", "1234567890", &[]);
    let blocked = payout(&m, "refused-out", "500.00", "1234567890");
    let (status, body) = send(c, &blocked).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"result": "error", "data": "Rejected: payee account is blocked"})
    );

    let stored = c
        .get_order("refused-out")
        .await
        .expect("order/get finds it");
    assert_eq!(stored.payment_status, "reject");
    assert_eq!(
        stored.payment_fail_reason,
        "Rejected: payee account is blocked"
    );
    assert_eq!(stored.channel, "");
    assert_eq!(stored.transaction_type, "expense");
    assert_eq!(
        (stored.amount.as_str(), stored.to.as_str()),
        ("500.00", "1234567890")
    );

    // The retry hears the same; the stored order is the same one.
    assert_refused(c, &blocked, "Rejected: payee account is blocked").await;
    assert_eq!(
        c.get_order("refused-out").await.unwrap().payment_uid,
        stored.payment_uid
    );
    // The id is taken: other parameters under it are a conflict, not a new order.
    let mut changed = blocked.clone();
    changed.to = Some("1234567891".into());
    let (status, _) = send(c, &changed).await;
    assert_eq!(status, 409, "a refused merchant_order_id cannot be reused");

    // Nothing held or spent.
    assert_eq!(app.balance(&m, "thb").await, before);

    // An order created before its member was blocked: its retry gets it, a new one is refused.
    let early = deposit_of(&m, "before-entry", "100.00", "late-block");
    let created = assert_accepted(c, &early).await;
    block(&app, "member_id", "late-block", &[]);
    let retried = assert_accepted(c, &early).await;
    assert_eq!(retried.payment_uid, created.payment_uid);
    assert_eq!(retried.payment_status, "pending");
    assert_refused(
        c,
        &deposit_of(&m, "after-entry", "100.00", "late-block"),
        "Rejected: member id is blocked",
    )
    .await;
    app.assert_ledger_sound().await;
}

// ---------------------------------------------------------------------------------------------
// The blocklist commands
// ---------------------------------------------------------------------------------------------

/// `blocklist list` shows what an operator needs (kind, normalized value, reason, author,
/// expiry); `remove` lifts an entry (named as it was written or otherwise).
async fn the_blocklist_is_listed_and_an_entry_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    octopus(
        &app,
        &[
            "blocklist",
            "add",
            "--kind",
            "member_id",
            "--value",
            "User 42",
            "--reason",
            "chargebacks",
            "--expires-in",
            "24h",
            "--by",
            "alice",
        ],
    );
    octopus(
        &app,
        &[
            "blocklist",
            "add",
            "--kind",
            "payer_name",
            "--value",
            "John  DOE",
            "--reason",
            "stolen card",
            "--merchant",
            &m.merchant_uid,
            "--by",
            "bob",
        ],
    );
    let day_from_now = rfc3339(now_ms() + 86_400_000);
    let listed = blocklist(&app, &[]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let member = listed.iter().find(|e| e["kind"] == "member_id").unwrap();
    assert_eq!(
        (&member["value"], &member["reason"], &member["author"]),
        (&json!("user42"), &json!("chargebacks"), &json!("alice"))
    );
    let expires = member["expires_at"].as_str().expect("an expiry");
    assert!(
        expires <= day_from_now.as_str() && expires > rfc3339(now_ms() + 86_000_000).as_str(),
        "24 h from its adding: {expires}"
    );
    let name = listed.iter().find(|e| e["kind"] == "payer_name").unwrap();
    assert_eq!(
        (&name["value"], &name["reason"], &name["author"]),
        (&json!("john doe"), &json!("stolen card"), &json!("bob"))
    );
    assert_eq!(name["expires_at"], Value::Null, "no expiry");

    assert_refused(
        c,
        &deposit_of(&m, "rm-0", "100.00", "user42"),
        "Rejected: member id is blocked",
    )
    .await;
    let removed = octopus(
        &app,
        &[
            "blocklist",
            "remove",
            "--kind",
            "member_id",
            "--value",
            "USER 42",
        ],
    );
    assert!(removed.contains(r#""removed":true"#), "{removed}");
    assert_accepted(c, &deposit_of(&m, "rm-1", "100.00", "user42")).await;
    assert!(blocklist(&app, &[])
        .iter()
        .all(|e| e["kind"] != "member_id"));
    let (ok, _, _) = octopus_result(
        &app,
        &[
            "blocklist",
            "remove",
            "--kind",
            "member_id",
            "--value",
            "user42",
        ],
    );
    assert!(!ok, "removing it again is refused");
}

/// `blocklist import FILE` adds every line of a CSV (header kind,value,reason,merchant,
/// expires_in; quoted fields); a file with one bad line adds none and names that line.
async fn a_csv_import_adds_all_lines_or_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    let dir = tempfile::tempdir().unwrap();

    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "kind,value,reason,merchant,expires_in\n\
             member_id,Bad Guy,fraud,,\n\
             payer_account,0164-223-4663,\"mule, reported twice\",{uid},7d\n\
             ip,203.0.113.7/24,botnet,,1h\n",
            uid = m.merchant_uid
        ),
    )
    .unwrap();
    let printed = octopus(
        &app,
        &[
            "blocklist",
            "import",
            good.to_str().unwrap(),
            "--by",
            "importer",
        ],
    );
    assert!(printed.contains(r#""imported":3"#), "{printed}");
    let listed = blocklist(&app, &[]);
    let mut values: Vec<(String, String)> = listed
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![
            ("ip".to_string(), "203.0.113.0/24".to_string()),
            ("member_id".to_string(), "badguy".to_string()),
            ("payer_account".to_string(), "01642234663".to_string()),
        ]
    );
    let account = listed
        .iter()
        .find(|e| e["kind"] == "payer_account")
        .unwrap();
    assert_eq!(account["reason"], "mule, reported twice");
    assert_eq!(account["author"], "importer");
    assert!(account["expires_at"].is_string(), "{account}");
    assert_eq!(
        blocklist(&app, &["--merchant", &m.merchant_uid])
            .iter()
            .filter(|e| e["value"] == "01642234663")
            .count(),
        1,
        "the line's merchant owns it"
    );
    assert_refused(
        c,
        &deposit_of(&m, "imp-0", "100.00", "badguy"),
        "Rejected: member id is blocked",
    )
    .await;
    let mut from = deposit(&m, "imp-1");
    from.from = Some("01642234663".into());
    assert_refused(c, &from, "Rejected: payer account is blocked").await;

    // One bad line (line 4 of the file, after a blank line): nothing of the file is added.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "kind,value,reason\n\
         member_id,fine-one,would be fine\n\
         \n\
         phone,12345,no such kind\n\
         member_id,fine-two,would be fine\n",
    )
    .unwrap();
    let (ok, out, err) = octopus_result(&app, &["blocklist", "import", bad.to_str().unwrap()]);
    assert!(!ok, "a bad file is refused: {out}");
    assert!(err.contains("line 4"), "names the line: {err}");
    assert!(err.contains("phone"), "says what is wrong: {err}");
    assert_eq!(blocklist(&app, &[]).len(), 3, "nothing of the bad file");
    assert_accepted(c, &deposit_of(&m, "imp-2", "100.00", "fine-one")).await;
}

// ---------------------------------------------------------------------------------------------
// Velocity rules
// ---------------------------------------------------------------------------------------------

/// At most two deposits per member id per hour: the third of a member is refused, another
/// member and the member's payouts are not; orders refused by a blocklist do not count; the
/// rule is the merchant's alone and lifts when removed. A payer-account rule counts by `from`.
async fn a_velocity_rule_limits_a_members_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let b = app.new_merchant("B").await;
    let (c, cb) = (&app.client, &app.client_for(&b));
    app.fund(&m, "thb", "1000.00").await;
    let rule = velocity(
        &app,
        &m,
        &[
            "--subject",
            "member_id",
            "--type",
            "deposit",
            "--window",
            "1h",
            "--max-orders",
            "2",
        ],
    );
    let listed = json_lines(&octopus(&app, &["velocity", "list"]));
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            &listed[0]["subject"],
            &listed[0]["type"],
            &listed[0]["window_seconds"],
            &listed[0]["max_orders"]
        ),
        (
            &json!("member_id"),
            &json!("deposit"),
            &json!(3600),
            &json!(2)
        )
    );

    // A refusal by the blocklist first: it does not count.
    block(&app, "payer_name", "Blocked Payer", &[]);
    let mut refused = deposit_of(&m, "v-0", "100.00", "v1");
    refused.from_name = Some("Blocked Payer".into());
    assert_refused(c, &refused, "Rejected: payer name is blocked").await;

    assert_accepted(c, &deposit_of(&m, "v-1", "100.00", "v1")).await;
    assert_accepted(c, &deposit_of(&m, "v-2", "100.00", "v1")).await;
    assert_refused(
        c,
        &deposit_of(&m, "v-3", "100.00", "v1"),
        "Rejected: too many orders for this member id",
    )
    .await;
    let stored = c.get_order("v-3").await.unwrap();
    assert_eq!(
        (
            stored.payment_status.as_str(),
            stored.payment_fail_reason.as_str()
        ),
        ("reject", "Rejected: too many orders for this member id")
    );
    // Refusals do not count either: still refused, not more so.
    assert_refused(
        c,
        &deposit_of(&m, "v-4", "100.00", "v1"),
        "Rejected: too many orders for this member id",
    )
    .await;
    assert_accepted(c, &deposit_of(&m, "v-other", "100.00", "v2")).await;
    let mut member_payout = payout(&m, "v-payout", "10.00", "1234567890");
    member_payout.member_id = Some("v1".into());
    assert_accepted(c, &member_payout).await;
    for n in 1..=3 {
        assert_accepted(cb, &deposit_of(&b, &format!("vb-{n}"), "100.00", "v1")).await;
    }

    // By payer account, deposits and payouts alike: one order per `from`.
    velocity(
        &app,
        &m,
        &[
            "--subject",
            "payer_account",
            "--window",
            "30m",
            "--max-orders",
            "1",
        ],
    );
    let mut first = deposit(&m, "va-1");
    first.from = Some("0811111111".into());
    assert_accepted(c, &first).await;
    let mut second = deposit(&m, "va-2");
    second.from = Some("0811111111".into());
    assert_refused(
        c,
        &second,
        "Rejected: too many orders for this payer account",
    )
    .await;

    let removed = octopus(&app, &["velocity", "remove", &rule.to_string()]);
    assert!(removed.contains(r#""removed":true"#), "{removed}");
    assert_accepted(c, &deposit_of(&m, "v-5", "100.00", "v1")).await;
}

/// At most 100.00 thb of deposits per member id per hour: an order that would go over is
/// refused and does not count, so a smaller one that fits is taken; other currencies are not
/// the rule's.
async fn a_volume_rule_counts_amounts_and_not_refused_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    velocity(
        &app,
        &m,
        &[
            "--subject",
            "member_id",
            "--type",
            "deposit",
            "--window",
            "1h",
            "--max-volume",
            "100",
            "--currency",
            "thb",
        ],
    );
    let over = "Rejected: too much volume for this member id";
    assert_accepted(c, &deposit_of(&m, "vol-1", "60.00", "vol")).await;
    assert_refused(c, &deposit_of(&m, "vol-2", "50.00", "vol"), over).await;
    // 60 + 40 is the limit itself, which is allowed; the refused 50 is not counted.
    assert_accepted(c, &deposit_of(&m, "vol-3", "40.00", "vol")).await;
    assert_refused(c, &deposit_of(&m, "vol-4", "0.01", "vol"), over).await;
    assert_accepted(c, &deposit_of(&m, "vol-5", "100.00", "other")).await;
    let mut usd = NewOrder::deposit(&m.merchant_uid, "vol-usd", "500.00", "usd", "bank", "US");
    usd.member_id = Some("vol".into());
    assert_accepted(c, &usd).await;
}

/// Orders of one member sent all at once, as a bot or a retry storm sends them: a rule of
/// three deposits and one of two payouts take exactly that many, however the orders are
/// grouped where they are written (plain and floating-amount deposits take different paths on
/// PostgreSQL); the refused payouts hold nothing.
async fn a_rule_holds_exactly_when_a_members_orders_arrive_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    app.fund(&m, "thb", "1000.00").await;
    // Two rules on the member's deposits (the orders count once for each), one on its payouts.
    for (kind, window, max) in [
        ("deposit", "1h", "3"),
        ("deposit", "1d", "20"),
        ("payout", "1h", "2"),
    ] {
        velocity(
            &app,
            &m,
            &[
                "--subject",
                "member_id",
                "--type",
                kind,
                "--window",
                window,
                "--max-orders",
                max,
            ],
        );
    }
    let deposits: Vec<NewOrder> = (0..16)
        .map(|n| {
            let mut order = deposit_of(&m, &format!("burst-{n}"), "100.00", "burst");
            if n % 2 == 1 {
                order.float_precision = Some("2".into());
            }
            order
        })
        .collect();
    let payouts: Vec<NewOrder> = (0..12)
        .map(|n| {
            let mut order = payout(&m, &format!("burst-out-{n}"), "10.00", "1234567890");
            order.member_id = Some("burst".into());
            order
        })
        .collect();
    let sent = futures::future::join_all(deposits.iter().chain(&payouts).map(|o| send(c, o))).await;
    let (sent_deposits, sent_payouts) = sent.split_at(deposits.len());
    for (answers, taken, reason) in [
        (
            sent_deposits,
            3,
            "Rejected: too many orders for this member id",
        ),
        (
            sent_payouts,
            2,
            "Rejected: too many orders for this member id",
        ),
    ] {
        let accepted = answers.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(accepted, taken, "{answers:?}");
        for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
            assert_eq!(
                (*status, body),
                (422, &json!({"result": "error", "data": reason}))
            );
        }
    }
    // Stored as answered: the refused ones `reject` with no channel, and only the two
    // accepted payouts took money (amount and fee, held or already paid out).
    let mut rejected = 0;
    let mut taken = Decimal::ZERO;
    for order in deposits.iter().chain(&payouts) {
        let stored = c.get_order(&order.merchant_order_id).await.unwrap();
        if stored.payment_status == "reject" {
            assert_eq!(stored.channel, "", "{}", order.merchant_order_id);
            rejected += 1;
        } else if stored.transaction_type == "expense" {
            taken += d(&stored.amount) + d(&stored.fee);
        }
    }
    assert_eq!(rejected, (16 - 3) + (12 - 2));
    assert!(taken >= d("20.00"));
    let (available, held) = app.balance(&m, "thb").await;
    assert_eq!(
        d("1000.00") - available,
        taken,
        "refused payouts hold nothing"
    );
    assert!(held <= taken);

    // Retries once the limit is reached, all at once with one new order of the member: an
    // accepted order comes back as itself, a refused one is refused again, the new one is
    // refused.
    let fresh = deposit_of(&m, "burst-new", "100.00", "burst");
    let again: Vec<&NewOrder> = deposits.iter().chain(&payouts).chain([&fresh]).collect();
    let answers = futures::future::join_all(again.iter().map(|o| send(c, o))).await;
    for ((order, (status, body)), (first_status, first_body)) in
        again.iter().zip(&answers).zip(&sent)
    {
        assert_eq!(status, first_status, "{}: {body}", order.merchant_order_id);
        if *status == 200 {
            let uid = &body["data"]["payment"]["payment_uid"];
            assert!(uid.is_string(), "{body}");
            assert_eq!(
                uid, &first_body["data"]["payment"]["payment_uid"],
                "{}",
                order.merchant_order_id
            );
        } else {
            assert_eq!(body, first_body, "{}", order.merchant_order_id);
        }
    }
    assert_eq!(
        answers.last().unwrap(),
        &(
            422,
            json!({"result": "error", "data": "Rejected: too many orders for this member id"})
        )
    );
    app.assert_ledger_sound().await;
}

/// Orders written together (one group insert on PostgreSQL, one group commit on SQLite) are
/// counted one after the other, once each whatever the number of rules on the subject: of ten
/// deposits of a member submitted to storage at once with one already stored (and a retry of
/// it, which counts nothing), a rule of three takes two.
async fn orders_written_together_are_counted_one_after_the_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    for (window, max) in [("1h", "3"), ("1d", "50")] {
        velocity(
            &app,
            &m,
            &[
                "--subject",
                "member_id",
                "--window",
                window,
                "--max-orders",
                max,
            ],
        );
    }
    let first = assert_accepted(&app.client, &deposit_of(&m, "g-0", "100.00", "g")).await;
    let storage = app.storage();
    let template = storage
        .order_by_payment_uid(&first.payment_uid)
        .await
        .unwrap()
        .unwrap();
    let rules = storage.velocity_rules().await.unwrap();
    // A retry of the stored order first: answered with it, counted for nothing.
    let retry = template.clone();
    let orders: Vec<_> = (1..=10)
        .map(|n| {
            let mut order = template.clone();
            order.id = 0;
            order.payment_uid = octopus_domain::ids::new_payment_uid(now_ms());
            order.merchant_order_id = format!("g-{n}");
            order
        })
        .collect();
    let mut written = futures::future::join_all(
        std::iter::once(retry)
            .chain(orders)
            .map(|o| storage.create_order_counted(o, Vec::new(), rules.clone())),
    )
    .await;
    match written.remove(0).unwrap() {
        octopus_storage::CreateOutcome::Existing(o) => assert_eq!(o.payment_uid, first.payment_uid),
        created => panic!("the retry is the stored order: {created:?}"),
    }
    let mut outcome: Vec<String> = written
        .into_iter()
        .map(|w| match w.unwrap() {
            octopus_storage::CreateOutcome::Created(o) => {
                format!("{} {}", o.payment_status.as_str(), o.payment_fail_reason)
            }
            existing => panic!("nothing existed: {existing:?}"),
        })
        .collect();
    outcome.sort();
    outcome.dedup();
    let stored: Vec<String> = {
        let mut all = Vec::new();
        for n in 1..=10 {
            let o = app.client.get_order(&format!("g-{n}")).await.unwrap();
            all.push(o.payment_status);
        }
        all
    };
    assert_eq!(
        stored.iter().filter(|s| *s == "pending").count(),
        2,
        "{stored:?}"
    );
    assert_eq!(
        stored.iter().filter(|s| *s == "reject").count(),
        8,
        "{stored:?}"
    );
    assert_eq!(
        outcome,
        vec![
            "pending ".to_string(),
            "reject Rejected: too many orders for this member id".to_string()
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Payout review
// ---------------------------------------------------------------------------------------------

/// A payout above the threshold waits in `preparing` holding its money, listed for review,
/// while one under it goes straight on; approved, it is sent (the sandbox completes it), the
/// hold settles and the merchant is called back. A second decision is refused.
async fn a_payout_in_review_is_approved_then_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    let receiver = Receiver::start(vec![], Reply::Success).await;
    app.fund(&m, "thb", "10000.00").await;
    review(&app, "thb", "1000", &[]);

    let mut big = payout(&m, "rv-big", "1500.00", "1234567890");
    big.notify_url = Some(receiver.url.clone());
    let held = assert_accepted(c, &big).await;
    assert_eq!(held.payment_status, "preparing");
    assert_eq!(held.channel, "sandbox");
    assert_eq!(held.fee, "0.00");
    assert_eq!(app.balance(&m, "thb").await, (d("8500"), d("1500")));

    let mut small = payout(&m, "rv-small", "1000.00", "1234567891");
    small.notify_url = Some(receiver.url.clone());
    let straight = assert_accepted(c, &small).await;
    assert_eq!(
        straight.payment_status, "pending",
        "at the threshold: not above it"
    );
    app.wait_for_status(c, "rv-small", "completed", WAIT).await;
    // The small payout, created after the big one, is done: the big one would be too, had
    // it not waited.
    assert_eq!(
        c.get_order("rv-big").await.unwrap().payment_status,
        "preparing"
    );
    assert_eq!(app.balance(&m, "thb").await, (d("7500"), d("1500")));

    let waiting = in_review(&app);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (
            &waiting[0]["payment_uid"],
            &waiting[0]["merchant_order_id"],
            &waiting[0]["amount"],
            &waiting[0]["to"],
            &waiting[0]["test"]
        ),
        (
            &json!(held.payment_uid),
            &json!("rv-big"),
            &json!("1500.00"),
            &json!("1234567890"),
            &json!(true)
        )
    );

    let (ok, printed) = decide(&app, "approve", &held.payment_uid, "known customer");
    assert!(ok, "{printed}");
    assert!(
        printed.contains(r#""payment_status":"pending""#),
        "{printed}"
    );
    let done = app.wait_for_status(c, "rv-big", "completed", WAIT).await;
    assert_eq!(done.accounting_status, "accounted");
    assert_eq!(app.balance(&m, "thb").await, (d("7500"), Decimal::ZERO));
    let called = callback_of(&receiver, "rv-big", "completed").await;
    assert_eq!(called["amount"], "1500.00");
    assert!(in_review(&app).is_empty());
    let events = app.storage().order_events(&held.payment_uid).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.reason.contains("reviewer") && e.reason.contains("known customer")),
        "the history says who approved and why: {events:?}"
    );

    let (ok, err) = decide(&app, "approve", &held.payment_uid, "again");
    assert!(!ok, "approved twice");
    assert!(err.contains("not a payout waiting for review"), "{err}");
    let (ok, _) = decide(&app, "reject", &held.payment_uid, "too late");
    assert!(!ok, "rejected after approval");
    assert_eq!(
        c.get_order("rv-big").await.unwrap().payment_status,
        "completed"
    );
    let (ok, _) = decide(&app, "approve", &straight.payment_uid, "never in review");
    assert!(!ok, "a payout that never waited cannot be approved");
    app.assert_ledger_sound().await;
}

/// Rejected in review, a payout becomes `reject` with "Rejected: <reason>", its hold goes
/// back, the merchant is called back; a retry gets that order, and no decision follows.
async fn a_payout_in_review_is_rejected_and_its_hold_released(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let c = &app.client;
    let receiver = Receiver::start(vec![], Reply::Success).await;
    app.fund(&m, "thb", "10000.00").await;
    review(&app, "thb", "1000", &[]);

    let mut big = payout(&m, "rj-big", "2000.00", "1234567890");
    big.notify_url = Some(receiver.url.clone());
    let held = assert_accepted(c, &big).await;
    assert_eq!(held.payment_status, "preparing");
    assert_eq!(app.balance(&m, "thb").await, (d("8000"), d("2000")));

    let (ok, printed) = decide(&app, "reject", &held.payment_uid, "payee unverified");
    assert!(ok, "{printed}");
    let printed: Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(
        (&printed["payment_status"], &printed["payment_fail_reason"]),
        (&json!("reject"), &json!("Rejected: payee unverified"))
    );
    assert_eq!(
        app.balance(&m, "thb").await,
        (d("10000"), Decimal::ZERO),
        "the hold came back"
    );
    let called = callback_of(&receiver, "rj-big", "reject").await;
    assert_eq!(called["payment_fail_reason"], "Rejected: payee unverified");
    assert_eq!(called["transaction_type"], "expense");

    let stored = c.get_order("rj-big").await.unwrap();
    assert_eq!(
        (
            stored.payment_status.as_str(),
            stored.payment_fail_reason.as_str()
        ),
        ("reject", "Rejected: payee unverified")
    );
    let retried = assert_accepted(c, &big).await;
    assert_eq!(
        (
            retried.payment_uid.as_str(),
            retried.payment_status.as_str()
        ),
        (held.payment_uid.as_str(), "reject")
    );
    assert!(in_review(&app).is_empty());
    assert!(!decide(&app, "reject", &held.payment_uid, "again").0);
    assert!(!decide(&app, "approve", &held.payment_uid, "after all").0);
    assert_eq!(app.balance(&m, "thb").await, (d("10000"), Decimal::ZERO));
    app.assert_ledger_sound().await;
}

/// A merchant's threshold replaces the operator-wide one, higher or lower; cleared, the
/// operator-wide one applies again.
async fn a_merchant_threshold_replaces_the_operator_wide_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.merchant.clone();
    let b = app.new_merchant("B").await;
    let (ca, cb) = (&app.client, &app.client_for(&b));
    app.fund(&a, "thb", "20000.00").await;
    app.fund(&b, "thb", "20000.00").await;
    review(&app, "thb", "1000", &[]);
    review(&app, "thb", "5000", &["--merchant", &a.merchant_uid]);
    review(&app, "thb", "100", &["--merchant", &b.merchant_uid]);
    let thresholds = json_lines(&octopus(&app, &["review", "list"]));
    assert_eq!(thresholds.len(), 3, "{thresholds:?}");

    let status = |p: Payment| p.payment_status;
    assert_eq!(
        status(assert_accepted(ca, &payout(&a, "a-2000", "2000.00", "1234567890")).await),
        "pending",
        "under A's own 5000"
    );
    assert_eq!(
        status(assert_accepted(ca, &payout(&a, "a-6000", "6000.00", "1234567890")).await),
        "preparing"
    );
    assert_eq!(
        status(assert_accepted(cb, &payout(&b, "b-500", "500.00", "1234567890")).await),
        "preparing",
        "above B's own 100, under the operator-wide 1000"
    );

    octopus(
        &app,
        &[
            "review",
            "clear",
            "--currency",
            "thb",
            "--merchant",
            &a.merchant_uid,
        ],
    );
    assert_eq!(
        status(assert_accepted(ca, &payout(&a, "a-2000-again", "2000.00", "1234567890")).await),
        "preparing",
        "the operator-wide 1000 again"
    );
    let waiting: Vec<Value> = in_review(&app)
        .into_iter()
        .map(|p| p["merchant_order_id"].clone())
        .collect();
    assert_eq!(
        waiting,
        vec![json!("a-6000"), json!("b-500"), json!("a-2000-again")],
        "oldest first"
    );
    app.wait_for_status(ca, "a-2000", "completed", WAIT).await;
}

// ---------------------------------------------------------------------------------------------
// The live book
// ---------------------------------------------------------------------------------------------

/// Blocklists, velocity rules and review thresholds are the merchant's, whichever key: they
/// apply to its live orders on a real channel (Paykassma) too, with the live book's orders
/// counted apart from the test book's; an approved live payout is sent to the upstream.
async fn the_rules_apply_to_the_live_book_counted_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    let (test, live) = (app.merchant.clone(), app.live.clone());
    let (ct, cl) = (&app.client, &app.live_client);
    let pk = PkSim::start(&app, "pk-mm", 10).await;
    app.fund(&live, "mmk", "20000.00").await;

    block(
        &app,
        "member_id",
        "Live Member",
        &["--merchant", &live.merchant_uid],
    );
    assert_refused(
        cl,
        &wavepay_of(&live, "live-blocked", "livemember"),
        "Rejected: member id is blocked",
    )
    .await;
    assert_refused(
        ct,
        &deposit_of(&test, "test-blocked", "100.00", "livemember"),
        "Rejected: member id is blocked",
    )
    .await;
    let other = app.new_merchant_books("Other").await.1;
    let elsewhere = assert_accepted(
        &app.client_for(&other),
        &wavepay_of(&other, "other-live", "livemember"),
    )
    .await;
    assert_eq!(
        elsewhere.channel, "pk-mm",
        "the entry is the first merchant's only"
    );

    velocity(
        &app,
        &live,
        &[
            "--subject",
            "member_id",
            "--type",
            "deposit",
            "--window",
            "1h",
            "--max-orders",
            "1",
        ],
    );
    assert_accepted(ct, &deposit_of(&test, "test-once", "100.00", "twice")).await;
    let on_pk = assert_accepted(cl, &wavepay_of(&live, "live-once", "twice")).await;
    assert_eq!(on_pk.channel, "pk-mm", "counted apart from the test book");
    let calls = pk.state()["calls"].as_array().unwrap().len();
    assert_refused(
        cl,
        &wavepay_of(&live, "live-twice", "twice"),
        "Rejected: too many orders for this member id",
    )
    .await;
    assert_eq!(
        pk.state()["calls"].as_array().unwrap().len(),
        calls,
        "a deposit over a rule starts nothing upstream"
    );

    review(&app, "mmk", "5000", &[]);
    let held = assert_accepted(cl, &wavepay_payout(&live, "live-big", "6000.00")).await;
    assert_eq!(
        (held.payment_status.as_str(), held.channel.as_str()),
        ("preparing", "pk-mm")
    );
    assert_eq!(app.balance(&live, "mmk").await, (d("14000"), d("6000")));
    assert!(
        pk.state()["withdrawals"].as_array().unwrap().is_empty(),
        "not sent while in review"
    );
    let (ok, printed) = decide(&app, "approve", &held.payment_uid, "");
    assert!(ok, "{printed}");
    let sent = app
        .wait_for_status(cl, "live-big", "processing", WAIT)
        .await;
    assert_eq!(sent.channel, "pk-mm");
    assert_eq!(
        pk.state()["withdrawals"][0]["withdrawal_id"],
        held.payment_uid.as_str()
    );
    assert!(pk.sim.finish_withdrawal(&held.payment_uid, 1));
    app.wait_for_status(cl, "live-big", "completed", WAIT).await;
    assert_eq!(app.balance(&live, "mmk").await, (d("14000"), Decimal::ZERO));
    app.assert_ledger_sound().await;
}

/// An approved payout that the upstream refuses outright (here: more than its balance) fails
/// with the upstream's reason and its hold comes back, as the same payout sent at creation
/// does (`paykassma::insufficient_upstream_balance_fails_the_payout`): it was never sent
/// before, so the refusal is certain.
async fn an_approved_payout_the_upstream_refuses_fails_and_releases_its_hold(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = app.live.clone();
    let cl = &app.live_client;
    let _pk = PkSim::start(&app, "pk-mm", 10).await;
    app.fund(&live, "mmk", "1000000000.00").await;
    review(&app, "mmk", "1000", &[]);
    let held = assert_accepted(cl, &wavepay_payout(&live, "live-huge", "200000000.00")).await;
    assert_eq!(held.payment_status, "preparing");
    assert!(decide(&app, "approve", &held.payment_uid, "checked").0);

    // Once the worker has sent it, it is no longer pending.
    let deadline = Instant::now() + WAIT;
    let after = loop {
        let order = cl.get_order("live-huge").await.unwrap();
        if order.payment_status != "pending" {
            break order;
        }
        assert!(Instant::now() < deadline, "never sent after approval");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (
            after.payment_status.as_str(),
            after.payment_fail_reason.as_str()
        ),
        ("failed", "Insufficient balance"),
        "the refusal of a payout sent for the first time is certain"
    );
    assert_eq!(
        app.balance(&live, "mmk").await,
        (d("1000000000"), Decimal::ZERO)
    );
    app.assert_ledger_sound().await;
}

crate::on_both_backends!(
    each_blocklist_kind_refuses_its_matching_order_and_no_other,
    ip_entries_refuse_orders_from_their_network,
    merchant_entries_stop_their_merchant_and_operator_wide_ones_everyone,
    the_full_listing_names_each_entrys_merchant,
    an_entry_ends_when_it_expires,
    a_refusal_is_stored_answered_again_and_moves_no_money,
    the_blocklist_is_listed_and_an_entry_removed,
    a_csv_import_adds_all_lines_or_none,
    a_velocity_rule_limits_a_members_orders,
    a_volume_rule_counts_amounts_and_not_refused_orders,
    a_rule_holds_exactly_when_a_members_orders_arrive_at_once,
    orders_written_together_are_counted_one_after_the_other,
    a_payout_in_review_is_approved_then_sent,
    a_payout_in_review_is_rejected_and_its_hold_released,
    a_merchant_threshold_replaces_the_operator_wide_one,
    the_rules_apply_to_the_live_book_counted_apart,
    an_approved_payout_the_upstream_refuses_fails_and_releases_its_hold,
);
