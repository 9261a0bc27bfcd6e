//! The operator console's setup pages: merchants (create — the keys shown once —, disable,
//! enable) and one merchant (its keys: create, revoke, rotate, allowlist; its fees; its users:
//! invite), channels (add or replace, disable, enable), own accounts and their devices
//! (enroll — the secret shown once —, revoke), and risk (blocklist entries, velocity rules,
//! review thresholds). Each page calls the admin API's setup handler for its data; bodies too
//! rich for fields (lists, numbers) are typed as the admin API's JSON.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use octopus_domain::operator::Permission;
use serde_json::Value;

use super::operator::{data, operator, page, text, ListPage, ListView};
use super::{html, query_string, segment, Cell, Field, Form};
use crate::admin::access::Admin;
use crate::admin::extract::Params;
use crate::admin::setup as api;
use crate::error::Error;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/merchants", get(merchants))
        .route("/console/merchants/{merchant_uid}", get(merchant))
        .route("/console/channels", get(channels))
        .route("/console/accounts", get(accounts))
        .route("/console/risk", get(risk))
}

fn allowed(admin: &Admin, p: Permission) -> bool {
    admin.role.allows(p)
}

/// `GET /console/merchants`: every merchant (pages of 100), a new one, disable or enable.
async fn merchants(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(paging): Params<api::Paging>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Merchants", "Merchants"), "/console/merchants");
    let found = match api::list_merchants(State(state), admin.clone(), Params(paging)).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.csv = Some("/octopus/admin/v1/merchants.csv".into());
    list.next = found["next"]
        .as_str()
        .map(|next| format!("/console/merchants?{}", query_string([("after", next)])));
    let manage = allowed(&admin, Permission::ManageSetup);
    if manage {
        list.forms.push(
            Form::post(
                "new-merchant",
                "/octopus/admin/v1/merchants",
                "Create merchant",
            )
            .field(Field::required("name", "Name (shown to payers)"))
            .show("secret"),
        );
    }
    list.table.columns = vec!["Merchant", "UID", "Created", "Actions"];
    for m in found["merchants"].as_array().into_iter().flatten() {
        let uid = text(m, "merchant_uid");
        let api = |verb: &str| format!("/octopus/admin/v1/merchants/{}/{verb}", segment(&uid));
        let forms = if manage {
            vec![
                Form::post(format!("disable-{uid}"), api("disable"), "Disable")
                    .confirm("Refuse every key of this merchant"),
                Form::post(format!("enable-{uid}"), api("enable"), "Enable"),
            ]
        } else {
            Vec::new()
        };
        list.table.rows.push(vec![
            Cell::link(
                text(m, "merchant_name"),
                format!("/console/merchants/{}", segment(&uid)),
            ),
            Cell::text(uid.clone()),
            Cell::text(text(m, "created_at")),
            Cell::forms(forms),
        ]);
    }
    html(list.render())
}

