//! Postbacks: the notifications upstream providers send about deposits and payouts, at
//! `POST /octopus/postback/{channel}`. The channel's connector verifies and reads them; each
//! is applied to its order once (providers repeat them until they get the answer they expect),
//! and kept on the order's history. A postback with a bad signature changes nothing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header::CONTENT_TYPE, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use octopus_connectors::PostbackError;
use octopus_storage::UpstreamExchange;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::upstream::{apply_notification, PostbackOutcome};

/// How much of a postback is kept on the order's history.
const KEEP: usize = 4096;

pub fn routes() -> Router<AppState> {
    Router::new().route("/octopus/postback/{channel}", post(receive))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], serde_json::json!({"status": "error", "message": message}).to_string())
        .into_response()
}

async fn receive(State(state): State<AppState>, Path(code): Path<String>, body: Bytes) -> Response {
    let Some(channel) = state.channels.get(&code) else {
        return refuse(StatusCode::NOT_FOUND, "unknown channel");
    };
    let notifications = match channel.connector.postback(&body) {
        Ok(n) => n,
        Err(PostbackError::BadSignature) => {
            tracing::warn!(channel = %code, "postback refused: bad signature");
            return refuse(StatusCode::UNAUTHORIZED, "invalid signature");
        }
        Err(PostbackError::NotSupported) => return refuse(StatusCode::NOT_FOUND, "this channel takes no postbacks"),
        Err(e @ PostbackError::Malformed(_)) => {
            tracing::warn!(channel = %code, error = %e, "postback refused");
            return refuse(StatusCode::BAD_REQUEST, "unreadable postback");
        }
    };
    let answer = channel.connector.postback_answer();
    let text: String = channel.connector.masked_postback(&body).chars().take(KEEP).collect();
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
        match apply_notification(&state, &channel, n).await {
            Ok(PostbackOutcome::Applied(uid)) | Ok(PostbackOutcome::AlreadyApplied(uid)) => {
                let (uid, exchange) = kept(&uid, String::new());
                crate::upstream::record(&state, &uid, &code, None, vec![exchange]).await;
            }
            Ok(PostbackOutcome::Conflict(uid, why)) => {
                // Acknowledged (repeating it would not change it) and left to the operator.
                tracing::error!(channel = %code, payment_uid = %uid, %why, "postback contradicts its order; not applied, needs the operator");
                let (uid, exchange) = kept(&uid, format!("not applied, needs the operator: {why}"));
                crate::upstream::record(&state, &uid, &code, None, vec![exchange]).await;
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
