//! The hosted cashier page payers open from a deposit's `payment_url`: what to pay, to whom,
//! the order's status, and a way back to the merchant. On sandbox channels the page offers
//! "Pay" and "Fail" buttons that POST `outcome=completed|failed` to `<payment_url>/simulate`;
//! on upstream channels it shows where to pay (for Paykassma the Wavepay account) and takes
//! the transaction ID of the payer's transfer (`<payment_url>/confirm`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use octopus_domain::money::format_amount;
use octopus_domain::{Order, PaymentStatus, StatusChange, TransactionType};
use serde::Deserialize;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::Error;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/octopus/pay/{payment_uid}", get(page))
        .route("/octopus/pay/{payment_uid}/simulate", post(simulate))
        .route("/octopus/pay/{payment_uid}/confirm", post(confirm))
}

#[derive(Template)]
#[template(path = "cashier.html")]
struct CashierPage<'a> {
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
struct NotFoundPage;

fn headline(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::None | PaymentStatus::Pending | PaymentStatus::Preparing => "Waiting for your payment",
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

fn not_found() -> Response {
    let html = NotFoundPage.render().unwrap_or_else(|_| "Payment not found".into());
    (StatusCode::NOT_FOUND, Html(html)).into_response()
}

/// `GET /octopus/pay/{payment_uid}`
async fn page(State(state): State<AppState>, Path(payment_uid): Path<String>) -> Result<Response, Error> {
    let Some(order) = find_deposit(&state, &payment_uid).await? else {
        return Ok(not_found());
    };
    render(&state, &order, String::new()).await
}

/// The page of a deposit as it is now, with a message for the payer.
async fn render(state: &AppState, order: &Order, message: String) -> Result<Response, Error> {
    let channel = state.channels.get(&order.channel);
    let connector = channel.as_ref().map(|c| std::sync::Arc::clone(&c.connector));
    let sandbox = connector.as_ref().is_some_and(|c| c.simulates_payments());
    let upstream = connector.as_ref().is_some_and(|c| c.calls_upstream());
    let instructions: Vec<(&'static str, String, String)> = if upstream {
        let (mut text, _) = state.storage.upstream_of(&order.payment_uid).await?;
        if text.is_empty() && order.payment_status.is_open() {
            // Stored without its instructions (their write failed after the order's): ask again.
            if let Some(channel) = &channel {
                text = crate::upstream::restart_deposit(state, channel, order).await.unwrap_or_default();
            }
        }
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&text)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (instruction_label(&k), k, v))
            .collect()
    } else {
        Vec::new()
    };
    let status = order.payment_status;
    let page = CashierPage {
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
        can_confirm: upstream && !instructions.is_empty() && (status.is_open() || status == PaymentStatus::Overdue),
        instructions: if status.is_open() { instructions } else { Vec::new() },
        message,
    };
    let html = page.render().map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
struct ConfirmForm {
    transaction_id: String,
}

/// `POST /octopus/pay/{payment_uid}/confirm` with `transaction_id`: the payer's transfer is
/// checked upstream; the page comes back with the order's status and what to do next.
async fn confirm(
    State(state): State<AppState>,
    Path(payment_uid): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, Error> {
    let Some(order) = find_deposit(&state, &payment_uid).await? else {
        return Ok(not_found());
    };
    let channel = state
        .channels
        .get(&order.channel)
        .filter(|c| c.connector.calls_upstream())
        .ok_or(Error::NotFound("Order not found"))?;
    if !(order.payment_status.is_open() || order.payment_status == PaymentStatus::Overdue) {
        return render(&state, &order, String::new()).await;
    }
    let answer = crate::upstream::confirm_deposit(&state, &channel, &order, &form.transaction_id).await?;
    let message = match answer {
        crate::upstream::Confirmed::Completed => String::new(),
        crate::upstream::Confirmed::Short { missing } => format!(
            "We received part of the payment: {} {} is still missing. Send the rest to the same account and enter its transaction ID.",
            format_amount(missing, order.currency),
            order.currency.code().to_uppercase()
        ),
        crate::upstream::Confirmed::Processing { .. } => {
            "Your payment is being checked. This page shows the result once it is known.".to_string()
        }
        crate::upstream::Confirmed::Failed { reason } | crate::upstream::Confirmed::Refused { message: reason } => reason,
    };
    let order = find_deposit(&state, &payment_uid).await?.ok_or(Error::NotFound("Order not found"))?;
    render(&state, &order, message).await
}

#[derive(Deserialize)]
struct SimulateForm {
    outcome: String,
}

/// `POST /octopus/pay/{payment_uid}/simulate` with `outcome=completed|failed` (sandbox only).
async fn simulate(
    State(state): State<AppState>,
    Path(payment_uid): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SimulateForm>,
) -> Result<Response, Error> {
    let order = find_deposit(&state, &payment_uid)
        .await?
        .ok_or(Error::NotFound("Order not found"))?;
    let sandbox = state
        .channels
        .get(&order.channel)
        .is_some_and(|c| c.connector.simulates_payments());
    if !sandbox {
        return Err(Error::NotFound("Order not found"));
    }
    let now = now_ms();
    let change = match form.outcome.as_str() {
        "completed" => StatusChange::new(PaymentStatus::Completed, "sandbox: the payer paid", now)
            .with_final_amount(order.final_amount),
        "failed" => StatusChange::new(PaymentStatus::Failed, "sandbox: the payer failed the payment", now)
            .failing("The payer failed the payment in the sandbox"),
        _ => {
            return Err(Error::Invalid(
                "The 'outcome' field must be completed or failed.".into(),
            ))
        }
    };
    let result = state
        .storage
        .change_status(&payment_uid, change.from_status(order.payment_status))
        .await;
    let from_browser = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    match result {
        Ok(_) => state.callbacks_due.notify_one(),
        // A browser sees the page with the current status; API callers get the refusal.
        Err(_) if from_browser => {}
        Err(e) => return Err(e.into()),
    }
    let back = format!("/octopus/pay/{payment_uid}");
    Ok((StatusCode::SEE_OTHER, [(LOCATION, back)]).into_response())
}
