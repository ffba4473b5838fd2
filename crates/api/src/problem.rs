//! One error vocabulary for the whole API (RFC 9457 problem details).
//!
//! Handlers return [`ApiError`]; framework errors (bad path, oversized body, unknown route) are
//! plain actix errors. Either way the response is rendered by [`render`], called from the
//! request middleware, so every error body has the same shape and carries the request id.

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every error code the API can answer with, and its HTTP status. Codes are stable: partners
/// branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedJson,
    InvalidId,
    InvalidParameter,
    InvalidIdempotencyKey,
    BadRequest,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    EmailTaken,
    ExternalClientCodeTaken,
    IdempotencyRequestInProgress,
    VersionMismatch,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    IdempotencyKeyReused,
    ServiceUnavailable,
    InternalError,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidId => "invalid_id",
            Self::InvalidParameter => "invalid_parameter",
            Self::InvalidIdempotencyKey => "invalid_idempotency_key",
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::ExternalClientCodeTaken => "external_client_code_taken",
            Self::IdempotencyRequestInProgress => "idempotency_request_in_progress",
            Self::VersionMismatch => "version_mismatch",
            Self::RequestTimeout => "request_timeout",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::ServiceUnavailable => "service_unavailable",
            Self::InternalError => "internal_error",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Self::MalformedJson
            | Self::InvalidId
            | Self::InvalidParameter
            | Self::InvalidIdempotencyKey
            | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken
            | Self::ExternalClientCodeTaken
            | Self::IdempotencyRequestInProgress => StatusCode::CONFLICT,
            Self::VersionMismatch => StatusCode::PRECONDITION_FAILED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            Self::MalformedJson => "Request body is not a JSON object",
            Self::InvalidId => "Invalid client id",
            Self::InvalidParameter => "Invalid query parameter",
            Self::InvalidIdempotencyKey => "Invalid Idempotency-Key",
            Self::BadRequest => "Bad request",
            Self::Unauthorized => "Missing or invalid API key",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::EmailTaken => "Email already in use",
            Self::ExternalClientCodeTaken => "External client code already in use",
            Self::IdempotencyRequestInProgress => {
                "A request with this Idempotency-Key is in progress"
            }
            Self::VersionMismatch => "Version mismatch",
            Self::RequestTimeout => "Request not received in time",
            Self::PayloadTooLarge => "Request body too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::ValidationFailed => "Validation failed",
            Self::IdempotencyKeyReused => "Idempotency-Key reused with a different body",
            Self::ServiceUnavailable => "Service unavailable",
            Self::InternalError => "Internal server error",
        }
    }

    /// The code a framework error with this status stands for.
    fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Self::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::SERVICE_UNAVAILABLE => Self::ServiceUnavailable,
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::InternalError,
        }
    }
}

/// Where a refused part of a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A member of the JSON body, by name.
    Body(String),
    /// A query parameter, by name.
    Query(String),
}

/// One refused part of a request, listed in a problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: Location,
    /// A stable code: a domain `FieldCode`, or one of the API's own (`invalid_value`, ...).
    pub code: &'static str,
    pub message: String,
}

impl From<FieldError> for Refusal {
    fn from(error: FieldError) -> Self {
        Refusal {
            at: Location::Body(error.field),
            code: error.code.as_str(),
            message: error.message,
        }
    }
}

/// An error a handler answers with.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Vec<Refusal>,
    /// The client's current `ETag`, for `412`.
    pub etag: Option<String>,
    /// The methods the path allows, for `405`.
    pub allow: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            etag: None,
            allow: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            ErrorCode::NotFound,
            "No client with this id exists in your organization.",
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid; see `errors`.".to_owned(),
            n => format!("{n} fields are invalid; see `errors`."),
        };
        let errors = errors.into_iter().map(Refusal::from).collect();
        Self {
            errors,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    pub fn invalid_parameters(errors: Vec<Refusal>) -> Self {
        let names: Vec<&str> = errors
            .iter()
            .map(|e| match &e.at {
                Location::Query(name) | Location::Body(name) => name.as_str(),
            })
            .collect();
        let detail = format!(
            "Invalid query parameter(s): {}; see `errors`.",
            names.join(", ")
        );
        Self {
            errors,
            ..Self::new(ErrorCode::InvalidParameter, detail)
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            ErrorCode::InternalError,
            "The server could not complete the request.",
        )
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "The database is unavailable; retry shortly.",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    /// The body is rendered by the middleware (it knows the request id); this only sets the
    /// status and the headers that belong to the error.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::new(self.status_code());
        if let Some(etag) = self
            .etag
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            response.headers_mut().insert(header::ETAG, etag);
        }
        if let Some(allow) = self
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        if self.code == ErrorCode::Unauthorized {
            let challenge = HeaderValue::from_static("Bearer realm=\"clients-api\"");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if self.code == ErrorCode::ServiceUnavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

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
    /// The stable machine-readable error code (`validation_failed`, `email_taken`, ...).
    pub code: String,
    /// The id of the request, also in the `X-Request-Id` response header; quote it when asking
    /// for support.
    pub request_id: String,
    /// For `validation_failed`: every refused field at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
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
    /// Why: `required`, `invalid_type`, `too_long`, `invalid_email`, `invalid_phone`,
    /// `invalid_country`, `invalid_date`, `invalid_enum`, `underage`, `immutable_field`,
    /// `read_only_field`, `unknown_field`, `blacklisted_comment_required`; for parameters
    /// `invalid_value` and `unknown_parameter`.
    pub code: String,
    /// What is expected, for a human.
    pub message: String,
}

/// Escapes a member name as a JSON pointer token (RFC 6901).
fn pointer(field: &str) -> String {
    format!("/{}", field.replace('~', "~0").replace('/', "~1"))
}

/// Builds the problem response for an error response, keeping its status-specific headers.
pub fn render(
    status: StatusCode,
    error: Option<&actix_web::Error>,
    headers: &HeaderMap,
    request_id: &str,
) -> HttpResponse<BoxBody> {
    let api_error = error.and_then(|e| e.as_error::<ApiError>());
    let (code, detail, errors) = match api_error {
        Some(e) => (e.code, e.detail.clone(), e.errors.as_slice()),
        None => {
            let code = ErrorCode::for_status(status);
            let detail = match (code, error) {
                (ErrorCode::NotFound, _) => "No resource exists at this path.".to_owned(),
                (ErrorCode::PayloadTooLarge, _) => {
                    "The request body is larger than the server accepts.".to_owned()
                }
                (ErrorCode::InternalError, Some(e)) => {
                    tracing::error!(error = %e, "unhandled error");
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
    };
    let mut response = HttpResponse::build(status);
    for (name, value) in headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.append_header((name.clone(), value.clone()));
        }
    }
    response.content_type(PROBLEM_JSON).json(body)
}
