//! Contract section 9, KYC decisions: `POST /api/v1/clients/{id}/kyc-status`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{id_of, Body, Response, TestApp};

/// The contract's table, spelled out once more for the HTTP tests.
const ALLOWED: &[(&str, &[&str])] = &[
    ("NOT_STARTED", &["CREATED"]),
    ("CREATED", &["PROCESSING", "ABORTED"]),
    (
        "PROCESSING",
        &["PENDING_REVIEW", "VALIDATED", "DECLINED", "ABORTED"],
    ),
    ("PENDING_REVIEW", &["PROCESSING", "VALIDATED", "DECLINED"]),
    ("VALIDATED", &["PROCESSING"]),
    ("DECLINED", &["CREATED"]),
    ("ABORTED", &["CREATED"]),
];

/// How to reach each status from a new client.
fn path_to(status: &str) -> &'static [&'static str] {
    match status {
        "NOT_STARTED" => &[],
        "CREATED" => &["CREATED"],
        "PROCESSING" => &["CREATED", "PROCESSING"],
        "ABORTED" => &["CREATED", "ABORTED"],
        "PENDING_REVIEW" => &["CREATED", "PROCESSING", "PENDING_REVIEW"],
        "VALIDATED" => &["CREATED", "PROCESSING", "VALIDATED"],
        "DECLINED" => &["CREATED", "PROCESSING", "DECLINED"],
        other => panic!("no status {other}"),
    }
}

async fn decide(app: &TestApp, id: &str, headers: &[(&str, &str)], body: Value) -> Response {
    app.request(
        Method::POST,
        &format!("/api/v1/clients/{id}/kyc-status"),
        headers,
        Some(Body::Json(body)),
    )
    .await
}

async fn client_in(app: &TestApp, status: &str) -> String {
    let id = id_of(&app.registered().await);
    for step in path_to(status) {
        decide(
            app,
            &id,
            &[],
            json!({"status": step, "reason": "on the way"}),
        )
        .await
        .expect(StatusCode::OK);
    }
    id
}

async fn every_pair_of_statuses_answers_as_the_table_says(app: TestApp) {
    for (from, targets) in ALLOWED {
        // The refusals and the no-op, on one client that stays where it is.
        let id = client_in(&app, from).await;
        for (to, _) in ALLOWED {
            if targets.contains(to) {
                continue;
            }
            let before = app.get(&id).await.expect(StatusCode::OK);
            let answer = decide(&app, &id, &[], json!({"status": to, "reason": "try"})).await;
            if to == from {
                let answer = answer.expect(StatusCode::OK);
                assert_eq!(answer.header("etag"), before.header("etag"), "{from} again");
                assert_eq!(answer.body, before.body, "{from} again changes nothing");
            } else {
                let problem = answer.problem(StatusCode::CONFLICT, "invalid_transition");
                assert_eq!(problem["allowed"], json!(targets), "{from} → {to}");
                let after = app.get(&id).await.expect(StatusCode::OK);
                assert_eq!(after.body, before.body, "{from} → {to} changed nothing");
            }
        }
        // Each allowed move, on a client of its own.
        for to in *targets {
            let id = client_in(&app, from).await;
            let moved = decide(&app, &id, &[], json!({"status": to, "reason": "decided"}))
                .await
                .expect(StatusCode::OK);
            assert_eq!(moved.body["kyc_status"], *to, "{from} → {to}");
        }
    }
}

