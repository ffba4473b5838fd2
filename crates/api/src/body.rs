//! Reading a request body: within the limits, as JSON, into the body's own type. The transport
//! checks happen here (size, time, content type, JSON syntax, an object at the top, no member the
//! type does not have); what the members hold, the body type reports, every error at once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use domain::FieldError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::problem::{ApiError, ErrorCode};

/// How much of a request body the server reads, and for how long it waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// A request body, read whole within the [`BodyLimits`] of the app: larger is `413`, slower is
/// `408`. Nothing has been done with the request when either is answered.
#[derive(Debug)]
pub struct Body(pub Bytes);

impl FromRequest for Body {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = *req
            .app_data::<BodyLimits>()
            .expect("BodyLimits is registered with the app");
        // Reads with the app's `PayloadConfig`, whose limit is `limits.max_bytes`.
        let read = Bytes::from_request(req, payload);
        Box::pin(async move {
            match tokio::time::timeout(limits.timeout, read).await {
                Ok(Ok(bytes)) => Ok(Body(bytes)),
                Ok(Err(error))
                    if error.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("The request body exceeds {} bytes.", limits.max_bytes),
                    )
                    .into())
                }
                Ok(Err(error)) => Err(error),
                Err(_) => Err(ApiError::new(
                    ErrorCode::RequestTimeout,
                    format!(
                        "The request body did not arrive within {} ms.",
                        limits.timeout.as_millis()
                    ),
                )
                .into()),
            }
        })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

/// Reads the JSON object in the body as `T`, a body struct of [`crate::members`] fields. A member
/// `T` does not have is left out, refused with the error `stranger` makes for its name and value
/// (`None`: ignored); what the members themselves hold is `T`'s to report.
pub fn read_object<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
    stranger: impl Fn(&str, &Value) -> Option<FieldError>,
) -> Result<(T, Vec<FieldError>), ApiError> {
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
    let Value::Object(mut object) = value else {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "The body must be a JSON object.",
        ));
    };
    let known = crate::members::fields_of::<T>();
    let strangers: Vec<String> = object
        .keys()
        .filter(|name| !known.contains(&name.as_str()))
        .cloned()
        .collect();
    let refused = strangers
        .iter()
        .filter_map(|name| {
            let value = object.remove(name.as_str())?;
            stranger(name, &value)
        })
        .collect();
    // Every member left is one of `T`'s, and its fields read any JSON: this cannot fail.
    let read = serde_json::from_value(Value::Object(object)).map_err(ApiError::internal)?;
    Ok((read, refused))
}

/// SHA-256 (hex) of the body's JSON with object keys sorted and no whitespace, so that two
/// encodings of the same JSON count as the same body.
pub fn canonical_hash(body: &[u8]) -> String {
    let mut canonical = String::new();
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        write_canonical(&value, &mut canonical);
    }
    crate::digest::sha256_hex(canonical.as_bytes())
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by_key(|(name, _)| *name);
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_hash;

    #[test]
    fn canonical_hash_ignores_key_order_and_whitespace_but_not_values() {
        let a = canonical_hash(br#"{"b": [1, {"y": 2, "x": 1}], "a": "s"}"#);
        assert_eq!(a, canonical_hash(br#"{"a":"s","b":[1,{"x":1,"y":2}]}"#));
        assert_ne!(a, canonical_hash(br#"{"a":"t","b":[1,{"x":1,"y":2}]}"#));
        assert_ne!(a, canonical_hash(br#"{"a":"s","b":[{"x":1,"y":2},1]}"#));
    }
}
