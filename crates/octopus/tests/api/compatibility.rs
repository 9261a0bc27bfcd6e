//! What clients written elsewhere, and merchant developers working from the docs alone, rely
//! on, over real HTTP on both backends: `get_merchant_ledger` names every currency; blank
//! identifiers and invisible characters are refused naming the field, with nothing stored; a
//! JSON number is signed as its literal text (`100.50`); the shell and Python snippets of
//! docs/api.md and docs/callbacks.md, run as written with python3, sign and verify what a real
//! gateway takes and sends; `distribute_rules.skipped` names a connector's refusal; a
//! `notify_url` at a literal private address is refused at `order/new` unless allowed.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, Mac};
use octopus_client::NewOrder;
use octopus_domain::{Currency, RequestFields};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::paykassma::PkSim;
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{
    command, db_args, invalid, pay, skipped, spawn_app, spawn_app_with, test_config, Backend,
    TestApp,
};

const WAIT: Duration = Duration::from_secs(15);

fn hmac_hex(secret: &str, text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether an order with this `merchant_order_id` was stored for the app's merchant.
async fn stored(app: &TestApp, merchant_order_id: &str) -> bool {
    app.storage()
        .order_by_merchant_order_id(app.merchant.merchant_id, merchant_order_id)
        .await
        .unwrap()
        .is_some()
}

// ---------------------------------------------------------------------------------------------
// get_merchant_ledger

async fn a_fresh_merchant_ledger_names_every_currency(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let ledger = app.client.merchant_ledger(&m.merchant_uid).await.unwrap();
    assert_eq!(ledger.get("merchant_uid"), Some(&m.merchant_uid));
    assert_eq!(
        ledger.get("merchant_name").map(String::as_str),
        Some("Test Merchant")
    );
    for currency in Currency::ALL {
        assert_eq!(
            ledger.get(currency.code()).map(String::as_str),
            Some("0.000000"),
            "{currency}"
        );
    }
    // A test key's answer says so; nothing else is added.
    assert_eq!(ledger.get("test").map(String::as_str), Some("1"));
    assert_eq!(ledger.len(), 3 + Currency::ALL.len(), "{ledger:?}");
    // Every value is a string (the client reads strings; check the wire too).
    let fields: RequestFields = [("merchant_uid", m.merchant_uid.as_str())]
        .into_iter()
        .collect();
    let raw = app
        .client
        .post_signed("/octopus/api/ledger/get_merchant_ledger", &fields)
        .await
        .unwrap();
    assert!(
        raw.body["data"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string),
        "{}",
        raw.body
    );

    // A balance held in one currency shows there; the others stay at zero.
    app.fund(&m, "mmk", "100.00").await;
    let ledger = app.client.merchant_ledger(&m.merchant_uid).await.unwrap();
    assert_eq!(ledger.get("mmk").map(String::as_str), Some("100.000000"));
    assert_eq!(ledger.get("cny").map(String::as_str), Some("0.000000"));
    assert_eq!(ledger.len(), 3 + Currency::ALL.len());
}

// ---------------------------------------------------------------------------------------------
// Identifiers and names

async fn blank_identifiers_and_invisible_characters_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    app.fund(&m, "mmk", "1000.00").await;
    let payout = |id: &str| {
        NewOrder::payout(
            &m.merchant_uid,
            id,
            "10.00",
            "mmk",
            "myanmar",
            "myanmar",
            "1234567890",
            "Jane Doe",
            "kbz",
        )
    };
    let blank = |f: &str| format!("The '{f}' field must not be blank.");
    let rlo = |f: &str| {
        format!("The '{f}' field must not contain invisible characters (U+202E, bidirectional embeddings and overrides).")
    };
    let zwsp = |f: &str| {
        format!("The '{f}' field must not contain invisible characters (U+200B, zero-width space, non-joiner, joiner, left-to-right and right-to-left marks).")
    };
    let bom = |f: &str| {
        format!("The '{f}' field must not contain invisible characters (U+FEFF, byte order mark (zero-width no-break space)).")
    };

    // (merchant_order_id, the field changed, its value, the expected details)
    let cases: Vec<(String, &str, &str, String)> = vec![
        (
            " ".into(),
            "merchant_order_id",
            " ",
            blank("merchant_order_id"),
        ),
        (
            "\u{3000}".into(),
            "merchant_order_id",
            "\u{3000}",
            blank("merchant_order_id"),
        ),
        (
            "id\u{200B}1".into(),
            "merchant_order_id",
            "id\u{200B}1",
            zwsp("merchant_order_id"),
        ),
        (
            "\u{FEFF}id-2".into(),
            "merchant_order_id",
            "\u{FEFF}id-2",
            bom("merchant_order_id"),
        ),
        ("to-blank".into(), "to", "  ", blank("to")),
        ("to-zw".into(), "to", "12345\u{200B}67890", zwsp("to")),
        ("to-name-blank".into(), "to_name", " ", blank("to_name")),
        (
            "to-name-rlo".into(),
            "to_name",
            "Jane \u{202E}eoD",
            rlo("to_name"),
        ),
        (
            "bank-bom".into(),
            "to_bank_name",
            "kbz\u{FEFF}",
            bom("to_bank_name"),
        ),
        (
            "member-blank".into(),
            "merchant_id",
            " ",
            blank("merchant_id"),
        ),
        (
            "member-rlo".into(),
            "merchant_id",
            "user\u{202E}1",
            rlo("merchant_id"),
        ),
        ("from-blank".into(), "from", "\u{00A0}", blank("from")),
        (
            "from-name-rlo".into(),
            "from_name",
            "\u{202E}abc",
            rlo("from_name"),
        ),
        ("payment-blank".into(), "payment", " ", blank("payment")),
        (
            "additional-rlo".into(),
            "additional",
            "thanks \u{202E}",
            rlo("additional"),
        ),
    ];
    for (id, field, value, details) in cases {
        let mut fields = payout(&id).to_fields();
        fields.insert(field, value);
        let answer = app
            .client
            .post_signed("/octopus/api/order/new", &fields)
            .await
            .unwrap();
        assert_eq!(
            (answer.status, &answer.body),
            (400, &invalid(&details)),
            "{field} = {value:?}"
        );
        assert!(
            !stored(&app, &id).await,
            "nothing stored for {field} = {value:?}"
        );
    }
    // A deposit's payer name and a bidirectional isolate are refused the same way.
    let mut deposit = NewOrder::deposit(
        &m.merchant_uid,
        "dep-isolate",
        "100.00",
        "thb",
        "thailand",
        "TH",
    );
    deposit.from_name = Some("สมชาย\u{2067}ใจดี".into());
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &deposit.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["data"]["details"]
            .as_str()
            .unwrap()
            .starts_with("The 'from_name' field must not contain invisible characters (U+2067"),
        "{}",
        answer.body
    );
    assert!(!stored(&app, "dep-isolate").await);

    // Names in the payers' languages, with spaces, are accepted as sent.
    let mut fine = payout("fine-1");
    fine.to_name = Some("สมชาย ใจดี".into());
    fine.to_bank_name = Some("ကမ္ဘောဇ ဘဏ်".into());
    fine.member_id = Some("member 7".into());
    let created = app.client.create_order(&fine).await.unwrap();
    assert_eq!(created.payment.to_name, "สมชาย ใจดี");
    assert!(stored(&app, "fine-1").await);
    app.assert_ledger_sound().await;

    // Merchant names, as `octopus merchant create --name` takes them.
    let err = octopus_server::services::merchants::create(
        app.storage(),
        &app.master_key,
        "Shop\u{202E}enO",
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "the merchant name must not contain invisible characters (U+202E, bidirectional embeddings and overrides)");
    for name in ["   ", "\u{200B}Shop", "Shop\u{FEFF}"] {
        assert!(
            octopus_server::services::merchants::create(app.storage(), &app.master_key, name)
                .await
                .is_err(),
            "{name:?}"
        );
    }
    let out = command()
        .args(["merchant", "create", "--name", "Shop\u{202E}enO"])
        .args(db_args(&app.db))
        .env("OCTOPUS_MASTER_KEY", &app.master_key_text)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the CLI refuses it");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the merchant name must not contain invisible characters (U+202E"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no credentials printed");
}

