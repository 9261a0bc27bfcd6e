//! Operators, their failed sign-ins and the audit log in SQLite (see
//! `octopus_storage::operators`). The audit log's triggers refuse UPDATE and DELETE.

use async_trait::async_trait;
use octopus_domain::Timestamp;
use octopus_storage::rows::{
    self, ADMIN_TOKEN_COLUMNS, AUDIT_COLUMNS, OPERATOR_COLUMNS, SESSION_COLUMNS,
};
use octopus_storage::{
    AdminToken, AuditEntry, AuditQuery, AuditValue, NewOperator, Operator, Operators, Result,
    Session, StorageError,
};
use rusqlite::{params, OptionalExtension};

use crate::accounts::collect;
use crate::columns::SqliteRow;
use crate::{db, SqliteStorage};

#[async_trait]
impl Operators for SqliteStorage {
    async fn add_operator(&self, new: NewOperator) -> Result<Operator> {
        self.writer
            .write_checked(move |conn| {
                let inserted = conn.execute(
                    "INSERT INTO operators (email, role, password_hash, merchant_uid, created_at,
                        updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![
                        new.email,
                        new.role.as_str(),
                        new.password_hash,
                        new.merchant_uid,
                        new.at
                    ],
                );
                match inserted {
                    Ok(_) => {}
                    Err(e) if crate::is_unique_violation(&e) => {
                        return Err(StorageError::Conflict(format!(
                            "an operator {} exists already",
                            new.email
                        )))
                    }
                    Err(e) => return Err(db(e)),
                }
                let id = conn.last_insert_rowid();
                conn.query_row(
                    &format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = ?1"),
                    params![id],
                    |r| Ok(rows::operator(&SqliteRow::new(r))),
                )
                .map_err(db)?
            })
            .await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>> {
        let email = email.to_string();
        self.readers
            .read(move |conn| {
                conn.query_row(
                    &format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE email = ?1"),
                    params![email],
                    |r| Ok(rows::operator(&SqliteRow::new(r))),
                )
                .optional()
                .map_err(db)?
                .transpose()
            })
            .await
    }

    async fn operators(&self) -> Result<Vec<Operator>> {
        self.readers
            .read(|conn| {
                collect(
                    conn,
                    &format!("SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY email"),
                    [],
                    |r| rows::operator(r),
                )
            })
            .await
    }

    async fn set_operator_disabled(
        &self,
        email: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<bool> {
        let email = email.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE operators SET disabled = ?2, updated_at = ?3 WHERE email = ?1",
                        params![email, disabled, at],
                    )
                    .map_err(db)?;
                if disabled {
                    end_sessions(conn, &email)?;
                }
                Ok(n > 0)
            })
            .await
    }

    async fn reset_operator(
        &self,
        email: &str,
        password_hash: &str,
        must_change: bool,
        totp_secret: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let (email, hash, totp) = (
            email.to_string(),
            password_hash.to_string(),
            totp_secret.to_string(),
        );
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE operators SET password_hash = ?2, must_change_password = ?3,
                            totp_secret = ?4, updated_at = ?5
                         WHERE email = ?1",
                        params![email, hash, must_change, totp, at],
                    )
                    .map_err(db)?;
                if totp.is_empty() {
                    conn.execute(
                        "DELETE FROM recovery_codes
                         WHERE operator_id = (SELECT id FROM operators WHERE email = ?1)",
                        params![email],
                    )
                    .map_err(db)?;
                }
                conn.execute(
                    "DELETE FROM sign_in_failures WHERE email = ?1",
                    params![email],
                )
                .map_err(db)?;
                end_sessions(conn, &email)?;
                Ok(n > 0)
            })
            .await
    }

    async fn record_sign_in_failure(
        &self,
        email: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>> {
        let email = email.to_string();
        // One writer job: the insert and the read of everything recorded before it.
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO sign_in_failures (email, at) VALUES (?1, ?2)",
                    params![email, at],
                )
                .map_err(db)?;
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT at FROM sign_in_failures WHERE email = ?1 AND at >= ?2
                         ORDER BY at",
                    )
                    .map_err(db)?;
                let times = stmt
                    .query_map(params![email, since], |r| r.get(0))
                    .map_err(db)?
                    .collect::<rusqlite::Result<Vec<Timestamp>>>()
                    .map_err(db)?;
                Ok(times)
            })
            .await
    }

    async fn clear_sign_in_failures(&self, email: &str) -> Result<()> {
        let email = email.to_string();
        self.writer
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM sign_in_failures WHERE email = ?1",
                    params![email],
                )
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn create_session(&self, s: Session) -> Result<()> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO sessions (token_hash, operator_id, csrf_token, created_at,
                        last_seen_at, ip)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        s.token_hash,
                        s.operator_id,
                        s.csrf_token,
                        s.created_at,
                        s.last_seen_at,
                        s.ip
                    ],
                )
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<(Session, Operator)>> {
        let token_hash = token_hash.to_string();
        self.readers
            .read(move |conn| {
                let Some(session) = conn
                    .query_row(
                        &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?1"),
                        params![token_hash],
                        |r| Ok(rows::session(&SqliteRow::new(r))),
                    )
                    .optional()
                    .map_err(db)?
                    .transpose()?
                else {
                    return Ok(None);
                };
                let operator = conn
                    .query_row(
                        &format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = ?1"),
                        params![session.operator_id],
                        |r| Ok(rows::operator(&SqliteRow::new(r))),
                    )
                    .map_err(db)??;
                Ok(Some((session, operator)))
            })
            .await
    }

    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.writer
            .write(move |conn| {
                conn.execute(
                    "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
                    params![token_hash, at],
                )
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn end_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.writer
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM sessions WHERE token_hash = ?1",
                    params![token_hash],
                )
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn enrol_totp(
        &self,
        operator_id: i64,
        sealed_secret: &str,
        recovery_code_hashes: Vec<String>,
        at: Timestamp,
    ) -> Result<bool> {
        let sealed = sealed_secret.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE operators SET totp_secret = ?2, totp_last_step = 0, updated_at = ?3
                         WHERE id = ?1 AND totp_secret = ''",
                        params![operator_id, sealed, at],
                    )
                    .map_err(db)?;
                if n == 0 {
                    return Ok(false);
                }
                conn.execute(
                    "DELETE FROM recovery_codes WHERE operator_id = ?1",
                    params![operator_id],
                )
                .map_err(db)?;
                for hash in &recovery_code_hashes {
                    conn.execute(
                        "INSERT INTO recovery_codes (operator_id, code_hash) VALUES (?1, ?2)",
                        params![operator_id, hash],
                    )
                    .map_err(db)?;
                }
                Ok(true)
            })
            .await
    }

    async fn take_totp_step(&self, operator_id: i64, step: i64) -> Result<bool> {
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE operators SET totp_last_step = ?2
                         WHERE id = ?1 AND totp_last_step < ?2",
                        params![operator_id, step],
                    )
                    .map_err(db)?;
                Ok(n > 0)
            })
            .await
    }

    async fn take_recovery_code(
        &self,
        operator_id: i64,
        code_hash: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let hash = code_hash.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE recovery_codes SET used_at = ?3
                         WHERE operator_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
                        params![operator_id, hash, at],
                    )
                    .map_err(db)?;
                Ok(n > 0)
            })
            .await
    }

    async fn recovery_codes_left(&self, operator_id: i64) -> Result<u32> {
        self.readers
            .read(move |conn| {
                conn.query_row(
                    "SELECT COUNT(*) FROM recovery_codes WHERE operator_id = ?1 AND used_at IS NULL",
                    params![operator_id],
                    |r| r.get(0),
                )
                .map_err(db)
            })
            .await
    }

    async fn add_admin_token(&self, t: AdminToken) -> Result<AdminToken> {
        self.writer
            .write_checked(move |conn| {
                let inserted = conn.execute(
                    "INSERT INTO admin_tokens (name, role, token_hash, created_by, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        t.name,
                        t.role.as_str(),
                        t.token_hash,
                        t.created_by,
                        t.created_at
                    ],
                );
                match inserted {
                    Ok(_) => {}
                    Err(e) if crate::is_unique_violation(&e) => {
                        return Err(StorageError::Conflict(format!(
                            "an admin token {} exists already",
                            t.name
                        )))
                    }
                    Err(e) => return Err(db(e)),
                }
                let id = conn.last_insert_rowid();
                conn.query_row(
                    &format!("SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE id = ?1"),
                    params![id],
                    |r| Ok(rows::admin_token(&SqliteRow::new(r))),
                )
                .map_err(db)?
            })
            .await
    }

    async fn admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>> {
        let hash = token_hash.to_string();
        self.readers
            .read(move |conn| {
                conn.query_row(
                    &format!(
                        "SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = ?1"
                    ),
                    params![hash],
                    |r| Ok(rows::admin_token(&SqliteRow::new(r))),
                )
                .optional()
                .map_err(db)?
                .transpose()
            })
            .await
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminToken>> {
        self.readers
            .read(|conn| {
                collect(
                    conn,
                    &format!("SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY name"),
                    [],
                    |r| rows::admin_token(r),
                )
            })
            .await
    }

    async fn revoke_admin_token(&self, name: &str, at: Timestamp) -> Result<bool> {
        let name = name.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE admin_tokens SET revoked_at = ?2
                         WHERE name = ?1 AND revoked_at IS NULL",
                        params![name, at],
                    )
                    .map_err(db)?;
                Ok(n > 0)
            })
            .await
    }

    async fn touch_admin_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "UPDATE admin_tokens SET last_used_at = ?2 WHERE id = ?1",
                    params![id, at],
                )
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn append_audit(&self, e: AuditEntry) -> Result<i64> {
        self.writer
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO audit_log (at, actor, role, ip, action, target, before, after)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![e.at, e.actor, e.role, e.ip, e.action, e.target, e.before, e.after],
                )
                .map_err(db)?;
                Ok(conn.last_insert_rowid())
            })
            .await
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let (clause, values) = query.conditions(|n| format!("?{n}"));
        let limit = query.limit;
        self.readers
            .read(move |conn| {
                let values: Vec<rusqlite::types::Value> = values
                    .into_iter()
                    .map(|v| match v {
                        AuditValue::Text(t) => rusqlite::types::Value::Text(t),
                        AuditValue::Int(i) => rusqlite::types::Value::Integer(i),
                    })
                    .collect();
                collect(
                    conn,
                    &format!(
                        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {clause}
                         ORDER BY id DESC LIMIT {limit}"
                    ),
                    rusqlite::params_from_iter(values),
                    |r| rows::audit_entry(r),
                )
            })
            .await
    }
}

/// Ends every session of the operator `email` (disabled, or its password reset).
fn end_sessions(conn: &rusqlite::Connection, email: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM sessions WHERE operator_id = (SELECT id FROM operators WHERE email = ?1)",
        params![email],
    )
    .map_err(db)?;
    Ok(())
}