async fn a_decision_is_a_version_with_its_reason_in_the_history_and_an_event(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let moved = decide(
        &app,
        &id,
        &[("if-match", "\"1\"")],
        json!({"status": "CREATED", "reason": "  application opened  "}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(moved.header("etag"), Some("\"2\""));
    assert_eq!(moved.body["kyc_status"], "CREATED");
    assert!(moved.body["updated_at"].as_str() >= client["updated_at"].as_str());
    assert_eq!(
        moved.body.as_object().unwrap().len(),
        client.as_object().unwrap().len(),
        "the client's shape is the seed's"
    );

    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(history[0]["version"], 2);
    assert_eq!(
        history[0]["changes"],
        json!([{"field": "kyc_status", "old": "NOT_STARTED", "new": "CREATED"}])
    );
    assert_eq!(history[0]["reason"], "application opened", "trimmed");
    assert_eq!(
        history[1]["reason"],
        Value::Null,
        "a registration gives none"
    );

    let events = app.events_of(&id, 2).await;
    let event = events
        .iter()
        .find(|e| e["data"]["version"] == 2)
        .expect("an event for version 2");
    assert_eq!(event["type"], "client.kyc_status_changed");
    assert_eq!(event["data"]["reason"], "application opened");
    assert_eq!(event["data"]["history_hash"], history[0]["hash"]);
    assert_eq!(event["data"]["client"]["kyc_status"], "CREATED");

    // The same status again: nothing changes, nothing is recorded.
    let again = decide(
        &app,
        &id,
        &[],
        json!({"status": "CREATED", "reason": "again"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(again.header("etag"), Some("\"2\""));
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(history.as_array().unwrap().len(), 2);

    // The list filter finds it in its new status.
    let listed = app
        .list("?kyc_status=CREATED")
        .await
        .expect(StatusCode::OK)
        .body;
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id.as_str()));
    let verified = app
        .request(
            Method::GET,
            &format!("/api/v1/clients/{id}/history/verify"),
            &[],
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(verified.body, json!({"valid": true, "entries": 2}));
}

async fn bad_bodies_are_422_with_pointers_and_change_nothing(app: TestApp) {
    let id = id_of(&app.registered().await);
    let cases = [
        (json!({"status": "CREATED"}), "/reason", "required"),
        (
            json!({"status": "CREATED", "reason": "   "}),
            "/reason",
            "required",
        ),
        (
            json!({"status": "CREATED", "reason": "x".repeat(2001)}),
            "/reason",
            "too_long",
        ),
        (
            json!({"status": "CREATED", "reason": 7}),
            "/reason",
            "invalid_type",
        ),
        (
            json!({"status": 3, "reason": "r"}),
            "/status",
            "invalid_type",
        ),
        (
            json!({"status": "DONE", "reason": "r"}),
            "/status",
            "invalid_enum",
        ),
        (json!({"reason": "r"}), "/status", "required"),
        (
            json!({"status": "CREATED", "reason": "r", "note": "x"}),
            "/note",
            "unknown_field",
        ),
    ];
    for (body, pointer, code) in cases {
        let problem = decide(&app, &id, &[], body.clone())
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["pointer"] == pointer && e["code"] == code),
            "{body}: {problem:#}"
        );
    }
    // 2000 characters (not bytes) are fine.
    decide(
        &app,
        &id,
        &[],
        json!({"status": "CREATED", "reason": "é".repeat(2000)}),
    )
    .await
    .expect(StatusCode::OK);
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    assert_eq!(history.as_array().unwrap().len(), 2, "only the valid one");
}

/// The order of refusals: 404, then 412, then 422, then the no-op, then `invalid_transition`.
async fn several_faults_answer_in_the_contracts_order(app: TestApp) {
    let id = id_of(&app.registered().await);
    let bad = json!({"status": "VALIDATED", "reason": ""});
    let unknown = uuid::Uuid::now_v7().to_string();
    decide(&app, &unknown, &[("if-match", "\"9\"")], bad.clone())
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let stale = decide(&app, &id, &[("if-match", "\"9\"")], bad.clone())
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    assert!(stale["detail"].as_str().unwrap().contains("\"1\""));
    decide(&app, &id, &[("if-match", "\"1\"")], bad)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    decide(
        &app,
        &id,
        &[("if-match", "*")],
        json!({"status": "VALIDATED", "reason": "skip ahead"}),
    )
    .await
    .problem(StatusCode::CONFLICT, "invalid_transition");
    let current = app.get(&id).await.expect(StatusCode::OK);
    assert_eq!(current.header("etag"), Some("\"1\""), "nothing changed");
}

crate::on_both_backends!(
    every_pair_of_statuses_answers_as_the_table_says,
    a_decision_is_a_version_with_its_reason_in_the_history_and_an_event,
    bad_bodies_are_422_with_pointers_and_change_nothing,
    several_faults_answer_in_the_contracts_order,
);
