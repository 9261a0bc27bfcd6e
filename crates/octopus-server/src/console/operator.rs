//! The operator console's pages (`/console/...`): the dashboard, orders (search, filters,
//! CSV of the whole filtered set) and an order's detail with its actions, the payout queue
//! and review, suspense, the ledger, the audit log, operators and admin tokens, and the
//! operator's own account (password, TOTP). Each page calls the admin API handler for its
//! data; what the role may not open is not in the navigation, and refused if asked for.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use octopus_domain::operator::Permission;
use octopus_domain::transfer::TransferStatus;
use octopus_domain::PaymentStatus;
use serde_json::Value;

use super::{charts, html, query_string, to, Cell, Field, Filter, Form, Page, Table};
use crate::admin::access::Admin;
use crate::admin::extract::Params;
use crate::admin::session::SignedIn;
use crate::admin::{money, operators, orders};
use crate::clock::{now_ms, rfc3339};
use crate::error::Error;
use crate::state::AppState;

const HOME: &str = "/console";
const SIGN_IN: &str = "/console/sign-in";
const ACCOUNT: &str = "/console/account";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(dashboard))
        .route("/console/sign-in", get(sign_in))
        .route("/console/account", get(account))
        .route("/console/orders", get(order_list))
        .route("/console/orders/{payment_uid}", get(order_page))
        .route("/console/payouts", get(payouts))
        .route("/console/suspense", get(suspense))
        .route("/console/ledger", get(ledger))
        .route("/console/audit", get(audit))
        .route("/console/operators", get(people))
}

/// The sections of the console and what opening each needs.
const SECTIONS: &[(&str, &str, Permission)] = &[
    ("Dashboard", "/console", Permission::ReadOrders),
    ("Orders", "/console/orders", Permission::ReadOrders),
    ("Payouts", "/console/payouts", Permission::ReadMoney),
    ("Suspense", "/console/suspense", Permission::ReadMoney),
    ("Ledger", "/console/ledger", Permission::ReadMoney),
    ("Merchants", "/console/merchants", Permission::ReadSetup),
    ("Channels", "/console/channels", Permission::ReadSetup),
    ("Accounts", "/console/accounts", Permission::ReadSetup),
    ("Risk", "/console/risk", Permission::ReadSetup),
    ("Audit log", "/console/audit", Permission::ManageOperators),
    (
        "Operators",
        "/console/operators",
        Permission::ManageOperators,
    ),
];

pub(super) fn page(admin: &Admin, title: impl Into<String>, section: &'static str) -> Page {
    let mut nav: Vec<(&'static str, &'static str)> = SECTIONS
        .iter()
        .filter(|(_, _, p)| admin.role.allows(*p))
        .map(|(label, link, _)| (*label, *link))
        .collect();
    nav.push(("API", "/console/api"));
    nav.push(("Account", ACCOUNT));
    Page {
        title: title.into(),
        console_name: "console",
        home: HOME,
        sign_in: SIGN_IN,
        who: admin.actor.name.clone(),
        role: admin.role.as_str().to_string(),
        csrf: admin.csrf.clone().unwrap_or_default(),
        nav,
        section,
    }
}

/// The operator of a page, or where to send the visitor instead: the sign-in when not
/// signed in, the account page while a one-time password or TOTP enrolment holds them back.
pub(super) fn operator(admin: Result<Admin, Error>) -> Result<Admin, Box<Response>> {
    match admin {
        Ok(a) if a.held_back().is_some() => Err(Box::new(to(ACCOUNT))),
        Ok(a) => Ok(a),
        Err(Error::Unauthorized(_)) => Err(Box::new(to(SIGN_IN))),
        Err(e) => Err(Box::new(axum::response::IntoResponse::into_response(e))),
    }
}

/// Rows a page of a list read whole shows.
pub(super) const WHOLE_PAGE: usize = 100;

/// The query of a list read whole ([`ListPage::whole`]): `q` (rows containing it), `page`
/// (from 1), `format=csv` (every row kept).
#[derive(serde::Deserialize, Default)]
pub(super) struct ListView {
    pub(super) q: Option<String>,
    pub(super) page: Option<usize>,
    pub(super) format: Option<String>,
}

#[derive(Template)]
#[template(path = "console/list.html")]
pub(super) struct ListPage {
    pub(super) page: Page,
    pub(super) path: String,
    pub(super) filters: Vec<Filter>,
    pub(super) forms: Vec<super::Form>,
    pub(super) table: Table,
    pub(super) empty: String,
    pub(super) csv: Option<String>,
    pub(super) next: Option<String>,
    /// Said above the next page's link (a search page that read as far as a page may).
    pub(super) note: Option<String>,
}

impl ListPage {
    pub(super) fn new(page: Page, path: &str) -> ListPage {
        ListPage {
            page,
            path: path.to_string(),
            filters: Vec::new(),
            forms: Vec::new(),
            table: Table::default(),
            empty: "Nothing here.".into(),
            csv: None,
            next: None,
            note: None,
        }
    }

