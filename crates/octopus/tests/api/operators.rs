//! Operators administered with the real `octopus` binary on both backends (issue 13, its first
//! part): created with a one-time password that only its Argon2id hash keeps, listed without
//! secrets, disabled and enabled, reset; every change in the audit log with who did it, before
//! and after; the audit log refuses UPDATE and DELETE. What roles may do and when an account
//! locks is unit-tested in `octopus_domain::operator`.

use octopus_server::services::operators::password_matches;
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use serde_json::{json, Value};

use crate::helpers::accounts::{json_lines, octopus, octopus_result};
use crate::helpers::{spawn_app, Backend};

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Create, list, disable, enable and reset, each in the audit log; the printed passwords are
/// the only copies (the database keeps hashes).
async fn an_operator_is_created_listed_disabled_and_reset(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = json(&octopus(
        &app,
        &[
            "operator",
            "create",
            "--email",
            " Ops@Example.COM ",
            "--role",
            "finance",
        ],
    ));
    assert_eq!(created["email"], "ops@example.com");
    assert_eq!(created["role"], "finance");
    let first = created["password"].as_str().unwrap().to_string();
    assert_eq!(first.len(), 20);
    let stored = app
        .storage()
        .operator_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(!stored.password_hash.contains(&first));
    assert!(password_matches(&first, &stored.password_hash));
    assert!(stored.must_change_password);

    // Refused, with nothing written: the same email, an unknown role, a malformed email.
    for (args, says) in [
        (
            vec!["--email", "ops@example.com", "--role", "admin"],
            "exists already",
        ),
        (
            vec!["--email", "b@example.com", "--role", "root"],
            "unknown role 'root'",
        ),
        (
            vec!["--email", "not-an-email", "--role", "viewer"],
            "is not an email address",
        ),
    ] {
        let mut all = vec!["operator", "create"];
        all.extend(args);
        let (ok, out, err) = octopus_result(&app, &all);
        assert!(!ok && err.contains(says), "{all:?}: {out}{err}");
    }
    let listed = json_lines(&octopus(&app, &["operator", "list"]));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], "ops@example.com");
    assert_eq!(listed[0]["disabled"], false);
    assert_eq!(listed[0]["must_change_password"], true);
    assert_eq!(listed[0]["totp_enrolled"], false);
    assert!(listed[0].get("password_hash").is_none());

    let disabled = json(&octopus(
        &app,
        &["operator", "disable", "--email", "OPS@example.com"],
    ));
    assert_eq!(disabled["disabled"], true);
    assert_eq!(
        json_lines(&octopus(&app, &["operator", "list"]))[0]["disabled"],
        true
    );
    let enabled = json(&octopus(
        &app,
        &["operator", "enable", "--email", "ops@example.com"],
    ));
    assert_eq!(enabled["disabled"], false);
    let (ok, _, err) = octopus_result(&app, &["operator", "disable", "--email", "no@example.com"]);
    assert!(!ok && err.contains("no operator no@example.com"), "{err}");

    let reset = json(&octopus(
        &app,
        &["operator", "reset", "--email", "ops@example.com"],
    ));
    let second = reset["password"].as_str().unwrap();
    assert_ne!(second, first);
    let stored = app
        .storage()
        .operator_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(password_matches(second, &stored.password_hash));
    assert!(!password_matches(&first, &stored.password_hash));

    // The audit log, newest first: who, what, on what, before and after.
    let audit = json_lines(&octopus(&app, &["operator", "audit"]));
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "operator.reset",
            "operator.enable",
            "operator.disable",
            "operator.create"
        ]
    );
    for e in &audit {
        assert_eq!(
            (e["actor"].as_str(), e["target"].as_str()),
            (Some("cli"), Some("ops@example.com"))
        );
        assert!(!e.to_string().contains(&first), "no password in the log");
    }
    let disable = &audit[2];
    assert_eq!(json(disable["before"].as_str().unwrap())["disabled"], false);
    assert_eq!(json(disable["after"].as_str().unwrap())["disabled"], true);
    assert_eq!(audit[3]["before"], "");
}

