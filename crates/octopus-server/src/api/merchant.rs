//! The merchant API, exactly as the merchant documents describe it: signed JSON `POST`s to
//! `/octopus/api/order/new`, `/octopus/api/order/get` and
//! `/octopus/api/ledger/get_merchant_ledger`, plus the ledger views `get_merchant_balance` and
//! `get_merchant_entries`.
//!
//! [`SignedRequest`] does what every endpoint shares, in this order: body limit (413), JSON
//! only (400), fields as signed (400), `OC-Key` + `OC-Signature` (401, never saying whether a
//! key exists), the key's rate limit (429). Handlers then check `merchant_uid` against the
//! key's merchant.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use octopus_domain::merchant::IP_NOT_ALLOWED;
use octopus_domain::money::{format_places, LEDGER_PLACES};
use octopus_domain::{
    ApiCredential, Currency, OrderRequest, RequestFields, ResponseType, TransactionType,
    ValidationError,
};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::views::{payment_url, PaymentView};
use crate::clock::rfc3339;
use crate::error::{Error, AUTH_FAILED};
use crate::http::client_ip;
use crate::openapi::{Auth, Route};
use crate::services::orders::{self, RequestContext};
use crate::state::AppState;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;
const MAX_USER_AGENT_CHARS: usize = 512;

/// Every route of the merchant API, with what the OpenAPI document says of it (the router and
/// the document are both made from this table).
pub fn table() -> Vec<Route> {
    let signed = |path, handler, summary| {
        Route::new("POST", path, handler, summary)
            .tag("merchant API")
            .auth(Auth::Signed)
    };
    vec![
        signed(
            "/octopus/api/order/new",
            post(order_new),
            "Create a deposit (income) or payout (expense)",
        )
        .body::<docs::OrderNew>(),
        signed(
            "/octopus/api/order/get",
            post(order_get),
            "One order of your merchant, by merchant_order_id",
        )
        .body::<docs::OrderGet>(),
        signed(
            "/octopus/api/ledger/get_merchant_ledger",
            post(merchant_ledger),
            "Your available balance per currency",
        )
        .body::<docs::Ledger>(),
        signed(
            "/octopus/api/ledger/get_merchant_balance",
            post(merchant_balance),
            "Available, held and total per currency",
        )
        .body::<docs::Ledger>(),
        signed(
            "/octopus/api/ledger/get_merchant_entries",
            post(merchant_entries),
            "Your ledger entries, newest first, paged",
        )
        .body::<docs::Entries>(),
    ]
}

pub fn routes() -> Router<AppState> {
    crate::openapi::router(table())
}

/// The request bodies as the OpenAPI document describes them. The API reads a signed body's
/// fields itself (`octopus_domain::request`), strictly; these types only document them, and
/// every value is a string (numbers are accepted as their literal text, see docs/api.md).
pub mod docs {
    #![allow(dead_code)]
    use utoipa::ToSchema;

    /// `order/new`.
    #[derive(ToSchema)]
    pub struct OrderNew {
        /// `income` (deposit) or `expense` (payout).
        pub transaction_type: String,
        /// A plain positive decimal with the currency's places (`"100.00"`).
        pub amount: String,
        /// `mmk`, `thb`, `inr`, `php`, `bdt`, `vnd`, ...
        pub currency: String,
        pub payment: String,
        pub country: String,
        /// Unique per merchant; a retry with the same one answers the same order.
        pub merchant_order_id: String,
        pub merchant_uid: String,
        pub notify_url: Option<String>,
        pub redirect_url: Option<String>,
        /// `json`.
        pub response_type: Option<String>,
        /// `recharge` or `receive` (income), `pay` or `settle` (expense).
        pub accounting_type: Option<String>,
        pub channel: Option<String>,
        /// A payout's payee account, name and bank.
        pub to: Option<String>,
        pub to_name: Option<String>,
        pub to_bank_name: Option<String>,
        pub from: Option<String>,
        pub from_name: Option<String>,
        pub from_bank_name: Option<String>,
        /// Seconds the deposit may wait for the payer.
        pub ttl: Option<String>,
        /// Decimal places of a floating offset added to the amount (own accounts).
        pub float_precision: Option<String>,
        pub additional: Option<String>,
    }

