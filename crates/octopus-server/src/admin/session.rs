//! Operators' sessions: sign-in with email and password (Argon2id), failed sign-ins counted
//! towards a lock (`operator::locked_until`), sessions stored in the database (so every node
//! knows them) under the SHA-256 of a random token the cookie carries (`HttpOnly`,
//! `SameSite=Strict`, `Secure` when the public URL is https), idle sessions ended
//! (`operator::session_ended`),
//! and a CSRF token every state-changing request must send back in `X-CSRF-Token`. An operator
//! with TOTP enrolled signs in with a code too (or a recovery code; `services::two_factor`);
//! enrolment is two steps here (a secret and its QR code, then a code made from it). Every
//! sign-in, failed or not, is in the audit log.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use octopus_domain::operator;
use octopus_storage::{Operator, Session};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::clock::now_ms;
use crate::error::Error;
use crate::http::client_ip;
use crate::services::operators::{self, random_token, token_hash, Actor, OperatorView};
use crate::services::two_factor;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "octopus_session";
/// The header a state-changing request carries its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The answer to any failed sign-in: which part was wrong is not said.
const SIGN_IN_FAILED: &str = "Invalid email, password or code";
const NOT_SIGNED_IN: &str = "Not signed in";

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    email: String,
    password: String,
    /// The authenticator's 6-digit code, or a recovery code; needed once TOTP is enrolled.
    #[serde(default)]
    code: String,
}

pub(crate) fn peer_ip(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    state: &AppState,
) -> IpAddr {
    client_ip::of_request(extensions, headers, &state.config.trusted_proxies)
}

/// The header that removes the session cookie from the browser.
fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("octopus_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session cookie; `Secure` when the gateway's public URL is https (it is then behind a
/// TLS proxy, and a browser must never send the cookie in the clear).
fn cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("a hex token is a valid header")
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

fn me(operator: &Operator, csrf_token: &str) -> serde_json::Value {
    json!({
        "result": "success",
        "data": {
            "operator": OperatorView::from(operator),
            "csrf_token": csrf_token,
        }
    })
}

/// Password checks (Argon2id: tens of milliseconds and 19 MiB each) run on the blocking
/// threads, at most this many at once, so sign-ins never hold the async workers that serve
/// the merchant API.
const CHECKS_AT_ONCE: usize = 4;

/// Whether `password` matches `phc`, checked off the async workers.
async fn check_password(password: String, phc: String) -> Result<bool, Error> {
    static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CHECKS_AT_ONCE);
    let _turn = CHECKS
        .acquire()
        .await
        .map_err(|_| Error::Internal("the password checks stopped".into()))?;
    tokio::task::spawn_blocking(move || operators::password_matches(&password, &phc))
        .await
        .map_err(|e| Error::Internal(format!("a password check failed: {e}")))
}

