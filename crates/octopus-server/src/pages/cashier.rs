//! The hosted cashier page payers open from a deposit's `payment_url`: what to pay, to whom,
//! the order's status, and a way back to the merchant. On sandbox channels the page offers
//! "Pay" and "Fail" buttons that POST `outcome=completed|failed` to `<payment_url>/simulate`;
//! on upstream channels it shows where to pay (for Paykassma the Wavepay account) and takes
//! the transaction ID of the payer's transfer (`<payment_url>/confirm`).
//!
//! Everything here answers a payer's browser, so every answer, refusals included, is a page in
//! words with the right status code, never the framework's text; a client that asks for JSON
//! (`Accept: application/json`) gets the documented error shape instead. Every answer forbids
//! framing, sniffing, caching and other origins (`protect`). A foreign page that knows a
//! payment_uid must not be able to pay or fail the order for the payer, so the two posts must
//! come from the gateway's own origin (`Origin`, `Sec-Fetch-Site`) and carry the page's token:
//! an HMAC of the payment_uid under a key derived from the master key, so that every node
//! sharing the database makes and accepts the same tokens.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, ORIGIN, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Form, Json, Router};
use base64::Engine;
use octopus_domain::money::format_amount;
use octopus_domain::signing::SigningKey;
use octopus_domain::{Order, PaymentStatus, StatusChange, TransactionType};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::error::Error;
use crate::state::AppState;

/// What the master key derives the form-token key for (changing it voids every open page's
/// token).
pub const TOKEN_KEY_PURPOSE: &str = "cashier form token";
/// The cashier's forms are a few short fields; anything longer is refused unread.
const FORM_LIMIT: usize = 16 * 1024;
/// The one stylesheet of every cashier page, inlined (one request on a slow network) and
/// allowed by its hash in the Content-Security-Policy.
const STYLE: &str = include_str!("../../templates/cashier.css");

/// `default-src 'self'` with the inline stylesheet allowed by its hash, no framing, no base
/// rewriting, forms only to this origin.
static CONTENT_SECURITY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    let policy = format!(
        "default-src 'self'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("a policy of ASCII")
});

pub fn routes() -> Router<AppState> {
    // A GET of a form's address (a bookmark, a reload) goes to the page; any other method is
    // answered here, as a page, rather than by the API's fallback.
    let pages = Router::new()
        .route("/{payment_uid}", get(page).fallback(wrong_method))
        .route(
            "/{payment_uid}/simulate",
            get(to_page).post(simulate).fallback(wrong_method),
        )
        .route(
            "/{payment_uid}/confirm",
            get(to_page).post(confirm).fallback(wrong_method),
        )
        // Any other address under the cashier's: a page, not the API's JSON 404.
        .fallback(unknown_page);
    Router::new()
        .nest("/octopus/pay", pages)
        .route("/octopus/pay/", any(unknown_page))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn(protect))
}

async fn unknown_page() -> Refusal {
    Refusal::not_found()
}

/// The documented JSON form of a refusal, carried by its page for clients that ask for JSON.
#[derive(Clone)]
struct JsonAnswer(serde_json::Value);

/// Whether the client asked for JSON rather than a page (`Accept: application/json` without
/// `text/html`). Browsers always accept `text/html`; everyone else gets pages by default.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .fold((false, false), |(json, html), v| {
            (
                json || v.contains("application/json"),
                html || v.contains("text/html"),
            )
        })
        == (true, false)
}

/// Every cashier answer: the JSON form of a refusal for clients that asked for it, and the
/// headers that keep the page from being framed, sniffed, cached or given other origins' code.
async fn protect(request: Request, next: Next) -> Response {
    let json = wants_json(request.headers());
    let mut response = next.run(request).await;
    if let Some(JsonAnswer(body)) = response.extensions_mut().remove::<JsonAnswer>() {
        if json {
            response = (response.status(), Json(body)).into_response();
        }
    }
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, CONTENT_SECURITY.clone());
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with the page's own posts.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refused cashier request: a page in words for the payer, with the documented JSON of the
/// same refusal attached for clients that ask for JSON. (Boxed: it travels in `Result`s.)
struct Refusal(Box<Response>);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage<'a> {
    style: &'a str,
    headline: &'a str,
    message: &'a str,
    back: &'a str,
}

