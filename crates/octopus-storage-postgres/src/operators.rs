//! Operators, their failed sign-ins and the audit log in PostgreSQL (see
//! `octopus_storage::operators`). The audit log's trigger refuses UPDATE and DELETE.

use async_trait::async_trait;
use octopus_domain::Timestamp;
use octopus_storage::rows::{
    self, ADMIN_TOKEN_COLUMNS, AUDIT_COLUMNS, OPERATOR_COLUMNS, SESSION_COLUMNS,
};
use octopus_storage::{
    AdminToken, AuditEntry, AuditQuery, AuditValue, NewOperator, Operator, Operators, Result,
    Session, StorageError,
};
use tokio_postgres::error::SqlState;

use crate::columns::PgRow;
use crate::{db, PostgresStorage};

#[async_trait]
impl Operators for PostgresStorage {
    async fn add_operator(&self, new: NewOperator) -> Result<Operator> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO operators (email, role, password_hash, merchant_uid, created_at,
                        updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING {OPERATOR_COLUMNS}"
                ),
                &[
                    &new.email,
                    &new.role.as_str(),
                    &new.password_hash,
                    &new.merchant_uid,
                    &new.at,
                ],
            )
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                    StorageError::Conflict(format!("an operator {} exists already", new.email))
                }
                _ => db(e),
            })?;
        let operator = rows::operator(&PgRow::new(&row));
        operator
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE email = $1"),
                &[&email],
            )
            .await
            .map_err(db)?;
        row.map(|r| rows::operator(&PgRow::new(&r))).transpose()
    }

    async fn operators(&self) -> Result<Vec<Operator>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY email"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| rows::operator(&PgRow::new(r)))
            .collect()
    }

    async fn set_operator_disabled(
        &self,
        email: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "UPDATE operators SET disabled = $2, updated_at = $3 WHERE email = $1",
                &[&email, &disabled, &at],
            )
            .await
            .map_err(db)?;
        if disabled {
            end_sessions(&tx, email).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(n > 0)
    }

    async fn reset_operator(
        &self,
        email: &str,
        password_hash: &str,
        must_change: bool,
        totp_secret: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "UPDATE operators SET password_hash = $2, must_change_password = $3,
                    totp_secret = $4, updated_at = $5
                 WHERE email = $1",
                &[&email, &password_hash, &must_change, &totp_secret, &at],
            )
            .await
            .map_err(db)?;
        if totp_secret.is_empty() {
            tx.execute(
                "DELETE FROM recovery_codes
                 WHERE operator_id = (SELECT id FROM operators WHERE email = $1)",
                &[&email],
            )
            .await
            .map_err(db)?;
        }
        tx.execute("DELETE FROM sign_in_failures WHERE email = $1", &[&email])
            .await
            .map_err(db)?;
        end_sessions(&tx, email).await?;
        tx.commit().await.map_err(db)?;
        Ok(n > 0)
    }

    async fn record_sign_in_failure(
        &self,
        email: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>> {
        let mut client = self.client().await?;
        // Attempts of one email one after the other (an advisory lock until the commit), so
        // each sees every attempt recorded before it.
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('sign_in:' || $1, 0))",
            &[&email],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO sign_in_failures (email, at) VALUES ($1, $2)",
            &[&email, &at],
        )
        .await
        .map_err(db)?;
        let rows = tx
            .query(
                "SELECT at FROM sign_in_failures WHERE email = $1 AND at >= $2 ORDER BY at",
                &[&email, &since],
            )
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn clear_sign_in_failures(&self, email: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM sign_in_failures WHERE email = $1", &[&email])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_session(&self, s: Session) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, operator_id, csrf_token, created_at,
                    last_seen_at, ip)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &s.token_hash,
                    &s.operator_id,
                    &s.csrf_token,
                    &s.created_at,
                    &s.last_seen_at,
                    &s.ip,
                ],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<(Session, Operator)>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"),
                &[&token_hash],
            )
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let session = rows::session(&PgRow::new(&row))?;
        let row = client
            .query_one(
                &format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = $1"),
                &[&session.operator_id],
            )
            .await
            .map_err(db)?;
        let operator = rows::operator(&PgRow::new(&row))?;
        Ok(Some((session, operator)))
    }

    async fn touch_session(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1",
                &[&token_hash, &at],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn end_session(&self, token_hash: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn enrol_totp(
        &self,
        operator_id: i64,
        sealed_secret: &str,
        recovery_code_hashes: Vec<String>,
        at: Timestamp,
    ) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "UPDATE operators SET totp_secret = $2, totp_last_step = 0, updated_at = $3
                 WHERE id = $1 AND totp_secret = ''",
                &[&operator_id, &sealed_secret, &at],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM recovery_codes WHERE operator_id = $1",
            &[&operator_id],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO recovery_codes (operator_id, code_hash)
             SELECT $1, unnest($2::text[])",
            &[&operator_id, &recovery_code_hashes],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn take_totp_step(&self, operator_id: i64, step: i64) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE operators SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                &[&operator_id, &step],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn take_recovery_code(
        &self,
        operator_id: i64,
        code_hash: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE recovery_codes SET used_at = $3
                 WHERE operator_id = $1 AND code_hash = $2 AND used_at IS NULL",
                &[&operator_id, &code_hash, &at],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn recovery_codes_left(&self, operator_id: i64) -> Result<u32> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FROM recovery_codes WHERE operator_id = $1 AND used_at IS NULL",
                &[&operator_id],
            )
            .await
            .map_err(db)?;
        let n: i64 = row.get(0);
        Ok(n.try_into().unwrap_or(u32::MAX))
    }

    async fn add_admin_token(&self, t: AdminToken) -> Result<AdminToken> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO admin_tokens (name, role, token_hash, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING {ADMIN_TOKEN_COLUMNS}"
                ),
                &[
                    &t.name,
                    &t.role.as_str(),
                    &t.token_hash,
                    &t.created_by,
                    &t.created_at,
                ],
            )
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
                    StorageError::Conflict(format!("an admin token {} exists already", t.name))
                }
                _ => db(e),
            })?;
        let token = rows::admin_token(&PgRow::new(&row));
        token
    }

    async fn admin_token(&self, token_hash: &str) -> Result<Option<AdminToken>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = $1"),
                &[&token_hash],
            )
            .await
            .map_err(db)?;
        row.map(|r| rows::admin_token(&PgRow::new(&r))).transpose()
    }

    async fn admin_tokens(&self) -> Result<Vec<AdminToken>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY name"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| rows::admin_token(&PgRow::new(r)))
            .collect()
    }

    async fn revoke_admin_token(&self, name: &str, at: Timestamp) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE admin_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                &[&name, &at],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn touch_admin_token(&self, id: i64, at: Timestamp) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1",
                &[&id, &at],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn append_audit(&self, e: AuditEntry) -> Result<i64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO audit_log (at, actor, role, ip, action, target, before, after)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &e.at, &e.actor, &e.role, &e.ip, &e.action, &e.target, &e.before, &e.after,
                ],
            )
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let (clause, values) = query.conditions(|n| format!("${n}"));
        let values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = values
            .into_iter()
            .map(|v| -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
                match v {
                    AuditValue::Text(t) => Box::new(t),
                    AuditValue::Int(i) => Box::new(i),
                }
            })
            .collect();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {clause}
                     ORDER BY id DESC LIMIT {}",
                    query.limit
                ),
                &params,
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| rows::audit_entry(&PgRow::new(r)))
            .collect()
    }
}

/// Ends every session of the operator `email` (disabled, or its password reset).
async fn end_sessions(tx: &deadpool_postgres::Transaction<'_>, email: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM sessions WHERE operator_id = (SELECT id FROM operators WHERE email = $1)",
        &[&email],
    )
    .await
    .map_err(db)?;
    Ok(())
}
