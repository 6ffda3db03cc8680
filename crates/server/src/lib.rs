//! The sanalpos HTTP service: the payments API, the 3D Secure round trip, health and
//! metrics, and the background janitor, under one runtime with graceful shutdown.
//!
//! [`Application::build`] opens the database, binds the port (0 picks a free one, which
//! is how the tests run many instances side by side) and returns something to run or
//! inspect; `main` stays thin.

pub mod api;
mod auth;
pub mod client_ip;
pub mod config;
pub mod error;
mod hosted;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
mod three_d;
pub mod ui;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use sanalpos_service::{BreakerConfig, PaymentService, ServiceConfig};
use sanalpos_store::{Crypto, Store};

pub use config::Config;
use metrics::Metrics;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    /// The payment service.
    pub service: PaymentService,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The mail server payment links are sent through; `None` when not configured.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The request rate limits (API keys, companies, back-office users).
    pub limiter: Arc<ratelimit::Limiter>,
    /// Proxies whose `X-Forwarded-For` is believed (see [`client_ip`]).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(String),
    /// The master key could not be loaded or created.
    #[error("master key: {0}")]
    MasterKey(String),
    /// The port could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The mail server settings cannot make a client.
    #[error("mail server: {0}")]
    Mail(String),
}

/// A built, not yet running, service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    service: PaymentService,
    base_url: String,
    webhooks: sanalpos_service::WebhookWorkerConfig,
}

/// Largest request body the API reads.
const MAX_BODY: usize = 64 * 1024;

impl Application {
    /// Opens the database (migrating it), loads the master key, binds the port.
    pub async fn build(config: Config) -> Result<Application, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
        let mailer = match &config.smtp {
            Some(smtp) => Some(Arc::new(mail::Mailer::new(smtp).map_err(StartError::Mail)?)),
            None => None,
        };
        let (crypto, _source) =
            Crypto::load(&config.data_dir).map_err(|e| StartError::MasterKey(e.to_string()))?;
        // The store logs a warning when it had to create the key file.
        let store = Store::open(&config.effective_database_url())
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen(config.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Listen(config.listen, e))?;
        let base_url = if config.public_base_url.is_empty() {
            format!("http://{addr}")
        } else {
            config.public_base_url.trim_end_matches('/').to_owned()
        };
        let service = PaymentService::start(
            store,
            crypto,
            ServiceConfig {
                public_base_url: base_url.clone(),
                three_d_ttl: config.three_d_ttl,
                unknown_grace: config.unknown_grace,
                janitor_interval: config.janitor_interval,
                provider_timeout: config.provider_timeout,
                instance_id: format!("{}-{}", addr.port(), std::process::id()),
                end_of_day: config.end_of_day,
                breaker: BreakerConfig {
                    failures: config.breaker_failures,
                    cooldown: config.breaker_cooldown,
                },
                abuse: config.abuse,
                clock: config.clock.clone(),
            },
        )
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;
        let metrics = Arc::new(Metrics::default());
        let limiter = Arc::new(ratelimit::Limiter::new(
            config.rate_limits,
            service.clone(),
            metrics.clone(),
        ));
        let state = AppState {
            service: service.clone(),
            metrics,
            mailer,
            limiter,
            trusted_proxies: config.trusted_proxies.clone().into(),
        };
        Ok(Application {
            listener,
            router: router(state),
            service,
            base_url,
            webhooks: config.webhooks.clone(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// `http://host:port` as configured or bound.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Serves `routes` beside the service's own: how `sanalpos demo` adds its shop
    /// without the service knowing about it.
    pub fn with_routes(mut self, routes: Router) -> Application {
        self.router = self.router.merge(routes);
        self
    }

    /// The service, for set-up (the demo's seeding, tests).
    pub fn service(&self) -> &PaymentService {
        &self.service
    }

    /// Serves until `shutdown` resolves, with the janitor and the end-of-day job beside
    /// it; then lets requests
    /// in flight finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let janitor = self.service.spawn_janitor(stopped.clone());
        let end_of_day = self.service.spawn_end_of_day(stopped.clone());
        let webhooks = self.service.spawn_webhook_worker(self.webhooks, stopped);
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        let _ = janitor.await;
        let _ = end_of_day.await;
        let _ = webhooks.await;
        result
    }
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/ui/dashboard") }),
        )
        // `/ui` is the back office's own root; `/ui/` (what people type) goes there too.
        .route(
            "/ui/",
            get(|| async { axum::response::Redirect::to("/ui/dashboard") }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api::router())
        .route("/3d/{token}", get(three_d::start))
        .route("/3d/{token}/return", post(three_d::finish))
        .merge(hosted::router())
        .nest("/ui", ui::router(state.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_and_secure,
        ))
        .with_state(state)
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.service.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render_with(
            &state.service.blocked_counts(),
            state.service.write_groups_undone(),
            &state.service.writer_load(),
        ),
    )
        .into_response()
}

/// Counts every answer and adds the security headers.
async fn count_and_secure(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response = error::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        )
        .into_response();
    }
    state.metrics.http_request(response.status().as_u16());
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("strict-transport-security", "max-age=31536000"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
