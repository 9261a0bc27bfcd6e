//! Merchants and their API keys: creating a merchant with a live and a test key, adding keys
//! to either book, and rotating a key (a new one, the old one valid until a chosen expiry).
//! A secret is shown once, to the operator, and stored only sealed by the master key.
//!
//! The operator's changes — a merchant created, a key created, revoked, rotated or given an
//! IP allowlist — are the `*_by` functions and [`revoke_key`] / [`set_allowlist`]: the CLI
//! and the admin API call them, each checks everything before it writes and records the
//! change in the audit log with the key before and after (never a secret). [`merchant_view`]
//! and [`key_view`] are how both show them.

use ipnet::IpNet;
use octopus_domain::ids::{new_api_key, new_api_key_for, new_api_secret, new_merchant_uid};
use octopus_domain::merchant::{format_allowlist, parse_allowlist};
use octopus_domain::secret_box::MasterKey;
use octopus_domain::{Merchant, Mode, Timestamp};
use octopus_storage::{
    ApiKeys, Merchants, NewApiKey, NewMerchant, Operators, StorageError, StoredApiKey,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::{now_ms, rfc3339};
use crate::services::operators::Actor;
use crate::services::setup::{self, invalid, not_found, Missing, Page, SetupError};

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("{0}")]
    InvalidName(#[from] octopus_domain::merchant::NameError),
    #[error("the label must be at most {MAX_LABEL_CHARS} visible characters")]
    InvalidLabel,
    #[error("no such API key (or it is revoked or expired)")]
    NoSuchKey,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Most characters of a key's label.
pub const MAX_LABEL_CHARS: usize = 64;

/// What the operator hands to the merchant: its uid, and a live and a test key.
#[derive(Debug, Clone, Serialize)]
pub struct MerchantCredentials {
    pub merchant_uid: String,
    pub merchant_name: String,
    /// The live key: real money.
    pub api_key: String,
    pub api_secret: String,
    /// The test key: sandbox channels only, balances apart from live money.
    pub test_api_key: String,
    pub test_api_secret: String,
}

/// A new key as `octopus key create` prints it (the BRIEF's contract).
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub api_key: String,
    pub api_secret: String,
    pub mode: &'static str,
}

/// Creates a merchant with a live key and a test key.
pub async fn create<S>(
    storage: &S,
    master_key: &MasterKey,
    name: &str,
) -> Result<MerchantCredentials, MerchantError>
where
    S: Merchants + ApiKeys + ?Sized,
{
    let name = octopus_domain::merchant::parse_name(name)?;
    let api_secret = new_api_secret();
    let api_key = new_api_key();
    let now = now_ms();
    let merchant = storage
        .create_merchant(NewMerchant {
            uid: new_merchant_uid(),
            name,
            api_key: api_key.clone(),
            sealed_secret: master_key.seal(&api_secret),
            created_at: now,
        })
        .await?;
    let test = add_key(storage, master_key, &merchant, Mode::Test, "", None, now).await?;
    Ok(MerchantCredentials {
        merchant_uid: merchant.uid,
        merchant_name: merchant.name,
        api_key,
        api_secret,
        test_api_key: test.api_key,
        test_api_secret: test.api_secret,
    })
}

/// A key's label as stored: trimmed, at most [`MAX_LABEL_CHARS`], nothing invisible.
pub fn parse_label(label: &str) -> Result<String, MerchantError> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS
        || label.chars().any(char::is_control)
        || octopus_domain::invisible::first_invisible(label).is_some()
    {
        return Err(MerchantError::InvalidLabel);
    }
    Ok(label.to_string())
}

