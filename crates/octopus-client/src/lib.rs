//! Rust client of the Octopus merchant API: signs requests exactly as the merchant documents
//! describe (HMAC-SHA256 over the sorted `key=value` string, `OC-Key` and `OC-Signature`
//! headers) and reads the answers into typed values. The CLI, the benchmark and the tests all
//! speak to the gateway through it.

mod connection;
pub mod device;

pub use connection::{Connection, RawAnswer};

use std::collections::BTreeMap;
use std::time::Duration;

use octopus_domain::signing::SigningKey;
use octopus_domain::RequestFields;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The gateway answered with an error (`data` is the documented error `data`).
    #[error("the gateway refused the request with HTTP {status}: {data}")]
    Api { status: u16, data: Value },
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// A raw answer of the gateway.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The JSON body (`Value::Null` when the body is empty or not JSON).
    pub body: Value,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
}

impl Answer {
    /// The `data` of a `{"result":"success","data":...}` answer, or the error.
    pub fn into_data(self) -> Result<Value, ClientError> {
        if self.status == 200 && self.body["result"] == "success" {
            Ok(self.body["data"].clone())
        } else if self.body["result"] == "error" {
            Err(ClientError::Api {
                status: self.status,
                data: self.body["data"].clone(),
            })
        } else {
            Err(ClientError::Unexpected(format!(
                "HTTP {}: {}",
                self.status, self.body
            )))
        }
    }
}

/// An order as the gateway shows it (every value is a string; absent ones are empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Payment {
    pub payment_uid: String,
    pub merchant_order_id: String,
    pub merchant_uid: String,
    pub merchant_name: String,
    pub transaction_type: String,
    pub accounting_type: String,
    pub amount: String,
    pub floating_amount: String,
    pub final_amount: String,
    pub fee: String,
    pub currency: String,
    pub country: String,
    pub payment: String,
    pub channel: String,
    pub payment_status: String,
    pub payment_fail_reason: String,
    pub from: String,
    pub from_name: String,
    pub from_bank_name: String,
    pub to: String,
    pub to_name: String,
    pub to_bank_name: String,
    pub merchant_id: String,
    pub response_type: String,
    pub ip: String,
    pub user_agent: String,
    pub distribute_rules: String,
    pub redirect_url: String,
    pub notify_url: String,
    pub notify_status: String,
    pub notify_fail_reason: String,
    pub accounting_status: String,
    pub accounting_fail_reason: String,
    pub signature_key: String,
    pub ttl: String,
    pub float_precision: String,
    pub additional: String,
    pub payment_url: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
}

/// The answer of `order/new`.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    pub payment: Payment,
    /// The cashier page (deposits only).
    #[serde(default)]
    pub payment_url: String,
}

/// A new order to send. Unset optional fields are not sent.
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    pub transaction_type: String,
    pub amount: String,
    pub currency: String,
    pub payment: String,
    pub country: String,
    pub merchant_order_id: String,
    pub merchant_uid: String,
    /// `"json"` for a JSON answer; empty for a 302 redirect to the payment page.
    pub response_type: String,
    pub channel: Option<String>,
    pub accounting_type: Option<String>,
    pub redirect_url: Option<String>,
    pub notify_url: Option<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub from_bank_name: Option<String>,
    pub to: Option<String>,
    pub to_name: Option<String>,
    pub to_bank_name: Option<String>,
    /// The member id (`merchant_id` on the wire).
    pub member_id: Option<String>,
    pub ttl: Option<String>,
    pub float_precision: Option<String>,
    pub additional: Option<String>,
    /// Further fields, sent and signed as they are.
    pub extra: BTreeMap<String, String>,
}

impl NewOrder {
    /// A deposit with a JSON answer.
    pub fn deposit(
        merchant_uid: &str,
        merchant_order_id: &str,
        amount: &str,
        currency: &str,
        payment: &str,
        country: &str,
    ) -> Self {
        NewOrder {
            transaction_type: "income".into(),
            amount: amount.into(),
            currency: currency.into(),
            payment: payment.into(),
            country: country.into(),
            merchant_order_id: merchant_order_id.into(),
            merchant_uid: merchant_uid.into(),
            response_type: "json".into(),
            ..NewOrder::default()
        }
    }

    /// A payout to `to` with a JSON answer.
    #[allow(clippy::too_many_arguments)]
    pub fn payout(
        merchant_uid: &str,
        merchant_order_id: &str,
        amount: &str,
        currency: &str,
        payment: &str,
        country: &str,
        to: &str,
        to_name: &str,
        to_bank_name: &str,
    ) -> Self {
        NewOrder {
            transaction_type: "expense".into(),
            to: Some(to.into()),
            to_name: Some(to_name.into()),
            to_bank_name: Some(to_bank_name.into()),
            ..NewOrder::deposit(
                merchant_uid,
                merchant_order_id,
                amount,
                currency,
                payment,
                country,
            )
        }
    }

