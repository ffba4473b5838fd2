//! The diesel schema, once per backend. The two differ only in how a UUID and an instant are
//! typed (PostgreSQL `uuid`/`timestamptz`, SQLite text), so both are generated from one column
//! list.

macro_rules! clients_table {
    () => {
        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            clients (id) {
                id -> IdSql,
                organization_id -> Integer,
                version -> BigInt,
                created_at -> InstantSql,
                updated_at -> InstantSql,
                kyc_level -> Text,
                kyc_status -> Text,
                risk_level -> Text,
                is_blacklisted -> Bool,
                blacklisted_comment -> Nullable<Text>,
                blocked -> Bool,
                kyc_note -> Nullable<Text>,
                external_client_code -> Nullable<Text>,
                first_name -> Text,
                middle_name -> Nullable<Text>,
                last_name -> Text,
                date_of_birth -> Date,
                gender -> Text,
                nationality -> Text,
                birth_country -> Text,
                country_of_tax_residence -> Text,
                email -> Text,
                second_email -> Nullable<Text>,
                mobile_phone_number -> Nullable<Text>,
                second_mobile_phone_number -> Nullable<Text>,
                address -> Text,
                city -> Text,
                postcode -> Text,
                state_province -> Nullable<Text>,
                country_code -> Text,
                planned_income -> Nullable<Text>,
                planned_expenditure -> Nullable<Text>,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            client_history (client_id, version) {
                client_id -> IdSql,
                version -> BigInt,
                organization_id -> Integer,
                recorded_at -> InstantSql,
                actor_key_id -> Nullable<Text>,
                actor_name -> Text,
                request_id -> Nullable<Text>,
                changes -> Text,
                reason -> Nullable<Text>,
                hash -> Nullable<Text>,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            /// A row while the client's relationship is closed.
            client_relationships (client_id) {
                client_id -> IdSql,
                organization_id -> Integer,
                ended_at -> InstantSql,
                retain_until -> InstantSql,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::InstantSql;

            idempotency_keys (organization_id, key) {
                organization_id -> Integer,
                key -> Text,
                request_hash -> Text,
                created_at -> InstantSql,
                completed -> Bool,
                response_status -> Nullable<Integer>,
                response_body -> Nullable<Text>,
                location -> Nullable<Text>,
                etag -> Nullable<Text>,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            api_keys (id) {
                id -> IdSql,
                organization_id -> Nullable<Integer>,
                name -> Text,
                secret_hash -> Text,
                created_at -> InstantSql,
                last_used_at -> Nullable<InstantSql>,
                revoked_at -> Nullable<InstantSql>,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            webhook_endpoints (id) {
                id -> IdSql,
                organization_id -> Integer,
                url -> Text,
                description -> Nullable<Text>,
                event_types -> Nullable<Text>,
                event_mask -> Nullable<Integer>,
                secret -> Text,
                created_at -> InstantSql,
                paused_until -> Nullable<InstantSql>,
                deleted_at -> Nullable<InstantSql>,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            webhook_deliveries (id) {
                id -> BigInt,
                endpoint_id -> IdSql,
                organization_id -> Integer,
                event_id -> IdSql,
                client_id -> IdSql,
                version -> BigInt,
                event_created_at -> InstantSql,
                state -> Text,
                attempts -> Integer,
                next_attempt_at -> InstantSql,
                first_attempted_at -> Nullable<InstantSql>,
                claimed_by -> Nullable<IdSql>,
                claimed_until -> Nullable<InstantSql>,
            }
        }

        diesel::table! {
            webhook_secrets_key (id) {
                id -> Integer,
                fingerprint -> Text,
            }
        }

        diesel::table! {
            use diesel::sql_types::*;
            use super::{IdSql, InstantSql};

            webhook_attempts (id) {
                id -> BigInt,
                endpoint_id -> IdSql,
                organization_id -> Integer,
                event_id -> IdSql,
                attempt -> Integer,
                attempted_at -> InstantSql,
                status_code -> Nullable<Integer>,
                error -> Nullable<Text>,
                duration_ms -> BigInt,
                outcome -> Text,
            }
        }
    };
}

pub mod pg {
    pub type IdSql = diesel::sql_types::Uuid;
    pub type InstantSql = diesel::sql_types::Timestamptz;
    clients_table!();

    diesel::table! {
        use diesel::sql_types::*;
        use super::{IdSql, InstantSql};

        /// `tx` is the writing transaction's id, which orders the feed (see `events`).
        events (seq) {
            seq -> BigInt,
            tx -> BigInt,
            id -> IdSql,
            organization_id -> Integer,
            client_id -> IdSql,
            version -> BigInt,
            #[sql_name = "type"]
            kind -> Text,
            created_at -> InstantSql,
            body -> Text,
        }
    }
}

pub mod sqlite {
    pub type IdSql = diesel::sql_types::Text;
    pub type InstantSql = diesel::sql_types::TimestamptzSqlite;
    clients_table!();

    diesel::table! {
        use diesel::sql_types::*;
        use super::{IdSql, InstantSql};

        events (seq) {
            seq -> BigInt,
            id -> IdSql,
            organization_id -> Integer,
            client_id -> IdSql,
            version -> BigInt,
            #[sql_name = "type"]
            kind -> Text,
            created_at -> InstantSql,
            body -> Text,
        }
    }
}
