use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{id_of, person, TestApp};

fn with(mut body: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        body[name] = value.clone();
    }
    body
}

async fn registration_returns_201_with_location_etag_and_initial_state(app: TestApp) {
    let sent = with(
        person(),
        json!({"nationality": "gbr", "first_name": "  Ada  "}),
    );
    let created = app.register(sent.clone()).await.expect(StatusCode::CREATED);
    let client = created.body.clone();
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/clients/{}", id_of(&client)).as_str())
    );
    assert_eq!(client["kyc_status"], "NOT_STARTED");
    assert_eq!(client["risk_level"], "Low");
    assert_eq!(
        (client["is_blacklisted"].clone(), client["blocked"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(client["organization_id"], 1);
    assert_eq!(
        client["nationality"], "GBR",
        "countries are stored upper case"
    );
    assert_eq!(client["first_name"], "Ada", "strings are trimmed");
    assert_eq!(client["email"], sent["email"]);
    assert_eq!(client["created_at"], client["updated_at"]);
    assert_eq!(
        uuid::Uuid::parse_str(&id_of(&client))
            .unwrap()
            .get_version_num(),
        7
    );

    let read = app.get(&id_of(&client)).await.expect(StatusCode::OK);
    assert_eq!(read.body, client, "GET returns what registration returned");
    assert_eq!(read.header("etag"), Some("\"1\""));
}

async fn registration_keeps_a_given_risk_level(app: TestApp) {
    let client = app
        .register(with(person(), json!({"risk_level": "High"})))
        .await
        .expect(StatusCode::CREATED)
        .body;
    assert_eq!(client["risk_level"], "High");
}

async fn registration_reports_every_invalid_field_at_once_and_creates_nothing(app: TestApp) {
    let valid = person();
    let invalid = with(
        valid.clone(),
        json!({
            "email": "not-an-email",
            "date_of_birth": "1990-13-01",
            "gender": "other",
            "country_code": "XX",
            "mobile_phone_number": "0612345678",
            "last_name": "",
            "postcode": 75001,
        }),
    );
    let errors = app.register(invalid).await.field_errors();
    assert_eq!(
        errors,
        [
            ("/postcode", "invalid_type"),
            ("/last_name", "required"),
            ("/date_of_birth", "invalid_date"),
            ("/gender", "invalid_enum"),
            ("/email", "invalid_email"),
            ("/mobile_phone_number", "invalid_phone"),
            ("/country_code", "invalid_country"),
        ]
        .map(|(p, c)| (p.to_owned(), c.to_owned()))
    );
    // Nothing was stored: the same email is still free.
    app.register(valid).await.expect(StatusCode::CREATED);
}

async fn registration_refuses_server_owned_and_unknown_fields(app: TestApp) {
    let body = with(
        person(),
        json!({"kyc_status": "VALIDATED", "blocked": true, "id": null, "nick_name": "Ada"}),
    );
    let errors = app.register(body).await.field_errors();
    assert_eq!(
        errors,
        [
            ("/blocked", "read_only_field"),
            ("/kyc_status", "read_only_field"),
            ("/nick_name", "unknown_field")
        ]
        .map(|(p, c)| (p.to_owned(), c.to_owned()))
    );
    // A server-owned field sent as `null` is absent; a member that is no field is refused
    // whatever its value.
    let body = with(person(), json!({"id": null, "nick_name": null}));
    let errors = app.register(body).await.field_errors();
    assert_eq!(
        errors,
        [("/nick_name".to_owned(), "unknown_field".to_owned())]
    );
}

async fn registration_of_a_minor_is_refused(app: TestApp) {
    let tomorrow_18_years_ago =
        chrono::Utc::now().date_naive() - chrono::Months::new(18 * 12) + chrono::Days::new(1);
    let body = with(
        person(),
        json!({"date_of_birth": tomorrow_18_years_ago.to_string()}),
    );
    assert_eq!(
        app.register(body).await.field_errors(),
        [("/date_of_birth".to_owned(), "underage".to_owned())]
    );
}

async fn registration_with_an_email_in_use_is_409_whatever_its_case(app: TestApp) {
    let first = app.registered().await;
    let email = first["email"].as_str().unwrap().to_uppercase();
    app.register(with(person(), json!({"email": email})))
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
}

async fn registration_with_an_external_code_in_use_is_409(app: TestApp) {
    app.register(with(person(), json!({"external_client_code": "CRM-1"})))
        .await
        .expect(StatusCode::CREATED);
    app.register(with(person(), json!({"external_client_code": "CRM-1"})))
        .await
        .problem(StatusCode::CONFLICT, "external_client_code_taken");
    app.register(with(person(), json!({"external_client_code": "CRM-2"})))
        .await
        .expect(StatusCode::CREATED);
}

async fn nul_characters_are_422_and_create_nothing(app: TestApp) {
    let mut body = person();
    body["first_name"] = json!("Ada\u{0}");
    body["kyc_note"] = json!("first line\nsecond\tline \u{1b}");
    let errors = app.register(body).await.field_errors();
    assert_eq!(
        errors,
        vec![("/first_name".to_owned(), "invalid_character".to_owned())]
    );
    assert_eq!(app.client_count().await, 0);
}

crate::on_both_backends!(
    nul_characters_are_422_and_create_nothing,
    registration_returns_201_with_location_etag_and_initial_state,
    registration_keeps_a_given_risk_level,
    registration_reports_every_invalid_field_at_once_and_creates_nothing,
    registration_refuses_server_owned_and_unknown_fields,
    registration_of_a_minor_is_refused,
    registration_with_an_email_in_use_is_409_whatever_its_case,
    registration_with_an_external_code_in_use_is_409,
);
