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
    /// Empty for the gateway's operators; the merchant a merchant user belongs to.
    pub merchant_uid: String,
    /// The TOTP time step of the last code accepted (a code is good once).
    pub totp_last_step: i64,
}

/// A new operator (its password already hashed).
#[derive(Debug, Clone)]
pub struct NewOperator {
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    /// Empty for an operator; the merchant of a merchant user.
    pub merchant_uid: String,
    pub at: Timestamp,
}

/// A token for automation (`Authorization: Bearer ...`): acts with its role, known by the
/// SHA-256 of the token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub token_hash: String,
    /// Who created it (an operator's email, or `cli`).
    pub created_by: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Timestamp,
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

/// Which lines of the audit log to read: every filter given must hold; newest first, at most
/// `limit`, only lines older than `before_id` (the last id of the page before) when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// An action, or a family of them: `operator` matches `operator.create` too.
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

impl AuditQuery {
    /// The WHERE clause and its values, with placeholders made by `placeholder(n)` (1-based):
    /// both backends run the same filter.
    pub fn conditions(&self, placeholder: impl Fn(usize) -> String) -> (String, Vec<AuditValue>) {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        // Binds a value; its placeholder.
        let mut bind = |value: AuditValue| {
            values.push(value);
            placeholder(values.len())
        };
        if let Some(actor) = &self.actor {
            clauses.push(format!("actor = {}", bind(AuditValue::Text(actor.clone()))));
        }
        if let Some(action) = &self.action {
            // `operator` matches itself and `operator.<anything>` (LIKE's wildcards escaped).
            let escaped = action
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let equal = bind(AuditValue::Text(action.clone()));
            let like = bind(AuditValue::Text(format!("{escaped}.%")));
            clauses.push(format!(
                "(action = {equal} OR action LIKE {like} ESCAPE '\\')"
            ));
        }
        if let Some(target) = &self.target {
            clauses.push(format!(
                "target = {}",
                bind(AuditValue::Text(target.clone()))
            ));
        }
        if let Some(since) = self.since {
            clauses.push(format!("at >= {}", bind(AuditValue::Int(since))));
        }
        if let Some(until) = self.until {
            clauses.push(format!("at < {}", bind(AuditValue::Int(until))));
        }
        if let Some(before) = self.before_id {
            clauses.push(format!("id < {}", bind(AuditValue::Int(before))));
        }
        let clause = if clauses.is_empty() {
            "TRUE".to_string()
        } else {
            clauses.join(" AND ")
        };
        (clause, values)
    }
}

/// A value bound in [`AuditQuery::conditions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditValue {
    Text(String),
    Int(i64),
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
    /// secret (empty: to be enrolled again, its recovery codes gone too), forgets its failed sign-ins and ends its
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

    /// Enrols TOTP: stores the (sealed) secret and the SHA-256 of fresh recovery codes in
    /// place of any earlier ones; false if there is no operator `operator_id` without TOTP
    /// (two enrolments at once: one wins).
    async fn enrol_totp(
        &self,
        operator_id: i64,
        sealed_secret: &str,
        recovery_code_hashes: Vec<String>,
        at: Timestamp,
    ) -> Result<bool>;

    /// Takes the TOTP time step `step` for the operator: true only if no code of this step or a
    /// later one was accepted before (so a code is good once, even on two nodes at once).
    async fn take_totp_step(&self, operator_id: i64, step: i64) -> Result<bool>;

    /// Uses up a recovery code (by its SHA-256): true only the first time, for a code the
    /// operator has.
    async fn take_recovery_code(
        &self,
        operator_id: i64,
        code_hash: &str,
        at: Timestamp,
    ) -> Result<bool>;

    /// How many recovery codes the operator has not used.
    async fn recovery_codes_left(&self, operator_id: i64) -> Result<u32>;

    /// Adds an admin token; `StorageError::Conflict` if the name is taken.
    async fn add_admin_token(&self, token: AdminToken) -> Result<AdminToken>;

    /// The token with this hash, revoked or not.
    async fn admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>>;

    /// Every admin token, by name.
    async fn admin_tokens(&self) -> Result<Vec<AdminToken>>;

    /// Revokes the token `name`; false if there is none not yet revoked.
    async fn revoke_admin_token(&self, name: &str, at: Timestamp) -> Result<bool>;

    /// Records that the token was used at `at`.
    async fn touch_admin_token(&self, id: i64, at: Timestamp) -> Result<()>;

    /// Appends a line to the audit log (its `id` is ignored); returns its id.
    async fn append_audit(&self, entry: AuditEntry) -> Result<i64>;

    /// The lines of the audit log `query` selects, newest first.
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;
}
