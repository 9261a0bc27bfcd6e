//! Operators as the CLI (and, later, the admin API) manages them: creating one with a one-time
//! password, listing, disabling and resetting them. Every change is written to the audit log
//! with who did it. Passwords are hashed with Argon2id (PHC strings, a random salt each); the
//! one-time password is shown once and must be changed at the first sign-in.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use octopus_domain::operator::{self, OperatorError, Role};
use octopus_domain::Timestamp;
use octopus_storage::{AdminToken, AuditEntry, NewOperator, Operator, Operators, StorageError};
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::clock::rfc3339;

#[derive(Debug, thiserror::Error)]
pub enum OperatorServiceError {
    #[error("{0}")]
    Invalid(#[from] OperatorError),
    #[error("no operator {0}")]
    NoSuchOperator(String),
    #[error("no admin token {0}")]
    NoSuchToken(String),
    #[error("no merchant with uid {0}")]
    NoSuchMerchant(String),
    #[error("merchant users are invited to their merchant (operator invite --merchant)")]
    MerchantRole,
    #[error("a token name is 1 to 64 letters, digits, '-', '_' or '.'")]
    TokenName,
    #[error("the password could not be hashed")]
    Hashing,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Who acts, for the audit log: an operator signed in, or `cli` on the database.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: String,
    pub ip: String,
}

impl Actor {
    /// The command line on the database host (whoever can run it can do everything).
    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            role: Role::Admin.as_str().into(),
            ip: String::new(),
        }
    }
}

/// What `operator create` and `operator reset` print: the sign-in, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct OneTimeSignIn {
    pub email: String,
    pub role: &'static str,
    /// To be changed at the first sign-in.
    pub password: String,
}

/// An operator as listed (never its hash or TOTP secret).
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    pub email: String,
    pub role: &'static str,
    /// A merchant user's merchant (empty for an operator).
    pub merchant_uid: String,
    pub disabled: bool,
    pub must_change_password: bool,
    pub totp_enrolled: bool,
    pub created_at: Timestamp,
}

impl From<&Operator> for OperatorView {
    fn from(o: &Operator) -> Self {
        OperatorView {
            email: o.email.clone(),
            role: o.role.as_str(),
            merchant_uid: o.merchant_uid.clone(),
            disabled: o.disabled,
            must_change_password: o.must_change_password,
            totp_enrolled: !o.totp_secret.is_empty(),
            created_at: o.created_at,
        }
    }
}

/// A line of the audit log as the CLI prints it and the admin API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub role: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: e.id,
            at: rfc3339(e.at),
            actor: e.actor,
            role: e.role,
            ip: e.ip,
            action: e.action,
            target: e.target,
            before: e.before,
            after: e.after,
        }
    }
}

/// An admin token as listed (never the token or its hash).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub name: String,
    pub role: &'static str,
    pub created_by: String,
    pub created_at: String,
    pub revoked: bool,
    pub last_used_at: Option<String>,
}

impl From<&AdminToken> for TokenView {
    fn from(t: &AdminToken) -> Self {
        TokenView {
            name: t.name.clone(),
            role: t.role.as_str(),
            created_by: t.created_by.clone(),
            created_at: rfc3339(t.created_at),
            revoked: t.revoked_at.is_some(),
            last_used_at: (t.last_used_at > 0).then(|| rfc3339(t.last_used_at)),
        }
    }
}

/// A new admin token, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    pub name: String,
    pub role: &'static str,
    /// `oat_` and 64 hex digits; only its SHA-256 is stored.
    pub token: String,
}

/// 32 random bytes in hex: session tokens, CSRF tokens, admin tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What a session or admin token is stored as: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates an admin token acting with `role`.
pub async fn create_token(
    storage: &dyn Operators,
    actor: &Actor,
    name: &str,
    role: Role,
    at: Timestamp,
) -> Result<NewToken, OperatorServiceError> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(OperatorServiceError::TokenName);
    }
    let token = format!("oat_{}", random_token());
    let created = storage
        .add_admin_token(AdminToken {
            id: 0,
            name: name.to_string(),
            role,
            token_hash: token_hash(&token),
            created_by: actor.name.clone(),
            created_at: at,
            revoked_at: None,
            last_used_at: 0,
        })
        .await?;
    let after = json!(TokenView::from(&created)).to_string();
    audit(storage, actor, "token.create", name, "", &after, at).await?;
    Ok(NewToken {
        name: created.name,
        role: role.as_str(),
        token,
    })
}

/// Every admin token.
pub async fn list_tokens(storage: &dyn Operators) -> Result<Vec<TokenView>, OperatorServiceError> {
    Ok(storage
        .admin_tokens()
        .await?
        .iter()
        .map(TokenView::from)
        .collect())
}

/// Revokes an admin token: refused from now on, on every node.
pub async fn revoke_token(
    storage: &dyn Operators,
    actor: &Actor,
    name: &str,
    at: Timestamp,
) -> Result<(), OperatorServiceError> {
    if !storage.revoke_admin_token(name, at).await? {
        return Err(OperatorServiceError::NoSuchToken(name.to_string()));
    }
    audit(storage, actor, "token.revoke", name, "", "", at).await?;
    Ok(())
}

/// Characters of a one-time password (alphanumeric: about 119 bits).
const ONE_TIME_PASSWORD_CHARS: usize = 20;

fn one_time_password() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, ONE_TIME_PASSWORD_CHARS)
}

