//! Building the server: routes, shared state, limits, the request middleware.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data};
use actix_web::{App, HttpServer};
use anyhow::Context;
use store::Store;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::body::MAX_BODY_BYTES;
use crate::config::Config;
use crate::middleware::request_context;
use crate::problem::{ApiError, ErrorCode};
use crate::{clients, health, openapi};

/// Every documented route.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(scope("/api/v1").configure(clients::routes))
        .configure(health::routes);
}

async fn unknown_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        "No resource exists at this path.",
    ))
}

/// Opens the database; on the first start of the embedded SQLite database (no key at all),
/// creates a key for organization 1 so that a new user can try the API at once. Never on
/// PostgreSQL: production keys are created deliberately with `clients-api keys create`.
fn open_store(config: &store::StoreConfig) -> anyhow::Result<(Store, Option<String>)> {
    let store = Store::open(config).context("cannot open the database")?;
    let bootstrap = if store.is_embedded() && !store.has_api_keys()? {
        Some(crate::auth::create_key(&store, Some(1), "bootstrap", chrono::Utc::now())?.1)
    } else {
        None
    };
    Ok((store, bootstrap))
}

/// A server bound to its port, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    bootstrap_key: Option<String>,
}

impl Application {
    /// Opens the database (running migrations) and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store_config = config.store();
        let (store, bootstrap_key) =
            tokio::task::spawn_blocking(move || open_store(&store_config)).await??;
        tracing::info!(db.backend = store.backend_name(), "database ready");
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let store = Data::new(store);
        let spec = openapi::spec();
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new().into_utoipa_app().configure(routes).split_for_parts();
            app.app_data(store.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(web::PathConfig::default().error_handler(|_, _| {
                    ApiError::new(ErrorCode::InvalidId, "The id in the path must be a UUID, e.g. 0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90.").into()
                }))
                .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", spec.clone()))
                .default_service(web::to(unknown_route))
                .wrap(from_fn(request_context))
        })
        .listen(listener)?;
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            bootstrap_key,
        })
    }

    /// The key created on this start, when this is the first start of an embedded database.
    pub fn bootstrap_key(&self) -> Option<&str> {
        self.bootstrap_key.as_deref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}
