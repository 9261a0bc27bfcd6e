//! The operator console in a real headless Chromium (issue 13): an admin created with the CLI
//! signs in with the one-time password, chooses a password, enrols TOTP from the page's QR
//! secret (codes computed as an authenticator app does), signs out and in again with a code;
//! finds an order by merchant_order_id and by payment_uid, reads its history and callback
//! attempts, resends the failed callback, refunds the deposit with a reason (ticking the
//! confirmation), approves a payout held for review, assigns a transfer waiting in suspense,
//! and exports the filtered orders as CSV (the file's rows are the filtered set). With
//! `OCTOPUS_SCREENSHOTS=<dir>` the pages are saved as PNGs there (docs/console.md's).
//! Without a browser: every console answer carries the security headers, and a visitor who
//! is not signed in is sent to the sign-in.

use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::Tab;
use octopus_client::NewOrder;
use octopus_server::services::two_factor::code_at;
use serde_json::Value;

use crate::helpers::accounts::{octopus, own_channel, thai_promptpay};
use crate::helpers::admin::now_ms;
use crate::helpers::chromium::{browser, evaluate};
use crate::helpers::receiver::{Receiver, Reply};
use crate::helpers::{pay, spawn_app, Backend};

const WAIT: Duration = Duration::from_secs(15);

/// Saves the tab as `<name>.png` in `OCTOPUS_SCREENSHOTS`, when set.
fn screenshot(tab: &Tab, name: &str) {
    let Some(dir) = std::env::var_os("OCTOPUS_SCREENSHOTS") else {
        return;
    };
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
}

/// Sets a field's value as typing would leave it (typing key by key is slow over CDP).
fn fill(tab: &Tab, selector: &str, text: &str) {
    tab.wait_for_element(selector).unwrap();
    tab.evaluate(
        &format!(
            "(f => {{ f.value = {text:?}; f.dispatchEvent(new Event('input', {{bubbles: true}})); }})(document.querySelector({selector:?}))"
        ),
        false,
    )
    .unwrap();
}

fn click(tab: &Tab, selector: &str) {
    tab.wait_for_element(selector).unwrap().click().unwrap();
}

