//! Merchants and their API keys: creating a merchant with a live and a test key, adding keys
//! to either book, and rotating a key (a new one, the old one valid until a chosen expiry).
//! A secret is shown once, to the operator, and stored only sealed by the master key.

use octopus_domain::ids::{new_api_key, new_api_key_for, new_api_secret, new_merchant_uid};
use octopus_domain::secret_box::MasterKey;
use octopus_domain::{Merchant, Mode, Timestamp};
use octopus_storage::{ApiKeys, Merchants, NewApiKey, NewMerchant, StorageError};
use serde::Serialize;

use crate::clock::now_ms;

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
/// first time it is needed).
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
            allowed_ips: Vec::new(),
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