/// The audit log is append-only: the database refuses to change or remove a line.
async fn the_audit_log_refuses_update_and_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    octopus(
        &app,
        &[
            "operator",
            "create",
            "--email",
            "a@example.com",
            "--role",
            "viewer",
        ],
    );
    for sql in [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
    ] {
        let refused = app.try_execute_sql(sql).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("append-only")),
            "{sql}: {refused:?}"
        );
    }
    let audit = json_lines(&octopus(&app, &["operator", "audit"]));
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor"], "cli");
}

/// A `viewer` created with the CLI; returns its one-time password.
fn viewer(app: &crate::helpers::TestApp, email: &str) -> String {
    let created = json(&octopus(
        app,
        &["operator", "create", "--email", email, "--role", "viewer"],
    ));
    created["password"].as_str().unwrap().to_string()
}

struct Answer {
    status: u16,
    body: Value,
    cookie: Option<String>,
    retry_after: Option<String>,
}

/// A request to the admin API session endpoint of `base`: `method`, a JSON body, the session
/// cookie and a CSRF token to send.
async fn session_call(
    base: &str,
    method: reqwest::Method,
    body: Option<Value>,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> Answer {
    let mut request =
        reqwest::Client::new().request(method, format!("{base}/octopus/admin/v1/session"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    let answer = request.send().await.expect("the admin API answers");
    let header = |name| {
        answer
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
    };
    let (cookie, retry_after) = (header(SET_COOKIE), header(RETRY_AFTER));
    Answer {
        status: answer.status().as_u16(),
        body: answer.json().await.unwrap_or(Value::Null),
        cookie,
        retry_after,
    }
}

async fn sign_in(base: &str, email: &str, password: &str) -> Answer {
    session_call(
        base,
        reqwest::Method::POST,
        Some(json!({"email": email, "password": password})),
        None,
        None,
    )
    .await
}

/// The `name=value` part of a Set-Cookie header, to send back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// Sign-in with the one-time password sets a session cookie (HttpOnly, SameSite=Strict) that
/// a second node on the same database knows too; a state-changing request needs the session's
/// CSRF token; signing out ends the session everywhere; a wrong password or an unknown email
/// gets one answer; every sign-in is in the audit log.
async fn an_operator_signs_in_and_out_with_a_session_every_node_knows(backend: Backend) {
    let app = spawn_app(backend).await;
    let password = viewer(&app, "view@example.com");
    let base = app.base_url.clone();

    let signed = sign_in(&base, "View@Example.com", &password).await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    let set_cookie = signed.cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let cookie = cookie_pair(&set_cookie);
    let csrf = signed.body["data"]["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(signed.body["data"]["operator"]["email"], "view@example.com");
    assert_eq!(signed.body["data"]["operator"]["role"], "viewer");
    assert!(!signed.body.to_string().contains(&password));

    let node = app.second_node().await;
    for at in [&base, &node.base_url] {
        let me = session_call(at, reqwest::Method::GET, None, Some(&cookie), None).await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.body["data"]["csrf_token"], csrf.as_str());
    }
    let nobody = session_call(&base, reqwest::Method::GET, None, None, None).await;
    assert_eq!(
        (nobody.status, nobody.body),
        (401, json!({"result": "error", "data": "Not signed in"}))
    );

    // Signing out is a change: without the token, or with another, it is refused.
    for token in [None, Some("0".repeat(64)), Some(format!("{}0", &csrf[1..]))] {
        let refused = session_call(
            &base,
            reqwest::Method::DELETE,
            None,
            Some(&cookie),
            token.as_deref(),
        )
        .await;
        assert_eq!(
            (refused.status, refused.body),
            (
                403,
                json!({"result": "error", "data": "Missing or wrong CSRF token"})
            )
        );
    }
    let out = session_call(
        &node.base_url,
        reqwest::Method::DELETE,
        None,
        Some(&cookie),
        Some(&csrf),
    )
    .await;
    assert_eq!(out.status, 200, "{}", out.body);
    for at in [&base, &node.base_url] {
        let gone = session_call(at, reqwest::Method::GET, None, Some(&cookie), None).await;
        assert_eq!(gone.status, 401);
    }

    for (email, pass) in [
        ("view@example.com", "wrong password!"),
        ("nobody@example.com", password.as_str()),
        ("", ""),
    ] {
        let failed = sign_in(&base, email, pass).await;
        assert_eq!(
            (failed.status, failed.body),
            (
                401,
                json!({"result": "error", "data": "Invalid email, password or code"})
            ),
            "{email}"
        );
        assert!(failed.cookie.is_none());
    }
    let audit = json_lines(&octopus(&app, &["operator", "audit"]));
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "sign_in.failed",
            "sign_in.failed",
            "sign_in.failed",
            "sign_out",
            "sign_in",
            "operator.create"
        ]
    );
    // Newest first: the empty email, the unknown one, the wrong password — by nobody in
    // particular, what they claimed as the target.
    let failed: Vec<(&str, &str)> = audit[..3]
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        vec![
            ("", "invalid"),
            ("", "nobody@example.com"),
            ("", "view@example.com")
        ]
    );
    assert!(!audit
        .iter()
        .any(|e| e.to_string().contains("wrong password!")));
    assert_eq!(audit[4]["actor"], "view@example.com");
    assert_eq!(audit[4]["ip"], "127.0.0.1");
}

