//! The people who run the gateway, as stored: operators with their failed sign-ins, and the
//! audit log of what they did (append-only: the backends refuse UPDATE and DELETE on it, like
//! the journal). What a role may do and when an account locks is decided in
//! `octopus_domain::operator`.

use async_trait::async_trait;
use octopus_domain::operator::Role;
use octopus_domain::Timestamp;

use crate::Result;

/// An operator as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: i64,
    /// Normalized (`octopus_domain::operator::normalize_email`).
    pub email: String,
    pub role: Role,
    /// Argon2id, PHC string.
    pub password_hash: String,
    /// Sealed with the master key; empty until TOTP is enrolled.
    pub totp_secret: String,
    /// Signed in with a one-time password, the operator must choose one first.
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new operator (its password already hashed).
#[derive(Debug, Clone)]
pub struct NewOperator {
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    pub at: Timestamp,
}

/// One line of the audit log: who (the operator's email, or `cli` for the command line on
/// the database), in which role, from where, did what to what, and the target before and after
/// (JSON, empty where there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub role: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub before: String,
    pub after: String,
}

/// A signed-in operator's session, known by the SHA-256 of its cookie's token (the token is
/// never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub operator_id: i64,
    /// What every state-changing request of the session must send back (`X-CSRF-Token`).
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub ip: String,
}

#[async_trait]
pub trait Operators: Send + Sync + 'static {
    /// Adds an operator; `StorageError::Conflict` if the email is taken.
    async fn add_operator(&self, operator: NewOperator) -> Result<Operator>;

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>>;

    /// Every operator, by email.
    async fn operators(&self) -> Result<Vec<Operator>>;

    /// Disables (or enables) an operator, ending its sessions; false if there is none.
    async fn set_operator_disabled(
        &self,
        email: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<bool>;

    /// Sets an operator's password hash (a one-time one when `must_change` is true) and TOTP
    /// secret (empty: to be enrolled again), forgets its failed sign-ins and ends its
    /// sessions; false if there is none.
    async fn reset_operator(
        &self,
        email: &str,
        password_hash: &str,
        must_change: bool,
        totp_secret: &str,
        at: Timestamp,
    ) -> Result<bool>;

    /// Records a sign-in attempt for `email` (normalized) as failed — before its password is
    /// checked, so that attempts made at once count against each other — and returns the
    /// email's failures since `since`, this one included.
    async fn record_sign_in_failure(
        &self,
        email: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>>;

    /// Forgets the email's failed sign-ins (a sign-in succeeded).
    async fn clear_sign_in_failures(&self, email: &str) -> Result<()>;

    async fn create_session(&self, session: Session) -> Result<()>;

    /// The session with this token hash and its operator.
    async fn session(&self, token_hash: &str) -> Result<Option<(Session, Operator)>>;

    /// Records that the session was used at `at`.
    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<()>;

    async fn end_session(&self, token_hash: &str) -> Result<()>;

    /// Appends a line to the audit log (its `id` is ignored); returns its id.
    async fn append_audit(&self, entry: AuditEntry) -> Result<i64>;

    /// The newest `limit` lines of the audit log, newest first.
    async fn audit_entries(&self, limit: u32) -> Result<Vec<AuditEntry>>;
}