    /// `order/get`.
    #[derive(ToSchema)]
    pub struct OrderGet {
        pub merchant_order_id: String,
        pub merchant_uid: Option<String>,
    }

    /// `ledger/get_merchant_ledger` and `ledger/get_merchant_balance`.
    #[derive(ToSchema)]
    pub struct Ledger {
        pub merchant_uid: Option<String>,
    }

    /// `ledger/get_merchant_entries`.
    #[derive(ToSchema)]
    pub struct Entries {
        pub merchant_uid: Option<String>,
        pub currency: Option<String>,
        /// The `next` of the page before.
        pub before: Option<String>,
        pub limit: Option<String>,
    }
}

/// An authenticated merchant request.
pub struct SignedRequest {
    pub credential: Arc<ApiCredential>,
    pub fields: RequestFields,
    pub context: RequestContext,
}

impl SignedRequest {
    /// Refuses a `merchant_uid` that is not the key's merchant (an absent one is checked by
    /// the endpoint that requires it).
    fn check_merchant_uid(&self) -> Result<(), Error> {
        match self.fields.non_empty("merchant_uid") {
            Some(uid) if uid != self.credential.merchant.uid => Err(Error::Unauthorized(
                "Authentication failed: merchant_uid does not belong to this OC-Key".into(),
            )),
            _ => Ok(()),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl FromRequest<AppState> for SignedRequest {
    type Rejection = Error;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Error> {
        let (parts, body) = req.into_parts();
        let declared =
            header(&parts.headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
            return Err(Error::TooLarge(BODY_LIMIT));
        }
        if let Some(content_type) = header(&parts.headers, CONTENT_TYPE.as_str()) {
            let mime = content_type.split(';').next().unwrap_or_default().trim();
            if !mime.eq_ignore_ascii_case("application/json") {
                return Err(Error::Invalid(
                    "The request body must be JSON with Content-Type: application/json.".into(),
                ));
            }
        }
        let bytes = Limited::new(body, BODY_LIMIT)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    Error::TooLarge(BODY_LIMIT)
                } else if crate::http::connections::BodyTimeout::caused(e.as_ref()) {
                    Error::Timeout
                } else {
                    Error::Invalid("The request body could not be read.".into())
                }
            })?
            .to_bytes();
        let fields = RequestFields::from_json(&bytes)?;

        let (Some(api_key), Some(signature)) = (
            header(&parts.headers, "oc-key"),
            header(&parts.headers, "oc-signature"),
        ) else {
            return Err(Error::Unauthorized(
                "Authentication failed: the OC-Key and OC-Signature headers are required".into(),
            ));
        };
        let now = state.services.clock.now_ms();
        let credential = state.keys.credential(api_key, now).await?;
        let verified = match &credential {
            Some(c) => c.signing_key.verify(&fields, signature),
            None => {
                // Same work as for a known key, then the same answer.
                let _ = state.keys.decoy().verify(&fields, signature);
                false
            }
        };
        let credential = match credential {
            Some(c) if verified => c,
            _ => return Err(Error::Unauthorized(AUTH_FAILED.into())),
        };
        let ip = client_ip::of_request(
            &parts.extensions,
            &parts.headers,
            &state.config.trusted_proxies,
        );
        // Only a correctly signed request learns that its address is the problem.
        if !credential.policy.allows(ip) {
            return Err(Error::Forbidden(IP_NOT_ALLOWED));
        }
        // Only the key's holder, from an allowed address, spends its budget: after the
        // signature and the allowlist, before anything else (a replayed request from elsewhere
        // cannot exhaust it).
        state.rate_limiters.api.check(&credential.api_key)?;
        state.keys.used(&credential.api_key, now);
        let user_agent: String = header(&parts.headers, USER_AGENT.as_str())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        Ok(SignedRequest {
            credential,
            fields,
            context: RequestContext { ip, user_agent },
        })
    }
}

