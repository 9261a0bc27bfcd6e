//! A simulator of the Paykassma API as the provider's document describes it (Wavepay deposits:
//! `transaction/create/wavepay` and `transaction/activate`; withdrawals: `v2/withdrawal/create`;
//! signed postbacks repeated until acknowledged), so the gateway's Paykassma connector is
//! exercised over real HTTP without the provider. It keeps wallets, the payers' transfers and
//! a balance, and injects faults on request: latency, HTTP 5xx, timeouts, insufficient balance,
//! duplicate, late, held-and-reversed and wrongly signed postbacks.
//!
//! The provider side is driven through `/sim/...` endpoints (a payer's transfer, the outcome of
//! a withdrawal, faults, the state) — see [`router`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use md5::Md5;
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// How the simulator is set up (the same values go into the gateway's channel).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// `?secret=` of the plugin API calls.
    pub plugin_secret: String,
    /// The postback signature's keys.
    pub postback_access_key: String,
    pub postback_private_key: String,
    /// The key withdrawal requests are signed with.
    pub withdrawal_key: String,
    /// `sha1-concat` or `hmac-sha256` (see [`withdrawal_signature`]).
    pub withdrawal_signature: String,
    /// Where postbacks go (the gateway's postback URL of the channel).
    pub postback_url: String,
    /// Time between repeats of an unacknowledged postback.
    pub postback_retry: Duration,
    /// How long a "timeout" fault keeps the caller waiting before answering.
    pub timeout_sleep: Duration,
    /// Balance per currency (upper case) for withdrawals.
    pub balance: BTreeMap<String, i64>,
}

impl SimConfig {
    /// The credentials a gateway's `paykassma` channel needs to talk to this simulator.
    pub fn channel_credentials(&self) -> BTreeMap<String, String> {
        [
            ("pluginapi_secret", &self.plugin_secret),
            ("postback_access_key", &self.postback_access_key),
            ("postback_private_access_key", &self.postback_private_key),
            ("withdrawal_private_key", &self.withdrawal_key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            plugin_secret: "plugin-secret".into(),
            postback_access_key: "FQ9jMwrNSkFbyMNqYFf6Ed4xeKmjHK".into(),
            postback_private_key: "postback-private-key".into(),
            withdrawal_key: "withdrawal-private-key".into(),
            withdrawal_signature: "sha1-concat".into(),
            postback_url: String::new(),
            postback_retry: Duration::from_secs(1),
            timeout_sleep: Duration::from_secs(30),
            balance: BTreeMap::from([("MMK".to_string(), 100_000_000)]),
        }
    }
}

/// Faults to inject; counters apply to that many next requests.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every API answer.
    pub latency_ms: u64,
    /// Answer the next n `create/wavepay` calls with HTTP 500.
    pub create_5xx: u32,
    /// Keep the next n `create/wavepay` calls waiting (longer than the gateway waits).
    pub create_timeout: u32,
    pub withdrawal_5xx: u32,
    pub withdrawal_timeout: u32,
    /// Send each postback this many extra times, after it was acknowledged.
    pub postback_duplicates: u32,
    /// Sign postbacks with a wrong key.
    pub postback_wrong_signature: bool,
    /// Keep postbacks until `/sim/postbacks/release`.
    pub hold_postbacks: bool,
    /// Send postbacks this late.
    pub postback_delay_ms: u64,
    /// Answer a completed activation with this `deposit_amount`, as raw JSON text (`-6000`,
    /// `"6000.001"`): an upstream reporting an impossible amount.
    pub activation_deposit_amount: Option<String>,
}

/// The payer's transfer as the provider sees it in the wallet.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Transfer {
    pub transaction_id: String,
    pub amount: i64,
    pub currency_code: String,
    /// The order it was activated for (`custom_transaction_id`), once activated.
    pub activated_for: Option<String>,
    pub label: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Withdrawal {
    pub withdrawal_id: String,
    pub amount: i64,
    pub currency_code: String,
    pub account_number: String,
    pub label: String,
    /// 0 new, 1 success, 5 fail.
    pub status: u8,
}

