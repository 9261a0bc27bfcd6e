//! Postbacks: the notifications upstream providers send about deposits and payouts, at
//! `POST /octopus/postback/{channel}`. The channel's connector verifies and reads them; each
//! is applied to its order once (providers repeat them until they get the answer they expect),
//! and kept on the order's history. A postback with a bad signature changes nothing. A
//! validly signed postback that cannot be applied (an impossible amount, a transfer counted
//! already) is acknowledged all the same, since repeating it would change nothing: it is kept
//! on its order's history as "not applied, needs the operator" and logged as an error.
//!
//! Every answer here is JSON: the provider's expected answer, or
//! `{"status":"error","message":...}` (also for a body too large or too slow, a channel code
//! that is not UTF-8, or a method other than POST), never the framework's plain text.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header::ALLOW, header::CONTENT_TYPE, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use octopus_connectors::PostbackError;
use octopus_storage::UpstreamExchange;

use crate::clock::now_ms;
use crate::services::upstream::{apply_notification, record, PostbackOutcome};
use crate::state::AppState;

/// How much of a postback is kept on the order's history.
const KEEP: usize = 4096;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/octopus/postback/{channel}",
        post(receive).fallback(wrong_method),
    )
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        serde_json::json!({"status": "error", "message": message}).to_string(),
    )
        .into_response()
}

async fn wrong_method() -> Response {
    let mut answer = refuse(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    answer
        .headers_mut()
        .insert(ALLOW, axum::http::HeaderValue::from_static("POST"));
    answer
}

async fn receive(
    State(state): State<AppState>,
    code: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // No channel code is anything but UTF-8.
    let Ok(Path(code)) = code else {
        return refuse(StatusCode::NOT_FOUND, "unknown channel");
    };
    let Some(channel) = state.services.channels.get(&code) else {
        return refuse(StatusCode::NOT_FOUND, "unknown channel");
    };
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!(channel = %code, "postback refused: too large");
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "postback too large");
        }
        Err(e) if crate::http::connections::BodyTimeout::caused(&e) => {
            tracing::warn!(channel = %code, "postback refused: its body did not arrive in time");
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "the postback did not arrive in time",
            );
        }
        Err(e) => {
            tracing::warn!(channel = %code, error = %e, "postback refused: its body could not be read");
            return refuse(StatusCode::BAD_REQUEST, "unreadable postback");
        }
    };
    let notifications = match channel.connector.postback(&body) {
        Ok(n) => n,
        Err(PostbackError::BadSignature) => {
            tracing::warn!(channel = %code, "postback refused: bad signature");
            return refuse(StatusCode::UNAUTHORIZED, "invalid signature");
        }
        Err(PostbackError::NotSupported) => {
            return refuse(StatusCode::NOT_FOUND, "this channel takes no postbacks")
        }
        Err(e @ PostbackError::Malformed(_)) => {
            tracing::warn!(channel = %code, error = %e, "postback refused");
            return refuse(StatusCode::BAD_REQUEST, "unreadable postback");
        }
        Err(PostbackError::Impossible(why)) => {
            // Signed by the provider, so repeating it would not change it: acknowledged.
            tracing::error!(channel = %code, %why, "postback for no order it names can be applied; not applied, needs the operator");
            return (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                channel.connector.postback_answer(),
            )
                .into_response();
        }
    };
    let answer = channel.connector.postback_answer();
    let text: String = channel
        .connector
        .masked_postback(&body)
        .chars()
        .take(KEEP)
        .collect();
    let mut unmatched = false;
    for n in notifications {
        let kept = |uid: &str, error: String| {
            let exchange = UpstreamExchange {
                channel: code.clone(),
                operation: "postback".into(),
                request: text.clone(),
                http_status: Some(200),
                response: answer.to_string(),
                latency_ms: 0,
                error,
                at: now_ms(),
            };
            (uid.to_string(), exchange)
        };
        match apply_notification(&state.services, &channel, n).await {
            Ok(PostbackOutcome::Applied(uid)) | Ok(PostbackOutcome::AlreadyApplied(uid)) => {
                let (uid, exchange) = kept(&uid, String::new());
                record(&state.services, &uid, &code, None, vec![exchange]).await;
            }
            // Contradicting its order, or impossible: acknowledged (repeating it would not
            // change it) and left to the operator, on the order's history.
            Ok(PostbackOutcome::Conflict(uid, why))
            | Ok(PostbackOutcome::Impossible(Some(uid), why)) => {
                tracing::error!(channel = %code, payment_uid = %uid, %why, "postback not applied, needs the operator");
                let (uid, exchange) = kept(&uid, format!("not applied, needs the operator: {why}"));
                record(&state.services, &uid, &code, None, vec![exchange]).await;
            }
            Ok(PostbackOutcome::Impossible(None, why)) => {
                tracing::error!(channel = %code, %why, "postback for no known order cannot be applied; not applied, needs the operator");
            }
            Ok(PostbackOutcome::Unmatched(ids)) => {
                tracing::warn!(channel = %code, %ids, "postback for no known order; the provider will repeat it");
                unmatched = true;
            }
            Err(e) => {
                tracing::error!(channel = %code, error = %e, "applying a postback failed; the provider will repeat it");
                return refuse(StatusCode::INTERNAL_SERVER_ERROR, "try again later");
            }
        }
    }
    if unmatched {
        return refuse(StatusCode::NOT_FOUND, "no such order");
    }
    (StatusCode::OK, [(CONTENT_TYPE, "application/json")], answer).into_response()
}
