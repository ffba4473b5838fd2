//! Limits and timeouts: the body limit, slow clients, locked clients, queued work, a slow start.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::metrics::scrape;
use crate::helpers::{
    assert_unchanged, eventually, id_of, metric, raw_exchange, Backend, ClientLock, TestApp,
};

async fn the_body_limit_is_configurable(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.body_limit_bytes = 2048).await
    else {
        return;
    };
    let client = app.registered().await;
    let id = id_of(&client);
    let too_big = app
        .update(
            &id,
            json!({"kyc_note": "n".repeat(1500), "planned_income": "i".repeat(100), "blacklisted_comment": "c".repeat(600)}),
        )
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(
        too_big["detail"].as_str().unwrap().contains("2048 bytes"),
        "{too_big}"
    );
    assert_unchanged(&app, &client).await;
    let fits = app
        .update(&id, json!({"kyc_note": "n".repeat(1900)}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(fits.header("etag"), Some("\"2\""));
}

async fn a_client_too_slow_to_send_its_request_gets_408_and_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.request_timeout_ms = 300).await
    else {
        return;
    };
    let client = app.registered().await;
    let id = id_of(&client);

    // The head arrives, the body stops after 14 of 40 bytes.
    let head = format!(
        "PUT /api/v1/clients/person/{id} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"city\": \"Lyo",
        app.key
    );
    let started = Instant::now();
    let answer = raw_exchange(&app, head.as_bytes(), Duration::from_secs(9)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    // Well under the 10 s default: the configured 300 ms applied.
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_unchanged(&app, &client).await;

    // The head itself never ends.
    let answer = raw_exchange(
        &app,
        b"GET /health/live HTTP/1.1\r\nHost: test\r\n",
        Duration::from_secs(9),
    )
    .await;
    // actix answers a head that never ends itself: a bare 408, then it closes the connection.
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout"),
        "{answer}"
    );
}

async fn an_update_waiting_on_a_locked_client_gives_up_with_503_and_changes_nothing(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.db_acquire_timeout_ms = 500;
        config.db_statement_timeout_ms = 500;
    })
    .await
    else {
        return;
    };
    let client = app.registered().await;
    let id = id_of(&client);
    let lock = ClientLock::hold(&app, &id).await;
    let started = Instant::now();
    let response = app.update(&id, json!({"city": "Lyon"})).await;
    let waited = started.elapsed();
    lock.release().await;
    assert_eq!(response.header("retry-after"), Some("1"));
    response.problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(
        // At the configured 500 ms, well before the 5 s defaults.
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(4500),
        "gave up after {waited:?}"
    );
    assert_unchanged(&app, &client).await;
    assert_eq!(app.history(&id, "").await.body.as_array().unwrap().len(), 1);
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
}

/// Migrations (and waiting for another instance's) may take longer than a request may, and
/// opening the first connection longer than a request may wait for one: neither request timeout
/// may stop a server from starting.
async fn a_start_is_not_bound_by_the_request_timeouts(backend: Backend) {
    let Some((database, _guard)) = crate::helpers::fresh_database(backend).await else {
        return;
    };
    let mut config = api::Config::with_database(database);
    config.bind = "127.0.0.1:0".to_owned();
    config.webhook_secrets_key = Some(crate::helpers::WEBHOOK_SECRETS_KEY.to_owned());
    config.db_statement_timeout_ms = 1;
    config.db_acquire_timeout_ms = 1;
    let app = api::Application::build(config).await;
    assert!(app.is_ok(), "{:?}", app.err());
}

crate::for_each_backend!(a_start_is_not_bound_by_the_request_timeouts);

/// Work queued for a database thread past the acquire timeout is abandoned: the request gets its
/// 503 in bounded time, and the work never runs later (nothing that got an error happens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_past_the_acquire_timeout_is_a_503_and_never_runs() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |config| {
        config.workers = Some(1);
        config.db_pool_size = 1;
        config.db_acquire_timeout_ms = 500;
        config.db_statement_timeout_ms = 30_000;
        // Verified once, the key stays cached: no key lookup shows as a connection in use.
        config.auth_cache_ttl_ms = 600_000;
    })
    .await
    else {
        return;
    };
    let (held, queued) = (app.registered().await, app.registered().await);
    let (held_id, queued_id) = (id_of(&held), id_of(&queued));
    let lock = ClientLock::hold(&app, &held_id).await;
    let first = app.update(&held_id, json!({"city": "Lyon"}));
    let second = async {
        // The first update holds the only thread, waiting for the lock.
        eventually(
            Duration::from_secs(10),
            "the first update to hold the thread",
            || async {
                let page = scrape(&app).await;
                (metric(&page, r#"db_pool_connections{state="in_use"}"#) == Some(1.0)).then_some(())
            },
        )
        .await;
        let started = Instant::now();
        let response = app.update(&queued_id, json!({"city": "Nice"})).await;
        let waited = started.elapsed();
        lock.release().await;
        (response, waited)
    };
    let (first, (second, waited)) = tokio::join!(first, second);
    second.problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    // At the configured 500 ms, well before the 5 s default.
    assert!(waited < Duration::from_millis(4500), "503 after {waited:?}");
    first.expect(StatusCode::OK);
    // Once the thread is free, the abandoned work must still not run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_unchanged(&app, &queued).await;
    assert_eq!(
        app.history(&queued_id, "")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

crate::for_each_backend!(
    the_body_limit_is_configurable,
    a_client_too_slow_to_send_its_request_gets_408_and_changes_nothing,
    an_update_waiting_on_a_locked_client_gives_up_with_503_and_changes_nothing,
);