impl Refusal {
    /// `status` with `message` on a page of its own, and `data` as the JSON answer; `back` is
    /// the payment page to return to, if any.
    fn page(
        status: StatusCode,
        headline: &str,
        message: &str,
        back: &str,
        data: serde_json::Value,
    ) -> Refusal {
        let html = RefusedPage {
            style: STYLE,
            headline,
            message,
            back,
        }
        .render()
        .unwrap_or_else(|_| message.to_string());
        Refusal(Box::new(with_json(
            (status, Html(html)).into_response(),
            data,
        )))
    }

    fn not_found() -> Refusal {
        let html = NotFoundPage { style: STYLE }
            .render()
            .unwrap_or_else(|_| "Payment not found".into());
        Refusal(Box::new(with_json(
            (StatusCode::NOT_FOUND, Html(html)).into_response(),
            json!("Order not found"),
        )))
    }

    /// A post that did not come from the payment page (403).
    fn forbidden(back: &str) -> Refusal {
        Refusal::page(
            StatusCode::FORBIDDEN,
            "This request was refused",
            "This request did not come from the payment page, so nothing was changed. Open the payment page and try again there.",
            back,
            json!("This request did not come from the payment page"),
        )
    }

    /// A form that could not be read.
    fn unreadable(rejection: FormRejection, back: &str) -> Refusal {
        let error = match &rejection {
            FormRejection::BytesRejection(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Error::TooLarge(FORM_LIMIT)
            }
            _ if crate::http::connections::BodyTimeout::caused(&rejection) => Error::Timeout,
            FormRejection::InvalidFormContentType(_) => Error::Invalid(
                "The body must be a form (application/x-www-form-urlencoded).".into(),
            ),
            _ => Error::Invalid("The form could not be read.".into()),
        };
        Refusal::from_error(error, back)
    }

    /// An error of the layers below, in words for the payer.
    fn from_error(error: Error, back: &str) -> Refusal {
        let (headline, message) = match &error {
            Error::NotFound(_) => return Refusal::not_found(),
            Error::Invalid(details) => ("This request could not be used", details.clone()),
            Error::TooLarge(_) => (
                "This request is too large",
                "Nothing was changed. Go back to the payment page and try again.".to_string(),
            ),
            Error::Timeout => (
                "This request took too long",
                "Nothing was changed. Go back to the payment page and try again.".to_string(),
            ),
            Error::Conflict(_) => (
                "This payment has already ended",
                "Nothing was changed.".to_string(),
            ),
            Error::Unauthorized(message) | Error::Refused(message) => {
                ("This request was refused", message.clone())
            }
            Error::Internal(cause) => {
                tracing::error!(%cause, "cashier request failed");
                (
                    "Something went wrong",
                    "Something went wrong on our side. Please try again in a moment.".to_string(),
                )
            }
        };
        Refusal::page(error.status(), headline, &message, back, error.data())
    }
}

/// Attaches the documented JSON form (`{"result":"error","data":...}`) to a refusal's page.
fn with_json(mut response: Response, data: serde_json::Value) -> Response {
    response
        .extensions_mut()
        .insert(JsonAnswer(json!({"result": "error", "data": data})));
    response
}

/// The payment_uid of a cashier address, or the not-found page for one that cannot be read
/// (such as invalid UTF-8) or cannot be a payment_uid (they are letters and digits), so that
/// only a well-formed one is looked up or written into a link or `Location`.
fn payment_uid(path: Result<Path<String>, PathRejection>) -> Result<String, Refusal> {
    match path {
        Ok(Path(uid))
            if !uid.is_empty()
                && uid.len() <= 64
                && uid.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(uid)
        }
        _ => Err(Refusal::not_found()),
    }
}

fn page_path(payment_uid: &str) -> String {
    format!("/octopus/pay/{payment_uid}")
}

/// Whether a post may be from another site: `Sec-Fetch-Site` (where the browser sends it) must
/// say `same-origin`, and `Origin` (where sent) must be the gateway's public origin. A client
/// that sends neither is not a browser acting for someone else; the token still applies.
fn cross_site(sec_fetch_site: Option<&str>, origin: Option<&str>, public_origin: &str) -> bool {
    sec_fetch_site.is_some_and(|site| !site.trim().eq_ignore_ascii_case("same-origin"))
        || origin.is_some_and(|origin| !origin.trim().eq_ignore_ascii_case(public_origin))
}

/// Refuses a post that may come from another site (see [`cross_site`]).
fn same_origin(state: &AppState, headers: &HeaderMap, back: &str) -> Result<(), Refusal> {
    let public_origin = url::Url::parse(&state.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)"))
    };
    if cross_site(
        header("sec-fetch-site"),
        header(ORIGIN.as_str()),
        &public_origin,
    ) {
        return Err(Refusal::forbidden(back));
    }
    Ok(())
}