/// `POST /octopus/admin/v1/session` `{"email","password"}`: signs in, setting the session
/// cookie; answers the operator and the session's CSRF token.
///
/// Every attempt is first recorded as a failure of the email tried (known or not), and judged
/// by the attempts before it (`operator::attempt_allowed`): a locked email is 429 with
/// `Retry-After`, whatever the password, after the same password work as any other attempt.
/// A wrong password, an unknown or a disabled email are one answer (401). A success forgets
/// the email's failures.
pub async fn sign_in(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    super::extract::Body(form): super::extract::Body<SignIn>,
) -> Result<Response, Error> {
    let now = now_ms();
    let ip = peer_ip(&extensions, &headers, &state);
    let storage = state.storage.as_ref();
    // What the attempt is counted and logged under: the email, or "invalid" for text that is
    // no email (never the text itself: the log shows what can be trusted).
    let email = operator::normalize_email(&form.email).unwrap_or_default();
    let tried = if email.is_empty() {
        "invalid"
    } else {
        email.as_str()
    };
    let failures = storage
        .record_sign_in_failure(tried, now, now - operator::FAILURE_LOOKBACK_MS)
        .await?;
    let found = match email.as_str() {
        "" => None,
        e => storage.operator_by_email(e).await?,
    }
    .filter(|o| !o.disabled);
    // An attempt by nobody in particular: who it claimed to be is its target.
    let anonymous = Actor {
        name: String::new(),
        role: String::new(),
        ip: ip.to_string(),
    };
    let phc = found.as_ref().map_or_else(
        || operators::decoy_hash().to_string(),
        |o| o.password_hash.clone(),
    );
    if let Err(until) = operator::attempt_allowed(&failures, now) {
        // The same work as a real check, so a lock is not told by its speed.
        let _ = check_password(form.password, phc).await?;
        operators::audit(storage, &anonymous, "sign_in.locked", tried, "", "", now).await?;
        return Err(Error::RateLimited {
            retry_after: std::time::Duration::from_millis((until - now).max(1) as u64),
        });
    }
    let matches = check_password(form.password, phc).await?;
    let second = match found.as_ref().filter(|_| matches) {
        Some(o) => second_factor(&state, o, form.code.trim(), now).await?,
        None => None,
    };
    let (Some(found), Some(second)) = (found.filter(|_| matches), second) else {
        operators::audit(storage, &anonymous, "sign_in.failed", tried, "", "", now).await?;
        return Err(Error::Unauthorized(SIGN_IN_FAILED.into()));
    };
    storage.clear_sign_in_failures(&found.email).await?;
    let token = random_token();
    let session = Session {
        token_hash: token_hash(&token),
        operator_id: found.id,
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        ip: ip.to_string(),
    };
    storage.create_session(session.clone()).await?;
    let actor = Actor {
        name: found.email.clone(),
        role: found.role.as_str().into(),
        ip: ip.to_string(),
    };
    operators::audit(storage, &actor, second.action(), &found.email, "", "", now).await?;
    let mut answer = Json(me(&found, &session.csrf_token)).into_response();
    answer.headers_mut().insert(
        SET_COOKIE,
        cookie(&token, state.public_url.starts_with("https://")),
    );
    Ok(answer)
}

/// How a sign-in's second factor was given.
enum SecondFactor {
    /// TOTP is not enrolled (yet): `SignedIn::require` refuses everything to the roles that
    /// need it until it is.
    NotEnrolled,
    Totp,
    RecoveryCode,
}

impl SecondFactor {
    fn action(&self) -> &'static str {
        match self {
            SecondFactor::NotEnrolled | SecondFactor::Totp => "sign_in",
            SecondFactor::RecoveryCode => "sign_in.recovery_code",
        }
    }
}

/// The operator's second factor checked, once its password matched: `None` when a code is
/// needed and `code` is no good (wrong, used before, or missing). A 6-digit code is a TOTP code
/// (its time step taken, so it is good once); anything else is tried as a recovery code (used
/// up).
async fn second_factor(
    state: &AppState,
    operator: &Operator,
    code: &str,
    now: i64,
) -> Result<Option<SecondFactor>, Error> {
    if operator.totp_secret.is_empty() {
        return Ok(Some(SecondFactor::NotEnrolled));
    }
    if code.is_empty() {
        return Ok(None);
    }
    let storage = state.storage.as_ref();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let secret = state
            .master_key
            .open(&operator.totp_secret)
            .map_err(|_| Error::Internal("a TOTP secret does not open".into()))?;
        let Some(step) = two_factor::matching_step(secret.expose_secret(), code, now) else {
            return Ok(None);
        };
        let taken = storage.take_totp_step(operator.id, step).await?;
        return Ok(taken.then_some(SecondFactor::Totp));
    }
    let hash = two_factor::recovery_code_hash(code);
    let used = storage.take_recovery_code(operator.id, &hash, now).await?;
    Ok(used.then_some(SecondFactor::RecoveryCode))
}

