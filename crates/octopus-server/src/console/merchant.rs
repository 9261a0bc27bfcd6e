//! The merchant console's pages (`/merchant/...`) for merchant users: their orders (search,
//! CSV, detail with callback attempts and resend), balances and entries of both books (CSV),
//! API keys (create — the secret shown once —, revoke, rotate, IP allowlist), test mode, and
//! the API's documentation. Each page calls the merchant console's API handler
//! (`admin::merchant`), whose merchant comes from the session: nothing of another merchant
//! can be asked for.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::operator::{
    data, detail_tables, order_facts, status_cell, text, AccountPage, ListPage, ListView,
    OrderPage, SignInPage,
};
use super::{html, query_string, to, Cell, Field, Filter, Form, Page};
use crate::admin::extract::Params;
use crate::admin::merchant::{self as api, MerchantUser};
use crate::admin::orders::OrderFilter;
use crate::admin::session::SignedIn;
use crate::error::Error;
use crate::state::AppState;

const HOME: &str = "/merchant";
const SIGN_IN: &str = "/merchant/sign-in";
const ACCOUNT: &str = "/merchant/account";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/merchant", get(order_list))
        .route("/merchant/sign-in", get(sign_in))
        .route("/merchant/account", get(account))
        .route("/merchant/orders/{payment_uid}", get(order_page))
        .route("/merchant/balances", get(balances))
        .route("/merchant/keys", get(keys))
}

const NAV: &[(&str, &str)] = &[
    ("Orders", "/merchant"),
    ("Balances", "/merchant/balances"),
    ("API keys", "/merchant/keys"),
    ("API documentation", "/console/api"),
    ("Account", ACCOUNT),
];

fn page(user: &MerchantUser, title: impl Into<String>, section: &'static str) -> Page {
    Page {
        title: title.into(),
        console_name: "merchant console",
        home: HOME,
        sign_in: SIGN_IN,
        who: user.email.clone(),
        role: user.merchant.name.clone(),
        csrf: user.csrf.clone(),
        nav: NAV.to_vec(),
        section,
    }
}

/// The merchant user of a page, or where to send the visitor instead.
fn user(user: Result<MerchantUser, Error>) -> Result<MerchantUser, Box<Response>> {
    match user {
        Ok(u) => Ok(u),
        Err(Error::Unauthorized(_)) => Err(Box::new(to(SIGN_IN))),
        // Held back (one-time password, TOTP), or an operator's session.
        Err(Error::Forbidden(_)) => Err(Box::new(to(ACCOUNT))),
        Err(e) => Err(Box::new(axum::response::IntoResponse::into_response(e))),
    }
}

