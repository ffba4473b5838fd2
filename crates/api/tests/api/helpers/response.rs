//! A response as tests look at it: status, headers and JSON body, with assertions on problems.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    /// Asserts the status (showing the body when it differs) and returns the response.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {:#}",
            self.body
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem response with this status and code, and returns its body.
    #[track_caller]
    pub fn problem(self, status: StatusCode, code: &str) -> Value {
        let response = self.expect(status);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{:#}",
            response.body
        );
        let body = response.body;
        assert_eq!(body["code"], code, "{body:#}");
        assert_eq!(body["status"], status.as_u16(), "{body:#}");
        assert_eq!(body["type"], format!("/problems/{code}"));
        for member in ["title", "detail", "request_id"] {
            assert!(
                body[member].as_str().is_some_and(|s| !s.is_empty()),
                "problem without {member}: {body:#}"
            );
        }
        assert_eq!(
            response
                .headers
                .get("x-request-id")
                .unwrap()
                .to_str()
                .unwrap(),
            body["request_id"]
        );
        body
    }

    /// The `(parameter, code)` pairs of an `invalid_parameter` problem.
    #[track_caller]
    pub fn parameter_errors(self) -> Vec<(String, String)> {
        let body = self.problem(StatusCode::BAD_REQUEST, "invalid_parameter");
        body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (
                    e["parameter"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The `(pointer, code)` pairs of a validation problem.
    #[track_caller]
    pub fn field_errors(self) -> Vec<(String, String)> {
        let body = self.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (
                    e["pointer"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// The value of one sample (`name{labels}` exactly as exposed) in a Prometheus text page.
pub fn metric(page: &str, sample: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}