/// Five failed sign-ins within 15 minutes lock the account for 15 minutes: the right password
/// is refused too (429, `Retry-After`), until `operator reset` lifts the lock.
async fn five_failed_sign_ins_lock_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let password = viewer(&app, "lock@example.com");
    let base = app.base_url.clone();
    for _ in 0..5 {
        assert_eq!(
            sign_in(&base, "lock@example.com", "not the password")
                .await
                .status,
            401
        );
    }
    let locked = sign_in(&base, "lock@example.com", &password).await;
    assert_eq!(
        (locked.status, &locked.body),
        (
            429,
            &json!({"result": "error", "data": "Too many requests"})
        )
    );
    let wait: u64 = locked.retry_after.unwrap().parse().unwrap();
    assert!((890..=900).contains(&wait), "{wait}");
    assert!(locked.cookie.is_none());
    let audit = json_lines(&octopus(&app, &["operator", "audit", "--limit", "1"]));
    assert_eq!(
        (audit[0]["action"].as_str(), audit[0]["target"].as_str()),
        (Some("sign_in.locked"), Some("lock@example.com"))
    );
    // An unknown email locks the same way: a lock tells nothing of who exists.
    for _ in 0..5 {
        assert_eq!(
            sign_in(&base, "ghost@example.com", "guess guess guess")
                .await
                .status,
            401
        );
    }
    assert_eq!(
        sign_in(&base, "ghost@example.com", "guess").await.status,
        429
    );
    let reset = json(&octopus(
        &app,
        &["operator", "reset", "--email", "lock@example.com"],
    ));
    let signed = sign_in(
        &base,
        "lock@example.com",
        reset["password"].as_str().unwrap(),
    )
    .await;
    assert_eq!(signed.status, 200, "{}", signed.body);
}

/// A lock lasts 15 minutes from the fifth failure, however old the first: failures 20, 19,
/// 18 and 17 minutes ago and one 6 minutes ago still lock for 9 minutes more.
async fn a_lock_counts_failures_older_than_its_window(backend: Backend) {
    let app = spawn_app(backend).await;
    let password = viewer(&app, "old@example.com");
    let now = octopus_server::clock::now_ms();
    let min = 60_000;
    for ago in [20, 19, 18, 17, 6] {
        app.execute_sql(&format!(
            "INSERT INTO sign_in_failures (email, at) VALUES ('old@example.com', {})",
            now - ago * min
        ))
        .await;
    }
    let locked = sign_in(&app.base_url, "old@example.com", &password).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    let wait: u64 = locked.retry_after.unwrap().parse().unwrap();
    assert!((530..=540).contains(&wait), "{wait}");
}

