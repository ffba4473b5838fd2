//! Query parameters: strict parsing (an unknown or malformed parameter is a `400` naming it, never
//! ignored) and offset pagination with a `Link` header to the next page.

use std::str::FromStr;

use actix_web::HttpRequest;
use utoipa::IntoParams;

use crate::problem::{ApiError, Location, ParameterCode, Refusal};

const INVALID_VALUE: ParameterCode = ParameterCode::InvalidValue;
const UNKNOWN_PARAMETER: ParameterCode = ParameterCode::UnknownParameter;

fn refusal(name: &str, code: ParameterCode, message: impl Into<String>) -> Refusal {
    Refusal {
        at: Location::Query(name.to_owned()),
        code: code.as_str(),
        message: message.into(),
    }
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The query string of a request, read strictly.
pub struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<Refusal>,
}

impl Query {
    pub fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).map_err(|_| {
                ApiError::invalid_parameters(vec![refusal(
                    "query",
                    INVALID_VALUE,
                    "the query string is not valid URL encoding",
                )])
            })?;
        Ok(Self {
            pairs,
            errors: Vec::new(),
        })
    }

    /// The parameter's value parsed, `None` when absent; a bad value is recorded.
    pub fn get<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        let (_, raw) = self.pairs.remove(index);
        if self.pairs.iter().any(|(n, _)| n == name) {
            self.pairs.retain(|(n, _)| n != name);
            self.errors
                .push(refusal(name, INVALID_VALUE, "must be given at most once"));
            return None;
        }
        match raw.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.errors
                    .push(refusal(name, INVALID_VALUE, format!("must be {expected}")));
                None
            }
        }
    }

    /// `limit` (1 to 200, default 50) and `offset` (0 or more, default 0).
    pub fn page(&mut self) -> Page {
        let expected = format!("an integer from 1 to {MAX_LIMIT}");
        let limit = self.get::<i64>("limit", &expected);
        if limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
            self.errors.push(refusal(
                "limit",
                INVALID_VALUE,
                format!("must be {expected}"),
            ));
        }
        let offset = self.get::<i64>("offset", "an integer, 0 or more");
        if offset.is_some_and(|o| o < 0) {
            self.errors.push(refusal(
                "offset",
                INVALID_VALUE,
                "must be an integer, 0 or more",
            ));
        }
        Page {
            limit: limit
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .unwrap_or(DEFAULT_LIMIT),
            offset: offset.filter(|o| *o >= 0).unwrap_or(0),
        }
    }

    /// Fails with every bad or unknown parameter at once.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for (name, _) in self.pairs.drain(..) {
            self.errors.push(refusal(
                &name,
                UNKNOWN_PARAMETER,
                "is not a parameter of this operation",
            ));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_parameters(self.errors))
        }
    }
}

/// `limit` and `offset`, documented once for every paginated operation.
///
/// Only documents the parameters in the spec: `Query` reads them strictly, so that a bad or
/// unknown parameter is refused by name.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// How many items to return, 1 to 200.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// How many items to skip.
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// `Link: <path?...&limit=L&offset=O>; rel="next"` for the page after this one; `filters` are
    /// the other parameters, repeated so the next page is of the same list.
    pub fn next_link(&self, path: &str, filters: &[(&str, String)]) -> String {
        let mut pairs: Vec<(&str, String)> = filters.to_vec();
        pairs.push(("limit", self.limit.to_string()));
        pairs.push(("offset", (self.offset + self.limit).to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("<{path}?{query}>; rel=\"next\"")
    }
}
