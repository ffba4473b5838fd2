//! Building the server: routes, shared state, limits, the request middleware.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data};
use actix_web::{App, HttpServer};
use anyhow::Context;
use store::Store;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::KeyCache;
use crate::body::BodyLimits;
use crate::config::Config;
use crate::fallback::Routes;
use crate::metrics::Metrics;
use crate::middleware::request_context;
use crate::problem::{ApiError, ErrorCode};
use crate::webhooks::{Deliverer, EndpointRules, SecretBox, Wake};
use crate::{clients, events, fallback, health, metrics, openapi, webhooks};

/// Every documented route.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/api/v1")
            .wrap(from_fn(crate::auth::require_key))
            .configure(clients::routes)
            .configure(events::routes)
            .configure(webhooks::routes),
    )
    .configure(health::routes)
    .configure(metrics::routes);
}

/// Opens the database; on the first start of the embedded SQLite database (no key at all),
/// creates a key for organization 1 so that a new user can try the API at once. Never on
/// PostgreSQL: production keys are created deliberately with `clients-api keys create`.
async fn open_store(config: &store::StoreConfig) -> anyhow::Result<(Store, Option<String>)> {
    let store = Store::open(config)
        .await
        .context("cannot open the database")?;
    let bootstrap = if store.is_embedded() && !store.has_api_keys().await? {
        let now = chrono::Utc::now();
        Some(
            crate::auth::create_key(&store, Some(1), "bootstrap", now)
                .await?
                .1,
        )
    } else {
        None
    };
    Ok((store, bootstrap))
}

/// A server bound to its port, ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    bootstrap_key: Option<String>,
    deliverer: Deliverer,
}

impl Application {
    /// Opens the database (running migrations) and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (store, bootstrap_key) = open_store(&config.store()).await?;
        tracing::info!(db.backend = store.backend_name(), "database ready");
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let address = listener.local_addr()?;
        let workers = config
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        // Each worker opens its own connections, on its own runtime; the ones opened to start
        // are closed here.
        let secrets = match &config.webhook_secrets_key {
            Some(key) => SecretBox::from_base64(key)?,
            None => SecretBox::from_file(&config.webhook_secrets_key_file)?,
        };
        if let Some(recorded) = store.check_webhook_key(secrets.fingerprint()).await? {
            anyhow::bail!(
                "the key of webhook secrets (fingerprint {}) is not the one this database's \
                 secrets were sealed with (fingerprint {recorded}): give every instance the same \
                 WEBHOOK_SECRETS_KEY (or key file)",
                secrets.fingerprint()
            );
        }
        let stores = store.for_workers(workers);
        drop(store);
        let metrics = Data::new(Metrics::new());
        let retention = Data::new(
            domain::lifecycle::RetentionYears::new(config.retention_years)
                .map_err(|e| anyhow::anyhow!("RETENTION_YEARS {e}"))?,
        );
        let rules = Data::new(EndpointRules {
            secrets: secrets.clone(),
            allow_private: config.webhook_allow_private_urls,
        });
        if config.webhook_allow_private_urls {
            tracing::warn!(
                "WEBHOOK_ALLOW_PRIVATE_URLS is on: webhooks may be sent to any address, private ones \
                 included (for development and tests only)"
            );
        }
        let wake = Data::new(Wake::default());
        // The delivery worker's own handle: on PostgreSQL, its connections are opened on the
        // runtime it runs on (the one that calls `run`).
        let deliverer = Deliverer::new(
            stores.background_store(webhooks::delivery::CONNECTIONS),
            config.delivery_settings(),
            secrets,
            wake.clone(),
            metrics.clone(),
        )?;
        let keys = Data::new(KeyCache::new(Duration::from_millis(
            config.auth_cache_ttl_ms,
        )));
        let spec = openapi::spec();
        let known_routes = Data::new(Routes::from_spec(&spec));
        let limits = BodyLimits {
            max_bytes: usize::try_from(config.body_limit_bytes).unwrap_or(usize::MAX),
            timeout: config.request_timeout(),
        };
        let server = HttpServer::new(move || {
            let (app, _) = App::new().into_utoipa_app().configure(routes).split_for_parts();
            app.app_data(Data::new(stores.store()))
                .app_data(metrics.clone())
                .app_data(rules.clone())
                .app_data(retention.clone())
                .app_data(wake.clone())
                .app_data(keys.clone())
                .app_data(known_routes.clone())
                .app_data(limits)
                .app_data(web::PayloadConfig::new(limits.max_bytes))
                .app_data(web::PathConfig::default().error_handler(|_, req| {
                    fallback::method_not_allowed(req)
                        .unwrap_or_else(|| ApiError::new(ErrorCode::InvalidId, "The id in the path must be a UUID, e.g. 0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90."))
                        .into()
                }))
                .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", spec.clone()))
                .default_service(web::to(fallback::unmatched))
                .wrap(from_fn(request_context))
        })
        // The request head must arrive within the request timeout too (then `408`).
        .client_request_timeout(config.request_timeout())
        // On SIGTERM/SIGINT: stop accepting, let requests in flight finish within this, exit.
        .shutdown_timeout(config.shutdown_timeout_s)
        .workers(workers)
        .listen(listener)?;
        Ok(Self {
            address,
            server: server.run(),
            bootstrap_key,
            deliverer,
        })
    }

    /// The key created on this start, when this is the first start of an embedded database.
    pub fn bootstrap_key(&self) -> Option<&str> {
        self.bootstrap_key.as_deref()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the server is stopped: on SIGTERM or SIGINT (Ctrl-C) it stops accepting
    /// connections, lets the requests in flight finish (for at most `SHUTDOWN_TIMEOUT_S`), and
    /// returns.
    /// Webhook deliveries run alongside, on the calling runtime, until the server stops.
    pub async fn run(self) -> std::io::Result<()> {
        let deliveries = tokio::spawn(self.deliverer.run());
        let served = self.server.await;
        deliveries.abort();
        served
    }
}
