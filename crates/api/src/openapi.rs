//! The OpenAPI document. Paths come from the registered routes themselves (utoipa-actix-web), so
//! a route cannot exist without its spec entry; this module adds what is global.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};

use crate::problem::{field_codes_description, problem_codes_description, Problem, ProblemField};

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
    // Relative: the spec is served by the server it describes, so "Try it out" calls that one.
    servers((url = "/")),
    tags(
        (name = "Clients", description = "Person clients of your organization"),
        (name = "Events", description = "Every change of your clients, as a feed"),
        (name = "Webhooks", description = "Every change of your clients, delivered to your URL as \
it happens, signed as Standard Webhooks specifies (see the README for verifying signatures)"),
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
    link_operations(&mut spec);
    list_error_codes(&mut spec);
    spec
}

/// The codes a `Problem` and its `errors` can carry, written from the code tables, so that no
/// code the server answers with is missing from the spec.
fn list_error_codes(spec: &mut utoipa::openapi::OpenApi) {
    let components = spec.components.get_or_insert_with(Default::default);
    for (schema, description) in [
        ("Problem", problem_codes_description()),
        ("ProblemField", field_codes_description()),
    ] {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
            panic!("{schema} is not an object schema");
        };
        let Some(RefOr::T(Schema::Object(code))) = object.properties.get_mut("code") else {
            panic!("{schema}.code is not an inline schema");
        };
        code.description = Some(description);
    }
}

/// OpenAPI links: how an id and an `ETag` from one response feed the next request. Code
/// generators and schemathesis's stateful tests follow them (register, then read, update and
/// read the history of the client registered).
fn link_operations(spec: &mut utoipa::openapi::OpenApi) {
    let link = |operation: &str, with_etag: bool, id: &str| {
        // utoipa 5.5 serializes `Link::operation_id` as `operation_id`, not the `operationId`
        // OpenAPI names, and tools ignore it; the field goes in through the flattened
        // extensions map instead, under its right name.
        let mut link = LinkBuilder::new()
            .extensions(Some(Extensions::from_iter([("operationId", operation)])))
            .parameter("id", id);
        if with_etag {
            link = link.parameter("header.If-Match", "$response.header.ETag");
        }
        link.build()
    };
    let body_id = "$response.body#/id";
    let read = ("GetClient", link("getClient", false, body_id));
    let update = (
        "UpdatePersonClient",
        link("updatePersonClient", true, body_id),
    );
    let history = ("GetClientHistory", link("getClientHistory", false, body_id));
    let links = [
        (
            "registerPersonClient",
            "201",
            vec![read.clone(), update.clone(), history.clone()],
        ),
        ("getClient", "200", vec![update.clone(), history.clone()]),
        ("updatePersonClient", "200", vec![read, update, history]),
        (
            "updatePersonClient",
            "412",
            vec![("GetClient", link("getClient", false, "$request.path.id"))],
        ),
    ];
    for item in spec.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post];
        for operation in operations.into_iter().flatten() {
            for (operation_id, status, links) in &links {
                if operation.operation_id.as_deref() != Some(operation_id) {
                    continue;
                }
                let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status)
                else {
                    panic!("{operation_id} documents no {status} response to link from");
                };
                for (name, link) in links {
                    response
                        .links
                        .insert((*name).to_owned(), RefOr::T(link.clone()));
                }
            }
        }
    }
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
    for (path, item) in spec.paths.paths.iter_mut() {
        let needs_key = path.starts_with("/api/v1/");
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if needs_key {
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                operation
                    .responses
                    .responses
                    .insert("401".to_owned(), unauthorized.clone().into());
            } else {
                // Probes and metrics: explicitly no key.
                operation.security = Some(Vec::new());
            }
        }
    }
}
