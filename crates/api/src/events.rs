//! Events (contract section 7): what each change announces to partners, written with the change,
//! and `GET /api/v1/events`, the feed that reads them in a stable order.

use actix_web::http::header;
use actix_web::web;
use actix_web::{get, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::history::Change;
use domain::Client;
use serde::{Deserialize, Serialize};
use store::{Audit, NewEvent, Store};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Caller;
use crate::clients::{Actor, ClientWithPerson, FieldChangeOut};
use crate::problem::{ApiError, Problem};
use crate::query::{invalid_parameter, next_link, param, Param, ParamValue, Query, Ranged};

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// A client was registered (version 1).
    #[serde(rename = "client.registered")]
    Registered,
    /// A client really changed (a no-op update announces nothing).
    #[serde(rename = "client.updated")]
    Updated,
    /// A client's KYC status moved; `data.reason` says why.
    #[serde(rename = "client.kyc_status_changed")]
    KycStatusChanged,
    /// The business relationship with a client ended; `data.reason` says why.
    #[serde(rename = "client.relationship_closed")]
    RelationshipClosed,
    /// A closed relationship resumed; `data.reason` says why.
    #[serde(rename = "client.relationship_reopened")]
    RelationshipReopened,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 5] = [
        EventType::Registered,
        EventType::Updated,
        EventType::KycStatusChanged,
        EventType::RelationshipClosed,
        EventType::RelationshipReopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Registered => "client.registered",
            EventType::Updated => "client.updated",
            EventType::KycStatusChanged => "client.kyc_status_changed",
            EventType::RelationshipClosed => "client.relationship_closed",
            EventType::RelationshipReopened => "client.relationship_reopened",
        }
    }

    /// The type's bit in a webhook endpoint's stored mask. Stored: never renumber.
    pub fn bit(self) -> i32 {
        match self {
            EventType::Registered => 1,
            EventType::Updated => 1 << 1,
            EventType::KycStatusChanged => 1 << 2,
            EventType::RelationshipClosed => 1 << 3,
            EventType::RelationshipReopened => 1 << 4,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_events);
}

/// One change of a client, as the feed carries it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event, example = json!({
    "id": "01a2f0c4-5b6e-7d8f-9a0b-1c2d3e4f5a6b", "type": "client.updated",
    "created_at": "2026-11-24T10:20:00.000001Z", "organization_id": 1,
    "data": {
        "client_id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90", "version": 2,
        "changes": [{"field": "city", "old": "Paris", "new": "Lyon"}],
        "actor": {"key_id": "0193a5b2-0000-7000-8000-000000000001", "name": "crm-sync"},
        "request_id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f91",
        "client": {
            "address": "1 Rue de Rivoli", "birth_country": "GBR", "blocked": false, "city": "Lyon",
            "country_code": "FRA", "country_of_tax_residence": "FRA",
            "created_at": "2026-11-24T10:15:30.123456Z", "date_of_birth": "1990-04-21",
            "email": "ada@example.com", "first_name": "Ada", "gender": "female",
            "id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90", "is_blacklisted": false,
            "kyc_level": "FULL_KYC", "kyc_status": "NOT_STARTED", "last_name": "Lovelace",
            "nationality": "GBR", "organization_id": 1, "postcode": "75001", "risk_level": "Low",
            "updated_at": "2026-11-24T10:20:00.000001Z", "blacklisted_comment": null,
            "external_client_code": "CRM-000042", "kyc_note": null, "middle_name": null,
            "mobile_phone_number": "+33612345678", "planned_expenditure": null,
            "planned_income": "50000-75000 EUR", "second_email": null,
            "second_mobile_phone_number": null, "state_province": null
        },
        "history_hash": "c6798023e222709fc41e7ba91a2786e88262ff0d4896cbeba6a5acc3ae90e523"
    }
}))]
pub struct EventOut {
    /// The event's id (UUID); unique, and what `after` takes.
    pub id: Uuid,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When: the client's `updated_at` at this version (RFC 3339, UTC).
    #[serde(serialize_with = "crate::timestamp::micros")]
    pub created_at: DateTime<Utc>,
    /// The organization of the client.
    #[schema(format = Int32)]
    pub organization_id: i32,
    pub data: EventData,
}