/// An Argon2id hash of `password` (the crate's defaults: 19 MiB, 2 passes), as a PHC string.
pub fn hash_password(password: &str) -> Result<String, OperatorServiceError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| OperatorServiceError::Hashing)
}

/// A hash of a random password nobody knows, verified when there is no operator to check
/// against, so that an unknown email costs the same time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        hash_password(&one_time_password()).expect("hashing a random password")
    });
    DECOY.as_str()
}

/// Whether `password` matches the stored PHC string (constant-time comparison; an unreadable
/// hash never matches).
pub fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Creates an operator with a one-time password (merchant users are [`invite`]d instead).
pub async fn create(
    storage: &dyn Operators,
    actor: &Actor,
    email: &str,
    role: Role,
    at: Timestamp,
) -> Result<OneTimeSignIn, OperatorServiceError> {
    if role == Role::Merchant {
        return Err(OperatorServiceError::MerchantRole);
    }
    add(storage, actor, email, role, "", "operator.create", at).await
}

/// Invites a user of the merchant `merchant_uid` (which must exist) to the merchant console:
/// a one-time password like an operator's, for the operator to hand over.
pub async fn invite(
    storage: &dyn octopus_storage::Storage,
    actor: &Actor,
    email: &str,
    merchant_uid: &str,
    at: Timestamp,
) -> Result<OneTimeSignIn, OperatorServiceError> {
    let merchant = storage
        .merchant_by_uid(merchant_uid.trim())
        .await?
        .ok_or_else(|| OperatorServiceError::NoSuchMerchant(merchant_uid.trim().to_string()))?;
    add(
        storage,
        actor,
        email,
        Role::Merchant,
        &merchant.uid,
        "merchant_user.invite",
        at,
    )
    .await
}

async fn add(
    storage: &dyn Operators,
    actor: &Actor,
    email: &str,
    role: Role,
    merchant_uid: &str,
    action: &str,
    at: Timestamp,
) -> Result<OneTimeSignIn, OperatorServiceError> {
    let email = operator::normalize_email(email)?;
    let password = one_time_password();
    let created = storage
        .add_operator(NewOperator {
            email: email.clone(),
            role,
            password_hash: hash_password(&password)?,
            merchant_uid: merchant_uid.to_string(),
            at,
        })
        .await?;
    audit(storage, actor, action, &email, "", &view_json(&created), at).await?;
    Ok(OneTimeSignIn {
        email,
        role: role.as_str(),
        password,
    })
}

/// Every operator.
pub async fn list(storage: &dyn Operators) -> Result<Vec<OperatorView>, OperatorServiceError> {
    Ok(storage
        .operators()
        .await?
        .iter()
        .map(OperatorView::from)
        .collect())
}

/// Disables an operator (its sessions end) or enables it again.
pub async fn set_disabled(
    storage: &dyn Operators,
    actor: &Actor,
    email: &str,
    disabled: bool,
    at: Timestamp,
) -> Result<OperatorView, OperatorServiceError> {
    let email = operator::normalize_email(email)?;
    let before = found(storage, &email).await?;
    storage.set_operator_disabled(&email, disabled, at).await?;
    let after = found(storage, &email).await?;
    let action = if disabled {
        "operator.disable"
    } else {
        "operator.enable"
    };
    audit(
        storage,
        actor,
        action,
        &email,
        &view_json(&before),
        &view_json(&after),
        at,
    )
    .await?;
    Ok(OperatorView::from(&after))
}

/// Resets an operator's sign-in: a new one-time password, TOTP to be enrolled again, failed
/// sign-ins forgotten (the lock lifted), every session ended.
pub async fn reset(
    storage: &dyn Operators,
    actor: &Actor,
    email: &str,
    at: Timestamp,
) -> Result<OneTimeSignIn, OperatorServiceError> {
    let email = operator::normalize_email(email)?;
    let before = found(storage, &email).await?;
    let password = one_time_password();
    storage
        .reset_operator(&email, &hash_password(&password)?, true, "", at)
        .await?;
    let after = found(storage, &email).await?;
    audit(
        storage,
        actor,
        "operator.reset",
        &email,
        &view_json(&before),
        &view_json(&after),
        at,
    )
    .await?;
    Ok(OneTimeSignIn {
        email,
        role: after.role.as_str(),
        password,
    })
}

async fn found(storage: &dyn Operators, email: &str) -> Result<Operator, OperatorServiceError> {
    storage
        .operator_by_email(email)
        .await?
        .ok_or_else(|| OperatorServiceError::NoSuchOperator(email.to_string()))
}

fn view_json(o: &Operator) -> String {
    json!(OperatorView::from(o)).to_string()
}

/// Appends a line to the audit log.
pub async fn audit(
    storage: &dyn Operators,
    actor: &Actor,
    action: &str,
    target: &str,
    before: &str,
    after: &str,
    at: Timestamp,
) -> Result<(), StorageError> {
    storage
        .append_audit(AuditEntry {
            id: 0,
            at,
            actor: actor.name.clone(),
            role: actor.role.clone(),
            ip: actor.ip.clone(),
            action: action.to_string(),
            target: target.to_string(),
            before: before.to_string(),
            after: after.to_string(),
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_only() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(password_matches("correct horse battery", &phc));
        assert!(!password_matches("correct horse batterY", &phc));
        assert!(!password_matches("correct horse battery", "not a hash"));
        // A new salt each time.
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
        assert_eq!(one_time_password().len(), ONE_TIME_PASSWORD_CHARS);
    }
}
