//! Contract section 3: the rules of `PUT /api/v1/clients/person/{id}`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_unchanged, id_of, TestApp};

const UPDATE_FIELDS: [&str; 16] = [
    "address",
    "blacklisted_comment",
    "blocked",
    "city",
    "country_code",
    "email",
    "is_blacklisted",
    "kyc_note",
    "mobile_phone_number",
    "planned_expenditure",
    "planned_income",
    "postcode",
    "risk_level",
    "second_email",
    "second_mobile_phone_number",
    "state_province",
];

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
        .collect()
}

// Rule 1: absent or null means unchanged.

async fn null_leaves_every_field_unchanged(app: TestApp) {
    let client = app.registered().await;
    let all_null: Value = UPDATE_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), Value::Null))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let response = app
        .update(&id_of(&client), all_null)
        .await
        .expect(StatusCode::OK);
    assert_eq!(response.body, client, "null must never erase data");
    assert_eq!(response.header("etag"), Some("\"1\""));
    assert_unchanged(&app, &client).await;
}

async fn absent_fields_are_unchanged_and_present_ones_change(app: TestApp) {
    let client = app.registered().await;
    let updated = app
        .update(
            &id_of(&client),
            json!({"city": "Lyon", "postcode": "69001"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(updated.header("etag"), Some("\"2\""));
    let mut expected = client.clone();
    expected["city"] = json!("Lyon");
    expected["postcode"] = json!("69001");
    expected["updated_at"] = updated.body["updated_at"].clone();
    assert_eq!(updated.body, expected, "only city and postcode changed");
    assert!(updated.body["updated_at"].as_str() > client["updated_at"].as_str());
    assert_eq!(
        app.get(&id_of(&client)).await.expect(StatusCode::OK).body,
        updated.body
    );
}

// Rule 2: empty string clears an optional field, and is an error for a required one.

async fn empty_string_clears_optional_fields(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let values = json!({
        "kyc_note": "note", "mobile_phone_number": "+33600000001", "second_mobile_phone_number": "+33600000002",
        "second_email": "second@example.com", "state_province": "IDF", "planned_income": "10k",
        "planned_expenditure": "5k", "blacklisted_comment": "watch"
    });
    let filled = app
        .update(&id, values.clone())
        .await
        .expect(StatusCode::OK)
        .body;
    let names: Vec<&String> = values.as_object().unwrap().keys().collect();
    for name in &names {
        assert_eq!(
            filled[name.as_str()],
            values[name.as_str()],
            "{name} was set"
        );
    }
    let clear: Value = names
        .iter()
        .map(|n| ((*n).clone(), json!("")))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let cleared = app.update(&id, clear).await.expect(StatusCode::OK).body;
    for name in &names {
        assert_eq!(cleared[name.as_str()], Value::Null, "{name} was cleared");
    }
    assert_eq!(cleared["email"], client["email"]);
}

async fn empty_string_for_a_required_field_is_422_and_changes_nothing(app: TestApp) {
    let client = app.registered().await;
    let body = json!({"address": "", "city": " ", "country_code": "", "email": "", "postcode": "", "kyc_note": "x"});
    let errors = app.update(&id_of(&client), body).await.field_errors();
    assert_eq!(
        errors,
        pairs(&[
            ("/address", "required"),
            ("/city", "required"),
            ("/country_code", "required"),
            ("/email", "required"),
            ("/postcode", "required")
        ])
    );
    assert_unchanged(&app, &client).await;
}

// Rule 3: round trips are safe; immutable and unknown fields are named.

async fn round_trip_of_the_whole_record_is_accepted(app: TestApp) {
    let client = app.registered().await;
    let mut body = client.clone();
    body["city"] = json!("Marseille");
    let updated = app
        .update(&id_of(&client), body)
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(updated["city"], "Marseille");
    assert_eq!(updated["first_name"], client["first_name"]);
}

async fn changed_immutable_fields_are_422_naming_each_and_change_nothing(app: TestApp) {
    let client = app.registered().await;
    let mut body = client.clone();
    body["first_name"] = json!("Grace");
    body["date_of_birth"] = json!("1985-01-01");
    body["kyc_status"] = json!("VALIDATED");
    body["created_at"] = json!("2020-01-01T00:00:00Z");
    body["id"] = json!(uuid::Uuid::now_v7());
    body["city"] = json!("Lyon");
    let errors = app.update(&id_of(&client), body).await.field_errors();
    assert_eq!(
        errors,
        pairs(&[
            ("/created_at", "immutable_field"),
            ("/date_of_birth", "immutable_field"),
            ("/first_name", "immutable_field"),
            ("/id", "immutable_field"),
            ("/kyc_status", "immutable_field"),
        ])
    );
    assert_unchanged(&app, &client).await;
}

async fn unknown_field_is_422_and_changes_nothing(app: TestApp) {
    let client = app.registered().await;
    let errors = app
        .update(&id_of(&client), json!({"citty": "Lyon", "city": "Lyon"}))
        .await
        .field_errors();
    assert_eq!(errors, pairs(&[("/citty", "unknown_field")]));
    // `null` keeps a field, but a member that is no field is refused whatever its value.
    let errors = app
        .update(&id_of(&client), json!({"citty": null, "city": "Lyon"}))
        .await
        .field_errors();
    assert_eq!(errors, pairs(&[("/citty", "unknown_field")]));
    assert_unchanged(&app, &client).await;
}

// Rule 4: validation, all errors at once, strings trimmed, wrong types are field errors.

async fn invalid_values_are_all_reported_with_pointers_and_change_nothing(app: TestApp) {
    let client = app.registered().await;
    let body = json!({
        "email": "nope",
        "second_email": "also nope",
        "mobile_phone_number": "+33 6 12",
        "country_code": "ZZZ",
        "postcode": "1".repeat(21),
        "kyc_note": "n".repeat(2001),
        "risk_level": "Extreme",
        "address": "a".repeat(256),
        "city": "c".repeat(101),
        "state_province": "s".repeat(101),
        "planned_income": "9".repeat(101),
    });
    let errors = app.update(&id_of(&client), body).await.field_errors();
    assert_eq!(
        errors,
        pairs(&[
            ("/address", "too_long"),
            ("/city", "too_long"),
            ("/country_code", "invalid_country"),
            ("/email", "invalid_email"),
            ("/kyc_note", "too_long"),
            ("/mobile_phone_number", "invalid_phone"),
            ("/planned_income", "too_long"),
            ("/postcode", "too_long"),
            ("/risk_level", "invalid_enum"),
            ("/second_email", "invalid_email"),
            ("/state_province", "too_long"),
        ])
    );
    assert_unchanged(&app, &client).await;
}

async fn wrong_json_types_are_field_errors(app: TestApp) {
    let client = app.registered().await;
    let body = json!({"blocked": "yes", "city": 42, "risk_level": true, "kyc_note": ["a"], "address": {"line": 1}});
    let errors = app.update(&id_of(&client), body).await.field_errors();
    assert_eq!(
        errors,
        pairs(&[
            ("/address", "invalid_type"),
            ("/blocked", "invalid_type"),
            ("/city", "invalid_type"),
            ("/kyc_note", "invalid_type"),
            ("/risk_level", "invalid_type"),
        ])
    );
    assert_unchanged(&app, &client).await;
}

async fn strings_are_trimmed_and_countries_upper_cased(app: TestApp) {
    let client = app.registered().await;
    let updated = app
        .update(
            &id_of(&client),
            json!({"city": "  Lyon ", "country_code": "deu", "risk_level": "Medium"}),
        )
        .await;
    let body = updated.expect(StatusCode::OK).body;
    assert_eq!(
        (
            body["city"].as_str(),
            body["country_code"].as_str(),
            body["risk_level"].as_str()
        ),
        (Some("Lyon"), Some("DEU"), Some("Medium"))
    );
}

// Rule 5: business rules.

async fn blacklisting_requires_a_comment(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let errors = app
        .update(&id, json!({"is_blacklisted": true}))
        .await
        .field_errors();
    assert_eq!(
        errors,
        pairs(&[("/blacklisted_comment", "blacklisted_comment_required")])
    );
    assert_unchanged(&app, &client).await;

    let body = app
        .update(
            &id,
            json!({"is_blacklisted": true, "blacklisted_comment": "sanctions hit"}),
        )
        .await;
    let blacklisted = body.expect(StatusCode::OK).body;
    assert_eq!(
        (
            blacklisted["is_blacklisted"].clone(),
            blacklisted["blacklisted_comment"].clone()
        ),
        (json!(true), json!("sanctions hit"))
    );

    let errors = app
        .update(&id, json!({"blacklisted_comment": ""}))
        .await
        .field_errors();
    assert_eq!(
        errors,
        pairs(&[("/blacklisted_comment", "blacklisted_comment_required")])
    );
    assert_unchanged(&app, &blacklisted).await;
}

async fn email_used_by_another_client_is_409_and_changes_nothing(app: TestApp) {
    let other = app.registered().await;
    let client = app.registered().await;
    let taken = other["email"].as_str().unwrap().to_uppercase();
    app.update(&id_of(&client), json!({"email": taken, "city": "Lyon"}))
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
    assert_unchanged(&app, &client).await;
    // A client may change the case of its own email.
    let own = client["email"].as_str().unwrap().to_uppercase();
    let updated = app
        .update(&id_of(&client), json!({"email": own}))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(updated["email"], own);
}

// Rule 6: no-op updates.

async fn noop_update_keeps_updated_at_and_etag(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    for body in [
        json!({}),
        json!({"city": client["city"], "kyc_note": client["kyc_note"], "blocked": false}),
    ] {
        let response = app.update(&id, body).await.expect(StatusCode::OK);
        assert_eq!(response.header("etag"), Some("\"1\""));
        assert_eq!(response.body, client);
    }
    assert_unchanged(&app, &client).await;
}

// Rule 7: concurrency control with ETag and If-Match (the concurrent case is in concurrency.rs).

async fn matching_if_match_applies_and_stale_if_match_is_412_with_current_etag(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let updated = app
        .update_with(&id, &[("if-match", "\"1\"")], json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(updated.header("etag"), Some("\"2\""));

    let stale = app
        .update_with(&id, &[("if-match", "\"1\"")], json!({"city": "Nice"}))
        .await;
    assert_eq!(stale.header("etag"), Some("\"2\""));
    stale.problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    assert_unchanged(&app, &updated.body).await;

    let weak = app
        .update_with(&id, &[("if-match", "W/\"2\"")], json!({"city": "Nice"}))
        .await;
    weak.problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");

    let listed = app
        .update_with(
            &id,
            &[("if-match", "\"7\", \"2\"")],
            json!({"city": "Nice"}),
        )
        .await;
    assert_eq!(listed.expect(StatusCode::OK).header("etag"), Some("\"3\""));
}

async fn if_match_star_matches_any_existing_client(app: TestApp) {
    let client = app.registered().await;
    let response = app
        .update_with(
            &id_of(&client),
            &[("if-match", "*")],
            json!({"city": "Lyon"}),
        )
        .await;
    assert_eq!(response.expect(StatusCode::OK).body["city"], "Lyon");
    let unknown = uuid::Uuid::now_v7().to_string();
    app.update_with(&unknown, &[("if-match", "*")], json!({"city": "Lyon"}))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn update_of_unknown_client_is_404(app: TestApp) {
    app.update(&uuid::Uuid::now_v7().to_string(), json!({"city": "Lyon"}))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn nul_characters_are_422_and_change_nothing(app: TestApp) {
    let client = app.registered().await;
    let body =
        json!({"kyc_note": "a\u{0}b", "city": "Ly\u{0}on", "address": "2 Place\u{1b}Bellecour"});
    let errors = app.update(&id_of(&client), body).await.field_errors();
    assert_eq!(
        errors,
        pairs(&[
            ("/city", "invalid_character"),
            ("/kyc_note", "invalid_character")
        ])
    );
    assert_unchanged(&app, &client).await;
}

crate::on_both_backends!(
    nul_characters_are_422_and_change_nothing,
    null_leaves_every_field_unchanged,
    absent_fields_are_unchanged_and_present_ones_change,
    empty_string_clears_optional_fields,
    empty_string_for_a_required_field_is_422_and_changes_nothing,
    round_trip_of_the_whole_record_is_accepted,
    changed_immutable_fields_are_422_naming_each_and_change_nothing,
    unknown_field_is_422_and_changes_nothing,
    invalid_values_are_all_reported_with_pointers_and_change_nothing,
    wrong_json_types_are_field_errors,
    strings_are_trimmed_and_countries_upper_cased,
    blacklisting_requires_a_comment,
    email_used_by_another_client_is_409_and_changes_nothing,
    noop_update_keeps_updated_at_and_etag,
    matching_if_match_applies_and_stale_if_match_is_412_with_current_etag,
    if_match_star_matches_any_existing_client,
    update_of_unknown_client_is_404,
);
