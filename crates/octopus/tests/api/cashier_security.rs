//! What a hostile page and a careless client can do to the cashier today (issue 9, points 5
//! and 6), over real HTTP: every cashier answer carries the headers that keep the page from
//! being framed, sniffed, cached or fed other origins' code; a post from another site (by its
//! `Origin` or `Sec-Fetch-Site`), without the page's token or with another order's token is
//! refused and changes nothing; and every refusal is a page in words for the payer, never the
//! framework's text or raw JSON (a client that asks for JSON gets the documented shape).

use octopus_client::NewOrder;
use reqwest::header::HeaderMap;
use reqwest::Response;

use crate::helpers::{http, page_token, spawn_app, Backend, TestApp};

/// Checks the protective headers of one cashier answer (`what` says which, for the message).
fn assert_protected(headers: &HeaderMap, what: &str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'self'"), "{what}: CSP {csp:?}");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("referrer-policy"), "same-origin", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
}

/// Checks that an answer is a page in words with `status`: HTML, not the framework's text,
/// not JSON. Returns the page.
async fn assert_page(r: Response, status: u16, what: &str) -> String {
    assert_eq!(r.status(), status, "{what}");
    assert_protected(r.headers(), what);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("text/html"),
        "{what}: content-type {content_type:?}"
    );
    let body = r.text().await.unwrap();
    assert!(body.starts_with("<!doctype html>"), "{what}: {body}");
    for framework in [
        "Failed to",
        "deserialize",
        "Invalid URL",
        "length limit",
        "{\"result\"",
    ] {
        assert!(!body.contains(framework), "{what}: {framework:?} in {body}");
    }
    assert!(body.contains("<h1"), "{what}: no headline in {body}");
    body
}

fn deposit(app: &TestApp, id: &str) -> NewOrder {
    NewOrder::deposit(
        &app.merchant.merchant_uid,
        id,
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
    )
}

async fn status_of(app: &TestApp, id: &str) -> String {
    app.client.get_order(id).await.unwrap().payment_status
}