/// `GET /console/merchants/{merchant_uid}`: its keys (create, revoke, rotate, allowlist), its
/// fee schedules (set), its users (invite).
async fn merchant(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Path(uid): Path<String>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(
        page(&admin, format!("Merchant {uid}"), "Merchants"),
        "/console/merchants",
    );
    let m = match api::merchant(State(state.clone()), admin.clone(), Path(uid.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let users =
        crate::admin::operators::merchant_users(State(state), admin.clone(), Path(uid.clone()))
            .await
            .map(data)
            .unwrap_or(Value::Null);
    let manage = allowed(&admin, Permission::ManageSetup);
    let base = format!("/octopus/admin/v1/merchants/{}", segment(&uid));
    list.page.title = format!(
        "{} ({}){}",
        text(&m, "merchant_name"),
        uid,
        if m["disabled"] == true {
            " — disabled"
        } else {
            ""
        }
    );
    for f in m["fees"].as_array().into_iter().flatten() {
        list.forms.push(Form {
            id: String::new(),
            api: String::new(),
            method: "GET",
            label: format!(
                "Fee {} / {}: {}% + {} (min {}, max {})",
                text(f, "payment"),
                text(f, "accounting_type"),
                text(f, "percent"),
                text(f, "fixed"),
                text(f, "min"),
                text(f, "max")
            ),
            fields: Vec::new(),
            confirm: String::new(),
            show: "",
            then: String::new(),
        });
    }
    for u in users.as_array().into_iter().flatten() {
        list.forms.push(Form {
            id: String::new(),
            api: String::new(),
            method: "GET",
            label: format!(
                "User {}{}",
                text(u, "email"),
                if u["disabled"] == true {
                    " (disabled)"
                } else {
                    ""
                }
            ),
            fields: Vec::new(),
            confirm: String::new(),
            show: "",
            then: String::new(),
        });
    }
    if manage {
        list.forms.push(
            Form::post("new-key", format!("{base}/keys"), "Create key")
                .field(Field::required("mode", "Mode (live or test)"))
                .field(Field::optional("label", "Label"))
                .field(Field::optional("allowed_ips", "Allowed IPs (empty: any)"))
                .show("secret"),
        );
        list.forms.push(
            Form::post("invite", format!("{base}/users"), "Invite a user")
                .field(Field::required("email", "Email"))
                .show("secret"),
        );
    }
    if allowed(&admin, Permission::ManageFees) {
        list.forms.push(
            Form::post("set-fee", format!("{base}/fees"), "Set fee schedule")
                .field(Field::required("payment", "Payment (or *)"))
                .field(Field::required("accounting_type", "Accounting type (or *)"))
                .field(Field::required("percent", "Percent"))
                .field(Field::optional("fixed", "Fixed"))
                .field(Field::optional("min", "Minimum"))
                .field(Field::optional("max", "Maximum"))
                .confirm("Orders from now on pay this fee"),
        );
    }
    list.empty = "No keys.".into();
    list.table.columns = vec![
        "Key",
        "Mode",
        "Label",
        "Last used",
        "State",
        "Allowed IPs",
        "Actions",
    ];
    for k in m["keys"].as_array().into_iter().flatten() {
        let key = text(k, "api_key");
        let api = |verb: &str| format!("/octopus/admin/v1/keys/{}/{verb}", segment(&key));
        let revoked = !k["revoked_at"].is_null();
        let forms = if manage && !revoked {
            vec![
                Form::post(format!("revoke-{key}"), api("revoke"), "Revoke")
                    .confirm("Refuse this key from now on"),
                Form::post(format!("rotate-{key}"), api("rotate"), "Rotate")
                    .field(Field::required(
                        "expires_in",
                        "Old key valid for (e.g. 24h)",
                    ))
                    .show("secret"),
                Form::post(format!("allow-{key}"), api("allow"), "Set allowlist")
                    .field(Field::optional("allowed_ips", "IPs or networks")),
            ]
        } else {
            Vec::new()
        };
        list.table.rows.push(vec![
            Cell::text(key.clone()),
            Cell::text(text(k, "mode")),
            Cell::text(text(k, "label")),
            Cell::text(text(k, "last_used_at")),
            Cell::text(if revoked { "revoked" } else { "active" }),
            Cell::text(text(k, "allowed_ips")),
            Cell::forms(forms),
        ]);
    }
    html(list.render())
}

/// The channels' and accounts' health over the last hour, as the admin API answers it; when
/// it cannot be read, none (the page still lists its channels and their actions, with dashes:
/// it is where an operator disables a failing channel).
async fn last_hour(state: AppState, admin: &Admin) -> Value {
    let period = Params(api::HealthPeriod::default());
    match api::channel_health(State(state), admin.clone(), period).await {
        Ok(answer) => data(answer),
        Err(e) => {
            tracing::warn!(cause = %e, "the channels' health could not be read");
            Value::Null
        }
    }
}

/// The health cells of a channel (`account` empty) or an own account: orders, success rate,
/// time to completion and (`upstream`) its upstream calls, from the admin API's
/// `channels/health` answer. A row with no order in the period shows zeros and dashes.
fn health_cells(health: &Value, channel: &str, account: &str, upstream: bool) -> Vec<Cell> {
    let row = health["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["channel"] == channel && h["account"] == account);
    let get = |key: &str| row.map(|h| h[key].clone()).unwrap_or(Value::Null);
    let ms = |key: &str| match get(key).as_i64() {
        Some(ms) if ms >= 10_000 => format!("{} s", ms / 1000),
        Some(ms) => format!("{ms} ms"),
        None => "—".to_string(),
    };
    let count = |key: &str| get(key).as_i64().unwrap_or(0).to_string();
    let mut cells = vec![
        Cell::text(count("orders")).class("num"),
        Cell::text(get("success_rate").as_str().unwrap_or("—")).class("num"),
        Cell::text(format!(
            "{} / {}",
            ms("completion_p50_ms"),
            ms("completion_p95_ms")
        )),
    ];
    if upstream {
        cells.push(Cell::text(format!(
            "{} ({})",
            count("upstream_calls"),
            count("upstream_unanswered")
        )));
        cells.push(Cell::text(format!(
            "{} / {}",
            ms("upstream_p50_ms"),
            ms("upstream_p95_ms")
        )));
    }
    cells
}

/// `GET /console/channels`: every channel (add or replace one, disable, enable).
async fn channels(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(view): Params<ListView>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Channels", "Channels"), "/console/channels");
    let found = match api::list_channels(State(state.clone()), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let health = last_hour(state, &admin).await;
    let manage = allowed(&admin, Permission::ManageSetup);
    if manage {
        list.forms.push(
            Form::post("save-channel", "/octopus/admin/v1/channels", "Add or replace channel")
                .field(Field::json(
                    "Channel (JSON, as the admin API takes it)",
                    r#"{"code": "own-th", "kind": "accounts", "countries": ["TH"], "currencies": ["thb"], "priority": 50}"#,
                ))
                .confirm("Route orders by this channel from now on"),
        );
    }
    list.note = Some(if health.is_null() {
        "Health: not available just now.".to_string()
    } else {
        format!(
            "Health: the orders created since {} (the last hour).",
            text(&health, "since")
        )
    });
    list.table.columns = vec![
        "Code",
        "Kind",
        "State",
        "Countries",
        "Currencies",
        "Priority",
        "Orders (1 h)",
        "Success",
        "To complete p50 / p95",
        "Upstream calls (no answer)",
        "Upstream p50 / p95",
        "Actions",
    ];
    for c in found["channels"].as_array().into_iter().flatten() {
        let code = text(c, "code");
        let api = |verb: &str| format!("/octopus/admin/v1/channels/{}/{verb}", segment(&code));
        let enabled = c["enabled"] == true;
        let forms = match (manage, enabled) {
            (false, _) => Vec::new(),
            (true, true) => vec![
                Form::post(format!("disable-{code}"), api("disable"), "Disable")
                    .confirm("Route no new order to it"),
            ],
            (true, false) => vec![Form::post(
                format!("enable-{code}"),
                api("enable"),
                "Enable",
            )],
        };
        let mut row = vec![
            Cell::text(code.clone()),
            Cell::text(text(c, "kind")),
            Cell::text(if enabled { "enabled" } else { "disabled" }),
            Cell::text(text(c, "countries")),
            Cell::text(text(c, "currencies")),
            Cell::text(text(c, "priority")).class("num"),
        ];
        row.extend(health_cells(&health, &code, "", true));
        row.push(Cell::forms(forms));
        list.table.rows.push(row);
    }
    list.whole(&view, "channels.csv")
}

/// `GET /console/accounts`: the own accounts (add, disable, enable) and their devices
/// (enroll — the secret shown once —, revoke; last heartbeat, online).
async fn accounts(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(view): Params<ListView>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(
        page(&admin, "Own accounts and devices", "Accounts"),
        "/console/accounts",
    );
    let found = match api::list_accounts(
        State(state.clone()),
        admin.clone(),
        Params(Default::default()),
    )
    .await
    {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let devices = match api::list_devices(State(state.clone()), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let health = last_hour(state, &admin).await;
    let manage = allowed(&admin, Permission::ManageSetup);
    if manage {
        list.forms.push(
            Form::post("add-account", "/octopus/admin/v1/accounts", "Add account")
                .field(Field::json(
                    "Account (JSON, as the admin API takes it)",
                    r#"{"channel": "own-th", "method": "promptpay", "number": "0812345678", "holder": "Somchai Jaidee", "currency": "thb", "promptpay_id": "0812345678"}"#,
                )),
        );
        list.forms.push(
            Form::post("add-device", "/octopus/admin/v1/devices", "Enroll a device")
                .field(Field::required("account", "Account id"))
                .show("secret"),
        );
    }
    list.empty = "No own account yet.".into();
    list.table.columns = vec![
        "Account or device",
        "Channel",
        "Method",
        "Holder",
        "State",
        "Orders (1 h)",
        "Success",
        "To complete p50 / p95",
        "Actions",
    ];
    for a in found["accounts"].as_array().into_iter().flatten() {
        let id = text(a, "id");
        let api = |verb: &str| format!("/octopus/admin/v1/accounts/{}/{verb}", segment(&id));
        let enabled = a["enabled"] == true;
        let forms = match (manage, enabled) {
            (false, _) => Vec::new(),
            (true, true) => vec![Form::post(
                format!("disable-{id}"),
                api("disable"),
                "Disable",
            )],
            (true, false) => vec![Form::post(format!("enable-{id}"), api("enable"), "Enable")],
        };
        let mut row = vec![
            Cell::text(id.clone()),
            Cell::text(text(a, "channel")),
            Cell::text(text(a, "method")),
            Cell::text(text(a, "holder")),
            Cell::text(if enabled { "enabled" } else { "disabled" }),
        ];
        row.extend(health_cells(&health, &text(a, "channel"), &id, false));
        row.push(Cell::forms(forms));
        list.table.rows.push(row);
    }
    let all_devices = devices
        .as_array()
        .cloned()
        .or_else(|| devices["devices"].as_array().cloned())
        .unwrap_or_default();
    for d in &all_devices {
        let id = text(d, "device_id");
        let revoked = !d["revoked_at"].is_null();
        let forms = if manage && !revoked {
            vec![Form::post(
                format!("revoke-{id}"),
                format!("/octopus/admin/v1/devices/{}/revoke", segment(&id)),
                "Revoke",
            )
            .confirm("Refuse this device from now on")]
        } else {
            Vec::new()
        };
        let state = if revoked {
            "revoked".to_string()
        } else if d["online"] == true {
            format!("online (heartbeat {})", text(d, "last_heartbeat_at"))
        } else {
            format!("offline (heartbeat {})", text(d, "last_heartbeat_at"))
        };
        list.table.rows.push(vec![
            Cell::text(format!("device {id}")),
            Cell::text(text(d, "account")),
            Cell::text(""),
            Cell::text(""),
            Cell::text(state),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::forms(forms),
        ]);
    }
    list.whole(&view, "accounts.csv")
}

/// `GET /console/risk`: blocklist entries (add, remove), velocity rules (add, remove), review
/// thresholds (set, clear).
async fn risk(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(paging): Params<api::Paging>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Risk", "Risk"), "/console/risk");
    let first_page = paging.after.is_none();
    let blocks = match api::list_blocks(
        State(state.clone()),
        admin.clone(),
        Params(api::BlockFilter {
            after: paging.after,
            limit: paging.limit,
            ..Default::default()
        }),
    )
    .await
    {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.csv = Some("/octopus/admin/v1/blocklist.csv".into());
    list.next = blocks["next"]
        .as_str()
        .map(|next| format!("/console/risk?{}", query_string([("after", next)])));
    let rules = match api::list_rules(
        State(state.clone()),
        admin.clone(),
        Params(Default::default()),
    )
    .await
    {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let thresholds = match api::list_thresholds(State(state), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let manage = allowed(&admin, Permission::ManageSetup);
    if manage {
        list.forms.push(
            Form::post("add-block", "/octopus/admin/v1/blocklist", "Block")
                .field(Field::required(
                    "kind",
                    "Kind (payer_account, payer_name, member_id, ip, ...)",
                ))
                .field(Field::required("value", "Value"))
                .field(Field::optional(
                    "merchant_uid",
                    "Merchant (empty: every merchant)",
                ))
                .field(Field::required("reason", "Reason"))
                .field(Field::optional(
                    "expires_in",
                    "For (e.g. 30d; empty: until removed)",
                )),
        );
        list.forms.push(
            Form::post("add-rule", "/octopus/admin/v1/velocity", "Add velocity rule").field(Field::json(
                "Rule (JSON, as the admin API takes it)",
                r#"{"merchant_uid": "M...", "subject": "member_id", "type": "deposit", "window": "1h", "max_orders": 10}"#,
            )),
        );
        list.forms.push(
            Form::post(
                "set-threshold",
                "/octopus/admin/v1/review",
                "Hold payouts above",
            )
            .field(Field::required("currency", "Currency"))
            .field(Field::required("above", "Amount"))
            .field(Field::optional(
                "merchant_uid",
                "Merchant (empty: every merchant)",
            )),
        );
    }
    list.empty = "No entry, rule or threshold.".into();
    list.table.columns = vec!["What", "Scope", "Value", "Why or limit", "Actions"];
    let entries = blocks["entries"]
        .as_array()
        .or_else(|| blocks["items"].as_array())
        .cloned()
        .unwrap_or_default();
    for e in &entries {
        let forms = if manage {
            let mut remove = Form::post(
                format!("remove-{}", text(e, "id")),
                "/octopus/admin/v1/blocklist/remove",
                "Remove",
            )
            .field(Field::hidden("kind", text(e, "kind")))
            .field(Field::hidden("value", text(e, "value")))
            .confirm("Let it through again");
            if !text(e, "merchant").is_empty() {
                remove = remove.field(Field::hidden("merchant_uid", text(e, "merchant")));
            }
            vec![remove]
        } else {
            Vec::new()
        };
        list.table.rows.push(vec![
            Cell::text(format!("blocked {}", text(e, "kind"))),
            Cell::text(if text(e, "merchant").is_empty() {
                "every merchant".into()
            } else {
                text(e, "merchant")
            }),
            Cell::text(text(e, "value")),
            Cell::text(text(e, "reason")).class("wrap"),
            Cell::forms(forms),
        ]);
    }
    // The rules and thresholds (a few) with the first page of blocklist entries.
    let rules = if first_page { rules } else { Value::Null };
    let thresholds = if first_page { thresholds } else { Value::Null };
    for r in rules["rules"].as_array().into_iter().flatten() {
        let id = text(r, "id");
        let forms = if manage {
            vec![Form::post(
                format!("remove-rule-{id}"),
                format!("/octopus/admin/v1/velocity/{id}/remove"),
                "Remove",
            )
            .confirm("Stop counting it")]
        } else {
            Vec::new()
        };
        let limit = [
            (!r["max_orders"].is_null()).then(|| format!("{} orders", text(r, "max_orders"))),
            (!r["max_volume"].is_null())
                .then(|| format!("{} {}", text(r, "max_volume"), text(r, "currency"))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        list.table.rows.push(vec![
            Cell::text(format!(
                "velocity {} {}",
                text(r, "type"),
                text(r, "subject")
            )),
            Cell::text(text(r, "merchant_uid")),
            Cell::text(format!("{} s", text(r, "window_seconds"))),
            Cell::text(limit),
            Cell::forms(forms),
        ]);
    }
    let all_thresholds = thresholds
        .as_array()
        .cloned()
        .or_else(|| thresholds["thresholds"].as_array().cloned())
        .unwrap_or_default();
    for t in &all_thresholds {
        let forms = if manage {
            let mut clear = Form::post(
                format!("clear-{}-{}", text(t, "merchant_uid"), text(t, "currency")),
                "/octopus/admin/v1/review/clear",
                "Clear",
            )
            .field(Field::hidden("currency", text(t, "currency")));
            if !text(t, "merchant_uid").is_empty() {
                clear = clear.field(Field::hidden("merchant_uid", text(t, "merchant_uid")));
            }
            vec![clear]
        } else {
            Vec::new()
        };
        list.table.rows.push(vec![
            Cell::text("review payouts above"),
            Cell::text(if text(t, "merchant_uid").is_empty() {
                "every merchant".into()
            } else {
                text(t, "merchant_uid")
            }),
            Cell::text(text(t, "currency")),
            Cell::text(text(t, "above")),
            Cell::forms(forms),
        ]);
    }
    html(list.render())
}
