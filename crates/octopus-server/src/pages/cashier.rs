//! The hosted cashier page payers open from a deposit's `payment_url`: what to pay, to whom,
//! the order's status, and a way back to the merchant. On sandbox channels the page offers
//! "Pay" and "Fail" buttons that POST `outcome=completed|failed` to `<payment_url>/simulate`;
//! on upstream channels it shows where to pay (for Paykassma the Wavepay account) and takes
//! the transaction ID of the payer's transfer (`<payment_url>/confirm`).
//!
//! The page speaks the payer's language (`pages::catalog`, chosen by
//! `octopus_domain::language`: `?lang=`, the order's `lang`, `Accept-Language`, the country),
//! offers a switcher to the others, and keeps an explicit choice in its forms and links. It
//! shows where to pay from the instructions stored with the order (`pages::instructions`: an
//! upstream's wallet account, or an own account's bank, PromptPay QR, UPI QR and link, or
//! e-wallet number), the time left, and updates itself: its one inline script asks
//! `<payment_url>/status` every few seconds and shows the page again once the order has
//! changed, then takes the payer back to `redirect_url`; without the script a `<meta refresh>`
//! does the same more slowly.
//!
//! Everything here answers a payer's browser, so every answer, refusals included, is a page in
//! words with the right status code, never the framework's text; a client that asks for JSON
//! (`Accept: application/json`) gets the documented error shape instead; only a 429 of the
//! per-IP rate limit (`crate::http::rate_limit`), answered before anything is read, is that
//! JSON for everyone. Every answer forbids framing, sniffing, caching and other origins
//! (`protect`). A foreign page that knows a
//! payment_uid must not be able to pay or fail the order for the payer, so the two posts must
//! come from the gateway's own origin (`Origin`, `Sec-Fetch-Site`) and carry the page's token:
//! an HMAC of the payment_uid under a key derived from the master key, so that every node
//! sharing the database makes and accepts the same tokens.

use std::sync::LazyLock;

use askama::Template;
use std::convert::Infallible;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Request, State};
use axum::http::header::{
    ACCEPT, ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, ORIGIN,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Form, Json, Router};
use base64::Engine;
use octopus_domain::language::{Language, LanguageHints};
use octopus_domain::money::format_amount;
use octopus_domain::signing::SigningKey;
use octopus_domain::{Order, PaymentStatus, StatusChange, TransactionType};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::catalog::Words;
use super::instructions::{self, Row, Shown};
use crate::clock::now_ms;
use crate::error::Error;
use crate::http::rate_limit::{self, PerIp};
use crate::state::AppState;

/// What the master key derives the form-token key for (changing it voids every open page's
/// token).
pub const TOKEN_KEY_PURPOSE: &str = "cashier form token";
/// The cashier's forms are a few short fields; anything longer is refused unread.
const FORM_LIMIT: usize = 16 * 1024;
/// The one stylesheet of every cashier page, inlined (one request on a slow network) and
/// allowed by its hash in the Content-Security-Policy.
const STYLE: &str = include_str!("../../templates/cashier.css");
/// The one script of the payment page (copy buttons, the countdown, the status poll), inlined
/// and allowed by its hash like the stylesheet.
const SCRIPT: &str = include_str!("../../templates/cashier.js");
/// Seconds between reloads of an open page without JavaScript (`<meta refresh>`).
const REFRESH_SECONDS: u32 = 20;
/// Seconds a page that has ended shows its result before going back to the merchant: with
/// the script, and without it (longer: the payer has the button).
const BACK_SECONDS: u32 = 8;
const BACK_SECONDS_WITHOUT_SCRIPT: u32 = 15;

/// `default-src 'self'` with the inline stylesheet and script allowed by their hashes, no
/// framing, no base rewriting, forms only to this origin.
static CONTENT_SECURITY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = |text: &str| {
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    };
    let policy = format!(
        "default-src 'self'; style-src 'sha256-{}'; script-src 'sha256-{}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        hash(STYLE),
        hash(SCRIPT)
    );
    HeaderValue::from_str(&policy).expect("a policy of ASCII")
});

/// `per_ip` is the pages' rate limit: inside `protect`, so its 429 carries the same headers.
pub fn routes(per_ip: PerIp) -> Router<AppState> {
    // A GET of a form's address (a bookmark, a reload) goes to the page; any other method is
    // answered here, as a page, rather than by the API's fallback.
    let pages = Router::new()
        .route("/{payment_uid}", get(page).fallback(wrong_method))
        .route("/{payment_uid}/status", get(status).fallback(wrong_method))
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
        .layer(middleware::from_fn_with_state(per_ip, rate_limit::per_ip))
        .layer(middleware::from_fn(protect))
}

async fn unknown_page(asked: Asked) -> Refusal {
    Refusal::not_found(&asked.words(None))
}