/// What an event says about its change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventData {
    /// The client that changed.
    pub client_id: Uuid,
    /// The client's version after the change: its new `ETag`, without quotes.
    pub version: i64,
    /// The fields that changed, with their values before and after, as in the history.
    pub changes: Vec<FieldChangeOut>,
    pub actor: Actor,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
    /// The whole client after the change.
    pub client: ClientWithPerson,
    /// The `hash` of the change's history entry: keep it, and `GET …/history/verify` (or your
    /// own recomputation) shows later that the history up to here was not rewritten.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub history_hash: String,
    /// Why, for the changes that give a reason (a KYC decision, the relationship's end or
    /// resumption); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The event of a change of `client` (its state after the change), with the changes its history
/// entry records; written by the store with the change.
pub fn announce(
    kind: EventType,
    client: &Client,
    changes: &[Change],
    audit: &Audit,
    (history_hash, reason): (&str, Option<&str>),
) -> NewEvent {
    let id = Uuid::now_v7();
    let event = EventOut {
        id,
        kind,
        created_at: client.updated_at,
        organization_id: client.organization_id,
        data: EventData {
            client_id: client.id,
            version: client.version,
            changes: changes.iter().map(FieldChangeOut::from).collect(),
            actor: Actor {
                key_id: audit.actor_key_id.clone(),
                name: audit.actor_name.clone(),
            },
            request_id: audit.request_id.clone(),
            client: ClientWithPerson::from(client.clone()),
            history_hash: history_hash.to_owned(),
            reason: reason.map(str::to_owned),
        },
    };
    NewEvent {
        id,
        kind: kind.as_str(),
        type_bit: kind.bit(),
        // Plain data (strings, numbers, booleans, no maps with non-string keys): serde_json
        // cannot fail on it.
        body: serde_json::to_string(&event).expect("an event encodes as JSON"),
    }
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// An event id.
impl ParamValue for Uuid {
    fn parse(raw: &str) -> Result<Self, String> {
        Uuid::try_parse(raw).map_err(|_| "an event id (a UUID)".to_owned())
    }
}

/// Where the feed resumes, and how much it returns.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// The id of the last event you read: the page starts right after it. Without it, the feed
    /// starts at the oldest event.
    #[param(value_type = Option<Uuid>)]
    after: Param<Uuid>,
    /// How many events to return, 1 to 1000.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 100)]
    limit: Param<Ranged<1, MAX_LIMIT>>,
}

/// List events
///
/// Every change of your organization's clients (with an admin key: of every organization), one
/// event per history entry, oldest first, as a bare JSON array. An event is written in the same
/// transaction as its change: a change that committed always has its event, and a failed or
/// no-op request has none.
///
/// The order is stable: an event never appears before one already served, even when concurrent
/// changes commit out of order, so reading page by page with `after` set to the last id you saw,
/// now or later, yields exactly what one full read yields. A client's events come in version
/// order. While more events remain, the `Link` header has the next page (`rel="next"`).
#[utoipa::path(
    operation_id = "listEvents",
    tag = "Events",
    params(FeedParams),
    responses(
        (status = 200, description = "A page of events, oldest first", body = Vec<EventOut>,
            headers(("Link" = String, description = "`<...>; rel=\"next\"` while more events remain"))),
        (status = 400, description = "A bad or unknown query parameter, or an `after` that is not an event you can see (`invalid_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/events")]
pub async fn list_events(
    caller: Caller,
    req: HttpRequest,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::parse(&req)?;
    let params: FeedParams = query.read();
    let after = param!(query, params.after);
    let limit = param!(query, params.limit).map_or(DEFAULT_LIMIT, |l| l.0);
    query.finish()?;
    let Some((events, more)) = store.events(caller.scope(), after, limit).await? else {
        return Err(invalid_parameter("after", "is not an event of your feed"));
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let (true, Some(last)) = (more, events.last()) {
        let next = [("after", last.id.to_string()), ("limit", limit.to_string())];
        response.insert_header((header::LINK, next_link(req.path(), &next)));
    }
    // The events are stored as the API shows them: the page is their concatenation.
    let mut body =
        String::with_capacity(events.iter().map(|e| e.body.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&event.body);
    }
    body.push(']');
    Ok(response.content_type("application/json").body(body))
}