async fn cross_site_posts_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .client
        .create_order(&deposit(&app, "xs-1"))
        .await
        .unwrap();
    let other = app
        .client
        .create_order(&deposit(&app, "xs-2"))
        .await
        .unwrap();
    let url = created.payment_url.clone();
    let token = page_token(&url).await;
    assert_eq!(token.len(), 64, "the page carries its token");
    let other_token = page_token(&other.payment_url).await;
    assert_ne!(token, other_token, "one token per order");
    let origin = app.base_url.clone();

    // (what, Origin, Sec-Fetch-Site, token)
    let attempts: [(&str, Option<&str>, Option<&str>, &str); 7] = [
        (
            "a foreign Origin",
            Some("https://evil.example"),
            None,
            &token,
        ),
        (
            "a foreign Origin that says same-origin",
            Some("https://evil.example"),
            Some("same-origin"),
            &token,
        ),
        (
            "Sec-Fetch-Site cross-site",
            Some(&origin),
            Some("cross-site"),
            &token,
        ),
        ("Sec-Fetch-Site same-site", None, Some("same-site"), &token),
        (
            "an opaque Origin (a no-referrer page)",
            Some("null"),
            None,
            &token,
        ),
        ("no token", Some(&origin), Some("same-origin"), ""),
        (
            "the token of another order",
            Some(&origin),
            Some("same-origin"),
            &other_token,
        ),
    ];
    for (what, from, site, token) in attempts {
        for (action, field, value) in [
            ("simulate", "outcome", "failed"),
            ("confirm", "transaction_id", "FAIL12345"),
        ] {
            let mut request = http()
                .post(format!("{url}/{action}"))
                .form(&[(field, value), ("token", token)]);
            if let Some(from) = from {
                request = request.header("Origin", from);
            }
            if let Some(site) = site {
                request = request.header("Sec-Fetch-Site", site);
            }
            let page = assert_page(
                request.send().await.unwrap(),
                403,
                &format!("{action} with {what}"),
            )
            .await;
            assert!(
                page.contains("did not come from the payment page"),
                "{what}: {page}"
            );
        }
        assert_eq!(status_of(&app, "xs-1").await, "pending", "after {what}");
    }
    // A token that is not even hex, and one of the right length but wrong.
    for bad in ["zz", &"0".repeat(64), &token.to_uppercase()[..63]] {
        let r = http()
            .post(format!("{url}/simulate"))
            .form(&[("outcome", "failed"), ("token", bad)])
            .send()
            .await
            .unwrap();
        assert_page(r, 403, &format!("token {bad:?}")).await;
    }
    assert_eq!(status_of(&app, "xs-1").await, "pending");
    assert_eq!(
        app.storage()
            .order_events(&created.payment.payment_uid)
            .await
            .unwrap()
            .len(),
        1,
        "nothing recorded"
    );

    // The API answer of the same refusal, for a client that asks for JSON.
    let r = http()
        .post(format!("{url}/simulate"))
        .header("Accept", "application/json")
        .form(&[("outcome", "failed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_protected(r.headers(), "JSON refusal");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"result": "error", "data": "This request did not come from the payment page"})
    );

    // The page's own post, as a browser sends it, works; the token is any-case hex.
    let r = http()
        .post(format!("{url}/simulate"))
        .header("Origin", &origin)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("outcome", "completed"), ("token", &token.to_uppercase())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_protected(r.headers(), "the redirect after paying");
    assert_eq!(status_of(&app, "xs-1").await, "completed");
    assert_eq!(
        status_of(&app, "xs-2").await,
        "pending",
        "the other order is untouched"
    );
}

/// The attack of the issue on an upstream channel: a foreign page submits a transaction ID
/// that the upstream declines, which would fail the deposit for good. Refused before the
/// upstream is asked; the payer's own confirmation then works.
async fn a_foreign_page_cannot_fail_an_upstream_deposit(backend: Backend) {
    let app = spawn_app(backend).await;
    let pk = crate::helpers::paykassma::PkSim::start(&app, "pk-mm", 10).await;
    let created = app
        .live_client
        .create_order(&NewOrder::deposit(
            &app.live.merchant_uid,
            "xs-pk",
            "6000.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    let url = created.payment_url.clone();
    let r = http()
        .post(format!("{url}/confirm"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("transaction_id", "FAIL1")])
        .send()
        .await
        .unwrap();
    assert_page(r, 403, "a cross-site confirmation").await;
    let r = http()
        .post(format!("{url}/confirm"))
        .form(&[("transaction_id", "FAIL1")])
        .send()
        .await
        .unwrap();
    assert_page(r, 403, "a confirmation without the token").await;
    assert_eq!(
        app.live_client
            .get_order("xs-pk")
            .await
            .unwrap()
            .payment_status,
        "pending"
    );
    let history = app
        .storage()
        .order_events(&created.payment.payment_uid)
        .await
        .unwrap();
    assert_eq!(
        history.len(),
        1,
        "nothing happened to the order: {history:?}"
    );

    // A transaction ID the form cannot take: the page again, in words, with the refusal's status.
    let token = page_token(&url).await;
    let r = http()
        .post(format!("{url}/confirm"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    let page = assert_page(r, 400, "a confirmation without a transaction ID").await;
    assert!(
        page.contains("The transaction ID must have 1 to 11 characters."),
        "{page}"
    );
    assert!(
        page.contains(r#"id="transaction_id""#),
        "the form is still there to try again"
    );

    pk.sim.transfer("TXOK", 6000, "MMK");
    let r = http()
        .post(format!("{url}/confirm"))
        .header("Origin", &app.base_url)
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("transaction_id", "TXOK"), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    let page = assert_page(r, 200, "the payer's confirmation").await;
    assert!(page.contains("Payment received"), "{page}");
    assert_eq!(
        app.live_client
            .get_order("xs-pk")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
}

async fn every_refusal_is_a_page_in_words_with_the_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .client
        .create_order(&deposit(&app, "rw-1"))
        .await
        .unwrap();
    let url = created.payment_url.clone();

    let r = http().get(&url).send().await.unwrap();
    let page = assert_page(r, 200, "the page").await;
    assert!(page.contains("Waiting for your payment"));
    let token = page_token(&url).await;
    let form = |pairs: &[(&str, &str)]| http().post(format!("{url}/simulate")).form(pairs);

    // `Failed to deserialize form body: missing field `outcome`` today.
    let body = assert_page(
        form(&[("token", &token)]).send().await.unwrap(),
        400,
        "no outcome",
    )
    .await;
    assert!(body.contains("Choose Pay or Fail"), "{body}");
    // Not UTF-8 once decoded.
    let r = http()
        .post(format!("{url}/simulate"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("outcome=%FF&token={token}"))
        .send()
        .await
        .unwrap();
    assert_page(r, 400, "an outcome that is not UTF-8").await;
    // Not a form at all.
    let r = http()
        .post(format!("{url}/simulate"))
        .header("Content-Type", "text/plain")
        .body("outcome=completed")
        .send()
        .await
        .unwrap();
    assert_page(r, 400, "a text/plain body").await;
    // `Failed to buffer the request body: length limit exceeded` today (above the form limit,
    // small enough that the client has sent it all before the answer).
    let r = form(&[
        ("outcome", "completed"),
        ("token", &token),
        ("padding", &"x".repeat(64 * 1024)),
    ])
    .send()
    .await
    .unwrap();
    assert_page(r, 413, "a body over the limit").await;
    // `Invalid URL: Invalid UTF-8 in `payment_uid`` today.
    let bad = format!("{}/octopus/pay/%FF", app.base_url);
    let body = assert_page(
        http().get(&bad).send().await.unwrap(),
        404,
        "a payment_uid that is not UTF-8",
    )
    .await;
    assert!(body.contains("Payment not found"), "{body}");
    let r = http()
        .post(format!("{bad}/simulate"))
        .form(&[("outcome", "completed")])
        .send()
        .await
        .unwrap();
    assert_page(r, 404, "a post to a payment_uid that is not UTF-8").await;
    let unknown = format!("{}/octopus/pay/{}", app.base_url, "0".repeat(32));
    assert_page(
        http().get(&unknown).send().await.unwrap(),
        404,
        "an unknown page",
    )
    .await;
    // Any other address under the cashier's is a page too, not the API's JSON.
    for path in [
        "/octopus/pay",
        "/octopus/pay/",
        "/octopus/pay/x/y",
        "/octopus/pay/x/simulate/more",
    ] {
        let r = http()
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_page(r, 404, path).await;
    }
    // What cannot be a payment_uid (here a line break) is not found, and reaches no header.
    let r = http()
        .get(format!(
            "{}/octopus/pay/a%0D%0AX-Evil:%201/simulate",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-evil").is_none());
    assert_page(r, 404, "a payment_uid with a line break").await;
    // Another method: a page, not the API's JSON; a GET of a form's address goes to the page.
    assert_page(
        http().put(&url).send().await.unwrap(),
        405,
        "PUT on the page",
    )
    .await;
    let r = http().get(format!("{url}/simulate")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_protected(r.headers(), "GET of the form's address");
    assert_eq!(
        r.headers()["location"],
        format!("/octopus/pay/{}", created.payment.payment_uid)
    );
    assert_eq!(
        status_of(&app, "rw-1").await,
        "pending",
        "no refusal changed the order"
    );

    // The second Pay: `{"result":"error","data":"This order cannot go from completed to
    // completed."}` today for any client that does not put text/html in Accept.
    assert_eq!(
        form(&[("outcome", "completed"), ("token", &token)])
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let again = form(&[("outcome", "completed"), ("token", &token)])
        .header("Accept", "*/*")
        .send()
        .await
        .unwrap();
    let body = assert_page(again, 409, "the second Pay").await;
    assert!(
        body.contains("Payment received") && body.contains("nothing was changed"),
        "{body}"
    );
    assert_eq!(status_of(&app, "rw-1").await, "completed");
}

/// A payer on a network that drops the rest of the form: the body timeout's answer is a page
/// too, with the headers, and the order is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_that_never_arrives_is_a_408_page() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    use crate::helpers::raw_http::{read_answer, request};

    let mut config = crate::helpers::test_config();
    config.connections.body_timeout = Duration::from_millis(500);
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, config).await;
    let created = app
        .client
        .create_order(&deposit(&app, "slow-form"))
        .await
        .unwrap();
    let token = page_token(&created.payment_url).await;
    let body = format!("outcome=completed&token={token}");
    let path = format!("/octopus/pay/{}/simulate", created.payment.payment_uid);
    let full = request(
        "POST",
        &path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    );
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream.write_all(&full[..full.len() - 10]).await.unwrap();
    let answer = read_answer(&mut stream, Duration::from_secs(20))
        .await
        .expect("an answer");
    assert_eq!(answer.status, 408);
    assert!(
        answer
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{answer:?}"
    );
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let page = String::from_utf8_lossy(&answer.body);
    assert!(
        page.contains("This request took too long") && !page.contains("Failed to"),
        "{page}"
    );
    assert_eq!(status_of(&app, "slow-form").await, "pending");
}

crate::on_both_backends!(
    cross_site_posts_are_refused_and_change_nothing,
    a_foreign_page_cannot_fail_an_upstream_deposit,
    every_refusal_is_a_page_in_words_with_the_headers,
);
