//! The admin API's money outside single orders: transfers waiting in suspense (assign to a
//! deposit, or record their return), the payout queue of an own-accounts channel (list, the
//! bank's bulk CSV, mark sent or failed) and payouts held for review, and the ledger (a
//! merchant's balances and entries, the entries as CSV, the verification of the whole
//! journal). Reads need `ReadMoney`, actions `MoveMoney`; every action is audited with before
//! and after.

use axum::body::Body as ResponseBody;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use octopus_domain::money::format_amount;
use octopus_domain::operator::Permission;
use octopus_domain::transfer::TransferStatus;
use octopus_domain::{Currency, Merchant, Order};
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Admin;
use super::csv;
use super::extract::{Body, Params};
use super::orders::audited;
use super::views;
use crate::clock::now_ms;
use crate::error::Error;
use crate::services::operators::audit;
use crate::services::transfers::{self, Operator};
use crate::state::AppState;

/// The most rows a list answers.
const LIST_LIMIT: u32 = 1000;

fn success(data: impl serde::Serialize) -> Json<Value> {
    Json(json!({"result": "success", "data": data}))
}

/// `GET /octopus/admin/v1/suspense`: transfers no order took, oldest first.
pub async fn suspense(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadMoney)?;
    let waiting = state
        .storage
        .transfers_in(TransferStatus::Suspense, LIST_LIMIT)
        .await?;
    Ok(success(
        waiting.iter().map(views::transfer).collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Assignment {
    #[serde(default)]
    payment_uid: String,
    #[serde(default)]
    reason: String,
}

async fn transfer_json(state: &AppState, uid: &str) -> Result<String, Error> {
    Ok(state
        .storage
        .transfer(uid)
        .await?
        .map(|t| views::transfer(&t).to_string())
        .unwrap_or_default())
}

/// `POST /octopus/admin/v1/suspense/{transfer}/assign` `{"payment_uid","reason"}`: the
/// transfer completes the deposit with the amount received.
pub async fn assign(
    State(state): State<AppState>,
    admin: Admin,
    Path(transfer): Path<String>,
    Body(body): Body<Assignment>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let before = transfer_json(&state, &transfer).await?;
    let who = Operator {
        by: &admin.actor.name,
        reason: &body.reason,
    };
    let t = transfers::assign(
        state.storage.as_ref(),
        &transfer,
        body.payment_uid.trim(),
        who,
        now_ms(),
    )
    .await?;
    state.callbacks_due.notify_one();
    let after = views::transfer(&t);
    let storage = state.storage.as_ref();
    audit(
        storage,
        &admin.actor,
        "suspense.assign",
        &transfer,
        &before,
        &after.to_string(),
        now_ms(),
    )
    .await?;
    Ok(success(after))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Return {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    reason: String,
}

/// `POST /octopus/admin/v1/suspense/{transfer}/returned` `{"reference","reason"}`: the
/// transfer went back to its payer.
pub async fn returned(
    State(state): State<AppState>,
    admin: Admin,
    Path(transfer): Path<String>,
    Body(body): Body<Return>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let before = transfer_json(&state, &transfer).await?;
    let who = Operator {
        by: &admin.actor.name,
        reason: &body.reason,
    };
    let t = transfers::returned(
        state.storage.as_ref(),
        &transfer,
        &body.reference,
        who,
        now_ms(),
    )
    .await?;
    let after = views::transfer(&t);
    let storage = state.storage.as_ref();
    audit(
        storage,
        &admin.actor,
        "suspense.returned",
        &transfer,
        &before,
        &after.to_string(),
        now_ms(),
    )
    .await?;
    Ok(success(after))
}

#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Queue {
    #[serde(default)]
    pub channel: String,
}

/// `GET /octopus/admin/v1/payouts?channel=`: the payouts of an own-accounts channel waiting
/// for the operator to send them, oldest first.
pub async fn payouts(
    State(state): State<AppState>,
    admin: Admin,
    Params(queue): Params<Queue>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadMoney)?;
    let queued = state
        .storage
        .pending_payouts(queue.channel.trim(), LIST_LIMIT)
        .await?;
    Ok(success(
        queued.iter().map(views::order_summary).collect::<Vec<_>>(),
    ))
}

/// The header of the bank's bulk-payout file.
pub const PAYOUTS_CSV_HEADER: &str = "bank_code,account,name,amount,currency,payment_uid\n";

/// The bank code a payout's `to_bank_name` names (a Thai bank's code), or the name as given.
fn bank_code(order: &Order) -> String {
    octopus_domain::thai_bank::ThaiBank::parse(&order.to_bank_name)
        .map(|b| b.code().to_string())
        .unwrap_or_else(|_| order.to_bank_name.clone())
}

/// A queued payout as a line of the bank's bulk-payout file.
pub fn payout_csv(o: &Order) -> String {
    views::csv_line(&[
        bank_code(o),
        o.to.clone(),
        o.to_name.clone(),
        format_amount(o.amount, o.currency),
        o.currency.code().to_uppercase(),
        o.payment_uid.clone(),
    ])
}

/// `GET /octopus/admin/v1/payouts.csv?channel=`: the queue as the bank's bulk-payout file.
pub async fn payouts_csv(
    State(state): State<AppState>,
    admin: Admin,
    Params(queue): Params<Queue>,
) -> Result<Response, Error> {
    admin.require(Permission::ReadMoney)?;
    let queued = state
        .storage
        .pending_payouts(queue.channel.trim(), LIST_LIMIT)
        .await?;
    let mut text = PAYOUTS_CSV_HEADER.to_string();
    text.extend(queued.iter().map(payout_csv));
    Ok(csv::response("payouts.csv", ResponseBody::from(text)))
}

/// `GET /octopus/admin/v1/payouts/review`: payouts held for review, oldest first.
pub async fn in_review(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadMoney)?;
    let held = state.storage.payouts_in_review(LIST_LIMIT).await?;
    Ok(success(
        held.iter().map(views::order_summary).collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Sent {
    #[serde(default)]
    reference: String,
}

async fn order(state: &AppState, payment_uid: &str) -> Result<Order, Error> {
    state
        .storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))
}

/// `POST /octopus/admin/v1/payouts/{payment_uid}/sent` `{"reference"}`: a queued payout was
/// sent, with the bank reference of the transfer.
pub async fn payout_sent(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Sent>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let before = order(&state, &payment_uid).await?;
    let after = transfers::payout_sent(
        state.storage.as_ref(),
        &payment_uid,
        &body.reference,
        &admin.actor.name,
        now_ms(),
    )
    .await?;
    state.callbacks_due.notify_one();
    audited(&state, &admin, "payout.sent", &before, &after).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Failure {
    #[serde(default)]
    reason: String,
}

/// `POST /octopus/admin/v1/payouts/{payment_uid}/failed` `{"reason"}`: a queued payout could
/// not be sent; its hold goes back to the merchant.
pub async fn payout_failed(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Failure>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let before = order(&state, &payment_uid).await?;
    let after = transfers::payout_failed(
        state.storage.as_ref(),
        &payment_uid,
        &body.reason,
        &admin.actor.name,
        now_ms(),
    )
    .await?;
    state.callbacks_due.notify_one();
    audited(&state, &admin, "payout.failed", &before, &after).await
}

#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Books {
    pub merchant_uid: String,
    /// `true`: the merchant's test book; otherwise its live one.
    pub test: Option<bool>,
    pub currency: Option<String>,
    /// The `next` of the page before.
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// The book `books` names: the merchant's live one, or its test one.
async fn book(state: &AppState, books: &Books) -> Result<Merchant, Error> {
    let live = state
        .storage
        .merchant_by_uid(books.merchant_uid.trim())
        .await?
        .ok_or(Error::NotFound("Merchant not found"))?;
    if books.test == Some(true) {
        Ok(state.storage.test_book(live.id, now_ms()).await?)
    } else {
        Ok(live)
    }
}

pub fn currency(text: &Option<String>) -> Result<Option<Currency>, Error> {
    text.as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| Currency::parse(c).ok_or_else(|| Error::Invalid("currency: unknown".into())))
        .transpose()
}

/// `GET /octopus/admin/v1/ledger/balances?merchant_uid=`: available, held and total per
/// currency.
pub async fn balances(
    State(state): State<AppState>,
    admin: Admin,
    Params(books): Params<Books>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadMoney)?;
    let m = book(&state, &books).await?;
    Ok(success(balances_of(&state, &m).await?))
}

