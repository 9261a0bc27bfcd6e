//! Building and running the server: the shared state, the router, the listener, the
//! background workers, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use octopus_domain::secret_box::MasterKey;
use octopus_domain::signing::SigningKey;
use octopus_storage::Storage;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

use crate::api::keys::KeyRing;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::http::connections;
use crate::http::rate_limit::{self, RateLimiters};
use crate::master_key::{self, MasterKeyError};
use crate::services::fees::FeeBook;
use crate::services::risk::RiskBook;
use crate::services::routing::Channels;
use crate::services::OrderServices;
use crate::state::{AppInner, AppState};
use crate::{api, pages, workers};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot read the channels: {0}")]
    Channels(String),
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    /// The metrics listener, bound at build (`--metrics-listen`).
    metrics: Option<TcpListener>,
    state: AppState,
    address: SocketAddr,
    /// Most open connections (from the file limit and `max_connections`).
    connection_cap: usize,
}

impl Application {
    /// Checks the master key against the database and binds the listener.
    pub async fn build(
        config: ServerConfig,
        storage: Arc<dyn Storage>,
        master_key: MasterKey,
    ) -> Result<Application, StartError> {
        master_key::verify(storage.as_ref(), &master_key).await?;
        let file_limit = match connections::raise_file_limit() {
            Ok(limit) => {
                if limit.now > limit.before {
                    tracing::info!(
                        before = limit.before,
                        now = limit.now,
                        "raised the open file limit to its hard limit"
                    );
                }
                limit.now
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read or raise the open file limit; assuming 1024");
                1024
            }
        };
        let connection_cap =
            connections::connection_cap(file_limit, config.connections.max_connections);
        tracing::info!(
            file_limit,
            connection_cap,
            "accepting at most {connection_cap} connections at once"
        );
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartError::Listen {
            address: config.listen,
            source,
        })?;
        let public_url = config
            .public_url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| default_public_url(address))
            .trim_end_matches('/')
            .to_string();
        let channels = Channels::load(
            storage.clone(),
            master_key.clone(),
            config.sandbox_payout_delay,
            config.cache_fresh_for,
        )
        .await
        .map_err(|e| StartError::Channels(e.to_string()))?;
        let callbacks_due = Arc::new(tokio::sync::Notify::new());
        let services = OrderServices {
            orders: storage.clone(),
            accounts: storage.clone(),
            upstream_log: storage.clone(),
            channels,
            fees: FeeBook::new(storage.clone(), config.cache_fresh_for),
            risk: RiskBook::new(storage.clone(), config.cache_fresh_for),
            callbacks_due: Arc::clone(&callbacks_due),
            clock: Clock::System,
            allow_private_callbacks: config.allow_private_callbacks,
            default_deposit_ttl: config.default_deposit_ttl,
        };
        let rate_limiters = RateLimiters::new(&config.rate_limits);
        let config_metrics = config.metrics_listen;
        let state = AppState::new(AppInner {
            keys: KeyRing::new(storage.clone(), master_key.clone()),
            services,
            storage,
            config,
            public_url,
            callbacks_due,
            cashier_key: SigningKey::new(
                &master_key.derive_key(crate::pages::cashier::TOKEN_KEY_PURPOSE),
            ),
            master_key,
            rate_limiters,
            workers_running: std::sync::atomic::AtomicBool::new(false),
            draining: std::sync::atomic::AtomicBool::new(false),
        });
        let metrics = match config_metrics {
            Some(address) => Some(
                crate::metrics::bind(address)
                    .await
                    .map_err(|source| StartError::Listen { address, source })?,
            ),
            None => None,
        };
        Ok(Application {
            listener,
            metrics,
            state,
            address,
            connection_cap,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// Counts this server's readings of the channels, so a caller that changed them in storage
    /// can wait until they are in use (see `Channels::refreshes`).
    pub fn channel_refreshes(&self) -> watch::Receiver<u64> {
        self.state.services.channels.refreshes()
    }

    /// Serves until `shutdown` resolves, then drains (`connections::serve`: unready, answering
    /// for the drain delay, then requests in flight finish), then stops the workers (attempts in
    /// flight recorded, queued callbacks handed back).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let (stop_workers, stopped) = watch::channel(false);
        let mut workers = workers::orders::spawn(self.state.clone(), stopped.clone());
        workers.push(self.state.rate_limiters.spawn_sweeper(stopped.clone()));
        workers.extend(workers::callbacks::spawn(
            self.state.clone(),
            stopped.clone(),
        ));
        let running = &self.state.workers_running;
        running.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(listener) = self.metrics {
            if let Ok(bound) = listener.local_addr() {
                tracing::info!("metrics on http://{bound}/metrics");
            }
            crate::metrics::serve(listener);
            workers.push(tokio::spawn(crate::metrics::sample_gauges(
                self.state.storage.clone(),
                stopped.clone(),
            )));
        }
        let state = self.state.clone();
        // Unready from the moment shutdown begins, while requests in flight finish.
        let draining = self.state.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("stopping: unready; requests in flight finish, then the workers stop");
            draining
                .draining
                .store(true, std::sync::atomic::Ordering::Relaxed);
        };
        let limits = self.state.config.connections;
        let drain_delay = self.state.config.drain_delay;
        let served = connections::serve(
            self.listener,
            router(self.state),
            limits,
            self.connection_cap,
            drain_delay,
            shutdown,
        )
        .await;
        state
            .workers_running
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = stop_workers.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        served.map_err(StartError::Serve)
    }
}

