//! The admin API's setup: merchants (create — both keys' secrets shown once —, list, one),
//! their API keys (create live or test, list, revoke, rotate, IP allowlists), fee schedules,
//! channels, own accounts, devices (enrol — the secret shown once —, revoke), blocklists
//! (add, remove, list, CSV import), velocity rules and payout review thresholds. Reads need
//! `ReadSetup`, changes `ManageSetup`, fee changes `ManageFees` (fee schedules are read with
//! `ReadSetup`: they are part of a merchant's setup, which support explains to merchants).
//!
//! The handlers only decode, check the permission and answer: every rule, and the audit line
//! of every change, is in the services (`merchants`, `fees`, `channels`, `accounts`,
//! `risk`), which the CLI calls too. [`table`] lists the routes with their permissions, for
//! the router and the OpenAPI document alike.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Json;
use octopus_domain::operator::Permission;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Admin;
use super::extract::Params;
use crate::clock::now_ms;
use crate::error::Error;
use crate::openapi::Route;
use crate::services::accounts::{self as own, AccountInput};
use crate::services::channels::{self, ChannelInput};
use crate::services::fees::{self, FeeInput};
use crate::services::merchants::{self, KeyRequest};
use crate::services::risk::{self, BlockInput, RuleInput};
use crate::services::setup::{self, Page};
use crate::state::AppState;