    /// Ends a list read whole from the admin API (a configuration-sized one: channels,
    /// accounts and devices, operators, keys, suspense, rules): keeps the rows containing
    /// `view.q` (any cell, any case), answers them all as CSV for `view.format=csv` (the
    /// columns without the actions), or shows a page of [`WHOLE_PAGE`] of them with the
    /// filter, the next page's link and the CSV's.
    pub(super) fn whole(mut self, view: &ListView, csv_name: &str) -> Response {
        let q = view
            .q
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_lowercase();
        if !q.is_empty() {
            self.table
                .rows
                .retain(|row| row.iter().any(|cell| cell.text.to_lowercase().contains(&q)));
        }
        if view.format.as_deref() == Some("csv") {
            let keep: Vec<usize> = (0..self.table.columns.len())
                .filter(|&i| self.table.columns[i] != "Actions")
                .collect();
            let mut text = crate::admin::views::csv_line(
                &keep
                    .iter()
                    .map(|&i| self.table.columns[i])
                    .collect::<Vec<_>>(),
            );
            for row in &self.table.rows {
                let fields: Vec<&str> = keep
                    .iter()
                    .map(|&i| row.get(i).map(|c| c.text.as_str()).unwrap_or(""))
                    .collect();
                text.push_str(&crate::admin::views::csv_line(&fields));
            }
            return crate::admin::csv::response(csv_name, axum::body::Body::from(text));
        }
        let page = view.page.unwrap_or(1).max(1);
        let rows = std::mem::take(&mut self.table.rows);
        let more = rows.len() > page.saturating_mul(WHOLE_PAGE);
        self.table.rows = rows
            .into_iter()
            .skip((page - 1).saturating_mul(WHOLE_PAGE))
            .take(WHOLE_PAGE)
            .collect();
        let q = view.q.as_deref().unwrap_or_default();
        let mut filters = vec![Filter::text("q", "Contains", Some(q))];
        filters.append(&mut self.filters);
        self.filters = filters;
        let base = super::query_string([("q", q)]);
        let sep = if base.is_empty() { "" } else { "&" };
        self.csv = Some(format!("{}?{base}{sep}format=csv", self.path));
        self.next = more.then(|| format!("{}?{base}{sep}page={}", self.path, page + 1));
        html(self.render())
    }

    /// The same page saying why it could not be shown (a refused filter, a role that may not).
    pub(super) fn refused(mut self, e: Error) -> Response {
        self.empty = match &e {
            Error::Invalid(details) => format!("Invalid parameters: {details}"),
            other => other.data().as_str().unwrap_or("Refused").to_string(),
        };
        let status = e.status();
        let mut answer = html(self.render());
        *answer.status_mut() = status;
        answer
    }
}

/// What a short page of the order search says when it stopped at its window: older orders
/// were not read yet, and the next page goes on.
pub(super) fn searched_back_to(found: &Value) -> Option<String> {
    found["searched_back_to"].as_str().map(|t| {
        format!("Searched the orders created since {t}; older orders may match: the next page reads on.")
    })
}

pub(super) fn data(answer: Json<Value>) -> Value {
    let Json(mut v) = answer;
    v["data"].take()
}

pub(super) fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) fn status_cell(status: &str) -> Cell {
    Cell::text(status).class(format!("status-{status}"))
}

// ---- sign-in and account ----

#[derive(Template)]
#[template(path = "console/sign_in.html")]
pub(super) struct SignInPage {
    pub(super) page: Page,
    pub(super) then: &'static str,
}

/// `GET /console/sign-in`.
async fn sign_in() -> Response {
    html(
        SignInPage {
            page: Page {
                title: "Sign in".into(),
                console_name: "console",
                home: HOME,
                sign_in: SIGN_IN,
                who: String::new(),
                role: String::new(),
                csrf: String::new(),
                nav: Vec::new(),
                section: "",
            },
            then: HOME,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "console/account.html")]
pub(super) struct AccountPage {
    pub(super) page: Page,
    pub(super) must_change: bool,
    pub(super) totp_enrolled: bool,
    pub(super) totp_required: bool,
    pub(super) email: String,
    pub(super) role: String,
    pub(super) sign_in: &'static str,
    pub(super) home: &'static str,
}

/// `GET /console/account`: the one-time password changed, TOTP enrolled, the password.
async fn account(signed_in: Result<SignedIn, Error>) -> Response {
    let Ok(signed_in) = signed_in else {
        return to(SIGN_IN);
    };
    if !signed_in.operator.merchant_uid.is_empty() {
        return to("/merchant/account");
    }
    let o = &signed_in.operator;
    let admin_view = Admin::from_session(&signed_in);
    html(
        AccountPage {
            page: page(&admin_view, "Your account", "Account"),
            must_change: o.must_change_password,
            totp_enrolled: !o.totp_secret.is_empty(),
            totp_required: o.role.needs_totp(),
            email: o.email.clone(),
            role: o.role.as_str().into(),
            sign_in: SIGN_IN,
            home: HOME,
        }
        .render(),
    )
}

// ---- dashboard ----

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    page: Page,
    /// (id, label, value)
    tiles: Vec<(&'static str, &'static str, String)>,
    book: &'static str,
    other_book: &'static str,
    other_book_link: &'static str,
    by_hour: String,
    by_channel: String,
    success: String,
}

