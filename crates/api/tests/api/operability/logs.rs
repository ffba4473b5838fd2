//! One JSON access line per request, with its id and without secrets.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, id_of, person, ClientLock, TestApp};
use crate::server_process::ServerProcess;

async fn each_request_is_one_json_log_line_with_its_id_and_no_secret(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let server = ServerProcess::start(
        &app.database_url,
        &[
            ("LOG_FORMAT", "json"),
            ("DB_ACQUIRE_TIMEOUT_MS", "1500"),
            ("DB_STATEMENT_TIMEOUT_MS", "1500"),
        ],
    );
    let http = crate::helpers::http_client().build().unwrap();
    let mut body = person();
    let email = body["email"].as_str().unwrap().to_owned();
    body["kyc_note"] = json!("a note that must never reach the log");
    let created = http
        .post(server.url("/api/v1/clients/person"))
        .bearer_auth(&app.key)
        .header("x-request-id", "log-201")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let refused = http
        .get(server.url(&format!("/api/v1/clients/{id}")))
        .bearer_auth(format!("{}0", app.key))
        .header("x-request-id", "log-401")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let lock = ClientLock::hold(&app, &id).await;
    let unavailable = http
        .put(server.url(&format!("/api/v1/clients/person/{id}")))
        .bearer_auth(&app.key)
        .header("x-request-id", "log-503")
        .json(&json!({"city": "Lyon"}))
        .send()
        .await
        .unwrap();
    lock.release().await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);

    let lines = eventually(Duration::from_secs(5), "the last access line", || async {
        let lines = server.lines();
        lines
            .iter()
            .any(|l| l.contains("\"log-503\"") && l.contains("\"status\":503"))
            .then_some(lines)
    })
    .await;
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = |request_id: &str| -> &Value {
        let found: Vec<&Value> = events
            .iter()
            .filter(|e| e["message"] == "request" && e["request_id"] == request_id)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one access line for {request_id}: {lines:#?}"
        );
        found[0]
    };

    let line = access("log-201");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/api/v1/clients/person");
    assert_eq!(line["status"], 201);
    assert_eq!(line["organization"], "1");
    assert!(
        line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{line}"
    );

    let line = access("log-401");
    assert_eq!(line["route"], "/api/v1/clients/{id}");
    assert_eq!(line["status"], 401);
    assert!(line.get("organization").is_none(), "no caller: {line}");

    let line = access("log-503");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["status"], 503);
    // The cause is on the access line, and logged nowhere else: one line per failed request.
    assert!(
        line["error"]
            .as_str()
            .is_some_and(|cause| !cause.is_empty()),
        "the cause of the 503 is logged: {line}"
    );
    let warnings = events
        .iter()
        .filter(|e| e["level"] != "INFO")
        .filter(|e| e["span"]["request_id"] == "log-503" || e["request_id"] == "log-503")
        .count();
    assert_eq!(warnings, 1, "the 503 is logged once: {lines:#?}");

    let secret = app.key.rsplit('_').next().unwrap();
    for line in &lines {
        for private in [secret, "Bearer", &email, "a note that must never"] {
            assert!(!line.contains(private), "{private:?} logged: {line}");
        }
    }
}

crate::on_both_backends!(each_request_is_one_json_log_line_with_its_id_and_no_secret);
