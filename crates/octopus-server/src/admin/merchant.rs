//! The merchant console's API (`/octopus/admin/v1/me/...`): what a merchant user — invited by
//! an operator, signed in like one (password, TOTP) — may see and do, always of their own
//! merchant and nothing else: its orders (search, CSV, detail with callback attempts, resend
//! a callback), its balances and entries (both books, CSV), its API keys (create — the secret
//! shown once —, revoke, rotate, IP allowlist). Every route takes a [`MerchantUser`], whose
//! merchant comes from the session, never from the request: another merchant's order or key
//! is answered as not found. Every change is in the audit log.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::Json;
use octopus_domain::{Merchant, Order};
use octopus_storage::StoredApiKey;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Body, Params};
use super::session::SignedIn;
use super::{money, orders};
use crate::clock::now_ms;
use crate::error::Error;
use crate::services::merchants;
use crate::services::operators::Actor;
use crate::state::AppState;

/// A signed-in merchant user, with its merchant (the live book).
#[derive(Clone)]
pub struct MerchantUser {
    pub actor: Actor,
    pub merchant: Merchant,
    pub csrf: String,
    pub email: String,
}

impl FromRequestParts<AppState> for MerchantUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        let o = &signed_in.operator;
        if o.merchant_uid.is_empty() {
            return Err(Error::Forbidden("This is the merchant console's API"));
        }
        if let Some(why) = signed_in.held_back() {
            return Err(Error::Forbidden(why));
        }
        let merchant = state
            .storage
            .merchant_by_uid(&o.merchant_uid)
            .await?
            .ok_or(Error::Forbidden("Your merchant is gone"))?;
        Ok(MerchantUser {
            actor: Actor {
                name: o.email.clone(),
                role: format!("merchant:{}", merchant.uid),
                ip: signed_in.ip.to_string(),
            },
            csrf: signed_in.session.csrf_token.clone(),
            email: o.email.clone(),
            merchant,
        })
    }
}

fn success(data: impl serde::Serialize) -> Json<Value> {
    Json(json!({"result": "success", "data": data}))
}

/// `GET /octopus/admin/v1/me`: the merchant user and its merchant.
pub async fn me(user: MerchantUser) -> Json<Value> {
    success(json!({
        "email": user.email,
        "merchant_uid": user.merchant.uid,
        "merchant_name": user.merchant.name,
        "csrf_token": user.csrf,
    }))
}

/// `GET /octopus/admin/v1/me/orders?...` (the operators' filters but the merchant): the
/// merchant's orders, newest first, a page at a time.
pub async fn search(
    State(state): State<AppState>,
    user: MerchantUser,
    Params(mut filter): Params<orders::OrderFilter>,
) -> Result<Json<Value>, Error> {
    filter.merchant_uid = Some(user.merchant.uid.clone());
    Ok(success(orders::found_page(&state, &filter.query()?).await?))
}

/// `GET /octopus/admin/v1/me/orders.csv?...`: every order of the merchant the filters select.
pub async fn export(
    State(state): State<AppState>,
    user: MerchantUser,
    Params(mut filter): Params<orders::OrderFilter>,
) -> Result<Response, Error> {
    filter.merchant_uid = Some(user.merchant.uid.clone());
    filter.limit = Some(orders::MAX_PAGE);
    Ok(orders::exported(state, filter.query()?))
}

/// The merchant's order `payment_uid`; another merchant's is not found.
async fn own_order(
    state: &AppState,
    user: &MerchantUser,
    payment_uid: &str,
) -> Result<Order, Error> {
    state
        .storage
        .order_by_payment_uid(payment_uid)
        .await?
        .filter(|o| o.merchant_uid == user.merchant.uid)
        .ok_or(Error::NotFound("Order not found"))
}

/// `GET /octopus/admin/v1/me/orders/{payment_uid}`: the order, its history, its callbacks with
/// every attempt, its ledger entries.
pub async fn detail(
    State(state): State<AppState>,
    user: MerchantUser,
    Path(payment_uid): Path<String>,
) -> Result<Json<Value>, Error> {
    let order = own_order(&state, &user, &payment_uid).await?;
    let mut described = orders::described(&state, &order, true).await?;
    // The upstream's exchanges and the routing are the operator's business.
    described["upstream"] = Value::Array(Vec::new());
    if let Some(o) = described["order"].as_object_mut() {
        for internal in ["distribute_rules", "account", "channel", "ip"] {
            o.remove(internal);
        }
    }
    Ok(success(described))
}

/// `POST /octopus/admin/v1/me/orders/{payment_uid}/resend-callback`.
pub async fn resend_callback(
    State(state): State<AppState>,
    user: MerchantUser,
    Path(payment_uid): Path<String>,
) -> Result<Json<Value>, Error> {
    let order = own_order(&state, &user, &payment_uid).await?;
    Ok(success(orders::resent(&state, &user.actor, &order).await?))
}

/// Which book of the merchant, and which entries.
#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Books {
    pub test: Option<bool>,
    pub currency: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