/// `GET /merchant/sign-in`.
async fn sign_in() -> Response {
    html(
        SignInPage {
            page: Page {
                title: "Sign in".into(),
                console_name: "merchant console",
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

/// `GET /merchant/account`: the one-time password changed, TOTP enrolled, the password.
async fn account(signed_in: Result<SignedIn, Error>) -> Response {
    let Ok(signed_in) = signed_in else {
        return to(SIGN_IN);
    };
    let o = &signed_in.operator;
    if o.merchant_uid.is_empty() {
        return to("/console/account");
    }
    html(
        AccountPage {
            page: Page {
                title: "Your account".into(),
                console_name: "merchant console",
                home: HOME,
                sign_in: SIGN_IN,
                who: o.email.clone(),
                role: o.merchant_uid.clone(),
                csrf: signed_in.session.csrf_token.clone(),
                nav: NAV.to_vec(),
                section: "Account",
            },
            must_change: o.must_change_password,
            totp_enrolled: !o.totp_secret.is_empty(),
            totp_required: o.role.needs_totp(),
            email: o.email.clone(),
            role: "merchant".into(),
            sign_in: SIGN_IN,
            home: HOME,
        }
        .render(),
    )
}

/// `GET /merchant?...`: the merchant's orders, newest first, with the CSV of the filtered set.
async fn order_list(
    State(state): State<AppState>,
    who: Result<MerchantUser, Error>,
    Params(filter): Params<OrderFilter>,
) -> Response {
    let who = match user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&who, "Orders", "Orders"), HOME);
    let f = &filter;
    list.filters = vec![
        Filter::text("q", "Any id", f.q.as_deref()).placeholder("merchant_order_id or payment_uid"),
        Filter::select(
            "status",
            "Status",
            f.status.as_deref(),
            &[
                "pending",
                "preparing",
                "processing",
                "completed",
                "failed",
                "reject",
                "refund",
                "overdue",
            ],
        ),
        Filter::select(
            "type",
            "Type",
            f.transaction_type.as_deref(),
            &["income", "expense"],
        ),
        Filter::text("since", "Since (RFC 3339)", f.since.as_deref()),
        Filter::text("until", "Until (RFC 3339)", f.until.as_deref()),
        Filter::select("test", "Test mode", f.test.as_deref(), &["true", "false"]),
    ];
    list.empty = "No order matches.".into();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let pairs = [
        ("q", v(&f.q)),
        ("status", v(&f.status)),
        ("type", v(&f.transaction_type)),
        ("since", v(&f.since)),
        ("until", v(&f.until)),
        ("test", v(&f.test)),
    ];
    let query = query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    let found = match api::search(State(state), who, Params(filter.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.csv = Some(format!("/octopus/admin/v1/me/orders.csv?{query}"));
    list.next = found["next"].as_str().map(|next| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("{HOME}?{query}{sep}after={next}")
    });
    list.note = super::operator::searched_back_to(&found);
    list.table.columns = vec![
        "Created",
        "Payment UID",
        "Your order",
        "Type",
        "Amount",
        "Status",
        "Callback",
        "Test",
    ];
    for o in found["orders"].as_array().into_iter().flatten() {
        let uid = text(o, "payment_uid");
        list.table.rows.push(vec![
            Cell::text(text(o, "created_at")),
            Cell::link(uid.clone(), format!("/merchant/orders/{uid}")),
            Cell::text(text(o, "merchant_order_id")),
            Cell::text(text(o, "transaction_type")),
            Cell::text(format!(
                "{} {}",
                text(o, "amount"),
                text(o, "currency").to_uppercase()
            ))
            .class("num"),
            status_cell(&text(o, "payment_status")),
            Cell::text(text(o, "notify_status")),
            Cell::text(text(o, "test")),
        ]);
    }
    html(list.render())
}

/// `GET /merchant/orders/{payment_uid}`: the order, its history, callback attempts (resend)
/// and ledger entries.
async fn order_page(
    State(state): State<AppState>,
    who: Result<MerchantUser, Error>,
    Path(payment_uid): Path<String>,
) -> Response {
    let who = match user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let p = page(&who, format!("Order {payment_uid}"), "Orders");
    let detail = match api::detail(State(state), who, Path(payment_uid.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return ListPage::new(p, HOME).refused(e),
    };
    let o = &detail["order"];
    let mut forms = Vec::new();
    if !text(o, "notify_url").is_empty() {
        forms.push(Form::post(
            "resend",
            format!("/octopus/admin/v1/me/orders/{payment_uid}/resend-callback"),
            "Resend callback",
        ));
    }
    let tables = detail_tables(&detail)
        .into_iter()
        .filter(|(id, _, _)| *id != "upstream")
        .collect();
    html(
        OrderPage {
            page: p,
            payment_uid,
            facts: order_facts(o),
            forms,
            tables,
        }
        .render(),
    )
}

#[derive(serde::Deserialize, Default)]
struct BookFilter {
    test: Option<String>,
    currency: Option<String>,
    before: Option<i64>,
}

/// `GET /merchant/balances?test=&currency=`: the book's balances and entries (CSV).
async fn balances(
    State(state): State<AppState>,
    who: Result<MerchantUser, Error>,
    Params(filter): Params<BookFilter>,
) -> Response {
    let who = match user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&who, "Balances", "Balances"), "/merchant/balances");
    list.filters = vec![
        Filter::select(
            "test",
            "Test mode",
            filter.test.as_deref(),
            &["true", "false"],
        ),
        Filter::text("currency", "Currency", filter.currency.as_deref()),
    ];
    let books = api::Books {
        test: Some(filter.test.as_deref() == Some("true")),
        currency: filter.currency.clone(),
        before: filter.before,
        limit: Some(50),
    };
    let held = match api::balances(State(state.clone()), who.clone(), Params(books.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let entries = match api::entries(State(state), who.clone(), Params(books.clone())).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    let test = if books.test == Some(true) {
        "true"
    } else {
        "false"
    };
    let currency = filter.currency.clone().unwrap_or_default();
    let query = query_string([("test", test), ("currency", currency.as_str())]);
    list.csv = Some(format!("/octopus/admin/v1/me/entries.csv?{query}"));
    list.next = entries["next"]
        .as_i64()
        .map(|n| format!("/merchant/balances?{query}&before={n}"));
    for b in held["balances"].as_array().into_iter().flatten() {
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
    list.empty = "No entries yet.".into();
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
    for e in entries["entries"].as_array().into_iter().flatten() {
        let uid = text(e, "payment_uid");
        list.table.rows.push(vec![
            Cell::text(text(e, "created_at")),
            Cell::text(text(e, "kind")),
            Cell::link(
                text(e, "merchant_order_id"),
                format!("/merchant/orders/{uid}"),
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

/// `GET /merchant/keys`: the API keys (live and test), a new one (its secret shown once),
/// revoke, rotate, the IP allowlist.
async fn keys(
    State(state): State<AppState>,
    who: Result<MerchantUser, Error>,
    Params(view): Params<ListView>,
) -> Response {
    let who = match user(who) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let mut list = ListPage::new(page(&who, "API keys", "API keys"), "/merchant/keys");
    let all = match api::keys(State(state), who.clone()).await {
        Ok(answer) => data(answer),
        Err(e) => return list.refused(e),
    };
    list.forms.push(
        Form::post("new-key", "/octopus/admin/v1/me/keys", "Create key")
            .field(Field::required("mode", "Mode (live or test)"))
            .field(Field::optional("label", "Label"))
            .show("secret"),
    );
    list.table.columns = vec![
        "Key",
        "Mode",
        "Label",
        "Created",
        "Last used",
        "State",
        "Allowed IPs",
        "Actions",
    ];
    for k in all.as_array().into_iter().flatten() {
        let key = text(k, "api_key");
        let revoked = !k["revoked_at"].is_null();
        let api = |verb: &str| format!("/octopus/admin/v1/me/keys/{key}/{verb}");
        let forms = if revoked {
            Vec::new()
        } else {
            vec![
                Form::post(format!("revoke-{key}"), api("revoke"), "Revoke")
                    .confirm("Refuse this key from now on"),
                Form::post(format!("rotate-{key}"), api("rotate"), "Rotate")
                    .confirm("A new key; this one keeps working for a day")
                    .show("secret"),
                Form::post(format!("allow-{key}"), api("allowlist"), "Set allowlist").field(
                    Field::optional("allowed_ips", "IPs or networks (empty: any)"),
                ),
            ]
        };
        list.table.rows.push(vec![
            Cell::text(key.clone()),
            Cell::text(text(k, "mode")),
            Cell::text(text(k, "label")),
            Cell::text(text(k, "created_at")),
            Cell::text(text(k, "last_used_at")),
            Cell::text(if revoked {
                "revoked".to_string()
            } else if k["expires_at"].is_null() {
                "active".into()
            } else {
                format!("until {}", text(k, "expires_at"))
            }),
            Cell::text(text(k, "allowed_ips")),
            Cell::forms(forms),
        ]);
    }
    list.whole(&view, "keys.csv")
}
