use chrono::TimeDelta;

use super::*;
use crate::register::tests::valid;
use crate::values::{CountryCode, Note, Phone, Text, Value};

fn stored() -> Client {
    let at = DateTime::parse_from_rfc3339("2026-11-01T10:00:00.123456Z")
        .unwrap()
        .to_utc();
    let mut client = valid().into_client(Uuid::now_v7(), 1, at);
    client.kyc_note = Some(Note::parse("initial note").unwrap());
    client.mobile_phone_number = Some(Phone::parse("+33612345678").unwrap());
    client
}

fn later() -> DateTime<Utc> {
    stored().updated_at + TimeDelta::hours(1)
}

fn set<T: Value>(raw: &str) -> Patch<T> {
    Patch::Set(T::parse(raw).unwrap())
}

fn errors_of(current: &Client, patch: UpdatePatch) -> Vec<(String, FieldCode)> {
    plan(current, patch, later())
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

/// A patch changing every field to a valid value different from `stored()`'s.
fn every_field_changed() -> UpdatePatch {
    UpdatePatch {
        address: set("2 Place Bellecour"),
        blacklisted_comment: set("PEP match"),
        blocked: Patch::Set(true),
        city: set("Lyon"),
        country_code: set("DEU"),
        email: set("grace@example.org"),
        is_blacklisted: Patch::Set(true),
        kyc_note: set("reviewed"),
        mobile_phone_number: set("+4915112345678"),
        planned_expenditure: set("1000 EUR"),
        planned_income: set("2000 EUR"),
        postcode: set("69002"),
        risk_level: Patch::Set(RiskLevel::High),
        second_email: set("grace@example.com"),
        second_mobile_phone_number: set("+4915112345679"),
        state_province: set("Rhône"),
        echoes: Echoes::default(),
    }
}

/// The patch that changes only `field`, as [`every_field_changed`] does.
fn only(field: UpdateField) -> UpdatePatch {
    let all = every_field_changed();
    let mut patch = UpdatePatch::default();
    macro_rules! keep_only {
        ($($variant:ident => $member:ident),+) => {
            match field { $(UpdateField::$variant => patch.$member = all.$member),+ }
        };
    }
    keep_only!(
        Address => address, BlacklistedComment => blacklisted_comment, Blocked => blocked,
        City => city, CountryCode => country_code, Email => email,
        IsBlacklisted => is_blacklisted, KycNote => kyc_note,
        MobilePhoneNumber => mobile_phone_number, PlannedExpenditure => planned_expenditure,
        PlannedIncome => planned_income, Postcode => postcode, RiskLevel => risk_level,
        SecondEmail => second_email, SecondMobilePhoneNumber => second_mobile_phone_number,
        StateProvince => state_province
    );
    if field == UpdateField::IsBlacklisted {
        patch.blacklisted_comment = set("PEP match");
    }
    patch
}

#[test]
fn an_empty_patch_is_a_noop() {
    let current = stored();
    let plan = plan(&current, UpdatePatch::default(), later()).unwrap();
    assert!(plan.is_noop());
    assert_eq!(plan.client, current, "same version, same updated_at");
}

#[test]
fn each_field_can_be_set_and_only_it_changes() {
    for &field in UpdateField::ALL {
        let plan = plan(&stored(), only(field), later()).unwrap();
        let mut changed: Vec<UpdateField> = plan.changes.iter().map(|c| c.field).collect();
        changed.retain(|f| *f != UpdateField::BlacklistedComment || field == *f);
        assert_eq!(changed, [field]);
        assert_eq!(plan.client.version, 2);
        assert_eq!(plan.client.updated_at, later());
    }
}

#[test]
fn clear_empties_each_optional_field() {
    let mut current = stored();
    let all = every_field_changed();
    let filled = plan(&current, all, later()).unwrap().client;
    current = Client {
        is_blacklisted: false,
        ..filled
    };
    let patch = UpdatePatch {
        blacklisted_comment: Patch::Clear,
        kyc_note: Patch::Clear,
        mobile_phone_number: Patch::Clear,
        planned_expenditure: Patch::Clear,
        planned_income: Patch::Clear,
        second_email: Patch::Clear,
        second_mobile_phone_number: Patch::Clear,
        state_province: Patch::Clear,
        ..UpdatePatch::default()
    };
    let plan = plan(&current, patch, later()).unwrap();
    assert_eq!(plan.changes.len(), 8);
    assert!(plan.changes.iter().all(|c| c.new == FieldValue::Null));
}

#[test]
fn clearing_a_required_field_is_an_error_for_each() {
    let patch = UpdatePatch {
        address: Patch::Clear,
        blocked: Patch::Clear,
        city: Patch::Clear,
        country_code: Patch::Clear,
        email: Patch::Clear,
        is_blacklisted: Patch::Clear,
        postcode: Patch::Clear,
        risk_level: Patch::Clear,
        ..UpdatePatch::default()
    };
    let found = errors_of(&stored(), patch);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "address",
            "blocked",
            "city",
            "country_code",
            "email",
            "is_blacklisted",
            "postcode",
            "risk_level"
        ]
    );
    assert!(found.iter().all(|(_, c)| *c == FieldCode::Required));
}

#[test]
fn setting_the_stored_value_is_a_noop() {
    let patch = UpdatePatch {
        city: set("Paris"),
        kyc_note: set(" initial note "),
        blocked: Patch::Set(false),
        ..UpdatePatch::default()
    };
    assert!(plan(&stored(), patch, later()).unwrap().is_noop());
}

