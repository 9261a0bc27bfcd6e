//! The consoles: the operator console at `/console` and (for merchant users) the merchant
//! console at `/merchant`. Server-rendered pages (askama, the templates in
//! `templates/console/`) with htmx for navigation and filters and one small script for forms,
//! all embedded in the binary; no external host. The consoles are built on the admin API:
//! a page gets its data by calling the admin API's handler (the same checks, the same
//! answer) and renders it; a form sends JSON to the admin API itself. Every answer carries a
//! strict Content-Security-Policy and the headers that keep it from being framed, sniffed or
//! cached.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub mod charts;
pub mod merchant;
pub mod operator;
pub mod setup;

/// Scripts, styles and images from this origin only; no inline script or style; no framing.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

const HTMX: &str = include_str!("../../templates/console/htmx.min.js");
const SCRIPT: &str = include_str!("../../templates/console/console.js");
const STYLE: &str = include_str!("../../templates/console/console.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(operator::routes())
        .merge(merchant::routes())
        .merge(setup::routes())
        .route("/console/static/{file}", get(asset))
        .route("/console/api", get(reference))
        .layer(middleware::from_fn(crate::admin::extract::refuse_nul))
        .layer(middleware::from_fn(protect))
}

/// The headers of every console answer (pages, assets, redirects).
async fn protect(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `GET /console/static/{file}`: the embedded script, htmx and the stylesheet.
async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (CONTENT_TYPE, kind),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// One operation of the reference page.
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub permission: String,
    /// (name, in, required, type, description)
    pub fields: Vec<(String, String, &'static str, String, String)>,
}

#[derive(askama::Template)]
#[template(path = "console/api.html")]
struct ReferencePage {
    page: Page,
    /// (id, heading, operations)
    groups: Vec<(String, String, Vec<Operation>)>,
}

fn type_of(schema: &serde_json::Value) -> String {
    match &schema["type"] {
        serde_json::Value::String(t) => t.clone(),
        serde_json::Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

/// `GET /console/api`: the API reference, rendered from the OpenAPI document (public: it holds
/// no secret, and merchants' developers read it).
async fn reference(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let axum::Json(doc) = crate::openapi::served(axum::extract::State(state)).await;
    let mut groups: Vec<(String, String, Vec<Operation>)> = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
            let mut fields = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                fields.push((
                    p["name"].as_str().unwrap_or_default().to_string(),
                    p["in"].as_str().unwrap_or_default().to_string(),
                    if p["required"] == true { "yes" } else { "" },
                    type_of(&p["schema"]),
                    p["description"].as_str().unwrap_or_default().to_string(),
                ));
            }
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            let required: Vec<&str> = body["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str())
                .collect();
            for (name, schema) in body["properties"].as_object().into_iter().flatten() {
                fields.push((
                    name.clone(),
                    "body".into(),
                    if required.contains(&name.as_str()) {
                        "yes"
                    } else {
                        ""
                    },
                    type_of(schema),
                    schema["description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ));
            }
            let operation = Operation {
                id: op["operationId"].as_str().unwrap_or_default().to_string(),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: op["summary"].as_str().unwrap_or_default().to_string(),
                permission: op["x-permission"].as_str().unwrap_or_default().to_string(),
                fields,
            };
            match groups.iter_mut().find(|g| g.1 == tag) {
                Some(g) => g.2.push(operation),
                None => groups.push((tag.replace(' ', "-"), tag, vec![operation])),
            }
        }
    }
    html(askama::Template::render(&ReferencePage {
        page: Page {
            title: "API reference".into(),
            console_name: "console",
            home: "/console",
            sign_in: "/console/sign-in",
            who: String::new(),
            role: String::new(),
            csrf: String::new(),
            nav: Vec::new(),
            section: "",
        },
        groups,
    }))
}

/// What the layout shows around every page.
pub struct Page {
    pub title: String,
    /// "console" or "merchant console".
    pub console_name: &'static str,
    pub home: &'static str,
    pub sign_in: &'static str,
    /// The signed-in person (empty on the sign-in page).
    pub who: String,
    pub role: String,
    pub csrf: String,
    /// (label, link) of every section the role may open.
    pub nav: Vec<(&'static str, &'static str)>,
    pub section: &'static str,
}

/// One cell of a table: text, perhaps a link, perhaps forms (row actions).
#[derive(Default)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub class: String,
    pub forms: Vec<Form>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            ..Cell::default()
        }
    }

    pub fn link(text: impl Into<String>, href: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            href: Some(href.into()),
            ..Cell::default()
        }
    }

    pub fn class(mut self, class: impl Into<String>) -> Cell {
        self.class = class.into();
        self
    }

    pub fn forms(forms: Vec<Form>) -> Cell {
        Cell {
            forms,
            ..Cell::default()
        }
    }
}

