//! Which organization a request acts for.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::problem::ApiError;

/// The organization whose clients a request may see and change. Until API keys exist, every
/// request acts for organization 1; handlers take this extractor so that only it changes then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Organization(pub i32);

pub const DEFAULT_ORGANIZATION: Organization = Organization(1);

impl FromRequest for Organization {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(_req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(DEFAULT_ORGANIZATION))
    }
}

impl Organization {
    /// Who is acting, for the change history. Until API keys exist nobody is identified.
    pub fn audit(&self, req: &HttpRequest) -> store::Audit {
        store::Audit {
            actor_key_id: None,
            actor_name: "unauthenticated".to_owned(),
            request_id: crate::middleware::request_id(req),
        }
    }
}