/// Every setup route, with what the OpenAPI document says of it (`admin::table` takes them
/// in, so the router and the document are made from one list).
pub fn table() -> Vec<Route> {
    vec![
        Route::new(
            "GET",
            "/octopus/admin/v1/merchants",
            get(list_merchants),
            "Live merchants, a page at a time",
        )
        .tag("merchants")
        .needs(Permission::ReadSetup)
        .query::<Paging>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/merchants.csv",
            get(merchants_csv),
            "Every live merchant, as CSV",
        )
        .tag("merchants")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/merchants",
            post(create_merchant),
            "Create a merchant (a live and a test key, secrets shown once)",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup)
        .body::<NewMerchant>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/merchants/{merchant_uid}",
            get(merchant),
            "A merchant with its keys, fees, velocity rules and review thresholds",
        )
        .tag("merchants")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/merchants/{merchant_uid}/disable",
            post(disable_merchant),
            "Disable a merchant: all its keys refused, its orders go on",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/merchants/{merchant_uid}/enable",
            post(enable_merchant),
            "Enable a disabled merchant again",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup),
        Route::new(
            "GET",
            "/octopus/admin/v1/merchants/{merchant_uid}/keys",
            get(list_keys),
            "A merchant's API keys, live and test",
        )
        .tag("merchants")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/merchants/{merchant_uid}/keys",
            post(create_key),
            "Add an API key (secret shown once)",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup)
        .body::<NewKey>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/merchants/{merchant_uid}/fees",
            get(list_fees),
            "A merchant's fee schedules",
        )
        .tag("merchants")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/merchants/{merchant_uid}/fees",
            post(set_fee),
            "Set a fee schedule",
        )
        .tag("merchants")
        .needs(Permission::ManageFees)
        .body::<FeeBody>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/keys/{api_key}/revoke",
            post(revoke_key),
            "Revoke an API key",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/keys/{api_key}/rotate",
            post(rotate_key),
            "Rotate an API key (the new secret shown once)",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup)
        .body::<Rotation>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/keys/{api_key}/allow",
            post(allow_key),
            "Set an API key's IP allowlist",
        )
        .tag("merchants")
        .needs(Permission::ManageSetup)
        .body::<Allowlist>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/channels",
            get(list_channels),
            "Channels (credentials by name only)",
        )
        .tag("channels")
        .needs(Permission::ReadSetup),
        Route::new(
            "GET",
            "/octopus/admin/v1/channels/health",
            get(channel_health),
            "How each channel and own account did lately: orders, success rate, time to \
             completion, upstream calls and their latency",
        )
        .tag("channels")
        .needs(Permission::ReadSetup)
        .query::<HealthPeriod>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/channels",
            post(save_channel),
            "Add or replace a channel",
        )
        .tag("channels")
        .needs(Permission::ManageSetup)
        .body::<ChannelBody>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/channels/{code}/disable",
            post(disable_channel),
            "Take a channel out of routing",
        )
        .tag("channels")
        .needs(Permission::ManageSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/channels/{code}/enable",
            post(enable_channel),
            "Put a channel back into routing",
        )
        .tag("channels")
        .needs(Permission::ManageSetup),
        Route::new(
            "GET",
            "/octopus/admin/v1/accounts",
            get(list_accounts),
            "The operator's own receiving accounts",
        )
        .tag("channels")
        .needs(Permission::ReadSetup)
        .query::<AccountFilter>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/accounts",
            post(add_account),
            "Add a receiving account",
        )
        .tag("channels")
        .needs(Permission::ManageSetup)
        .body::<AccountBody>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/accounts/{id}/disable",
            post(disable_account),
            "Take an account out of routing",
        )
        .tag("channels")
        .needs(Permission::ManageSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/accounts/{id}/enable",
            post(enable_account),
            "Put an account back into routing",
        )
        .tag("channels")
        .needs(Permission::ManageSetup),
        Route::new(
            "GET",
            "/octopus/admin/v1/devices",
            get(list_devices),
            "Devices, their last heartbeat and whether they are online",
        )
        .tag("channels")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/devices",
            post(add_device),
            "Enrol a device (secret shown once)",
        )
        .tag("channels")
        .needs(Permission::ManageSetup)
        .body::<NewDevice>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/devices/{device_id}/revoke",
            post(revoke_device),
            "Revoke a device",
        )
        .tag("channels")
        .needs(Permission::ManageSetup),
        Route::new(
            "GET",
            "/octopus/admin/v1/blocklist",
            get(list_blocks),
            "Blocklist entries, a page at a time",
        )
        .tag("risk")
        .needs(Permission::ReadSetup)
        .query::<BlockFilter>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/blocklist.csv",
            get(blocks_csv),
            "Every blocklist entry of the scope, as CSV",
        )
        .tag("risk")
        .needs(Permission::ReadSetup)
        .query::<BlockScope>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/blocklist",
            post(add_block),
            "Add a blocklist entry",
        )
        .tag("risk")
        .needs(Permission::ManageSetup)
        .body::<BlockBody>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/blocklist/remove",
            post(remove_block),
            "Remove a blocklist entry",
        )
        .tag("risk")
        .needs(Permission::ManageSetup)
        .body::<BlockKey>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/blocklist/import",
            post(import_blocks),
            "Import blocklist entries from CSV (all or none)",
        )
        .tag("risk")
        .needs(Permission::ManageSetup)
        .body::<Import>(),
        Route::new(
            "GET",
            "/octopus/admin/v1/velocity",
            get(list_rules),
            "Velocity rules",
        )
        .tag("risk")
        .needs(Permission::ReadSetup)
        .query::<MerchantFilter>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/velocity",
            post(add_rule),
            "Add a velocity rule",
        )
        .tag("risk")
        .needs(Permission::ManageSetup)
        .body::<RuleBody>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/velocity/{id}/remove",
            post(remove_rule),
            "Remove a velocity rule",
        )
        .tag("risk")
        .needs(Permission::ManageSetup),
        Route::new(
            "GET",
            "/octopus/admin/v1/review",
            get(list_thresholds),
            "Payout review thresholds",
        )
        .tag("risk")
        .needs(Permission::ReadSetup),
        Route::new(
            "POST",
            "/octopus/admin/v1/review",
            post(set_threshold),
            "Set a payout review threshold",
        )
        .tag("risk")
        .needs(Permission::ManageSetup)
        .body::<ThresholdBody>(),
        Route::new(
            "POST",
            "/octopus/admin/v1/review/clear",
            post(clear_threshold),
            "Clear a payout review threshold",
        )
        .tag("risk")
        .needs(Permission::ManageSetup)
        .body::<ThresholdKey>(),
    ]
}