/// What a request says about the payer's language: the page's `lang` parameter (kept only
/// when it names a language of the page, so nothing else is echoed into links) and the
/// browser's `Accept-Language`.
#[derive(Debug, Clone, Default)]
struct Asked {
    lang: Option<Language>,
    accept_language: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Asked {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let lang = parts.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "lang")
                .and_then(|(_, value)| Language::from_tag(&value))
        });
        let accept_language = parts
            .headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Asked {
            lang,
            accept_language,
        })
    }
}

/// The `lang` the merchant sent with the order (kept among its unknown fields).
fn order_lang(order: &Order) -> Option<String> {
    serde_json::from_str::<std::collections::BTreeMap<String, String>>(&order.extra)
        .ok()?
        .remove("lang")
}

impl Asked {
    /// The words of a page about `order` (or about no order yet).
    fn words(&self, order: Option<&Order>) -> Words {
        let order_lang = order.and_then(order_lang);
        Words::new(
            LanguageHints {
                page: self.lang.map(Language::tag),
                order: order_lang.as_deref(),
                accept_language: self.accept_language.as_deref(),
                country_code: order.map(|o| o.country_code.as_str()),
            }
            .choose(),
        )
    }

    /// `?lang=<tag>` when the payer chose a language, for the page's own links and forms.
    fn query(&self) -> String {
        self.lang
            .map(|l| format!("?lang={}", l.tag()))
            .unwrap_or_default()
    }
}

/// One link of the language switcher.
struct Choice {
    tag: &'static str,
    name: String,
    href: String,
    current: bool,
}

/// The switcher of a page in `words`: a link per language to `base` with its `?lang=`.
fn switcher(words: &Words, base: &str) -> Vec<Choice> {
    Language::ALL
        .iter()
        .map(|&language| Choice {
            tag: language.tag(),
            name: Words::new(language).get("language-name"),
            href: format!("{base}?lang={}", language.tag()),
            current: language == words.language(),
        })
        .collect()
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
    w: &'a Words,
    switcher: Vec<Choice>,
    headline: &'a str,
    message: &'a str,
    back: &'a str,
}

