//! Webhook endpoints (contract section 7): where an organization's events are delivered, signed
//! with the endpoint's secret as Standard Webhooks says; and the recent delivery attempts.

pub mod address;
pub mod delivery;
pub mod secret;

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::{self, Path};
use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::values::text;
use domain::{FieldCode, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{Store, WebhookEndpoint};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Caller;
use crate::body::{read_object, Body};
use crate::events::EventType;
use crate::members::{type_name, AnyField, Refusals};
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::query::{param, Param, Query, Ranged};

pub use delivery::{Deliverer, Settings, Wake};
pub use secret::SecretBox;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_endpoint)
        .service(list_endpoints)
        .service(get_endpoint)
        .service(delete_endpoint)
        .service(list_deliveries);
}

/// What creating an endpoint needs besides the store: the secrets' key and the URL rules.
#[derive(Debug, Clone)]
pub struct EndpointRules {
    pub secrets: SecretBox,
    pub allow_private: bool,
}

/// How long creating an endpoint waits for its host's name to resolve.
const RESOLVE_WITHIN: Duration = Duration::from_secs(5);
const URL_MAX: usize = 2048;
const DESCRIPTION_MAX: usize = 500;

/// Request to create a webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhookEndpoint, example = json!({
    "url": "https://hooks.example.com/clients",
    "description": "CRM sync",
    "event_types": ["client.registered", "client.updated"]
}))]
pub struct CreateEndpointIn {
    /// Admin keys only, and required for them: the organization whose events the endpoint
    /// receives. Organization keys create endpoints of their own organization.
    #[schema(value_type = Option<i32>, format = Int32, minimum = 1)]
    pub organization_id: AnyField,
    /// Where events are sent: an absolute `https` URL, at most 2048 characters, without
    /// credentials, whose host resolves to public addresses only (checked now and before each
    /// delivery).
    #[schema(value_type = String, format = "uri", max_length = 2048, example = "https://hooks.example.com/clients")]
    pub url: AnyField,
    /// What the endpoint is for, at most 500 characters; blank means none.
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: AnyField,
    /// The event types to deliver; absent or `null`: every type, including types added later.
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub event_types: AnyField,
}

/// A webhook endpoint. Its secret is shown only when it is created.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookEndpoint, example = json!({
    "id": "0193a5b2-9d4e-7f00-8a11-3c4d5e6f7a8b", "organization_id": 1,
    "url": "https://hooks.example.com/clients", "description": "CRM sync",
    "event_types": ["client.registered", "client.updated"],
    "created_at": "2026-12-01T09:00:00.000000Z"
}))]
pub struct EndpointOut {
    /// The endpoint's id (UUID).
    pub id: Uuid,
    /// The organization whose events it receives.
    #[schema(format = Int32)]
    pub organization_id: i32,
    /// Where events are sent.
    pub url: String,
    /// What the endpoint is for.
    pub description: Option<String>,
    /// The event types delivered; `null`: every type.
    pub event_types: Option<Vec<EventType>>,
    /// When it was created (RFC 3339, UTC); it receives the events created after this.
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub created_at: DateTime<Utc>,
}

/// A webhook endpoint just created, with its signing secret: shown this once only.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookEndpointCreated, example = json!({
    "id": "0193a5b2-9d4e-7f00-8a11-3c4d5e6f7a8b", "organization_id": 1,
    "url": "https://hooks.example.com/clients", "description": "CRM sync",
    "event_types": ["client.registered", "client.updated"],
    "created_at": "2026-12-01T09:00:00.000000Z",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw6eQpjvv3c5E="
}))]
pub struct EndpointCreatedOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    /// The signing secret: `whsec_` + base64 of 32 random bytes. Verify each delivery's
    /// `webhook-signature` with it (any Standard Webhooks library takes it as is). It is shown
    /// only in this response: keep it.
    pub secret: String,
}

