//! The problem body (RFC 9457) every error response carries, rendered in one place.

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ErrorCode, Location};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details body (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "1 field is invalid; see `errors`.",
    "code": "validation_failed",
    "request_id": "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90",
    "errors": [{"pointer": "/email", "code": "invalid_email", "message": "must be a valid email address"}]
}))]
pub struct Problem {
    /// A URI reference naming the kind of problem: `/problems/{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the kind of problem; the same for every occurrence of a code.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, for a human.
    pub detail: String,
    /// The stable machine-readable error code. (The spec lists every code here, from the code
    /// table.)
    pub code: String,
    /// The id of the request, also in the `X-Request-Id` response header; quote it when asking
    /// for support.
    pub request_id: String,
    /// For `validation_failed`: every refused field at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// For `invalid_transition`: the statuses the client can go to from its current one (never
    /// the current one itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// One refused field or query parameter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// For a body member: JSON pointer (RFC 6901) to it, e.g. `/email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// For a query parameter: its name, e.g. `limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// Why the member or parameter was refused. (The spec lists every code here, from the code
    /// tables.)
    pub code: String,
    /// What is expected, for a human.
    pub message: String,
}

/// A member's JSON pointer (RFC 6901), each of its tokens escaped (a member inside an array is
/// `name` and its index joined by [`domain::error::PATH_SEPARATOR`]).
fn pointer(field: &str) -> String {
    field
        .split(domain::error::PATH_SEPARATOR)
        .map(|token| format!("/{}", token.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Builds the problem response for an error response, keeping its status-specific headers.
pub fn render(
    status: StatusCode,
    error: Option<&actix_web::Error>,
    headers: &HeaderMap,
    request_id: &str,
) -> HttpResponse<BoxBody> {
    let api_error = error.and_then(|e| e.as_error::<ApiError>());
    let allowed = api_error
        .and_then(|e| e.allowed.as_ref())
        .map(|allowed| allowed.iter().map(|s| (*s).to_owned()).collect());
    let (code, detail, errors) = match api_error {
        Some(e) => (e.code, e.detail.clone(), e.errors.as_slice()),
        None => {
            let code = ErrorCode::for_status(status);
            let detail = match (code, error) {
                (ErrorCode::NotFound, _) => "No resource exists at this path.".to_owned(),
                (ErrorCode::PayloadTooLarge, _) => {
                    "The request body is larger than the server accepts.".to_owned()
                }
                // The cause goes to the log (the request middleware's access line), not to the
                // caller.
                (ErrorCode::InternalError, _) => {
                    "The server could not complete the request.".to_owned()
                }
                (_, Some(e)) if status.is_client_error() => e.to_string(),
                _ => status.canonical_reason().unwrap_or("Error").to_owned(),
            };
            (code, detail, &[][..])
        }
    };
    let body = Problem {
        type_: format!("/problems/{}", code.as_str()),
        title: code.title().to_owned(),
        status: status.as_u16(),
        detail,
        code: code.as_str().to_owned(),
        request_id: request_id.to_owned(),
        errors: errors
            .iter()
            .map(|e| ProblemField {
                pointer: match &e.at {
                    Location::Body(member) => Some(pointer(member)),
                    Location::Query(_) => None,
                },
                parameter: match &e.at {
                    Location::Query(name) => Some(name.clone()),
                    Location::Body(_) => None,
                },
                code: e.code.to_owned(),
                message: e.message.clone(),
            })
            .collect(),
        allowed,
    };
    let mut response = HttpResponse::build(status);
    for (name, value) in headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.append_header((name.clone(), value.clone()));
        }
    }
    response.content_type(PROBLEM_JSON).json(body)
}
