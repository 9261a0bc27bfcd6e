//! The Paykassma connector (Wavepay, Myanmar), following the provider's document and the
//! BRIEF's "Upstream facts":
//!
//! - deposit: `transaction/create/wavepay` gives the wallet the payer pays to; the payer then
//!   submits the transfer's transaction ID, which `transaction/activate` checks (`key1`, at most
//!   11 characters, `custom_transaction_id` = the order's payment_uid);
//! - payout: `v2/withdrawal/create` with `withdrawal_id` = payment_uid, signed by the channel's
//!   chosen scheme (the provider does not publish its formula);
//! - postbacks: `sha1(access_key . private_access_key . md5(additional_data))`, where the
//!   additional data is taken as the provider serialized it (compact, slashes and unicode
//!   unescaped); answered `{"status":"ok"}`.
//!
//! The order's label upstream is its payment_uid, so postbacks find their order directly.
//!
//! Every amount Paykassma reports (a postback's transactions, an activation's `deposit_amount`
//! and `lacks_sum`) is read by the domain's one parser for upstream amounts
//! ([`Amount::parse_reported`]), from the JSON text as sent: a negative, zero, too fine, too
//! large or exponent amount is never taken as money. A postback whose `direction` is missing
//! is read by what its signed transactions are (deposits carry `transaction_id` or
//! `plugin_custom_order_id`, withdrawals `withdrawal_id` and `withdrawal_status`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use md5::Md5;
use octopus_domain::{
    Amount, AmountError, Currency, Order, OrderRequest, Timestamp, TransactionType,
};
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::registry::Setup;
use crate::{
    Called, CheckOutcome, Confirmation, Connector, ConnectorError, DepositStart, Exchange,
    Notification, PayoutStart, Plan, PostbackError, Received, UpstreamError,
};

/// How much of an answer is kept on the order's history.
const KEEP: usize = 4096;

pub struct PaykassmaConnector {
    api_url: String,
    wallet_type: String,
    plugin_secret: String,
    access_key: String,
    private_access_key: String,
    withdrawal_key: String,
    withdrawal_signature: String,
    is_test: bool,
    /// When a stored payout that was not sent is sent again.
    resend_after_ms: i64,
    http: reqwest::Client,
}

