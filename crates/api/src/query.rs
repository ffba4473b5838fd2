//! Query parameters: each operation's parameters are one struct that is both their OpenAPI
//! description (`IntoParams`) and their parser (`Deserialize`, with fields that read without
//! failing). Reading is strict: a bad, repeated or unknown parameter is a `400` naming it, never
//! ignored, and every one is reported at once. Paginated lists get a `Link` to the next page.

use actix_web::HttpRequest;
use domain::{KycStatus, RiskLevel};
use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use utoipa::IntoParams;

use crate::members::fields_of;
use crate::problem::{ApiError, Location, ParameterCode, Refusal};

fn refusal(name: &str, code: ParameterCode, message: impl Into<String>) -> Refusal {
    Refusal {
        at: Location::Query(name.to_owned()),
        code: code.as_str(),
        message: message.into(),
    }
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// What a query parameter's text reads as; the error is what it must be, for the message.
pub trait ParamValue: Sized {
    fn parse(raw: &str) -> Result<Self, String>;
}

impl ParamValue for bool {
    fn parse(raw: &str) -> Result<Self, String> {
        raw.parse().map_err(|_| "true or false".to_owned())
    }
}

/// An organization id.
impl ParamValue for i32 {
    fn parse(raw: &str) -> Result<Self, String> {
        raw.parse().map_err(|_| "an organization id".to_owned())
    }
}

/// Enumerations by their exact spellings (a query parameter is not trimmed).
macro_rules! enum_params {
    ($($ty:ty),+) => {$(
        impl ParamValue for $ty {
            fn parse(raw: &str) -> Result<Self, String> {
                raw.parse().map_err(|_| format!("one of {}", <$ty>::expected()))
            }
        }
    )+};
}

enum_params!(KycStatus, RiskLevel);

/// An integer parameter within `MIN..=MAX` (page sizes, offsets).
#[derive(Debug, Clone, Copy)]
pub struct Ranged<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> ParamValue for Ranged<MIN, MAX> {
    fn parse(raw: &str) -> Result<Self, String> {
        raw.parse()
            .ok()
            .filter(|n| (MIN..=MAX).contains(n))
            .map(Ranged)
            .ok_or_else(|| match MAX {
                i64::MAX => format!("an integer, {MIN} or more"),
                _ => format!("an integer from {MIN} to {MAX}"),
            })
    }
}

/// One query parameter, read without failing: absent, a value, or why it was refused (what it
/// must be).
#[derive(Debug)]
pub struct Param<T>(Option<Result<T, String>>);

impl<'de, T: ParamValue> Deserialize<'de> for Param<T> {
    /// [`Query::read`] gives a parameter's one value as a string, or all its values as an array
    /// when it was given more than once.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Param(Option::<Json>::deserialize(deserializer)?.map(
            |given| match given {
                Json::String(raw) => {
                    T::parse(&raw).map_err(|expected| format!("must be {expected}"))
                }
                _ => Err("must be given at most once".to_owned()),
            },
        )))
    }
}

/// `400 invalid_parameter` for one parameter whose value the request's state rules out (a cursor
/// that is not one, say).
pub fn invalid_parameter(name: &str, message: &str) -> ApiError {
    ApiError::invalid_parameters(vec![refusal(name, ParameterCode::InvalidValue, message)])
}

/// `Link: <path?query>; rel="next"`, the next page of a list.
pub fn next_link(path: &str, query: &[(&str, String)]) -> String {
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    format!("<{path}?{query}>; rel=\"next\"")
}

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
                    ParameterCode::InvalidValue,
                    "the query string is not valid URL encoding",
                )])
            })?;
        Ok(Self {
            pairs,
            errors: Vec::new(),
        })
    }

    /// Takes the parameters `T` has out of the query (one given twice is refused, in its turn).
    pub fn read<T: DeserializeOwned>(&mut self) -> T {
        let names = fields_of::<T>();
        let mut given = Map::new();
        for &name in names {
            let mut values: Vec<Json> = self
                .pairs
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| Json::String(v.clone()))
                .collect();
            self.pairs.retain(|(n, _)| n != name);
            let value = match values.len() {
                0 => continue,
                1 => values.remove(0),
                _ => Json::Array(values),
            };
            given.insert(name.to_owned(), value);
        }
        // Every field of `T` is a `Param`, which reads any text: this cannot fail.
        serde_json::from_value(Json::Object(given))
            .expect("a parameter struct reads any strings it names")
    }

    /// The parameter's value; `None` when absent or refused (the refusal is recorded).
    pub fn value<T>(&mut self, name: &str, param: Param<T>) -> Option<T> {
        match param.0? {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors
                    .push(refusal(name, ParameterCode::InvalidValue, message));
                None
            }
        }
    }

    /// Fails with every bad or unknown parameter at once.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for (name, _) in self.pairs.drain(..) {
            self.errors.push(refusal(
                &name,
                ParameterCode::UnknownParameter,
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

/// Takes the parameter named like the struct field: `param!(query, params.limit)`.
macro_rules! param {
    ($query:ident, $params:ident . $field:ident) => {
        $query.value(stringify!($field), $params.$field)
    };
}
pub(crate) use param;

/// `limit` and `offset`, for every paginated operation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return, 1 to 200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    limit: Param<Ranged<1, MAX_LIMIT>>,
    /// How many items to skip.
    #[param(value_type = Option<i64>, minimum = 0, default = 0)]
    offset: Param<Ranged<0, { i64::MAX }>>,
}

impl PageParams {
    /// The page asked for, defaults filled in.
    pub fn read(query: &mut Query) -> Page {
        let params: Self = query.read();
        Page {
            limit: param!(query, params.limit).map_or(DEFAULT_LIMIT, |l| l.0),
            offset: param!(query, params.offset).map_or(0, |o| o.0),
        }
    }
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
        next_link(path, &pairs)
    }
}