#[test]
fn a_change_records_old_and_new_values_in_field_order() {
    let patch = UpdatePatch {
        city: set(" Lyon "),
        blocked: Patch::Set(true),
        ..UpdatePatch::default()
    };
    let plan = plan(&stored(), patch, later()).unwrap();
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
fn a_country_is_stored_upper_case() {
    let patch = UpdatePatch {
        country_code: set("deu"),
        ..UpdatePatch::default()
    };
    let stored_as = plan(&stored(), patch, later()).unwrap().client.country_code;
    assert_eq!(stored_as.as_str(), "DEU");
}

/// Every read-only field, sent back as stored.
fn echoed(client: &Client) -> Echoes {
    let v = |s: &str| Some(Echo::Value(s.to_owned()));
    let country = |s: &str| Some(Echo::Value(CountryCode::parse(s).unwrap()));
    Echoes {
        id: Some(Echo::Value(client.id)),
        organization_id: Some(Echo::Value(client.organization_id.into())),
        created_at: Some(Echo::Value(client.created_at)),
        updated_at: Some(Echo::Value(client.updated_at)),
        first_name: v(client.first_name.as_str()),
        middle_name: v(""),
        last_name: v(client.last_name.as_str()),
        date_of_birth: Some(Echo::Value(client.date_of_birth)),
        gender: Some(Echo::Value(client.gender)),
        nationality: country(&client.nationality.as_str().to_lowercase()),
        birth_country: country(client.birth_country.as_str()),
        country_of_tax_residence: country(client.country_of_tax_residence.as_str()),
        kyc_level: Some(Echo::Value(client.kyc_level)),
        kyc_status: Some(Echo::Value(client.kyc_status)),
        external_client_code: v(""),
    }
}

#[test]
fn read_only_fields_sent_back_as_stored_are_accepted() {
    let current = stored();
    let patch = UpdatePatch {
        city: set("Lyon"),
        echoes: echoed(&current),
        ..UpdatePatch::default()
    };
    let plan = plan(&current, patch, later()).unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.client.city.as_str(), "Lyon");
}

#[test]
fn each_read_only_field_sent_with_another_value_is_named() {
    let current = stored();
    let other = |s: &str| Some(Echo::Value(s.to_owned()));
    let echoes = Echoes {
        id: Some(Echo::Value(Uuid::now_v7())),
        organization_id: Some(Echo::Value(2)),
        created_at: Some(Echo::Unreadable),
        updated_at: Some(Echo::Value(later())),
        first_name: other("Grace"),
        middle_name: other("Augusta"),
        last_name: other("Hopper"),
        date_of_birth: Some(Echo::Value(NaiveDate::from_ymd_opt(1991, 1, 1).unwrap())),
        gender: Some(Echo::Value(Gender::Male)),
        nationality: Some(Echo::Value(CountryCode::parse("USA").unwrap())),
        birth_country: Some(Echo::Unreadable),
        country_of_tax_residence: Some(Echo::Value(CountryCode::parse("DEU").unwrap())),
        kyc_level: Some(Echo::Value(KycLevel::DocOnly)),
        kyc_status: Some(Echo::Value(KycStatus::Validated)),
        external_client_code: other("X-1"),
    };
    let found = errors_of(
        &current,
        UpdatePatch {
            echoes,
            ..UpdatePatch::default()
        },
    );
    assert_eq!(found.len(), 15, "{found:?}");
    assert!(found.iter().all(|(_, c)| *c == FieldCode::ImmutableField));
}

#[test]
fn blacklisting_without_a_comment_is_refused() {
    let patch = UpdatePatch {
        is_blacklisted: Patch::Set(true),
        ..UpdatePatch::default()
    };
    assert_eq!(
        errors_of(&stored(), patch),
        [(
            "blacklisted_comment".into(),
            FieldCode::BlacklistCommentRequired
        )]
    );
}

#[test]
fn blacklisting_with_a_comment_in_the_patch_or_already_stored_is_accepted() {
    let patch = UpdatePatch {
        is_blacklisted: Patch::Set(true),
        blacklisted_comment: set("PEP match"),
        ..UpdatePatch::default()
    };
    assert!(plan(&stored(), patch, later()).is_ok());

    let mut current = stored();
    current.blacklisted_comment = Some(Note::parse("earlier finding").unwrap());
    let patch = UpdatePatch {
        is_blacklisted: Patch::Set(true),
        ..UpdatePatch::default()
    };
    assert!(plan(&current, patch, later()).is_ok());
}

#[test]
fn clearing_the_comment_of_a_blacklisted_client_is_refused_after_the_field_errors() {
    let mut current = stored();
    current.is_blacklisted = true;
    current.blacklisted_comment = Some(Note::parse("PEP match").unwrap());
    let patch = UpdatePatch {
        blacklisted_comment: Patch::Clear,
        city: Patch::Clear,
        ..UpdatePatch::default()
    };
    assert_eq!(
        errors_of(&current, patch),
        [
            ("city".into(), FieldCode::Required),
            (
                "blacklisted_comment".into(),
                FieldCode::BlacklistCommentRequired
            )
        ]
    );
}

#[test]
fn updated_at_never_goes_backwards() {
    let current = stored();
    let earlier = current.updated_at - TimeDelta::seconds(5);
    let patch = UpdatePatch {
        city: set("Lyon"),
        ..UpdatePatch::default()
    };
    let plan = plan(&current, patch, earlier).unwrap();
    assert_eq!(plan.client.updated_at, current.updated_at);
    assert_eq!(plan.client.version, current.version + 1);
}
