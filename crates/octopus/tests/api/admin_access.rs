//! Who may call what on the admin API (issue 13), on both backends: every operator route
//! refused (403, nothing done) to each role without its permission and let through to each
//! role with it (a table of every route and the permission it needs, checked against the
//! domain's one table `Role::allows`); without a session 401, without the CSRF token 403;
//! a merchant user gets none of it. And the merchant console's API: a merchant user sees
//! its own merchant's orders, entries and keys only — another merchant's are not found, on
//! every route — and an operator's session is refused there.

use octopus_client::NewOrder;
use octopus_domain::operator::{Permission, Role};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::admin::{self, AdminSession};
use crate::helpers::{spawn_app, Backend};

/// Every operator route of the admin API, with the permission it needs. `{uid}` is an
/// order's payment_uid, `{merchant}` a merchant's uid.
pub const ROUTES: &[(&str, &str, Permission)] = &[
    (
        "GET",
        "/octopus/admin/v1/operators",
        Permission::ManageOperators,
    ),
    (
        "POST",
        "/octopus/admin/v1/operators",
        Permission::ManageOperators,
    ),
    (
        "POST",
        "/octopus/admin/v1/operators/nobody@example.com/disable",
        Permission::ManageOperators,
    ),
    (
        "POST",
        "/octopus/admin/v1/operators/nobody@example.com/enable",
        Permission::ManageOperators,
    ),
    (
        "POST",
        "/octopus/admin/v1/operators/nobody@example.com/reset",
        Permission::ManageOperators,
    ),
    (
        "GET",
        "/octopus/admin/v1/tokens",
        Permission::ManageOperators,
    ),
    (
        "POST",
        "/octopus/admin/v1/tokens",
        Permission::ManageOperators,
    ),
    (
        "DELETE",
        "/octopus/admin/v1/tokens/nothing",
        Permission::ManageOperators,
    ),
    (
        "GET",
        "/octopus/admin/v1/audit",
        Permission::ManageOperators,
    ),
    (
        "GET",
        "/octopus/admin/v1/audit.csv",
        Permission::ManageOperators,
    ),
    (
        "GET",
        "/octopus/admin/v1/merchants/{merchant}/users",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/merchants/{merchant}/users",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/orders", Permission::ReadOrders),
    (
        "GET",
        "/octopus/admin/v1/orders.csv",
        Permission::ReadOrders,
    ),
    (
        "GET",
        "/octopus/admin/v1/orders/{uid}",
        Permission::ReadOrders,
    ),
    (
        "POST",
        "/octopus/admin/v1/orders/{uid}/resend-callback",
        Permission::ResendCallbacks,
    ),
    (
        "POST",
        "/octopus/admin/v1/orders/{uid}/refund",
        Permission::MoveMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/orders/{uid}/confirm",
        Permission::MoveMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/orders/{uid}/fail",
        Permission::MoveMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/orders/{uid}/approve",
        Permission::MoveMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/orders/{uid}/reject",
        Permission::MoveMoney,
    ),
    ("GET", "/octopus/admin/v1/suspense", Permission::ReadMoney),
    (
        "POST",
        "/octopus/admin/v1/suspense/nothing/assign",
        Permission::MoveMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/suspense/nothing/returned",
        Permission::MoveMoney,
    ),
    ("GET", "/octopus/admin/v1/payouts", Permission::ReadMoney),
    (
        "GET",
        "/octopus/admin/v1/payouts.csv",
        Permission::ReadMoney,
    ),
    (
        "GET",
        "/octopus/admin/v1/payouts/review",
        Permission::ReadMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/payouts/{uid}/sent",
        Permission::MoveMoney,
    ),
    (
        "POST",
        "/octopus/admin/v1/payouts/{uid}/failed",
        Permission::MoveMoney,
    ),
    (
        "GET",
        "/octopus/admin/v1/ledger/balances?merchant_uid={merchant}",
        Permission::ReadMoney,
    ),
    (
        "GET",
        "/octopus/admin/v1/ledger/entries?merchant_uid={merchant}",
        Permission::ReadMoney,
    ),
    (
        "GET",
        "/octopus/admin/v1/ledger/entries.csv?merchant_uid={merchant}",
        Permission::ReadMoney,
    ),
    (
        "GET",
        "/octopus/admin/v1/ledger/verify",
        Permission::ReadMoney,
    ),
    ("GET", "/octopus/admin/v1/merchants", Permission::ReadSetup),
    (
        "GET",
        "/octopus/admin/v1/merchants.csv",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/merchants",
        Permission::ManageSetup,
    ),
    (
        "GET",
        "/octopus/admin/v1/merchants/{merchant}",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/merchants/{merchant}/disable",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/merchants/{merchant}/enable",
        Permission::ManageSetup,
    ),
    (
        "GET",
        "/octopus/admin/v1/merchants/{merchant}/keys",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/merchants/{merchant}/keys",
        Permission::ManageSetup,
    ),
    (
        "GET",
        "/octopus/admin/v1/merchants/{merchant}/fees",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/merchants/{merchant}/fees",
        Permission::ManageFees,
    ),
    (
        "POST",
        "/octopus/admin/v1/keys/nothing/revoke",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/keys/nothing/rotate",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/keys/nothing/allow",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/channels", Permission::ReadSetup),
    (
        "GET",
        "/octopus/admin/v1/channels/health",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/channels",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/channels/nothing/disable",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/channels/nothing/enable",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/accounts", Permission::ReadSetup),
    (
        "POST",
        "/octopus/admin/v1/accounts",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/accounts/nothing/disable",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/accounts/nothing/enable",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/devices", Permission::ReadSetup),
    ("POST", "/octopus/admin/v1/devices", Permission::ManageSetup),
    (
        "POST",
        "/octopus/admin/v1/devices/nothing/revoke",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/blocklist", Permission::ReadSetup),
    (
        "GET",
        "/octopus/admin/v1/blocklist.csv",
        Permission::ReadSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/blocklist",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/blocklist/remove",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/blocklist/import",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/velocity", Permission::ReadSetup),
    (
        "POST",
        "/octopus/admin/v1/velocity",
        Permission::ManageSetup,
    ),
    (
        "POST",
        "/octopus/admin/v1/velocity/nothing/remove",
        Permission::ManageSetup,
    ),
    ("GET", "/octopus/admin/v1/review", Permission::ReadSetup),
    ("POST", "/octopus/admin/v1/review", Permission::ManageSetup),
    (
        "POST",
        "/octopus/admin/v1/review/clear",
        Permission::ManageSetup,
    ),
];

fn method(m: &str) -> Method {
    m.parse().unwrap()
}

/// A body that is well-formed for the route (the role check comes before anything it says).
fn body_for(path: &str) -> Value {
    if path.ends_with("/operators") {
        json!({"email": "new-one@example.com", "role": "viewer"})
    } else if path.ends_with("/tokens") {
        json!({"name": "probe", "role": "viewer"})
    } else if path.ends_with("/users") {
        json!({"email": "shop-user@example.com"})
    } else if path.ends_with("/merchants") {
        json!({"name": "Probe shop"})
    } else if path.ends_with("/keys") {
        json!({"mode": "test", "label": "probe"})
    } else if path.ends_with("/fees") {
        json!({"percent": "0"})
    } else if path.ends_with("/allow") {
        json!({"allowed_ips": []})
    } else if path.ends_with("/channels") {
        json!({"code": "probe", "kind": "sandbox", "enabled": false})
    } else if path.ends_with("/accounts") {
        json!({"channel": "nothing", "method": "bank", "number": "1", "holder": "H",
            "currency": "thb"})
    } else if path.ends_with("/devices") {
        json!({"account": "nothing"})
    } else if path.ends_with("/blocklist") || path.ends_with("/blocklist/remove") {
        json!({"kind": "member_id", "value": "probe", "reason": "a probe"})
    } else if path.ends_with("/blocklist/import") {
        json!({"csv": "kind,value,reason\nmember_id,probe,a probe\n"})
    } else if path.ends_with("/velocity") {
        json!({"merchant_uid": "Mnobody", "subject": "member_id", "window": "1h",
            "max_orders": 1})
    } else if path.ends_with("/review") || path.ends_with("/review/clear") {
        json!({"currency": "thb", "above": "1000"})
    } else {
        json!({"reason": "a probe", "reference": "REF-1", "amount": "1.00", "payment_uid": "nothing"})
    }
}

/// Every route, for every role: refused exactly where `Role::allows` says so (403, and the
/// audit log unchanged), let through elsewhere; a merchant user refused everywhere; no session
/// 401; a state-changing request without the CSRF token 403.
async fn every_admin_route_is_allowed_by_role_and_only_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.merchant.clone();
    let order = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "probe-1",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap()
        .payment;
    let mut sessions: Vec<(Role, AdminSession)> = Vec::new();
    for role in Role::OPERATORS {
        let email = format!("{}@example.com", role.as_str());
        sessions.push((role, admin::operator(&app, &email, role.as_str()).await));
    }
    let shop = admin::merchant_user(&app, "shop@example.com", &m.merchant_uid).await;
    let fill = |p: &str| {
        p.replace("{uid}", &order.payment_uid)
            .replace("{merchant}", &m.merchant_uid)
    };
    let refused = json!({"result": "error", "data": "Your role does not allow this"});
    for (verb, route, permission) in ROUTES {
        let path = fill(route);
        let body = (*verb != "GET").then(|| body_for(&path));
        for (role, session) in &sessions {
            let audit_before = app.db.query_count("SELECT COUNT(*) FROM audit_log").await;
            let (status, answer) = session.call(method(verb), &path, body.clone()).await;
            if role.allows(*permission) {
                assert!(
                    status != 403 && status != 401 && status < 500,
                    "{role} {verb} {path}: {status} {answer}"
                );
            } else {
                assert_eq!((status, &answer), (403, &refused), "{role} {verb} {path}");
                assert_eq!(
                    app.db.query_count("SELECT COUNT(*) FROM audit_log").await,
                    audit_before,
                    "{role} {verb} {path}: nothing done"
                );
            }
        }
        let (status, _) = shop.call(method(verb), &path, body.clone()).await;
        assert_eq!(status, 403, "a merchant user: {verb} {path}");
        // No session at all.
        let mut bare =
            reqwest::Client::new().request(method(verb), format!("{}{path}", app.base_url));
        if let Some(b) = &body {
            bare = bare.json(b);
        }
        let (status, _) = admin::answer(bare.send().await.unwrap()).await;
        assert_eq!(status, 401, "no session: {verb} {path}");
        // A session, but a state-changing request without its CSRF token.
        if *verb != "GET" {
            let admin_session = &sessions[0].1;
            let (status, answer) = admin::answer(
                reqwest::Client::new()
                    .request(method(verb), format!("{}{path}", app.base_url))
                    .header(reqwest::header::COOKIE, &admin_session.cookie)
                    .json(body.as_ref().unwrap())
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(
                (status, answer),
                (
                    403,
                    json!({"result": "error", "data": "Missing or wrong CSRF token"})
                ),
                "without CSRF: {verb} {path}"
            );
        }
    }
    // An admin token acts with its role, without CSRF; a revoked one is refused.
    let (_, token) = sessions[0]
        .1
        .post(
            "/octopus/admin/v1/tokens",
            json!({"name": "ci", "role": "viewer"}),
        )
        .await;
    let token = token["data"]["token"].as_str().unwrap().to_string();
    let with_token = |verb: &str, path: &str| {
        let request = reqwest::Client::new()
            .request(method(verb), format!("{}{path}", app.base_url))
            .bearer_auth(&token)
            .json(&json!({"reason": "x"}));
        async move { admin::answer(request.send().await.unwrap()).await.0 }
    };
    assert_eq!(with_token("GET", "/octopus/admin/v1/orders").await, 200);
    assert_eq!(
        with_token("POST", &fill("/octopus/admin/v1/orders/{uid}/fail")).await,
        403,
        "a viewer token moves no money"
    );
    let (status, _) = sessions[0]
        .1
        .call(Method::DELETE, "/octopus/admin/v1/tokens/ci", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(with_token("GET", "/octopus/admin/v1/orders").await, 401);
}

/// Every route of the merchant console's API, and what of another merchant it can reach.
const MINE: &[(&str, &str)] = &[
    ("GET", "/octopus/admin/v1/me"),
    ("GET", "/octopus/admin/v1/me/orders"),
    ("GET", "/octopus/admin/v1/me/orders.csv"),
    ("GET", "/octopus/admin/v1/me/orders/{uid}"),
    ("POST", "/octopus/admin/v1/me/orders/{uid}/resend-callback"),
    ("GET", "/octopus/admin/v1/me/balances"),
    ("GET", "/octopus/admin/v1/me/entries"),
    ("GET", "/octopus/admin/v1/me/entries.csv"),
    ("GET", "/octopus/admin/v1/me/keys"),
    ("POST", "/octopus/admin/v1/me/keys"),
    ("POST", "/octopus/admin/v1/me/keys/{key}/revoke"),
    ("POST", "/octopus/admin/v1/me/keys/{key}/rotate"),
    ("POST", "/octopus/admin/v1/me/keys/{key}/allowlist"),
];

/// A merchant user never reaches another merchant: its order, entries and keys are not found
/// on every route naming them, the lists hold its own only; an operator's session is refused.
async fn a_merchant_user_sees_only_its_own_merchant(backend: Backend) {
    let app = spawn_app(backend).await;
    let mine = app.merchant.clone();
    let theirs = app.new_merchant("Other shop").await;
    let my_order = app
        .client
        .create_order(&NewOrder::deposit(
            &mine.merchant_uid,
            "mine-1",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap()
        .payment;
    let their_order = app
        .client_for(&theirs)
        .create_order(&NewOrder::deposit(
            &theirs.merchant_uid,
            "theirs-1",
            "20.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap()
        .payment;
    crate::helpers::pay(&format!(
        "{}/octopus/pay/{}",
        app.base_url, their_order.payment_uid
    ))
    .await;
    let user = admin::merchant_user(&app, "shop@example.com", &mine.merchant_uid).await;
    for (verb, route) in MINE {
        if !route.contains('{') {
            continue;
        }
        let path = route
            .replace("{uid}", &their_order.payment_uid)
            .replace("{key}", &theirs.api_key);
        let body = (*verb == "POST").then(|| json!({"allowed_ips": "10.0.0.1"}));
        let (status, answer) = user.call(method(verb), &path, body).await;
        assert_eq!(status, 404, "{verb} {path}: {answer}");
    }
    // The other merchant's key still works: nothing was revoked or rotated.
    assert!(app.client_for(&theirs).get_order("theirs-1").await.is_ok());
    let (_, listed) = user.get("/octopus/admin/v1/me/orders").await;
    let uids: Vec<&str> = listed["data"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["payment_uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, vec![my_order.payment_uid.as_str()]);
    // Even when asking for the other merchant by name.
    let (_, asked) = user
        .get(&format!(
            "/octopus/admin/v1/me/orders?merchant_uid={}&q=theirs-1",
            theirs.merchant_uid
        ))
        .await;
    assert_eq!(asked["data"]["orders"], json!([]));
    let (_, csv) = user.get_text("/octopus/admin/v1/me/orders.csv").await;
    assert!(!csv.contains(&their_order.payment_uid) && csv.contains(&my_order.payment_uid));
    let (_, entries) = user.get("/octopus/admin/v1/me/entries?test=true").await;
    assert_eq!(
        entries["data"]["entries"],
        json!([]),
        "the other merchant's payment is not mine"
    );
    let (_, keys) = user.get("/octopus/admin/v1/me/keys").await;
    let listed: Vec<&str> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["api_key"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&mine.api_key.as_str()));
    assert!(!listed.contains(&theirs.api_key.as_str()));
    // A key created here is the merchant's: it signs a real request; revoked, it is refused.
    let (status, created) = user
        .post(
            "/octopus/admin/v1/me/keys",
            json!({"mode": "test", "label": "shop backend"}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let fresh = crate::helpers::Creds {
        api_key: created["data"]["api_key"].as_str().unwrap().to_string(),
        api_secret: created["data"]["api_secret"].as_str().unwrap().to_string(),
        ..mine.clone()
    };
    assert_eq!(
        app.client_for(&fresh)
            .get_order("mine-1")
            .await
            .unwrap()
            .payment_uid,
        my_order.payment_uid
    );
    let (status, _) = user
        .post(
            &format!("/octopus/admin/v1/me/keys/{}/revoke", fresh.api_key),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.client_for(&fresh).get_order("mine-1").await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked key is refused within seconds"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // An operator's session is no merchant user's.
    let operator = admin::operator(&app, "boss@example.com", "admin").await;
    for (verb, route) in MINE {
        let path = route
            .replace("{uid}", &my_order.payment_uid)
            .replace("{key}", &mine.api_key);
        let body = (*verb == "POST").then(|| json!({}));
        let (status, _) = operator.call(method(verb), &path, body).await;
        assert_eq!(status, 403, "an operator: {verb} {path}");
    }
    let audit = crate::helpers::accounts::json_lines(&crate::helpers::accounts::octopus(
        &app,
        &["operator", "audit"],
    ));
    let created_line = audit.iter().find(|e| e["action"] == "key.create").unwrap();
    assert_eq!(created_line["actor"], "shop@example.com");
    assert!(
        !created_line.to_string().contains(&fresh.api_secret),
        "no secret in the log"
    );
}

crate::on_both_backends!(
    every_admin_route_is_allowed_by_role_and_only_so,
    a_merchant_user_sees_only_its_own_merchant,
);