#[derive(serde::Deserialize, Default)]
struct Book {
    test: Option<bool>,
}

/// `GET /console[?test=true]`: the last 24 hours — volume, success rate, counts by hour and by
/// channel; devices online, callbacks failing, transfers in suspense.
async fn dashboard(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(book): Params<Book>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let p = page(&admin, "Dashboard", "Dashboard");
    if let Err(e) = admin.require(Permission::ReadOrders) {
        return ListPage::new(p, HOME).refused(e);
    }
    let test = book.test == Some(true);
    let now = now_ms();
    let since = (now / 3_600_000 - 23) * 3_600_000;
    let stats = match state.storage.order_stats(since, test).await {
        Ok(s) => s,
        Err(e) => return ListPage::new(p, HOME).refused(e.into()),
    };
    let count: i64 = stats.iter().map(|s| s.count).sum();
    let ended = |s: &octopus_storage::OrderStat| {
        matches!(
            s.status,
            PaymentStatus::Completed
                | PaymentStatus::Failed
                | PaymentStatus::Reject
                | PaymentStatus::Overdue
        )
    };
    let completed: i64 = stats
        .iter()
        .filter(|s| s.status == PaymentStatus::Completed)
        .map(|s| s.count)
        .sum();
    let closed: i64 = stats.iter().filter(|s| ended(s)).map(|s| s.count).sum();
    let rate = |done: i64, of: i64| {
        if of == 0 {
            "—".to_string()
        } else {
            format!("{:.1}%", done as f64 * 100.0 / of as f64)
        }
    };
    let mut volume: std::collections::BTreeMap<&str, rust_decimal::Decimal> = Default::default();
    for s in stats
        .iter()
        .filter(|s| s.status == PaymentStatus::Completed)
    {
        *volume.entry(s.currency.code()).or_default() += s.volume;
    }
    let volume = if volume.is_empty() {
        "0".to_string()
    } else {
        volume
            .iter()
            .map(|(c, v)| format!("{} {}", v.normalize(), c.to_uppercase()))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let failing: i64 = stats.iter().map(|s| s.callbacks_failed).sum();
    let devices = state.storage.devices().await.unwrap_or_default();
    let online = devices
        .iter()
        .filter(|d| {
            d.revoked_at.is_none() && octopus_domain::account::online(d.last_heartbeat_at, now)
        })
        .count();
    let live_devices = devices.iter().filter(|d| d.revoked_at.is_none()).count();
    let suspense = state
        .storage
        .transfers_in(TransferStatus::Suspense, 10_000)
        .await
        .map(|t| t.len())
        .unwrap_or_default();
    let mut hours = Vec::new();
    for h in 0..24 {
        let start = since + h * 3_600_000;
        let in_hour = stats.iter().filter(|s| s.hour == start);
        let (total, done) = in_hour.fold((0u64, 0u64), |(t, d), s| {
            let n = s.count as u64;
            (
                t + n,
                d + if s.status == PaymentStatus::Completed {
                    n
                } else {
                    0
                },
            )
        });
        hours.push((rfc3339(start)[11..13].to_string(), total, done));
    }
    let mut channels: std::collections::BTreeMap<String, (i64, i64, i64)> = Default::default();
    for s in &stats {
        let c = channels.entry(s.channel.clone()).or_default();
        c.0 += s.count;
        if s.status == PaymentStatus::Completed {
            c.1 += s.count;
        }
        if ended(s) {
            c.2 += s.count;
        }
    }
    let mut by_channel: Vec<(String, i64, i64, i64)> = channels
        .into_iter()
        .map(|(name, (n, done, closed))| {
            (
                if name.is_empty() {
                    "(none)".into()
                } else {
                    name
                },
                n,
                done,
                closed,
            )
        })
        .collect();
    by_channel.sort_by_key(|c| std::cmp::Reverse(c.1));
    let counts: Vec<(String, f64, String)> = by_channel
        .iter()
        .map(|(name, n, _, _)| (name.clone(), *n as f64, n.to_string()))
        .collect();
    let success: Vec<(String, f64, String)> = by_channel
        .iter()
        .map(|(name, _, done, closed)| {
            let pct = if *closed == 0 {
                0.0
            } else {
                *done as f64 * 100.0 / *closed as f64
            };
            (name.clone(), pct, rate(*done, *closed))
        })
        .collect();
    html(
        DashboardPage {
            page: p,
            tiles: vec![
                ("orders", "Orders", count.to_string()),
                ("volume", "Volume completed", volume),
                ("success-rate", "Success rate", rate(completed, closed)),
                (
                    "devices",
                    "Devices online",
                    format!("{online} of {live_devices}"),
                ),
                (
                    "callbacks-failing",
                    "Callbacks failing",
                    failing.to_string(),
                ),
                ("suspense", "Suspense waiting", suspense.to_string()),
            ],
            book: if test { "test" } else { "live" },
            other_book: if test { "live" } else { "test" },
            other_book_link: if test {
                "/console"
            } else {
                "/console?test=true"
            },
            by_hour: charts::columns("orders-by-hour", &hours),
            by_channel: charts::rows("orders-by-channel", &counts),
            success: charts::rows("success-by-channel", &success),
        }
        .render(),
    )
}

// ---- orders ----

const STATUSES: &[&str] = &[
    "pending",
    "preparing",
    "processing",
    "completed",
    "failed",
    "reject",
    "refund",
    "overdue",
];

fn filter_pairs(f: &orders::OrderFilter) -> Vec<(&'static str, String)> {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    vec![
        ("q", v(&f.q)),
        ("merchant_uid", v(&f.merchant_uid)),
        ("channel", v(&f.channel)),
        ("status", v(&f.status)),
        ("type", v(&f.transaction_type)),
        ("currency", v(&f.currency)),
        ("amount_min", v(&f.amount_min)),
        ("amount_max", v(&f.amount_max)),
        ("since", v(&f.since)),
        ("until", v(&f.until)),
        ("test", v(&f.test)),
    ]
}

