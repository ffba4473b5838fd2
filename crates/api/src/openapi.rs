//! The OpenAPI document. Paths come from the registered routes themselves (utoipa-actix-web), so
//! a route cannot exist without its spec entry; this module adds what is global.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use crate::problem::{Problem, ProblemField};

const BEARER: &str = "bearerAuth";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Client Records API",
        version = "1.0.0",
        description = "KYC customer records for partner organizations: register, read and update \
person clients.\n\nErrors are `application/problem+json` (RFC 9457) with a stable `code` and, for \
validation, every refused field at once with its JSON pointer. Every client response carries a \
strong `ETag`; send it back in `If-Match` to update only the version you read.\n\nEvery \
`/api/v1` request needs an API key: `Authorization: Bearer crk_...`. A key sees and changes only \
its own organization's clients; an admin key sees every organization.",
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
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::startup::routes)
        .split_for_parts();
    require_api_key(&mut spec);
    spec
}

/// Every `/api/v1` operation takes the bearer API key and documents its `401`; done here once so
/// that no operation can miss it.
fn require_api_key(spec: &mut utoipa::openapi::OpenApi) {
    let components = spec.components.get_or_insert_with(Default::default);
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.bearer_format = Some("crk_<key id>_<secret>".to_owned());
    bearer.description = Some(
        "An API key, from `clients-api keys create` (or printed on the first start of the embedded database).".to_owned(),
    );
    components
        .security_schemes
        .insert(BEARER.to_owned(), SecurityScheme::Http(bearer));
    let unauthorized = ResponseBuilder::new()
        .description("Missing, malformed, unknown or revoked API key (`unauthorized`); `WWW-Authenticate: Bearer`")
        .content("application/problem+json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
        .build();
    for (_, item) in spec
        .paths
        .paths
        .iter_mut()
        .filter(|(path, _)| path.starts_with("/api/v1/"))
    {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            operation
                .responses
                .responses
                .insert("401".to_owned(), unauthorized.clone().into());
        }
    }
}
