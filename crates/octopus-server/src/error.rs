//! The server's one error type, and the one place errors become HTTP answers.
//!
//! Answers keep the two shapes of the merchant documents:
//! `{"result":"error","data":"<message>"}` and, for invalid parameters,
//! `{"result":"error","data":{"error":"Invalid parameters","details":"<message>"}}`.
//! Internal failures are logged and answered with the documents' generic message only.

use std::time::Duration;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use octopus_domain::{FieldError, ValidationError};
use octopus_storage::StorageError;
use serde_json::json;

/// The generic message of every internal failure (never internals).
pub const INTERNAL_MESSAGE: &str = "An error occurred processing your request";
/// The answer to a wrong or unknown key or signature (never says which).
pub const AUTH_FAILED: &str = "Authentication failed: invalid OC-Key or OC-Signature";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: a parameter or the body is invalid (`details` names the field).
    #[error("Invalid parameters: {0}")]
    Invalid(String),
    /// 401: authentication failed.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed from here (a key's IP allowlist).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: the order (or page) does not exist for this merchant.
    #[error("{0}")]
    NotFound(&'static str),
    /// 409: the request conflicts with an existing order.
    #[error("{0}")]
    Conflict(String),
    /// 408: the body did not arrive within the body timeout.
    #[error("Request timeout: the request body did not arrive in time")]
    Timeout,
    /// 413: the body is over the limit.
    #[error("Request body too large: the limit is {0} bytes")]
    TooLarge(usize),
    /// 422: a valid request the gateway refuses for a business reason.
    #[error("{0}")]
    Refused(String),
    /// 429: over a rate limit (`crate::http::rate_limit`); answered with `Retry-After`.
    #[error("Too many requests")]
    RateLimited { retry_after: Duration },
    /// 500: logged with its cause, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Invalid(e.to_string())
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(e.to_string())
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => Error::NotFound("Order not found"),
            StorageError::IllegalTransition(t) => Error::Conflict(format!(
                "This order cannot go from {} to {}{}.",
                t.from, t.to, t.detail
            )),
            StorageError::InsufficientBalance => Error::Refused("Insufficient balance".into()),
            StorageError::NoFreeAmount => Error::Refused(
                "No free floating amount is left for this amount; try again later".into(),
            ),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::services::operators::OperatorServiceError> for Error {
    fn from(e: crate::services::operators::OperatorServiceError) -> Self {
        use crate::services::operators::OperatorServiceError as E;
        match e {
            E::Invalid(e) => Error::Invalid(e.to_string()),
            E::TokenName => Error::Invalid(format!("name: {}", E::TokenName)),
            E::NoSuchOperator(_) => Error::NotFound("No such operator"),
            E::NoSuchToken(_) => Error::NotFound("No such admin token"),
            E::NoSuchMerchant(_) => Error::NotFound("Merchant not found"),
            E::MerchantRole => Error::Invalid(format!("role: {}", E::MerchantRole)),
            E::Storage(StorageError::Conflict(what)) => Error::Conflict(what),
            E::Storage(e) => e.into(),
            E::Hashing => Error::Internal(E::Hashing.to_string()),
        }
    }
}

impl From<crate::services::setup::SetupError> for Error {
    fn from(e: crate::services::setup::SetupError) -> Self {
        use crate::services::setup::SetupError as E;
        match e {
            E::Invalid(details) => Error::Invalid(details),
            E::NotFound { what, .. } => Error::NotFound(what.message()),
            E::Conflict(what) => Error::Conflict(what),
            E::Storage(StorageError::Conflict(what)) => Error::Conflict(what),
            E::Storage(e) => e.into(),
        }
    }
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Timeout => StatusCode::REQUEST_TIMEOUT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `data` member of the error answer.
    pub fn data(&self) -> serde_json::Value {
        match self {
            Error::Invalid(details) => json!({"error": "Invalid parameters", "details": details}),
            Error::Internal(_) => json!(INTERNAL_MESSAGE),
            other => json!(other.to_string()),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut answer = (
            self.status(),
            Json(json!({"result": "error", "data": self.data()})),
        )
            .into_response();
        if let Error::RateLimited { retry_after } = self {
            answer.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from(retry_after_seconds(retry_after)),
            );
        }
        answer
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1 (a client that waits that long
/// has a request's budget again).
fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_requests_says_when_to_come_back_in_whole_seconds() {
        for (wait, seconds) in [
            (Duration::ZERO, "1"),
            (Duration::from_millis(1), "1"),
            (Duration::from_secs(1), "1"),
            (Duration::from_millis(1001), "2"),
            (Duration::from_secs(20), "20"),
        ] {
            let answer = Error::RateLimited { retry_after: wait }.into_response();
            assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(answer.headers()[RETRY_AFTER], seconds, "{wait:?}");
        }
        assert_eq!(
            Error::RateLimited {
                retry_after: Duration::ZERO
            }
            .data(),
            json!("Too many requests")
        );
    }
}
