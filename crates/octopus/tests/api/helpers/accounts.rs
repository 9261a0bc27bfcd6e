//! The operator's own accounts in tests: a channel of kind `accounts`, accounts and devices
//! added with the real `octopus account add` / `octopus device add` commands (whose JSON other
//! tools read), and a device that signs like a real one (`octopus_client::device`).

use octopus_client::device::{DeviceClient, TransferReport};
use serde_json::Value;

use crate::helpers::{command, db_args, TestApp, TestDb};

/// Runs `octopus <args>` on the app's database with its master key; panics unless it
/// succeeds; returns its stdout.
pub fn octopus(app: &TestApp, args: &[&str]) -> String {
    let (ok, out, err) = octopus_result(app, args);
    assert!(ok, "octopus {args:?} failed: {out}{err}");
    out
}

/// Runs `octopus <args>` on the app's database: (succeeded, stdout, stderr).
pub fn octopus_result(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = command()
        .args(args)
        .args(db_args(&app.db))
        .env("OCTOPUS_MASTER_KEY", &app.master_key_text)
        .output()
        .expect("run octopus");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON objects a command printed, one per line.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

/// One own account with its device, online.
pub struct OwnAccount {
    pub id: String,
    pub device_id: String,
    pub device: DeviceClient,
}

impl OwnAccount {
    /// A report of `amount` with `reference`, as the device would send it.
    pub fn transfer(&self, amount: &str, currency: &str, reference: &str) -> TransferReport {
        TransferReport {
            account: self.id.clone(),
            amount: amount.into(),
            currency: currency.into(),
            reference: reference.into(),
            ..TransferReport::default()
        }
    }

    /// Reports a transfer; returns the answer's `data` (panics on an error answer).
    pub async fn report(&self, report: &TransferReport) -> Value {
        let answer = self.device.report(report).await.expect("report");
        assert_eq!(answer.status, 200, "report answered {}", answer.body);
        answer.body["data"].clone()
    }
}

/// Adds the channel `code` of kind accounts (taking `countries` and `currencies`, before the
/// sandbox), unless it exists, and waits until the server routes with it.
pub async fn own_channel(app: &TestApp, code: &str, countries: &[&str], currencies: &[&str]) {
    octopus(
        app,
        &[
            "channel",
            "add",
            code,
            "--kind",
            "accounts",
            "--countries",
            &countries.join(","),
            "--currencies",
            &currencies.join(","),
            "--priority",
            "50",
        ],
    );
    app.wait_for_channels().await;
}

/// Adds an account to `channel` with `octopus account add <extra>` and enrolls a device for
/// it, which sends a first heartbeat (so the account is online).
pub async fn own_account(app: &TestApp, channel: &str, extra: &[&str]) -> OwnAccount {
    let mut args = vec!["account", "add", "--channel", channel];
    args.extend_from_slice(extra);
    let account: Value = serde_json::from_str(octopus(app, &args).trim()).expect("account JSON");
    let id = account["id"].as_str().expect("an id").to_string();
    let device: Value =
        serde_json::from_str(octopus(app, &["device", "add", "--account", &id]).trim())
            .expect("device JSON");
    let device_id = device["device_id"].as_str().expect("device_id").to_string();
    let secret = device["secret"].as_str().expect("secret").to_string();
    let client = DeviceClient::new(&app.base_url, &device_id, &secret);
    let beat = client.heartbeat().await.expect("heartbeat");
    assert_eq!(beat.status, 200, "heartbeat answered {}", beat.body);
    OwnAccount {
        id,
        device_id,
        device: client,
    }
}

/// A Thai bank account with PromptPay on `channel`.
pub async fn thai_promptpay(app: &TestApp, channel: &str) -> OwnAccount {
    own_account(
        app,
        channel,
        &[
            "--method",
            "promptpay",
            "--number",
            "123-4-56789-0",
            "--holder",
            "Somchai Jaidee",
            "--currency",
            "thb",
            "--bank-code",
            "kbank",
            "--promptpay-id",
            "0812345678",
        ],
    )
    .await
}

/// An Indian UPI account (`demoshop@okaxis`, held by "Demo Shop") on `channel`.
pub async fn indian_upi(app: &TestApp, channel: &str) -> OwnAccount {
    own_account(
        app,
        channel,
        &[
            "--method",
            "upi",
            "--number",
            "50100123456789",
            "--holder",
            "Demo Shop",
            "--currency",
            "inr",
            "--vpa",
            "demoshop@okaxis",
        ],
    )
    .await
}

/// A GCash number (`09171234567`, held by "Juan Cruz") on `channel`.
pub async fn gcash(app: &TestApp, channel: &str) -> OwnAccount {
    own_account(
        app,
        channel,
        &[
            "--method",
            "wallet",
            "--number",
            "09171234567",
            "--holder",
            "Juan Cruz",
            "--currency",
            "php",
            "--wallet",
            "gcash",
        ],
    )
    .await
}

/// Runs `octopus <args>` on a database (with the master key `master_key`, else the data
/// directory's key file); panics unless it succeeds; returns its stdout.
pub fn octopus_on(db: &TestDb, master_key: Option<&str>, args: &[&str]) -> String {
    let mut cmd = command();
    cmd.args(args).args(db_args(db));
    if let Some(key) = master_key {
        cmd.env("OCTOPUS_MASTER_KEY", key);
    }
    let out = cmd.output().expect("run octopus");
    assert!(
        out.status.success(),
        "octopus {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Credits a merchant's live book as a merchant tops up with real money: a `recharge` deposit
/// (payment `funding`) to an operator's own account, which the operator confirms by hand
/// (`octopus order confirm`). The channel `funding-<currency>` and its account (with a device
/// that has just sent a heartbeat) are made the first time, with the real commands.
pub async fn fund_live(app: &TestApp, creds: &crate::helpers::Creds, currency: &str, amount: &str) {
    fund_live_on(
        &app.db,
        Some(&app.master_key_text),
        &app.base_url,
        &app.client_for(creds),
        &creds.merchant_uid,
        currency,
        amount,
    )
    .await;
    app.wait_for_channels().await;
}

/// [`fund_live`] for a gateway on `db` at `base_url`, through `client` (a live key).
pub async fn fund_live_on(
    db: &TestDb,
    master_key: Option<&str>,
    base_url: &str,
    client: &octopus_client::Client,
    merchant_uid: &str,
    currency: &str,
    amount: &str,
) {
    let code = format!("funding-{currency}");
    let channels = octopus_on(db, master_key, &["channel", "list"]);
    if !channels.contains(&format!("\"{code}\"")) {
        octopus_on(
            db,
            master_key,
            &[
                "channel",
                "add",
                &code,
                "--kind",
                "accounts",
                "--currencies",
                currency,
                "--payments",
                "funding",
                "--priority",
                "1",
            ],
        );
        let account: Value = serde_json::from_str(
            octopus_on(
                db,
                master_key,
                &[
                    "account",
                    "add",
                    "--channel",
                    &code,
                    "--method",
                    "bank",
                    "--number",
                    "000111222333",
                    "--holder",
                    "Operator Funding",
                    "--currency",
                    currency,
                ],
            )
            .trim(),
        )
        .expect("account JSON");
        let id = account["id"].as_str().expect("an id");
        let device: Value = serde_json::from_str(
            octopus_on(db, master_key, &["device", "add", "--account", id]).trim(),
        )
        .expect("device JSON");
        let device = DeviceClient::new(
            base_url,
            device["device_id"].as_str().expect("device_id"),
            device["secret"].as_str().expect("secret"),
        );
        // The account is online for 90 s from now: long enough for any test's top-ups.
        let beat = device.heartbeat().await.expect("heartbeat");
        assert_eq!(beat.status, 200, "heartbeat answered {}", beat.body);
    }
    let id = format!("fund-{}", octopus_domain::ids::new_payment_uid(0));
    let mut order =
        octopus_client::NewOrder::deposit(merchant_uid, &id, amount, currency, "funding", "US");
    order.accounting_type = Some("recharge".into());
    // The gateway reads new channels within its refresh interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let created = loop {
        match client.create_order(&order).await {
            Ok(created) => break created,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("funding deposit: {e:?}"),
        }
    };
    assert_eq!(
        created.payment.channel, code,
        "funding goes to the own account"
    );
    let confirmed = octopus_on(
        db,
        master_key,
        &[
            "order",
            "confirm",
            &created.payment.payment_uid,
            "--reference",
            &format!("FUND-{id}"),
            "--amount",
            &created.payment.final_amount,
            "--reason",
            "merchant top-up received",
        ],
    );
    assert!(confirmed.contains("completed"), "{confirmed}");
}