impl Refusal {
    /// `status` with `message` on a page of its own in `words`, and `data` as the JSON
    /// answer; `back` is the payment page to return to, if any. The switcher's links ask for
    /// the same address in another language (a form's address leads to its page).
    fn page(
        status: StatusCode,
        words: &Words,
        headline: &str,
        message: &str,
        back: &str,
        data: serde_json::Value,
    ) -> Refusal {
        let html = RefusedPage {
            style: STYLE,
            w: words,
            switcher: switcher(words, ""),
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

    fn not_found(words: &Words) -> Refusal {
        let html = NotFoundPage {
            style: STYLE,
            w: words,
            switcher: switcher(words, ""),
        }
        .render()
        .unwrap_or_else(|_| "Payment not found".into());
        Refusal(Box::new(with_json(
            (StatusCode::NOT_FOUND, Html(html)).into_response(),
            json!("Order not found"),
        )))
    }

    /// A post that did not come from the payment page (403).
    fn forbidden(words: &Words, back: &str) -> Refusal {
        Refusal::page(
            StatusCode::FORBIDDEN,
            words,
            &words.get("refused-headline"),
            &words.get("refused-not-from-page"),
            back,
            json!("This request did not come from the payment page"),
        )
    }

    /// A form that could not be read.
    fn unreadable(rejection: FormRejection, words: &Words, back: &str) -> Refusal {
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
        Refusal::from_error(error, words, back)
    }

    /// An error of the layers below, in words for the payer.
    fn from_error(error: Error, words: &Words, back: &str) -> Refusal {
        let (headline, message) = match &error {
            Error::NotFound(_) => return Refusal::not_found(words),
            Error::Invalid(details) => ("unusable-headline", in_words(details, words)),
            Error::TooLarge(_) => ("too-large-headline", words.get("try-again")),
            Error::Timeout => ("too-slow-headline", words.get("try-again")),
            // The per-IP limit answers before any handler (`routes`); not met here.
            Error::RateLimited { .. } => ("refused-headline", words.get("try-again")),
            Error::Conflict(_) => ("ended-headline", words.get("nothing-changed")),
            Error::Unauthorized(message) | Error::Refused(message) => {
                ("refused-headline", in_words(message, words))
            }
            Error::Forbidden(message) => ("refused-headline", in_words(message, words)),
            Error::Internal(cause) => {
                tracing::error!(%cause, "cashier request failed");
                ("error-headline", words.get("error-message"))
            }
        };
        Refusal::page(
            error.status(),
            words,
            &words.get(headline),
            &message,
            back,
            error.data(),
        )
    }
}

/// A message of the layers below in the payer's language where the catalog has it (the order
/// services and this module write these in English for the API and the logs); any other as
/// it is.
fn in_words(message: &str, words: &Words) -> String {
    let id = match message {
        "The transaction ID must have 1 to 11 characters." => "msg-transaction-id-length",
        "This transaction ID was already used for another payment." => "msg-transaction-id-used",
        "The body must be a form (application/x-www-form-urlencoded)."
        | "The form could not be read." => "form-unreadable",
        _ => return message.to_string(),
    };
    words.get(id)
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
fn payment_uid(
    path: Result<Path<String>, PathRejection>,
    asked: &Asked,
) -> Result<String, Refusal> {
    match path {
        Ok(Path(uid))
            if !uid.is_empty()
                && uid.len() <= 64
                && uid.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(uid)
        }
        _ => Err(Refusal::not_found(&asked.words(None))),
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
fn same_origin(
    state: &AppState,
    headers: &HeaderMap,
    words: &Words,
    back: &str,
) -> Result<(), Refusal> {
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
        return Err(Refusal::forbidden(words, back));
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
fn page_token(
    state: &AppState,
    payment_uid: &str,
    token: &str,
    words: &Words,
    back: &str,
) -> Result<(), Refusal> {
    if state
        .cashier_key
        .verify_str(&token_message(payment_uid), token)
    {
        Ok(())
    } else {
        Err(Refusal::forbidden(words, back))
    }
}

/// Any method other than the page's GET and the forms' POST.
async fn wrong_method(asked: Asked, path: Result<Path<String>, PathRejection>) -> Refusal {
    let back = payment_uid(path, &asked)
        .map(|uid| page_path(&uid) + &asked.query())
        .unwrap_or_default();
    let words = asked.words(None);
    Refusal::page(
        StatusCode::METHOD_NOT_ALLOWED,
        &words,
        &words.get("unusable-headline"),
        &words.get("wrong-method"),
        &back,
        json!("Method not allowed: use GET or POST"),
    )
}

/// `GET` of a form's address: the payment page (in the language asked for, if any).
async fn to_page(
    asked: Asked,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Refusal> {
    let uid = payment_uid(path, &asked)?;
    Ok((
        StatusCode::SEE_OTHER,
        [(LOCATION, page_path(&uid) + &asked.query())],
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "cashier.html")]
struct CashierPage<'a> {
    style: &'a str,
    script: &'a str,
    w: &'a Words,
    switcher: Vec<Choice>,
    title: String,
    /// The form token of this order's page.
    token: String,
    merchant_name: &'a str,
    merchant_order_id: &'a str,
    payment_uid: &'a str,
    /// The amount to send: its plain and highlighted parts, and the whole (to copy).
    amount_plain: String,
    amount_floating: String,
    amount_text: String,
    currency: String,
    additional: &'a str,
    /// The order's `payment_status`, for the script and tests (the payer reads the words).
    status: &'static str,
    status_words: String,
    headline: String,
    final_note: String,
    fail_reason: &'a str,
    /// Seconds left and their words, while the order is open and has an expiry.
    time_left: Option<(i64, String)>,
    /// The script's patterns of the countdown (`{h}`, `{m}`, `{s}`).
    pattern_hm: String,
    pattern_ms: String,
    /// Whether the script watches the order's status.
    watch: bool,
    status_url: String,
    /// This page in the payer's language (where the script and the refresh reload to).
    page_url: String,
    /// `?lang=` for the forms when the payer chose a language.
    lang_query: String,
    /// Without the script: reload after these seconds to this address.
    refresh: Option<(u32, String)>,
    sandbox: bool,
    can_simulate: bool,
    redirect_url: &'a str,
    return_to: String,
    /// Words shown while the page is about to go back to `redirect_url`.
    going_back: Option<String>,
    back_seconds: u32,
    /// An upstream's instructions, labelled.
    listed: Vec<Row>,
    /// An own account's block.
    pay_to: Option<instructions::PayTo>,
    can_confirm: bool,
    message: String,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage<'a> {
    style: &'a str,
    w: &'a Words,
    switcher: Vec<Choice>,
}

/// The catalog ids of the headline and the short status words of a status.
fn status_words(status: PaymentStatus) -> (&'static str, &'static str) {
    match status {
        PaymentStatus::None | PaymentStatus::Pending | PaymentStatus::Preparing => {
            ("headline-waiting", "status-waiting")
        }
        PaymentStatus::Processing => ("headline-processing", "status-processing"),
        PaymentStatus::Completed => ("headline-received", "status-received"),
        PaymentStatus::Failed => ("headline-failed", "status-failed"),
        PaymentStatus::Reject => ("headline-rejected", "status-rejected"),
        PaymentStatus::Refund => ("headline-refunded", "status-refunded"),
        PaymentStatus::Overdue => ("headline-expired", "status-expired"),
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
    asked: Asked,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Refusal> {
    let payment_uid = payment_uid(path, &asked)?;
    let back = page_path(&payment_uid) + &asked.query();
    let Some(order) = find_deposit(&state, &payment_uid)
        .await
        .map_err(|e| Refusal::from_error(e, &asked.words(None), ""))?
    else {
        return Err(Refusal::not_found(&asked.words(None)));
    };
    render(&state, &order, &asked, String::new())
        .await
        .map_err(|e| Refusal::from_error(e, &asked.words(Some(&order)), &back))
}

/// `GET /octopus/pay/{payment_uid}/status`: what the page's script asks every few seconds.
/// Only this order's status and where the payer goes back to, both on the page already.
async fn status(
    State(state): State<AppState>,
    asked: Asked,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Refusal> {
    let payment_uid = payment_uid(path, &asked)?;
    let order = find_deposit(&state, &payment_uid)
        .await
        .map_err(|e| Refusal::from_error(e, &asked.words(None), ""))?
        .ok_or_else(|| Refusal::not_found(&asked.words(None)))?;
    let status = order.payment_status;
    let redirect_url = (!order.redirect_url.is_empty()).then_some(order.redirect_url.as_str());
    Ok(Json(json!({
        "status": status.as_str(),
        "final": !status.is_open(),
        "redirect_url": redirect_url,
    }))
    .into_response())
}

/// The page of a deposit as it is now, with a message for the payer.
async fn render(
    state: &AppState,
    order: &Order,
    asked: &Asked,
    message: String,
) -> Result<Response, Error> {
    let channel = state.services.channels.get(&order.channel);
    let connector = channel
        .as_ref()
        .map(|c| std::sync::Arc::clone(&c.connector));
    // The sandbox's Pay and Fail exist only for test orders (live orders never reach a
    // sandbox channel; one stored before test mode existed gets no buttons either).
    let sandbox = order.test && connector.as_ref().is_some_and(|c| c.simulates_payments());
    let upstream = connector.as_ref().is_some_and(|c| c.calls_upstream());
    // Where the payer pays: the operator's own account the order was given, or what an
    // upstream's connector stored for the payer.
    let (mut instructions, _) = if order.account.is_empty() {
        state.storage.upstream_of(&order.payment_uid).await?
    } else {
        let account = state.storage.account(&order.account).await?;
        (
            account.map(|a| octopus_domain::account::pay_to(&a).into_iter().collect()),
            Vec::new(),
        )
    };
    if upstream && instructions.is_none() && order.payment_status.is_open() {
        // Stored without its instructions (their write failed after the order's): ask again.
        if let Some(channel) = &channel {
            instructions =
                crate::services::upstream::restart_deposit(&state.services, channel, order).await;
        }
    }
    let html = page_html(
        order,
        PageContext {
            words: asked.words(Some(order)),
            lang_query: asked.query(),
            token: form_token(&state.cashier_key, &order.payment_uid),
            sandbox,
            upstream,
            instructions,
            now: now_ms(),
            message,
        },
    )
    .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Html(html).into_response())
}

/// What the page of an order shows besides the order itself.
struct PageContext {
    words: Words,
    /// `?lang=` when the payer chose a language (see [`Asked::query`]).
    lang_query: String,
    token: String,
    /// The channel's connector simulates payments (the sandbox).
    sandbox: bool,
    /// The channel's connector calls an upstream, which takes the payer's transaction ID.
    upstream: bool,
    /// What the connector stored for the payer.
    instructions: Option<octopus_domain::RequestFields>,
    now: octopus_domain::Timestamp,
    message: String,
}

/// The page of `order` in `context` (no I/O).
fn page_html(order: &Order, context: PageContext) -> Result<String, askama::Error> {
    let words = context.words;
    let status = order.payment_status;
    let open = status.is_open();
    let has_instructions = context.instructions.as_ref().is_some_and(|s| !s.is_empty());
    let shown = context
        .instructions
        .filter(|s| open && !s.is_empty())
        .map(|s| instructions::shown(&s, order, &words));
    let (listed, pay_to) = match shown {
        Some(Shown::Listed(rows)) => (rows, None),
        Some(Shown::OwnAccount(pay_to)) => (Vec::new(), Some(pay_to)),
        None => (Vec::new(), None),
    };
    // The sandbox also lets a payer pay an expired order, to try a late payment.
    let can_simulate = context.sandbox && (open || status == PaymentStatus::Overdue);
    let page_url = page_path(&order.payment_uid) + &context.lang_query;
    let going_back = (!open && !order.redirect_url.is_empty() && !can_simulate)
        .then(|| words.with("going-back", &[("merchant", &order.merchant_name)]));
    let refresh = if open {
        Some((REFRESH_SECONDS, page_url.clone()))
    } else if going_back.is_some() {
        Some((BACK_SECONDS_WITHOUT_SCRIPT, order.redirect_url.clone()))
    } else {
        None
    };
    let time_left = instructions::seconds_left(order.expires_at, context.now)
        .filter(|_| open)
        .map(|seconds| (seconds, instructions::time_left(seconds, &words)));
    let final_note = match status {
        PaymentStatus::Completed => words.get("received-note"),
        PaymentStatus::Failed | PaymentStatus::Reject | PaymentStatus::Overdue => {
            words.with("ended-note", &[("merchant", &order.merchant_name)])
        }
        _ => String::new(),
    };
    // The digits that make the amount this order's, while the payer still has to send it.
    let (amount_plain, amount_floating) = if open {
        instructions::floating_digits(order.final_amount, order.amount, order.currency)
    } else {
        (
            format_amount(order.final_amount, order.currency),
            String::new(),
        )
    };
    let (headline, status_word) = status_words(status);
    CashierPage {
        style: STYLE,
        script: SCRIPT,
        w: &words,
        switcher: switcher(&words, &page_path(&order.payment_uid)),
        title: words.with("page-title", &[("merchant", &order.merchant_name)]),
        token: context.token,
        merchant_name: &order.merchant_name,
        merchant_order_id: &order.merchant_order_id,
        payment_uid: &order.payment_uid,
        amount_plain,
        amount_floating,
        amount_text: format_amount(order.final_amount, order.currency),
        currency: order.currency.code().to_uppercase(),
        additional: &order.additional,
        status: status.as_str(),
        status_words: words.get(status_word),
        headline: words.get(headline),
        final_note,
        fail_reason: &order.payment_fail_reason,
        time_left,
        pattern_hm: words.with(
            "time-hours-minutes",
            &[("hours", "{h}"), ("minutes", "{m}")],
        ),
        pattern_ms: words.with(
            "time-minutes-seconds",
            &[("minutes", "{m}"), ("seconds", "{s}")],
        ),
        // An expired order may still be paid late (money is never dropped): keep watching.
        watch: open || status == PaymentStatus::Overdue,
        status_url: format!("{}/status", page_path(&order.payment_uid)),
        page_url,
        lang_query: context.lang_query,
        refresh,
        sandbox: context.sandbox,
        can_simulate,
        redirect_url: &order.redirect_url,
        return_to: words.with("return-to", &[("merchant", &order.merchant_name)]),
        going_back,
        back_seconds: BACK_SECONDS,
        listed,
        pay_to,
        can_confirm: context.upstream
            && has_instructions
            && (open || status == PaymentStatus::Overdue),
        message: context.message,
    }
    .render()
}

/// A refusal about an order the payer is looking at: its page as it is now, with what was
/// refused in words, under the refusal's status.
async fn order_refusal(
    state: &AppState,
    order: &Order,
    asked: &Asked,
    error: Error,
    message: &str,
) -> Refusal {
    let back = page_path(&order.payment_uid) + &asked.query();
    match render(state, order, asked, message.to_string()).await {
        Ok(mut page) => {
            *page.status_mut() = error.status();
            Refusal(Box::new(with_json(page, error.data())))
        }
        Err(e) => Refusal::from_error(e, &asked.words(Some(order)), &back),
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
    asked: Asked,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, Refusal> {
    let (order, form, back) = posted(&state, &asked, path, &headers, form).await?;
    let words = asked.words(Some(&order));
    let payment_uid = order.payment_uid.clone();
    let refused = |e: Error| Refusal::from_error(e, &words, &back);
    let channel = state
        .services
        .channels
        .get(&order.channel)
        .filter(|c| c.connector.calls_upstream())
        .ok_or_else(|| Refusal::not_found(&words))?;
    if !(order.payment_status.is_open() || order.payment_status == PaymentStatus::Overdue) {
        return render(&state, &order, &asked, String::new())
            .await
            .map_err(refused);
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
                Error::Invalid(details) => in_words(details, &words),
                _ => String::new(),
            };
            return Err(order_refusal(&state, &order, &asked, e, &message).await);
        }
        Err(e) => return Err(refused(e)),
    };
    use crate::services::upstream::Confirmed;
    let message = match answer {
        Confirmed::Completed => String::new(),
        Confirmed::Short { missing } => words.with(
            "msg-short",
            &[(
                "missing",
                &format!(
                    "{} {}",
                    format_amount(missing, order.currency),
                    order.currency.code().to_uppercase()
                ),
            )],
        ),
        Confirmed::Processing { .. } => words.get("msg-checking"),
        Confirmed::Refused { message } => in_words(&message, &words),
        Confirmed::Failed { reason } => words.with("msg-not-confirmed", &[("reason", &reason)]),
    };
    let order = find_deposit(&state, &payment_uid)
        .await
        .map_err(refused)?
        .ok_or_else(|| Refusal::not_found(&words))?;
    render(&state, &order, &asked, message)
        .await
        .map_err(refused)
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
/// Returns the order, the form and the page to go back to. Refusals before the order is known
/// speak the language the request asks for; after, the order's too.
async fn posted<F: PageForm>(
    state: &AppState,
    asked: &Asked,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
) -> Result<(Order, F, String), Refusal> {
    let payment_uid = payment_uid(path, asked)?;
    let back = page_path(&payment_uid) + &asked.query();
    let words = asked.words(None);
    same_origin(state, headers, &words, &back)?;
    let Form(form) = form.map_err(|r| Refusal::unreadable(r, &words, &back))?;
    let order = find_deposit(state, &payment_uid)
        .await
        .map_err(|e| Refusal::from_error(e, &words, &back))?
        .ok_or_else(|| Refusal::not_found(&words))?;
    page_token(
        state,
        &payment_uid,
        form.token(),
        &asked.words(Some(&order)),
        &back,
    )?;
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
    asked: Asked,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<SimulateForm>, FormRejection>,
) -> Result<Response, Refusal> {
    let (order, form, back) = posted(&state, &asked, path, &headers, form).await?;
    let words = asked.words(Some(&order));
    let payment_uid = order.payment_uid.clone();
    let refused = |e: Error| Refusal::from_error(e, &words, &back);
    let sandbox = order.test
        && state
            .services
            .channels
            .get(&order.channel)
            .is_some_and(|c| c.connector.simulates_payments());
    if !sandbox {
        return Err(Refusal::not_found(&words));
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
            return Err(order_refusal(&state, &order, &asked, e, &words.get("msg-choose")).await);
        }
    };
    match crate::services::orders::change_status(
        &*state.storage,
        &payment_uid,
        change.from_status(order.payment_status),
    )
    .await
    {
        Ok(changed) => {
            if octopus_domain::callback::is_reported(&changed) {
                state.callbacks_due.notify_one();
            }
        }
        Err(e) => {
            let e = Error::from(e);
            if !matches!(e, Error::Conflict(_)) {
                return Err(refused(e));
            }
            // Pressed again, or in a second window: the page as it is now says how it ended.
            let order = find_deposit(&state, &payment_uid)
                .await
                .map_err(refused)?
                .ok_or_else(|| Refusal::not_found(&words))?;
            return Err(
                order_refusal(&state, &order, &asked, e, &words.get("msg-already-ended")).await,
            );
        }
    }
    Ok((StatusCode::SEE_OTHER, [(LOCATION, back)]).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use octopus_domain::promptpay::{self, PromptPayId};
    use octopus_domain::{AccountingStatus, AccountingType, Currency, NotifyStatus, RequestFields};
    use rust_decimal::Decimal;

    const NOW: i64 = 1_700_000_000_000;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn deposit(currency: Currency, amount: &str, final_amount: &str, country: &str) -> Order {
        Order {
            id: 1,
            payment_uid: "P0123456789abcdef".into(),
            merchant_id: 1,
            merchant_uid: "M1".into(),
            merchant_name: "Demo Shop".into(),
            signature_key: "k".into(),
            merchant_order_id: "o-1".into(),
            transaction_type: TransactionType::Income,
            accounting_type: AccountingType::Receive,
            amount: d(amount),
            floating_amount: d(final_amount) - d(amount),
            final_amount: d(final_amount),
            currency,
            country: country.into(),
            country_code: country.into(),
            payment: "bank".into(),
            channel: "own".into(),
            account: String::new(),
            reference: String::new(),
            from: String::new(),
            from_name: String::new(),
            from_bank_name: String::new(),
            to: String::new(),
            to_name: String::new(),
            to_bank_name: String::new(),
            member_id: String::new(),
            redirect_url: "https://shop.example/back".into(),
            notify_url: String::new(),
            response_type: "json".into(),
            ip: String::new(),
            user_agent: String::new(),
            ttl: None,
            float_precision: 2,
            additional: String::new(),
            extra: "{}".into(),
            distribute_rules: "{}".into(),
            payment_status: PaymentStatus::Pending,
            payment_fail_reason: String::new(),
            notify_status: NotifyStatus::None,
            notify_fail_reason: String::new(),
            accounting_status: AccountingStatus::None,
            accounting_fail_reason: String::new(),
            fee: Decimal::ZERO,
            fee_rule: Default::default(),
            fingerprint: String::new(),
            amount_locked: true,
            created_at: NOW,
            updated_at: NOW,
            expires_at: Some(NOW + 14 * 60_000 + 5_000),
            next_check_at: None,
            test: false,
            request_id: String::new(),
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> RequestFields {
        let mut f = RequestFields::new();
        for (k, v) in pairs {
            f.insert(*k, *v);
        }
        f
    }

    fn own_page(order: &Order, language: Language, instructions: RequestFields) -> String {
        page_html(
            order,
            PageContext {
                words: Words::new(language),
                lang_query: String::new(),
                token: "t".into(),
                sandbox: false,
                upstream: false,
                instructions: Some(instructions),
                now: NOW,
                message: String::new(),
            },
        )
        .unwrap()
    }

    /// Reads the page's QR code back: the SVG's modules drawn onto a greyscale image (4
    /// pixels a module) and decoded by an independent QR reader.
    fn read_qr(html: &str) -> String {
        let svg = &html[html.find("<svg").expect("a QR code")..];
        let svg = &svg[..svg.find("</svg>").unwrap()];
        let size: usize = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let path = svg.split(" d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        let mut dark = vec![false; size * size];
        for module in path.split('M').filter(|m| !m.is_empty()) {
            let mut numbers = module
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty());
            let x: usize = numbers.next().unwrap().parse().unwrap();
            let y: usize = numbers.next().unwrap().parse().unwrap();
            dark[y * size + x] = true;
        }
        let scale = 4;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(size * scale, size * scale, |x, y| {
                if dark[(y / scale) * size + x / scale] {
                    0
                } else {
                    255
                }
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code");
        grids[0].decode().expect("a readable QR code").1
    }

    /// The `(tag, value)` fields of an EMVCo payload, read without the code that wrote it.
    fn emv_fields(mut text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while text.len() >= 4 {
            let len: usize = text[2..4].parse().unwrap();
            out.push((text[..2].to_string(), text[4..4 + len].to_string()));
            text = &text[4 + len..];
        }
        assert!(text.is_empty());
        out
    }

    #[test]
    fn an_own_promptpay_account_shows_its_qr_the_exact_amount_and_copy_buttons() {
        let order = deposit(Currency::Thb, "500.00", "500.37", "TH");
        let html = own_page(
            &order,
            Language::Thai,
            fields(&[
                ("method", "promptpay"),
                ("account_number", "123-4-56789-0"),
                ("account_holder", "สมชาย ใจดี"),
                ("bank_code", "004"),
                ("bank_name", "Kasikornbank"),
                ("promptpay_id", "081-234-5678"),
            ]),
        );
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"th\">"),
            "{html}"
        );
        assert!(html.contains("รอการชำระเงินของคุณ"), "the Thai headline");
        assert!(
            html.contains(r#"<span id="pay-amount">500.<mark>37</mark></span> THB"#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="pay-promptpay-id">0812345678</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"id="pay-account-number">123-4-56789-0</span>"#),
            "the bank account behind the PromptPay ID"
        );
        assert!(html.contains(r#"id="pay-account-holder">สมชาย ใจดี</span>"#));
        assert!(html.contains(r#"id="pay-bank">Kasikornbank</span>"#));
        assert!(
            html.contains(r#"data-copy="0812345678""#),
            "a copy button for the ID"
        );
        assert!(
            html.contains(r#"data-copy="500.37""#),
            "a copy button for the amount"
        );
        assert!(
            html.contains(r#"id="time-left-value" data-seconds="845""#),
            "{html}"
        );
        assert!(html.contains("14 นาที 05 วินาที"));
        assert!(
            !html.contains("name=\"transaction_id\""),
            "no confirmation form without an upstream"
        );
        // The page's Content-Security-Policy blocks style attributes; none is used.
        assert!(!html.contains(" style="), "a style attribute");
        let qr = read_qr(&html);
        let id = PromptPayId::parse("0812345678").unwrap();
        assert_eq!(qr, promptpay::payload(&id, d("500.37")));
        assert!(
            html.contains(&format!(
                r#"<figure class="qr" id="qr" data-payload="{qr}">"#
            )),
            "what the QR encodes, readable on the page"
        );
        let emv = emv_fields(&qr);
        let tag = |t: &str| {
            emv.iter()
                .find(|(k, _)| k == t)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(tag("54"), "500.37");
        assert_eq!(tag("53"), "764");
        assert_eq!(tag("58"), "TH");
        assert_eq!(tag("01"), "12");
        assert_eq!(
            emv_fields(&tag("29")),
            [
                ("00".to_string(), "A000000677010111".to_string()),
                ("01".to_string(), "0066812345678".to_string())
            ]
        );
        let (body, crc) = qr.split_at(qr.len() - 4);
        assert_eq!(
            format!("{:04X}", promptpay::crc16_ccitt_false(body.as_bytes())),
            crc
        );
        println!("rendered THB PromptPay page: {} bytes", html.len());
    }

    #[test]
    fn an_own_upi_account_shows_its_qr_and_the_link_that_opens_a_upi_app() {
        let order = deposit(Currency::Inr, "1000.00", "999.63", "IN");
        let html = own_page(
            &order,
            Language::Hindi,
            fields(&[
                ("method", "upi"),
                ("account_number", "shop@okaxis"),
                ("account_holder", "Demo Shop Pvt Ltd"),
                ("vpa", "shop@okaxis"),
            ]),
        );
        let link = octopus_domain::upi::link(
            "shop@okaxis",
            "Demo Shop Pvt Ltd",
            d("999.63"),
            &order.payment_uid,
        );
        assert_eq!(read_qr(&html), link);
        assert!(
            html.contains(&format!(
                r#"id="app-link" href="{}""#,
                link.replace('&', "&#38;")
            )),
            "{html}"
        );
        assert!(html.contains("UPI ऐप में खोलें"));
        assert!(html.contains(r#"<span id="pay-amount">999.<mark>63</mark></span> INR"#));
        assert!(html.contains(r#"id="pay-vpa">shop@okaxis</span>"#));
    }

    #[test]
    fn bank_and_wallet_accounts_show_their_numbers_without_a_qr() {
        let order = deposit(Currency::Thb, "100", "100.05", "TH");
        let html = own_page(
            &order,
            Language::English,
            fields(&[
                ("method", "bank"),
                ("account_number", "123-4-56789-0"),
                ("account_holder", "Somchai Jaidee"),
                ("bank_code", "004"),
            ]),
        );
        assert!(!html.contains("<svg"));
        assert!(html.contains("Transfer to this bank account"));
        assert!(html.contains(r#"id="pay-account-number">123-4-56789-0</span>"#));
        assert!(
            html.contains(r#"id="pay-bank">004</span>"#),
            "the code where no name is given"
        );
        assert!(html.contains("100.<mark>05</mark>"));
        let order = deposit(Currency::Php, "500", "500.12", "PH");
        let html = own_page(
            &order,
            Language::English,
            fields(&[
                ("method", "wallet"),
                ("wallet", "gcash"),
                ("account_number", "09171234567"),
                ("account_holder", "Juan"),
            ]),
        );
        assert!(html.contains("Send to this GCash number"), "{html}");
        assert!(html.contains("GCash number</dt>"));
        assert!(html.contains(r#"data-copy="09171234567""#));
        // An account that names no wallet: the payment method the merchant named, when it is
        // one, else the words for an e-wallet (never an empty name).
        let unnamed = fields(&[("method", "wallet"), ("account_number", "09171234567")]);
        let mut gcash = order.clone();
        gcash.payment = "gcash".into();
        let html = own_page(&gcash, Language::English, unnamed.clone());
        assert!(html.contains("Send to this GCash number"), "{html}");
        let html = own_page(&order, Language::English, unnamed.clone());
        assert!(html.contains("Send to this e-wallet number"), "{html}");
        assert!(html.contains("<dt>e-wallet number</dt>"), "{html}");
        let html = own_page(&order, Language::Thai, unnamed);
        assert!(html.contains("โอนไปยังหมายเลข อีวอลเล็ต นี้"), "{html}");
        // Once the order has ended, no instructions, and the way back to the merchant.
        let mut done = order.clone();
        done.payment_status = PaymentStatus::Completed;
        let html = own_page(
            &done,
            Language::English,
            fields(&[("method", "wallet"), ("account_number", "09171234567")]),
        );
        assert!(!html.contains("09171234567"));
        assert!(html.contains("Payment received") && html.contains(r#"id="going-back""#));
        assert!(
            html.contains(r#"data-status="completed""#) && html.contains(r#"data-watch="false""#)
        );
        assert!(
            html.contains(r#"content="15;url=https://shop.example/back""#),
            "back without the script too"
        );
    }

    #[test]
    fn an_upstream_account_is_listed_with_the_confirmation_form_in_the_chosen_language() {
        let order = deposit(Currency::Mmk, "6000", "6000", "MM");
        let html = page_html(
            &order,
            PageContext {
                words: Words::new(Language::Burmese),
                lang_query: "?lang=my".into(),
                token: "t".into(),
                sandbox: false,
                upstream: true,
                instructions: Some(fields(&[
                    ("account", "09123456789"),
                    ("wallet_type", "wavepay"),
                ])),
                now: NOW,
                message: String::new(),
            },
        )
        .unwrap();
        assert!(html.contains(r#"id="pay-account">09123456789</span>"#));
        assert!(html.contains(r#"action="/octopus/pay/P0123456789abcdef/confirm?lang=my""#));
        assert!(!html.contains("<mark>"), "no offset, nothing highlighted");
        assert!(
            html.contains(r#"<a id="lang-th" href="/octopus/pay/P0123456789abcdef?lang=th""#),
            "{html}"
        );
        assert!(html.contains(r#"aria-current="true">မြန်မာ</a>"#));
        assert!(html.contains(r#"content="20;url=/octopus/pay/P0123456789abcdef?lang=my""#));
    }

    #[test]
    fn the_order_lang_comes_from_the_merchants_extra_fields() {
        let mut order = deposit(Currency::Thb, "1", "1", "TH");
        let asked = Asked {
            lang: None,
            accept_language: Some("vi, en;q=0.5".into()),
        };
        assert_eq!(asked.words(Some(&order)).language(), Language::Vietnamese);
        order.extra = r#"{"lang":"zh-CN"}"#.into();
        assert_eq!(asked.words(Some(&order)).language(), Language::Chinese);
        let chosen = Asked {
            lang: Some(Language::Bengali),
            ..asked.clone()
        };
        assert_eq!(chosen.words(Some(&order)).language(), Language::Bengali);
        assert_eq!(chosen.query(), "?lang=bn");
        assert_eq!(Asked::default().words(None).language(), Language::English);
        order.extra = "{}".into();
        assert_eq!(
            Asked::default().words(Some(&order)).language(),
            Language::Thai,
            "the country"
        );
    }

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
