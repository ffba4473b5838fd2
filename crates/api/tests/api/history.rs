//! Contract rule 8 and `GET /api/v1/clients/{id}/history`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{id_of, Backend, Sql, TestApp};

fn versions(entries: &Value) -> Vec<i64> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect()
}

fn change<'a>(entry: &'a Value, field: &str) -> Option<&'a Value> {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
}

async fn registration_is_version_1_of_the_history(app: TestApp) {
    let created = app
        .register(crate::helpers::person())
        .await
        .expect(StatusCode::CREATED);
    let client = created.body.clone();
    let history = app
        .history(&id_of(&client), "")
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(versions(&history), [1]);
    let entry = &history[0];
    assert_eq!(entry["recorded_at"], client["created_at"]);
    assert_eq!(entry["request_id"], created.header("x-request-id").unwrap());
    assert_eq!(entry["actor"]["name"], "test");
    assert_eq!(
        change(entry, "email").unwrap(),
        &json!({"field": "email", "old": null, "new": client["email"]})
    );
    assert_eq!(change(entry, "kyc_status").unwrap()["new"], "NOT_STARTED");
    // Every value as the API shows it: `organization_id` an integer, the flags booleans.
    for recorded in entry["changes"].as_array().unwrap() {
        let field = recorded["field"].as_str().unwrap();
        assert_eq!(recorded["new"], client[field], "{field}");
    }
    assert!(
        change(entry, "middle_name").is_none(),
        "fields without a value are not listed"
    );
}

/// Registrations recorded before integers were kept as integers hold `organization_id` as `"1"`;
/// the history is never rewritten, and shows it as the API does.
async fn an_organization_id_recorded_as_text_is_shown_as_the_integer(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let mut sql = crate::helpers::Sql::connect(&app).await;
    sql.execute(&format!(
        "INSERT INTO client_history (client_id, version, organization_id, recorded_at, \
         actor_key_id, actor_name, request_id, changes) \
         SELECT client_id, 2, organization_id, recorded_at, actor_key_id, actor_name, request_id, \
         '[{{\"field\":\"organization_id\",\"old\":null,\"new\":\"1\"}}]' \
         FROM client_history WHERE version = 1 AND client_id = (SELECT id FROM clients WHERE email = '{}')",
        client["email"].as_str().unwrap()
    ))
    .await
    .unwrap();
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(history[0]["version"], 2);
    assert_eq!(history[0]["changes"][0]["new"], 1);
}

async fn each_real_update_adds_one_entry_with_old_and_new_values(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let first = app
        .update_with(
            &id,
            &[("x-request-id", "req-city")],
            json!({"city": "Lyon"}),
        )
        .await;
    let first = first.expect(StatusCode::OK).body;
    app.update(&id, json!({"kyc_note": ""}))
        .await
        .expect(StatusCode::OK);
    app.update(
        &id,
        json!({"risk_level": "High", "blocked": true, "city": "Lyon"}),
    )
    .await
    .expect(StatusCode::OK);

    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(versions(&history), [4, 3, 2, 1], "newest first");
    assert_eq!(
        history[2]["changes"],
        json!([{"field": "city", "old": "Paris", "new": "Lyon"}]),
        "version 2 changed the city only"
    );
    assert_eq!(
        (
            history[2]["request_id"].clone(),
            history[2]["recorded_at"].clone()
        ),
        (json!("req-city"), first["updated_at"].clone())
    );
    assert_eq!(
        history[1]["changes"],
        json!([{"field": "kyc_note", "old": "onboarded in branch", "new": null}])
    );
    assert_eq!(
        history[0]["changes"],
        json!([
            {"field": "blocked", "old": false, "new": true},
            {"field": "risk_level", "old": "Low", "new": "High"},
        ]),
        "the unchanged city is not an entry"
    );
}

async fn noop_and_rejected_updates_add_no_entry(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    app.update(&id, json!({})).await.expect(StatusCode::OK);
    app.update(&id, json!({"city": client["city"]}))
        .await
        .expect(StatusCode::OK);
    app.update(&id, json!({"email": "nope"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    app.update_with(&id, &[("if-match", "\"9\"")], json!({"city": "Nice"}))
        .await
        .expect(StatusCode::PRECONDITION_FAILED);
    app.update(&id, json!({"is_blacklisted": true}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(versions(&history), [1]);
}

async fn history_pages_follow_the_link_header_to_the_end(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    for i in 0..6 {
        app.update(&id, json!({"kyc_note": format!("note {i}")}))
            .await
            .expect(StatusCode::OK);
    }
    let first = app.history(&id, "?limit=3").await.expect(StatusCode::OK);
    assert_eq!(
        first.header("link"),
        Some(format!("</api/v1/clients/{id}/history?limit=3&offset=3>; rel=\"next\"").as_str())
    );
    let (entries, pages) = app
        .all_pages(&format!("/api/v1/clients/{id}/history?limit=3"))
        .await;
    assert_eq!(pages, 3);
    assert_eq!(versions(&Value::Array(entries)), [7, 6, 5, 4, 3, 2, 1]);
    let last = app
        .history(&id, "?limit=3&offset=6")
        .await
        .expect(StatusCode::OK);
    assert_eq!(last.header("link"), None);
}

async fn history_of_an_unknown_client_is_404_and_bad_parameters_are_400(app: TestApp) {
    let unknown = uuid::Uuid::now_v7().to_string();
    app.history(&unknown, "")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let client = app.registered().await;
    let named = app
        .history(&id_of(&client), "?limit=0&offset=-1&page=2")
        .await
        .parameter_errors();
    let named: Vec<&str> = named.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(named, ["limit", "offset", "page"]);
}

async fn history_entries_cannot_be_rewritten_even_in_the_database(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let mut sql = Sql::connect(&app).await;
    let result = match app.backend {
        Backend::Sqlite => {
            sql.execute(&format!(
                "UPDATE client_history SET actor_name = 'x' WHERE client_id = '{id}'"
            ))
            .await
        }
        Backend::Postgres => {
            sql.execute(&format!(
                "DELETE FROM client_history WHERE client_id = '{id}'"
            ))
            .await
        }
    };
    assert!(result.unwrap_err().contains("append-only"));
    assert_eq!(
        versions(&app.history(&id, "").await.expect(StatusCode::OK).body),
        [1]
    );
}

crate::on_both_backends!(
    registration_is_version_1_of_the_history,
    an_organization_id_recorded_as_text_is_shown_as_the_integer,
    each_real_update_adds_one_entry_with_old_and_new_values,
    noop_and_rejected_updates_add_no_entry,
    history_pages_follow_the_link_header_to_the_end,
    history_of_an_unknown_client_is_404_and_bad_parameters_are_400,
    history_entries_cannot_be_rewritten_even_in_the_database,
);
