//! `GET /api/v1/clients/{id}`: read a client.

use actix_web::web::{self, Path};
use actix_web::{get, HttpResponse};
use store::Store;
use uuid::Uuid;

use super::{respond, ClientWithPerson};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};

/// Get a client
///
/// Returns the client with its `ETag`, to use in `If-Match` when updating. A client of another
/// organization is answered exactly like an unknown id: `404`.
#[utoipa::path(
    operation_id = "getClient",
    tag = "Clients",
    params(("id" = Uuid, Path, description = "Client UUID")),
    responses(
        (status = 200, description = "The client", body = ClientWithPerson,
            headers(("ETag" = String, description = "Strong entity tag of the client's version"))),
        (status = 400, description = "`id` is not a UUID (`invalid_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/clients/{id}")]
pub async fn get_client(
    caller: Caller,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client = store
        .get(caller.scope(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(respond(HttpResponse::Ok(), client))
}
