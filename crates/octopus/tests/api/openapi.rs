//! The OpenAPI document (issue 13): served at `/octopus/openapi.json`, valid OpenAPI 3.1
//! (checked by `openapi-spec-validator` from PyPI: required where `.ci/run` sets
//! `OCTOPUS_REQUIRE_OPENAPI_VALIDATOR`), and complete: every operation it names is a real
//! route of the server (never 404 or 405), the admin routes and their permissions are
//! exactly the table the per-role test walks (`admin_access::ROUTES`), and the merchant API's
//! five endpoints are in it. The fuzzing of the running server is schemathesis, in `.ci/run`
//! (`scripts/schemathesis.sh`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_app, Backend};

fn python_validator() -> Option<()> {
    let found = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if found {
        return Some(());
    }
    assert!(
        std::env::var_os("OCTOPUS_REQUIRE_OPENAPI_VALIDATOR").is_none(),
        "OCTOPUS_REQUIRE_OPENAPI_VALIDATOR is set but python3 cannot import openapi_spec_validator"
    );
    crate::helpers::skipped("the OpenAPI validation: pip install openapi-spec-validator");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_and_names_every_route() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc: Value = reqwest::get(format!("{}/octopus/openapi.json", app.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    // The merchant API.
    for endpoint in [
        "/octopus/api/order/new",
        "/octopus/api/order/get",
        "/octopus/api/ledger/get_merchant_ledger",
        "/octopus/api/ledger/get_merchant_balance",
        "/octopus/api/ledger/get_merchant_entries",
    ] {
        let op = &paths[endpoint]["post"];
        assert!(
            op["requestBody"].is_object(),
            "{endpoint} documents its body"
        );
        assert_eq!(
            op["security"][0]["OC-Key"],
            serde_json::json!([]),
            "{endpoint}"
        );
    }
    // The operator routes with their permissions are the per-role test's table, exactly.
    let documented: BTreeSet<(String, String, String)> = operations
        .iter()
        .filter_map(|(m, p, op)| {
            op["x-permission"]
                .as_str()
                .map(|perm| (m.clone(), p.clone(), perm.to_string()))
        })
        .collect();
    let tested: BTreeSet<(String, String, String)> = crate::admin_access::ROUTES
        .iter()
        .map(|(m, p, perm)| {
            let path = p.split('?').next().unwrap();
            let path = path
                .replace("nobody@example.com", "{email}")
                .replace("/tokens/nothing", "/tokens/{name}")
                .replace("/suspense/nothing", "/suspense/{transfer}")
                .replace("/keys/nothing", "/keys/{api_key}")
                .replace("/channels/nothing", "/channels/{code}")
                .replace("/accounts/nothing", "/accounts/{id}")
                .replace("/devices/nothing", "/devices/{device_id}")
                .replace("/velocity/nothing", "/velocity/{id}")
                .replace("{uid}", "{payment_uid}")
                .replace("{merchant}", "{merchant_uid}");
            (m.to_string(), path, format!("{perm:?}"))
        })
        .collect();
    assert_eq!(
        documented, tested,
        "the documented permissions are the ones the role test checks"
    );
    // Every documented operation is a real route: never 404 (no such route) or 405.
    let http = reqwest::Client::new();
    for (method, path, _) in &operations {
        let url = format!(
            "{}{}",
            app.base_url,
            path.replace("{payment_uid}", "x")
                .replace("{email}", "x@example.com")
                .replace("{merchant_uid}", "x")
                .replace("{name}", "x")
                .replace("{transfer}", "x")
                .replace("{api_key}", "x")
                .replace("{code}", "x")
                .replace("{id}", "x")
                .replace("{device_id}", "x")
        );
        let answer = http
            .request(method.parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} is documented but answers {status}"
        );
    }
    if python_validator().is_some() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), doc.to_string()).unwrap();
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')",
            ])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the document is not valid OpenAPI: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