async fn book(
    state: &AppState,
    user: &MerchantUser,
    test: Option<bool>,
) -> Result<Merchant, Error> {
    if test == Some(true) {
        Ok(state.storage.test_book(user.merchant.id, now_ms()).await?)
    } else {
        Ok(user.merchant.clone())
    }
}

fn books_of(user: &MerchantUser, b: &Books) -> money::Books {
    money::Books {
        merchant_uid: user.merchant.uid.clone(),
        test: b.test,
        currency: b.currency.clone(),
        before: b.before,
        limit: b.limit,
    }
}

/// `GET /octopus/admin/v1/me/balances?test=`: available, held and total per currency.
pub async fn balances(
    State(state): State<AppState>,
    user: MerchantUser,
    Params(b): Params<Books>,
) -> Result<Json<Value>, Error> {
    let m = book(&state, &user, b.test).await?;
    Ok(success(money::balances_of(&state, &m).await?))
}

/// `GET /octopus/admin/v1/me/entries?test=&currency=&before=&limit=`.
pub async fn entries(
    State(state): State<AppState>,
    user: MerchantUser,
    Params(b): Params<Books>,
) -> Result<Json<Value>, Error> {
    let m = book(&state, &user, b.test).await?;
    Ok(success(
        money::entries_page(&state, &m, &books_of(&user, &b)).await?,
    ))
}

/// `GET /octopus/admin/v1/me/entries.csv?test=&currency=`: every entry, streamed.
pub async fn entries_csv(
    State(state): State<AppState>,
    user: MerchantUser,
    Params(b): Params<Books>,
) -> Result<Response, Error> {
    let m = book(&state, &user, b.test).await?;
    let currency = money::currency(&b.currency)?;
    Ok(money::entries_export(state, m, currency))
}

/// `GET /octopus/admin/v1/me/keys`: the merchant's live and test keys.
pub async fn keys(State(state): State<AppState>, user: MerchantUser) -> Result<Json<Value>, Error> {
    Ok(success(
        merchants::keys(state.storage.as_ref(), &user.merchant.uid).await?,
    ))
}

/// The merchant's key `api_key` (revoked or not); another merchant's is not found.
async fn own_key(
    state: &AppState,
    user: &MerchantUser,
    api_key: &str,
) -> Result<StoredApiKey, Error> {
    state
        .storage
        .api_key(api_key)
        .await?
        .filter(|k| k.merchant.owner_id == user.merchant.id)
        .ok_or(Error::NotFound("API key not found"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    /// `live` or `test`.
    #[serde(default)]
    mode: String,
    #[serde(default)]
    label: String,
}

/// `POST /octopus/admin/v1/me/keys` `{"mode","label"}`: a new key; its secret is in this
/// answer only.
pub async fn create_key(
    State(state): State<AppState>,
    user: MerchantUser,
    Body(new): Body<NewKey>,
) -> Result<Json<Value>, Error> {
    let test = match new.mode.trim() {
        "live" | "" => false,
        "test" => true,
        _ => return Err(Error::Invalid("mode: live or test".into())),
    };
    let request = merchants::KeyRequest {
        test,
        label: new.label,
        ..Default::default()
    };
    let created = merchants::create_key_by(
        state.storage.as_ref(),
        &state.master_key,
        &user.actor,
        &user.merchant.uid,
        &request,
        now_ms(),
    )
    .await?;
    Ok(success(created.key))
}

/// `POST /octopus/admin/v1/me/keys/{api_key}/revoke`: refused from now on (within two seconds
/// on every node).
pub async fn revoke_key(
    State(state): State<AppState>,
    user: MerchantUser,
    Path(api_key): Path<String>,
) -> Result<Json<Value>, Error> {
    let key = own_key(&state, &user, &api_key).await?;
    let storage = state.storage.as_ref();
    let after = merchants::revoke_key(storage, &user.actor, &key.api_key, now_ms()).await?;
    Ok(success(after))
}

/// `POST /octopus/admin/v1/me/keys/{api_key}/rotate`: a new key with the same label and
/// allowlist (its secret in this answer only); the old one keeps working for a day.
pub async fn rotate_key(
    State(state): State<AppState>,
    user: MerchantUser,
    Path(api_key): Path<String>,
) -> Result<Json<Value>, Error> {
    let key = own_key(&state, &user, &api_key).await?;
    let created = merchants::rotate_key_by(
        state.storage.as_ref(),
        &state.master_key,
        &user.actor,
        &key.api_key,
        "24h",
        now_ms(),
    )
    .await?;
    Ok(success(created.key))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Allowlist {
    #[serde(default)]
    allowed_ips: String,
}

/// `POST /octopus/admin/v1/me/keys/{api_key}/allowlist` `{"allowed_ips"}`: the addresses and
/// networks the key is accepted from (empty: any).
pub async fn allowlist(
    State(state): State<AppState>,
    user: MerchantUser,
    Path(api_key): Path<String>,
    Body(list): Body<Allowlist>,
) -> Result<Json<Value>, Error> {
    let key = own_key(&state, &user, &api_key).await?;
    let after = merchants::set_allowlist(
        state.storage.as_ref(),
        &user.actor,
        &key.api_key,
        &list.allowed_ips,
        now_ms(),
    )
    .await?;
    Ok(success(after))
}
