//! The admin API's orders: the search (by any id, by filters, newest first, a page at a time)
//! and its whole filtered set as CSV (streamed a page at a time: memory stays flat however many
//! orders match), an order's detail with its history, upstream exchanges, callbacks and ledger
//! entries, and the actions on one: resend its callback, refund, confirm by hand, fail a stuck
//! order, approve or reject a payout held for review. Every action is in the audit log with
//! the order before and after; the decisions are the services' (the same the CLI calls).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use octopus_domain::device::parse_rfc3339;
use octopus_domain::money::Amount;
use octopus_domain::operator::Permission;
use octopus_domain::{Currency, Order};
use octopus_storage::OrderQuery;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Admin;
use super::extract::{Body, Params};
use super::views;
use crate::clock::now_ms;
use crate::error::Error;
use crate::services::operators::audit;
use crate::services::transfers::{self, Operator};
use crate::services::{orders, risk};
use crate::state::AppState;

/// The most orders one page answers.
pub const MAX_PAGE: u32 = 200;
/// Orders read at a time by the export.
const EXPORT_PAGE: u32 = 1000;

fn success(data: impl serde::Serialize) -> Json<Value> {
    Json(json!({"result": "success", "data": data}))
}

/// The search's filters, as a query string (every one optional).
#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// merchant_order_id, payment_uid, bank or upstream reference.
    pub q: Option<String>,
    pub merchant_uid: Option<String>,
    pub channel: Option<String>,
    pub status: Option<String>,
    /// `income` or `expense`.
    #[serde(rename = "type")]
    pub transaction_type: Option<String>,
    pub currency: Option<String>,
    pub amount_min: Option<String>,
    pub amount_max: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// `true` (test orders), `false` (live), or absent (both).
    pub test: Option<String>,
    /// The `next` of the page before.
    pub after: Option<String>,
    pub limit: Option<u32>,
}

fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

fn invalid(field: &str, why: &str) -> Error {
    Error::Invalid(format!("{field}: {why}"))
}

impl OrderFilter {
    /// The storage query the filters make.
    pub fn query(&self) -> Result<OrderQuery, Error> {
        let parse_time = |name: &str, text: &Option<String>| {
            given(text)
                .map(|t| parse_rfc3339(t).ok_or_else(|| invalid(name, "not an RFC 3339 time")))
                .transpose()
        };
        let currency = given(&self.currency)
            .map(|c| Currency::parse(c).ok_or_else(|| invalid("currency", "unknown currency")))
            .transpose()?;
        // Amounts are read as a merchant's are (plain positive decimals), with the currency's
        // decimal places when one is given.
        let parse_amount = |name: &str, text: &Option<String>| {
            given(text)
                .map(|t| {
                    Amount::parse(t, currency.unwrap_or(Currency::Usd))
                        .map(Amount::value)
                        .map_err(|e| invalid(name, &e.to_string()))
                })
                .transpose()
        };
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid("limit", &format!("1 to {MAX_PAGE}")));
        }
        let after = given(&self.after)
            .map(|t| {
                t.split_once('.')
                    .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
                    .ok_or_else(|| invalid("after", "not a cursor of this search"))
            })
            .transpose()?;
        Ok(OrderQuery {
            any_id: given(&self.q).map(str::to_string),
            merchant_uid: given(&self.merchant_uid).map(str::to_string),
            channel: given(&self.channel).map(str::to_string),
            status: given(&self.status)
                .map(|s| {
                    s.parse()
                        .map_err(|_| invalid("status", "not a payment status"))
                })
                .transpose()?,
            transaction_type: given(&self.transaction_type)
                .map(|s| s.parse().map_err(|_| invalid("type", "income or expense")))
                .transpose()?,
            currency,
            amount_min: parse_amount("amount_min", &self.amount_min)?,
            amount_max: parse_amount("amount_max", &self.amount_max)?,
            since: parse_time("since", &self.since)?,
            until: parse_time("until", &self.until)?,
            test: given(&self.test)
                .map(|t| match t {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(invalid("test", "true or false")),
                })
                .transpose()?,
            after,
            limit,
            window: None,
        })
    }
}

/// `GET /octopus/admin/v1/orders?q=&merchant_uid=&channel=&status=&type=&currency=&amount_min=
/// &amount_max=&since=&until=&test=&after=&limit=`: newest first; `next` is the cursor of the
/// page after (absent on the last page).
pub async fn search(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<OrderFilter>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadOrders)?;
    Ok(success(found_page(&state, &filter.query()?).await?))
}

