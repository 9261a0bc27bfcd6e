//! The device API (`/octopus/device/v1/...`): the apps that watch the operator's own accounts
//! send heartbeats and report incoming transfers. Every request is signed by the device
//! (`octopus_domain::device`): the timestamp must be within the window, the nonce new, the
//! signature the device's over this exact request, and the device not revoked — checked here,
//! once, for both endpoints, before anything is read or written. Answers keep the merchant
//! API's shapes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::post;
use axum::{Json, Router};
use octopus_domain::device::{self, Device, DeviceAuthError, Report, SignedHeaders};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::clock::now_ms;
use crate::error::Error;
use crate::services::transfers::{self, Outcome};
use crate::state::AppState;

/// How often a device's requests update its last heartbeat.
const HEARD_EVERY_MS: i64 = 5_000;
/// A report is a few short fields and the notification's text.
const BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/octopus/device/v1/heartbeat", post(heartbeat))
        .route("/octopus/device/v1/report", post(report))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// The device that signed this request, once every rule of the protocol holds.
async fn authenticated(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Device, Error> {
    let refused = |e: DeviceAuthError| Error::Unauthorized(e.to_string());
    let signed = match (
        header(headers, device::HEADER_DEVICE),
        header(headers, device::HEADER_TIMESTAMP),
        header(headers, device::HEADER_NONCE),
        header(headers, device::HEADER_SIGNATURE),
    ) {
        (Some(device), Some(timestamp), Some(nonce), Some(signature)) => SignedHeaders {
            device,
            timestamp,
            nonce,
            signature,
        },
        _ => return Err(refused(DeviceAuthError::Missing)),
    };
    let now = now_ms();
    let at = signed.check_form(now).map_err(refused)?;
    let known = if signed.device.len() <= 64 {
        state.storage.device(&signed.device).await?
    } else {
        None
    };
    let secret = known
        .as_ref()
        .filter(|d| d.revoked_at.is_none())
        .and_then(|d| state.master_key.open(&d.sealed_secret).ok());
    // An unknown or revoked device is checked against a throwaway secret, so that it takes the
    // time of a wrong signature and is answered alike.
    let valid = match &secret {
        Some(secret) => signed.verify(secret.expose_secret(), method.as_str(), uri.path(), body),
        None => {
            let _ = signed.verify("-", method.as_str(), uri.path(), body);
            false
        }
    };
    let Some(device) = known.filter(|_| valid) else {
        return Err(refused(DeviceAuthError::Signature));
    };
    // Only a correctly signed request spends its nonce (so nobody can spend a device's nonces
    // for it); it is kept as long as its timestamp is acceptable.
    let fresh = state
        .storage
        .remember_nonce(
            &device.id,
            &signed.nonce,
            now,
            at + device::TIMESTAMP_WINDOW_MS + 1_000,
        )
        .await?;
    if !fresh {
        return Err(refused(DeviceAuthError::Replayed));
    }
    // A busy device is heard with every report: its heartbeat is written at most every
    // few seconds (offline means 90 s of silence).
    if device
        .last_heartbeat_at
        .is_none_or(|at| now - at >= HEARD_EVERY_MS)
    {
        state.storage.device_heard(&device.id, now).await?;
    }
    Ok(device)
}

/// The body, or why it could not be read, in the documented shape.
fn read(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Error> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(BODY_LIMIT)
        } else if crate::http::connections::BodyTimeout::caused(&rejection) {
            Error::Timeout
        } else {
            Error::Invalid("The body could not be read.".into())
        }
    })
}

/// `POST /octopus/device/v1/heartbeat` with `{}`: the device is online.
async fn heartbeat(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let body = read(body)?;
    let device = authenticated(&state, &method, &uri, &headers, &body).await?;
    metrics::counter!(crate::metrics::DEVICE_HEARTBEATS).increment(1);
    Ok(Json(json!({
        "result": "success",
        "data": {"device": device.id, "account": device.account}
    })))
}

/// `POST /octopus/device/v1/report`: a transfer arrived on the device's account.
async fn report(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let body = read(body)?;
    let device = authenticated(&state, &method, &uri, &headers, &body).await?;
    let report = Report::parse(&body).map_err(|e| Error::Invalid(format!("{e}.")))?;
    if report.account != device.account {
        return Err(Error::Invalid(
            "The 'account' field must be the account this device watches.".into(),
        ));
    }
    let outcome = transfers::report(state.storage.as_ref(), &device, &report, now_ms()).await?;
    if matches!(outcome, Outcome::Matched { .. }) {
        state.callbacks_due.notify_one();
    }
    let mut data = json!({"outcome": outcome.as_str()});
    match &outcome {
        Outcome::Matched {
            transfer,
            payment_uid,
        } => {
            data["transfer"] = json!(transfer);
            data["payment_uid"] = json!(payment_uid);
        }
        Outcome::Suspense { transfer } | Outcome::Duplicate { transfer } => {
            data["transfer"] = json!(transfer)
        }
    }
    tracing::info!(device = %device.id, outcome = outcome.as_str(), "device report");
    Ok(Json(json!({"result": "success", "data": data})))
}
