//! Liveness and readiness probes.

use actix_web::web;
use actix_web::{get, HttpResponse};
use serde::Serialize;
use store::Store;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::problem::{ApiError, Problem};

/// The longest a readiness check waits for the database, connecting included.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(live).service(ready);
}

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the probe succeeds.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness
///
/// `200` while the process serves HTTP. It does not touch the database, so an orchestrator does
/// not restart a server that is only waiting for its database.
#[utoipa::path(operation_id = "live", tag = "Health", responses((status = 200, description = "The process is up", body = Health)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness
///
/// `200` when the database answers a query within a second, `503` problem otherwise. It never
/// waits longer than that, whatever the database does.
#[utoipa::path(
    operation_id = "ready",
    tag = "Health",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "The database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/health/ready")]
pub async fn ready(store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    store.ping(READY_WITHIN).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
