//! API keys in memory: the decrypted signing key of every API key seen, so a request costs
//! one HMAC and almost never a database read. An unknown key is remembered as unknown for a
//! few seconds, so probing keys costs as little as using one (no timing difference that tells
//! which keys exist, and no database read per guess); a merchant created by the CLI while the
//! server runs works as soon as its key is first used (nobody has probed a fresh random key).
//!
//! A known key is read again once it is older than [`FRESH_FOR`], so a revocation, an expiry
//! set by a rotation or a new IP allowlist — written by the CLI or another node — is in force
//! on every node within that time. The secret is opened again only if it changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use octopus_domain::secret_box::MasterKey;
use octopus_domain::signing::SigningKey;
use octopus_domain::{ApiCredential, Timestamp};
use octopus_storage::{ApiKeys, StoredApiKey};
use secrecy::ExposeSecret;

use crate::error::Error;

/// How long a known key is used as read before it is read again: revocations and rotations
/// made anywhere apply on every node within this (the BRIEF asks for 2 s).
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long a key found unknown stays unknown without another database read: as long as a
/// known key is used before it is read again, so the two cannot be told apart by timing.
const UNKNOWN_FOR: Duration = FRESH_FOR;
/// At most this many unknown keys are remembered (a flood of random keys cannot grow memory).
const MAX_UNKNOWN: usize = 10_000;
/// A key's last use is written at most this often by one node.
const USE_WRITTEN_EVERY_MS: i64 = 60_000;

struct Known {
    credential: Arc<ApiCredential>,
    sealed_secret: String,
    read_at: Instant,
    /// When this node last wrote the key's last use.
    use_written_at: Option<Timestamp>,
}

pub struct KeyRing {
    storage: Arc<dyn ApiKeys>,
    master_key: MasterKey,
    known: RwLock<HashMap<String, Known>>,
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

    /// The credential of an API key that may sign requests at `now`: it exists, is not
    /// revoked and has not expired.
    pub async fn credential(
        &self,
        api_key: &str,
        now: Timestamp,
    ) -> Result<Option<Arc<ApiCredential>>, Error> {
        Ok(self.signer(api_key).await?.filter(|c| c.policy.usable(now)))
    }

    /// The credential of an API key, revoked or expired too: callbacks of the orders a key
    /// created are signed with its secret whatever became of it (the merchant holds that
    /// secret; a callback is no less trustworthy for it).
    pub async fn signer(&self, api_key: &str) -> Result<Option<Arc<ApiCredential>>, Error> {
        let cached = self
            .known
            .read()
            .expect("key ring lock")
            .get(api_key)
            .map(|k| (Arc::clone(&k.credential), k.read_at.elapsed() < FRESH_FOR));
        let credential = match cached {
            Some((credential, true)) => credential,
            _ => {
                if cached.is_none() && self.recently_unknown(api_key) {
                    return Ok(None);
                }
                match self.read(api_key).await? {
                    Some(credential) => credential,
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(credential))
    }

    /// Reads a key from storage and keeps what it says (forgets it when it is gone).
    async fn read(&self, api_key: &str) -> Result<Option<Arc<ApiCredential>>, Error> {
        let Some(stored) = self.storage.api_key(api_key).await? else {
            self.known.write().expect("key ring lock").remove(api_key);
            self.remember_unknown(api_key);
            return Ok(None);
        };
        let reusable = self
            .known
            .read()
            .expect("key ring lock")
            .get(api_key)
            .filter(|k| k.sealed_secret == stored.sealed_secret)
            .map(|k| (k.credential.signing_key.clone(), k.use_written_at));
        let (signing_key, use_written_at) = match reusable {
            Some(found) => found,
            None => (self.open(&stored)?, None),
        };
        let credential = Arc::new(ApiCredential {
            api_key: stored.api_key.clone(),
            policy: stored.policy(),
            merchant: stored.merchant,
            signing_key,
        });
        self.known.write().expect("key ring lock").insert(
            api_key.to_string(),
            Known {
                credential: Arc::clone(&credential),
                sealed_secret: stored.sealed_secret,
                read_at: Instant::now(),
                use_written_at,
            },
        );
        Ok(Some(credential))
    }

    fn open(&self, stored: &StoredApiKey) -> Result<SigningKey, Error> {
        let secret = self
            .master_key
            .open(&stored.sealed_secret)
            .map_err(|e| Error::Internal(format!("API key {}: {e}", stored.api_key)))?;
        Ok(SigningKey::new(secret.expose_secret().as_bytes()))
    }

    /// Records that a key signed a request: written to storage at most once a minute per key
    /// by this node, in the background (a failure to write it never fails the request).
    pub fn used(&self, api_key: &str, now: Timestamp) {
        {
            let mut known = self.known.write().expect("key ring lock");
            let Some(k) = known.get_mut(api_key) else {
                return;
            };
            if k.use_written_at
                .is_some_and(|at| now - at < USE_WRITTEN_EVERY_MS)
            {
                return;
            }
            k.use_written_at = Some(now);
        }
        let storage = Arc::clone(&self.storage);
        let api_key = api_key.to_string();
        tokio::spawn(async move {
            if let Err(e) = storage.api_key_used(&api_key, now).await {
                tracing::warn!(error = %e, "recording an API key's last use failed");
            }
        });
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
