//! Entity tags for client records: a strong `ETag` per version, and `If-Match` evaluation.

use actix_web::http::header::{HeaderMap, IF_MATCH};

/// The strong entity tag of a client version.
pub fn of(version: i64) -> String {
    format!("\"{version}\"")
}

/// What the request's `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match`: the update applies to whatever the current version is.
    Absent,
    /// `*`: any existing record.
    Any,
    /// A list of entity tags, compared strongly (a weak tag never matches).
    Tags(Vec<String>),
}

impl IfMatch {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let values: Vec<&str> = headers
            .get_all(IF_MATCH)
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return IfMatch::Absent;
        }
        let tags: Vec<String> = values
            .iter()
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if tags.iter().any(|t| t == "*") {
            IfMatch::Any
        } else {
            IfMatch::Tags(tags)
        }
    }

    pub fn allows(&self, version: i64) -> bool {
        match self {
            IfMatch::Absent | IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.contains(&of(version)),
        }
    }

    /// `Ok` when the request may act on `version`; otherwise the `412 version_mismatch` problem,
    /// carrying the current `ETag`. Every command that honours `If-Match` answers through this.
    pub fn check(&self, version: i64) -> Result<(), crate::problem::ApiError> {
        use crate::problem::{ApiError, ErrorCode};
        if self.allows(version) {
            return Ok(());
        }
        Err(ApiError {
            etag: Some(of(version).into()),
            ..ApiError::new(
                ErrorCode::VersionMismatch,
                format!(
                    "If-Match does not match the client's current version {}.",
                    of(version)
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn if_match(values: &[&str]) -> IfMatch {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(IF_MATCH, HeaderValue::from_str(v).unwrap());
        }
        IfMatch::from_headers(&headers)
    }

    #[test]
    fn absent_and_star_allow_any_version() {
        assert!(if_match(&[]).allows(7));
        assert!(if_match(&["*"]).allows(7));
    }

    #[test]
    fn a_listed_strong_tag_matches_only_its_version() {
        assert!(if_match(&["\"3\", \"7\""]).allows(7));
        assert!(if_match(&["\"3\"", "\"7\""]).allows(7));
        assert!(!if_match(&["\"6\""]).allows(7));
    }

    #[test]
    fn weak_and_unquoted_tags_never_match() {
        assert!(!if_match(&["W/\"7\""]).allows(7));
        assert!(!if_match(&["7"]).allows(7));
    }
}
