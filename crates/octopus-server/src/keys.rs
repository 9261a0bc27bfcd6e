//! API keys in memory: the decrypted signing key of every API key seen, so a request costs
//! one HMAC and no database read. Unknown keys are looked up each time (a merchant created by
//! the CLI while the server runs works at once) and are never cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use octopus_domain::secret_box::MasterKey;
use octopus_domain::signing::SigningKey;
use octopus_domain::ApiCredential;
use octopus_storage::Storage;
use secrecy::ExposeSecret;

use crate::error::Error;

pub struct KeyRing {
    storage: Arc<dyn Storage>,
    master_key: MasterKey,
    known: RwLock<HashMap<String, Arc<ApiCredential>>>,
    /// Verifies signatures for unknown keys, so they cost the same time as known ones.
    decoy: SigningKey,
}

impl KeyRing {
    pub fn new(storage: Arc<dyn Storage>, master_key: MasterKey) -> Self {
        KeyRing {
            storage,
            master_key,
            known: RwLock::new(HashMap::new()),
            decoy: SigningKey::new(b"octopus-decoy-key-for-unknown-api-keys"),
        }
    }

    /// The credential of an API key, if it exists and is active.
    pub async fn credential(&self, api_key: &str) -> Result<Option<Arc<ApiCredential>>, Error> {
        if let Some(found) = self.known.read().expect("key ring lock").get(api_key) {
            return Ok(Some(Arc::clone(found)));
        }
        let Some(stored) = self.storage.api_key(api_key).await? else {
            return Ok(None);
        };
        let secret = self
            .master_key
            .open(&stored.sealed_secret)
            .map_err(|e| Error::Internal(format!("API key {api_key}: {e}")))?;
        let credential = Arc::new(ApiCredential {
            api_key: stored.api_key,
            merchant: stored.merchant,
            signing_key: SigningKey::new(secret.expose_secret().as_bytes()),
        });
        self.known
            .write()
            .expect("key ring lock")
            .insert(api_key.to_string(), Arc::clone(&credential));
        Ok(Some(credential))
    }

    pub fn decoy(&self) -> &SigningKey {
        &self.decoy
    }
}
