//! The one table of error codes: each code's status, title and meaning. The responses take their
//! status and title from it, and the spec's list of codes is written from it, so a code cannot be
//! answered without being documented.

use actix_web::http::StatusCode;

/// Declares a code enum from its table: the stable string, for problem codes the status and the
/// title, and when the code is used.
macro_rules! code_table {
    (
        $(#[$meta:meta])* $name:ident {
            $($variant:ident = $code:literal, $status:ident, $title:literal, $when:literal;)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            pub const fn status(self) -> StatusCode {
                match self { $(Self::$variant => StatusCode::$status),+ }
            }

            pub const fn title(self) -> &'static str {
                match self { $(Self::$variant => $title),+ }
            }

            /// When the code is answered, for the spec and the design doc.
            pub const fn when(self) -> &'static str {
                match self { $(Self::$variant => $when),+ }
            }
        }
    };
    (
        $(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $when:literal;)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            /// When the code is given, for the spec and the design doc.
            pub const fn when(self) -> &'static str {
                match self { $(Self::$variant => $when),+ }
            }
        }
    };
}

code_table!(
    /// Every error code the API answers with. Codes are stable: partners branch on them.
    ErrorCode {
        MalformedJson = "malformed_json", BAD_REQUEST, "Request body is not a JSON object",
            "the body is not JSON, or not an object";
        InvalidId = "invalid_id", BAD_REQUEST, "Invalid client id",
            "the path id is not a UUID";
        InvalidParameter = "invalid_parameter", BAD_REQUEST, "Invalid query parameter",
            "a query parameter has a bad value or does not exist; each one in `errors` with `parameter`";
        InvalidIdempotencyKey = "invalid_idempotency_key", BAD_REQUEST, "Invalid Idempotency-Key",
            "`Idempotency-Key` is empty, over 255 characters, or not visible ASCII";
        BadRequest = "bad_request", BAD_REQUEST, "Bad request",
            "any other malformed request";
        Unauthorized = "unauthorized", UNAUTHORIZED, "Missing or invalid API key",
            "no API key, or not a live one; `WWW-Authenticate: Bearer`";
        NotFound = "not_found", NOT_FOUND, "Not found",
            "unknown id, a client of another organization (indistinguishable), unknown path";
        MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed",
            "the path exists, but not with this method; `Allow` lists the methods it has";
        EmailTaken = "email_taken", CONFLICT, "Email already in use",
            "the email is used by another client of the organization (case-insensitive)";
        ExternalClientCodeTaken = "external_client_code_taken", CONFLICT, "External client code already in use",
            "the external client code is used in the organization";
        IdempotencyRequestInProgress = "idempotency_request_in_progress", CONFLICT, "A request with this Idempotency-Key is in progress",
            "a registration with this `Idempotency-Key` is still running";
        InvalidTransition = "invalid_transition", CONFLICT, "Transition not allowed",
            "the KYC status cannot go to the one asked for from the current one (`allowed` lists those it can go to), or the relationship is already closed, or already active";
        ClientClosed = "client_closed", CONFLICT, "Client relationship closed",
            "the client's relationship is closed: it can be read, listed and its history read, but not updated nor given a KYC decision until it is reopened";
        VersionMismatch = "version_mismatch", PRECONDITION_FAILED, "Version mismatch",
            "`If-Match` does not match; the response's `ETag` is the current one";
        RequestTimeout = "request_timeout", REQUEST_TIMEOUT, "Request not received in time",
            "the body did not arrive within `REQUEST_TIMEOUT_MS`";
        PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "Request body too large",
            "body over `BODY_LIMIT_BYTES` (64 KiB by default)";
        UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
            "body not sent as JSON";
        ValidationFailed = "validation_failed", UNPROCESSABLE_ENTITY, "Validation failed",
            "one or more field errors, all listed in `errors`";
        IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY, "Idempotency-Key reused with a different body",
            "an `Idempotency-Key` sent again with a different body";
        ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE, "Service unavailable",
            "the database is unreachable or too slow to answer; nothing changed; `Retry-After: 1`";
        InternalError = "internal_error", INTERNAL_SERVER_ERROR, "Internal server error",
            "a bug; the body says nothing more, the log says everything";
    }
);

code_table!(
    /// Why a query parameter was refused (`errors[].code` beside `parameter`).
    ParameterCode {
        InvalidValue = "invalid_value",
            "the parameter has a value it cannot take, or is given twice";
        UnknownParameter = "unknown_parameter",
            "the operation has no such parameter (or not for this key)";
    }
);

impl ErrorCode {
    /// The code a framework error with this status stands for.
    pub(super) fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Self::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::SERVICE_UNAVAILABLE => Self::ServiceUnavailable,
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::InternalError,
        }
    }
}

/// The spec's description of `Problem.code`: every code with its status and meaning.
pub fn problem_codes_description() -> String {
    let mut out = String::from(
        "The stable machine-readable error code; branch on this, not on `title` or `detail`.\n\n\
         | code | status | when |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.status().as_u16(),
            code.when()
        ));
    }
    out
}

/// The spec's description of `ProblemField.code`: every field and parameter code.
pub fn field_codes_description() -> String {
    let mut out =
        String::from("Why the member or parameter was refused.\n\nFor body members (`pointer`):\n");
    for code in domain::FieldCode::ALL {
        out.push_str(&format!("- `{}`: {}\n", code.as_str(), code.when()));
    }
    out.push_str("\nFor query parameters (`parameter`):\n");
    for code in ParameterCode::ALL {
        out.push_str(&format!("- `{}`: {}\n", code.as_str(), code.when()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_titles_fixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(!code.title().is_empty() && !code.when().is_empty());
        }
    }

    /// The design doc's table lists every code with the status the server answers.
    #[test]
    fn the_design_doc_lists_every_code_with_its_status() {
        let doc = include_str!("../../../../docs/API-DESIGN.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), code.status().as_u16());
            assert!(doc.contains(&row), "docs/API-DESIGN.md lacks {row}");
        }
        for code in domain::FieldCode::ALL
            .iter()
            .map(|c| c.as_str())
            .chain(ParameterCode::ALL.iter().map(|c| c.as_str()))
        {
            assert!(
                doc.contains(&format!("`{code}`")),
                "docs/API-DESIGN.md lacks {code}"
            );
        }
    }
}