/// A postback and what happened to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Postback {
    pub body: Value,
    pub attempts: u32,
    pub acknowledged: bool,
}

#[derive(Default)]
struct Inner {
    faults: Faults,
    identifiers: BTreeMap<String, String>,
    transfers: Vec<Transfer>,
    withdrawals: BTreeMap<String, Withdrawal>,
    balance: BTreeMap<String, i64>,
    postbacks: Vec<Postback>,
    held: VecDeque<usize>,
    calls: Vec<Value>,
    /// Activations of transfers not seen yet: transaction ID → (order, label, amount, currency).
    awaited: BTreeMap<String, (String, String, i64, String)>,
}

#[derive(Clone)]
pub struct Sim {
    config: Arc<SimConfig>,
    inner: Arc<Mutex<Inner>>,
    http: reqwest::Client,
}

impl Sim {
    pub fn new(config: SimConfig) -> Sim {
        let inner = Inner {
            balance: config.balance.clone(),
            ..Inner::default()
        };
        Sim {
            config: Arc::new(config),
            inner: Arc::new(Mutex::new(inner)),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .build()
                .expect("a reqwest client with static settings builds"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("simulator state lock")
    }

    /// Sets the faults to inject from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// A payer's transfer to the wallet (what activation will look for). A transfer that an
    /// activation was already waiting for is credited at once: its postback goes out.
    pub fn transfer(&self, transaction_id: &str, amount: i64, currency_code: &str) {
        let postback = {
            let mut inner = self.lock();
            let awaited = inner.awaited.remove(transaction_id);
            inner.transfers.push(Transfer {
                transaction_id: transaction_id.into(),
                amount,
                currency_code: currency_code.to_uppercase(),
                activated_for: awaited.as_ref().map(|a| a.0.clone()),
                label: awaited.as_ref().map(|a| a.1.clone()).unwrap_or_default(),
            });
            awaited.map(|(order, label, _, currency)| {
                let mine: Vec<Transfer> = inner
                    .transfers
                    .iter()
                    .filter(|t| t.activated_for.as_deref() == Some(order.as_str()))
                    .cloned()
                    .collect();
                let sum = mine.iter().map(|t| t.amount).sum();
                deposit_postback(&mine, &label, sum, &currency)
            })
        };
        if let Some(body) = postback {
            self.queue_postback(body);
        }
    }

    /// Decides a withdrawal: `1` success or `5` fail, and sends its postback.
    pub fn finish_withdrawal(&self, withdrawal_id: &str, status: u8) -> bool {
        let w = {
            let mut inner = self.lock();
            let Some(w) = inner.withdrawals.get_mut(withdrawal_id) else {
                return false;
            };
            w.status = status;
            let w = w.clone();
            if status == 5 {
                *inner.balance.entry(w.currency_code.clone()).or_default() += w.amount;
            }
            w
        };
        self.queue_postback(withdrawal_postback(&w));
        true
    }

    /// Sends the postbacks kept by `hold_postbacks`, newest first when `reverse`.
    pub fn release(&self, reverse: bool) {
        let held: Vec<usize> = {
            let mut inner = self.lock();
            inner.faults.hold_postbacks = false;
            inner.held.drain(..).collect()
        };
        let order: Vec<usize> = if reverse {
            held.into_iter().rev().collect()
        } else {
            held
        };
        for index in order {
            self.spawn_delivery(index);
        }
    }

    /// Everything the simulator knows, for tests and the curious.
    pub fn state(&self) -> Value {
        let inner = self.lock();
        json!({
            "faults": inner.faults,
            "transfers": inner.transfers,
            "withdrawals": inner.withdrawals.values().collect::<Vec<_>>(),
            "balance": inner.balance,
            "postbacks": inner.postbacks,
            "calls": inner.calls,
        })
    }

    /// The postback signature over `additional_data` as written (compact JSON text), with
    /// the simulator's keys: for a test that posts a postback of its own making, with amounts
    /// written as a provider might write them (`6e3`, `99999999999999999999`).
    pub fn postback_signature(&self, additional_data: &str) -> String {
        let md5 = hex::encode(Md5::digest(additional_data.as_bytes()));
        let text = format!(
            "{}{}{}",
            self.config.postback_access_key, self.config.postback_private_key, md5
        );
        hex::encode(Sha1::digest(text.as_bytes()))
    }

    /// The postback access key (sent with every postback).
    pub fn postback_access_key(&self) -> &str {
        &self.config.postback_access_key
    }

    fn sign_postback(&self, additional_data: &Value, wrong: bool) -> String {
        // The provider's serialization: compact, slashes and unicode unescaped.
        let json = serde_json::to_string(additional_data).expect("JSON serializes");
        let md5 = hex::encode(Md5::digest(json.as_bytes()));
        let private = if wrong {
            "not-the-key"
        } else {
            &self.config.postback_private_key
        };
        let text = format!("{}{}{}", self.config.postback_access_key, private, md5);
        hex::encode(Sha1::digest(text.as_bytes()))
    }

    fn queue_postback(&self, mut body: Value) {
        let wrong = self.lock().faults.postback_wrong_signature;
        body["signature"] = Value::String(self.sign_postback(&body["additional_data"], wrong));
        body["access_key"] = Value::String(self.config.postback_access_key.clone());
        let (index, hold) = {
            let mut inner = self.lock();
            inner.postbacks.push(Postback {
                body,
                attempts: 0,
                acknowledged: false,
            });
            let index = inner.postbacks.len() - 1;
            let hold = inner.faults.hold_postbacks;
            if hold {
                inner.held.push_back(index);
            }
            (index, hold)
        };
        if !hold {
            self.spawn_delivery(index);
        }
    }

    /// Posts a postback until the gateway answers HTTP 200 `{"status":"ok"}`, then repeats it
    /// as many times as the duplicates fault says.
    fn spawn_delivery(&self, index: usize) {
        let sim = self.clone();
        tokio::spawn(async move {
            let (delay, duplicates) = {
                let inner = sim.lock();
                (
                    inner.faults.postback_delay_ms,
                    inner.faults.postback_duplicates,
                )
            };
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let body = sim.lock().postbacks[index].body.clone();
            for _ in 0..200 {
                sim.lock().postbacks[index].attempts += 1;
                if sim.post(&body).await {
                    sim.lock().postbacks[index].acknowledged = true;
                    break;
                }
                tokio::time::sleep(sim.config.postback_retry).await;
            }
            for _ in 0..duplicates {
                sim.lock().postbacks[index].attempts += 1;
                sim.post(&body).await;
            }
        });
    }

    async fn post(&self, body: &Value) -> bool {
        match self
            .http
            .post(&self.config.postback_url)
            .json(body)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => r
                .json::<Value>()
                .await
                .map(|v| v == json!({"status": "ok"}))
                .unwrap_or(false),
            _ => false,
        }
    }

    async fn before_answer(&self, call: Value) {
        let latency = {
            let mut inner = self.lock();
            inner.calls.push(call);
            inner.faults.latency_ms
        };
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
}

/// The withdrawal request's signature under a scheme. Paykassma does not publish its formula,
/// so the gateway lets each channel choose; these are the two the simulator understands:
/// `sha1-concat`: sha1 of withdrawal_id, payment_system, amount, currency_code, label and
/// account_number concatenated, then the key; `hmac-sha256`: HMAC-SHA256 with the key over
/// the other fields as sorted `key=value` joined with `&`.
pub fn withdrawal_signature(scheme: &str, body: &Value, key: &str) -> Option<String> {
    let text = |k: &str| match &body[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match scheme {
        "sha1-concat" => {
            let joined: String = [
                "withdrawal_id",
                "payment_system",
                "amount",
                "currency_code",
                "label",
                "account_number",
            ]
            .iter()
            .map(|k| text(k))
            .collect();
            Some(hex::encode(Sha1::digest(
                format!("{joined}{key}").as_bytes(),
            )))
        }
        "hmac-sha256" => {
            let fields = body.as_object()?;
            let mut keys: Vec<&String> = fields.keys().filter(|k| *k != "signature").collect();
            keys.sort();
            let canonical = keys
                .iter()
                .map(|k| format!("{k}={}", text(k)))
                .collect::<Vec<_>>()
                .join("&");
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
            mac.update(canonical.as_bytes());
            Some(hex::encode(mac.finalize().into_bytes()))
        }
        _ => None,
    }
}

fn deposit_postback(transfers: &[Transfer], label: &str, amount: i64, currency: &str) -> Value {
    let data: Vec<Value> = transfers
        .iter()
        .map(|t| {
            json!({
                "activated_datetime": "2026-11-21 10:00:00", "exchanger_identifier": null, "comment": "",
                "amount": t.amount.to_string(), "currency_code": t.currency_code, "wallet_type": "wavepay",
                "stockpiling_id": 963, "transaction_id": t.transaction_id, "transaction_type": 1,
                "plugin_custom_order_id": t.activated_for, "withdrawal_id": null, "withdrawal_status": null,
                "account_number": "", "account_name": "", "account_email": "",
                "bank_details": {"bank_code": "", "branch_code": ""}
            })
        })
        .collect();
    json!({
        "wallet_type": "wavepay", "amount": amount, "currency_code": currency, "label": label,
        "converted_amount": {"USD": 4.61}, "direction": "ingoing", "created_datetime": "2026-11-21 10:00:00",
        "additional_data": data,
    })
}

fn withdrawal_postback(w: &Withdrawal) -> Value {
    json!({
        "wallet_type": "wavepay", "amount": w.amount, "currency_code": w.currency_code, "label": w.label,
        "converted_amount": {"USD": 9.19}, "direction": "outgoing", "created_datetime": "2026-11-21 10:00:00",
        "additional_data": [{
            "activated_datetime": "", "exchanger_identifier": "", "comment": "", "amount": w.amount.to_string(),
            "currency_code": w.currency_code, "wallet_type": "wavepay", "stockpiling_id": null, "transaction_id": "",
            "transaction_type": null, "plugin_custom_order_id": "", "withdrawal_id": w.withdrawal_id,
            "withdrawal_status": w.status, "account_number": w.account_number, "account_name": "",
            "account_email": "", "bank_details": {"bank_code": null, "branch_code": null}
        }],
    })
}

#[derive(Deserialize)]
struct SecretQuery {
    secret: Option<String>,
}

fn fail(status: StatusCode, message: Value) -> Response {
    (status, Json(json!({"status": "fail", "message": message}))).into_response()
}

fn number(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .or_else(|| v.as_str()?.parse().ok())
}

async fn create_wavepay(
    State(sim): State<Sim>,
    Query(q): Query<SecretQuery>,
    Json(body): Json<Value>,
) -> Response {
    sim.before_answer(json!({"call": "create", "body": body}))
        .await;
    if q.secret.as_deref() != Some(sim.config.plugin_secret.as_str()) {
        return fail(StatusCode::FORBIDDEN, json!("Invalid secret"));
    }
    let (five, slow) = {
        let mut inner = sim.lock();
        let f = &mut inner.faults;
        let five = f.create_5xx > 0;
        let slow = !five && f.create_timeout > 0;
        if five {
            f.create_5xx -= 1;
        } else if slow {
            f.create_timeout -= 1;
        }
        (five, slow)
    };
    if five {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
    }
    if slow {
        tokio::time::sleep(sim.config.timeout_sleep).await;
    }
    let (Some(currency), Some(label)) = (body["currency"].as_str(), body["label"].as_str()) else {
        return fail(StatusCode::OK, json!("currency and label are required"));
    };
    if currency != "MMK" {
        return fail(
            StatusCode::OK,
            json!(format!("Currency {currency} is not available")),
        );
    }
    let identifier = {
        let mut inner = sim.lock();
        let next = format!("09{:09}", 100_000_000 + inner.identifiers.len() as u64);
        inner
            .identifiers
            .entry(label.to_string())
            .or_insert(next)
            .clone()
    };
    Json(json!({"status": "ok", "params": {"identifier": identifier}})).into_response()
}

async fn activate(
    State(sim): State<Sim>,
    Query(q): Query<SecretQuery>,
    Json(body): Json<Value>,
) -> Response {
    sim.before_answer(json!({"call": "activate", "body": body}))
        .await;
    if q.secret.as_deref() != Some(sim.config.plugin_secret.as_str()) {
        return fail(StatusCode::FORBIDDEN, json!("Invalid secret"));
    }
    let key1 = body["key1"].as_str().unwrap_or_default().to_string();
    let custom = body["custom_transaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let label = body["label"].as_str().unwrap_or_default().to_string();
    let currency = body["currency_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(amount) = number(&body["amount"]) else {
        return fail(StatusCode::OK, json!("amount is required"));
    };
    if key1.is_empty() || key1.chars().count() > 11 || custom.is_empty() {
        return fail(
            StatusCode::OK,
            json!("key1 (at most 11 characters) and custom_transaction_id are required"),
        );
    }
    if key1.starts_with("FAIL") {
        return fail(StatusCode::OK, json!("Transaction declined"));
    }
    if key1.starts_with("PENDING") {
        return Json(json!({"status": "pending", "message": "The deposit status check has been started. The operation may take longer than expected. Upon completion of the verification, the funds will be credited to your account"})).into_response();
    }
    let outcome = {
        let mut inner = sim.lock();
        let Some(t) = inner
            .transfers
            .iter_mut()
            .find(|t| t.transaction_id == key1)
        else {
            // The provider keeps looking; a matching transfer later is credited by postback.
            inner.awaited.insert(
                key1.clone(),
                (custom.clone(), label.clone(), amount, currency.clone()),
            );
            return Json(json!({"status": "possible_transaction_created", "message": "Transaction not found. Possible transaction created"})).into_response();
        };
        if t.activated_for.as_deref().is_some_and(|o| o != custom) {
            return fail(StatusCode::OK, json!("Transaction already activated"));
        }
        t.activated_for = Some(custom.clone());
        t.label = label.clone();
        // Every transfer activated for this order counts (stockpiling).
        let mine: Vec<Transfer> = inner
            .transfers
            .iter()
            .filter(|t| t.activated_for.as_deref() == Some(custom.as_str()))
            .cloned()
            .collect();
        let sum: i64 = mine.iter().map(|t| t.amount).sum();
        (mine, sum)
    };
    let (mine, sum) = outcome;
    if sum < amount {
        return Json(json!({"status": "ok", "deposit": false, "transactions_sum": sum, "stockpiling_sum": sum,
            "lacks_sum": amount - sum, "minimum_deposit": amount, "currency": {"code": currency, "symbol": currency}}))
        .into_response();
    }
    sim.queue_postback(deposit_postback(&mine, &label, sum, &currency));
    let answer = json!({"status": "ok", "deposit": true, "deposit_amount": sum, "currency": {"code": currency, "symbol": currency}});
    match sim.lock().faults.activation_deposit_amount.clone() {
        Some(raw) => {
            let text = answer.to_string().replace(
                &format!("\"deposit_amount\":{sum}"),
                &format!("\"deposit_amount\":{raw}"),
            );
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                text,
            )
                .into_response()
        }
        None => Json(answer).into_response(),
    }
}

async fn withdrawal_create(State(sim): State<Sim>, Json(body): Json<Value>) -> Response {
    sim.before_answer(json!({"call": "withdrawal", "body": body}))
        .await;
    let (five, slow) = {
        let mut inner = sim.lock();
        let f = &mut inner.faults;
        let five = f.withdrawal_5xx > 0;
        let slow = !five && f.withdrawal_timeout > 0;
        if five {
            f.withdrawal_5xx -= 1;
        } else if slow {
            f.withdrawal_timeout -= 1;
        }
        (five, slow)
    };
    if five {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let expected = withdrawal_signature(
        &sim.config.withdrawal_signature,
        &body,
        &sim.config.withdrawal_key,
    );
    if expected.is_none() || body["signature"].as_str() != expected.as_deref() {
        return fail(StatusCode::OK, json!("Invalid signature"));
    }
    let id = body["withdrawal_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let account = body["account_number"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let currency = body["currency_code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(amount) = body["amount"].as_i64() else {
        return fail(
            StatusCode::OK,
            json!({"amount": ["The amount must be an integer."]}),
        );
    };
    if id.is_empty()
        || id.len() > 36
        || !(10..=11).contains(&account.len())
        || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return fail(
            StatusCode::OK,
            json!({"account_number": ["The account number must be 10 to 11 digits."]}),
        );
    }
    {
        let mut inner = sim.lock();
        if !inner.withdrawals.contains_key(&id) {
            let balance = inner.balance.entry(currency.clone()).or_default();
            if *balance < amount {
                return fail(
                    StatusCode::OK,
                    json!({"withdrawals_sum_amount": ["Insufficient balance"]}),
                );
            }
            *balance -= amount;
            let label = body["label"].as_str().unwrap_or_default().to_string();
            inner.withdrawals.insert(
                id.clone(),
                Withdrawal {
                    withdrawal_id: id,
                    amount,
                    currency_code: currency,
                    account_number: account,
                    label,
                    status: 0,
                },
            );
        }
    }
    if slow {
        // Created, but the answer comes too late for the caller.
        tokio::time::sleep(sim.config.timeout_sleep).await;
    }
    Json(body).into_response()
}

#[derive(Deserialize)]
struct TransferBody {
    transaction_id: String,
    amount: i64,
    #[serde(default = "mmk")]
    currency_code: String,
}

fn mmk() -> String {
    "MMK".into()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReleaseBody {
    reverse: bool,
}

/// The routes: the provider's API as documented, and `/sim/...` to drive the provider's side.
pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/api/v1/transaction/create/wavepay", post(create_wavepay))
        .route("/api/v1/transaction/activate", post(activate))
        .route("/v2/withdrawal/create", post(withdrawal_create))
        .route(
            "/sim/faults",
            post(|State(sim): State<Sim>, Json(f): Json<Faults>| async move {
                sim.set_faults(f);
                Json(json!({"status": "ok"}))
            }),
        )
        .route(
            "/sim/transfers",
            post(
                |State(sim): State<Sim>, Json(t): Json<TransferBody>| async move {
                    sim.transfer(&t.transaction_id, t.amount, &t.currency_code);
                    Json(json!({"status": "ok"}))
                },
            ),
        )
        .route(
            "/sim/withdrawals/{id}/{status}",
            post(
                |State(sim): State<Sim>, Path((id, status)): Path<(String, u8)>| async move {
                    if !matches!(status, 1 | 5) {
                        return (
                            StatusCode::BAD_REQUEST,
                            Json(json!({"status": "fail", "message": "status is 1 or 5"})),
                        );
                    }
                    if sim.finish_withdrawal(&id, status) {
                        (StatusCode::OK, Json(json!({"status": "ok"})))
                    } else {
                        (
                            StatusCode::NOT_FOUND,
                            Json(json!({"status": "fail", "message": "no such withdrawal"})),
                        )
                    }
                },
            ),
        )
        .route(
            "/sim/postbacks/release",
            post(
                |State(sim): State<Sim>, body: Option<Json<ReleaseBody>>| async move {
                    sim.release(body.map(|b| b.0.reverse).unwrap_or(false));
                    Json(json!({"status": "ok"}))
                },
            ),
        )
        .route(
            "/sim/state",
            get(|State(sim): State<Sim>| async move { Json(sim.state()) }),
        )
        .with_state(sim)
}

/// Serves the simulator on a bound listener until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, sim: Sim) -> std::io::Result<()> {
    axum::serve(listener, router(sim)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawal_signature_schemes() {
        let body = json!({"withdrawal_id": "w1", "payment_system": "wavepay", "amount": 6000, "currency_code": "MMK",
            "label": "l", "account_number": "01642234663", "is_test": true});
        let concat = withdrawal_signature("sha1-concat", &body, "k").unwrap();
        assert_eq!(
            concat,
            hex::encode(Sha1::digest(b"w1wavepay6000MMKl01642234663k"))
        );
        let hmac = withdrawal_signature("hmac-sha256", &body, "k").unwrap();
        assert_eq!(hmac.len(), 64);
        assert!(withdrawal_signature("other", &body, "k").is_none());
    }
}