fn endpoint_out(endpoint: WebhookEndpoint) -> Result<EndpointOut, ApiError> {
    let event_types = endpoint
        .event_types
        .as_deref()
        .map(serde_json::from_str::<Vec<EventType>>)
        .transpose()
        .map_err(ApiError::internal)?;
    Ok(EndpointOut {
        id: endpoint.id,
        organization_id: endpoint.organization_id,
        url: endpoint.url,
        description: endpoint.description,
        event_types,
        created_at: endpoint.created_at,
    })
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDelivery, example = json!({
    "event_id": "01a2f0c4-5b6e-7d8f-9a0b-1c2d3e4f5a6b", "attempt": 2,
    "attempted_at": "2026-12-01T09:00:07.120000Z", "status_code": 503,
    "error": "HTTP 503: upstream unavailable", "duration_ms": 41, "outcome": "retrying"
}))]
pub struct DeliveryOut {
    /// The event sent (its `id`, and the `webhook-id` header).
    pub event_id: Uuid,
    /// 1 for the event's first attempt to this endpoint, then 2, ...
    #[schema(format = Int32, minimum = 1)]
    pub attempt: i32,
    /// When the attempt started (RFC 3339, UTC).
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status; `null` when it did not answer (refused connection, timeout,
    /// refused URL).
    #[schema(format = Int32)]
    pub status_code: Option<i32>,
    /// Why the attempt failed (with the start of the endpoint's answer, if any); `null` for a
    /// delivery.
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: i64,
    /// What the attempt came to.
    pub outcome: DeliveryOutcome,
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx within the timeout.
    Delivered,
    /// This attempt failed; another follows.
    Retrying,
    /// This attempt failed and was the last: the event is given up for this endpoint.
    Failed,
}

impl From<store::Outcome> for DeliveryOutcome {
    fn from(outcome: store::Outcome) -> Self {
        match outcome {
            store::Outcome::Delivered => DeliveryOutcome::Delivered,
            store::Outcome::Retrying => DeliveryOutcome::Retrying,
            store::Outcome::Failed => DeliveryOutcome::Failed,
        }
    }
}

/// Why a member an endpoint does not have is refused.
fn stranger(name: &str, value: &Value) -> Option<FieldError> {
    let server_owned = ["id", "secret", "created_at"].contains(&name);
    if server_owned && value.is_null() {
        return None;
    }
    Some(if server_owned {
        FieldError::new(name, FieldCode::ReadOnlyField, "is set by the server")
    } else {
        FieldError::new(
            name,
            FieldCode::UnknownField,
            "is not a member of a webhook endpoint",
        )
    })
}

fn read_url(given: &AnyField, allow_private: bool, refusals: &mut Refusals) -> Option<url::Url> {
    const NAME: &str = "url";
    let raw = match &given.0 {
        None => {
            refusals.push(FieldError::new(NAME, FieldCode::Required, "is required"));
            return None;
        }
        Some(Value::String(raw)) => raw.trim(),
        Some(other) => {
            refusals.push(FieldError::new(
                NAME,
                FieldCode::InvalidType,
                format!("must be a string, not {}", type_name(other)),
            ));
            return None;
        }
    };
    if raw.is_empty() {
        refusals.push(FieldError::new(NAME, FieldCode::Required, "is required"));
        return None;
    }
    if raw.chars().count() > URL_MAX {
        refusals.push(FieldError::new(
            NAME,
            FieldCode::TooLong,
            format!("must be at most {URL_MAX} characters"),
        ));
        return None;
    }
    address::parse(raw, allow_private)
        .map_err(|refused| refusals.push(url_refused(&refused)))
        .ok()
}

fn url_refused(refused: &address::Refused) -> FieldError {
    FieldError::new("url", FieldCode::InvalidUrl, refused.to_string())
}

fn read_description(given: &AnyField, refusals: &mut Refusals) -> Option<String> {
    match &given.0 {
        None => None,
        // Blank: no description, as for every optional text (within the limit, which applies
        // to the text as sent, as the spec's `maxLength` does).
        Some(Value::String(raw))
            if raw.trim().is_empty() && raw.chars().count() <= DESCRIPTION_MAX =>
        {
            None
        }
        Some(Value::String(raw)) => text(raw, DESCRIPTION_MAX)
            .map_err(|invalid| refusals.push(invalid.at("description")))
            .ok(),
        Some(other) => {
            refusals.push(FieldError::new(
                "description",
                FieldCode::InvalidType,
                format!("must be a string or null, not {}", type_name(other)),
            ));
            None
        }
    }
}

/// The event types asked for, without repeats, in the order given; `None` for every type.
fn read_event_types(given: &AnyField, refusals: &mut Refusals) -> Option<Vec<EventType>> {
    const NAME: &str = "event_types";
    let items = match &given.0 {
        None => return None,
        Some(Value::Array(items)) => items,
        Some(other) => {
            refusals.push(FieldError::new(
                NAME,
                FieldCode::InvalidType,
                format!(
                    "must be an array of event types or null, not {}",
                    type_name(other)
                ),
            ));
            return None;
        }
    };
    if items.is_empty() {
        refusals.push(FieldError::new(
            NAME,
            FieldCode::Required,
            "must name at least one event type (null: every type)",
        ));
        return None;
    }
    let known = EventType::ALL.map(EventType::as_str).join(", ");
    let mut types = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item.as_str().map(|name| (name, EventType::parse(name))) {
            Some((_, Some(kind))) => {
                if !types.contains(&kind) {
                    types.push(kind);
                }
            }
            Some((name, None)) => refusals.push(FieldError::item(
                NAME,
                index,
                FieldCode::InvalidEnum,
                format!("{name:?} is not an event type; one of {known}"),
            )),
            None => refusals.push(FieldError::item(
                NAME,
                index,
                FieldCode::InvalidType,
                format!("must be a string, not {}", type_name(item)),
            )),
        }
    }
    Some(types)
}