/// Adds a key to the live merchant `merchant`'s live or test book (the test book is made the
/// first time it is needed), usable from any address.
pub async fn add_key<S>(
    storage: &S,
    master_key: &MasterKey,
    merchant: &Merchant,
    mode: Mode,
    label: &str,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<NewKey, MerchantError>
where
    S: Merchants + ApiKeys + ?Sized,
{
    let book = KeyBook { merchant, mode };
    add_key_from(
        storage,
        master_key,
        book,
        label,
        expires_at,
        Vec::new(),
        now,
    )
    .await
}

/// Which book of which merchant a key is added to.
struct KeyBook<'a> {
    merchant: &'a Merchant,
    mode: Mode,
}

/// [`add_key`], usable from `allowed_ips` only (empty: any address).
async fn add_key_from<S>(
    storage: &S,
    master_key: &MasterKey,
    book: KeyBook<'_>,
    label: &str,
    expires_at: Option<Timestamp>,
    allowed_ips: Vec<IpNet>,
    now: Timestamp,
) -> Result<NewKey, MerchantError>
where
    S: Merchants + ApiKeys + ?Sized,
{
    let KeyBook { merchant, mode } = book;
    let label = parse_label(label)?;
    let book = match mode {
        Mode::Live => merchant.owner_id,
        Mode::Test => storage.test_book(merchant.owner_id, now).await?.id,
    };
    let api_key = new_api_key_for(mode);
    let api_secret = new_api_secret();
    storage
        .add_api_key(NewApiKey {
            merchant_id: book,
            api_key: api_key.clone(),
            sealed_secret: master_key.seal(&api_secret),
            label,
            expires_at,
            allowed_ips,
            created_at: now,
        })
        .await?;
    Ok(NewKey {
        api_key,
        api_secret,
        mode: mode.as_str(),
    })
}

/// Rotates a key: a new key of the same book, label and IP allowlist, and the old key valid
/// until `old_until` (then only the new one works).
pub async fn rotate_key<S>(
    storage: &S,
    master_key: &MasterKey,
    api_key: &str,
    old_until: Timestamp,
    now: Timestamp,
) -> Result<NewKey, MerchantError>
where
    S: Merchants + ApiKeys + ?Sized,
{
    let old = storage
        .api_key(api_key)
        .await?
        .filter(|k| k.policy().usable(now))
        .ok_or(MerchantError::NoSuchKey)?;
    let mode = old.merchant.mode;
    let new_key = new_api_key_for(mode);
    let api_secret = new_api_secret();
    storage
        .add_api_key(NewApiKey {
            merchant_id: old.merchant.id,
            api_key: new_key.clone(),
            sealed_secret: master_key.seal(&api_secret),
            label: old.label.clone(),
            expires_at: None,
            allowed_ips: old.allowed_ips.clone(),
            created_at: now,
        })
        .await?;
    // An old key that expires sooner already keeps its sooner expiry.
    let until = old.expires_at.map_or(old_until, |at| at.min(old_until));
    if !storage.set_api_key_expiry(api_key, Some(until)).await? {
        return Err(MerchantError::NoSuchKey);
    }
    Ok(NewKey {
        api_key: new_key,
        api_secret,
        mode: mode.as_str(),
    })
}

/// A merchant as the operator's lists show it.
pub fn merchant_view(m: &Merchant) -> Value {
    json!({
        "merchant_uid": m.uid,
        "merchant_name": m.name,
        "created_at": rfc3339(m.created_at),
    })
}

/// An API key as the operator is shown it (never its secret).
pub fn key_view(k: &StoredApiKey) -> Value {
    json!({
        "api_key": k.api_key,
        "merchant_uid": k.merchant.uid,
        "mode": k.merchant.mode.as_str(),
        "label": k.label,
        "created_at": rfc3339(k.created_at),
        "expires_at": k.expires_at.map(rfc3339),
        "last_used_at": k.last_used_at.map(rfc3339),
        "revoked_at": k.revoked_at.map(rfc3339),
        "allowed_ips": format_allowlist(&k.allowed_ips),
    })
}