/// A book's balances: available, held and total per currency.
pub async fn balances_of(state: &AppState, m: &Merchant) -> Result<Value, Error> {
    let balances: Vec<Value> = state
        .storage
        .balances(m.id)
        .await?
        .iter()
        .map(|b| {
            json!({
                "currency": b.currency.code(),
                "available": b.available.normalize().to_string(),
                "held": b.held.normalize().to_string(),
                "total": (b.available + b.held).normalize().to_string(),
            })
        })
        .collect();
    Ok(json!({
        "merchant_uid": m.uid,
        "test": m.mode == octopus_domain::Mode::Test,
        "balances": balances,
    }))
}

/// `GET /octopus/admin/v1/ledger/entries?merchant_uid=&currency=&before=&limit=`: newest
/// first; `next` fetches the page after.
pub async fn entries(
    State(state): State<AppState>,
    admin: Admin,
    Params(books): Params<Books>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadMoney)?;
    let m = book(&state, &books).await?;
    Ok(success(entries_page(&state, &m, &books).await?))
}

/// A page of a book's entries, newest first, and the cursor of the page after.
pub async fn entries_page(state: &AppState, m: &Merchant, books: &Books) -> Result<Value, Error> {
    let limit = books.limit.unwrap_or(50).clamp(1, 500);
    let found = state
        .storage
        .merchant_entries(m.id, currency(&books.currency)?, books.before, limit)
        .await?;
    let next = (found.len() == limit as usize)
        .then(|| found.last().map(|e| e.id))
        .flatten();
    let entries: Vec<Value> = found.iter().map(views::ledger_entry).collect();
    Ok(json!({"entries": entries, "next": next}))
}