fn now_ms() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl PaykassmaConnector {
    /// Settings: `api_url` (required), `wallet_type` (wavepay), `withdrawal_signature`
    /// (sha1-concat or hmac-sha256), `timeout_ms` (10000), `is_test` (false). Credentials:
    /// `pluginapi_secret`, `postback_access_key`, `postback_private_access_key`,
    /// `withdrawal_private_key`.
    pub fn from_setup(setup: &Setup<'_>) -> Result<Self, ConnectorError> {
        let setting = |name: &str| {
            setup
                .settings
                .get(name)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let credential = |name: &str| {
            setup
                .credentials
                .get(name)
                .cloned()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    ConnectorError::Config(format!(
                        "a paykassma channel needs the credential {name}"
                    ))
                })
        };
        let api_url = setting("api_url").ok_or_else(|| {
            ConnectorError::Config("a paykassma channel needs the setting api_url".into())
        })?;
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(ConnectorError::Config(
                "api_url must be an http(s) URL".into(),
            ));
        }
        let withdrawal_signature =
            setting("withdrawal_signature").unwrap_or_else(|| "sha1-concat".into());
        if !matches!(withdrawal_signature.as_str(), "sha1-concat" | "hmac-sha256") {
            return Err(ConnectorError::Config(
                "withdrawal_signature is sha1-concat or hmac-sha256".into(),
            ));
        }
        let timeout_ms = match setting("timeout_ms") {
            Some(t) => t
                .parse::<u64>()
                .ok()
                .filter(|t| (1..=30_000).contains(t))
                .ok_or_else(|| {
                    ConnectorError::Config("timeout_ms must be a number from 1 to 30000".into())
                })?,
            None => 10_000,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_millis(timeout_ms.min(5_000)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| ConnectorError::Config(e.to_string()))?;
        Ok(PaykassmaConnector {
            api_url: api_url.trim_end_matches('/').to_string(),
            wallet_type: setting("wallet_type").unwrap_or_else(|| "wavepay".into()),
            plugin_secret: credential("pluginapi_secret")?,
            access_key: credential("postback_access_key")?,
            private_access_key: credential("postback_private_access_key")?,
            withdrawal_key: credential("withdrawal_private_key")?,
            withdrawal_signature,
            is_test: setting("is_test").is_some_and(|v| v == "true"),
            resend_after_ms: match setting("resend_after_ms") {
                Some(t) => t
                    .parse::<i64>()
                    .ok()
                    .filter(|t| *t >= 1_000 && *t > timeout_ms as i64)
                    .ok_or_else(|| {
                        ConnectorError::Config(
                            "resend_after_ms must be a number of at least 1000, above timeout_ms"
                                .into(),
                        )
                    })?,
                None => 120_000,
            },
            http,
        })
    }

    /// POSTs `body` to `path`, returning the JSON answer (with its text, where amounts are
    /// read from) and the exchange (the plugin secret shown as `***`).
    async fn call(
        &self,
        operation: &str,
        path: &str,
        with_secret: bool,
        body: &Value,
    ) -> (Result<(Value, String), UpstreamError>, Exchange) {
        let mut url = format!("{}{path}", self.api_url);
        let shown = if with_secret {
            format!("{url}?secret=***")
        } else {
            url.clone()
        };
        if with_secret {
            url.push_str("?secret=");
            url.push_str(&self.plugin_secret);
        }
        let started = Instant::now();
        let mut exchange = Exchange {
            operation: operation.into(),
            request: format!("POST {shown} {body}"),
            status: None,
            response: String::new(),
            latency_ms: 0,
            error: String::new(),
            at: now_ms(),
        };
        let sent = self.http.post(&url).json(body).send().await;
        let result = match sent {
            Err(e) if e.is_timeout() => Err(UpstreamError::Unknown(
                "Paykassma did not answer in time".into(),
            )),
            Err(e) if e.is_connect() => Err(UpstreamError::Refused(
                "Paykassma could not be reached".into(),
            )),
            Err(_) => Err(UpstreamError::Unknown(
                "the request to Paykassma failed".into(),
            )),
            Ok(response) => {
                let status = response.status().as_u16();
                exchange.status = Some(status);
                let text = response.text().await.unwrap_or_default();
                exchange.response = text.chars().take(KEEP).collect();
                match status {
                    200..=299 | 400..=499 => serde_json::from_str::<Value>(&text)
                        .map(|answer| (answer, text))
                        .map_err(|_| {
                            UpstreamError::Unknown(format!(
                                "Paykassma answered HTTP {status} with something unreadable"
                            ))
                        }),
                    // Unavailable: the request was not handled. (A 502 may come from a proxy
                    // after it forwarded the request, so it is not certain.)
                    503 => Err(UpstreamError::Refused(format!(
                        "Paykassma answered HTTP {status}"
                    ))),
                    _ => Err(UpstreamError::Unknown(format!(
                        "Paykassma answered HTTP {status}"
                    ))),
                }
            }
        };
        exchange.latency_ms = started.elapsed().as_millis() as i64;
        if let Err(e) = &result {
            exchange.error = e.reason().to_string();
        }
        (result, exchange)
    }
}

/// The message of a `fail` answer, as text (it may be a string or an object of lists).
fn fail_message(answer: &Value) -> String {
    match &answer["message"] {
        Value::String(s) => s.clone(),
        Value::Object(fields) => {
            let all: Vec<String> = fields
                .values()
                .flat_map(|v| match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().unwrap_or_default().to_string())
                        .collect(),
                    other => vec![other.as_str().unwrap_or_default().to_string()],
                })
                .filter(|m| !m.is_empty())
                .collect();
            all.join("; ")
        }
        Value::Null => "no reason given".into(),
        other => other.to_string(),
    }
}

/// An amount as a JSON number (6000.00 → 6000, 6000.50 → 6000.5).
fn json_amount(amount: Decimal) -> Value {
    serde_json::from_str(&amount.normalize().to_string()).unwrap_or(Value::Null)
}

/// A top-level field of a JSON object answer, as the text it was sent as.
fn raw_field(text: &str, name: &str) -> Option<Box<RawValue>> {
    serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(text)
        .ok()?
        .remove(name)
}

