//! The cashier page over plain HTTP as a phone's browser meets it: it speaks the payer's
//! language, chosen by the page's `lang`, then the order's `lang` (sent by the merchant), then
//! `Accept-Language` (by quality), then the order's country; an explicit choice survives the
//! page's forms and redirects, and refusals speak it too; the status endpoint the page's
//! script asks says only this order's status; the inline script and stylesheet are exactly the
//! ones the Content-Security-Policy allows; and without the script the page reloads itself.

use base64::Engine;
use octopus_client::NewOrder;
use sha2::{Digest, Sha256};

use crate::helpers::{page_token, spawn_app, Backend, TestApp};

/// A client that sends `Accept-Language` only when told (the shared one always says `en`).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(url: &str, accept_language: Option<&str>) -> (u16, String) {
    let mut request = browser().get(url);
    if let Some(value) = accept_language {
        request = request.header("Accept-Language", value);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The `<html lang>` of a page.
fn lang_of(html: &str) -> &str {
    html.split("<html lang=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
}

async fn thai_deposit(app: &TestApp, id: &str, lang: Option<&str>) -> String {
    let mut order = NewOrder::deposit(
        &app.merchant.merchant_uid,
        id,
        "500.00",
        "thb",
        "thailand",
        "thailand",
    );
    if let Some(lang) = lang {
        order.extra.insert("lang".into(), lang.into());
    }
    app.client.create_order(&order).await.unwrap().payment_url
}

async fn the_language_is_chosen_in_order_and_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let plain = thai_deposit(&app, "ln-1", None).await;
    let merchant_said = thai_deposit(&app, "ln-2", Some("my")).await;

    // The country, when nothing else names a language.
    let (status, html) = page(&plain, None).await;
    assert_eq!(status, 200);
    assert_eq!(lang_of(&html), "th");
    assert!(html.contains("รอการชำระเงินของคุณ"));
    // Accept-Language by quality, before the country.
    let (_, html) = page(&plain, Some("en;q=0.5, vi;q=0.9, th;q=0.1")).await;
    assert_eq!(lang_of(&html), "vi");
    assert!(html.contains("Đang chờ bạn thanh toán"), "{html}");
    // A language the page does not have is skipped.
    let (_, html) = page(&plain, Some("fr-FR, fr;q=0.9, hi;q=0.8")).await;
    assert_eq!(lang_of(&html), "hi");
    // The merchant's `lang` before the browser's.
    let (_, html) = page(&merchant_said, Some("vi")).await;
    assert_eq!(lang_of(&html), "my");
    // The payer's own choice before everything; the forms keep it.
    let (_, html) = page(&format!("{merchant_said}?lang=bn"), Some("vi")).await;
    assert_eq!(lang_of(&html), "bn");
    assert!(html.contains("আপনার পেমেন্টের অপেক্ষায়"));
    assert!(html.contains("/simulate?lang=bn\""), "{html}");
    assert!(html.contains(r#"aria-current="true">বাংলা</a>"#));
    // A `lang` that names no language of the page is neither used nor written back.
    let (_, html) = page(&format!("{plain}?lang=%22%3E%3Cx"), Some("id")).await;
    assert_eq!(lang_of(&html), "id");
    assert!(
        !html.contains("<x") && !html.contains("?lang=%22"),
        "{html}"
    );

    // A form's address leads to the page in the chosen language.
    let r = browser()
        .get(format!("{plain}/simulate?lang=zh-Hans"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("?lang=zh-Hans"));
    // A refusal speaks it; its JSON answer is the documented one whatever the language.
    let r = browser()
        .post(format!("{plain}/simulate?lang=zh-Hans"))
        .form(&[("outcome", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert_eq!(lang_of(&html), "zh-Hans");
    assert!(html.contains("此请求不是来自付款页面"), "{html}");
    let r = browser()
        .post(format!("{plain}/simulate?lang=zh-Hans"))
        .header("Accept", "application/json")
        .form(&[("outcome", "completed")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"result": "error", "data": "This request did not come from the payment page"})
    );
    // The page's own post comes back to the page in the chosen language.
    let token = page_token(&plain).await;
    let r = browser()
        .post(format!("{plain}/simulate?lang=zh-Hans"))
        .form(&[("outcome", "completed"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("?lang=zh-Hans"), "{location}");
    let (_, html) = page(&format!("{}{location}", app.base_url), None).await;
    assert!(html.contains("已收到付款"), "{html}");
    // No payer reads a status code.
    assert!(!html.contains(">completed<"), "{html}");

    // The not-found page too.
    let unknown = format!("{}/octopus/pay/{}", app.base_url, "0".repeat(32));
    let (status, html) = page(&format!("{unknown}?lang=vi"), None).await;
    assert_eq!(status, 404);
    assert!(html.contains("Không tìm thấy khoản thanh toán"), "{html}");
    let (_, html) = page(&unknown, Some("th-TH,th;q=0.9")).await;
    assert!(html.contains("ไม่พบรายการชำระเงิน"));
}

async fn the_status_endpoint_says_only_this_orders_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut order = NewOrder::deposit(
        &app.merchant.merchant_uid,
        "st-1",
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    order.redirect_url = Some("https://shop.example/back".into());
    let url = app.client.create_order(&order).await.unwrap().payment_url;
    let other = thai_deposit(&app, "st-2", None).await;
    let status = |url: String| async move {
        let r = browser()
            .get(format!("{url}/status"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(r.headers()["cache-control"], "no-store");
        (code, csp, r.json::<serde_json::Value>().await.unwrap())
    };
    let (code, csp, body) = status(url.clone()).await;
    assert_eq!(code, 200);
    assert!(csp.contains("default-src 'self'"));
    assert_eq!(
        body,
        serde_json::json!({"status": "pending", "final": false, "redirect_url": "https://shop.example/back"})
    );
    crate::helpers::pay(&url).await;
    let (_, _, body) = status(url).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "completed", "final": true, "redirect_url": "https://shop.example/back"})
    );
    let (_, _, body) = status(other).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "pending", "final": false, "redirect_url": null}),
        "the other order is its own"
    );
    let (code, _, body) = status(format!("{}/octopus/pay/{}", app.base_url, "0".repeat(32))).await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        serde_json::json!({"result": "error", "data": "Order not found"})
    );
}

crate::on_both_backends!(
    the_language_is_chosen_in_order_and_kept,
    the_status_endpoint_says_only_this_orders_status,
);

/// The inline script and stylesheet of a page, and the hashes its policy allows.
fn inline(html: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = html.find(&open).expect(tag) + open.len();
    let end = start + html[start..].find(&format!("</{tag}>")).unwrap();
    html[start..end].to_string()
}

fn sha256(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cashier_page_runs_only_its_own_script_and_refreshes_without_it() {
    let app = spawn_app(Backend::Sqlite).await;
    let url = thai_deposit(&app, "csp-1", None).await;
    let r = browser().get(&url).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = r.text().await.unwrap();
    let script = inline(&html, "script");
    let style = inline(&html, "style");
    assert!(
        csp.contains(&format!("script-src 'sha256-{}'", sha256(&script))),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src 'sha256-{}'", sha256(&style))),
        "{csp}"
    );
    assert_eq!(html.matches("<script").count(), 1, "one script");
    assert!(
        !html.contains(" style="),
        "style attributes are blocked by the policy"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from other hosts"
    );
    let path = url.trim_start_matches(&app.base_url);
    assert!(
        html.contains(&format!(
            r#"<noscript><meta http-equiv="refresh" content="20;url={path}"></noscript>"#
        )),
        "{html}"
    );
    assert!(html.contains(&format!(r#"data-status-url="{path}/status""#)));
    assert!(html.len() < 30 * 1024, "a small page: {} bytes", html.len());
    // Once it has ended, nothing to refresh for (no redirect_url here).
    crate::helpers::pay(&url).await;
    let html = browser()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(html.contains(r#"data-watch="false""#));
}
