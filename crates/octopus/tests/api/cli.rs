//! The `octopus` binary as operators and merchant developers use it: `serve --dev` prints a
//! demo merchant and a request that works when pasted, `order new|get` talk to a running
//! gateway, `bench` measures it, and a server refuses a master key that is not its database's.

use std::time::Duration;

use octopus_client::Client;

use crate::helpers::{command, db_args, merchant_create, Backend, ServerProcess, TestDb};

fn value_after<'a>(lines: &'a [String], label: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in {lines:?}"))
}

async fn dev_mode_prints_a_demo_merchant_and_a_request_that_works(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let server = ServerProcess::start(&db, &["--dev"]);
    let lines = server.wait_for_output("octopus order new");
    let (uid, key, secret) = (
        value_after(&lines, "merchant_uid"),
        value_after(&lines, "test api_key"),
        value_after(&lines, "test api_secret"),
    );
    // The printed curl request, pasted as it is: its signature and body.
    let signature = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("-H 'OC-Signature: "))
        .map(|s| s.trim_end_matches(['\\', ' ', '\'']))
        .expect("an OC-Signature header line");
    let body = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("-d '"))
        .map(|s| s.trim_end_matches('\''))
        .expect("a -d body line");
    assert!(body.contains(uid));
    // The operator it printed signs in with the one-time password.
    let password = lines
        .iter()
        .find_map(|l| l.split("one-time password ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the dev operator's one-time password is printed");
    let signed = reqwest::Client::new()
        .post(format!("{}/octopus/admin/v1/session", server.url))
        .json(&serde_json::json!({"email": "admin@octopus.local", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let me: serde_json::Value = signed.json().await.unwrap();
    assert_eq!(me["data"]["operator"]["role"], "admin");
    let client = Client::new(&server.url, key, secret);
    let answer = client
        .post_raw("/octopus/api/order/new", body.to_string(), key, signature)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["data"]["payment"]["merchant_name"],
        "Demo Merchant"
    );

    // The demo Paykassma channel, through the simulator the server started, end to end.
    let sim_url = lines
        .iter()
        .find_map(|l| l.split("Paykassma simulator at ").nth(1))
        .expect("the simulator's address is printed")
        .trim()
        .to_string();
    // `--dev` stores the demo channel once the server listens (its postback URL needs the
    // address), so the server routes to it from its next reading of the channels.
    crate::helpers::wait_for_channel(&server.url, "pk-demo").await;
    // Real channels take the live key, which is printed too.
    let client = Client::new(
        &server.url,
        value_after(&lines, "live api_key"),
        value_after(&lines, "live api_secret"),
    );
    let wavepay =
        octopus_client::NewOrder::deposit(uid, "dev-pk", "6000.00", "mmk", "wavepay", "myanmar");
    let created = client.create_order(&wavepay).await.unwrap();
    assert_eq!(created.payment.channel, "pk-demo");
    let http = crate::helpers::http();
    let r = http
        .post(format!("{sim_url}/sim/transfers"))
        .json(&serde_json::json!({"transaction_id": "TX1", "amount": 6000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = crate::helpers::page_token(&created.payment_url).await;
    let page = http
        .post(format!("{}/confirm", created.payment_url))
        .form(&[("transaction_id", "TX1"), ("token", &token)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Payment received"), "{page}");
    assert_eq!(
        client.get_order("dev-pk").await.unwrap().payment_status,
        "completed"
    );

    // The demo channel of own accounts: a Thai PromptPay deposit, paid by the printed
    // device command, run as printed.
    crate::helpers::wait_for_channel(&server.url, "own-demo").await;
    let at = lines
        .iter()
        .position(|l| l.contains("promptpay thb account"))
        .expect("the PromptPay account is printed");
    let device_line = lines[at + 1..]
        .iter()
        .find(|l| l.contains("octopus device report"))
        .expect("how its device reports a transfer is printed");
    let words: Vec<&str> = device_line.split_whitespace().collect();
    let after = |flag: &str| {
        let i = words.iter().position(|w| *w == flag).expect(flag);
        words[i + 1].to_string()
    };
    let account = lines[at]
        .split_whitespace()
        .find(|w| w.starts_with("acc_"))
        .expect("the account id")
        .to_string();
    let mut thb =
        octopus_client::NewOrder::deposit(uid, "dev-th", "500.00", "thb", "thailand", "thailand");
    thb.float_precision = Some("2".into());
    let created = client.create_order(&thb).await.unwrap();
    assert_eq!(created.payment.channel, "own-demo");
    let page = http
        .get(&created.payment_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg"), "the PromptPay QR is on the page");
    let out = command()
        .args(["device", "report", "--url", &after("--url")])
        .args([
            "--device",
            &after("--device"),
            "--secret",
            &after("--secret"),
        ])
        .args(["--account", &account, "--currency", "thb"])
        .args([
            "--amount",
            &created.payment.final_amount,
            "--reference",
            "FT-DEV-1",
        ])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{answer}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(answer.contains("\"matched\""), "{answer}");
    assert_eq!(
        client.get_order("dev-th").await.unwrap().payment_status,
        "completed"
    );
    drop(server);

    // A second start on the same database creates no second demo merchant.
    let again = ServerProcess::start(&db, &["--dev"]);
    let lines = again.wait_for_output("already has merchants");
    assert!(!lines.iter().any(|l| l.contains("api_secret")));
    assert!(!lines.iter().any(|l| l.contains("one-time password")));
}

/// `octopus order new` and `order get` against a running server, configured from the
/// environment as the README shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_commands_create_and_query_orders() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let server = ServerProcess::start(&db, &[]);
    let creds = merchant_create(&db);
    let run = |args: &[&str]| {
        let out = command()
            .arg("order")
            .args(args)
            .env("OCTOPUS_URL", &server.url)
            .env("OCTOPUS_API_KEY", creds["test_api_key"].as_str().unwrap())
            .env(
                "OCTOPUS_API_SECRET",
                creds["test_api_secret"].as_str().unwrap(),
            )
            .env(
                "OCTOPUS_MERCHANT_UID",
                creds["merchant_uid"].as_str().unwrap(),
            )
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        (out.status.success(), json)
    };
    let (ok, created) = run(&[
        "new",
        "--amount",
        "100.00",
        "--currency",
        "mmk",
        "--payment",
        "myanmar",
        "--country",
        "myanmar",
        "--merchant-order-id",
        "cli-1",
        "--field",
        "merchant_id=member-9",
    ]);
    assert!(ok, "{created}");
    assert_eq!(created["data"]["payment"]["payment_status"], "pending");
    assert!(created["data"]["payment_url"]
        .as_str()
        .unwrap()
        .starts_with(&server.url));
    let client = Client::new(
        &server.url,
        creds["test_api_key"].as_str().unwrap(),
        creds["test_api_secret"].as_str().unwrap(),
    );
    crate::helpers::fund(
        &client,
        creds["merchant_uid"].as_str().unwrap(),
        "usd",
        "5.00",
    )
    .await;
    let (ok, payout) = run(&[
        "new",
        "--type",
        "expense",
        "--amount",
        "5.00",
        "--currency",
        "usd",
        "--payment",
        "bank",
        "--country",
        "US",
        "--to",
        "123456",
        "--to-name",
        "Jane Doe",
        "--to-bank-name",
        "Chase",
        "--merchant-order-id",
        "cli-2",
    ]);
    assert!(ok, "{payout}");
    let (ok, found) = run(&["get", "cli-1"]);
    assert!(ok);
    assert_eq!(found["data"]["merchant_id"], "member-9");
    let (ok, missing) = run(&["get", "nope"]);
    assert!(!ok, "a refused request exits non-zero");
    assert_eq!(missing["data"], "Order not found");
}

/// The benchmark harness runs against a real server and reports what it measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_harness_reports_throughput_and_latency() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let server = ServerProcess::start(&db, &[]);
    let creds = merchant_create(&db);
    for scenario in ["deposit", "payout", "complete", "fail"] {
        let out = command()
            .args([
                "bench",
                "--url",
                &server.url,
                "--connections",
                "4",
                "--duration",
                "0.5",
                "--warmup",
                "0.1",
                "--json",
            ])
            .args(["--scenario", scenario])
            .args(["--key", creds["test_api_key"].as_str().unwrap()])
            .args(["--secret", creds["test_api_secret"].as_str().unwrap()])
            .args(["--merchant-uid", creds["merchant_uid"].as_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["scenario"], scenario);
        assert_eq!(report["errors"], 0, "{report}");
        assert!(report["iterations"].as_u64().unwrap() > 0, "{report}");
        assert!(report["p99_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap());
    }
}

/// A server started with another master key than its database was set up with refuses to
/// start, saying why, instead of failing later on every secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refuses_a_master_key_that_is_not_its_databases() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let first = "11".repeat(32);
    let out = command()
        .args(["merchant", "create", "--name", "Keyed"])
        .args(db_args(&db))
        .env("OCTOPUS_MASTER_KEY", &first)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut serve = command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(db_args(&db))
        .env("OCTOPUS_MASTER_KEY", "22".repeat(32))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server started with the wrong key"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(serve.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("the master key does not match this database"),
        "{stderr}"
    );
    assert!(!stderr.contains(&first), "the key itself is never printed");
}

/// Runs the binary against the test app's database, with its master key.
fn run_on(
    app: &crate::helpers::TestApp,
    args: &[&str],
    db: Option<&std::path::Path>,
) -> (bool, String) {
    let mut c = command();
    c.args(args);
    match db {
        Some(dir) => {
            c.args(["--data-dir", dir.to_str().unwrap()]);
        }
        None => {
            c.args(db_args(&app.db));
        }
    }
    let out = c
        .env("OCTOPUS_MASTER_KEY", &app.master_key_text)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `octopus ledger verify` passes after a scenario and fails on a deliberately corrupted copy
/// (a cached balance changed; a posting changed behind the journal's back).
async fn ledger_verify_passes_and_fails_on_a_corrupted_copy(backend: Backend) {
    let app = crate::helpers::spawn_app(backend.clone()).await;
    let m = &app.merchant;
    app.fund(m, "mmk", "1000.00").await;
    let payout = octopus_client::NewOrder::payout(
        &m.merchant_uid,
        "v-out",
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
        "09123456789",
        "A",
        "wavepay",
    );
    app.client.create_order(&payout).await.unwrap();
    app.wait_for_status(&app.client, "v-out", "completed", Duration::from_secs(10))
        .await;
    let (ok, text) = run_on(&app, &["ledger", "verify"], None);
    assert!(ok, "{text}");
    // funding credit, payout hold, payout settle; zero fee postings are not written
    assert!(text.contains("3 entries, 6 postings"), "{text}");
    assert!(text.contains("OK: every entry balances"), "{text}");
    assert!(
        text.contains(&format!("available:{}:mmk", m.merchant_id)) && text.contains("900.000000"),
        "{text}"
    );

    let corruptions = [
        format!("UPDATE ledger_accounts SET balance = '999.000000' WHERE account_key = 'available:{}:mmk'", m.merchant_id),
        "DROP TRIGGER postings_no_update; UPDATE postings SET amount = '1.000000' WHERE id = (SELECT MIN(id) FROM postings)".to_string(),
    ];
    match backend {
        Backend::Sqlite => {
            for (i, corruption) in corruptions.iter().enumerate() {
                // A consistent copy of the live database, then broken on purpose.
                let copy = tempfile::tempdir().unwrap();
                let file = copy.path().join(octopus_storage_sqlite::DATABASE_FILE);
                app.execute_sql(&format!("VACUUM INTO '{}'", file.display()))
                    .await;
                rusqlite::Connection::open(&file)
                    .unwrap()
                    .execute_batch(corruption)
                    .unwrap();
                let (ok, text) = run_on(&app, &["ledger", "verify"], Some(copy.path()));
                assert!(!ok, "corruption {i} went unnoticed: {text}");
                assert!(text.contains("VIOLATION"), "{text}");
                let expected = if i == 0 {
                    "caches 999.000000 but its postings sum to 900"
                } else {
                    "does not balance"
                };
                assert!(text.contains(expected), "{text}");
            }
            // The original is untouched and still sound.
            assert!(run_on(&app, &["ledger", "verify"], None).0);
        }
        Backend::Postgres(_) => {
            app.execute_sql(&corruptions[0]).await;
            let (ok, text) = run_on(&app, &["ledger", "verify"], None);
            assert!(
                !ok && text.contains("caches 999.000000 but its postings sum to 900"),
                "{text}"
            );
            app.execute_sql(
                "DROP TRIGGER postings_append_only ON postings; \
                 UPDATE postings SET amount = 1 WHERE id = (SELECT MIN(id) FROM postings)",
            )
            .await;
            let (ok, text) = run_on(&app, &["ledger", "verify"], None);
            assert!(!ok && text.contains("does not balance"), "{text}");
        }
    }
}

/// The operator's fee and refund commands work on the database of a running server, and the
/// server applies the fee to orders created afterwards.
async fn fee_and_refund_commands_work_beside_a_running_server(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let m = &app.merchant;
    let (ok, text) = run_on(
        &app,
        &[
            "fee",
            "set",
            "--merchant",
            &m.merchant_uid,
            "--payment",
            "wavepay",
            "--accounting-type",
            "receive",
            "--percent",
            "1.5",
            "--fixed",
            "0.50",
            "--max",
            "10",
        ],
        None,
    );
    assert!(ok, "{text}");
    let set: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(set["percent"], "1.5");
    let (ok, text) = run_on(&app, &["fee", "list", "--merchant", &m.merchant_uid], None);
    assert!(
        ok && text.contains("\"payment\":\"wavepay\"") && text.contains("\"max\":\"10\""),
        "{text}"
    );
    let (ok, text) = run_on(
        &app,
        &[
            "fee",
            "set",
            "--merchant",
            &m.merchant_uid,
            "--percent",
            "-1",
        ],
        None,
    );
    assert!(
        !ok && text.contains("percent must not be negative"),
        "{text}"
    );
    let (ok, text) = run_on(
        &app,
        &["fee", "set", "--merchant", "Mnobody", "--percent", "1"],
        None,
    );
    assert!(!ok && text.contains("no merchant Mnobody"), "{text}");

    // The test server reads fee schedules for every order (`test_config`): no wait.
    let created = app
        .client
        .create_order(&octopus_client::NewOrder::deposit(
            &m.merchant_uid,
            "f-1",
            "200.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.fee, "3.50");
    crate::helpers::pay(&created.payment_url).await;
    let uid = created.payment.payment_uid.clone();
    let (ok, text) = run_on(
        &app,
        &["order", "refund", &uid, "--reason", "duplicate charge"],
        None,
    );
    assert!(ok, "{text}");
    assert!(text.contains("\"payment_status\":\"refund\""), "{text}");
    let (ok, text) = run_on(&app, &["order", "refund", &uid], None);
    assert!(
        !ok && text.contains("cannot go from refund to refund"),
        "{text}"
    );
    let events = app.storage().order_events(&uid).await.unwrap();
    assert_eq!(events.last().unwrap().reason, "duplicate charge");
    assert_eq!(app.balance(m, "mmk").await.0, rust_decimal::Decimal::ZERO);
    app.assert_ledger_sound().await;
}

/// `octopus callback list|resend` on the database of a running server: the attempt log as
/// JSON, and a manual resend that the server then delivers.
async fn callback_commands_list_attempts_and_resend_by_hand(backend: Backend) {
    use crate::helpers::receiver::{Receiver, Reply};
    let app = crate::helpers::spawn_app(backend).await;
    let m = &app.merchant;
    let receiver = Receiver::start(vec![Reply::Answer(500, "oops")], Reply::Success).await;
    let mut order = octopus_client::NewOrder::deposit(
        &m.merchant_uid,
        "cli-cb",
        "10.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.notify_url = Some(receiver.url.clone());
    let created = app.client.create_order(&order).await.unwrap();
    let uid = created.payment.payment_uid.clone();
    crate::helpers::pay(&created.payment_url).await;
    receiver.wait_for(2, Duration::from_secs(15)).await;
    app.wait_for_notify("cli-cb", "completed", Duration::from_secs(10))
        .await;

    let (ok, text) = run_on(&app, &["callback", "list", &uid], None);
    assert!(ok, "{text}");
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = &list[0];
    assert_eq!(list.as_array().unwrap().len(), 1, "{text}");
    assert_eq!(first["state"], "completed");
    assert_eq!(first["manual"], false);
    assert_eq!(first["body"]["payment_status"], "completed");
    assert_eq!(first["body"]["order_uid"], uid.as_str());
    let log = first["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{text}");
    assert_eq!(
        (
            log[0]["http_status"].as_u64(),
            log[0]["error"].as_str(),
            log[0]["response"].as_str()
        ),
        (Some(500), Some("HTTP 500"), Some("oops"))
    );
    assert_eq!(
        (
            log[1]["http_status"].as_u64(),
            log[1]["error"].as_str(),
            log[1]["response"].as_str()
        ),
        (Some(200), Some(""), Some("success"))
    );
    assert!(!text.contains(&m.api_secret), "the secret is never shown");

    let (ok, text) = run_on(&app, &["callback", "resend", &uid], None);
    assert!(ok, "{text}");
    let resent: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (resent["manual"].as_bool(), resent["state"].as_str()),
        (Some(true), Some("pending"))
    );
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(got[2].json["order_uid"], uid.as_str());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, text) = run_on(&app, &["callback", "list", &uid], None);
        let list: serde_json::Value = serde_json::from_str(&text).unwrap();
        if list[1]["state"] == "completed" {
            assert_eq!(list[1]["attempt_log"][0]["manual"], true, "{text}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the resent callback was not recorded: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let plain = octopus_client::NewOrder::deposit(
        &m.merchant_uid,
        "cli-plain",
        "1.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    let plain = app.client.create_order(&plain).await.unwrap();
    let (ok, text) = run_on(
        &app,
        &["callback", "resend", &plain.payment.payment_uid],
        None,
    );
    assert!(!ok && text.contains("has no notify_url"), "{text}");
    let (ok, text) = run_on(
        &app,
        &["callback", "list", "0123456789abcdef0123456789abcdef"],
        None,
    );
    assert!(ok && text.trim() == "[]", "{text}");
    let (ok, text) = run_on(
        &app,
        &["callback", "resend", "0123456789abcdef0123456789abcdef"],
        None,
    );
    assert!(
        !ok && text.contains("no order 0123456789abcdef0123456789abcdef"),
        "{text}"
    );
}

/// `octopus channel add|list|disable|enable` beside a running server: the server routes to a
/// channel added with the CLI, credentials are stored sealed and printed by name only, and bad
/// settings are refused with a clear message.
async fn channel_commands_configure_what_a_running_server_routes_to(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let m = &app.merchant;
    let secret = "pk-plugin-SECRET-0451";
    let (ok, text) = run_on(
        &app,
        &[
            "channel",
            "add",
            "mm-wave",
            "--kind",
            "sandbox",
            "--types",
            "income",
            "--countries",
            "myanmar",
            "--currencies",
            "mmk",
            "--payments",
            "WavePay",
            "--min",
            "1000",
            "--max",
            "5000000",
            "--ttl",
            "900",
            "--priority",
            "10",
            "--weight",
            "3",
            "--setting",
            "label_prefix=oc",
            "--credential",
            &format!("pluginapi_secret={secret}"),
        ],
        None,
    );
    assert!(ok, "{text}");
    let added: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(added["countries"], serde_json::json!(["MM"]));
    assert_eq!(added["payments"], serde_json::json!(["wavepay"]));
    assert_eq!(
        added["credentials"],
        serde_json::json!(["pluginapi_secret"])
    );
    assert!(!text.contains(secret), "a credential is never printed");

    let (ok, text) = run_on(&app, &["channel", "list"], None);
    assert!(
        ok && text.contains("\"code\":\"mm-wave\"") && text.contains("\"code\":\"sandbox\""),
        "{text}"
    );
    assert!(!text.contains(secret));
    let sealed = app
        .storage()
        .channels()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.code == "mm-wave")
        .unwrap()
        .sealed_credentials;
    assert!(
        !sealed.is_empty() && !sealed.contains(secret),
        "stored sealed"
    );

    app.wait_for_channels().await;
    let created = app
        .client
        .create_order(&octopus_client::NewOrder::deposit(
            &m.merchant_uid,
            "cli-ch",
            "2000.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(
        created.payment.channel, "mm-wave",
        "priority 10 before the sandbox's 100"
    );
    assert_eq!(app.client.get_order("cli-ch").await.unwrap().ttl, "900");

    let (ok, text) = run_on(&app, &["channel", "disable", "mm-wave"], None);
    assert!(ok && text.contains("\"enabled\":false"), "{text}");
    app.wait_for_channels().await;
    let created = app
        .client
        .create_order(&octopus_client::NewOrder::deposit(
            &m.merchant_uid,
            "cli-ch2",
            "2000.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.channel, "sandbox");
    let (ok, _) = run_on(&app, &["channel", "enable", "mm-wave"], None);
    assert!(ok);

    for (args, expected) in [
        (
            vec!["channel", "add", "x", "--kind", "nope"],
            "unknown connector kind \"nope\"",
        ),
        (
            vec!["channel", "add", "Bad Code", "--kind", "sandbox"],
            "a channel code must have",
        ),
        (
            vec![
                "channel",
                "add",
                "x",
                "--kind",
                "sandbox",
                "--currencies",
                "zzz",
            ],
            "unknown currency \"zzz\"",
        ),
        (
            vec![
                "channel", "add", "x", "--kind", "sandbox", "--min", "10", "--max", "5",
            ],
            "minimum amount is above the maximum",
        ),
        (
            vec![
                "channel",
                "add",
                "x",
                "--kind",
                "sandbox",
                "--setting",
                "novalue",
            ],
            "--setting takes NAME=VALUE",
        ),
        (vec!["channel", "disable", "ghost"], "no channel ghost"),
    ] {
        let (ok, text) = run_on(&app, &args, None);
        assert!(!ok && text.contains(expected), "{args:?}: {text}");
    }
}

/// `octopus order history` shows an order's status changes and its upstream exchanges, with
/// the plugin secret masked.
async fn order_history_shows_changes_and_upstream_exchanges(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let m = &app.live;
    let pk = crate::helpers::paykassma::PkSim::start(&app, "pk-mm", 10).await;
    let created = app
        .live_client
        .create_order(&octopus_client::NewOrder::deposit(
            &m.merchant_uid,
            "hist-1",
            "6000.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    pk.sim.transfer("TXH", 6000, "MMK");
    let token = crate::helpers::page_token(&created.payment_url).await;
    crate::helpers::http()
        .post(format!("{}/confirm", created.payment_url))
        .form(&[("transaction_id", "TXH"), ("token", &token)])
        .send()
        .await
        .unwrap();
    app.wait_for_status(
        &app.live_client,
        "hist-1",
        "completed",
        Duration::from_secs(10),
    )
    .await;
    let (ok, text) = run_on(
        &app,
        &["order", "history", &created.payment.payment_uid],
        None,
    );
    assert!(ok, "{text}");
    let history: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(history["channel"], "pk-mm");
    assert_eq!(
        history["status_changes"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["to"],
        "completed"
    );
    assert_eq!(history["upstream"][0]["operation"], "create");
    assert_eq!(history["upstream"][1]["operation"], "activate");
    assert_eq!(history["upstream"][1]["http_status"], 200);
    assert!(history["payer_instructions"]["account"].is_string());
    assert!(!text.contains("plugin-secret"), "{text}");
    let (ok, text) = run_on(
        &app,
        &["order", "history", "0123456789abcdef0123456789abcdef"],
        None,
    );
    assert!(!ok && text.contains("no order"), "{text}");
}

crate::on_both_backends!(
    order_history_shows_changes_and_upstream_exchanges,
    channel_commands_configure_what_a_running_server_routes_to,
    callback_commands_list_attempts_and_resend_by_hand,
    dev_mode_prints_a_demo_merchant_and_a_request_that_works,
    ledger_verify_passes_and_fails_on_a_corrupted_copy,
    fee_and_refund_commands_work_beside_a_running_server,
);
