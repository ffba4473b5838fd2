//! The request middleware: gives every request an id, renders every error response as a problem,
//! counts it in the metrics, and logs one line per request (with the cause of a `5xx`).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::Caller;
use crate::metrics::{Metrics, UNMATCHED_ROUTE};
use crate::problem::{self, PROBLEM_JSON};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the caller's `X-Request-Id` when it is safe to echo, otherwise
/// a fresh UUID.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let metrics = req.app_data::<Data<Metrics>>().cloned();
    // HEAD is GET without the body (RFC 9110 §9.3.2): routed as GET. The HTTP codec saw HEAD
    // on the wire and sends the response's headers only.
    let method = req.method().clone();
    if method == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    // Every event logged while the request is handled carries its id.
    let span = tracing::info_span!("request", request_id = %request_id);

    // Handler and extractor errors arrive as responses carrying the error; only a failing inner
    // middleware would return `Err`, and there is none inside this one.
    // One budget for the request's database waits, so that a checkout and the statements after
    // it cannot each take their own full timeout.
    let budget = req
        .app_data::<Data<store::Store>>()
        .map(|store| store.request_budget());
    let handled = next.call(req).instrument(span);
    let response = match budget {
        Some(budget) => store::with_budget(budget, handled).await?,
        None => handled.await?,
    };
    // Why a 5xx happened is logged here, once, on the request's line.
    let cause = response
        .status()
        .is_server_error()
        .then(|| response.response().error())
        .flatten()
        .map(|error| match error.as_error::<problem::ApiError>() {
            Some(api_error) => api_error.cause.as_deref().unwrap_or_default().to_owned(),
            None => error.to_string(),
        });
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let mut response = if response.status().as_u16() >= 400 && !is_problem {
        let (request, inner) = response.into_parts();
        let rendered = problem::render(inner.status(), inner.error(), inner.headers(), &request_id);
        ServiceResponse::new(request, rendered)
    } else {
        response.map_into_boxed_body()
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }

    let elapsed = started.elapsed();
    let request = response.request();
    let route = request.match_pattern();
    let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    let status = response.status();
    if let Some(metrics) = metrics {
        metrics.observe(method_label(&method), route, status, elapsed);
    }
    let caller = request.extensions().get::<Caller>().map(|caller| {
        (
            caller
                .organization_id
                .map_or_else(|| "admin".to_owned(), |id| id.to_string()),
            caller.key_id,
        )
    });
    let (organization, key_id) = caller.unzip();
    macro_rules! access_log {
        ($level:expr) => {
            tracing::event!(
                $level,
                method = %method,
                route,
                path = request.path(),
                status = status.as_u16(),
                duration_ms = elapsed.as_micros() as f64 / 1000.0,
                request_id = %request_id,
                organization = organization.as_deref(),
                key_id = key_id.map(tracing::field::display),
                error = cause.as_deref(),
                "request"
            )
        };
    }
    if status == actix_web::http::StatusCode::INTERNAL_SERVER_ERROR {
        access_log!(tracing::Level::ERROR);
    } else if status.is_server_error() {
        access_log!(tracing::Level::WARN);
    } else {
        access_log!(tracing::Level::INFO);
    }
    Ok(response)
}

/// The method as a metrics label: any request line may carry a made-up method, so beyond the
/// standard ones they all count as `OTHER`, or callers could grow the series without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The id the middleware gave this request.
pub fn request_id(req: &actix_web::HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|id| id.0.clone())
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn made_up_methods_share_one_label() {
        use actix_web::http::Method;
        assert_eq!(super::method_label(&Method::PUT), "PUT");
        let made_up = Method::from_bytes(b"FOO1").unwrap();
        assert_eq!(super::method_label(&made_up), "OTHER");
    }

    #[test]
    fn request_ids_are_bounded_and_safe() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(129)));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\u{7f}"));
    }
}