/// A page of the search: the orders, the cursor of the page after, and — when the page is
/// short because it read as many orders as one page may, not because they ran out — how far
/// back it read (`searched_back_to`: older orders may still match; `next` goes on).
pub async fn found_page(state: &AppState, query: &OrderQuery) -> Result<Value, Error> {
    let query = OrderQuery {
        window: Some(state.config.search_window),
        ..query.clone()
    };
    let found = state.storage.search_orders(&query).await?;
    let orders: Vec<Value> = found.orders.iter().map(views::order_summary).collect();
    Ok(json!({
        "orders": orders,
        "next": found.next.map(|(at, id)| format!("{at}.{id}")),
        "searched_back_to": found.searched_back_to.map(crate::clock::rfc3339),
    }))
}

/// `GET /octopus/admin/v1/orders.csv?...` (the search's filters): every order they select,
/// not one page, streamed.
pub async fn export(
    State(state): State<AppState>,
    admin: Admin,
    Params(mut filter): Params<OrderFilter>,
) -> Result<Response, Error> {
    admin.require(Permission::ReadOrders)?;
    filter.limit = Some(MAX_PAGE);
    Ok(exported(state, filter.query()?))
}

/// Every order `query` selects as CSV, read a page at a time while it is sent.
pub fn exported(state: AppState, mut query: OrderQuery) -> Response {
    query.limit = EXPORT_PAGE;
    query.window = Some(state.config.search_window);
    super::csv::paged(
        "orders.csv",
        views::ORDERS_CSV_HEADER,
        query,
        move |mut query| {
            let state = state.clone();
            async move {
                let found = state.storage.search_orders(&query).await?;
                let text: String = found.orders.iter().map(views::order_csv).collect();
                query.after = found.next;
                Ok((text, found.next.is_some().then_some(query)))
            }
        },
    )
}

async fn found(state: &AppState, payment_uid: &str) -> Result<Order, Error> {
    state
        .storage
        .order_by_payment_uid(payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))
}

/// `GET /octopus/admin/v1/orders/{payment_uid}`: the order, its status changes, what its payer
/// was shown, its upstream exchanges, its callbacks with every attempt, and — for the roles
/// that read money — its ledger entries.
pub async fn detail(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadOrders)?;
    let order = found(&state, &payment_uid).await?;
    let with_money = admin.require(Permission::ReadMoney).is_ok();
    Ok(success(described(&state, &order, with_money).await?))
}

/// An order with its status changes, what its payer was shown, its upstream exchanges, its
/// callbacks with every attempt, and (`with_money`) its ledger entries.
pub async fn described(state: &AppState, order: &Order, with_money: bool) -> Result<Value, Error> {
    let payment_uid = order.payment_uid.as_str();
    let storage = state.storage.as_ref();
    let events = storage.order_events(payment_uid).await?;
    let (instructions, exchanges) = storage.upstream_of(payment_uid).await?;
    let callbacks: Vec<Value> = storage
        .callbacks_of(payment_uid)
        .await?
        .iter()
        .map(|(c, a)| views::callback(c, a))
        .collect();
    let entries = if with_money {
        let entries = storage.order_entries(order).await?;
        Value::Array(entries.iter().map(views::ledger_entry).collect())
    } else {
        Value::Null
    };
    Ok(json!({
        "order": views::order_detail(order),
        "status_changes": views::status_changes(&events),
        "payer_instructions": instructions,
        "upstream": views::upstream_exchanges(&exchanges),
        "callbacks": callbacks,
        "ledger_entries": entries,
    }))
}

/// A money action's reason: required, trimmed.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Reason {
    #[serde(default)]
    reason: String,
}

fn reason(text: &str) -> Result<&str, Error> {
    let r = text.trim();
    if r.is_empty() {
        Err(invalid("reason", "a reason is required"))
    } else {
        Ok(r)
    }
}

/// Writes the action to the audit log with the order before and after; answers the order.
pub(super) async fn audited(
    state: &AppState,
    admin: &Admin,
    action: &str,
    before: &Order,
    after: &Order,
) -> Result<Json<Value>, Error> {
    audit(
        state.storage.as_ref(),
        &admin.actor,
        action,
        &before.payment_uid,
        &views::order_summary(before).to_string(),
        &views::order_summary(after).to_string(),
        now_ms(),
    )
    .await?;
    Ok(success(views::order_summary(after)))
}

