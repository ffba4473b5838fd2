//! `POST /api/v1/clients/person`: register a person client.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{post, HttpRequest, HttpResponse};
use chrono::Utc;
use store::{Claim, IdempotencyKey, Store, StoredResponse};
use uuid::Uuid;

use super::{location, ClientWithPerson};
use crate::auth::Caller;
use crate::body::{canonical_hash, read_object, Body};
use crate::etag;
use crate::events;
use crate::members::Refusals;
use crate::problem::{ApiError, ErrorCode, Problem};
use crate::webhooks::Wake;

mod body;

use body::stranger;
pub use body::RegisterPersonIn;

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Register a person client
///
/// Creates a person client in the API key's organization (an admin key names it in
/// `organization_id`). It starts with `kyc_status`
/// `NOT_STARTED`, `risk_level` `Low` unless given, and both flags false, at version 1.
///
/// Every invalid field is reported at once in a `422` problem, each with a JSON pointer. Identity
/// fields (names, date of birth, gender, nationality, birth country, tax residence, KYC level) and
/// `external_client_code` cannot change after creation.
///
/// Safe retries: send an `Idempotency-Key`. A retry with the same key and the same JSON body
/// within 24 hours gets the first `201` back (same body, `Location` and `ETag`, plus
/// `Idempotent-Replayed: true`) and creates nothing. The same key with another body is
/// `422 idempotency_key_reused`; a retry while the first request still runs is
/// `409 idempotency_request_in_progress`. A request that failed frees its key. Keys are scoped to
/// the organization.
#[utoipa::path(
    operation_id = "registerPersonClient",
    tag = "Clients",
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = r"^[!-~]+$",
            description = "Any unique string (a UUID, say) of at most 255 visible ASCII characters; makes retries safe"),
    ),
    request_body(content = RegisterPersonIn, content_type = "application/json"),
    responses(
        (status = 201, description = "Client registered", body = ClientWithPerson,
            headers(
                ("Location" = String, description = "Path of the new client"),
                ("ETag" = String, description = "Strong entity tag of the client's version"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same Idempotency-Key"),
            )),
        (status = 400, description = "The body is not a JSON object (`malformed_json`), or the Idempotency-Key is invalid (`invalid_idempotency_key`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken` or `external_client_code_taken` in the organization, or `idempotency_request_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: the body exceeds the server's limit (64 KiB unless configured otherwise)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, read-only or unknown fields, all listed in `errors`; or `idempotency_key_reused` with a different body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/clients/person")]
pub async fn register_person(
    caller: Caller,
    req: HttpRequest,
    Body(body): Body,
    store: web::Data<Store>,
    deliveries: web::Data<Wake>,
) -> Result<HttpResponse, ApiError> {
    let (input, strangers) = read_object::<RegisterPersonIn>(&req, &body, stranger)?;
    let now = Utc::now();
    let mut refusals = Refusals::default();
    refusals.extend(strangers);
    let organization = caller.organization_to_create_in(&input.organization_id, &mut refusals);
    let registration = input.into_registration(now.date_naive(), &mut refusals);
    let (registration, organization_id) = match (registration, organization) {
        (Some(registration), Ok(id)) => (registration, id),
        (_, organization) => {
            let mut errors = refusals.into_vec();
            errors.extend(organization.err());
            return Err(ApiError::validation(errors));
        }
    };
    let idempotency = idempotency_key(&req, organization_id, &body)?;
    let client = registration.into_client(Uuid::now_v7(), organization_id, now);
    let audit = caller.audit(&req);
    let changes = domain::history::registration_changes(&client);
    let hash = store::registration_hash(&client, &audit);
    let event = events::announce(
        events::EventType::Registered,
        &client,
        &changes,
        &audit,
        (&hash, None),
    );
    let response = StoredResponse {
        status: 201,
        body: serde_json::to_string(&ClientWithPerson::from(client.clone()))
            .map_err(ApiError::internal)?,
        location: Some(location(client.id)),
        etag: Some(etag::of(client.version)),
    };
    let (response, replayed) = match idempotency {
        None => {
            store.insert(&client, &event, &audit, None).await?;
            (response, false)
        }
        Some(key) => register_once(&store, &key, (&client, &event), &audit, response, now).await?,
    };
    if !replayed {
        deliveries.now();
    }
    Ok(created(&response, replayed))
}

/// Registers under an idempotency key: runs the registration once, replays it afterwards.
async fn register_once(
    store: &Store,
    key: &IdempotencyKey,
    (client, event): (&domain::Client, &store::NewEvent),
    audit: &store::Audit,
    response: StoredResponse,
    now: chrono::DateTime<Utc>,
) -> Result<(StoredResponse, bool), ApiError> {
    match store.claim_idempotency_key(key, now).await? {
        Claim::Claimed => match store.insert(client, event, audit, Some((key, &response))).await {
            Ok(()) => Ok((response, false)),
            Err(error) => {
                // Free the key so that a retry runs anew; if even that fails, the claim is
                // treated as abandoned after a minute.
                if let Err(release) = store.release_idempotency_key(key).await {
                    tracing::warn!(error = %release, "cannot release an idempotency key");
                }
                Err(error.into())
            }
        },
        Claim::Completed(previous) => Ok((previous, true)),
        Claim::InProgress => Err(ApiError::new(
            ErrorCode::IdempotencyRequestInProgress,
            "A request with this Idempotency-Key is still running; retry once it has completed.",
        )),
        Claim::Mismatch => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used with a different request body; use a new key for a new request.",
        )),
    }
}

/// The request's `Idempotency-Key`, scoped to its organization, with the body's fingerprint.
fn idempotency_key(
    req: &HttpRequest,
    organization_id: i32,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    let Some(key) = key else {
        return Err(ApiError::new(
            ErrorCode::InvalidIdempotencyKey,
            "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces).",
        ));
    };
    Ok(Some(IdempotencyKey {
        organization_id,
        key: key.to_owned(),
        request_hash: canonical_hash(body),
    }))
}

/// The `201` of a registration, first time or replayed: the same bytes either way.
fn created(response: &StoredResponse, replayed: bool) -> HttpResponse {
    let mut builder =
        HttpResponse::build(StatusCode::from_u16(response.status).unwrap_or(StatusCode::CREATED));
    if let Some(location) = &response.location {
        builder.insert_header((header::LOCATION, location.as_str()));
    }
    if let Some(etag) = &response.etag {
        builder.insert_header((header::ETAG, etag.as_str()));
    }
    if replayed {
        builder.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
        .content_type("application/json")
        .body(response.body.clone())
}
