//! The admin API (`/octopus/admin/v1/...`, JSON): what the operator console is built on, for
//! signed-in operators and admin tokens. The session — signing in and out, the password, TOTP
//! — is [`session`]; who is acting and whether they may is [`access`] (every route takes an
//! [`access::Admin`] and asks [`access::Admin::require`] for its permission: one table,
//! `Role::allows`); bodies and query strings are decoded by [`extract`]; the routes are grouped
//! by what they administer.

use axum::routing::{delete, get, post};
use axum::Router;
use octopus_domain::operator::Permission;

use crate::openapi::{Auth, Route};

use crate::state::AppState;

pub mod access;
pub mod csv;
pub mod extract;
pub mod merchant;
pub mod money;
pub mod operators;
pub mod orders;
pub mod session;
pub mod setup;
pub mod views;

/// Every route of the admin API, with what the OpenAPI document says of it: the router and
/// the document are both made from this table.
pub fn table() -> Vec<Route> {
    vec![
        Route::new(
            "POST",
            "/octopus/admin/v1/session",
            post(session::sign_in),
            "Sign in (email, password, TOTP code)",
        )
        .tag("session")
        .auth(Auth::None)
        .body::<session::SignIn>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/session",
            get(session::current),
            "Who is signed in, and the CSRF token",
        )
        .tag("session"),
        Route::new(
            "DELETE",
            "/octopus/admin/v1/session",
            delete(session::sign_out),
            "Sign out",
        )
        .tag("session"),
        Route::new(
            "POST",
            "/octopus/admin/v1/session/password",
            post(session::change_password),
            "Change the password",
        )
        .tag("session")
        .body::<session::PasswordChange>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/session/totp",
            post(session::start_totp),
            "Start enrolling TOTP: a secret and its QR code",
        )
        .tag("session"),
        Route::new(
            "POST",
            "/octopus/admin/v1/session/totp/confirm",
            post(session::confirm_totp),
            "Confirm TOTP with a code; ten recovery codes",
        )
        .tag("session")
        .body::<session::TotpConfirmation>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/operators",
            get(operators::list),
            "Operators and merchant users",
        )
        .tag("operators")
        .needs(Permission::ManageOperators),
        Route::new(
            "POST",
            "/octopus/admin/v1/operators",
            post(operators::create),
            "Add an operator (one-time password, shown once)",
        )
        .tag("operators")
        .needs(Permission::ManageOperators)
        .body::<operators::NewOperator>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/operators/{email}/disable",
            post(operators::disable),
            "Disable an operator",
        )
        .tag("operators")
        .needs(Permission::ManageOperators),
        Route::new(
            "POST",
            "/octopus/admin/v1/operators/{email}/enable",
            post(operators::enable),
            "Enable an operator",
        )
        .tag("operators")
        .needs(Permission::ManageOperators),
        Route::new(
            "POST",
            "/octopus/admin/v1/operators/{email}/reset",
            post(operators::reset),
            "Reset an operator's sign-in",
        )
        .tag("operators")
        .needs(Permission::ManageOperators),
        Route::new(
            "GET",
            "/octopus/admin/v1/merchants/{merchant_uid}/users",
            get(operators::merchant_users),
            "A merchant's users",
        )
        .tag("merchants")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/merchants/{merchant_uid}/users",
            post(operators::invite),
            "Invite a merchant user (one-time password, shown once)",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup)
        .body::<operators::Invitation>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/tokens",
            get(operators::tokens),
            "Admin tokens",
        )
        .tag("operators")
        .needs(Permission::ManageOperators),
        Route::new(
            "POST",
            "/octopus/admin/v1/tokens",
            post(operators::create_token),
            "Add an admin token (shown once)",
        )
        .tag("operators")
        .needs(Permission::ManageOperators)
        .body::<operators::NewToken>(),
        Route::new(
            "DELETE",
            "/octopus/admin/v1/tokens/{name}",
            delete(operators::revoke_token),
            "Revoke an admin token",
        )
        .tag("operators")
        .needs(Permission::ManageOperators),
        Route::new(
            "GET",
            "/octopus/admin/v1/audit",
            get(operators::audit),
            "Search the audit log",
        )
        .tag("audit")
        .needs(Permission::ManageOperators)
        .query::<operators::AuditFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/audit.csv",
            get(operators::audit_csv),
            "The audit log as CSV (every line the filters select)",
        )
        .tag("audit")
        .needs(Permission::ManageOperators)
        .query::<operators::AuditFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/orders",
            get(orders::search),
            "Search orders by any id and filters",
        )
        .tag("orders")
        .needs(Permission::ReadOrders)
        .query::<orders::OrderFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/orders.csv",
            get(orders::export),
            "Every order the filters select, as CSV",
        )
        .tag("orders")
        .needs(Permission::ReadOrders)
        .query::<orders::OrderFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/orders/{payment_uid}",
            get(orders::detail),
            "An order with history, upstream, callbacks and entries",
        )
        .tag("orders")
        .needs(Permission::ReadOrders),
        Route::new(
            "POST",
            "/octopus/admin/v1/orders/{payment_uid}/resend-callback",
            post(orders::resend_callback),
            "Resend the order's callback",
        )
        .tag("orders")
        .needs(Permission::ResendCallbacks),
        Route::new(
            "POST",
            "/octopus/admin/v1/orders/{payment_uid}/refund",
            post(orders::refund),
            "Refund a completed deposit",
        )
        .tag("orders")
        .needs(Permission::MoveMoney)
        .body::<orders::Reason>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/orders/{payment_uid}/confirm",
            post(orders::confirm),
            "Complete a deposit by hand",
        )
        .tag("orders")
        .needs(Permission::MoveMoney)
        .body::<orders::Confirmation>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/orders/{payment_uid}/fail",
            post(orders::fail),
            "Fail a stuck open order",
        )
        .tag("orders")
        .needs(Permission::MoveMoney)
        .body::<orders::Reason>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/orders/{payment_uid}/approve",
            post(orders::approve),
            "Approve a payout held for review",
        )
        .tag("payouts")
        .needs(Permission::MoveMoney)
        .body::<orders::Reason>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/orders/{payment_uid}/reject",
            post(orders::reject),
            "Reject a payout held for review",
        )
        .tag("payouts")
        .needs(Permission::MoveMoney)
        .body::<orders::Reason>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/suspense",
            get(money::suspense),
            "Transfers in suspense",
        )
        .tag("suspense")
        .needs(Permission::ReadMoney),
        Route::new(
            "POST",
            "/octopus/admin/v1/suspense/{transfer}/assign",
            post(money::assign),
            "Assign a transfer in suspense to a deposit",
        )
        .tag("suspense")
        .needs(Permission::MoveMoney)
        .body::<money::Assignment>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/suspense/{transfer}/returned",
            post(money::returned),
            "Record a transfer's return to its payer",
        )
        .tag("suspense")
        .needs(Permission::MoveMoney)
        .body::<money::Return>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/payouts",
            get(money::payouts),
            "An own-accounts channel's payout queue",
        )
        .tag("payouts")
        .needs(Permission::ReadMoney)
        .query::<money::Queue>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/payouts.csv",
            get(money::payouts_csv),
            "The payout queue as the bank's CSV",
        )
        .tag("payouts")
        .needs(Permission::ReadMoney)
        .query::<money::Queue>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/payouts/review",
            get(money::in_review),
            "Payouts held for review",
        )
        .tag("payouts")
        .needs(Permission::ReadMoney),
        Route::new(
            "POST",
            "/octopus/admin/v1/payouts/{payment_uid}/sent",
            post(money::payout_sent),
            "Mark a queued payout sent",
        )
        .tag("payouts")
        .needs(Permission::MoveMoney)
        .body::<money::Sent>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/payouts/{payment_uid}/failed",
            post(money::payout_failed),
            "Mark a queued payout failed",
        )
        .tag("payouts")
        .needs(Permission::MoveMoney)
        .body::<money::Failure>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/ledger/balances",
            get(money::balances),
            "A merchant's balances",
        )
        .tag("ledger")
        .needs(Permission::ReadMoney)
        .query::<money::Books>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/ledger/entries",
            get(money::entries),
            "A merchant's ledger entries",
        )
        .tag("ledger")
        .needs(Permission::ReadMoney)
        .query::<money::Books>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/ledger/entries.csv",
            get(money::entries_csv),
            "A merchant's ledger entries as CSV",
        )
        .tag("ledger")
        .needs(Permission::ReadMoney)
        .query::<money::Books>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/ledger/verify",
            get(money::verify),
            "Verify the whole journal",
        )
        .tag("ledger")
        .needs(Permission::ReadMoney),
        Route::new(
            "GET",
            "/octopus/admin/v1/me",
            get(merchant::me),
            "The merchant user and its merchant",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/orders",
            get(merchant::search),
            "The merchant's orders",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .query::<orders::OrderFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/orders.csv",
            get(merchant::export),
            "The merchant's orders as CSV",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .query::<orders::OrderFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/orders/{payment_uid}",
            get(merchant::detail),
            "One of the merchant's orders",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser),
        Route::new(
            "POST",
            "/octopus/admin/v1/me/orders/{payment_uid}/resend-callback",
            post(merchant::resend_callback),
            "Resend an order's callback",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/balances",
            get(merchant::balances),
            "The merchant's balances",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .query::<merchant::Books>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/entries",
            get(merchant::entries),
            "The merchant's ledger entries",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .query::<merchant::Books>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/entries.csv",
            get(merchant::entries_csv),
            "The merchant's ledger entries as CSV",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .query::<merchant::Books>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/me/keys",
            get(merchant::keys),
            "The merchant's API keys",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser),
        Route::new(
            "POST",
            "/octopus/admin/v1/me/keys",
            post(merchant::create_key),
            "Create an API key (secret shown once)",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .body::<merchant::NewKey>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/me/keys/{api_key}/revoke",
            post(merchant::revoke_key),
            "Revoke an API key",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser),
        Route::new(
            "POST",
            "/octopus/admin/v1/me/keys/{api_key}/rotate",
            post(merchant::rotate_key),
            "Rotate an API key",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser),
        Route::new(
            "POST",
            "/octopus/admin/v1/me/keys/{api_key}/allowlist",
            post(merchant::allowlist),
            "Set an API key's IP allowlist",
        )
        .tag("merchant console")
        .auth(Auth::MerchantUser)
        .body::<merchant::Allowlist>(),
    ]
    .into_iter()
    .chain(setup::table())
    .collect()
}

pub fn routes() -> Router<AppState> {
    crate::openapi::router(table()).layer(axum::middleware::from_fn(extract::refuse_nul))
}