/// `GET /console/orders?...` (the admin API's filters): the orders found, newest first, a page
/// at a time, with the CSV of every order the filters select.
async fn order_list(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(filter): Params<orders::OrderFilter>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Orders", "Orders"), "/console/orders");
    let f = &filter;
    list.filters = vec![
        Filter::text("q", "Any id", f.q.as_deref())
            .placeholder("merchant_order_id, payment_uid, reference"),
        Filter::text("merchant_uid", "Merchant", f.merchant_uid.as_deref()),
        Filter::text("channel", "Channel", f.channel.as_deref()),
        Filter::select("status", "Status", f.status.as_deref(), STATUSES),
        Filter::select(
            "type",
            "Type",
            f.transaction_type.as_deref(),
            &["income", "expense"],
        ),
        Filter::text("currency", "Currency", f.currency.as_deref()),
        Filter::text("amount_min", "Amount from", f.amount_min.as_deref()),
        Filter::text("amount_max", "Amount to", f.amount_max.as_deref()),
        Filter::text("since", "Since (RFC 3339)", f.since.as_deref()),
        Filter::text("until", "Until (RFC 3339)", f.until.as_deref()),
        Filter::select("test", "Test", f.test.as_deref(), &["true", "false"]),
    ];
    list.empty = "No order matches.".into();
    let pairs = filter_pairs(f);
    let found = match orders::search(State(state), admin, Params(filter.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let query = query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    list.csv = Some(format!("/octopus/admin/v1/orders.csv?{query}"));
    list.next = found["next"].as_str().map(|next| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("/console/orders?{query}{sep}after={next}")
    });
    list.note = searched_back_to(&found);
    list.table.columns = vec![
        "Created",
        "Payment UID",
        "Merchant order",
        "Merchant",
        "Type",
        "Amount",
        "Status",
        "Channel",
        "Callback",
    ];
    for o in found["orders"].as_array().into_iter().flatten() {
        let uid = text(o, "payment_uid");
        list.table.rows.push(vec![
            Cell::text(text(o, "created_at")),
            Cell::link(uid.clone(), format!("/console/orders/{uid}")),
            Cell::text(text(o, "merchant_order_id")),
            Cell::text(text(o, "merchant_name")),
            Cell::text(text(o, "transaction_type")),
            Cell::text(format!(
                "{} {}",
                text(o, "amount"),
                text(o, "currency").to_uppercase()
            ))
            .class("num"),
            status_cell(&text(o, "payment_status")),
            Cell::text(text(o, "channel")),
            Cell::text(text(o, "notify_status")),
        ]);
    }
    html(list.render())
}

#[derive(Template)]
#[template(path = "console/order.html")]
pub(super) struct OrderPage {
    pub(super) page: Page,
    pub(super) payment_uid: String,
    /// (id, label, value)
    pub(super) facts: Vec<(&'static str, &'static str, String)>,
    pub(super) forms: Vec<Form>,
    /// (id, heading, table)
    pub(super) tables: Vec<(&'static str, &'static str, Table)>,
}

/// `GET /console/orders/{payment_uid}`: the order, its history, upstream exchanges, callback
/// attempts and ledger entries, and the actions the role may take on it now.
async fn order_page(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Path(payment_uid): Path<String>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let p = page(&admin, format!("Order {payment_uid}"), "Orders");
    let detail = match orders::detail(State(state), admin.clone(), Path(payment_uid.clone())).await
    {
        Ok(answer) => data(answer),
        Err(e) => return ListPage::new(p, "/console/orders").refused(e),
    };
    let o = &detail["order"];
    let facts = order_facts(o);
    let status = text(o, "payment_status");
    let income = text(o, "transaction_type") == "income";
    let money = format!(
        "{} {}",
        text(o, "amount"),
        text(o, "currency").to_uppercase()
    );
    let api = |verb: &str| format!("/octopus/admin/v1/orders/{payment_uid}/{verb}");
    let reason = || Field::required("reason", "Reason");
    let mut forms = Vec::new();
    let open = matches!(status.as_str(), "pending" | "preparing" | "processing");
    if admin.role.allows(Permission::ResendCallbacks) && !text(o, "notify_url").is_empty() {
        forms.push(Form::post(
            "resend",
            api("resend-callback"),
            "Resend callback",
        ));
    }
    if admin.role.allows(Permission::MoveMoney) {
        if income && status == "completed" {
            forms.push(
                Form::post("refund", api("refund"), "Refund")
                    .field(reason())
                    .confirm(format!(
                        "Refund {money}: the merchant's balance gives it back"
                    )),
            );
        }
        // A late payment (补单) is the usual case: an overdue deposit can be confirmed too.
        if income && (open || status == "overdue") {
            forms.push(
                Form::post("confirm", api("confirm"), "Confirm by hand")
                    .field(Field::required("reference", "Bank reference"))
                    .field(Field::required("amount", "Amount received"))
                    .field(reason())
                    .confirm("Complete this deposit with the amount received"),
            );
        }
        if status == "preparing" && !income {
            forms.push(
                Form::post("approve", api("approve"), "Approve payout")
                    .field(reason())
                    .confirm(format!("Send {money} to the payee")),
            );
            forms.push(
                Form::post("reject", api("reject"), "Reject payout")
                    .field(reason())
                    .confirm("Reject: the hold goes back to the merchant"),
            );
        }
        if open {
            forms.push(
                Form::post("fail", api("fail"), "Fail this order")
                    .field(reason())
                    .confirm("Fail it: a payout's hold goes back to the merchant"),
            );
        }
    }
    let tables = detail_tables(&detail);
    html(
        OrderPage {
            page: p,
            payment_uid,
            facts,
            forms,
            tables,
        }
        .render(),
    )
}

/// What an order's page says of the order itself: (id, label, value), the empty left out.
pub(super) fn order_facts(o: &Value) -> Vec<(&'static str, &'static str, String)> {
    [
        ("merchant-order-id", "Merchant order", "merchant_order_id"),
        ("merchant", "Merchant", "merchant_name"),
        ("merchant-uid", "Merchant UID", "merchant_uid"),
        ("type", "Type", "transaction_type"),
        ("amount", "Amount", "amount"),
        ("final-amount", "Final amount", "final_amount"),
        ("fee", "Fee", "fee"),
        ("currency", "Currency", "currency"),
        ("status", "Status", "payment_status"),
        ("fail-reason", "Fail reason", "payment_fail_reason"),
        ("callback", "Callback", "notify_status"),
        ("accounting", "Accounting", "accounting_status"),
        ("channel", "Channel", "channel"),
        ("reference", "Reference", "reference"),
        ("payer", "Payer", "from_name"),
        ("payee", "Payee", "to_name"),
        ("payee-account", "Payee account", "to"),
        ("notify-url", "Notify URL", "notify_url"),
        ("test", "Test", "test"),
        ("created", "Created", "created_at"),
        ("updated", "Updated", "updated_at"),
    ]
    .iter()
    .map(|(id, label, key)| (*id, *label, text(o, key)))
    .filter(|(_, _, v)| !v.is_empty())
    .collect()
}

/// The tables of an order's page: its history, callback attempts, upstream exchanges (when
/// any) and ledger entries (when given).
pub(super) fn detail_tables(detail: &Value) -> Vec<(&'static str, &'static str, Table)> {
    let mut history = Table {
        columns: vec!["At", "From", "To", "Reason", "Request"],
        rows: Vec::new(),
    };
    for e in detail["status_changes"].as_array().into_iter().flatten() {
        history.rows.push(vec![
            Cell::text(text(e, "at")),
            Cell::text(text(e, "from")),
            status_cell(&text(e, "to")),
            Cell::text(text(e, "reason")).class("wrap"),
            Cell::text(text(e, "request_id")),
        ]);
    }
    let mut callbacks = Table {
        columns: vec![
            "Callback",
            "Attempt",
            "At",
            "HTTP",
            "Latency ms",
            "Error or answer",
        ],
        rows: Vec::new(),
    };
    for c in detail["callbacks"].as_array().into_iter().flatten() {
        let id = text(c, "callback_id");
        let manual = if c["manual"] == true { " (manual)" } else { "" };
        let log = c["attempt_log"].as_array().cloned().unwrap_or_default();
        if log.is_empty() {
            callbacks.rows.push(vec![
                Cell::text(format!("#{id}{manual}")),
                Cell::text("—"),
                Cell::text(text(c, "next_attempt_at")),
                Cell::text(""),
                Cell::text(""),
                Cell::text(text(c, "state")),
            ]);
        }
        for a in log {
            let said = [text(&a, "error"), text(&a, "response")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ");
            callbacks.rows.push(vec![
                Cell::text(format!("#{id}{manual}")),
                Cell::text(text(&a, "attempt")),
                Cell::text(text(&a, "at")),
                Cell::text(text(&a, "http_status")).class("num"),
                Cell::text(text(&a, "latency_ms")).class("num"),
                Cell::text(said).class("wrap"),
            ]);
        }
    }
    let mut upstream = Table {
        columns: vec!["At", "Channel", "Operation", "HTTP", "Latency ms", "Error"],
        rows: Vec::new(),
    };
    for e in detail["upstream"].as_array().into_iter().flatten() {
        upstream.rows.push(vec![
            Cell::text(text(e, "at")),
            Cell::text(text(e, "channel")),
            Cell::text(text(e, "operation")),
            Cell::text(text(e, "http_status")).class("num"),
            Cell::text(text(e, "latency_ms")).class("num"),
            Cell::text(text(e, "error")).class("wrap"),
        ]);
    }
    let mut tables = vec![
        ("history", "History", history),
        ("callbacks", "Callback attempts", callbacks),
        ("upstream", "Upstream exchanges", upstream),
    ];
    if let Some(entries) = detail["ledger_entries"].as_array() {
        let mut ledger = Table {
            columns: vec!["At", "Kind", "Amount", "Fee", "Available", "Held"],
            rows: Vec::new(),
        };
        for e in entries {
            ledger.rows.push(vec![
                Cell::text(text(e, "created_at")),
                Cell::text(text(e, "kind")),
                Cell::text(text(e, "amount")).class("num"),
                Cell::text(text(e, "fee")).class("num"),
                Cell::text(text(e, "available_change")).class("num"),
                Cell::text(text(e, "held_change")).class("num"),
            ]);
        }
        tables.push(("ledger", "Ledger entries", ledger));
    }
    tables
}

// ---- money ----

/// `GET /console/payouts[?channel=]`: payouts held for review (approve, reject), and the queue
/// of an own-accounts channel (sent, failed; the bank's CSV).
async fn payouts(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(queue): Params<money::Queue>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Payouts", "Payouts"), "/console/payouts");
    list.filters = vec![Filter::text(
        "channel",
        "Own-accounts channel",
        Some(&queue.channel),
    )];
    list.empty = "No payout waits.".into();
    let held = match money::in_review(State(state.clone()), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.table.columns = vec![
        "Created",
        "Payment UID",
        "Merchant",
        "Amount",
        "Payee",
        "Status",
        "Actions",
    ];
    let can_move = admin.role.allows(Permission::MoveMoney);
    let push = |list: &mut ListPage, o: &Value, forms: Vec<Form>| {
        let uid = text(o, "payment_uid");
        list.table.rows.push(vec![
            Cell::text(text(o, "created_at")),
            Cell::link(uid.clone(), format!("/console/orders/{uid}")),
            Cell::text(text(o, "merchant_name")),
            Cell::text(format!(
                "{} {}",
                text(o, "amount"),
                text(o, "currency").to_uppercase()
            ))
            .class("num"),
            Cell::text(text(o, "to_name")),
            status_cell(&text(o, "payment_status")),
            Cell::forms(if can_move { forms } else { Vec::new() }),
        ]);
    };
    for o in held.as_array().into_iter().flatten() {
        let uid = text(o, "payment_uid");
        let api = |verb: &str| format!("/octopus/admin/v1/orders/{uid}/{verb}");
        let forms = vec![
            Form::post(format!("approve-{uid}"), api("approve"), "Approve")
                .field(Field::required("reason", "Reason"))
                .confirm("Send it"),
            Form::post(format!("reject-{uid}"), api("reject"), "Reject")
                .field(Field::required("reason", "Reason"))
                .confirm("Reject it"),
        ];
        push(&mut list, o, forms);
    }
    if !queue.channel.trim().is_empty() {
        let channel = queue.channel.trim().to_string();
        list.csv = Some(format!(
            "/octopus/admin/v1/payouts.csv?{}",
            query_string([("channel", channel.as_str())])
        ));
        let queued = match money::payouts(State(state), admin.clone(), Params(queue.clone())).await
        {
            Ok(answer) => data(answer),
            Err(e) => return list.refused(e),
        };
        for o in queued.as_array().into_iter().flatten() {
            let uid = text(o, "payment_uid");
            let api = |verb: &str| format!("/octopus/admin/v1/payouts/{uid}/{verb}");
            let forms = vec![
                Form::post(format!("sent-{uid}"), api("sent"), "Sent")
                    .field(Field::required("reference", "Bank reference"))
                    .confirm("The bank sent it"),
                Form::post(format!("failed-{uid}"), api("failed"), "Failed")
                    .field(Field::required("reason", "Reason"))
                    .confirm("It could not be sent"),
            ];
            push(&mut list, o, forms);
        }
    }
    html(list.render())
}

/// `GET /console/suspense`: transfers no order took: assign one to a deposit, or record its
/// return to the payer.
async fn suspense(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(view): Params<ListView>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Suspense", "Suspense"), "/console/suspense");
    list.empty = "No transfer waits in suspense.".into();
    let waiting = match money::suspense(State(state), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let can_move = admin.role.allows(Permission::MoveMoney);
    list.table.columns = vec![
        "Received",
        "Transfer",
        "Account",
        "Amount",
        "Reference",
        "Payer",
        "Actions",
    ];
    for t in waiting.as_array().into_iter().flatten() {
        let id = text(t, "transfer");
        let api = |verb: &str| format!("/octopus/admin/v1/suspense/{id}/{verb}");
        let forms = if can_move {
            vec![
                Form::post(format!("assign-{id}"), api("assign"), "Assign")
                    .field(Field::required("payment_uid", "Deposit (payment_uid)"))
                    .field(Field::required("reason", "Reason"))
                    .confirm("Complete that deposit with this transfer"),
                Form::post(format!("returned-{id}"), api("returned"), "Returned")
                    .field(Field::required("reference", "Return reference"))
                    .field(Field::optional("reason", "Reason"))
                    .confirm("The money went back to the payer"),
            ]
        } else {
            Vec::new()
        };
        list.table.rows.push(vec![
            Cell::text(text(t, "occurred_at")),
            Cell::text(id.clone()),
            Cell::text(text(t, "account")),
            Cell::text(format!(
                "{} {}",
                text(t, "amount"),
                text(t, "currency").to_uppercase()
            ))
            .class("num"),
            Cell::text(text(t, "reference")),
            Cell::text(text(t, "payer_name")),
            Cell::forms(forms),
        ]);
    }
    list.whole(&view, "suspense.csv")
}

#[derive(serde::Deserialize, Default)]
struct LedgerFilter {
    merchant_uid: Option<String>,
    test: Option<String>,
    currency: Option<String>,
    before: Option<i64>,
}

/// `GET /console/ledger?merchant_uid=&test=&currency=`: a merchant's balances and entries
/// (with their CSV), and the verification of the whole journal.
async fn ledger(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(filter): Params<LedgerFilter>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Ledger", "Ledger"), "/console/ledger");
    list.filters = vec![
        Filter::text(
            "merchant_uid",
            "Merchant UID",
            filter.merchant_uid.as_deref(),
        ),
        Filter::select("test", "Book", filter.test.as_deref(), &["true", "false"]),
        Filter::text("currency", "Currency", filter.currency.as_deref()),
    ];
    list.forms.push(
        Form::post(
            "verify",
            "/octopus/admin/v1/ledger/verify",
            "Verify the journal",
        )
        .method("GET")
        .show("secret"),
    );
    list.empty = "Name a merchant to see its books.".into();
    if let Err(e) = admin.require(Permission::ReadMoney) {
        return list.refused(e);
    }
    let Some(uid) = filter.merchant_uid.clone().filter(|u| !u.trim().is_empty()) else {
        return html(list.render());
    };
    let books = money::Books {
        merchant_uid: uid.clone(),
        test: Some(filter.test.as_deref() == Some("true")),
        currency: filter.currency.clone(),
        before: filter.before,
        limit: Some(50),
    };
    let balances =
        match money::balances(State(state.clone()), admin.clone(), Params(books.clone())).await {
            Ok(answer) => data(answer),
            Err(e) => return list.refused(e),
        };
    let entries = match money::entries(State(state), admin.clone(), Params(books.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let test = if books.test == Some(true) {
        "true"
    } else {
        "false"
    };
    let currency = filter.currency.clone().unwrap_or_default();
    let query = query_string([
        ("merchant_uid", uid.as_str()),
        ("test", test),
        ("currency", currency.as_str()),
    ]);
    list.csv = Some(format!("/octopus/admin/v1/ledger/entries.csv?{query}"));
    list.next = entries["next"]
        .as_i64()
        .map(|n| format!("/console/ledger?{query}&before={n}"));
    for b in balances["balances"].as_array().into_iter().flatten() {
        list.forms.push(Form {
            id: format!("balance-{}", text(b, "currency")),
            api: String::new(),
            method: "GET",
            label: format!(
                "{}: available {}, held {}, total {}",
                text(b, "currency").to_uppercase(),
                text(b, "available"),
                text(b, "held"),
                text(b, "total")
            ),
            fields: Vec::new(),
            confirm: String::new(),
            show: "",
            then: String::new(),
        });
    }
    list.table.columns = vec![
        "At",
        "Kind",
        "Order",
        "Currency",
        "Amount",
        "Fee",
        "Available",
        "Held",
    ];
    list.empty = "No entries.".into();
    for e in entries["entries"].as_array().into_iter().flatten() {
        let uid = text(e, "payment_uid");
        list.table.rows.push(vec![
            Cell::text(text(e, "created_at")),
            Cell::text(text(e, "kind")),
            Cell::link(
                text(e, "merchant_order_id"),
                format!("/console/orders/{uid}"),
            ),
            Cell::text(text(e, "currency")),
            Cell::text(text(e, "amount")).class("num"),
            Cell::text(text(e, "fee")).class("num"),
            Cell::text(text(e, "available_after")).class("num"),
            Cell::text(text(e, "held_after")).class("num"),
        ]);
    }
    html(list.render())
}

// ---- people ----

/// `GET /console/audit?actor=&action=&target=&since=&until=`: who did what, newest first, and
/// the CSV of every line the filters select.
async fn audit(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(filter): Params<operators::AuditFilter>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Audit log", "Audit log"), "/console/audit");
    let f = &filter;
    list.filters = vec![
        Filter::text("actor", "Who", f.actor.as_deref()),
        Filter::text("action", "Action", f.action.as_deref())
            .placeholder("order, sign_in, operator.create"),
        Filter::text("target", "Target", f.target.as_deref()),
        Filter::text("since", "Since (RFC 3339)", f.since.as_deref()),
        Filter::text("until", "Until (RFC 3339)", f.until.as_deref()),
    ];
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let pairs = [
        ("actor", v(&f.actor)),
        ("action", v(&f.action)),
        ("target", v(&f.target)),
        ("since", v(&f.since)),
        ("until", v(&f.until)),
    ];
    let query = query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    let found = match operators::audit(State(state), admin, Params(filter.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.csv = Some(format!("/octopus/admin/v1/audit.csv?{query}"));
    list.next = found["next_before_id"].as_i64().map(|n| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("/console/audit?{query}{sep}before_id={n}")
    });
    list.table.columns = vec![
        "At", "Who", "Role", "IP", "Action", "Target", "Before", "After",
    ];
    for e in found["entries"].as_array().into_iter().flatten() {
        list.table.rows.push(vec![
            Cell::text(text(e, "at")),
            Cell::text(text(e, "actor")),
            Cell::text(text(e, "role")),
            Cell::text(text(e, "ip")),
            Cell::text(text(e, "action")),
            Cell::text(text(e, "target")),
            Cell::text(text(e, "before")).class("wrap"),
            Cell::text(text(e, "after")).class("wrap"),
        ]);
    }
    html(list.render())
}

/// `GET /console/operators`: operators (create with a one-time password shown once, disable,
/// enable, reset) and admin tokens (create, shown once; revoke).
async fn people(
    State(state): State<AppState>,
    admin: Result<Admin, Error>,
    Params(view): Params<ListView>,
) -> Response {
    let admin = match operator(admin) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&admin, "Operators", "Operators"), "/console/operators");
    let all = match operators::list(State(state.clone()), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let tokens = match operators::tokens(State(state), admin.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.forms.push(
        Form::post(
            "new-operator",
            "/octopus/admin/v1/operators",
            "Add operator",
        )
        .field(Field::required("email", "Email"))
        .field(Field::required(
            "role",
            "Role (admin, finance, support, viewer)",
        ))
        .show("secret"),
    );
    list.forms.push(
        Form::post("new-token", "/octopus/admin/v1/tokens", "Add admin token")
            .field(Field::required("name", "Token name"))
            .field(Field::required("role", "Role"))
            .show("secret"),
    );
    list.table.columns = vec!["Who", "Role", "State", "TOTP", "Created", "Actions"];
    for o in all.as_array().into_iter().flatten() {
        let email = text(o, "email");
        let segment = super::segment(&email);
        let api = |verb: &str| format!("/octopus/admin/v1/operators/{segment}/{verb}");
        let disabled = o["disabled"] == true;
        let mut forms = vec![
            Form::post(format!("reset-{email}"), api("reset"), "Reset sign-in")
                .confirm("A new one-time password; TOTP enrolled again")
                .show("secret"),
        ];
        forms.push(if disabled {
            Form::post(format!("enable-{email}"), api("enable"), "Enable")
        } else {
            Form::post(format!("disable-{email}"), api("disable"), "Disable")
                .confirm("Sign them out and lock them out")
        });
        list.table.rows.push(vec![
            Cell::text(email.clone()),
            Cell::text(text(o, "role")),
            Cell::text(if disabled { "disabled" } else { "active" }),
            Cell::text(if o["totp_enrolled"] == true {
                "enrolled"
            } else {
                "—"
            }),
            Cell::text(text(o, "created_at")),
            Cell::forms(forms),
        ]);
    }
    for t in tokens.as_array().into_iter().flatten() {
        let name = text(t, "name");
        let segment = super::segment(&name);
        let revoked = t["revoked"] == true;
        let forms = if revoked {
            Vec::new()
        } else {
            vec![Form::post(
                format!("revoke-{name}"),
                format!("/octopus/admin/v1/tokens/{segment}"),
                "Revoke",
            )
            .method("DELETE")
            .confirm("Refuse this token from now on")]
        };
        list.table.rows.push(vec![
            Cell::text(format!("token {name}")),
            Cell::text(text(t, "role")),
            Cell::text(if revoked { "revoked" } else { "active" }),
            Cell::text(format!("last used {}", text(t, "last_used_at"))),
            Cell::text(text(t, "created_at")),
            Cell::forms(forms),
        ]);
    }
    list.whole(&view, "operators.csv")
}
