//! An operator of the admin API, as the console is one: created with the CLI, its one-time
//! password changed, TOTP enrolled (for the roles that need it, or when asked) with codes
//! computed from the secret as an authenticator app does, and signed in; then JSON calls with
//! the session cookie and its CSRF token.

use octopus_server::services::two_factor;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

use super::accounts::octopus;
use super::TestApp;

/// The password every test operator chooses after its one-time one.
pub const PASSWORD: &str = "a long enough passphrase";

/// A signed-in operator.
pub struct AdminSession {
    pub base: String,
    /// The TOTP secret (base32), when enrolled.
    pub totp_secret: Option<String>,
    pub recovery_codes: Vec<String>,
    pub cookie: String,
    pub csrf: String,
}

/// The wall clock in milliseconds, as the server reads it.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A code for a sign-in after one was used now: the next step's (accepted one step early), so
/// the step just taken is never offered twice.
pub fn next_code(secret: &str) -> String {
    two_factor::code_at(secret, now_ms() + 30_000).unwrap()
}

/// An answer: status and JSON body (null when there is none).
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `POST /octopus/admin/v1/session`: (status, body, the `name=value` of the cookie set).
pub async fn sign_in(base: &str, body: Value) -> (u16, Value, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{base}/octopus/admin/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let (status, body) = answer(response).await;
    (status, body, cookie)
}

impl AdminSession {
    /// Signs in with `body` (email, password, code); panics unless it succeeds.
    pub async fn sign_in(base: &str, email: &str, body: Value) -> AdminSession {
        let (status, answer, cookie) = sign_in(base, body).await;
        assert_eq!(status, 200, "sign-in of {email}: {answer}");
        AdminSession {
            base: base.to_string(),
            totp_secret: None,
            recovery_codes: Vec::new(),
            cookie: cookie.expect("a session cookie"),
            csrf: answer["data"]["csrf_token"].as_str().unwrap().to_string(),
        }
    }

    /// A call with the session's cookie and CSRF token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// The raw answer of a GET (for CSV).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Enrols TOTP (both steps); keeps the secret and the recovery codes.
    pub async fn enrol_totp(&mut self) {
        let (status, started) = self.post("/octopus/admin/v1/session/totp", json!({})).await;
        assert_eq!(status, 200, "{started}");
        let secret = started["data"]["secret"].as_str().unwrap().to_string();
        let code = two_factor::code_at(&secret, now_ms()).unwrap();
        let (status, confirmed) = self
            .post(
                "/octopus/admin/v1/session/totp/confirm",
                json!({"enrolment": started["data"]["enrolment"], "code": code}),
            )
            .await;
        assert_eq!(status, 200, "{confirmed}");
        self.recovery_codes = confirmed["data"]["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        self.totp_secret = Some(secret);
    }
}

/// An operator of `role` ready to act: created with the CLI, its one-time password changed,
/// TOTP enrolled if the role needs it (or `totp`), signed in again (with a code).
pub async fn operator_with(app: &TestApp, email: &str, role: &str, totp: bool) -> AdminSession {
    let created = octopus(
        app,
        &["operator", "create", "--email", email, "--role", role],
    );
    ready(
        app,
        email,
        &created,
        totp || matches!(role, "admin" | "finance"),
    )
    .await
}

/// A user of the merchant `merchant_uid`, invited with the CLI, ready like an operator (TOTP
/// enrolled: merchant users need it).
pub async fn merchant_user(app: &TestApp, email: &str, merchant_uid: &str) -> AdminSession {
    let invited = octopus(
        app,
        &[
            "operator",
            "invite",
            "--email",
            email,
            "--merchant",
            merchant_uid,
        ],
    );
    ready(app, email, &invited, true).await
}

/// Signs in with the one-time sign-in `printed`, changes the password, enrols TOTP when
/// `totp`, and signs in again.
async fn ready(app: &TestApp, email: &str, printed: &str, totp: bool) -> AdminSession {
    let created: Value = serde_json::from_str(printed.trim()).unwrap();
    let base = app.base_url.clone();
    let first = created["password"].as_str().unwrap();
    let session =
        AdminSession::sign_in(&base, email, json!({"email": email, "password": first})).await;
    let (status, changed) = session
        .post(
            "/octopus/admin/v1/session/password",
            json!({"current_password": first, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let mut session =
        AdminSession::sign_in(&base, email, json!({"email": email, "password": PASSWORD})).await;
    if !totp {
        return session;
    }
    session.enrol_totp().await;
    let secret = session.totp_secret.clone().unwrap();
    let mut signed = AdminSession::sign_in(
        &base,
        email,
        json!({"email": email, "password": PASSWORD, "code": next_code(&secret)}),
    )
    .await;
    signed.totp_secret = Some(secret);
    signed.recovery_codes = std::mem::take(&mut session.recovery_codes);
    signed
}

/// [`operator_with`], TOTP where the role needs it.
pub async fn operator(app: &TestApp, email: &str, role: &str) -> AdminSession {
    operator_with(app, email, role, false).await
}