fn location(id: Uuid) -> String {
    format!("/api/v1/webhook-endpoints/{id}")
}

fn endpoint_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "No webhook endpoint with this id exists in your organization.",
    )
}

/// Create a webhook endpoint
///
/// Registers a URL to receive your organization's events as they happen: each event created
/// from now on is `POST`ed to it with the Standard Webhooks headers (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`), signed with the secret in this response, which is
/// shown only this once. A `2xx` within 15 s is a delivery; anything else is retried with
/// exponential backoff (the first retry within 10 s) for 24 hours. A client's events arrive in
/// version order: its next event waits until the previous one was delivered or given up.
///
/// The URL must be `https` and resolve to public addresses only (no loopback, private,
/// link-local, unique-local, carrier-grade NAT or cloud metadata address, in any spelling):
/// otherwise `422 invalid_url` at `/url`. It is checked again before each delivery.
#[utoipa::path(
    operation_id = "createWebhookEndpoint",
    tag = "Webhooks",
    request_body = CreateEndpointIn,
    responses(
        (status = 201, description = "Created; the secret is shown only here", body = EndpointCreatedOut,
            headers(("Location" = String, description = "The endpoint's URL"))),
        (status = 400, description = "The body is not a JSON object (`malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, read-only or unknown members, all listed in `errors` (`invalid_url` for a URL that is not allowed, `invalid_enum` at `/event_types/<i>` for an unknown type)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhook-endpoints")]
pub async fn create_endpoint(
    caller: Caller,
    req: HttpRequest,
    Body(body): Body,
    store: web::Data<Store>,
    rules: web::Data<EndpointRules>,
) -> Result<HttpResponse, ApiError> {
    let (input, strangers) = read_object::<CreateEndpointIn>(&req, &body, stranger)?;
    let mut refusals = Refusals::default();
    refusals.extend(strangers);
    let organization_id = caller
        .organization_to_create_in(&input.organization_id, &mut refusals)
        .map_err(|e| refusals.push(e))
        .ok();
    let url = read_url(&input.url, rules.allow_private, &mut refusals);
    let description = read_description(&input.description, &mut refusals);
    let event_types = read_event_types(&input.event_types, &mut refusals);
    let (Some(organization_id), Some(url), true) = (organization_id, url, refusals.is_empty())
    else {
        return Err(ApiError::validation(refusals.into_vec()));
    };
    if !rules.allow_private {
        if let Err(refused) = address::resolve(&url, false, RESOLVE_WITHIN).await {
            return Err(ApiError::validation(vec![url_refused(&refused)]));
        }
    }
    let id = Uuid::now_v7();
    let secret = secret::generate();
    let endpoint = WebhookEndpoint {
        id,
        organization_id,
        url: url.to_string(),
        description,
        event_types: event_types
            .as_ref()
            .map(|types| serde_json::to_string(types).map_err(ApiError::internal))
            .transpose()?,
        event_mask: event_types
            .as_ref()
            .map(|types| types.iter().fold(0, |mask, t| mask | t.bit())),
        secret: rules.secrets.seal(id, &secret),
        created_at: Utc::now(),
    };
    store.create_webhook_endpoint(&endpoint).await?;
    let endpoint = endpoint_out(endpoint)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location(id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(EndpointCreatedOut { endpoint, secret }))
}