/// Waits until `expression` (JavaScript) is true in the page.
fn wait_until(tab: &Tab, expression: &str, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(v) = tab.evaluate(expression, false) {
            if v.value == Some(Value::Bool(true)) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never true: {expression}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn path_is(tab: &Tab, path: &str) {
    wait_until(
        tab,
        &format!("location.pathname === {path:?} && document.readyState === 'complete'"),
        &format!("at {path}"),
    );
}

fn text_of(tab: &Tab, selector: &str) -> String {
    evaluate(
        tab,
        &format!("(document.querySelector({selector:?}) || {{}}).innerText || ''"),
    )
}

/// Signs in on the sign-in page (a code when given).
fn sign_in(tab: &Tab, base: &str, email: &str, password: &str, code: Option<&str>) {
    tab.navigate_to(&format!("{base}/console/sign-in"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    fill(tab, "input[name=email]", email);
    fill(tab, "input[name=password]", password);
    if let Some(code) = code {
        fill(tab, "input[name=code]", code);
    }
    click(tab, "#sign-in button");
}

/// Ticks the confirmation of form `id`, fills its fields, submits it.
fn act(tab: &Tab, id: &str, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        fill(tab, &format!("#{id} input[name={name}]"), value);
    }
    if tab
        .find_element(&format!("#{id} input[name=confirm]"))
        .is_ok()
    {
        click(tab, &format!("#{id} input[name=confirm]"));
    }
    click(tab, &format!("#{id} button"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_through_the_console_in_chromium() {
    let Some(path) = crate::helpers::chromium::required("the console test") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let m = app.merchant.clone();
    // A deposit whose callbacks fail for a while, paid: completed, with failed attempts.
    let receiver = Receiver::start(vec![Reply::Answer(500, "down"); 3], Reply::Success).await;
    let mut deposit = NewOrder::deposit(
        &m.merchant_uid,
        "shop-42",
        "120.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    deposit.notify_url = Some(receiver.url.clone());
    let created = app.client.create_order(&deposit).await.unwrap();
    let paid_uid = created.payment.payment_uid.clone();
    pay(&created.payment_url).await;
    receiver.wait_for(1, WAIT).await;
    for i in 0..4 {
        app.client
            .create_order(&NewOrder::deposit(
                &m.merchant_uid,
                &format!("other-{i}"),
                "10.00",
                "mmk",
                "wavepay",
                "myanmar",
            ))
            .await
            .unwrap();
    }
    // A payout held for review.
    app.fund(&m, "thb", "5000.00").await;
    octopus(
        &app,
        &["review", "set", "--currency", "thb", "--above", "1000"],
    );
    let held = app
        .client
        .create_order(&NewOrder::payout(
            &m.merchant_uid,
            "big-payout",
            "1500.00",
            "thb",
            "bank",
            "TH",
            "1234567890",
            "Somchai Jaidee",
            "KBANK",
        ))
        .await
        .unwrap()
        .payment;
    assert_eq!(held.payment_status, "preparing");
    // A transfer no order takes, on an own account: suspense; and the deposit it belongs to.
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let live_deposit = app
        .live_client
        .create_order(&NewOrder {
            float_precision: Some("2".into()),
            ..NewOrder::deposit(
                &app.live.merchant_uid,
                "th-late",
                "500.00",
                "thb",
                "thailand",
                "thailand",
            )
        })
        .await
        .unwrap()
        .payment;
    let outcome = account
        .report(&account.transfer("500.00", "thb", "FT-ODD"))
        .await;
    assert_eq!(outcome["outcome"], "suspense");

    let created_admin: Value = serde_json::from_str(
        octopus(
            &app,
            &[
                "operator",
                "create",
                "--email",
                "boss@example.com",
                "--role",
                "admin",
            ],
        )
        .trim(),
    )
    .unwrap();
    let first_password = created_admin["password"].as_str().unwrap().to_string();
    let base = app.base_url.clone();
    let held_uid = held.payment_uid.clone();
    let live_uid = live_deposit.payment_uid.clone();
    let paid = paid_uid.clone();

    let seen = tokio::task::spawn_blocking(move || {
        let browser = browser(path);
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(WAIT);
        let password = "correct horse battery staple";

        // Not signed in: the console sends the visitor to the sign-in.
        tab.navigate_to(&format!("{base}/console/orders")).unwrap();
        path_is(&tab, "/console/sign-in");
        screenshot(&tab, "sign-in");
        // The one-time password leads to the account page: choose a password.
        sign_in(&tab, &base, "boss@example.com", &first_password, None);
        path_is(&tab, "/console/account");
        fill(&tab, "#password-form input[name=current_password]", &first_password);
        fill(&tab, "#password-form input[name=new_password]", password);
        click(&tab, "#password-form button");
        path_is(&tab, "/console/sign-in");
        // Signed in again: an admin enrols TOTP before anything else.
        sign_in(&tab, &base, "boss@example.com", password, None);
        path_is(&tab, "/console/account");
        click(&tab, "#enrol-start button");
        wait_until(&tab, "!document.getElementById('enrolment').hidden", "the QR code shows");
        assert!(evaluate(&tab, "document.querySelector('#totp-qr svg') ? 'yes' : ''") == "yes");
        screenshot(&tab, "enrol-totp");
        let secret = text_of(&tab, "#totp-secret");
        fill(&tab, "#enrol-confirm input[name=code]", &code_at(&secret, now_ms()).unwrap());
        click(&tab, "#enrol-confirm button");
        wait_until(&tab, "!document.getElementById('recovery').hidden", "recovery codes show");
        let codes = evaluate(&tab, "String(document.querySelectorAll('#recovery-codes li').length)");
        click(&tab, "#continue");
        path_is(&tab, "/console");
        // Signing out and in again takes a code (the next one: the enrolling code is used).
        click(&tab, "#sign-out");
        path_is(&tab, "/console/sign-in");
        let next = code_at(&secret, now_ms() + 30_000).unwrap();
        sign_in(&tab, &base, "boss@example.com", password, Some(&next));
        path_is(&tab, "/console");
        wait_until(&tab, "!!document.querySelector('#orders-by-hour')", "the dashboard's chart");
        let tiles = text_of(&tab, "#tiles");
        screenshot(&tab, "dashboard");

        // Find the order by merchant_order_id, then by payment_uid.
        tab.navigate_to(&format!("{base}/console/orders")).unwrap();
        path_is(&tab, "/console/orders");
        fill(&tab, "#filters input[name=q]", "shop-42");
        click(&tab, "#search");
        wait_until(&tab, "document.querySelectorAll('#table tbody tr').length === 1", "one order found");
        let by_id = text_of(&tab, "#table tbody");
        screenshot(&tab, "orders");
        fill(&tab, "#filters input[name=q]", &paid);
        click(&tab, "#search");
        wait_until(
            &tab,
            &format!("document.querySelectorAll('#table tbody tr').length === 1 && document.querySelector('#table tbody').innerText.includes({paid:?})"),
            "found by payment_uid",
        );
        click(&tab, &format!("#table a[href='/console/orders/{paid}']"));
        path_is(&tab, &format!("/console/orders/{paid}"));
        let history = text_of(&tab, "#history");
        let attempts = text_of(&tab, "#callbacks");
        screenshot(&tab, "order");
        // Resend the failed callback: a manual one is listed.
        click(&tab, "#resend button");
        wait_until(&tab, "document.querySelector('#callbacks').innerText.includes('(manual)')", "the manual callback");
        // Refund with a reason, the confirmation ticked.
        act(&tab, "refund", &[("reason", "payer asked twice")]);
        wait_until(&tab, "document.querySelector('#order-status') && document.querySelector('#order-status').innerText === 'refund'", "refunded");
        let after_refund = text_of(&tab, "#history");

        // Approve the payout held for review.
        tab.navigate_to(&format!("{base}/console/payouts")).unwrap();
        path_is(&tab, "/console/payouts");
        screenshot(&tab, "payouts");
        act(&tab, &format!("approve-{held_uid}"), &[("reason", "known payee")]);
        wait_until(&tab, &format!("!document.getElementById('approve-{held_uid}')"), "the payout left review");

        // Assign the transfer in suspense to its deposit.
        tab.navigate_to(&format!("{base}/console/suspense")).unwrap();
        path_is(&tab, "/console/suspense");
        let transfer_form = evaluate(&tab, "document.querySelector('form[id^=assign-]').id");
        screenshot(&tab, "suspense");
        act(&tab, &transfer_form, &[("payment_uid", &live_uid), ("reason", "payer sent the round amount")]);
        wait_until(&tab, "!!document.querySelector('#empty')", "suspense emptied");

        // Export the filtered orders: the file's rows are the filtered set.
        tab.navigate_to(&format!("{base}/console/orders?type=income&amount_max=100&test=true"))
            .unwrap();
        path_is(&tab, "/console/orders");
        let listed = evaluate(&tab, "Array.from(document.querySelectorAll('#table tbody tr td:nth-child(2)')).map(td => td.innerText).join(',')");
        let exported = tab
            .evaluate(
                "fetch(document.querySelector('#export').href).then(r => r.text())",
                true,
            )
            .unwrap()
            .value
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        (codes, tiles, by_id, history, attempts, after_refund, listed, exported)
    })
    .await
    .unwrap();
    let (codes, tiles, by_id, history, attempts, after_refund, listed, exported) = seen;
    assert_eq!(codes, "10", "ten recovery codes");
    assert!(tiles.contains("Orders"), "{tiles}");
    assert!(
        by_id.contains("shop-42") && by_id.contains(&paid_uid),
        "{by_id}"
    );
    assert!(history.contains("completed"), "{history}");
    assert!(attempts.contains("500"), "the failed attempts: {attempts}");
    assert!(
        after_refund.contains("refunded by boss@example.com: payer asked twice"),
        "{after_refund}"
    );
    let csv_uids: Vec<&str> = exported
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    let listed_uids: Vec<&str> = listed.split(',').filter(|s| !s.is_empty()).collect();
    assert_eq!(csv_uids, listed_uids, "the CSV is the filtered list");
    assert_eq!(csv_uids.len(), 4, "the four small test deposits");

    // What the browser did, seen from the gateway.
    let refunded = app
        .storage()
        .order_by_payment_uid(&paid_uid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refunded.payment_status.as_str(), "refund");
    app.wait_for_status(&app.client, "big-payout", "completed", WAIT)
        .await;
    let assigned = app.live_client.get_order("th-late").await.unwrap();
    assert_eq!(assigned.payment_status, "completed");
    let audit = crate::helpers::accounts::json_lines(&octopus(&app, &["operator", "audit"]));
    for action in [
        "order.resend_callback",
        "order.refund",
        "payout.approve",
        "suspense.assign",
        "operator.totp",
    ] {
        let line = audit
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} audited"));
        assert_eq!(line["actor"], "boss@example.com", "{action}");
    }
    app.assert_ledger_sound().await;
}

/// The merchant console in Chromium: a user invited with the CLI signs in, chooses a
/// password, enrols TOTP, signs in again with a code, sees its merchant's orders and not
/// another merchant's (even when searching for them), creates a key (its secret shown once,
/// and it signs a real request) and revokes it (refused from then on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_user_works_through_the_merchant_console_in_chromium() {
    let Some(path) = crate::helpers::chromium::required("the merchant console test") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let m = app.merchant.clone();
    let other = app.new_merchant("Other shop").await;
    for (creds, id) in [(&m, "mine-1"), (&m, "mine-2"), (&other, "theirs-1")] {
        app.client_for(creds)
            .create_order(&NewOrder::deposit(
                &creds.merchant_uid,
                id,
                "10.00",
                "mmk",
                "wavepay",
                "myanmar",
            ))
            .await
            .unwrap();
    }
    let invited: Value = serde_json::from_str(
        octopus(
            &app,
            &[
                "operator",
                "invite",
                "--email",
                "shop@example.com",
                "--merchant",
                &m.merchant_uid,
            ],
        )
        .trim(),
    )
    .unwrap();
    let first_password = invited["password"].as_str().unwrap().to_string();
    let base = app.base_url.clone();
    let runtime = tokio::runtime::Handle::current();
    let mine = m.clone();
    let server = app.base_url.clone();
    let client_for = move |c: &crate::helpers::Creds| {
        octopus_client::Client::new(&server, &c.api_key, &c.api_secret)
    };
    let seen = tokio::task::spawn_blocking(move || {
        let browser = browser(path);
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(WAIT);
        let password = "a merchant's own passphrase";
        tab.navigate_to(&format!("{base}/merchant")).unwrap();
        path_is(&tab, "/merchant/sign-in");
        fill(&tab, "input[name=email]", "shop@example.com");
        fill(&tab, "input[name=password]", &first_password);
        click(&tab, "#sign-in button");
        path_is(&tab, "/merchant/account");
        fill(
            &tab,
            "#password-form input[name=current_password]",
            &first_password,
        );
        fill(&tab, "#password-form input[name=new_password]", password);
        click(&tab, "#password-form button");
        path_is(&tab, "/merchant/sign-in");
        fill(&tab, "input[name=email]", "shop@example.com");
        fill(&tab, "input[name=password]", password);
        click(&tab, "#sign-in button");
        path_is(&tab, "/merchant/account");
        click(&tab, "#enrol-start button");
        wait_until(
            &tab,
            "!document.getElementById('enrolment').hidden",
            "the QR code shows",
        );
        let secret = text_of(&tab, "#totp-secret");
        fill(
            &tab,
            "#enrol-confirm input[name=code]",
            &code_at(&secret, now_ms()).unwrap(),
        );
        click(&tab, "#enrol-confirm button");
        wait_until(
            &tab,
            "!document.getElementById('recovery').hidden",
            "recovery codes show",
        );
        click(&tab, "#sign-out");
        path_is(&tab, "/merchant/sign-in");
        fill(&tab, "input[name=email]", "shop@example.com");
        fill(&tab, "input[name=password]", password);
        fill(
            &tab,
            "input[name=code]",
            &code_at(&secret, now_ms() + 30_000).unwrap(),
        );
        click(&tab, "#sign-in button");
        path_is(&tab, "/merchant");
        wait_until(
            &tab,
            "document.querySelectorAll('#table tbody tr').length === 2",
            "two orders",
        );
        let listed = text_of(&tab, "#table tbody");
        screenshot(&tab, "merchant-orders");
        fill(&tab, "#filters input[name=q]", "theirs-1");
        click(&tab, "#search");
        wait_until(
            &tab,
            "!!document.querySelector('#empty')",
            "nothing of the other merchant",
        );
        // A key: created (the secret shown once), then revoked.
        tab.navigate_to(&format!("{base}/merchant/keys")).unwrap();
        path_is(&tab, "/merchant/keys");
        fill(&tab, "#new-key input[name=mode]", "test");
        fill(&tab, "#new-key input[name=label]", "checkout backend");
        click(&tab, "#new-key button");
        wait_until(
            &tab,
            "!!document.querySelector('#new-key pre.shown-once')",
            "the secret shown",
        );
        let shown = text_of(&tab, "#new-key pre.shown-once");
        screenshot(&tab, "merchant-keys");
        let key: Value = serde_json::from_str(&shown).unwrap();
        let fresh = crate::helpers::Creds {
            api_key: key["api_key"].as_str().unwrap().to_string(),
            api_secret: key["api_secret"].as_str().unwrap().to_string(),
            ..mine.clone()
        };
        // The new key signs a real request of the merchant's.
        let works = runtime
            .block_on(client_for(&fresh).get_order("mine-1"))
            .is_ok();
        tab.navigate_to(&format!("{base}/merchant/keys")).unwrap();
        path_is(&tab, "/merchant/keys");
        act(&tab, &format!("revoke-{}", fresh.api_key), &[]);
        wait_until(
            &tab,
            &format!("!document.getElementById('revoke-{}')", fresh.api_key),
            "the key revoked",
        );
        (listed, works, fresh)
    })
    .await
    .unwrap();
    let (listed, works, fresh) = seen;
    assert!(
        listed.contains("mine-1") && listed.contains("mine-2"),
        "{listed}"
    );
    assert!(!listed.contains("theirs-1"), "{listed}");
    assert!(works, "the key created in the console signs requests");
    let deadline = Instant::now() + WAIT;
    while app.client_for(&fresh).get_order("mine-1").await.is_ok() {
        assert!(Instant::now() < deadline, "the revoked key is refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The setup pages render what the admin API holds, with the forms the role may use: an
/// admin sees the merchant, its keys and the channels with their forms; a viewer the same
/// lists without a form that changes anything; every page escapes what it shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_pages_show_the_setup_and_only_the_forms_the_role_may_use() {
    let app = spawn_app(Backend::Sqlite).await;
    let m = app.merchant.clone();
    octopus(
        &app,
        &[
            "blocklist",
            "add",
            "--kind",
            "payer_account",
            "--value",
            "0164-223-4663",
            "--reason",
            "<script>x</script>",
        ],
    );
    let get = |session: &crate::helpers::admin::AdminSession, path: String| {
        let (base, cookie) = (session.base.clone(), session.cookie.clone());
        async move {
            let answer = reqwest::Client::new()
                .get(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, cookie)
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let admin = crate::helpers::admin::operator(&app, "boss@example.com", "admin").await;
    let viewer = crate::helpers::admin::operator(&app, "view@example.com", "viewer").await;
    let merchant_page = format!("/console/merchants/{}", m.merchant_uid);
    for (path, shows, form) in [
        (
            "/console/merchants".to_string(),
            m.merchant_uid.clone(),
            "new-merchant",
        ),
        (merchant_page.clone(), m.api_key.clone(), "new-key"),
        (
            "/console/channels".to_string(),
            "sandbox".to_string(),
            "save-channel",
        ),
        (
            "/console/accounts".to_string(),
            "No own account yet".to_string(),
            "add-account",
        ),
        (
            "/console/risk".to_string(),
            "blocked payer_account".to_string(),
            "add-block",
        ),
    ] {
        let (status, page) = get(&admin, path.clone()).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains(&shows), "{path} shows {shows}");
        assert!(
            page.contains(&format!("id=\"{form}\"")),
            "{path}: the admin's form {form}"
        );
        assert!(!page.contains("<script>x"), "{path} escapes what it shows");
        let (status, page) = get(&viewer, path.clone()).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains(&shows), "a viewer reads {path}");
        assert!(
            !page.contains(&format!("id=\"{form}\"")),
            "{path}: no {form} for a viewer"
        );
        assert!(
            !page.contains("data-method=\"POST\""),
            "{path}: no changing form for a viewer"
        );
    }
}

/// Every console answer — a page, an asset, a redirect — carries the security headers; a
/// visitor who is not signed in is sent to the sign-in; the assets are served from the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_answers_carry_security_headers_and_send_strangers_to_the_sign_in() {
    let app = spawn_app(Backend::Sqlite).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The API reference is rendered from the OpenAPI document, escaped.
    let reference = http
        .get(format!("{}/console/api", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        "POST /octopus/api/order/new",
        "GET /octopus/admin/v1/orders",
        "MoveMoney",
        "merchant_order_id",
    ] {
        assert!(reference.contains(shown), "the reference shows {shown}");
    }
    for (path, status) in [
        ("/console", 303),
        ("/console/orders?q=x", 303),
        ("/console/sign-in", 200),
        ("/console/api", 200),
        ("/console/static/htmx.min.js", 200),
        ("/console/static/console.js", 200),
        ("/console/static/nothing.js", 404),
    ] {
        let answer = http
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{path}");
        let h = answer.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        if status == 303 {
            assert_eq!(h["location"], "/console/sign-in", "{path}");
        }
    }
}
