//! Creating merchants with their first API key. The secret is shown once, to the operator,
//! and stored only sealed by the master key.

use octopus_domain::ids::{new_api_key, new_api_secret, new_merchant_uid};
use octopus_domain::secret_box::MasterKey;
use octopus_storage::{Merchants, NewMerchant, StorageError};
use serde::Serialize;

use crate::clock::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("{0}")]
    InvalidName(#[from] octopus_domain::merchant::NameError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What the operator hands to the merchant.
#[derive(Debug, Clone, Serialize)]
pub struct MerchantCredentials {
    pub merchant_uid: String,
    pub merchant_name: String,
    pub api_key: String,
    pub api_secret: String,
}

pub async fn create(
    storage: &dyn Merchants,
    master_key: &MasterKey,
    name: &str,
) -> Result<MerchantCredentials, MerchantError> {
    let name = octopus_domain::merchant::parse_name(name)?;
    let api_secret = new_api_secret();
    let api_key = new_api_key();
    let merchant = storage
        .create_merchant(NewMerchant {
            uid: new_merchant_uid(),
            name,
            api_key: api_key.clone(),
            sealed_secret: master_key.seal(&api_secret),
            created_at: now_ms(),
        })
        .await?;
    Ok(MerchantCredentials {
        merchant_uid: merchant.uid,
        merchant_name: merchant.name,
        api_key,
        api_secret,
    })
}
