//! The admin API's people: operators (create with a one-time password, list, disable, enable,
//! reset), admin tokens for automation (create — shown once —, list, revoke) and the audit log
//! (search, and the whole filtered log as CSV, streamed). All of it needs `ManageOperators`
//! (admin). The work is `services::operators`, which the CLI uses too.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use octopus_domain::operator::{Permission, Role};
use octopus_storage::AuditQuery;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Admin;
use super::extract::{Body as JsonBody, Params};
use crate::clock::now_ms;
use crate::error::Error;
use crate::services::operators::{self, AuditView};
use crate::state::AppState;
use octopus_domain::device::parse_rfc3339;

fn success(data: impl serde::Serialize) -> Json<Value> {
    Json(json!({"result": "success", "data": data}))
}

fn role(text: &str) -> Result<Role, Error> {
    text.parse()
        .map_err(|e: octopus_domain::operator::OperatorError| Error::Invalid(format!("role: {e}")))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewOperator {
    email: String,
    role: String,
}

/// `GET /octopus/admin/v1/operators`: every operator (never a hash or secret).
pub async fn list(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    Ok(success(operators::list(state.storage.as_ref()).await?))
}

/// `POST /octopus/admin/v1/operators` `{"email","role"}`: a new operator and its one-time
/// password, shown this once.
pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    JsonBody(new): JsonBody<NewOperator>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    let role = role(&new.role)?;
    let created = operators::create(
        state.storage.as_ref(),
        &admin.actor,
        &new.email,
        role,
        now_ms(),
    )
    .await?;
    Ok(success(created))
}

/// `POST /octopus/admin/v1/operators/{email}/disable`: the operator's sessions end at once.
pub async fn disable(
    State(state): State<AppState>,
    admin: Admin,
    Path(email): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    let storage = state.storage.as_ref();
    Ok(success(
        operators::set_disabled(storage, &admin.actor, &email, true, now_ms()).await?,
    ))
}

/// `POST /octopus/admin/v1/operators/{email}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    admin: Admin,
    Path(email): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    let storage = state.storage.as_ref();
    Ok(success(
        operators::set_disabled(storage, &admin.actor, &email, false, now_ms()).await?,
    ))
}

/// `POST /octopus/admin/v1/operators/{email}/reset`: a new one-time password, TOTP to enrol
/// again, the lock lifted, every session ended.
pub async fn reset(
    State(state): State<AppState>,
    admin: Admin,
    Path(email): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    let storage = state.storage.as_ref();
    Ok(success(
        operators::reset(storage, &admin.actor, &email, now_ms()).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    email: String,
}

/// `POST /octopus/admin/v1/merchants/{merchant_uid}/users` `{"email"}`: a user of the merchant
/// invited to the merchant console; answers the one-time password to hand over (shown once).
pub async fn invite(
    State(state): State<AppState>,
    admin: Admin,
    Path(merchant_uid): Path<String>,
    JsonBody(invitation): JsonBody<Invitation>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageSetup)?;
    let invited = operators::invite(
        state.storage.as_ref(),
        &admin.actor,
        &invitation.email,
        &merchant_uid,
        now_ms(),
    )
    .await?;
    Ok(success(invited))
}

/// `GET /octopus/admin/v1/merchants/{merchant_uid}/users`: the merchant's users.
pub async fn merchant_users(
    State(state): State<AppState>,
    admin: Admin,
    Path(merchant_uid): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ReadSetup)?;
    let users: Vec<_> = operators::list(state.storage.as_ref())
        .await?
        .into_iter()
        .filter(|o| o.merchant_uid == merchant_uid)
        .collect();
    Ok(success(users))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    name: String,
    role: String,
}

/// `GET /octopus/admin/v1/tokens`: every admin token (never the token).
pub async fn tokens(State(state): State<AppState>, admin: Admin) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    Ok(success(
        operators::list_tokens(state.storage.as_ref()).await?,
    ))
}

/// `POST /octopus/admin/v1/tokens` `{"name","role"}`: a new admin token, shown this once.
pub async fn create_token(
    State(state): State<AppState>,
    admin: Admin,
    JsonBody(new): JsonBody<NewToken>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    let role = role(&new.role)?;
    let storage = state.storage.as_ref();
    Ok(success(
        operators::create_token(storage, &admin.actor, &new.name, role, now_ms()).await?,
    ))
}

/// `DELETE /octopus/admin/v1/tokens/{name}`: refused from now on, on every node.
pub async fn revoke_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    operators::revoke_token(state.storage.as_ref(), &admin.actor, &name, now_ms()).await?;
    Ok(success(json!({"revoked": name})))
}

/// The audit log's filters, as a query string.
#[derive(Deserialize, Default, Clone, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// The `next_before_id` of the page before.
    pub before_id: Option<i64>,
    pub limit: Option<u32>,
}

/// The most lines one page answers.
const MAX_PAGE: u32 = 500;

impl AuditFilter {
    fn query(&self) -> Result<AuditQuery, Error> {
        let time = |name: &str, text: &Option<String>| {
            text.as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(|t| {
                    parse_rfc3339(t.trim())
                        .ok_or_else(|| Error::Invalid(format!("{name}: not an RFC 3339 time")))
                })
                .transpose()
        };
        let text = |t: &Option<String>| {
            t.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        let limit = self.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::Invalid(format!("limit: 1 to {MAX_PAGE}")));
        }
        Ok(AuditQuery {
            actor: text(&self.actor),
            action: text(&self.action).map(|a| a.to_lowercase()),
            target: text(&self.target),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            before_id: self.before_id,
            limit,
        })
    }
}

/// `GET /octopus/admin/v1/audit?actor=&action=&target=&since=&until=&before_id=&limit=`:
/// newest first; `next_before_id` fetches the page after (absent on the last page).
pub async fn audit(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<AuditFilter>,
) -> Result<Json<Value>, Error> {
    admin.require(Permission::ManageOperators)?;
    let query = filter.query()?;
    let entries = state.storage.audit_entries(&query).await?;
    let next = (entries.len() == query.limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let entries: Vec<AuditView> = entries.into_iter().map(AuditView::from).collect();
    Ok(success(json!({"entries": entries, "next_before_id": next})))
}

/// `GET /octopus/admin/v1/audit.csv?...`: every line the filters select (not one page), as
/// CSV, read a page at a time while it is sent — memory stays flat however long the log.
pub async fn audit_csv(
    State(state): State<AppState>,
    admin: Admin,
    Params(filter): Params<AuditFilter>,
) -> Result<Response, Error> {
    admin.require(Permission::ManageOperators)?;
    let mut query = filter.query()?;
    query.limit = MAX_PAGE;
    let header = "id,at,actor,role,ip,action,target,before,after\n";
    Ok(super::csv::paged(
        "audit.csv",
        header,
        query,
        move |mut query| {
            let state = state.clone();
            async move {
                let entries = state.storage.audit_entries(&query).await?;
                let more = entries.len() == query.limit as usize;
                query.before_id = entries.last().map(|e| e.id);
                let mut text = String::new();
                for e in entries.into_iter().map(AuditView::from) {
                    text.push_str(&super::views::csv_line(&[
                        e.id.to_string(),
                        e.at,
                        e.actor,
                        e.role,
                        e.ip,
                        e.action,
                        e.target,
                        e.before,
                        e.after,
                    ]));
                }
                Ok((text, more.then_some(query)))
            }
        },
    ))
}