/// An amount Paykassma reported in `currency`, read strictly; the error says what it was and
/// why it cannot be money.
fn reported_amount(
    what: &str,
    raw: Option<&RawValue>,
    currency: Currency,
) -> Result<Decimal, String> {
    let Some(raw) = raw.filter(|r| r.get() != "null") else {
        return Err(format!("{what} has no amount"));
    };
    Amount::parse_reported(raw.get(), currency)
        .map(Amount::value)
        .map_err(|e| {
            let detail = match e {
                AmountError::TooPrecise => {
                    format!(" ({currency} has {} decimal places)", currency.precision())
                }
                AmountError::TooLarge => format!(
                    " (at most {} digits before the point)",
                    octopus_domain::money::MAX_INTEGER_DIGITS
                ),
                _ => String::new(),
            };
            format!("{what}: the amount {} {e}{detail}", raw.get())
        })
}

/// One signed transaction of a postback, its fields as sent.
struct Transaction(BTreeMap<String, Box<RawValue>>);

impl Transaction {
    fn raw(&self, key: &str) -> Option<&RawValue> {
        self.0.get(key).map(|r| &**r)
    }

    /// A field as text: a string decoded, a number as written, anything else empty.
    fn text(&self, key: &str) -> String {
        self.raw(key)
            .and_then(|raw| octopus_domain::fields::scalar_text(raw.get()))
            .unwrap_or_default()
    }

    fn has(&self, key: &str) -> bool {
        !self.text(key).is_empty()
    }

    /// A deposit's transaction names the payer's transfer or the order; a withdrawal's names
    /// the withdrawal and its status (the provider's examples fill the others with null or "").
    fn is_deposit(&self) -> bool {
        (self.has("transaction_id") || self.has("plugin_custom_order_id"))
            && !self.has("withdrawal_id")
    }

    fn is_withdrawal(&self) -> bool {
        self.has("withdrawal_id")
            && self
                .raw("withdrawal_status")
                .is_some_and(|r| r.get() != "null")
    }
}

/// Which way a postback's money went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingoing,
    Outgoing,
}

/// The direction of a postback that does not say it (or says something unknown), from its
/// signed transactions: all deposits or all withdrawals.
fn infer_direction(entries: &[Transaction]) -> Result<Direction, String> {
    if entries.iter().all(Transaction::is_deposit) {
        Ok(Direction::Ingoing)
    } else if entries.iter().all(Transaction::is_withdrawal) {
        Ok(Direction::Outgoing)
    } else {
        Err(
            "it has no direction, and its transactions are not all deposits nor all withdrawals"
                .into(),
        )
    }
}

/// What a deposit postback's signed transactions received: each transaction counted once
/// (the provider may list one twice), their amounts read strictly, in one currency.
fn received(entries: &[Transaction]) -> Result<Received, String> {
    let mut currency: Option<Currency> = None;
    // Each distinct transaction (by transaction_id; by its whole text when it has none) and
    // its amount.
    let mut counted: Vec<(String, Decimal)> = Vec::new();
    for e in entries {
        let id = e.text("transaction_id");
        let what = if id.is_empty() {
            "a transaction".to_string()
        } else {
            format!("transaction {id}")
        };
        let code = e.text("currency_code");
        let this = Currency::parse(&code)
            .ok_or_else(|| format!("{what} is in {code:?}, not a currency Octopus settles"))?;
        match currency {
            Some(c) if c != this => {
                return Err(format!(
                    "the transactions are in several currencies ({c} and {this})"
                ))
            }
            _ => currency = Some(this),
        }
        let amount = reported_amount(&what, e.raw("amount"), this)?;
        let key = if id.is_empty() {
            serde_json::to_string(&e.0).unwrap_or_default()
        } else {
            id
        };
        match counted.iter().find(|(k, _)| *k == key) {
            Some((_, seen)) if *seen == amount => {}
            Some((_, seen)) => {
                return Err(format!("{what} is listed twice, with {seen} and {amount}"))
            }
            None => counted.push((key, amount)),
        }
    }
    let currency = currency.ok_or_else(|| "it lists no transaction".to_string())?;
    let amount = counted.iter().map(|(_, a)| *a).sum();
    Ok(Received { amount, currency })
}

