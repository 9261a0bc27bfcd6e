//! The admin API (`/octopus/admin/v1/...`, JSON): what the operator console is built on, for
//! signed-in operators. This first part is the session: signing in and out and who is signed
//! in ([`session`]); every route after it takes a [`session::SignedIn`] and asks
//! [`session::SignedIn::require`] for its permission (one table: `Role::allows`).

use axum::routing::post;
use axum::Router;

use crate::state::AppState;

pub mod session;

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
}
