//! The OpenAPI 3.1 document of the merchant API and the admin API, served at
//! `/octopus/openapi.json`. It is generated from the same route tables that build the routers
//! (`api::merchant::table`, `admin::table`): a route is registered and documented by one
//! entry, so none can be left out. Parameters and bodies are described by their Rust types
//! (utoipa's `IntoParams` and `ToSchema`), the permission of each admin route is the one its
//! handler asks for (`x-permission`).

use axum::routing::MethodRouter;
use octopus_domain::operator::Permission;
use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema};

use crate::state::AppState;

/// How a route is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `OC-Key` and `OC-Signature` (the merchant documents' signing).
    Signed,
    /// A signed-in session (cookie, `X-CSRF-Token` for changes) or an admin token.
    Admin,
    /// A merchant user's session.
    MerchantUser,
    /// The session itself (signing in).
    None,
}

/// One route: its method, path, handler, and what the document says of it.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
    pub summary: &'static str,
    pub tag: &'static str,
    pub auth: Auth,
    pub permission: Option<Permission>,
    pub query: Vec<Parameter>,
    pub body: Option<RefOr<Schema>>,
    /// The answer is CSV, not JSON.
    pub csv: bool,
}

impl Route {
    pub fn new(
        method: &'static str,
        path: &'static str,
        handler: MethodRouter<AppState>,
        summary: &'static str,
    ) -> Route {
        Route {
            method,
            path,
            handler,
            summary,
            tag: "admin",
            auth: Auth::Admin,
            permission: None,
            query: Vec::new(),
            body: None,
            csv: path.contains(".csv"),
        }
    }

    pub fn tag(mut self, tag: &'static str) -> Route {
        self.tag = tag;
        self
    }

    pub fn auth(mut self, auth: Auth) -> Route {
        self.auth = auth;
        self
    }

    pub fn needs(mut self, permission: Permission) -> Route {
        self.permission = Some(permission);
        self
    }

    pub fn query<T: IntoParams>(mut self) -> Route {
        self.query = T::into_params(|| Some(ParameterIn::Query));
        self
    }

    pub fn body<T: PartialSchema>(mut self) -> Route {
        self.body = Some(T::schema());
        self
    }
}

/// The routes of a table as a router (several methods of one path merge).
pub fn router(routes: Vec<Route>) -> axum::Router<AppState> {
    routes.into_iter().fold(axum::Router::new(), |r, route| {
        r.route(route.path, route.handler)
    })
}

fn permission_name(p: Permission) -> String {
    format!("{p:?}")
}

/// The document of `routes` (every route of the merchant and admin APIs).
pub fn document(routes: &[&Route], public_url: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes {
        let mut parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
            })
            .collect();
        parameters.extend(
            r.query
                .iter()
                .map(|p| serde_json::to_value(p).unwrap_or_default()),
        );
        let security = match r.auth {
            Auth::Signed => json!([{"OC-Key": [], "OC-Signature": []}]),
            Auth::Admin => json!([{"session": []}, {"admin_token": []}]),
            Auth::MerchantUser => json!([{"session": []}]),
            Auth::None => json!([]),
        };
        let ok = if r.csv {
            json!({"description": "CSV, streamed", "content": {"text/csv": {"schema": {"type": "string"}}}})
        } else {
            json!({"description": "Success", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}}})
        };
        let error = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut operation = json!({
            "operationId": format!("{}_{}", r.method.to_lowercase(), r.path.trim_start_matches('/').replace(['/', '.', '{', '}', '-'], "_")),
            "summary": r.summary,
            "tags": [r.tag],
            "parameters": parameters,
            "security": security,
            "responses": {
                "200": ok,
                "400": error("Invalid parameters"),
                "401": error("Not signed in, or authentication failed"),
                "403": error("Not allowed (role, CSRF, IP allowlist)"),
                "404": error("Not found"),
                "409": error("Conflicts with the current state"),
                "422": error("Refused for a business reason"),
                "429": error("Too many requests (Retry-After)"),
            }
        });
        if let Some(p) = r.permission {
            operation["x-permission"] = json!(permission_name(p));
        }
        if let Some(body) = &r.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": serde_json::to_value(body).unwrap_or_default()}}
            });
        }
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Octopus",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The merchant API (signed requests, docs/api.md) and the admin API the consoles are built on (docs/admin-api.md).",
        },
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "schemas": {
                "Success": {
                    "type": "object",
                    "required": ["result", "data"],
                    "properties": {"result": {"const": "success"}, "data": {}},
                },
                "Error": {
                    "type": "object",
                    "required": ["result", "data"],
                    "properties": {
                        "result": {"const": "error"},
                        "data": {"oneOf": [
                            {"type": "string"},
                            {"type": "object", "required": ["error", "details"], "properties": {"error": {"type": "string"}, "details": {"type": "string"}}},
                        ]},
                    },
                },
            },
            "securitySchemes": {
                "OC-Key": {"type": "apiKey", "in": "header", "name": "OC-Key", "description": "Your API key."},
                "OC-Signature": {"type": "apiKey", "in": "header", "name": "OC-Signature", "description": "Lowercase hex HMAC-SHA256 of the canonical string (docs/api.md)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "octopus_session", "description": "Set by POST /octopus/admin/v1/session; changes also send X-CSRF-Token."},
                "admin_token": {"type": "http", "scheme": "bearer", "description": "octopus operator token-create"},
            },
        },
    })
}

/// `GET /octopus/openapi.json`: the document of every merchant and admin route.
pub async fn served(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<Value> {
    let (merchant, admin) = (crate::api::merchant::table(), crate::admin::table());
    let all: Vec<&Route> = merchant.iter().chain(admin.iter()).collect();
    axum::Json(document(&all, &state.public_url))
}