/// The header of the ledger entries export.
const ENTRY_COLUMNS: &[&str] = &[
    "entry_id",
    "created_at",
    "kind",
    "accounting_type",
    "currency",
    "amount",
    "fee",
    "available_change",
    "held_change",
    "available_after",
    "held_after",
    "payment_uid",
    "merchant_order_id",
];

/// `GET /octopus/admin/v1/ledger/entries.csv?merchant_uid=&currency=`: every entry, streamed a
/// page at a time.
pub async fn entries_csv(
    State(state): State<AppState>,
    admin: Admin,
    Params(books): Params<Books>,
) -> Result<Response, Error> {
    admin.require(Permission::ReadMoney)?;
    let m = book(&state, &books).await?;
    Ok(entries_export(state, m, currency(&books.currency)?))
}

/// Every entry of a book (in `currency`, or all) as CSV, read a page at a time while sent.
pub fn entries_export(state: AppState, m: Merchant, currency: Option<Currency>) -> Response {
    const PAGE: u32 = 1000;
    csv::paged(
        "entries.csv",
        &csv::header(ENTRY_COLUMNS),
        None,
        move |before| {
            let state = state.clone();
            async move {
                let found = state
                    .storage
                    .merchant_entries(m.id, currency, before, PAGE)
                    .await?;
                let next = (found.len() == PAGE as usize).then(|| found.last().map(|e| e.id));
                let text: String = found
                    .iter()
                    .map(|e| csv::json_line(&views::ledger_entry(e), ENTRY_COLUMNS))
                    .collect();
                Ok((text, next.flatten().map(Some)))
            }
        },
    )
}

/// `GET /octopus/admin/v1/ledger/verify`: every balance recomputed from the journal; the
/// violations found (none when sound).
pub async fn verify(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadMoney)?;
    let report = state.storage.verify_ledger().await?;
    Ok(success(json!({
        "sound": report.is_sound(),
        "entries": report.entries,
        "postings": report.postings,
        "accounts": report.accounts,
        "orders": report.orders,
        "violations": report.violations,
    })))
}
