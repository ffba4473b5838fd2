//! Contract section 9, the relationship: `GET …/relationship`, `…/close`, `…/reopen`,
//! `RETENTION_YEARS`, and `409 client_closed` for changes of a closed client.

use std::process::Command;

use chrono::{DateTime, Months, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fresh_database, id_of, Backend, Body, Response, TestApp};

async fn relationship(app: &TestApp, id: &str) -> Response {
    app.request(
        Method::GET,
        &format!("/api/v1/clients/{id}/relationship"),
        &[],
        None,
    )
    .await
}

async fn post(
    app: &TestApp,
    id: &str,
    action: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Response {
    app.request(
        Method::POST,
        &format!("/api/v1/clients/{id}/relationship/{action}"),
        headers,
        Some(Body::Json(body)),
    )
    .await
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn closing_ends_the_relationship_and_reopening_resumes_it(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let active = relationship(&app, &id).await.expect(StatusCode::OK);
    assert_eq!(active.header("etag"), Some("\"1\""));
    assert_eq!(
        active.body,
        json!({"status": "active", "started_at": client["created_at"], "ended_at": null, "retain_until": null})
    );

    let closed = post(
        &app,
        &id,
        "close",
        &[("if-match", "\"1\"")],
        json!({"reason": "customer left"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(closed.header("etag"), Some("\"2\""));
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(
        closed.body["started_at"], client["created_at"],
        "never changes"
    );
    let ended = instant(&closed.body["ended_at"]);
    assert_eq!(
        instant(&closed.body["retain_until"]),
        ended.checked_add_months(Months::new(5 * 12)).unwrap(),
        "five calendar years by default"
    );
    assert_eq!(
        relationship(&app, &id).await.expect(StatusCode::OK).body,
        closed.body
    );

    // A change of the client: its version, updated_at, history and event.
    let stored = app.get(&id).await.expect(StatusCode::OK);
    assert_eq!(stored.header("etag"), Some("\"2\""));
    assert_eq!(instant(&stored.body["updated_at"]), ended);
    assert_eq!(
        stored.body.as_object().unwrap().len(),
        client.as_object().unwrap().len(),
        "ClientWithPerson keeps the seed's shape"
    );
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(
        history[0]["changes"],
        json!([{"field": "relationship", "old": "active", "new": "closed"}])
    );
    assert_eq!(history[0]["reason"], "customer left");

    let reopened = post(
        &app,
        &id,
        "reopen",
        &[],
        json!({"reason": "customer came back"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(reopened.header("etag"), Some("\"3\""));
    assert_eq!(
        reopened.body,
        json!({"status": "active", "started_at": client["created_at"], "ended_at": null, "retain_until": null})
    );
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(
        history[0]["changes"],
        json!([{"field": "relationship", "old": "closed", "new": "active"}])
    );
    assert_eq!(history[0]["reason"], "customer came back");

    let events = app.events_of(&id, 3).await;
    let mine: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["data"]["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        mine,
        [
            ("client.registered", ""),
            ("client.relationship_closed", "customer left"),
            ("client.relationship_reopened", "customer came back"),
        ]
    );
    // Updates and decisions work again.
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    let verified = app
        .request(
            Method::GET,
            &format!("/api/v1/clients/{id}/history/verify"),
            &[],
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(verified.body, json!({"valid": true, "entries": 4}));
}

async fn a_closed_client_is_read_but_not_changed(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    post(&app, &id, "close", &[], json!({"reason": "done"}))
        .await
        .expect(StatusCode::OK);
    let before = app.get(&id).await.expect(StatusCode::OK);

    app.update(&id, json!({"city": "Lyon"}))
        .await
        .problem(StatusCode::CONFLICT, "client_closed");
    // Before the no-op: the client is closed whatever the body.
    app.update(&id, json!({}))
        .await
        .problem(StatusCode::CONFLICT, "client_closed");
    app.request(
        Method::POST,
        &format!("/api/v1/clients/{id}/kyc-status"),
        &[],
        Some(Body::Json(json!({"status": "CREATED", "reason": "r"}))),
    )
    .await
    .problem(StatusCode::CONFLICT, "client_closed");
    // Still read, listed, its history read.
    let listed = app.list("").await.expect(StatusCode::OK).body;
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id.as_str()));
    app.history(&id, "").await.expect(StatusCode::OK);
    // Closing it again is refused.
    post(&app, &id, "close", &[], json!({"reason": "again"}))
        .await
        .problem(StatusCode::CONFLICT, "invalid_transition");
    let after = app.get(&id).await.expect(StatusCode::OK);
    assert_eq!(after.body, before.body, "nothing changed");
    assert_eq!(after.header("etag"), before.header("etag"));

    // An active one cannot be reopened.
    let other = id_of(&app.registered().await);
    post(&app, &other, "reopen", &[], json!({"reason": "?"}))
        .await
        .problem(StatusCode::CONFLICT, "invalid_transition");
}

/// 404, then 412, then 422, then `409 client_closed` (updates, KYC) or `invalid_transition`.
async fn several_faults_answer_in_the_contracts_order(app: TestApp) {
    let id = id_of(&app.registered().await);
    let unknown = uuid::Uuid::now_v7().to_string();
    post(
        &app,
        &unknown,
        "close",
        &[("if-match", "\"9\"")],
        json!({"reason": ""}),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    post(
        &app,
        &id,
        "close",
        &[("if-match", "\"9\"")],
        json!({"reason": ""}),
    )
    .await
    .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    for body in [
        json!({}),
        json!({"reason": " "}),
        json!({"reason": 1}),
        json!({"reason": "r", "x": 1}),
    ] {
        post(&app, &id, "close", &[], body.clone())
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    post(&app, &id, "close", &[], json!({"reason": "ok"}))
        .await
        .expect(StatusCode::OK);
    // On the closed client: 412 and 422 still come before client_closed.
    app.update_with(&id, &[("if-match", "\"1\"")], json!({"city": "Lyon"}))
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    app.update(&id, json!({"email": "not an email"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.request(
        Method::POST,
        &format!("/api/v1/clients/{id}/kyc-status"),
        &[],
        Some(Body::Json(json!({"status": "CREATED"}))),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // client_closed before invalid_transition.
    app.request(
        Method::POST,
        &format!("/api/v1/clients/{id}/kyc-status"),
        &[],
        Some(Body::Json(json!({"status": "VALIDATED", "reason": "r"}))),
    )
    .await
    .problem(StatusCode::CONFLICT, "client_closed");
}

/// `RETENTION_YEARS` sets the period; `retain_until` is fixed at closing and a later setting
/// does not move it.
async fn the_retention_period_is_the_setting_at_closing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.retention_years = 2).await else {
        return;
    };
    let id = id_of(&app.registered().await);
    let closed = post(&app, &id, "close", &[], json!({"reason": "r"}))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(
        instant(&closed["retain_until"]),
        instant(&closed["ended_at"])
            .checked_add_months(Months::new(24))
            .unwrap()
    );
    let later = app
        .another_instance_with(|config| config.retention_years = 9)
        .await;
    assert_eq!(
        relationship(&later, &id).await.expect(StatusCode::OK).body,
        closed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_period_is_the_setting_at_closing_sqlite() {
    the_retention_period_is_the_setting_at_closing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_period_is_the_setting_at_closing_postgres() {
    the_retention_period_is_the_setting_at_closing(Backend::Postgres).await;
}

/// A period outside 1 to 100 years stops the server at start, naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_period_outside_1_to_100_years_stops_the_start() {
    let (database, _guard) = fresh_database(Backend::Sqlite).await.unwrap();
    for years in ["0", "101", "five"] {
        let output = Command::new(env!("CARGO_BIN_EXE_clients-api"))
            .args(["--database-url", &database, "--bind", "127.0.0.1:0"])
            .env("RETENTION_YEARS", years)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{years}: started");
        assert!(
            text.contains("RETENTION_YEARS") || text.contains("retention-years"),
            "{years}: {text}"
        );
    }
}

crate::on_both_backends!(
    closing_ends_the_relationship_and_reopening_resumes_it,
    a_closed_client_is_read_but_not_changed,
    several_faults_answer_in_the_contracts_order,
);