/// `{"result":"success","data":...}`, serialized straight from typed data.
#[derive(Serialize)]
struct Success<T: Serialize> {
    result: &'static str,
    data: T,
}

fn success<T: Serialize>(data: T) -> Response {
    Json(Success {
        result: "success",
        data,
    })
    .into_response()
}

/// The `data` of `order/new`: the payment, and the cashier page of a deposit.
#[derive(Serialize)]
struct CreatedData<'a> {
    payment: PaymentView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_url: Option<&'a str>,
}

/// `POST /octopus/api/order/new`: creates a deposit or payout (or returns the identical one
/// created before with this `merchant_order_id`).
async fn order_new(State(state): State<AppState>, req: SignedRequest) -> Result<Response, Error> {
    req.check_merchant_uid()?;
    let request = OrderRequest::from_fields(&req.fields)?;
    let response_type = request.response_type;
    let (order, _created) =
        orders::create(&state.services, &req.credential, request, req.context).await?;
    let url = payment_url(&state.public_url, &order);
    if order.transaction_type == TransactionType::Income && response_type == ResponseType::Redirect
    {
        return Ok((StatusCode::FOUND, [(LOCATION, url)]).into_response());
    }
    let payment = PaymentView::new(&order, &state.public_url);
    let payment_url = (order.transaction_type == TransactionType::Income).then_some(url.as_str());
    Ok(success(CreatedData {
        payment,
        payment_url,
    }))
}

/// `POST /octopus/api/order/get`: one order of the key's merchant, by `merchant_order_id`
/// (or by `payment_uid`).
async fn order_get(State(state): State<AppState>, req: SignedRequest) -> Result<Response, Error> {
    req.check_merchant_uid()?;
    let merchant = &req.credential.merchant;
    let order = if let Some(id) = req.fields.non_empty("merchant_order_id") {
        state
            .storage
            .order_by_merchant_order_id(merchant.id, id)
            .await?
    } else if let Some(uid) = req.fields.non_empty("payment_uid") {
        state
            .storage
            .order_by_payment_uid(uid)
            .await?
            .filter(|o| o.merchant_id == merchant.id)
    } else {
        return Err(ValidationError::Required("merchant_order_id").into());
    };
    let order = order.ok_or(Error::NotFound("Order not found"))?;
    Ok(success(PaymentView::new(&order, &state.public_url)))
}

/// The ledger endpoints name the merchant in the body: it is required and must be the key's.
fn require_merchant_uid(req: &SignedRequest) -> Result<(), Error> {
    if req.fields.non_empty("merchant_uid").is_none() {
        return Err(ValidationError::Required("merchant_uid").into());
    }
    req.check_merchant_uid()
}

fn ledger_amount(value: Decimal) -> String {
    format_places(
        if value.is_zero() {
            Decimal::ZERO
        } else {
            value
        },
        LEDGER_PLACES,
    )
}

/// `POST /octopus/api/ledger/get_merchant_ledger`: the merchant's uid and name, and its
/// available balance in every supported currency with six decimal places — `"0.000000"` where
/// it holds none, because public integrations read fixed fields (`cny`, `usd`, ...) and fail
/// on a missing one.
async fn merchant_ledger(
    State(state): State<AppState>,
    req: SignedRequest,
) -> Result<Response, Error> {
    require_merchant_uid(&req)?;
    let merchant = &req.credential.merchant;
    let mut data = Map::new();
    data.insert("merchant_uid".into(), Value::String(merchant.uid.clone()));
    data.insert("merchant_name".into(), Value::String(merchant.name.clone()));
    for currency in Currency::ALL {
        data.insert(
            currency.code().into(),
            Value::String(ledger_amount(Decimal::ZERO)),
        );
    }
    for balance in state.storage.balances(merchant.id).await? {
        data.insert(
            balance.currency.code().into(),
            Value::String(ledger_amount(balance.available)),
        );
    }
    if merchant.mode.is_test() {
        data.insert("test".into(), Value::String("1".into()));
    }
    Ok(success(data))
}