/// `POST /octopus/admin/v1/session/totp` (with the CSRF token): the first step of enrolling
/// TOTP — a new secret, its `otpauth://` URL and QR code (SVG), and `enrolment`, the sealed
/// secret the confirmation sends back. Nothing is stored yet. Refused (409) once TOTP is
/// enrolled: a reset (`octopus operator reset`, or an admin) starts over.
pub async fn start_totp(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Json<serde_json::Value>, Error> {
    let operator = &signed_in.operator;
    if !operator.totp_secret.is_empty() {
        return Err(Error::Conflict("TOTP is enrolled already".into()));
    }
    let e = two_factor::enrolment(&state.master_key, operator.id, &operator.email);
    let qr_svg =
        crate::pages::instructions::qr_svg(&e.otpauth_url, "TOTP enrolment").unwrap_or_default();
    Ok(Json(json!({
        "result": "success",
        "data": {
            "secret": e.secret,
            "otpauth_url": e.otpauth_url,
            "qr_svg": qr_svg,
            "enrolment": e.enrolment,
        }
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TotpConfirmation {
    enrolment: String,
    code: String,
}

/// `POST /octopus/admin/v1/session/totp/confirm` `{"enrolment","code"}` (with the CSRF
/// token): a code made from the enrolment's secret proves the authenticator has it; the secret
/// is stored sealed, and ten recovery codes are answered — shown this once, stored as SHA-256.
pub async fn confirm_totp(
    State(state): State<AppState>,
    signed_in: SignedIn,
    super::extract::Body(confirmation): super::extract::Body<TotpConfirmation>,
) -> Result<Json<serde_json::Value>, Error> {
    let now = now_ms();
    let operator = &signed_in.operator;
    if !operator.totp_secret.is_empty() {
        return Err(Error::Conflict("TOTP is enrolled already".into()));
    }
    let secret =
        two_factor::opened_enrolment(&state.master_key, operator.id, &confirmation.enrolment)
            .ok_or_else(|| Error::Invalid("enrolment: not an enrolment of yours".into()))?;
    let step = two_factor::matching_step(&secret, confirmation.code.trim(), now)
        .ok_or_else(|| Error::Invalid("code: not the authenticator's current code".into()))?;
    let codes = two_factor::recovery_codes();
    let hashes = codes
        .iter()
        .map(|c| two_factor::recovery_code_hash(c))
        .collect();
    let storage = state.storage.as_ref();
    let before = json!(OperatorView::from(operator)).to_string();
    storage
        .enrol_totp(operator.id, &state.master_key.seal(&secret), hashes, now)
        .await?;
    // The confirming code is used: it cannot also sign in.
    storage.take_totp_step(operator.id, step).await?;
    let after = storage
        .operator_by_email(&operator.email)
        .await?
        .map(|o| json!(OperatorView::from(&o)).to_string())
        .unwrap_or_default();
    operators::audit(
        storage,
        &signed_in.actor(),
        "operator.totp",
        &operator.email,
        &before,
        &after,
        now,
    )
    .await?;
    Ok(Json(json!({
        "result": "success",
        "data": {"recovery_codes": codes}
    })))
}

/// `GET /octopus/admin/v1/session`: who is signed in, and the session's CSRF token.
pub async fn current(signed_in: SignedIn) -> Json<serde_json::Value> {
    Json(me(&signed_in.operator, &signed_in.session.csrf_token))
}

/// `DELETE /octopus/admin/v1/session`: signs out (the session ends on every node).
pub async fn sign_out(
    State(state): State<AppState>,
    signed_in: SignedIn,
) -> Result<Response, Error> {
    let now = now_ms();
    state
        .storage
        .end_session(&signed_in.session.token_hash)
        .await?;
    operators::audit(
        state.storage.as_ref(),
        &signed_in.actor(),
        "sign_out",
        &signed_in.operator.email,
        "",
        "",
        now,
    )
    .await?;
    let mut answer = Json(json!({"result": "success", "data": "Signed out"})).into_response();
    answer.headers_mut().insert(SET_COOKIE, cleared_cookie());
    Ok(answer)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /octopus/admin/v1/session/password` `{"current_password","new_password"}` (with the
/// CSRF token): the way out of a one-time password, and a change at any time. The new password
/// must be long enough (`operator::check_password`) and differ from the current one. Every
/// session of the operator ends, this one too: it signs in again with the new password.
pub async fn change_password(
    State(state): State<AppState>,
    signed_in: SignedIn,
    super::extract::Body(change): super::extract::Body<PasswordChange>,
) -> Result<Response, Error> {
    let now = now_ms();
    let operator = &signed_in.operator;
    if !check_password(
        change.current_password.clone(),
        operator.password_hash.clone(),
    )
    .await?
    {
        return Err(Error::Forbidden("The current password is wrong"));
    }
    operator::check_password(&change.new_password)
        .map_err(|e| Error::Invalid(format!("new_password: {e}")))?;
    if change.new_password == change.current_password {
        return Err(Error::Invalid(
            "new_password: the new password must differ from the current one".into(),
        ));
    }
    let new_password = change.new_password;
    let hash = tokio::task::spawn_blocking(move || operators::hash_password(&new_password))
        .await
        .map_err(|e| Error::Internal(format!("hashing failed: {e}")))?
        .map_err(|e| Error::Internal(e.to_string()))?;
    let storage = state.storage.as_ref();
    storage
        .reset_operator(&operator.email, &hash, false, &operator.totp_secret, now)
        .await?;
    let before = json!(OperatorView::from(operator)).to_string();
    let after = storage
        .operator_by_email(&operator.email)
        .await?
        .map(|o| json!(OperatorView::from(&o)).to_string())
        .unwrap_or_default();
    operators::audit(
        storage,
        &signed_in.actor(),
        "operator.password",
        &operator.email,
        &before,
        &after,
        now,
    )
    .await?;
    let mut answer = Json(json!({"result": "success", "data": "Password changed: sign in again"}))
        .into_response();
    answer.headers_mut().insert(SET_COOKIE, cleared_cookie());
    Ok(answer)
}

/// A request of a signed-in operator: its session is known, not idle too long, its operator
/// not disabled, and — for anything but GET and HEAD — it carries the session's CSRF token.
pub struct SignedIn {
    pub session: Session,
    pub operator: Operator,
    pub ip: IpAddr,
}

impl SignedIn {
    /// What stops the operator from acting at all, whatever its role: a one-time password not
    /// yet changed, and for the roles that need it TOTP not yet enrolled (a printed one-time
    /// password is never a lasting key).
    pub fn held_back(&self) -> Option<&'static str> {
        if self.operator.must_change_password {
            return Some("Change your one-time password first");
        }
        if self.operator.role.needs_totp() && self.operator.totp_secret.is_empty() {
            return Some("Enrol a TOTP authenticator first");
        }
        None
    }

    /// The operator, for the audit log.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.operator.email.clone(),
            role: self.operator.role.as_str().into(),
            ip: self.ip.to_string(),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let now = now_ms();
        let unauthorized = || Error::Unauthorized(NOT_SIGNED_IN.into());
        let token = session_token(&parts.headers).ok_or_else(unauthorized)?;
        let hash = token_hash(&token);
        let (session, operator) = state
            .storage
            .session(&hash)
            .await?
            .ok_or_else(unauthorized)?;
        if operator::session_ended(session.last_seen_at, now) || operator.disabled {
            state.storage.end_session(&hash).await?;
            return Err(unauthorized());
        }
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !two_factor::same_bytes(sent, session.csrf_token.as_bytes()) {
                return Err(Error::Forbidden("Missing or wrong CSRF token"));
            }
        }
        if now - session.last_seen_at >= operator::TOUCH_EVERY_MS {
            state.storage.touch_session(&hash, now).await?;
        }
        let ip = peer_ip(&parts.extensions, &parts.headers, state);
        Ok(SignedIn {
            session,
            operator,
            ip,
        })
    }
}