/// A disabled operator cannot sign in (the same answer as a wrong password); a reset ends its
/// sessions.
async fn a_disabled_operator_cannot_sign_in_and_a_reset_signs_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = app.base_url.clone();
    let password = viewer(&app, "d@example.com");
    octopus(&app, &["operator", "disable", "--email", "d@example.com"]);
    let refused = sign_in(&base, "d@example.com", &password).await;
    assert_eq!(
        (refused.status, refused.body),
        (
            401,
            json!({"result": "error", "data": "Invalid email, password or code"})
        )
    );
    octopus(&app, &["operator", "enable", "--email", "d@example.com"]);
    let signed = sign_in(&base, "d@example.com", &password).await;
    let cookie = cookie_pair(&signed.cookie.unwrap());
    assert_eq!(
        session_call(&base, reqwest::Method::GET, None, Some(&cookie), None)
            .await
            .status,
        200
    );
    octopus(&app, &["operator", "reset", "--email", "d@example.com"]);
    assert_eq!(
        session_call(&base, reqwest::Method::GET, None, Some(&cookie), None)
            .await
            .status,
        401
    );
}

/// The one-time password is changed with the session's CSRF token and the current password;
/// a new one too short or the same is refused; after the change every session has ended, the
/// old password no longer signs in and the new one does, no longer to be changed.
async fn a_one_time_password_is_changed_and_the_operator_signs_in_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = app.base_url.clone();
    let first = viewer(&app, "new@example.com");
    let signed = sign_in(&base, "new@example.com", &first).await;
    assert_eq!(
        signed.body["data"]["operator"]["must_change_password"],
        true
    );
    let cookie = cookie_pair(&signed.cookie.unwrap());
    let csrf = signed.body["data"]["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let change = |current: &str, new: &str, csrf: Option<String>| {
        let (base, cookie) = (base.clone(), cookie.clone());
        let body = json!({"current_password": current, "new_password": new});
        async move {
            let mut request = reqwest::Client::new()
                .post(format!("{base}/octopus/admin/v1/session/password"))
                .header(COOKIE, cookie)
                .json(&body);
            if let Some(csrf) = csrf {
                request = request.header("X-CSRF-Token", csrf);
            }
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap())
        }
    };
    let chosen = "a long enough passphrase";
    assert_eq!(change(&first, chosen, None).await.0, 403, "no CSRF token");
    assert_eq!(
        change("not it", chosen, Some(csrf.clone())).await,
        (
            403,
            json!({"result": "error", "data": "The current password is wrong"})
        )
    );
    let (status, body) = change(&first, "short", Some(csrf.clone())).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["data"]["details"]
            .as_str()
            .unwrap()
            .contains("at least 12"),
        "{body}"
    );
    assert_eq!(change(&first, &first, Some(csrf.clone())).await.0, 400);
    assert_eq!(
        change(&first, chosen, Some(csrf)).await,
        (
            200,
            json!({"result": "success", "data": "Password changed: sign in again"})
        )
    );
    assert_eq!(
        session_call(&base, reqwest::Method::GET, None, Some(&cookie), None)
            .await
            .status,
        401
    );
    assert_eq!(sign_in(&base, "new@example.com", &first).await.status, 401);
    let again = sign_in(&base, "new@example.com", chosen).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body["data"]["operator"]["must_change_password"],
        false
    );
    let audit = json_lines(&octopus(&app, &["operator", "audit"]));
    let change = audit
        .iter()
        .find(|e| e["action"] == "operator.password")
        .unwrap();
    assert_eq!(change["actor"], "new@example.com");
    assert_eq!(
        json(change["after"].as_str().unwrap())["must_change_password"],
        false
    );
    assert!(!audit.iter().any(|e| e.to_string().contains(chosen)));
}

