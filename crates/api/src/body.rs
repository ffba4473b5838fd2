//! Reading a JSON request body into the members the domain rules work on. Only the transport
//! checks happen here (content type, JSON syntax, an object at the top); what the members mean is
//! the domain's business, so that every field error is reported at once.

use actix_web::{HttpMessage, HttpRequest};
use domain::update::Json;
use serde_json::Value;

use crate::problem::{ApiError, ErrorCode};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub type Members = Vec<(String, Json)>;

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

/// The members of the JSON object in the body, in document order of their names.
pub fn json_members(req: &HttpRequest, body: &[u8]) -> Result<Members, ApiError> {
    if !is_json(req) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "The request body must be JSON, sent with `Content-Type: application/json`.",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("The body is not valid JSON: {e}."),
        )
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "The body must be a JSON object.",
        ));
    };
    Ok(object
        .into_iter()
        .map(|(name, value)| (name, to_domain(value)))
        .collect())
}

fn to_domain(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::String(s) => Json::Text(s),
        Value::Number(n) => n.as_i64().map_or(Json::Other("number"), Json::Integer),
        Value::Array(_) => Json::Other("array"),
        Value::Object(_) => Json::Other("object"),
    }
}
