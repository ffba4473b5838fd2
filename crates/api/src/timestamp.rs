//! Timestamps on the wire: RFC 3339 in UTC, always with six fractional digits
//! (`2026-11-24T10:15:30.123400Z`), so they have one fixed width and sort as text.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn micros<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    // chrono's RFC 3339 writer, not a format string: no pattern parsed on every call.
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// [`micros`] for an optional instant: `null` when there is none.
pub fn optional_micros<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => micros(at, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    #[test]
    fn always_six_fractional_digits() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:15:30.5Z")
            .unwrap()
            .to_utc();
        let json = serde_json::to_value(Wrapper(at)).unwrap();
        assert_eq!(json, "2026-11-24T10:15:30.500000Z");
    }

    #[derive(serde::Serialize)]
    struct Wrapper(#[serde(serialize_with = "super::micros")] chrono::DateTime<chrono::Utc>);
}
