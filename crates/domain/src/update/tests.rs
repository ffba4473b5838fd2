use chrono::TimeDelta;

use super::*;
use crate::enums::KycStatus;
use crate::register::tests::{today, valid};
use crate::register::NewClient;

fn stored() -> Client {
    let at = DateTime::parse_from_rfc3339("2026-11-01T10:00:00.123456Z")
        .unwrap()
        .to_utc();
    let mut client =
        NewClient::parse(&valid(), today())
            .unwrap()
            .into_client(Uuid::now_v7(), 1, at);
    client.kyc_note = Some("initial note".into());
    client.mobile_phone_number = Some("+33612345678".into());
    client
}

fn later() -> DateTime<Utc> {
    stored().updated_at + TimeDelta::hours(1)
}

fn input(members: &[(&str, Json)]) -> UpdateInput {
    UpdateInput {
        members: members
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

fn text(v: &str) -> Json {
    Json::Text(v.to_owned())
}

fn errors_of(current: &Client, members: &[(&str, Json)]) -> Vec<(String, FieldCode)> {
    plan(current, &input(members), later())
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

const OPTIONAL_TEXT: [UpdateField; 8] = [
    UpdateField::BlacklistedComment,
    UpdateField::KycNote,
    UpdateField::MobilePhoneNumber,
    UpdateField::SecondMobilePhoneNumber,
    UpdateField::SecondEmail,
    UpdateField::StateProvince,
    UpdateField::PlannedIncome,
    UpdateField::PlannedExpenditure,
];

const REQUIRED_TEXT: [UpdateField; 5] = [
    UpdateField::Address,
    UpdateField::City,
    UpdateField::CountryCode,
    UpdateField::Email,
    UpdateField::Postcode,
];

/// A valid new value for every update field, different from `stored()`'s.
fn new_value(field: UpdateField) -> Json {
    use UpdateField as F;
    match field {
        F::Blocked | F::IsBlacklisted => Json::Bool(true),
        F::RiskLevel => text("High"),
        F::CountryCode => text("DEU"),
        F::Email | F::SecondEmail => text("grace@example.org"),
        F::MobilePhoneNumber | F::SecondMobilePhoneNumber => text("+4915112345678"),
        _ => text("changed value"),
    }
}

#[test]
fn empty_body_is_a_noop() {
    let current = stored();
    let plan = plan(&current, &UpdateInput::default(), later()).unwrap();
    assert!(plan.is_noop());
    assert_eq!(plan.client, current);
}

#[test]
fn null_leaves_every_field_unchanged() {
    let current = stored();
    let members: Vec<(&str, Json)> = UpdateField::ALL
        .iter()
        .map(|f| (f.name(), Json::Null))
        .collect();
    let plan = plan(&current, &input(&members), later()).unwrap();
    assert!(plan.is_noop());
    assert_eq!(
        plan.client, current,
        "null must never erase or bump anything"
    );
}

#[test]
fn each_field_can_be_set_and_only_it_changes() {
    let current = stored();
    for &field in UpdateField::ALL {
        let mut members = vec![(field.name(), new_value(field))];
        if field == UpdateField::IsBlacklisted {
            members.push(("blacklisted_comment", text("sanctions list match")));
        }
        let plan = plan(&current, &input(&members), later())
            .unwrap_or_else(|e| panic!("{field:?}: {e:?}"));
        assert!(plan.changed(field), "{field:?} should change");
        assert_eq!(
            plan.changes.len(),
            members.len(),
            "{field:?}: {:?}",
            plan.changes
        );
        assert_eq!(plan.client.version, current.version + 1);
        assert_eq!(plan.client.updated_at, later());
    }
}

#[test]
fn empty_string_clears_each_optional_field() {
    let mut current = stored();
    for field in OPTIONAL_TEXT {
        // Give the field a value first so that clearing is a real change.
        let members = [(field.name(), new_value(field))];
        current = plan(&current, &input(&members), later()).unwrap().client;
        let cleared = plan(&current, &input(&[(field.name(), text(""))]), later()).unwrap();
        assert_eq!(
            value_of(&cleared.client, field),
            FieldValue::Null,
            "{field:?}"
        );
        assert_eq!(cleared.changes.len(), 1, "{field:?}");
        assert_eq!(cleared.changes[0].new, FieldValue::Null);
    }
}

#[test]
fn blank_string_clears_too_because_strings_are_trimmed() {
    let cleared = plan(&stored(), &input(&[("kyc_note", text("   "))]), later()).unwrap();
    assert_eq!(cleared.client.kyc_note, None);
}

#[test]
fn empty_string_for_each_required_field_is_an_error() {
    let current = stored();
    for field in REQUIRED_TEXT {
        assert_eq!(
            errors_of(&current, &[(field.name(), text(""))]),
            [(field.name().into(), FieldCode::Required)]
        );
    }
}

#[test]
fn sending_the_stored_value_is_a_noop() {
    let current = stored();
    let plan = plan(
        &current,
        &input(&[
            ("city", text("Paris")),
            ("kyc_note", text(" initial note ")),
        ]),
        later(),
    );
    assert!(plan.unwrap().is_noop());
}

#[test]
fn a_change_records_old_and_new_values() {
    let plan = plan(
        &stored(),
        &input(&[("city", text(" Lyon ")), ("blocked", Json::Bool(true))]),
        later(),
    )
    .unwrap();
    assert_eq!(
        plan.changes,
        [
            FieldChange {
                field: UpdateField::Blocked,
                old: FieldValue::Bool(false),
                new: FieldValue::Bool(true)
            },
            FieldChange {
                field: UpdateField::City,
                old: FieldValue::Text("Paris".into()),
                new: FieldValue::Text("Lyon".into())
            },
        ]
    );
}

#[test]
fn country_code_is_stored_upper_case() {
    let plan = plan(&stored(), &input(&[("country_code", text("deu"))]), later()).unwrap();
    assert_eq!(plan.client.country_code, "DEU");
}

#[test]
fn invalid_values_are_all_reported_at_once() {
    let found = errors_of(
        &stored(),
        &[
            ("email", text("nope")),
            ("second_email", text("also@nope")),
            ("mobile_phone_number", text("0612345678")),
            ("country_code", text("FR")),
            ("postcode", text(&"1".repeat(21))),
            ("risk_level", text("low")),
            ("address", text(&"a".repeat(256))),
        ],
    );
    assert_eq!(
        found,
        [
            ("email".into(), FieldCode::InvalidEmail),
            ("second_email".into(), FieldCode::InvalidEmail),
            ("mobile_phone_number".into(), FieldCode::InvalidPhone),
            ("country_code".into(), FieldCode::InvalidCountry),
            ("postcode".into(), FieldCode::TooLong),
            ("risk_level".into(), FieldCode::InvalidEnum),
            ("address".into(), FieldCode::TooLong),
        ]
    );
}

#[test]
fn wrong_json_types_are_field_errors() {
    let found = errors_of(
        &stored(),
        &[
            ("blocked", text("yes")),
            ("city", Json::Integer(7)),
            ("risk_level", Json::Bool(true)),
            ("kyc_note", Json::Other("array")),
        ],
    );
    assert!(
        found
            .iter()
            .all(|(_, code)| *code == FieldCode::InvalidType),
        "{found:?}"
    );
    assert_eq!(found.len(), 4);
}

#[test]
fn unknown_field_is_rejected_not_ignored() {
    assert_eq!(
        errors_of(&stored(), &[("citty", text("Lyon"))]),
        [("citty".into(), FieldCode::UnknownField)]
    );
}

fn round_trip_members(client: &Client) -> Vec<(String, Json)> {
    let t = |s: &str| Json::Text(s.to_owned());
    let o = |s: &Option<String>| s.as_deref().map_or(Json::Null, t);
    vec![
        ("id".into(), t(&client.id.to_string())),
        (
            "organization_id".into(),
            Json::Integer(client.organization_id.into()),
        ),
        ("created_at".into(), t(&client.created_at.to_rfc3339())),
        (
            "updated_at".into(),
            t(&client
                .updated_at
                .format("%Y-%m-%dT%H:%M:%S%.fZ")
                .to_string()),
        ),
        ("first_name".into(), t(&client.first_name)),
        ("middle_name".into(), o(&client.middle_name)),
        ("last_name".into(), t(&client.last_name)),
        ("date_of_birth".into(), t(&client.date_of_birth.to_string())),
        ("gender".into(), t(client.gender.as_str())),
        ("nationality".into(), t(&client.nationality.to_lowercase())),
        ("birth_country".into(), t(&client.birth_country)),
        (
            "country_of_tax_residence".into(),
            t(&client.country_of_tax_residence),
        ),
        ("kyc_level".into(), t(client.kyc_level.as_str())),
        ("kyc_status".into(), t(client.kyc_status.as_str())),
        (
            "external_client_code".into(),
            o(&client.external_client_code),
        ),
        ("city".into(), t("Lyon")),
    ]
}

#[test]
fn round_trip_with_unchanged_response_fields_is_accepted() {
    let current = stored();
    let plan = plan(
        &current,
        &UpdateInput {
            members: round_trip_members(&current),
        },
        later(),
    )
    .unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.client.city, "Lyon");
}

#[test]
fn changed_immutable_fields_are_each_named() {
    let current = stored();
    let found = errors_of(
        &current,
        &[
            ("first_name", text("Grace")),
            ("date_of_birth", text("1991-01-01")),
            ("kyc_status", text(KycStatus::Validated.as_str())),
            ("id", text(&Uuid::now_v7().to_string())),
            ("created_at", text("2020-01-01T00:00:00Z")),
            ("organization_id", Json::Integer(2)),
            ("external_client_code", text("X-1")),
            ("city", text("Lyon")),
        ],
    );
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "first_name",
            "date_of_birth",
            "kyc_status",
            "id",
            "created_at",
            "organization_id",
            "external_client_code"
        ]
    );
    assert!(found.iter().all(|(_, c)| *c == FieldCode::ImmutableField));
}