/// A JSON body, read after the permission is checked (a role without it is told so, whatever
/// it sent); refused in the API's error shape. No body is `{}`.
fn decode<T: DeserializeOwned>(body: &Bytes) -> Result<T, Error> {
    super::extract::refuse_nul_in_json(body)?;
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| Error::Invalid(format!("body: {e}")))
}

fn success(data: impl serde::Serialize) -> Json<Value> {
    Json(json!({"result": "success", "data": data}))
}

/// A page of a long list: `{"<name>": [...], "next": "<cursor>" | null}`.
fn page(name: &str, page: Page) -> Json<Value> {
    success(json!({name: page.items, "next": page.next}))
}

/// A page's place: `after` (the `next` of the page before) and `limit` (1 to 500, default
/// 100).
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    pub after: Option<String>,
    pub limit: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Merchants, keys, fees
// ---------------------------------------------------------------------------------------------

/// `GET /octopus/admin/v1/merchants?after=&limit=`: live merchants, oldest first.
pub async fn list_merchants(
    State(state): State<AppState>,
    admin: Admin,
    Params(paging): Params<Paging>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    let found = merchants::list(
        state.storage.as_ref(),
        paging.after.as_deref(),
        paging.limit,
    )
    .await?;
    Ok(page("merchants", found))
}

/// Pages of the CSV exports of long setup lists.
const EXPORT_PAGE: u32 = 500;