fn default_public_url(address: SocketAddr) -> String {
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if address.is_ipv6() {
        format!("[{}]", address.ip())
    } else {
        address.ip().to_string()
    };
    format!("http://{host}:{}", address.port())
}

pub fn router(state: AppState) -> Router {
    // Per client IP, before the route reads anything (the merchant API's limit is per key,
    // in `SignedRequest`; the cashier's is inside its own headers' layer).
    let per_ip = |limiter| {
        middleware::from_fn_with_state(
            rate_limit::PerIp::new(limiter, &state.config.trusted_proxies),
            rate_limit::per_ip,
        )
    };
    let limiters = &state.rate_limiters;
    Router::new()
        .route("/healthz", get(healthz))
        .merge(api::merchant::routes())
        // Sign-ins cost a password check each: the admin API shares the pages' per-IP limit.
        .merge(crate::admin::routes().layer(per_ip(&limiters.pages)))
        .merge(crate::console::routes().layer(per_ip(&limiters.pages)))
        .route("/octopus/openapi.json", get(crate::openapi::served))
        .merge(pages::cashier::routes(rate_limit::PerIp::new(
            &limiters.pages,
            &state.config.trusted_proxies,
        )))
        .merge(api::postbacks::routes().layer(per_ip(&limiters.postbacks)))
        .merge(api::device::routes().layer(per_ip(&limiters.devices)))
        .route("/readyz", get(readyz))
        // Before the route layer, so a 405 is counted under its route too.
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(crate::metrics::route_of))
        .fallback(not_found)
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(crate::metrics::track))
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: whether this node should get traffic: its database answers, holds every
/// migration this build knows (a newer one, from a newer node during a rolling upgrade, is
/// fine), its background workers run, and it is not stopping (`draining`). 200
/// `{"status":"ready",...}` or 503 `{"status":"unready",...}` naming what is not; never the
/// cause's text.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let database = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.storage.schema_versions(),
    )
    .await;
    let (database, migrations) = match database {
        Ok(Ok((applied, known))) if applied >= known => ("ok", json!(applied)),
        Ok(Ok((applied, _))) => (
            "ok",
            json!(format!("{applied} applied, this build needs more")),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database did not answer");
            ("unreachable", serde_json::Value::Null)
        }
        Err(_) => ("unreachable", serde_json::Value::Null),
    };
    let workers = state
        .workers_running
        .load(std::sync::atomic::Ordering::Relaxed);
    let draining = state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let ready = database == "ok" && migrations.is_i64() && workers && !draining;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "unready" },
            "database": database,
            "migrations": migrations,
            "workers": if workers { "running" } else { "stopped" },
            "draining": draining,
        })),
    )
        .into_response()
}

/// Unknown paths, in the documented error shape.
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"result": "error", "data": "Not found"})),
    )
        .into_response()
}

/// Known paths with the wrong method, in the documented error shape.
async fn method_not_allowed(request: Request) -> Response {
    let allowed = if request.uri().path().starts_with("/octopus/api/") {
        "POST"
    } else {
        "GET or POST"
    };
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({"result": "error", "data": format!("Method not allowed: use {allowed}")})),
    )
        .into_response()
}
