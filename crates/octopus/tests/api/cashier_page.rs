//! The hosted cashier page in a real headless Chromium: a payer on a phone sees what to pay,
//! presses "Pay" (or "Fail") in the sandbox, sees the result and gets a way back to the
//! merchant; the order moves accordingly. The page's own posts pass the cross-site checks (its
//! origin and token), its stylesheet passes the Content-Security-Policy, and pressing Pay again
//! in a second window shows the page in words, not JSON. On a Paykassma channel the payer sees
//! the Wavepay account, enters the transfer's transaction ID (posted with the page's token), is
//! told what is missing after a short payment, and sees the payment received after the rest.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use headless_chrome::{Browser, LaunchOptions};
use octopus_client::NewOrder;

use crate::helpers::{spawn_app, Backend};

/// The Chromium to drive: `OCTOPUS_CHROMIUM`, or the Debian package's path.
fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("OCTOPUS_CHROMIUM").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

fn browser(path: PathBuf) -> Browser {
    let profile = tempfile::tempdir().unwrap().keep();
    let args: Vec<&OsStr> = [
        "--no-first-run",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    Browser::new(
        LaunchOptions::default_builder()
            .path(Some(path))
            .headless(true)
            .sandbox(false)
            .window_size(Some((390, 844)))
            .user_data_dir(Some(profile))
            .args(args)
            .idle_browser_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
    .expect("launch headless Chromium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_pays_and_fails_on_the_cashier_page_in_chromium() {
    let Some(path) = chromium() else {
        assert!(
            std::env::var_os("OCTOPUS_REQUIRE_CHROMIUM").is_none(),
            "OCTOPUS_REQUIRE_CHROMIUM is set but no Chromium was found"
        );
        crate::helpers::skipped("the cashier page test: no Chromium (install the chromium package or set OCTOPUS_CHROMIUM)");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let uid = app.merchant.merchant_uid.clone();
    let mut pay = NewOrder::deposit(&uid, "page-pay", "250.00", "mmk", "wavepay", "myanmar");
    pay.redirect_url = Some("https://shop.example/thanks?order=page-pay".into());
    pay.additional = Some("Use your own Wavepay account".into());
    let pay = app.client.create_order(&pay).await.unwrap();
    let fail = app
        .client
        .create_order(&NewOrder::deposit(
            &uid,
            "page-fail",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();

    let (pay_url, fail_url) = (pay.payment_url.clone(), fail.payment_url.clone());
    let seen = tokio::task::spawn_blocking(move || {
        let browser = browser(path);
        let tab = browser.new_tab().unwrap();
        let text = |sel: &str| tab.wait_for_element(sel).unwrap().get_inner_text().unwrap();

        tab.navigate_to(&pay_url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        let before = (
            text("#headline"),
            text("#amount"),
            text("#status"),
            text("#additional"),
            text("#merchant-order-id"),
        );
        assert!(
            tab.find_element("#return").is_err(),
            "no way back before paying"
        );
        // The inline stylesheet is allowed by the policy's hash (a blocked one leaves the
        // browser's white background).
        let background = tab
            .evaluate("getComputedStyle(document.body).backgroundColor", false)
            .unwrap()
            .value;
        assert_eq!(
            background,
            Some(serde_json::json!("rgb(244, 245, 247)")),
            "the stylesheet applies under the CSP"
        );
        // A second window on the same order, opened before paying: the payer presses Pay again
        // there once the first has paid.
        let second = browser.new_tab().unwrap();
        second
            .navigate_to(&pay_url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        tab.activate().unwrap();
        tab.wait_for_element("#pay").unwrap().click().unwrap();
        tab.wait_for_element_with_custom_timeout("#return", Duration::from_secs(10))
            .unwrap();
        let after = (text("#headline"), text("#status"));
        let back = tab
            .find_element("#return")
            .unwrap()
            .get_attribute_value("href")
            .unwrap();
        assert!(tab.find_element("#pay").is_err(), "no buttons once paid");
        second.activate().unwrap();
        second.wait_for_element("#pay").unwrap().click().unwrap();
        second.wait_until_navigated().unwrap();
        let body = second
            .wait_for_element("body")
            .unwrap()
            .get_inner_text()
            .unwrap();
        assert!(
            !body.trim_start().starts_with('{'),
            "JSON shown to the payer: {body}"
        );
        second
            .wait_for_element_with_custom_timeout("#return", Duration::from_secs(10))
            .unwrap();
        let read = |sel: &str| {
            second
                .wait_for_element(sel)
                .unwrap()
                .get_inner_text()
                .unwrap()
        };
        let again = (read("#headline"), read("#status"), read("#message"));

        tab.activate().unwrap();
        tab.navigate_to(&fail_url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        tab.wait_for_element("#fail").unwrap().click().unwrap();
        tab.wait_for_element_with_custom_timeout("#fail-reason", Duration::from_secs(10))
            .unwrap();
        let failed = (text("#headline"), text("#status"), text("#fail-reason"));
        (before, after, back, failed, again)
    })
    .await
    .unwrap();

    let (before, after, back, failed, again) = seen;
    assert_eq!(
        again,
        (
            "Payment received".to_string(),
            "completed".to_string(),
            "This payment had already ended, so nothing was changed.".to_string()
        )
    );
    assert_eq!(before.0, "Waiting for your payment");
    assert_eq!(before.1, "250.00 MMK");
    assert_eq!(before.2, "pending");
    assert_eq!(before.3, "Use your own Wavepay account");
    assert_eq!(before.4, "page-pay");
    assert_eq!(
        after,
        ("Payment received".to_string(), "completed".to_string())
    );
    assert_eq!(
        back.as_deref(),
        Some("https://shop.example/thanks?order=page-pay")
    );
    assert_eq!(failed.0, "Payment failed");
    assert_eq!(failed.1, "failed");
    assert_eq!(failed.2, "The payer failed the payment in the sandbox");

    assert_eq!(
        app.client
            .get_order("page-pay")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
    assert_eq!(
        app.client
            .get_order("page-fail")
            .await
            .unwrap()
            .payment_status,
        "failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_confirms_a_wavepay_transfer_on_the_page_in_chromium() {
    let Some(path) = chromium() else {
        assert!(
            std::env::var_os("OCTOPUS_REQUIRE_CHROMIUM").is_none(),
            "OCTOPUS_REQUIRE_CHROMIUM is set but no Chromium was found"
        );
        crate::helpers::skipped("the Wavepay page test: no Chromium (install the chromium package or set OCTOPUS_CHROMIUM)");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let pk = crate::helpers::paykassma::PkSim::start(&app, "pk-mm", 10).await;
    let uid = app.merchant.merchant_uid.clone();
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &uid, "page-pk", "6000.00", "mmk", "wavepay", "myanmar",
        ))
        .await
        .unwrap();
    pk.sim.transfer("TXPART", 5000, "MMK");
    pk.sim.transfer("TXREST", 1000, "MMK");
    let url = created.payment_url.clone();
    let (account, short, done) = tokio::task::spawn_blocking(move || {
        let browser = browser(path);
        let tab = browser.new_tab().unwrap();
        let text = |sel: &str| tab.wait_for_element(sel).unwrap().get_inner_text().unwrap();
        tab.navigate_to(&url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        let account = text("#pay-account");
        let confirm = |id: &str| {
            tab.wait_for_element("#transaction_id")
                .unwrap()
                .click()
                .unwrap();
            tab.type_str(id).unwrap();
            tab.wait_for_element("#confirm").unwrap().click().unwrap();
            tab.wait_until_navigated().unwrap();
        };
        confirm("TXPART");
        let short = (text("#status"), text("#message"));
        confirm("TXREST");
        tab.wait_for_element_with_custom_timeout("#headline", Duration::from_secs(10))
            .unwrap();
        let done = (text("#headline"), text("#status"));
        assert!(
            tab.find_element("#transaction_id").is_err(),
            "no form once paid"
        );
        (account, short, done)
    })
    .await
    .unwrap();
    assert!(
        account.starts_with("09") && account.len() == 11,
        "{account}"
    );
    assert_eq!(short.0, "processing");
    assert!(
        short.1.contains("1000.00 MMK is still missing"),
        "{}",
        short.1
    );
    assert_eq!(
        done,
        ("Payment received".to_string(), "completed".to_string())
    );
    assert_eq!(
        app.client.get_order("page-pk").await.unwrap().final_amount,
        "6000.00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_payment_pages_are_not_found() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = crate::helpers::http()
        .get(format!("{}/octopus/pay/{}", app.base_url, "f".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Payment not found"));
    // A payout has no payment page.
    let uid = app.merchant.merchant_uid.clone();
    app.fund(&app.merchant, "usd", "5").await;
    let payout = app
        .client
        .create_order(&NewOrder::payout(
            &uid, "np-1", "5", "usd", "bank", "US", "1", "A", "B",
        ))
        .await
        .unwrap();
    let r = crate::helpers::http()
        .get(format!(
            "{}/octopus/pay/{}",
            app.base_url, payout.payment.payment_uid
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