/// A session unused for 30 minutes has ended (its last use aged in the database, as 30
/// minutes of silence would leave it); a disabled operator's sessions end at once.
async fn an_idle_session_ends_and_a_disabled_operator_is_signed_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = app.base_url.clone();
    let mut cookies = Vec::new();
    for email in ["idle@example.com", "off@example.com"] {
        let password = viewer(&app, email);
        let signed = sign_in(&base, email, &password).await;
        cookies.push(cookie_pair(&signed.cookie.unwrap()));
    }
    // 29 minutes 59 seconds unused: still on, and its use is written down.
    app.execute_sql(
        "UPDATE sessions SET last_seen_at = last_seen_at - 1799000
         WHERE operator_id = (SELECT id FROM operators WHERE email = 'idle@example.com')",
    )
    .await;
    let before = app
        .db
        .query_count("SELECT MIN(last_seen_at) FROM sessions")
        .await;
    let alive = session_call(&base, reqwest::Method::GET, None, Some(&cookies[0]), None).await;
    assert_eq!(alive.status, 200);
    assert!(
        app.db
            .query_count("SELECT MIN(last_seen_at) FROM sessions")
            .await
            > before
    );
    app.execute_sql(
        "UPDATE sessions SET last_seen_at = last_seen_at - 1800000
         WHERE operator_id = (SELECT id FROM operators WHERE email = 'idle@example.com')",
    )
    .await;
    let idle = session_call(&base, reqwest::Method::GET, None, Some(&cookies[0]), None).await;
    assert_eq!(idle.status, 401);
    let still = session_call(&base, reqwest::Method::GET, None, Some(&cookies[1]), None).await;
    assert_eq!(still.status, 200);
    octopus(&app, &["operator", "disable", "--email", "off@example.com"]);
    let off = session_call(&base, reqwest::Method::GET, None, Some(&cookies[1]), None).await;
    assert_eq!(off.status, 401);
    assert_eq!(app.db.query_count("SELECT COUNT(*) FROM sessions").await, 0);
}