#[test]
fn blacklisting_without_a_comment_is_rejected() {
    assert_eq!(
        errors_of(&stored(), &[("is_blacklisted", Json::Bool(true))]),
        [(
            "blacklisted_comment".into(),
            FieldCode::BlacklistCommentRequired
        )]
    );
}

#[test]
fn blacklisting_with_a_comment_in_the_body_or_already_stored_is_accepted() {
    let members = [
        ("is_blacklisted", Json::Bool(true)),
        ("blacklisted_comment", text("PEP match")),
    ];
    assert!(plan(&stored(), &input(&members), later()).is_ok());

    let mut current = stored();
    current.blacklisted_comment = Some("earlier finding".into());
    assert!(plan(
        &current,
        &input(&[("is_blacklisted", Json::Bool(true))]),
        later()
    )
    .is_ok());
}

#[test]
fn clearing_the_comment_of_a_blacklisted_client_is_rejected() {
    let mut current = stored();
    current.is_blacklisted = true;
    current.blacklisted_comment = Some("PEP match".into());
    assert_eq!(
        errors_of(&current, &[("blacklisted_comment", text(""))]),
        [(
            "blacklisted_comment".into(),
            FieldCode::BlacklistCommentRequired
        )]
    );
}

#[test]
fn updated_at_never_goes_backwards() {
    let current = stored();
    let earlier = current.updated_at - TimeDelta::seconds(5);
    let plan = plan(&current, &input(&[("city", text("Lyon"))]), earlier).unwrap();
    assert_eq!(plan.client.updated_at, current.updated_at);
    assert_eq!(plan.client.version, current.version + 1);
}
