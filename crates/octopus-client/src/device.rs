//! A device of the operator's own accounts, as the gateway sees one: signs heartbeats and
//! transfer reports exactly as the device protocol says (`octopus_domain::device`), with a
//! fresh nonce and the current time. `octopus device report|heartbeat`, `serve --dev` and the
//! tests drive the gateway through it, so they sign like a real device would.

use std::time::{SystemTime, UNIX_EPOCH};

use octopus_domain::device::{
    self, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use serde_json::{json, Value};

use crate::{Answer, ClientError};

/// The path of the heartbeat endpoint.
pub const HEARTBEAT_PATH: &str = "/octopus/device/v1/heartbeat";
/// The path of the report endpoint.
pub const REPORT_PATH: &str = "/octopus/device/v1/report";

/// What a device reports of one incoming transfer.
#[derive(Debug, Clone, Default)]
pub struct TransferReport {
    pub account: String,
    pub amount: String,
    pub currency: String,
    pub reference: String,
    /// RFC 3339; now when empty.
    pub occurred_at: String,
    pub payer_account: String,
    pub payer_name: String,
    pub text: String,
}

impl TransferReport {
    /// The JSON body of the report (the optional fields only when given).
    pub fn body(&self) -> Value {
        let occurred_at = if self.occurred_at.is_empty() {
            now_rfc3339()
        } else {
            self.occurred_at.clone()
        };
        let mut body = json!({
            "account": self.account,
            "amount": self.amount,
            "currency": self.currency,
            "reference": self.reference,
            "occurred_at": occurred_at,
        });
        for (name, value) in [
            ("payer_account", &self.payer_account),
            ("payer_name", &self.payer_name),
            ("text", &self.text),
        ] {
            if !value.is_empty() {
                body[name] = json!(value);
            }
        }
        body
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A device: its id and secret (as `octopus device add` printed them) and the gateway.
#[derive(Clone)]
pub struct DeviceClient {
    http: reqwest::Client,
    base_url: String,
    device_id: String,
    secret: String,
}

impl DeviceClient {
    pub fn new(base_url: &str, device_id: &str, secret: &str) -> DeviceClient {
        DeviceClient {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            device_id: device_id.to_string(),
            secret: secret.to_string(),
        }
    }

    /// The headers of a signed request of `body` to `path`, at unix second `timestamp` with
    /// `nonce` (public so tests can replay and forge them).
    pub fn signed_headers(
        &self,
        path: &str,
        body: &[u8],
        timestamp: i64,
        nonce: &str,
    ) -> Vec<(&'static str, String)> {
        let timestamp = timestamp.to_string();
        let signature = device::sign(&self.secret, &timestamp, nonce, "POST", path, body);
        vec![
            (HEADER_DEVICE, self.device_id.clone()),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_NONCE, nonce.to_string()),
            (HEADER_SIGNATURE, signature),
        ]
    }

    /// Posts `body` to `path` with exactly these headers.
    pub async fn post_with(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&'static str, String)],
    ) -> Result<Answer, ClientError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            location: None,
        })
    }

    /// Signs `body` now with a new nonce and posts it to `path`.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> Result<Answer, ClientError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let headers = self.signed_headers(path, &body, timestamp, &new_nonce());
        self.post_with(path, body, &headers).await
    }

    pub async fn heartbeat(&self) -> Result<Answer, ClientError> {
        self.post(HEARTBEAT_PATH, b"{}".to_vec()).await
    }

    pub async fn report(&self, report: &TransferReport) -> Result<Answer, ClientError> {
        let body = serde_json::to_vec(&report.body()).expect("a JSON value serializes");
        self.post(REPORT_PATH, body).await
    }
}

/// A new random nonce (40 alphanumerics from the operating system's generator).
pub fn new_nonce() -> String {
    octopus_domain::ids::new_device_secret()
}