/// [`create`], by an operator: audited as `merchant.create` (the merchant, not its secrets).
pub async fn create_by<S>(
    storage: &S,
    master_key: &MasterKey,
    actor: &Actor,
    name: &str,
) -> Result<MerchantCredentials, SetupError>
where
    S: Merchants + ApiKeys + Operators + ?Sized,
{
    let created = create(storage, master_key, name).await?;
    let merchant = setup::merchant(storage, &created.merchant_uid).await?;
    let mut after = merchant_view(&merchant);
    after["api_keys"] = json!([created.api_key, created.test_api_key]);
    setup::audit(
        storage,
        actor,
        "merchant.create",
        &merchant.uid,
        &Value::Null,
        &after,
        now_ms(),
    )
    .await?;
    Ok(created)
}

/// Disables (or enables again) the merchant `uid`: every key of its live and test books is
/// refused as if revoked (within two seconds on every node, as a revocation), while its
/// orders, balances and callbacks go on; audited as `merchant.disable` / `merchant.enable`.
pub async fn set_disabled_by<S>(
    storage: &S,
    actor: &Actor,
    uid: &str,
    disabled: bool,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Merchants + Operators + ?Sized,
{
    let m = setup::merchant(storage, uid).await?;
    let state = |disabled: bool| {
        let mut v = merchant_view(&m);
        v["disabled"] = json!(disabled);
        v
    };
    let was = storage.merchant_disabled(&m.uid).await?.unwrap_or(false);
    storage.set_merchant_disabled(&m.uid, disabled, now).await?;
    let action = if disabled {
        "merchant.disable"
    } else {
        "merchant.enable"
    };
    let after = state(disabled);
    setup::audit(storage, actor, action, &m.uid, &state(was), &after, now).await?;
    Ok(after)
}

/// A page of the live merchants, oldest first (`after`: the `next` of the page before).
pub async fn list<S: Merchants + ?Sized>(
    storage: &S,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<Page, SetupError> {
    let limit = setup::page_size(limit)?;
    let found = storage.merchants(setup::cursor(after)?, limit).await?;
    Ok(Page::of(found, limit, |m| m.id, merchant_view))
}

/// A merchant's keys, live and test, newest first.
pub async fn keys<S: Merchants + ApiKeys + ?Sized>(
    storage: &S,
    uid: &str,
) -> Result<Vec<Value>, SetupError> {
    let m = setup::merchant(storage, uid).await?;
    Ok(storage
        .api_keys_of(m.id)
        .await?
        .iter()
        .map(key_view)
        .collect())
}

/// A key the operator asks for.
#[derive(Debug, Clone, Default)]
pub struct KeyRequest {
    /// A test key: sandbox channels only, balances apart from live money.
    pub test: bool,
    pub label: String,
    /// The key stops working after this long (`30d`); none: it does not.
    pub expires_in: Option<String>,
    /// Addresses or CIDRs, separated by commas or spaces; empty: any address.
    pub allowed_ips: String,
}

/// A key just made: what the merchant is handed (the secret, this once) and how the key is
/// shown from now on.
pub struct CreatedKey {
    pub key: NewKey,
    pub view: Value,
}

async fn stored_key<S: ApiKeys + ?Sized>(
    storage: &S,
    api_key: &str,
) -> Result<StoredApiKey, SetupError> {
    let api_key = setup::named(Missing::ApiKey, api_key)?;
    storage
        .api_key(api_key)
        .await?
        .ok_or_else(|| not_found(Missing::ApiKey, api_key))
}

/// Adds a live or test key to the merchant `uid` (everything checked before anything is
/// written); audited as `key.create`.
pub async fn create_key_by<S>(
    storage: &S,
    master_key: &MasterKey,
    actor: &Actor,
    uid: &str,
    request: &KeyRequest,
    now: Timestamp,
) -> Result<CreatedKey, SetupError>
where
    S: Merchants + ApiKeys + Operators + ?Sized,
{
    let m = setup::merchant(storage, uid).await?;
    let label = parse_label(&request.label)?;
    let allowed = parse_allowlist(&request.allowed_ips).map_err(|e| invalid("allowed_ips", e))?;
    let until = setup::expiry("expires_in", request.expires_in.as_deref(), now)?;
    let mode = if request.test { Mode::Test } else { Mode::Live };
    let book = KeyBook { merchant: &m, mode };
    let key = add_key_from(storage, master_key, book, &label, until, allowed, now).await?;
    let view = key_view(&stored_key(storage, &key.api_key).await?);
    setup::audit(
        storage,
        actor,
        "key.create",
        &key.api_key,
        &Value::Null,
        &view,
        now,
    )
    .await?;
    Ok(CreatedKey { key, view })
}

/// Revokes a key (every node refuses it within 2 s); audited as `key.revoke`. A key revoked
/// before is a conflict.
pub async fn revoke_key<S>(
    storage: &S,
    actor: &Actor,
    api_key: &str,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: ApiKeys + Operators + ?Sized,
{
    let before = stored_key(storage, api_key).await?;
    if before.revoked_at.is_some() || !storage.revoke_api_key(&before.api_key, now).await? {
        return Err(SetupError::Conflict(format!(
            "the API key {} is revoked already",
            before.api_key
        )));
    }
    let after = key_view(&stored_key(storage, api_key).await?);
    setup::audit(
        storage,
        actor,
        "key.revoke",
        &before.api_key,
        &key_view(&before),
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// Rotates a key ([`rotate_key`]): the old one stays valid for `expires_in` (`24h`); audited
/// as `key.rotate` with the old key before, and the old and the new key after.
pub async fn rotate_key_by<S>(
    storage: &S,
    master_key: &MasterKey,
    actor: &Actor,
    api_key: &str,
    expires_in: &str,
    now: Timestamp,
) -> Result<CreatedKey, SetupError>
where
    S: Merchants + ApiKeys + Operators + ?Sized,
{
    let until = setup::expiry("expires_in", Some(expires_in), now)?
        .ok_or_else(|| invalid("expires_in", "how long the old key stays valid (e.g. 24h)"))?;
    let before = stored_key(storage, api_key).await?;
    if !before.policy().usable(now) {
        return Err(SetupError::Conflict(format!(
            "the API key {} is revoked or expired",
            before.api_key
        )));
    }
    let key = rotate_key(storage, master_key, &before.api_key, until, now).await?;
    let view = key_view(&stored_key(storage, &key.api_key).await?);
    let old = key_view(&stored_key(storage, &before.api_key).await?);
    setup::audit(
        storage,
        actor,
        "key.rotate",
        &before.api_key,
        &key_view(&before),
        &json!({"old": old, "new": view}),
        now,
    )
    .await?;
    Ok(CreatedKey { key, view })
}

/// Replaces a key's IP allowlist (addresses or CIDRs; empty: any address); audited as
/// `key.allow`.
pub async fn set_allowlist<S>(
    storage: &S,
    actor: &Actor,
    api_key: &str,
    allowed_ips: &str,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: ApiKeys + Operators + ?Sized,
{
    let allowed = parse_allowlist(allowed_ips).map_err(|e| invalid("allowed_ips", e))?;
    let before = stored_key(storage, api_key).await?;
    if before.revoked_at.is_some() {
        return Err(SetupError::Conflict(format!(
            "the API key {} is revoked",
            before.api_key
        )));
    }
    if !storage
        .set_api_key_allowlist(&before.api_key, &allowed)
        .await?
    {
        return Err(not_found(Missing::ApiKey, &before.api_key));
    }
    let after = key_view(&stored_key(storage, &before.api_key).await?);
    setup::audit(
        storage,
        actor,
        "key.allow",
        &before.api_key,
        &key_view(&before),
        &after,
        now,
    )
    .await?;
    Ok(after)
}
