//! The admin API (`/octopus/admin/v1/...`, JSON): what the operator console is built on, for
//! signed-in operators and admin tokens. The session — signing in and out, the password, TOTP
//! — is [`session`]; who is acting and whether they may is [`access`] (every route takes an
//! [`access::Admin`] and asks [`access::Admin::require`] for its permission: one table,
//! `Role::allows`); bodies and query strings are decoded by [`extract`]; the routes are grouped
//! by what they administer.

use axum::routing::{delete, get, post};
use axum::Router;

use crate::state::AppState;

pub mod access;
pub mod extract;
pub mod money;
pub mod operators;
pub mod orders;
pub mod session;
pub mod setup;
pub mod views;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/octopus/admin/v1/session",
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out),
        )
        .route(
            "/octopus/admin/v1/session/password",
            post(session::change_password),
        )
        .route("/octopus/admin/v1/session/totp", post(session::start_totp))
        .route(
            "/octopus/admin/v1/session/totp/confirm",
            post(session::confirm_totp),
        )
        .route(
            "/octopus/admin/v1/operators",
            get(operators::list).post(operators::create),
        )
        .route(
            "/octopus/admin/v1/operators/{email}/disable",
            post(operators::disable),
        )
        .route(
            "/octopus/admin/v1/operators/{email}/enable",
            post(operators::enable),
        )
        .route(
            "/octopus/admin/v1/operators/{email}/reset",
            post(operators::reset),
        )
        .route(
            "/octopus/admin/v1/tokens",
            get(operators::tokens).post(operators::create_token),
        )
        .route(
            "/octopus/admin/v1/tokens/{name}",
            delete(operators::revoke_token),
        )
        .route("/octopus/admin/v1/audit", get(operators::audit))
        .route("/octopus/admin/v1/audit.csv", get(operators::audit_csv))
        .route("/octopus/admin/v1/orders", get(orders::search))
        .route("/octopus/admin/v1/orders.csv", get(orders::export))
        .route(
            "/octopus/admin/v1/orders/{payment_uid}",
            get(orders::detail),
        )
        .route(
            "/octopus/admin/v1/orders/{payment_uid}/resend-callback",
            post(orders::resend_callback),
        )
        .route(
            "/octopus/admin/v1/orders/{payment_uid}/refund",
            post(orders::refund),
        )
        .route(
            "/octopus/admin/v1/orders/{payment_uid}/confirm",
            post(orders::confirm),
        )
        .route(
            "/octopus/admin/v1/orders/{payment_uid}/fail",
            post(orders::fail),
        )
        .route(
            "/octopus/admin/v1/orders/{payment_uid}/approve",
            post(orders::approve),
        )
        .route(
            "/octopus/admin/v1/orders/{payment_uid}/reject",
            post(orders::reject),
        )
        .route("/octopus/admin/v1/suspense", get(money::suspense))
        .route(
            "/octopus/admin/v1/suspense/{transfer}/assign",
            post(money::assign),
        )
        .route(
            "/octopus/admin/v1/suspense/{transfer}/returned",
            post(money::returned),
        )
        .route("/octopus/admin/v1/payouts", get(money::payouts))
        .route("/octopus/admin/v1/payouts.csv", get(money::payouts_csv))
        .route("/octopus/admin/v1/payouts/review", get(money::in_review))
        .route(
            "/octopus/admin/v1/payouts/{payment_uid}/sent",
            post(money::payout_sent),
        )
        .route(
            "/octopus/admin/v1/payouts/{payment_uid}/failed",
            post(money::payout_failed),
        )
        .route("/octopus/admin/v1/ledger/balances", get(money::balances))
        .route("/octopus/admin/v1/ledger/entries", get(money::entries))
        .route(
            "/octopus/admin/v1/ledger/entries.csv",
            get(money::entries_csv),
        )
        .route("/octopus/admin/v1/ledger/verify", get(money::verify))
        .merge(setup::routes())
}