#[derive(Serialize)]
struct BalanceView {
    available: String,
    held: String,
    total: String,
}

#[derive(Serialize)]
struct BalancesData {
    merchant_name: String,
    balances: std::collections::BTreeMap<&'static str, BalanceView>,
    /// `"1"` when a test key asked: these are the test book's balances.
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<&'static str>,
}

/// `POST /octopus/api/ledger/get_merchant_balance`: available, held (reserved for payouts in
/// progress) and total, per currency.
async fn merchant_balance(
    State(state): State<AppState>,
    req: SignedRequest,
) -> Result<Response, Error> {
    require_merchant_uid(&req)?;
    let merchant = &req.credential.merchant;
    let balances = state
        .storage
        .balances(merchant.id)
        .await?
        .into_iter()
        .map(|b| {
            let view = BalanceView {
                available: ledger_amount(b.available),
                held: ledger_amount(b.held),
                total: ledger_amount(b.available + b.held),
            };
            (b.currency.code(), view)
        })
        .collect();
    Ok(success(BalancesData {
        merchant_name: merchant.name.clone(),
        balances,
        test: merchant.mode.is_test().then_some("1"),
    }))
}

#[derive(Serialize)]
struct EntryView {
    entry_id: String,
    created_at: String,
    kind: &'static str,
    accounting_type: &'static str,
    currency: &'static str,
    amount: String,
    fee: String,
    available_change: String,
    held_change: String,
    available_after: String,
    held_after: String,
    payment_uid: String,
    merchant_order_id: String,
}

#[derive(Serialize)]
struct EntriesData {
    entries: Vec<EntryView>,
    /// Pass as `cursor` for the next (older) page; empty on the last page.
    next_cursor: String,
    /// `"1"` when a test key asked: these are the test book's entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<&'static str>,
}

/// Entries per page unless `limit` says otherwise, and the most a page may have.
const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;

/// `POST /octopus/api/ledger/get_merchant_entries`: the merchant's journal entries, newest
/// first, a page at a time (`limit`, `cursor`), optionally of one `currency`.
async fn merchant_entries(
    State(state): State<AppState>,
    req: SignedRequest,
) -> Result<Response, Error> {
    require_merchant_uid(&req)?;
    let merchant = &req.credential.merchant;
    let currency = match req.fields.non_empty("currency") {
        None => None,
        Some(text) => Some(Currency::parse(text).ok_or_else(|| {
            Error::Invalid("The 'currency' field must be one of cny, usd, thb, vnd, php, sgd, idr, bdt, twd, brl, mxn, inr, mmk.".into())
        })?),
    };
    let limit = match req.fields.non_empty("limit") {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "The 'limit' field must be a whole number from 1 to {MAX_PAGE}."
                ))
            })?,
    };
    let before = match req.fields.non_empty("cursor") {
        None => None,
        Some(text) => Some(text.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
            Error::Invalid("The 'cursor' field must be a next_cursor of an earlier page.".into())
        })?),
    };
    // One more than asked tells whether an older page exists.
    let mut entries = state
        .storage
        .merchant_entries(merchant.id, currency, before, limit + 1)
        .await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = if more {
        entries.last().map(|e| e.id.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let entries = entries
        .into_iter()
        .map(|e| EntryView {
            entry_id: e.id.to_string(),
            created_at: rfc3339(e.created_at),
            kind: e.kind.as_str(),
            accounting_type: e.accounting_type.as_str(),
            currency: e.currency.code(),
            amount: ledger_amount(e.amount),
            fee: ledger_amount(e.fee),
            available_change: ledger_amount(e.available_change),
            held_change: ledger_amount(e.held_change),
            available_after: e.available_after.map(ledger_amount).unwrap_or_default(),
            held_after: e.held_after.map(ledger_amount).unwrap_or_default(),
            payment_uid: e.payment_uid,
            merchant_order_id: e.merchant_order_id,
        })
        .collect();
    Ok(success(EntriesData {
        entries,
        next_cursor,
        test: merchant.mode.is_test().then_some("1"),
    }))
}
