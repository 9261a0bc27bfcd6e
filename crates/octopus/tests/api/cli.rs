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
        value_after(&lines, "api_key"),
        value_after(&lines, "api_secret"),
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
    let client = Client::new(&server.url, key, secret);
    let answer = client.post_raw("/octopus/api/order/new", body.to_string(), key, signature).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["payment"]["merchant_name"], "Demo Merchant");
    drop(server);

    // A second start on the same database creates no second demo merchant.
    let again = ServerProcess::start(&db, &["--dev"]);
    let lines = again.wait_for_output("already has merchants");
    assert!(!lines.iter().any(|l| l.contains("api_secret")));
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
            .env("OCTOPUS_API_KEY", creds["api_key"].as_str().unwrap())
            .env("OCTOPUS_API_SECRET", creds["api_secret"].as_str().unwrap())
            .env("OCTOPUS_MERCHANT_UID", creds["merchant_uid"].as_str().unwrap())
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        (out.status.success(), json)
    };
    let (ok, created) = run(&[
        "new", "--amount", "100.00", "--currency", "mmk", "--payment", "myanmar", "--country", "myanmar",
        "--merchant-order-id", "cli-1", "--field", "merchant_id=member-9",
    ]);
    assert!(ok, "{created}");
    assert_eq!(created["data"]["payment"]["payment_status"], "pending");
    assert!(created["data"]["payment_url"].as_str().unwrap().starts_with(&server.url));
    let client = Client::new(&server.url, creds["api_key"].as_str().unwrap(), creds["api_secret"].as_str().unwrap());
    crate::helpers::fund(&client, creds["merchant_uid"].as_str().unwrap(), "usd", "5.00").await;
    let (ok, payout) = run(&[
        "new", "--type", "expense", "--amount", "5.00", "--currency", "usd", "--payment", "bank", "--country", "US",
        "--to", "123456", "--to-name", "Jane Doe", "--to-bank-name", "Chase", "--merchant-order-id", "cli-2",
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
    let out = command()
        .args(["bench", "--url", &server.url, "--connections", "4", "--duration", "1", "--warmup", "0.2", "--json"])
        .args(["--key", creds["api_key"].as_str().unwrap()])
        .args(["--secret", creds["api_secret"].as_str().unwrap()])
        .args(["--merchant-uid", creds["merchant_uid"].as_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["orders"].as_u64().unwrap() > 0, "{report}");
    assert!(report["p99_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap());
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
        assert!(std::time::Instant::now() < deadline, "the server started with the wrong key");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(serve.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("the master key does not match this database"), "{stderr}");
    assert!(!stderr.contains(&first), "the key itself is never printed");
}

crate::on_both_backends!(dev_mode_prints_a_demo_merchant_and_a_request_that_works);