/// The JSON text as the provider serialized it for signing: compact (no white space outside
/// strings), `\/` as `/` and `\uXXXX` as the character (control characters, quotes and
/// backslashes stay escaped).
pub fn provider_json(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if !in_string {
            if c == '"' {
                in_string = true;
            }
            if !c.is_whitespace() {
                out.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_string = false;
                out.push(c);
            }
            '\\' => match chars.next() {
                Some('/') => out.push('/'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&hex, 16).unwrap_or(0);
                    let decoded = if (0xD800..0xDC00).contains(&unit) {
                        // A surrogate pair: the low half follows as \uXXXX.
                        let rest: String = chars.clone().take(6).collect();
                        match rest
                            .strip_prefix("\\u")
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                        {
                            Some(low) if (0xDC00..0xE000).contains(&low) => {
                                chars.by_ref().take(6).for_each(drop);
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            }
                            _ => None,
                        }
                    } else {
                        char::from_u32(unit)
                    };
                    match decoded {
                        Some(ch) if ch >= ' ' && ch != '"' && ch != '\\' => out.push(ch),
                        _ => {
                            out.push_str("\\u");
                            out.push_str(&hex);
                        }
                    }
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// A withdrawal request's signature under the channel's scheme (see the simulator's
/// `withdrawal_signature` for the same two schemes, written separately).
fn sign_withdrawal(scheme: &str, body: &Value, key: &str) -> String {
    let text = |k: &str| match &body[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if scheme == "hmac-sha256" {
        let mut keys: Vec<&String> = body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.retain(|k| *k != "signature");
        keys.sort();
        let canonical = keys
            .iter()
            .map(|k| format!("{k}={}", text(k)))
            .collect::<Vec<_>>()
            .join("&");
        let mut mac =
            Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    } else {
        let mut joined = String::new();
        for k in [
            "withdrawal_id",
            "payment_system",
            "amount",
            "currency_code",
            "label",
            "account_number",
        ] {
            joined.push_str(&text(k));
        }
        joined.push_str(key);
        hex::encode(Sha1::digest(joined.as_bytes()))
    }
}

/// Compares two strings in constant time (for equal lengths).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[async_trait]
impl Connector for PaykassmaConnector {
    fn kind(&self) -> &'static str {
        "paykassma"
    }

    fn plan(&self, order: &Order, now: Timestamp) -> Plan {
        // Paykassma tells by postback. A payout is sent right after it is stored; should that
        // not happen (a crash in between), the check resends it after this delay, well past
        // the longest a send (at most 30 s per channel) takes.
        match order.transaction_type {
            TransactionType::Expense => Plan {
                next_check_at: Some(now + self.resend_after_ms),
            },
            TransactionType::Income => Plan::default(),
        }
    }

    async fn check(&self, _order: &Order, _now: Timestamp) -> Result<CheckOutcome, ConnectorError> {
        Ok(CheckOutcome::Pending {
            next_check_at: None,
        })
    }

    fn calls_upstream(&self) -> bool {
        true
    }

    fn accepts(&self, request: &OrderRequest) -> Result<(), String> {
        if request.transaction_type == TransactionType::Expense {
            let to = request.to.trim();
            if !(10..=11).contains(&to.len()) || !to.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "The 'to' field must be a {} account number of 10 to 11 digits.",
                    self.wallet_type
                ));
            }
            if request.amount.value().fract() != Decimal::ZERO {
                return Err("Paykassma payouts take whole amounts.".into());
            }
        }
        Ok(())
    }

    async fn start_deposit(&self, order: &Order) -> Called<DepositStart> {
        let body =
            json!({"currency": order.currency.code().to_uppercase(), "label": order.payment_uid});
        let (answer, exchange) = self
            .call(
                "create",
                &format!("/api/v1/transaction/create/{}", self.wallet_type),
                true,
                &body,
            )
            .await;
        let result = answer.and_then(|(a, _)| {
            match (a["status"].as_str(), a["params"]["identifier"].as_str()) {
                (Some("ok"), Some(identifier)) => Ok(DepositStart {
                    instructions: [
                        ("wallet_type".to_string(), self.wallet_type.clone()),
                        ("account".to_string(), identifier.to_string()),
                    ]
                    .into_iter()
                    .collect(),
                    asks_transaction_id: true,
                }),
                _ => Err(UpstreamError::Refused(format!(
                    "Paykassma refused the deposit: {}",
                    fail_message(&a)
                ))),
            }
        });
        Called {
            result,
            exchanges: vec![exchange],
        }
    }

    async fn confirm_deposit(&self, order: &Order, transaction_id: &str) -> Called<Confirmation> {
        let body = json!({
            "currency_code": order.currency.code().to_uppercase(),
            "wallet_type": self.wallet_type,
            "label": order.payment_uid,
            "amount": json_amount(order.final_amount),
            "key1": transaction_id,
            "custom_transaction_id": order.payment_uid,
        });
        let (answer, mut exchange) = self
            .call("activate", "/api/v1/transaction/activate", true, &body)
            .await;
        let amount = |text: &str, field: &str| {
            reported_amount(field, raw_field(text, field).as_deref(), order.currency)
        };
        let result = answer.and_then(|(a, text)| {
            let message = a["message"].as_str().unwrap_or_default().to_string();
            Ok(match a["status"].as_str() {
                Some("ok") if a["deposit"] == json!(true) => {
                    match amount(&text, "deposit_amount") {
                        Ok(amount) => Confirmation::Completed { amount },
                        Err(why) => Confirmation::Impossible {
                            reason: format!("Paykassma confirmed the deposit, but {why}"),
                        },
                    }
                }
                Some("ok") => match amount(&text, "lacks_sum") {
                    Ok(missing) => Confirmation::Short { missing },
                    Err(why) => Confirmation::Impossible {
                        reason: format!("Paykassma reported a short payment, but {why}"),
                    },
                },
                Some("pending") | Some("possible_transaction_created") => {
                    Confirmation::Processing { message }
                }
                Some("fail") => Confirmation::Failed {
                    reason: format!("Paykassma: {}", fail_message(&a)),
                },
                _ => {
                    return Err(UpstreamError::Unknown(
                        "Paykassma answered the activation with an unknown status".into(),
                    ))
                }
            })
        });
        if let Ok(Confirmation::Impossible { reason }) = &result {
            exchange.error = format!("not applied, needs the operator: {reason}");
        }
        Called {
            result,
            exchanges: vec![exchange],
        }
    }

    async fn start_payout(&self, order: &Order) -> Called<PayoutStart> {
        let Some(amount) = order.amount.trunc().to_string().parse::<i64>().ok() else {
            return Called::local(Err(UpstreamError::Refused(
                "the amount is too large for Paykassma".into(),
            )));
        };
        let email: String = serde_json::from_str::<serde_json::Map<String, Value>>(&order.extra)
            .ok()
            .and_then(|m| {
                m.get("account_email")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let mut body = json!({
            "withdrawal_id": order.payment_uid,
            "payment_system": self.wallet_type,
            "amount": amount,
            "currency_code": order.currency.code().to_uppercase(),
            "is_test": self.is_test,
            "label": order.payment_uid,
            "account_email": email,
            "account_number": order.to,
        });
        body["signature"] = Value::String(sign_withdrawal(
            &self.withdrawal_signature,
            &body,
            &self.withdrawal_key,
        ));
        let (answer, exchange) = self
            .call("withdrawal", "/v2/withdrawal/create", false, &body)
            .await;
        // Only an explicit `fail` is a certain refusal; an answer that is neither that nor the
        // request echoed back may mean the withdrawal exists.
        let result = answer.and_then(|(a, _)| {
            if a["status"] == json!("fail") {
                let message = fail_message(&a);
                Err(UpstreamError::Refused(
                    if message.contains("Insufficient balance") {
                        "Insufficient balance".to_string()
                    } else {
                        format!("Paykassma refused the payout: {message}")
                    },
                ))
            } else if a["withdrawal_id"].as_str() == Some(order.payment_uid.as_str()) {
                Ok(PayoutStart::Accepted)
            } else {
                Err(UpstreamError::Unknown(
                    "Paykassma answered the withdrawal with something unexpected".into(),
                ))
            }
        });
        Called {
            result,
            exchanges: vec![exchange],
        }
    }

    fn postback(&self, body: &[u8]) -> Result<Vec<Notification>, PostbackError> {
        #[derive(serde::Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            additional_data: &'a RawValue,
            #[serde(default)]
            signature: String,
            #[serde(default)]
            access_key: String,
            #[serde(default)]
            direction: Option<String>,
        }
        let text =
            std::str::from_utf8(body).map_err(|_| PostbackError::Malformed("not UTF-8".into()))?;
        let raw: Raw<'_> =
            serde_json::from_str(text).map_err(|e| PostbackError::Malformed(e.to_string()))?;
        let md5 = hex::encode(Md5::digest(
            provider_json(raw.additional_data.get()).as_bytes(),
        ));
        let expected = hex::encode(Sha1::digest(
            format!("{}{}{md5}", self.access_key, self.private_access_key).as_bytes(),
        ));
        if !same(&raw.signature.trim().to_ascii_lowercase(), &expected)
            || !same(&raw.access_key, &self.access_key)
        {
            return Err(PostbackError::BadSignature);
        }
        // From here on the postback is the provider's own: whatever is wrong with it, repeating
        // it will not fix it, so it is acknowledged and left to the operator.
        let entries: Vec<Transaction> =
            serde_json::from_str::<Vec<BTreeMap<String, Box<RawValue>>>>(raw.additional_data.get())
                .map_err(|_| {
                    PostbackError::Impossible("its transactions are not a list of objects".into())
                })?
                .into_iter()
                .map(Transaction)
                .collect();
        let direction = match raw.direction.as_deref() {
            Some("ingoing") => Direction::Ingoing,
            Some("outgoing") => Direction::Outgoing,
            // The direction is not signed; the transactions are.
            _ => infer_direction(&entries).map_err(PostbackError::Impossible)?,
        };
        match direction {
            // Only what the signature covers decides: the top-level label and amount are not
            // signed, so the amount is the sum of the signed transactions.
            Direction::Ingoing => {
                if entries.is_empty() {
                    return Ok(Vec::new());
                }
                let distinct = |key: &str| {
                    let mut ids: Vec<String> = Vec::new();
                    for id in entries
                        .iter()
                        .map(|e| e.text(key))
                        .filter(|s| !s.is_empty())
                    {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    ids
                };
                Ok(vec![Notification::Deposit {
                    order_ids: distinct("plugin_custom_order_id"),
                    transaction_ids: distinct("transaction_id"),
                    received: received(&entries),
                }])
            }
            Direction::Outgoing => Ok(entries
                .iter()
                .filter_map(|e| {
                    let status: i64 = e.text("withdrawal_status").parse().ok()?;
                    let order_id = e.text("withdrawal_id");
                    match status {
                        1 => Some(Notification::Payout {
                            order_id,
                            completed: true,
                            reason: "Paykassma: withdrawal succeeded".into(),
                        }),
                        5 => Some(Notification::Payout {
                            order_id,
                            completed: false,
                            reason: "Paykassma: withdrawal rejected".into(),
                        }),
                        _ => None,
                    }
                })
                .collect()),
        }
    }

    fn masked_postback(&self, body: &[u8]) -> String {
        match serde_json::from_slice::<Value>(body) {
            Ok(mut v) => {
                for key in ["access_key", "signature"] {
                    if v.get(key).is_some() {
                        v[key] = Value::String("***".into());
                    }
                }
                v.to_string()
            }
            Err(_) => "(unreadable)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_serialization_is_recovered_from_the_text_received() {
        let raw = r#"[ { "a": "https:\/\/x.test\/p", "b": "\u0e2a\u0e27", "c": null, "d": 1, "e": "q\"\\\n", "f": "\ud83d\ude00" } ]"#;
        assert_eq!(provider_json(raw), "[{\"a\":\"https://x.test/p\",\"b\":\"สว\",\"c\":null,\"d\":1,\"e\":\"q\\\"\\\\\\n\",\"f\":\"😀\"}]");
        let compact = serde_json::to_string(&serde_json::json!([{"k": "v / w", "n": 1}])).unwrap();
        assert_eq!(
            provider_json(&compact),
            compact,
            "already compact text is kept"
        );
    }

    fn transactions(json: &str) -> Vec<Transaction> {
        serde_json::from_str::<Vec<BTreeMap<String, Box<RawValue>>>>(json)
            .unwrap()
            .into_iter()
            .map(Transaction)
            .collect()
    }

    fn deposit(id: &str, amount: &str) -> String {
        format!(
            r#"{{"amount":{amount},"currency_code":"MMK","transaction_id":"{id}","plugin_custom_order_id":null,"withdrawal_id":null,"withdrawal_status":null}}"#
        )
    }

    #[test]
    fn a_deposit_postback_counts_each_transaction_once_and_reads_amounts_strictly() {
        let got = |list: &[String]| received(&transactions(&format!("[{}]", list.join(","))));
        let mmk = |amount: i64| {
            Ok(Received {
                amount: Decimal::from(amount),
                currency: Currency::Mmk,
            })
        };
        assert_eq!(got(&[deposit("TX1", "\"6000\"")]), mmk(6000));
        assert_eq!(
            got(&[deposit("TX1", "6000")]),
            mmk(6000),
            "a JSON number counts as its text"
        );
        assert_eq!(
            got(&[deposit("TX1", "\"6000\""), deposit("TX1", "\"6000\"")]),
            mmk(6000),
            "listed twice, counted once"
        );
        assert_eq!(
            got(&[deposit("TX1", "\"100\""), deposit("TX2", "6000")]),
            mmk(6100)
        );
        assert_eq!(
            got(&[deposit("TX1", "\"6000\""), deposit("TX1", "5000")]),
            Err("transaction TX1 is listed twice, with 6000 and 5000".into())
        );
        for (amount, why) in [
            ("\"-6000\"", "transaction TX1: the amount \"-6000\" must be greater than zero"),
            ("\"0\"", "transaction TX1: the amount \"0\" must be greater than zero"),
            ("\"6000.001\"", "transaction TX1: the amount \"6000.001\" has more decimal places than the currency allows (mmk has 2 decimal places)"),
            ("\"99999999999999999999\"", "transaction TX1: the amount \"99999999999999999999\" is too large (at most 15 digits before the point)"),
            ("6e3", "transaction TX1: the amount 6e3 must be a decimal number such as \"100.00\""),
            ("null", "transaction TX1 has no amount"),
        ] {
            assert_eq!(got(&[deposit("TX1", amount)]), Err(why.to_string()), "{amount}");
        }
        let thb = deposit("TX2", "\"10\"").replace("MMK", "THB");
        assert_eq!(
            got(&[deposit("TX1", "\"6000\""), thb]),
            Err("the transactions are in several currencies (mmk and thb)".into())
        );
        let eur = deposit("TX3", "\"10\"").replace("MMK", "EUR");
        assert_eq!(
            got(&[eur]),
            Err("transaction TX3 is in \"EUR\", not a currency Octopus settles".into())
        );
    }

    #[test]
    fn a_postback_without_direction_is_read_by_its_signed_transactions() {
        assert_eq!(
            infer_direction(&transactions(&format!("[{}]", deposit("TX1", "\"6000\"")))),
            Ok(Direction::Ingoing)
        );
        let by_order = r#"[{"amount":"6000","currency_code":"MMK","transaction_id":"","plugin_custom_order_id":"P1","withdrawal_id":""}]"#;
        assert_eq!(
            infer_direction(&transactions(by_order)),
            Ok(Direction::Ingoing)
        );
        let withdrawal = r#"[{"amount":"20000","currency_code":"MMK","transaction_id":"","transaction_type":null,"plugin_custom_order_id":"","withdrawal_id":"10319","withdrawal_status":1}]"#;
        assert_eq!(
            infer_direction(&transactions(withdrawal)),
            Ok(Direction::Outgoing)
        );
        let both = format!(
            "[{},{}]",
            deposit("TX1", "\"6000\""),
            &withdrawal[1..withdrawal.len() - 1]
        );
        assert!(infer_direction(&transactions(&both)).is_err());
        let neither = r#"[{"amount":"1","currency_code":"MMK"}]"#;
        assert!(infer_direction(&transactions(neither)).is_err());
        let no_status = r#"[{"amount":"1","withdrawal_id":"10319","withdrawal_status":null}]"#;
        assert!(infer_direction(&transactions(no_status)).is_err());
    }

    #[test]
    fn fail_messages_read_as_text() {
        assert_eq!(
            fail_message(&json!({"status": "fail", "message": "MESSAGE"})),
            "MESSAGE"
        );
        assert_eq!(
            fail_message(
                &json!({"status": "fail", "message": {"withdrawals_sum_amount": ["Insufficient balance"]}})
            ),
            "Insufficient balance"
        );
        assert_eq!(json_amount(Decimal::new(600000, 2)), json!(6000));
        assert_eq!(json_amount(Decimal::new(600050, 2)), json!(6000.5));
    }
}
