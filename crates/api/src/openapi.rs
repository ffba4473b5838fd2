//! The OpenAPI document. Paths come from the registered routes themselves (utoipa-actix-web), so
//! a route cannot exist without its spec entry; this module adds what is global.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::problem::{Problem, ProblemField};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Client Records API",
        version = "1.0.0",
        description = "KYC customer records for partner organizations: register, read and update \
person clients.\n\nErrors are `application/problem+json` (RFC 9457) with a stable `code` and, for \
validation, every refused field at once with its JSON pointer. Every client response carries a \
strong `ETag`; send it back in `If-Match` to update only the version you read.",
        license(name = "Proprietary")
    ),
    tags(
        (name = "Clients", description = "Person clients of your organization"),
        (name = "Health", description = "Probes for orchestrators and load balancers"),
    ),
    components(schemas(Problem, ProblemField))
)]
struct ApiDoc;

/// The complete document, as served at `/api-docs/openapi.json` and committed as `openapi.yaml`.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::startup::routes)
        .split_for_parts();
    spec
}