/// What a form token signs: the payment_uid, under a label no other signature uses.
fn token_message(payment_uid: &str) -> String {
    format!("cashier form\n{payment_uid}")
}

/// The token the page of `payment_uid` carries in its forms.
fn form_token(key: &SigningKey, payment_uid: &str) -> String {
    key.sign_str(&token_message(payment_uid))
}

/// Refuses a post without the token of this order's page (compared in constant time).
fn page_token(state: &AppState, payment_uid: &str, token: &str, back: &str) -> Result<(), Refusal> {
    if state
        .cashier_key
        .verify_str(&token_message(payment_uid), token)
    {
        Ok(())
    } else {
        Err(Refusal::forbidden(back))
    }
}

/// Any method other than the page's GET and the forms' POST.
async fn wrong_method(path: Result<Path<String>, PathRejection>) -> Refusal {
    let back = payment_uid(path)
        .map(|uid| page_path(&uid))
        .unwrap_or_default();
    Refusal::page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This request could not be used",
        "This address does not take this kind of request.",
        &back,
        json!("Method not allowed: use GET or POST"),
    )
}

/// `GET` of a form's address: the payment page.
async fn to_page(path: Result<Path<String>, PathRejection>) -> Result<Response, Refusal> {
    let uid = payment_uid(path)?;
    Ok((StatusCode::SEE_OTHER, [(LOCATION, page_path(&uid))]).into_response())
}

#[derive(Template)]
#[template(path = "cashier.html")]
struct CashierPage<'a> {
    style: &'a str,
    /// The form token of this order's page.
    token: String,
    merchant_name: &'a str,
    merchant_order_id: &'a str,
    payment_uid: &'a str,
    amount: String,
    currency: String,
    additional: &'a str,
    status: &'static str,
    headline: &'static str,
    fail_reason: &'a str,
    sandbox: bool,
    can_simulate: bool,
    redirect_url: &'a str,
    /// (label, id, value) of what the payer needs to pay.
    instructions: Vec<(&'static str, String, String)>,
    can_confirm: bool,
    message: String,
}

/// The page's words for an instruction of a connector.
fn instruction_label(key: &str) -> &'static str {
    match key {
        "account" => "Account to pay to",
        "wallet_type" => "Pay with",
        _ => "Detail",
    }
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage<'a> {
    style: &'a str,
}

fn headline(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::None | PaymentStatus::Pending | PaymentStatus::Preparing => {
            "Waiting for your payment"
        }
        PaymentStatus::Processing => "Your payment is being processed",
        PaymentStatus::Completed => "Payment received",
        PaymentStatus::Failed => "Payment failed",
        PaymentStatus::Reject => "Payment rejected",
        PaymentStatus::Refund => "Payment refunded",
        PaymentStatus::Overdue => "This payment request has expired",
    }
}

async fn find_deposit(state: &AppState, payment_uid: &str) -> Result<Option<Order>, Error> {
    Ok(state
        .storage
        .order_by_payment_uid(payment_uid)
        .await?
        .filter(|o| o.transaction_type == TransactionType::Income))
}

