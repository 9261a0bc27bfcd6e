//! API keys in memory: the decrypted signing key of every API key seen, so a request costs
//! one HMAC and no database read. An unknown key is remembered as unknown for a few seconds,
//! so probing keys costs as little as using one (no timing difference that tells which keys
//! exist, and no database read per guess); a merchant created by the CLI while the server
//! runs works as soon as its key is first used (nobody has probed a fresh random key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use octopus_domain::secret_box::MasterKey;
use octopus_domain::signing::SigningKey;
use octopus_domain::ApiCredential;
use octopus_storage::ApiKeys;
use secrecy::ExposeSecret;

use crate::error::Error;

/// How long a key found unknown stays unknown without another database read.
const UNKNOWN_FOR: Duration = Duration::from_secs(5);
/// At most this many unknown keys are remembered (a flood of random keys cannot grow memory).
const MAX_UNKNOWN: usize = 10_000;

pub struct KeyRing {
    storage: Arc<dyn ApiKeys>,
    master_key: MasterKey,
    known: RwLock<HashMap<String, Arc<ApiCredential>>>,
    unknown: Mutex<HashMap<String, Instant>>,
    /// Verifies signatures for unknown keys, so they cost the same time as known ones.
    decoy: SigningKey,
}

impl KeyRing {
    pub fn new(storage: Arc<dyn ApiKeys>, master_key: MasterKey) -> Self {
        KeyRing {
            storage,
            master_key,
            known: RwLock::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
            decoy: SigningKey::new(b"octopus-decoy-key-for-unknown-api-keys"),
        }
    }

    /// The credential of an API key, if it exists and is active.
    pub async fn credential(&self, api_key: &str) -> Result<Option<Arc<ApiCredential>>, Error> {
        if let Some(found) = self.known.read().expect("key ring lock").get(api_key) {
            return Ok(Some(Arc::clone(found)));
        }
        if self.recently_unknown(api_key) {
            return Ok(None);
        }
        let Some(stored) = self.storage.api_key(api_key).await? else {
            self.remember_unknown(api_key);
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

    fn recently_unknown(&self, api_key: &str) -> bool {
        let unknown = self.unknown.lock().expect("key ring lock");
        unknown
            .get(api_key)
            .is_some_and(|since| since.elapsed() < UNKNOWN_FOR)
    }

    fn remember_unknown(&self, api_key: &str) {
        let mut unknown = self.unknown.lock().expect("key ring lock");
        if unknown.len() >= MAX_UNKNOWN {
            unknown.retain(|_, since| since.elapsed() < UNKNOWN_FOR);
            if unknown.len() >= MAX_UNKNOWN {
                unknown.clear();
            }
        }
        unknown.insert(api_key.to_string(), Instant::now());
    }

    pub fn decoy(&self) -> &SigningKey {
        &self.decoy
    }
}