#[derive(Default)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// A field of a form.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
}

impl Field {
    pub fn required(name: &'static str, label: &'static str) -> Field {
        Field {
            name,
            label,
            kind: "text",
            required: true,
            value: String::new(),
        }
    }

    pub fn optional(name: &'static str, label: &'static str) -> Field {
        Field {
            required: false,
            ..Field::required(name, label)
        }
    }

    /// A JSON body typed as text (lists and numbers the admin API takes), with an example.
    pub fn json(label: &'static str, example: impl Into<String>) -> Field {
        Field {
            name: "_json",
            label,
            kind: "json",
            required: true,
            value: example.into(),
        }
    }

    pub fn hidden(name: &'static str, value: impl Into<String>) -> Field {
        Field {
            name,
            label: "",
            kind: "hidden",
            required: false,
            value: value.into(),
        }
    }
}

/// A form that sends its fields as JSON to an admin API route (see `console.js`); money
/// actions carry a confirmation the operator must tick.
pub struct Form {
    pub id: String,
    pub api: String,
    pub method: &'static str,
    pub label: String,
    pub fields: Vec<Field>,
    /// The confirmation's words (empty: none asked).
    pub confirm: String,
    /// What to show of the answer instead of reloading (`secret`: the data, shown once).
    pub show: &'static str,
    pub then: String,
}

impl Form {
    pub fn post(id: impl Into<String>, api: impl Into<String>, label: impl Into<String>) -> Form {
        Form {
            id: id.into(),
            api: api.into(),
            method: "POST",
            label: label.into(),
            fields: Vec::new(),
            confirm: String::new(),
            show: "",
            then: String::new(),
        }
    }

    pub fn field(mut self, field: Field) -> Form {
        self.fields.push(field);
        self
    }

    pub fn confirm(mut self, words: impl Into<String>) -> Form {
        self.confirm = words.into();
        self
    }

    pub fn show(mut self, what: &'static str) -> Form {
        self.show = what;
        self
    }

    pub fn method(mut self, method: &'static str) -> Form {
        self.method = method;
        self
    }
}

/// A filter of a list page.
pub struct Filter {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub placeholder: &'static str,
    /// (value, label): a select when not empty.
    pub options: Vec<(String, String)>,
}

impl Filter {
    pub fn text(name: &'static str, label: &'static str, value: Option<&str>) -> Filter {
        Filter {
            name,
            label,
            value: value.unwrap_or_default().to_string(),
            placeholder: "",
            options: Vec::new(),
        }
    }

    pub fn placeholder(mut self, text: &'static str) -> Filter {
        self.placeholder = text;
        self
    }

    pub fn select(
        name: &'static str,
        label: &'static str,
        value: Option<&str>,
        options: &[&str],
    ) -> Filter {
        let mut all = vec![(String::new(), "any".to_string())];
        all.extend(options.iter().map(|o| (o.to_string(), o.to_string())));
        Filter {
            options: all,
            ..Filter::text(name, label, value)
        }
    }
}

/// A page of askama, as HTML (a template that fails to render is a 500, never half a page).
pub fn html(page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(cause = %e, "a console page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Where a visitor who is not signed in goes.
pub fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// A value as one path segment (percent-encoded: an email's `/`, `?`, `#` or `%` cannot
/// point a form at another route).
pub fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A query string of the non-empty pairs.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.trim().is_empty() {
            out.append_pair(k, v.trim());
        }
    }
    out.finish()
}