    /// The request fields, as they will be signed and sent.
    pub fn to_fields(&self) -> RequestFields {
        let mut f = RequestFields::new();
        for (k, v) in [
            ("transaction_type", &self.transaction_type),
            ("amount", &self.amount),
            ("currency", &self.currency),
            ("payment", &self.payment),
            ("country", &self.country),
            ("merchant_order_id", &self.merchant_order_id),
            ("merchant_uid", &self.merchant_uid),
            ("response_type", &self.response_type),
        ] {
            f.insert(k, v.as_str());
        }
        for (k, v) in [
            ("channel", &self.channel),
            ("accounting_type", &self.accounting_type),
            ("redirect_url", &self.redirect_url),
            ("notify_url", &self.notify_url),
            ("from", &self.from),
            ("from_name", &self.from_name),
            ("from_bank_name", &self.from_bank_name),
            ("to", &self.to),
            ("to_name", &self.to_name),
            ("to_bank_name", &self.to_bank_name),
            ("merchant_id", &self.member_id),
            ("ttl", &self.ttl),
            ("float_precision", &self.float_precision),
            ("additional", &self.additional),
        ] {
            if let Some(v) = v {
                f.insert(k, v.as_str());
            }
        }
        for (k, v) in &self.extra {
            f.insert(k.as_str(), v.as_str());
        }
        f
    }
}

/// A client for one API key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    signing_key: SigningKey,
}

impl Client {
    /// `base_url` is the gateway's address (`http://127.0.0.1:8080`).
    pub fn new(base_url: &str, api_key: &str, api_secret: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .expect("a reqwest client with static settings builds");
        Self::with_http(http, base_url, api_key, api_secret)
    }

    /// Uses a given `reqwest::Client` (its redirect policy should be `none`).
    pub fn with_http(
        http: reqwest::Client,
        base_url: &str,
        api_key: &str,
        api_secret: &str,
    ) -> Self {
        Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            signing_key: SigningKey::new(api_secret.as_bytes()),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The signature the gateway expects for these fields.
    pub fn sign(&self, fields: &RequestFields) -> String {
        self.signing_key.sign(fields)
    }

    /// Signs `fields` and POSTs them as JSON to `path`.
    pub async fn post_signed(
        &self,
        path: &str,
        fields: &RequestFields,
    ) -> Result<Answer, ClientError> {
        let signature = self.sign(fields);
        self.post_raw(path, fields.to_json(), &self.api_key, &signature)
            .await
    }

    /// POSTs a body exactly as given, with the given key and signature headers.
    pub async fn post_raw(
        &self,
        path: &str,
        body: String,
        api_key: &str,
        signature: &str,
    ) -> Result<Answer, ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("Content-Type", "application/json")
            .header("OC-Key", api_key)
            .header("OC-Signature", signature)
            .body(body)
            .send()
            .await?;
        read_answer(response).await
    }

    /// `order/new`: creates an order (or gets the identical one created before).
    pub async fn create_order(&self, order: &NewOrder) -> Result<Created, ClientError> {
        let data = self
            .post_signed("/octopus/api/order/new", &order.to_fields())
            .await?
            .into_data()?;
        serde_json::from_value(data).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// `order/get` by `merchant_order_id`.
    pub async fn get_order(&self, merchant_order_id: &str) -> Result<Payment, ClientError> {
        let fields: RequestFields = [("merchant_order_id", merchant_order_id)]
            .into_iter()
            .collect();
        let data = self
            .post_signed("/octopus/api/order/get", &fields)
            .await?
            .into_data()?;
        serde_json::from_value(data).map_err(|e| ClientError::Unexpected(e.to_string()))
    }

    /// `ledger/get_merchant_ledger`: merchant name and balance per currency.
    pub async fn merchant_ledger(
        &self,
        merchant_uid: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let fields: RequestFields = [("merchant_uid", merchant_uid)].into_iter().collect();
        let data = self
            .post_signed("/octopus/api/ledger/get_merchant_ledger", &fields)
            .await?
            .into_data()?;
        serde_json::from_value(data).map_err(|e| ClientError::Unexpected(e.to_string()))
    }
}

async fn read_answer(response: reqwest::Response) -> Result<Answer, ClientError> {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        body,
        location,
    })
}
