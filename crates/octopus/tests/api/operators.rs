//! Operators administered with the real `octopus` binary on both backends (issue 13, its first
//! part): created with a one-time password that only its Argon2id hash keeps, listed without
//! secrets, disabled and enabled, reset; every change in the audit log with who did it, before
//! and after; the audit log refuses UPDATE and DELETE. What roles may do and when an account
//! locks is unit-tested in `octopus_domain::operator`.

use octopus_server::services::operators::password_matches;
use serde_json::Value;

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

crate::on_both_backends!(
    an_operator_is_created_listed_disabled_and_reset,
    the_audit_log_refuses_update_and_delete,
);