/// `GET /octopus/admin/v1/merchants.csv`: every live merchant, oldest first, streamed.
pub async fn merchants_csv(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<axum::response::Response, Error> {
    admin.require(Permission::ReadSetup)?;
    const COLUMNS: &[&str] = &["merchant_uid", "merchant_name", "created_at"];
    Ok(super::csv::paged(
        "merchants.csv",
        &super::csv::header(COLUMNS),
        None,
        move |after: Option<String>| {
            let state = state.clone();
            async move {
                let found =
                    merchants::list(state.storage.as_ref(), after.as_deref(), Some(EXPORT_PAGE))
                        .await?;
                let text = found
                    .items
                    .iter()
                    .map(|m| super::csv::json_line(m, COLUMNS))
                    .collect();
                Ok((text, found.next.map(Some)))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewMerchant {
    name: String,
}

/// `POST /octopus/admin/v1/merchants` `{"name"}`: a merchant with a live and a test key,
/// their secrets shown this once (as `octopus merchant create` prints them).
pub async fn create_merchant(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let new: NewMerchant = decode(&body)?;
    let created = merchants::create_by(
        state.storage.as_ref(),
        &state.master_key,
        &admin.actor,
        &new.name,
    )
    .await?;
    Ok(success(created))
}

/// `GET /octopus/admin/v1/merchants/{merchant_uid}`: the merchant with its keys (live and
/// test), fee schedules, velocity rules and review thresholds.
/// `POST /octopus/admin/v1/merchants/{merchant_uid}/disable`.
pub async fn disable_merchant(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let storage = state.storage.as_ref();
    let after = merchants::set_disabled_by(storage, &admin.actor, &uid, true, now_ms()).await?;
    Ok(success(after))
}

/// `POST /octopus/admin/v1/merchants/{merchant_uid}/enable`.
pub async fn enable_merchant(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let storage = state.storage.as_ref();
    let after = merchants::set_disabled_by(storage, &admin.actor, &uid, false, now_ms()).await?;
    Ok(success(after))
}

pub async fn merchant(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    let storage = state.storage.as_ref();
    let m = setup::merchant(storage, &uid).await?;
    let thresholds: Vec<Value> = risk::thresholds(storage)
        .await?
        .into_iter()
        .filter(|t| t["merchant_uid"] == m.uid.as_str())
        .collect();
    let mut view = merchants::merchant_view(&m);
    view["disabled"] = json!(storage.merchant_disabled(&m.uid).await?.unwrap_or(false));
    view["keys"] = json!(merchants::keys(storage, &m.uid).await?);
    view["fees"] = json!(fees::schedules(storage, &m.uid).await?);
    view["velocity_rules"] = json!(risk::rules(storage, Some(&m.uid)).await?);
    view["review_thresholds"] = json!(thresholds);
    Ok(success(view))
}

/// `GET /octopus/admin/v1/merchants/{merchant_uid}/keys`: live and test, newest first, never
/// a secret.
pub async fn list_keys(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(
        json!({"keys": merchants::keys(state.storage.as_ref(), &uid).await?}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    /// `live` (default) or `test`.
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    label: String,
    expires_in: Option<String>,
    #[serde(default)]
    allowed_ips: Vec<String>,
}

/// `POST /octopus/admin/v1/merchants/{merchant_uid}/keys`
/// `{"mode","label","expires_in","allowed_ips"}`: a new key, its secret shown this once.
pub async fn create_key(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let new: NewKey = decode(&body)?;
    let test = match new.mode.as_deref().map(str::trim) {
        None | Some("") | Some("live") => false,
        Some("test") => true,
        Some(other) => return Err(Error::Invalid(format!("mode: live or test, not {other:?}"))),
    };
    let request = KeyRequest {
        test,
        label: new.label,
        expires_in: new.expires_in,
        allowed_ips: new.allowed_ips.join(","),
    };
    let created = merchants::create_key_by(
        state.storage.as_ref(),
        &state.master_key,
        &admin.actor,
        &uid,
        &request,
        now_ms(),
    )
    .await?;
    Ok(success(key_answer(created)))
}

/// A new key as answered: how it is shown, with its secret this once.
fn key_answer(created: merchants::CreatedKey) -> Value {
    let mut answer = created.view;
    answer["api_secret"] = json!(created.key.api_secret);
    answer
}

/// `POST /octopus/admin/v1/keys/{api_key}/revoke`: every node refuses it within 2 s.
pub async fn revoke_key(
    State(state): State<AppState>,
    admin: Admin,
    Path(api_key): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    Ok(success(
        merchants::revoke_key(state.storage.as_ref(), &admin.actor, &api_key, now_ms()).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Rotation {
    /// How long the old key stays valid (default `24h`).
    expires_in: Option<String>,
}

/// `POST /octopus/admin/v1/keys/{api_key}/rotate` `{"expires_in"}`: a new key of the same
/// book, label and allowlist (its secret shown this once); the old one works until then.
pub async fn rotate_key(
    State(state): State<AppState>,
    admin: Admin,
    Path(api_key): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let rotation: Rotation = decode(&body)?;
    let created = merchants::rotate_key_by(
        state.storage.as_ref(),
        &state.master_key,
        &admin.actor,
        &api_key,
        rotation.expires_in.as_deref().unwrap_or("24h"),
        now_ms(),
    )
    .await?;
    Ok(success(key_answer(created)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Allowlist {
    allowed_ips: Vec<String>,
}

/// `POST /octopus/admin/v1/keys/{api_key}/allow` `{"allowed_ips":[...]}`: the key's IP
/// allowlist replaced (`[]`: any address).
pub async fn allow_key(
    State(state): State<AppState>,
    admin: Admin,
    Path(api_key): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let allow: Allowlist = decode(&body)?;
    Ok(success(
        merchants::set_allowlist(
            state.storage.as_ref(),
            &admin.actor,
            &api_key,
            &allow.allowed_ips.join(","),
            now_ms(),
        )
        .await?,
    ))
}

/// `GET /octopus/admin/v1/merchants/{merchant_uid}/fees` (`ReadSetup`).
pub async fn list_fees(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(
        json!({"fees": fees::schedules(state.storage.as_ref(), &uid).await?}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct FeeBody {
    payment: Option<String>,
    accounting_type: Option<String>,
    percent: Option<String>,
    fixed: Option<String>,
    min: Option<String>,
    max: Option<String>,
}

/// `POST /octopus/admin/v1/merchants/{merchant_uid}/fees`
/// `{"payment","accounting_type","percent","fixed","min","max"}` (`ManageFees`): the schedule
/// of that scope set (replaced).
pub async fn set_fee(
    State(state): State<AppState>,
    admin: Admin,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageFees)?;
    let body: FeeBody = decode(&body)?;
    let defaults = FeeInput::default();
    let input = FeeInput {
        payment: body.payment.unwrap_or(defaults.payment),
        accounting_type: body.accounting_type.unwrap_or(defaults.accounting_type),
        percent: body.percent.unwrap_or(defaults.percent),
        fixed: body.fixed.unwrap_or(defaults.fixed),
        min: body.min.unwrap_or(defaults.min),
        max: body.max,
    };
    Ok(success(
        fees::set_by(state.storage.as_ref(), &admin.actor, &uid, &input, now_ms()).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Channels, accounts, devices
// ---------------------------------------------------------------------------------------------

/// `GET /octopus/admin/v1/channels`: every channel, credentials by name only.
pub async fn list_channels(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(json!({
        "channels": channels::list(state.storage.as_ref(), &state.master_key).await?
    })))
}

/// The period of [`channel_health`].
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthPeriod {
    /// Minutes back from now, 1 to 1440 (default 60).
    pub minutes: Option<u32>,
}

/// `GET /octopus/admin/v1/channels/health?minutes=60`: for the orders created in the period,
/// one row per channel (`account` empty) and per own account: orders, those that ended
/// paid (`succeeded`) and unpaid (`failed`: failed or expired), `success_rate`, the median and
/// 95th percentile time to completion, and the upstream calls made for them (how many, how
/// many got no answer — a transport error or a 5xx — and their latency).
pub async fn channel_health(
    State(state): State<AppState>,
    admin: Admin,
    Params(period): Params<HealthPeriod>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    let minutes = period.minutes.unwrap_or(60);
    if !(1..=1440).contains(&minutes) {
        return Err(Error::Invalid("minutes: 1 to 1440".into()));
    }
    let since = crate::clock::now_ms() - i64::from(minutes) * 60_000;
    let samples = state.storage.health_samples(since).await?;
    let rows: Vec<Value> = octopus_domain::channel::health::summarize(
        &samples.counts,
        &samples.completions,
        &samples.calls,
    )
    .iter()
    .map(|h| {
        json!({
            "channel": h.channel,
            "account": h.account,
            "orders": h.orders,
            "succeeded": h.succeeded,
            "failed": h.failed,
            "success_rate": h.success_rate(),
            "completion_p50_ms": h.completion_p50_ms,
            "completion_p95_ms": h.completion_p95_ms,
            "upstream_calls": h.upstream_calls,
            "upstream_unanswered": h.upstream_unanswered,
            "upstream_p50_ms": h.upstream_p50_ms,
            "upstream_p95_ms": h.upstream_p95_ms,
        })
    })
    .collect();
    Ok(success(json!({
        "since": crate::clock::rfc3339(since),
        "minutes": minutes,
        "channels": rows,
    })))
}

fn default_priority() -> i32 {
    100
}

fn default_weight() -> u32 {
    1
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChannelBody {
    code: String,
    kind: String,
    #[serde(default)]
    merchants: Vec<String>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    countries: Vec<String>,
    #[serde(default)]
    currencies: Vec<String>,
    #[serde(default)]
    payments: Vec<String>,
    min: Option<String>,
    max: Option<String>,
    ttl: Option<i64>,
    #[serde(default = "default_priority")]
    priority: i32,
    #[serde(default = "default_weight")]
    weight: u32,
    daily_limit: Option<String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    credentials: Option<BTreeMap<String, String>>,
    #[serde(default = "default_true")]
    enabled: bool,
}

/// `POST /octopus/admin/v1/channels` `{"code","kind",...}`: a channel added, or the one with
/// this code replaced (its credentials kept when the body has none).
pub async fn save_channel(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let body: ChannelBody = decode(&body)?;
    let input = ChannelInput {
        code: body.code,
        kind: body.kind,
        merchants: body.merchants,
        types: body.types,
        countries: body.countries,
        currencies: body.currencies,
        payments: body.payments,
        min: body.min,
        max: body.max,
        ttl: body.ttl,
        priority: body.priority,
        weight: body.weight,
        daily_limit: body.daily_limit,
        settings: body.settings,
        credentials: body.credentials,
        enabled: body.enabled,
    };
    Ok(success(
        channels::save_by(
            state.storage.as_ref(),
            &state.master_key,
            &admin.actor,
            &input,
            now_ms(),
        )
        .await?,
    ))
}

async fn channel_enabled(
    state: &AppState,
    admin: &Admin,
    code: &str,
    enabled: bool,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    Ok(success(
        channels::set_enabled_by(
            state.storage.as_ref(),
            Some(&state.master_key),
            &admin.actor,
            code,
            enabled,
            now_ms(),
        )
        .await?,
    ))
}

/// `POST /octopus/admin/v1/channels/{code}/disable`: out of routing (open orders finish).
pub async fn disable_channel(
    State(state): State<AppState>,
    admin: Admin,
    Path(code): Path<String>,
) -> Result<Json<Value>, Error> {
    channel_enabled(&state, &admin, &code, false).await
}

/// `POST /octopus/admin/v1/channels/{code}/enable`.
pub async fn enable_channel(
    State(state): State<AppState>,
    admin: Admin,
    Path(code): Path<String>,
) -> Result<Json<Value>, Error> {
    channel_enabled(&state, &admin, &code, true).await
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    channel: Option<String>,
}

/// `GET /octopus/admin/v1/accounts?channel=`: every own account (of one channel).
pub async fn list_accounts(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<AccountFilter>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(json!({
        "accounts": own::accounts(state.storage.as_ref(), filter.channel.as_deref()).await?
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AccountBody {
    channel: String,
    method: String,
    number: String,
    holder: String,
    currency: String,
    bank_code: Option<String>,
    promptpay_id: Option<String>,
    vpa: Option<String>,
    wallet: Option<String>,
    daily_limit: Option<String>,
    max_open: Option<u32>,
    #[serde(default = "default_true")]
    enabled: bool,
}

/// `POST /octopus/admin/v1/accounts` `{"channel","method","number","holder","currency",...}`:
/// a receiving account of a channel of kind `accounts`, answered with its `id`.
pub async fn add_account(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let body: AccountBody = decode(&body)?;
    let input = AccountInput {
        channel: body.channel,
        method: body.method,
        number: body.number,
        holder: body.holder,
        currency: body.currency,
        bank_code: body.bank_code,
        promptpay_id: body.promptpay_id,
        vpa: body.vpa,
        wallet: body.wallet,
        daily_limit: body.daily_limit,
        max_open: body.max_open,
        disabled: !body.enabled,
    };
    Ok(success(
        own::add_account_by(state.storage.as_ref(), &admin.actor, &input, now_ms()).await?,
    ))
}

async fn account_enabled(
    state: &AppState,
    admin: &Admin,
    id: &str,
    enabled: bool,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    Ok(success(
        own::set_account_enabled_by(state.storage.as_ref(), &admin.actor, id, enabled, now_ms())
            .await?,
    ))
}

/// `POST /octopus/admin/v1/accounts/{id}/disable`: out of routing (open orders finish).
pub async fn disable_account(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    account_enabled(&state, &admin, &id, false).await
}

/// `POST /octopus/admin/v1/accounts/{id}/enable`.
pub async fn enable_account(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    account_enabled(&state, &admin, &id, true).await
}

/// `GET /octopus/admin/v1/devices`: every device, its last heartbeat and whether it is online.
pub async fn list_devices(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(
        json!({"devices": own::devices(state.storage.as_ref(), now_ms()).await?}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewDevice {
    account: String,
}

/// `POST /octopus/admin/v1/devices` `{"account"}`: `{"device_id","secret","account"}`, the
/// secret shown this once.
pub async fn add_device(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let new: NewDevice = decode(&body)?;
    Ok(success(
        own::add_device_by(
            state.storage.as_ref(),
            &state.master_key,
            &admin.actor,
            &new.account,
            now_ms(),
        )
        .await?,
    ))
}

/// `POST /octopus/admin/v1/devices/{device_id}/revoke`: its requests refused from now on.
pub async fn revoke_device(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    Ok(success(
        own::revoke_device_by(state.storage.as_ref(), &admin.actor, &id, now_ms()).await?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Blocklists, velocity rules, review thresholds
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BlockFilter {
    pub merchant_uid: Option<String>,
    /// `true`: only the operator-wide entries.
    pub operator_wide: Option<bool>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// `GET /octopus/admin/v1/blocklist?merchant_uid=&operator_wide=&after=&limit=`: entries,
/// oldest first, a page at a time.
pub async fn list_blocks(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<BlockFilter>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    let storage = state.storage.as_ref();
    let scope = risk::block_scope(
        storage,
        filter.merchant_uid.as_deref(),
        filter.operator_wide.unwrap_or(false),
    )
    .await?;
    let found = risk::blocks(storage, scope, filter.after.as_deref(), filter.limit).await?;
    Ok(page("entries", found))
}

/// Whose blocklist entries an export holds.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BlockScope {
    pub merchant_uid: Option<String>,
    /// `true`: only the operator-wide entries.
    pub operator_wide: Option<bool>,
}

/// `GET /octopus/admin/v1/blocklist.csv?merchant_uid=&operator_wide=`: every entry of the
/// scope, oldest first (expired ones too, with their `expires_at`), streamed. A record, not
/// an import file: `import` takes `expires_in`, a duration.
pub async fn blocks_csv(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<BlockScope>,
) -> Result<axum::response::Response, Error> {
    admin.require(Permission::ReadSetup)?;
    let scope = risk::block_scope(
        state.storage.as_ref(),
        filter.merchant_uid.as_deref(),
        filter.operator_wide.unwrap_or(false),
    )
    .await?;
    const COLUMNS: &[&str] = &[
        "kind",
        "value",
        "reason",
        "merchant",
        "expires_at",
        "author",
        "created_at",
        "id",
    ];
    Ok(super::csv::paged(
        "blocklist.csv",
        &super::csv::header(COLUMNS),
        None,
        move |after: Option<String>| {
            let state = state.clone();
            async move {
                let found = risk::blocks(
                    state.storage.as_ref(),
                    scope,
                    after.as_deref(),
                    Some(EXPORT_PAGE),
                )
                .await?;
                let text = found
                    .items
                    .iter()
                    .map(|e| super::csv::json_line(e, COLUMNS))
                    .collect();
                Ok((text, found.next.map(Some)))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BlockBody {
    kind: String,
    value: String,
    merchant_uid: Option<String>,
    #[serde(default)]
    reason: String,
    expires_in: Option<String>,
}

/// `POST /octopus/admin/v1/blocklist` `{"kind","value","merchant_uid","reason","expires_in"}`:
/// an entry added (or the one of the same kind, value and scope replaced), the operator as
/// its author.
pub async fn add_block(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let body: BlockBody = decode(&body)?;
    let input = BlockInput {
        kind: body.kind,
        value: body.value,
        merchant_uid: body.merchant_uid,
        reason: body.reason,
        expires_in: body.expires_in,
    };
    Ok(success(
        risk::add_block_by(
            state.storage.as_ref(),
            &admin.actor,
            &admin.actor.name,
            &input,
            now_ms(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BlockKey {
    kind: String,
    value: String,
    merchant_uid: Option<String>,
}

/// `POST /octopus/admin/v1/blocklist/remove` `{"kind","value","merchant_uid"}`.
pub async fn remove_block(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let key: BlockKey = decode(&body)?;
    Ok(success(
        risk::remove_block_by(
            state.storage.as_ref(),
            &admin.actor,
            &key.kind,
            &key.value,
            key.merchant_uid.as_deref(),
            now_ms(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Import {
    csv: String,
}

/// `POST /octopus/admin/v1/blocklist/import` `{"csv":"kind,value,reason[,merchant][,expires_in]\n..."}`:
/// every line added, or none (a bad line named by its number).
pub async fn import_blocks(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let import: Import = decode(&body)?;
    let count = risk::import_by(
        state.storage.as_ref(),
        &admin.actor,
        &admin.actor.name,
        &import.csv,
        now_ms(),
    )
    .await?;
    Ok(success(json!({"imported": count})))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MerchantFilter {
    merchant_uid: Option<String>,
}

/// `GET /octopus/admin/v1/velocity?merchant_uid=`: every rule (of one merchant).
pub async fn list_rules(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<MerchantFilter>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(json!({
        "rules": risk::rules(state.storage.as_ref(), filter.merchant_uid.as_deref()).await?
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RuleBody {
    merchant_uid: String,
    subject: String,
    #[serde(rename = "type")]
    transaction_type: Option<String>,
    window: String,
    max_orders: Option<u32>,
    max_volume: Option<String>,
    currency: Option<String>,
}

/// `POST /octopus/admin/v1/velocity`
/// `{"merchant_uid","subject","type","window","max_orders","max_volume","currency"}`.
pub async fn add_rule(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let body: RuleBody = decode(&body)?;
    let input = RuleInput {
        merchant_uid: body.merchant_uid,
        subject: body.subject,
        transaction_type: body.transaction_type,
        window: body.window,
        max_orders: body.max_orders,
        max_volume: body.max_volume,
        currency: body.currency,
    };
    Ok(success(
        risk::add_rule_by(state.storage.as_ref(), &admin.actor, &input, now_ms()).await?,
    ))
}

/// `POST /octopus/admin/v1/velocity/{id}/remove`.
pub async fn remove_rule(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| Error::Invalid("id: not a velocity rule's id".into()))?;
    Ok(success(
        risk::remove_rule_by(state.storage.as_ref(), &admin.actor, id, now_ms()).await?,
    ))
}

/// `GET /octopus/admin/v1/review`: every payout review threshold.
pub async fn list_thresholds(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    Ok(success(
        json!({"thresholds": risk::thresholds(state.storage.as_ref()).await?}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ThresholdBody {
    merchant_uid: Option<String>,
    currency: String,
    above: String,
}

/// `POST /octopus/admin/v1/review` `{"currency","above","merchant_uid"}`: payouts above it
/// wait for review (a merchant's threshold replaces the operator-wide one).
pub async fn set_threshold(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let body: ThresholdBody = decode(&body)?;
    Ok(success(
        risk::set_threshold_by(
            state.storage.as_ref(),
            &admin.actor,
            body.merchant_uid.as_deref(),
            &body.currency,
            &body.above,
            now_ms(),
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ThresholdKey {
    merchant_uid: Option<String>,
    currency: String,
}

/// `POST /octopus/admin/v1/review/clear` `{"currency","merchant_uid"}`.
pub async fn clear_threshold(
    State(state): State<AppState>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let key: ThresholdKey = decode(&body)?;
    Ok(success(
        risk::clear_threshold_by(
            state.storage.as_ref(),
            &admin.actor,
            key.merchant_uid.as_deref(),
            &key.currency,
            now_ms(),
        )
        .await?,
    ))
}