/// List webhook endpoints
///
/// Your organization's endpoints (with an admin key: every organization's), oldest first, as
/// a bare JSON array. Secrets are never shown again.
#[utoipa::path(
    operation_id = "listWebhookEndpoints",
    tag = "Webhooks",
    responses(
        (status = 200, description = "The endpoints, oldest first", body = Vec<EndpointOut>),
        (status = 400, description = "A query parameter was sent; this list takes none (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhook-endpoints")]
pub async fn list_endpoints(
    caller: Caller,
    req: HttpRequest,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    Query::parse(&req)?.finish()?;
    let endpoints = store
        .webhook_endpoints(caller.scope())
        .await?
        .into_iter()
        .map(endpoint_out)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(endpoints))
}

/// Get a webhook endpoint
///
/// The endpoint, without its secret. Another organization's endpoint is answered like an
/// unknown id: `404`.
#[utoipa::path(
    operation_id = "getWebhookEndpoint",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "Webhook endpoint UUID")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointOut),
        (status = 400, description = "`id` is not a UUID (`invalid_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhook-endpoints/{id}")]
pub async fn get_endpoint(
    caller: Caller,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = store
        .webhook_endpoint(caller.scope(), id.into_inner())
        .await?
        .ok_or_else(endpoint_not_found)?;
    Ok(HttpResponse::Ok().json(endpoint_out(endpoint)?))
}

/// Delete a webhook endpoint
///
/// The endpoint receives nothing more: deliveries to it stop, including retries. Its id is
/// then unknown (`404`).
#[utoipa::path(
    operation_id = "deleteWebhookEndpoint",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "Webhook endpoint UUID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`id` is not a UUID (`invalid_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete_endpoint(
    caller: Caller,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    if store
        .delete_webhook_endpoint(caller.scope(), id.into_inner(), Utc::now())
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(endpoint_not_found())
    }
}

pub const DEFAULT_DELIVERIES: i64 = 100;
pub const MAX_DELIVERIES: i64 = 1000;

/// How many attempts to return.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesParams {
    /// How many attempts to return, 1 to 1000.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 100)]
    limit: Param<Ranged<1, MAX_DELIVERIES>>,
}

/// List an endpoint's deliveries
///
/// The endpoint's most recent delivery attempts, newest first, as a bare JSON array: one entry
/// per attempt, with the endpoint's status code or the reason it did not answer, and the
/// outcome (`delivered`; `retrying`: this attempt failed and another will follow; `failed`:
/// given up).
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "Webhooks",
    params(("id" = Uuid, Path, description = "Webhook endpoint UUID"), DeliveriesParams),
    responses(
        (status = 200, description = "The most recent attempts, newest first", body = Vec<DeliveryOut>),
        (status = 400, description = "`id` is not a UUID (`invalid_id`), or a bad query parameter (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint in your organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_deliveries(
    caller: Caller,
    req: HttpRequest,
    id: Path<Uuid>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::parse(&req)?;
    let params: DeliveriesParams = query.read();
    let limit = param!(query, params.limit).map_or(DEFAULT_DELIVERIES, |l| l.0);
    query.finish()?;
    let id = id.into_inner();
    if store.webhook_endpoint(caller.scope(), id).await?.is_none() {
        return Err(endpoint_not_found());
    }
    let attempts: Vec<DeliveryOut> = store
        .webhook_attempts(id, limit)
        .await?
        .into_iter()
        .map(|a| DeliveryOut {
            event_id: a.event_id,
            attempt: a.attempt,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
            outcome: a.outcome.into(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(attempts))
}