/// TOTP for a finance operator: nothing is allowed until it is enrolled; enrolment answers a
/// secret with its QR code and stores nothing until a code made from it is confirmed; from
/// then on a sign-in needs a code — wrong, missing or used before is one refusal (counted
/// towards the lock) — or a recovery code, good once; a reset starts over, recovery codes gone.
async fn totp_is_enrolled_with_a_qr_code_and_needed_at_every_sign_in(backend: Backend) {
    use crate::helpers::admin::{self, next_code, AdminSession, PASSWORD};
    use octopus_server::services::two_factor::code_at;
    let app = spawn_app(backend).await;
    let base = app.base_url.clone();
    let email = "money@example.com";
    let created = json(&octopus(
        &app,
        &["operator", "create", "--email", email, "--role", "finance"],
    ));
    let first = created["password"].as_str().unwrap();
    let session =
        AdminSession::sign_in(&base, email, json!({"email": email, "password": first})).await;
    let (status, _) = session
        .post(
            "/octopus/admin/v1/session/password",
            json!({"current_password": first, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200);
    let mut session =
        AdminSession::sign_in(&base, email, json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(
        session.get("/octopus/admin/v1/audit").await,
        (
            403,
            json!({"result": "error", "data": "Enrol a TOTP authenticator first"})
        )
    );

    // The first step: a secret, its otpauth URL and QR code; nothing stored.
    let (status, started) = session
        .post("/octopus/admin/v1/session/totp", json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let data = &started["data"];
    let secret = data["secret"].as_str().unwrap().to_string();
    assert!(data["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Octopus:money%40example.com?"));
    assert!(data["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let stored = app
        .storage()
        .operator_by_email(email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.totp_secret, "");
    // The confirmation: a wrong code, or another operator's enrolment, is refused.
    let confirm = |enrolment: Value, code: String| {
        session.post(
            "/octopus/admin/v1/session/totp/confirm",
            json!({"enrolment": enrolment, "code": code}),
        )
    };
    let wrong = code_at(&secret, admin::now_ms() - 300_000).unwrap();
    let (status, body) = confirm(data["enrolment"].clone(), wrong).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        confirm(json!("v1:AAAA"), code_at(&secret, admin::now_ms()).unwrap()).await;
    assert_eq!(status, 400, "{body}");
    let now_code = code_at(&secret, admin::now_ms()).unwrap();
    let (status, confirmed) = confirm(data["enrolment"].clone(), now_code.clone()).await;
    assert_eq!(status, 200, "{confirmed}");
    let codes: Vec<String> = confirmed["data"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    let stored = app
        .storage()
        .operator_by_email(email)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.totp_secret.starts_with("v1:"), "sealed");
    assert!(!stored.totp_secret.contains(&secret));
    assert_eq!(
        app.db
            .query_count("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
            .await,
        10
    );
    // Enrolled once: a second enrolment is refused.
    assert_eq!(
        session
            .post("/octopus/admin/v1/session/totp", json!({}))
            .await
            .0,
        409
    );
    session.totp_secret = Some(secret.clone());

    // Sign-ins: no code, a wrong one, the confirming code again — one refusal each.
    let refused = json!({"result": "error", "data": "Invalid email, password or code"});
    for code in [
        json!(null),
        json!(code_at(&secret, admin::now_ms() - 300_000).unwrap()),
        json!(now_code),
    ] {
        let mut body = json!({"email": email, "password": PASSWORD});
        if !code.is_null() {
            body["code"] = code;
        }
        let (status, answer, cookie) = admin::sign_in(&base, body).await;
        assert_eq!((status, answer), (401, refused.clone()));
        assert!(cookie.is_none());
    }
    let code = next_code(&secret);
    let signed = AdminSession::sign_in(
        &base,
        email,
        json!({"email": email, "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(
        signed.get("/octopus/admin/v1/audit").await.0,
        403,
        "finance"
    );
    // The same code once more: used.
    let (status, _, _) = admin::sign_in(
        &base,
        json!({"email": email, "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(status, 401);
    // A recovery code, in any case and with spaces for dashes, once.
    let recovery = codes[3].to_uppercase().replace('-', " ");
    AdminSession::sign_in(
        &base,
        email,
        json!({"email": email, "password": PASSWORD, "code": recovery}),
    )
    .await;
    let (status, _, _) = admin::sign_in(
        &base,
        json!({"email": email, "password": PASSWORD, "code": codes[3]}),
    )
    .await;
    assert_eq!(status, 401);
    // A recovery code with the wrong password is nothing.
    let (status, _, _) = admin::sign_in(
        &base,
        json!({"email": email, "password": "not the password", "code": codes[4]}),
    )
    .await;
    assert_eq!(status, 401);
    let audit = json_lines(&octopus(&app, &["operator", "audit"]));
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"operator.totp"), "{actions:?}");
    assert!(actions.contains(&"sign_in.recovery_code"), "{actions:?}");
    let enrolled = audit
        .iter()
        .find(|e| e["action"] == "operator.totp")
        .unwrap();
    assert_eq!(
        json(enrolled["before"].as_str().unwrap())["totp_enrolled"],
        false
    );
    assert_eq!(
        json(enrolled["after"].as_str().unwrap())["totp_enrolled"],
        true
    );
    assert!(!audit.iter().any(|e| e.to_string().contains(&secret)));

    // A reset: TOTP to be enrolled again, the recovery codes gone.
    let reset = json(&octopus(&app, &["operator", "reset", "--email", email]));
    assert_eq!(
        app.db
            .query_count("SELECT COUNT(*) FROM recovery_codes")
            .await,
        0
    );
    let again = AdminSession::sign_in(
        &base,
        email,
        json!({"email": email, "password": reset["password"]}),
    )
    .await;
    assert_eq!(
        again.get("/octopus/admin/v1/session").await.1["data"]["operator"]["totp_enrolled"],
        false
    );
}

crate::on_both_backends!(
    totp_is_enrolled_with_a_qr_code_and_needed_at_every_sign_in,
    an_operator_is_created_listed_disabled_and_reset,
    the_audit_log_refuses_update_and_delete,
    an_operator_signs_in_and_out_with_a_session_every_node_knows,
    five_failed_sign_ins_lock_the_account,
    a_lock_counts_failures_older_than_its_window,
    a_disabled_operator_cannot_sign_in_and_a_reset_signs_out,
    a_one_time_password_is_changed_and_the_operator_signs_in_again,
    an_idle_session_ends_and_a_disabled_operator_is_signed_out,
);