/// `GET /octopus/pay/{payment_uid}`
async fn page(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Refusal> {
    let payment_uid = payment_uid(path)?;
    let back = page_path(&payment_uid);
    let Some(order) = find_deposit(&state, &payment_uid)
        .await
        .map_err(|e| Refusal::from_error(e, ""))?
    else {
        return Err(Refusal::not_found());
    };
    render(&state, &order, String::new())
        .await
        .map_err(|e| Refusal::from_error(e, &back))
}

/// The page of a deposit as it is now, with a message for the payer.
async fn render(state: &AppState, order: &Order, message: String) -> Result<Response, Error> {
    let channel = state.services.channels.get(&order.channel);
    let connector = channel
        .as_ref()
        .map(|c| std::sync::Arc::clone(&c.connector));
    let sandbox = connector.as_ref().is_some_and(|c| c.simulates_payments());
    let upstream = connector.as_ref().is_some_and(|c| c.calls_upstream());
    let instructions: Vec<(&'static str, String, String)> = if upstream {
        let (mut shown, _) = state.storage.upstream_of(&order.payment_uid).await?;
        if shown.is_none() && order.payment_status.is_open() {
            // Stored without its instructions (their write failed after the order's): ask again.
            if let Some(channel) = &channel {
                shown = crate::services::upstream::restart_deposit(&state.services, channel, order)
                    .await;
            }
        }
        shown
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| (instruction_label(k), k.to_string(), v.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    let status = order.payment_status;
    let page = CashierPage {
        style: STYLE,
        token: form_token(&state.cashier_key, &order.payment_uid),
        merchant_name: &order.merchant_name,
        merchant_order_id: &order.merchant_order_id,
        payment_uid: &order.payment_uid,
        amount: format_amount(order.final_amount, order.currency),
        currency: order.currency.code().to_uppercase(),
        additional: &order.additional,
        status: status.as_str(),
        headline: headline(status),
        fail_reason: &order.payment_fail_reason,
        sandbox,
        // The sandbox also lets a payer pay an expired order, to try a late payment.
        can_simulate: sandbox && (status.is_open() || status == PaymentStatus::Overdue),
        redirect_url: &order.redirect_url,
        can_confirm: upstream
            && !instructions.is_empty()
            && (status.is_open() || status == PaymentStatus::Overdue),
        instructions: if status.is_open() {
            instructions
        } else {
            Vec::new()
        },
        message,
    };
    let html = page.render().map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Html(html).into_response())
}

/// A refusal about an order the payer is looking at: its page as it is now, with what was
/// refused in words, under the refusal's status.
async fn order_refusal(state: &AppState, order: &Order, error: Error, message: &str) -> Refusal {
    let back = page_path(&order.payment_uid);
    match render(state, order, message.to_string()).await {
        Ok(mut page) => {
            *page.status_mut() = error.status();
            Refusal(Box::new(with_json(page, error.data())))
        }
        Err(e) => Refusal::from_error(e, &back),
    }
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    transaction_id: String,
}

/// `POST /octopus/pay/{payment_uid}/confirm` with `transaction_id`: the payer's transfer is
/// checked upstream; the page comes back with the order's status and what to do next.
async fn confirm(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, Refusal> {
    let (order, form, back) = posted(&state, path, &headers, form).await?;
    let payment_uid = order.payment_uid.clone();
    let refused = |e: Error| Refusal::from_error(e, &back);
    let channel = state
        .services
        .channels
        .get(&order.channel)
        .filter(|c| c.connector.calls_upstream())
        .ok_or_else(Refusal::not_found)?;
    if !(order.payment_status.is_open() || order.payment_status == PaymentStatus::Overdue) {
        return render(&state, &order, String::new()).await.map_err(refused);
    }
    let answer = match crate::services::upstream::confirm_deposit(
        &state.services,
        &channel,
        &order,
        &form.transaction_id,
    )
    .await
    {
        Ok(answer) => answer,
        Err(e @ Error::Invalid(_)) => {
            let message = match &e {
                Error::Invalid(details) => details.clone(),
                _ => String::new(),
            };
            return Err(order_refusal(&state, &order, e, &message).await);
        }
        Err(e) => return Err(refused(e)),
    };
    let message = match answer {
        crate::services::upstream::Confirmed::Completed => String::new(),
        crate::services::upstream::Confirmed::Short { missing } => format!(
            "We received part of the payment: {} {} is still missing. Send the rest to the same account and enter its transaction ID.",
            format_amount(missing, order.currency),
            order.currency.code().to_uppercase()
        ),
        crate::services::upstream::Confirmed::Processing { .. } => {
            "Your payment is being checked. This page shows the result once it is known.".to_string()
        }
        crate::services::upstream::Confirmed::Failed { reason } | crate::services::upstream::Confirmed::Refused { message: reason } => reason,
    };
    let order = find_deposit(&state, &payment_uid)
        .await
        .map_err(refused)?
        .ok_or_else(Refusal::not_found)?;
    render(&state, &order, message).await.map_err(refused)
}

/// A form posted from the payment page: it carries the page's token.
trait PageForm {
    fn token(&self) -> &str;
}

impl PageForm for ConfirmForm {
    fn token(&self) -> &str {
        &self.token
    }
}

impl PageForm for SimulateForm {
    fn token(&self) -> &str {
        &self.token
    }
}

/// What every post from the payment page passes first, in this order: a well-formed
/// payment_uid, the gateway's own origin, a readable form, a known deposit, the page's token.
/// Returns the order, the form and the page to go back to.
async fn posted<F: PageForm>(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
) -> Result<(Order, F, String), Refusal> {
    let payment_uid = payment_uid(path)?;
    let back = page_path(&payment_uid);
    same_origin(state, headers, &back)?;
    let Form(form) = form.map_err(|r| Refusal::unreadable(r, &back))?;
    let order = find_deposit(state, &payment_uid)
        .await
        .map_err(|e| Refusal::from_error(e, &back))?
        .ok_or_else(Refusal::not_found)?;
    page_token(state, &payment_uid, form.token(), &back)?;
    Ok((order, form, back))
}

#[derive(Deserialize)]
struct SimulateForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    outcome: String,
}

/// `POST /octopus/pay/{payment_uid}/simulate` with `outcome=completed|failed` (sandbox only).
/// Answers 303 to the page once the order has changed; a change the order cannot make (it has
/// already ended) is answered 409 with the page as it is.
async fn simulate(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<SimulateForm>, FormRejection>,
) -> Result<Response, Refusal> {
    let (order, form, back) = posted(&state, path, &headers, form).await?;
    let payment_uid = order.payment_uid.clone();
    let refused = |e: Error| Refusal::from_error(e, &back);
    let sandbox = state
        .services
        .channels
        .get(&order.channel)
        .is_some_and(|c| c.connector.simulates_payments());
    if !sandbox {
        return Err(Refusal::not_found());
    }
    let now = now_ms();
    let change = match form.outcome.as_str() {
        "completed" => StatusChange::new(PaymentStatus::Completed, "sandbox: the payer paid", now)
            .with_final_amount(order.final_amount),
        "failed" => StatusChange::new(
            PaymentStatus::Failed,
            "sandbox: the payer failed the payment",
            now,
        )
        .failing("The payer failed the payment in the sandbox"),
        _ => {
            let e = Error::Invalid("The 'outcome' field must be completed or failed.".into());
            return Err(order_refusal(&state, &order, e, "Choose Pay or Fail.").await);
        }
    };
    match state
        .storage
        .change_status(&payment_uid, change.from_status(order.payment_status))
        .await
    {
        Ok(_) => state.callbacks_due.notify_one(),
        Err(e) => {
            let e = Error::from(e);
            if !matches!(e, Error::Conflict(_)) {
                return Err(refused(e));
            }
            // Pressed again, or in a second window: the page as it is now says how it ended.
            let order = find_deposit(&state, &payment_uid)
                .await
                .map_err(refused)?
                .ok_or_else(Refusal::not_found)?;
            return Err(order_refusal(
                &state,
                &order,
                e,
                "This payment had already ended, so nothing was changed.",
            )
            .await);
        }
    }
    Ok((StatusCode::SEE_OTHER, [(LOCATION, back)]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://pay.example.com";

    #[test]
    fn only_posts_from_the_public_origin_pass() {
        assert!(
            !cross_site(None, None, PUBLIC),
            "no browser headers: the token decides"
        );
        assert!(!cross_site(Some("same-origin"), Some(PUBLIC), PUBLIC));
        assert!(!cross_site(None, Some("HTTPS://PAY.EXAMPLE.COM"), PUBLIC));
        assert!(cross_site(Some("cross-site"), None, PUBLIC));
        assert!(cross_site(Some("same-site"), Some(PUBLIC), PUBLIC));
        assert!(cross_site(Some("none"), None, PUBLIC));
        assert!(cross_site(None, Some("https://evil.example"), PUBLIC));
        assert!(
            cross_site(None, Some("null"), PUBLIC),
            "an opaque origin is not ours"
        );
        assert!(
            cross_site(None, Some("http://pay.example.com"), PUBLIC),
            "another scheme is another origin"
        );
        assert!(cross_site(
            Some("same-origin"),
            Some("https://pay.example.com:8443"),
            PUBLIC
        ));
    }

    #[test]
    fn json_only_for_clients_that_ask_for_it_and_not_for_pages() {
        let accept = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(wants_json(&accept("application/json")));
        assert!(!wants_json(&HeaderMap::new()));
        assert!(!wants_json(&accept("*/*")));
        assert!(!wants_json(&accept("text/html,application/json;q=0.9")));
    }

    #[test]
    fn tokens_are_per_order_and_per_key() {
        let key = SigningKey::new(b"k");
        let token = form_token(&key, "P1");
        assert_eq!(token, form_token(&SigningKey::new(b"k"), "P1"));
        assert_ne!(token, form_token(&key, "P2"));
        assert_ne!(token, form_token(&SigningKey::new(b"other"), "P1"));
        assert_eq!(token.len(), 64);
    }
}
