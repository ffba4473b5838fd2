//! One error vocabulary for the whole API (RFC 9457 problem details).
//!
//! Handlers return [`ApiError`]; framework errors (bad path, oversized body, unknown route) are
//! plain actix errors. Either way the response is rendered by [`render`], called from the
//! request middleware, so every error body has the same shape and carries the request id.

mod codes;
mod render;

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::FieldError;

pub use codes::{field_codes_description, problem_codes_description, ErrorCode, ParameterCode};
pub use render::{render, Problem, ProblemField, PROBLEM_JSON};

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
    /// A stable code: a domain `FieldCode`'s, or a [`ParameterCode`]'s.
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
    pub etag: Option<Box<str>>,
    /// The methods the path allows, for `405`.
    pub allow: Option<Box<str>>,
    /// For `invalid_transition`: where the client can go from its current state.
    pub allowed: Option<Box<[&'static str]>>,
    /// For a `5xx`: what went wrong, for the log only. The request middleware logs it once, on
    /// the request's access line.
    pub cause: Option<Box<str>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            etag: None,
            allow: None,
            allowed: None,
            cause: None,
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
        Self {
            cause: Some(cause.to_string().into()),
            ..Self::new(
                ErrorCode::InternalError,
                "The server could not complete the request.",
            )
        }
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string().into()),
            ..Self::new(
                ErrorCode::ServiceUnavailable,
                "The database is unavailable; retry shortly.",
            )
        }
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
