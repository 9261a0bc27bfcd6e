//! The hosted cashier page in a real headless Chromium: a payer on a phone sees what to pay,
//! presses "Pay" (or "Fail") in the sandbox, sees the result and gets a way back to the
//! merchant; the order moves accordingly. The page's own posts pass the cross-site checks (its
//! origin and token), its stylesheet passes the Content-Security-Policy, and pressing Pay again
//! in a second window shows the page in words, not JSON. On a Paykassma channel the payer sees
//! the Wavepay account, enters the transfer's transaction ID (posted with the page's token), is
//! told what is missing after a short payment, and sees the payment received after the rest.
//! In Thai, Burmese and Chinese the payer reads the page in their language (from the order's
//! `lang`, the browser's `Accept-Language`, the switcher), and the open page turns to the
//! received words by itself once the order is paid from elsewhere.

use std::time::Duration;

use headless_chrome::protocol::cdp::Emulation::SetScriptExecutionDisabled;
use headless_chrome::Tab;
use octopus_client::NewOrder;

use crate::helpers::chromium::{browser, evaluate, html_lang, page_status, wait_for_text};
use crate::helpers::{spawn_app, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_pays_and_fails_on_the_cashier_page_in_chromium() {
    let Some(path) = crate::helpers::chromium::required("the cashier page test") else {
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
            page_status(&tab),
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
        // there once the first has paid. Its JavaScript is off, as on a phone that has it off,
        // so the page does not update itself before the press.
        let second = browser.new_tab().unwrap();
        second
            .call_method(SetScriptExecutionDisabled { value: true })
            .unwrap();
        second
            .navigate_to(&pay_url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        tab.activate().unwrap();
        tab.wait_for_element("#pay").unwrap().click().unwrap();
        tab.wait_for_element_with_custom_timeout("#return", Duration::from_secs(10))
            .unwrap();
        let after = (text("#headline"), page_status(&tab));
        let back = tab
            .find_element("#return")
            .unwrap()
            .get_attribute_value("href")
            .unwrap();
        assert!(tab.find_element("#pay").is_err(), "no buttons once paid");
        second.activate().unwrap();
        // Without the script, the press by the mouse where the button is (the element helpers
        // that run script in the page are unavailable there).
        let button = second
            .wait_for_element("#pay")
            .unwrap()
            .get_midpoint()
            .unwrap();
        if let Err(e) = second.click_point(button) {
            // It may answer after the form's post has begun to replace the page.
            assert!(e.to_string().contains("navigated"), "{e}");
        }
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
        let again = (read("#headline"), page_status(&second), read("#message"));

        tab.activate().unwrap();
        tab.navigate_to(&fail_url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        tab.wait_for_element("#fail").unwrap().click().unwrap();
        tab.wait_for_element_with_custom_timeout("#fail-reason", Duration::from_secs(10))
            .unwrap();
        let failed = (text("#headline"), page_status(&tab), text("#fail-reason"));
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
    let Some(path) = crate::helpers::chromium::required("the Wavepay page test") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let pk = crate::helpers::paykassma::PkSim::start(&app, "pk-mm", 10).await;
    let uid = app.live.merchant_uid.clone();
    let created = app
        .live_client
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
        let short = (page_status(&tab), text("#message"));
        confirm("TXREST");
        tab.wait_for_element_with_custom_timeout("#headline", Duration::from_secs(10))
            .unwrap();
        let done = (text("#headline"), page_status(&tab));
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
        app.live_client
            .get_order("page-pk")
            .await
            .unwrap()
            .final_amount,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_reads_the_page_in_thai_burmese_and_chinese_and_it_turns_to_received_in_chromium() {
    let Some(path) = crate::helpers::chromium::required("the cashier languages test") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    let uid = app.merchant.merchant_uid.clone();
    // Thai because the merchant says so (`lang`); Chinese by the payer's switch from a Thai
    // page; Burmese from the browser's Accept-Language on an order of no stated language.
    let mut thai = NewOrder::deposit(&uid, "lang-th", "500.00", "thb", "thailand", "thailand");
    thai.extra.insert("lang".into(), "th".into());
    let mut chinese = NewOrder::deposit(&uid, "lang-zh", "88.00", "thb", "thailand", "thailand");
    chinese.extra.insert("lang".into(), "th".into());
    let mut burmese = NewOrder::deposit(&uid, "lang-my", "1000.00", "mmk", "wavepay", "US");
    // Back to a page of this gateway, so that the going back can be seen arriving.
    let back_to = format!("{}/healthz", app.base_url);
    burmese.redirect_url = Some(back_to.clone());
    let urls: Vec<String> = {
        let mut urls = Vec::new();
        for order in [&thai, &chinese, &burmese] {
            urls.push(app.client.create_order(order).await.unwrap().payment_url);
        }
        urls
    };
    let runtime = tokio::runtime::Handle::current();
    let back = back_to.clone();
    let seen = tokio::task::spawn_blocking(move || {
        let pay = |url: &str| {
            let r = runtime.block_on(crate::helpers::simulate(url, "completed"));
            assert_eq!(r.status(), 303, "paid {url}");
        };
        let browser = browser(path);
        let waiting_and_received = |tab: &Tab, url: &str, waiting: &str, received: &str| {
            let before = wait_for_text(tab, "#headline", waiting, Duration::from_secs(10));
            let status_words = tab
                .find_element("#status")
                .unwrap()
                .get_inner_text()
                .unwrap();
            pay(url);
            // No navigation from here: the page sees the status change and shows itself again.
            let after = wait_for_text(tab, "#headline", received, Duration::from_secs(30));
            (
                before,
                status_words,
                after,
                page_status(tab),
                html_lang(tab),
            )
        };

        // Thai.
        let tab = browser.new_tab().unwrap();
        tab.navigate_to(&urls[0])
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        let lang_before = html_lang(&tab);
        let switcher = tab
            .find_element("#languages")
            .unwrap()
            .get_inner_text()
            .unwrap();
        let thai = waiting_and_received(&tab, &urls[0], "รอการชำระเงินของคุณ", "ได้รับการชำระเงินแล้ว");

        // Chinese, switched to on a Thai page.
        tab.navigate_to(&urls[1])
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        let was = tab
            .wait_for_element("#headline")
            .unwrap()
            .get_inner_text()
            .unwrap();
        tab.wait_for_element("#lang-zh-Hans")
            .unwrap()
            .click()
            .unwrap();
        tab.wait_until_navigated().unwrap();
        let switched_url = evaluate(&tab, "location.href");
        let chinese = waiting_and_received(&tab, &urls[1], "等待您付款", "已收到付款");
        let kept_url = evaluate(&tab, "location.href");

        // Burmese, from the browser's languages.
        let tab = browser.new_tab().unwrap();
        let agent = browser.get_version().unwrap().user_agent;
        tab.set_user_agent(&agent, Some("my-MM,my;q=0.9,en;q=0.5"), None)
            .unwrap();
        tab.navigate_to(&urls[2])
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        let burmese =
            waiting_and_received(&tab, &urls[2], "သင့်ငွေပေးချေမှုကို စောင့်နေပါသည်", "ငွေလက်ခံရရှိပါပြီ");
        let going_back = tab
            .find_element("#going-back")
            .and_then(|e| e.get_inner_text())
            .unwrap_or_default();
        // And then back to the merchant, by itself.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !tab.get_url().starts_with(&back) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let returned_to = tab.get_url();
        (
            lang_before,
            switcher,
            thai,
            was,
            switched_url,
            chinese,
            kept_url,
            burmese,
            going_back,
            returned_to,
        )
    })
    .await
    .unwrap();
    let (
        lang_before,
        switcher,
        thai,
        was,
        switched_url,
        chinese,
        kept_url,
        burmese,
        going_back,
        returned_to,
    ) = seen;
    assert_eq!(lang_before, "th");
    for name in [
        "English",
        "ไทย",
        "မြန်မာ",
        "简体中文",
        "हिन्दी",
        "বাংলা",
        "Tiếng Việt",
        "Bahasa Indonesia",
    ] {
        assert!(
            switcher.contains(name),
            "{name} in the switcher: {switcher}"
        );
    }
    let done = |waiting: &str, words: &str, received: &str, lang: &str| {
        (
            waiting.to_string(),
            words.to_string(),
            received.to_string(),
            "completed".to_string(),
            lang.to_string(),
        )
    };
    assert_eq!(
        thai,
        done("รอการชำระเงินของคุณ", "รอชำระ", "ได้รับการชำระเงินแล้ว", "th")
    );
    assert_eq!(was, "รอการชำระเงินของคุณ", "Thai before the switch");
    assert!(switched_url.ends_with("?lang=zh-Hans"), "{switched_url}");
    assert_eq!(
        chinese,
        done("等待您付款", "待付款", "已收到付款", "zh-Hans")
    );
    assert!(
        kept_url.ends_with("?lang=zh-Hans"),
        "the page came back in the chosen language: {kept_url}"
    );
    assert_eq!(
        burmese,
        done("သင့်ငွေပေးချေမှုကို စောင့်နေပါသည်", "စောင့်နေသည်", "ငွေလက်ခံရရှိပါပြီ", "my")
    );
    assert!(going_back.contains("ပြန်ပို့နေပါသည်"), "{going_back}");
    assert!(
        returned_to.starts_with(&back_to),
        "back to the merchant: {returned_to}"
    );
    for id in ["lang-th", "lang-zh", "lang-my"] {
        assert_eq!(
            app.client.get_order(id).await.unwrap().payment_status,
            "completed"
        );
    }
}