/// `POST /octopus/admin/v1/orders/{payment_uid}/resend-callback`: the order's current state
/// queued to its notify_url again, as a manual callback.
pub async fn resend_callback(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ResendCallbacks)?;
    let order = found(&state, &payment_uid).await?;
    Ok(success(resent(&state, &admin.actor, &order).await?))
}

/// The order's callback queued again (manual), audited.
pub async fn resent(
    state: &AppState,
    actor: &crate::services::operators::Actor,
    order: &Order,
) -> Result<Value, Error> {
    let callback = state
        .storage
        .resend_callback(&order.payment_uid, now_ms())
        .await
        .map_err(|e| match e {
            octopus_storage::StorageError::NoNotifyUrl => {
                Error::Conflict("This order has no notify_url".into())
            }
            other => other.into(),
        })?;
    state.callbacks_due.notify_one();
    audit(
        state.storage.as_ref(),
        actor,
        "order.resend_callback",
        &order.payment_uid,
        "",
        &json!({"callback_id": callback.id}).to_string(),
        now_ms(),
    )
    .await?;
    Ok(views::callback(&callback, &[]))
}

/// `POST /octopus/admin/v1/orders/{payment_uid}/refund` `{"reason"}`: a completed deposit
/// refunded (its credit taken back from the merchant's balance).
pub async fn refund(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Reason>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let why = format!(
        "refunded by {}: {}",
        admin.actor.name,
        reason(&body.reason)?
    );
    let before = found(&state, &payment_uid).await?;
    let after = orders::refund(state.storage.as_ref(), &payment_uid, &why).await?;
    state.callbacks_due.notify_one();
    audited(&state, &admin, "order.refund", &before, &after).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Confirmation {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// `POST /octopus/admin/v1/orders/{payment_uid}/confirm` `{"reference","amount","reason"}`:
/// a deposit completed by hand (补单) with the bank reference and the amount received.
pub async fn confirm(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Confirmation>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let before = found(&state, &payment_uid).await?;
    let who = Operator {
        by: &admin.actor.name,
        reason: &body.reason,
    };
    let after = transfers::confirm(
        state.storage.as_ref(),
        &payment_uid,
        &body.reference,
        &body.amount,
        who,
        now_ms(),
    )
    .await?;
    state.callbacks_due.notify_one();
    audited(&state, &admin, "order.confirm", &before, &after).await
}

/// `POST /octopus/admin/v1/orders/{payment_uid}/fail` `{"reason"}`: a stuck open order failed
/// by hand (a payout's hold goes back to the merchant).
pub async fn fail(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Reason>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let why = reason(&body.reason)?;
    let before = found(&state, &payment_uid).await?;
    let after = orders::fail_stuck(
        state.storage.as_ref(),
        &payment_uid,
        why,
        &admin.actor.name,
        now_ms(),
    )
    .await?;
    state.callbacks_due.notify_one();
    audited(&state, &admin, "order.fail", &before, &after).await
}

/// `POST /octopus/admin/v1/orders/{payment_uid}/approve` `{"reason"}`: a payout held for
/// review goes on to be sent.
pub async fn approve(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Reason>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let why = reason(&body.reason)?;
    let before = found(&state, &payment_uid).await?;
    let after = risk::approve(
        state.storage.as_ref(),
        &payment_uid,
        &admin.actor.name,
        why,
        now_ms(),
    )
    .await?;
    audited(&state, &admin, "payout.approve", &before, &after).await
}

/// `POST /octopus/admin/v1/orders/{payment_uid}/reject` `{"reason"}`: a payout held for review
/// rejected, its hold released, the merchant called back.
pub async fn reject(
    State(state): State<AppState>,
    admin: Admin,
    Path(payment_uid): Path<String>,
    Body(body): Body<Reason>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::MoveMoney)?;
    let why = reason(&body.reason)?;
    let before = found(&state, &payment_uid).await?;
    let after = risk::reject(
        state.storage.as_ref(),
        &payment_uid,
        &admin.actor.name,
        why,
        now_ms(),
    )
    .await?;
    state.callbacks_due.notify_one();
    audited(&state, &admin, "payout.reject", &before, &after).await
}