// ---------------------------------------------------------------------------------------------
// Number literals (100.50) and the documented snippets

/// A worked example beside vectors/signing.json (which holds `100.5`): a JSON number with a
/// trailing zero is signed as its literal text, `amount=100.50`.
const TRAILING_ZERO_BODY: &str = r#"{"transaction_type":"income","amount":100.50,"currency":"php","payment":"gcash","country":"ph","merchant_order_id":"n-2","merchant_uid":"M1","response_type":"json"}"#;
const TRAILING_ZERO_CANONICAL: &str =
    "amount=100.50&country=ph&currency=php&merchant_order_id=n-2&merchant_uid=M1&payment=gcash&response_type=json&transaction_type=income";
const TRAILING_ZERO_SIGNATURE: &str =
    "eddf17579e9c592382d6e9c1870cea208a3c4f75f3a5aa1723ce4b33df4014ff";
/// What a client that re-serializes floats signs instead (`amount=100.5`): refused.
const RESERIALIZED_SIGNATURE: &str =
    "75bff020b3cb99948b4851deafbc18bf78ffaaa53a68d6317df256584543927c";

async fn a_number_100_50_is_signed_as_its_literal_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let creds = app.merchant_with("M1", "API_SECRET").await;
    let client = app.client_for(&creds);
    let fields = RequestFields::from_json(TRAILING_ZERO_BODY.as_bytes()).unwrap();
    assert_eq!(fields.get("amount"), Some("100.50"));
    let canonical: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(canonical.join("&"), TRAILING_ZERO_CANONICAL);
    assert_eq!(
        hmac_hex("API_SECRET", TRAILING_ZERO_CANONICAL),
        TRAILING_ZERO_SIGNATURE
    );
    assert_eq!(client.sign(&fields), TRAILING_ZERO_SIGNATURE);

    let refused = client
        .post_raw(
            "/octopus/api/order/new",
            TRAILING_ZERO_BODY.into(),
            &creds.api_key,
            RESERIALIZED_SIGNATURE,
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 401, "signed over 100.5: {}", refused.body);
    let answer = client
        .post_raw(
            "/octopus/api/order/new",
            TRAILING_ZERO_BODY.into(),
            &creds.api_key,
            TRAILING_ZERO_SIGNATURE,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["payment"]["amount"], "100.50");
}

/// A fenced block of `lang` after `heading` in a file of docs/.
fn doc_block(file: &str, heading: &str, lang: &str) -> String {
    let path = format!("{}/../../docs/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).unwrap();
    let from = doc
        .find(heading)
        .unwrap_or_else(|| panic!("{heading:?} in docs/{file}"));
    let fence = format!("```{lang}\n");
    let start = doc[from..]
        .find(&fence)
        .unwrap_or_else(|| panic!("a {lang} block after {heading:?}"))
        + from
        + fence.len();
    let end = doc[start..].find("```").unwrap() + start;
    doc[start..end].to_string()
}

/// Whether `program` runs here; says the test is skipped when it does not.
fn available(program: &str, test: &str) -> bool {
    let ok = Command::new(program)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        skipped(&format!("{test}: {program} is not installed"));
    }
    ok
}

/// Runs a Python program with `stdin`; its stdout (panics with its stderr if it fails).
fn python(program: &str, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(program)
        .args(args)
        .env("PYTHONUTF8", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// docs/api.md: the shell snippet and the Python `sign`, run as written, sign bodies the real
/// gateway accepts — with a string amount, a `100.50` number and non-ASCII values.
async fn the_documented_signing_snippets_sign_what_the_gateway_accepts(backend: Backend) {
    const TEST: &str = "the_documented_signing_snippets_sign_what_the_gateway_accepts";
    if !available("python3", TEST) {
        return;
    }
    let app = spawn_app(backend).await;
    let creds = app.merchant_with("M1", "API_SECRET").await;
    let client = app.client_for(&creds);
    let python_sign = doc_block("api.md", "In Python, sign the body", "python");
    let shell = doc_block("api.md", "In shell, for a body", "sh");
    let with_openssl = available("openssl", TEST);
    let bodies = [
        TRAILING_ZERO_BODY.to_string(),
        r#"{"transaction_type":"income","amount":"250.00","currency":"thb","payment":"thailand","country":"thailand","merchant_order_id":"py-2","merchant_uid":"M1","response_type":"json","from_name":"สมชาย ใจดี","notify_url":"https:\/\/example.com\/n"}"#.to_string(),
        r#"{"transaction_type":"income","amount":7000,"currency":"vnd","payment":"momo","country":"vn","merchant_order_id":"py-3","merchant_uid":"M1","response_type":"json","ttl":600}"#.to_string(),
    ];
    for body in &bodies {
        let expected = client.sign(&RequestFields::from_json(body.as_bytes()).unwrap());
        let program = format!(
            "{python_sign}\nimport sys\nsys.stdout.write(sign(sys.stdin.read(), sys.argv[1]))\n"
        );
        let signature = python(&program, &["API_SECRET"], body.as_bytes());
        assert_eq!(signature, expected, "docs/api.md Python sign() of {body}");
        if with_openssl {
            let script = format!("{shell}\nprintf '%s' \"$signature\"");
            let out = Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("BODY", body)
                .env("SECRET", "API_SECRET")
                .env("PYTHONUTF8", "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                expected,
                "docs/api.md shell snippet of {body}"
            );
        }
        let answer = client
            .post_raw(
                "/octopus/api/order/new",
                body.clone(),
                &creds.api_key,
                &signature,
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{body}: {}", answer.body);
    }
    assert_eq!(python(&format!("{python_sign}\nimport sys\nsys.stdout.write(sign(sys.stdin.read(), 'API_SECRET'))\n"), &[], TRAILING_ZERO_BODY.as_bytes()), TRAILING_ZERO_SIGNATURE);
}

/// docs/callbacks.md: the Python `verify`, run as written, accepts the real gateway's
/// callbacks and the worked example, and answers False — never raises — for a changed body or
/// secret, a body that is not JSON or not an object, bytes that are not UTF-8, and a missing,
/// non-hex or non-ASCII header.
async fn the_documented_python_verifier_checks_real_callbacks(backend: Backend) {
    const TEST: &str = "the_documented_python_verifier_checks_real_callbacks";
    if !available("python3", TEST) {
        return;
    }
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let receiver = Receiver::start(vec![], Reply::Success).await;
    let mut order = NewOrder::deposit(
        &m.merchant_uid,
        "py-cb",
        "100.50",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.notify_url = Some(receiver.url.clone());
    let created = app.client.create_order(&order).await.unwrap();
    pay(&created.payment_url).await;
    let got = receiver.wait_for(1, WAIT).await;
    let body = got[0].body.clone();
    let header = got[0]
        .headers
        .get("oc-signature")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(got[0].json["amount"], "100.50");

    let example = doc_block("callbacks.md", "### Worked example", "json");
    let example = example.trim();
    let example_signature = std::fs::read_to_string(format!(
        "{}/../../docs/callbacks.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .split("`Oc-Signature`: `")
    .nth(1)
    .unwrap()
    .split('`')
    .next()
    .unwrap()
    .to_string();
    let secret = m.api_secret.as_str();
    let hexed = |b: &[u8]| hex::encode(b);
    // (body, header, secret, expected)
    let cases: Vec<(String, Value, &str, bool)> = vec![
        (hexed(body.as_bytes()), json!(header), secret, true),
        (
            hexed(body.as_bytes()),
            json!(header.to_uppercase()),
            secret,
            true,
        ),
        (
            hexed(body.as_bytes()),
            json!(format!(" {header}\n")),
            secret,
            true,
        ),
        (
            hexed(body.as_bytes()),
            json!(header),
            "another secret",
            false,
        ),
        (
            hexed(body.replace("100.50", "100.51").as_bytes()),
            json!(header),
            secret,
            false,
        ),
        (
            hexed(example.as_bytes()),
            json!(example_signature),
            "API_SECRET",
            true,
        ),
        (hexed(b"not json"), json!(header), secret, false),
        (hexed(b"[1,2]"), json!(header), secret, false),
        (hexed(b"\"success\""), json!(header), secret, false),
        (hexed(b"\xff\xfe{}"), json!(header), secret, false),
        (hexed(b""), json!(header), secret, false),
        (hexed(body.as_bytes()), Value::Null, secret, false),
        (hexed(body.as_bytes()), json!(""), secret, false),
        (hexed(body.as_bytes()), json!("not hex"), secret, false),
        (hexed(body.as_bytes()), json!("é"), secret, false),
    ];
    let verify = doc_block("callbacks.md", "### Python", "python");
    let program = format!(
        "{verify}\nimport sys\ncases = json.load(sys.stdin)\n\
         print(json.dumps([verify(bytes.fromhex(b), h, s) for b, h, s in cases]))\n"
    );
    let input: Vec<Value> = cases.iter().map(|(b, h, s, _)| json!([b, h, s])).collect();
    let out = python(
        &program,
        &[],
        serde_json::to_string(&input).unwrap().as_bytes(),
    );
    let results: Vec<bool> = serde_json::from_str(out.trim()).unwrap();
    for (i, ((body, header, _, expected), got)) in cases.iter().zip(&results).enumerate() {
        assert_eq!(got, expected, "case {i}: body {body}, header {header}");
    }
}

// ---------------------------------------------------------------------------------------------
// distribute_rules.skipped

/// A 9-digit Wavepay payout: the Paykassma channel's connector refuses the account number, so
/// the order goes to the sandbox and `skipped` says why Paykassma did not take it.
async fn skipped_names_the_connectors_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.live.clone();
    let _pk = PkSim::start(&app, "pk-mm", 10).await;
    // A second live channel for Myanmar payouts: the operator's own accounts (no payee check).
    crate::helpers::accounts::own_channel(&app, "own-mm", &["MM"], &["mmk"]).await;
    app.fund(&m, "mmk", "1000.00").await;
    let nine = NewOrder::payout(
        &m.merchant_uid,
        "nine-digits",
        "100",
        "mmk",
        "wavepay",
        "myanmar",
        "123456789",
        "U Ba",
        "wavepay",
    );
    let sent = app.live_client.create_order(&nine).await.unwrap();
    assert_eq!(sent.payment.channel, "own-mm");
    let rules: Value = serde_json::from_str(&sent.payment.distribute_rules).unwrap();
    assert_eq!(rules["chosen"], "own-mm");
    assert_eq!(
        rules["skipped"]["pk-mm"],
        "The 'to' field must be a wavepay account number of 10 to 11 digits.",
        "{rules}"
    );
    assert!(
        !rules["candidates"]
            .as_array()
            .unwrap()
            .contains(&json!("pk-mm")),
        "{rules}"
    );
    // The same decision is on the stored order.
    let order = app.live_client.get_order("nine-digits").await.unwrap();
    assert_eq!(order.distribute_rules, sent.payment.distribute_rules);
}

// ---------------------------------------------------------------------------------------------
// notify_url at a private address

async fn a_literal_private_notify_url_is_refused_at_order_new_unless_allowed(backend: Backend) {
    let mut config = test_config();
    config.allow_private_callbacks = false;
    let app = spawn_app_with(backend.clone(), config).await;
    let m = app.merchant.clone();
    let refused = [
        ("np-1", "http://127.0.0.1:9/cb", "The 'notify_url' field points to 127.0.0.1, a loopback address; private destinations are not allowed."),
        ("np-2", "http://10.0.0.1/", "The 'notify_url' field points to 10.0.0.1, a private address; private destinations are not allowed."),
        ("np-3", "http://[::1]:8080/cb", "The 'notify_url' field points to ::1, a loopback address; private destinations are not allowed."),
        ("np-4", "http://169.254.169.254/latest/meta-data", "The 'notify_url' field points to 169.254.169.254, a link-local or cloud metadata address; private destinations are not allowed."),
        ("np-5", "http://2130706433/cb", "The 'notify_url' field points to 127.0.0.1, a loopback address; private destinations are not allowed."),
        ("np-6", "ftp://example.com/cb", "The 'notify_url' field must be an absolute http or https URL."),
    ];
    for (id, url, details) in refused {
        let mut order =
            NewOrder::deposit(&m.merchant_uid, id, "100.00", "mmk", "wavepay", "myanmar");
        order.notify_url = Some(url.into());
        let answer = app
            .client
            .post_signed("/octopus/api/order/new", &order.to_fields())
            .await
            .unwrap();
        assert_eq!(
            (answer.status, &answer.body),
            (400, &invalid(details)),
            "{url}"
        );
        assert!(!stored(&app, id).await, "nothing stored for {url}");
        // A payout the same.
        let mut payout = NewOrder::payout(
            &m.merchant_uid,
            &format!("{id}-out"),
            "1.00",
            "mmk",
            "wavepay",
            "myanmar",
            "1234567890",
            "U Ba",
            "wavepay",
        );
        payout.notify_url = Some(url.into());
        let answer = app
            .client
            .post_signed("/octopus/api/order/new", &payout.to_fields())
            .await
            .unwrap();
        assert_eq!(answer.status, 400, "{url}: {}", answer.body);
    }
    // A name is checked at delivery (after DNS), and a public address is fine.
    for (id, url) in [
        ("np-name", "http://localhost:9/cb"),
        ("np-public", "https://203.0.114.1/cb"),
    ] {
        let mut order =
            NewOrder::deposit(&m.merchant_uid, id, "100.00", "mmk", "wavepay", "myanmar");
        order.notify_url = Some(url.into());
        app.client
            .create_order(&order)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }

    // A gateway that allows private callbacks takes them (ftp still not).
    let open = spawn_app(backend).await;
    let m = open.merchant.clone();
    for (id, url) in [
        ("ok-1", "http://127.0.0.1:9/cb"),
        ("ok-2", "http://10.0.0.1/"),
    ] {
        let mut order =
            NewOrder::deposit(&m.merchant_uid, id, "100.00", "mmk", "wavepay", "myanmar");
        order.notify_url = Some(url.into());
        let created = open
            .client
            .create_order(&order)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(created.payment.notify_url, url);
    }
    let mut ftp = NewOrder::deposit(
        &m.merchant_uid,
        "ok-ftp",
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    ftp.notify_url = Some("ftp://example.com/cb".into());
    let answer = open
        .client
        .post_signed("/octopus/api/order/new", &ftp.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 400);
}

crate::on_both_backends!(
    a_fresh_merchant_ledger_names_every_currency,
    blank_identifiers_and_invisible_characters_are_refused_naming_the_field,
    a_number_100_50_is_signed_as_its_literal_text,
    the_documented_signing_snippets_sign_what_the_gateway_accepts,
    the_documented_python_verifier_checks_real_callbacks,
    skipped_names_the_connectors_reason,
    a_literal_private_notify_url_is_refused_at_order_new_unless_allowed,
);
