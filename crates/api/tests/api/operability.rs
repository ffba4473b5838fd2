//! Running the service: logs, request ids, metrics, limits and timeouts, graceful shutdown, a
//! database that goes away and comes back, and two instances on one database.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::concurrency::fifty_concurrent_updates_across;
use crate::helpers::{
    assert_unchanged, eventually, id_of, metric, person, raw_exchange, Backend, ClientLock, TestApp,
};
use crate::server_process::ServerProcess;

/// The server's metrics page, checked to be Prometheus text.
async fn scrape(app: &TestApp) -> String {
    let response = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Logs and request ids

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
    let http = reqwest::Client::new();
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
    // What the request logged on its way carries its id too.
    let cause = events
        .iter()
        .find(|e| e["message"] == "database unavailable")
        .expect("the cause of the 503 is logged");
    assert_eq!(cause["span"]["request_id"], "log-503", "{cause}");

    let secret = app.key.rsplit('_').next().unwrap();
    for line in &lines {
        for private in [secret, "Bearer", &email, "a note that must never"] {
            assert!(!line.contains(private), "{private:?} logged: {line}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

async fn metrics_count_requests_by_route_template_and_show_the_pool(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        // Each worker owns its connections, at least one: one worker, one connection.
        config.workers = Some(1);
        config.db_pool_size = 1;
        config.db_acquire_timeout_ms = 20_000;
        config.db_statement_timeout_ms = 20_000;
    })
    .await
    else {
        return;
    };
    let client = app.registered().await;
    let id = id_of(&client);
    app.get(&id).await.expect(StatusCode::OK);
    app.get(&uuid::Uuid::now_v7().to_string())
        .await
        .expect(StatusCode::NOT_FOUND);
    app.request(Method::GET, &format!("/nowhere/{id}"), &[], None)
        .await
        .expect(StatusCode::NOT_FOUND);

    let page = scrape(&app).await;
    let count = |sample: &str| metric(&page, sample);
    assert_eq!(
        count(r#"http_requests_total{method="POST",route="/api/v1/clients/person",status="201"}"#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"http_requests_total{method="GET",route="/api/v1/clients/{id}",status="200"}"#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"http_requests_total{method="GET",route="/api/v1/clients/{id}",status="404"}"#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"http_requests_total{method="GET",route="unmatched",status="404"}"#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"http_request_duration_seconds_count{method="GET",route="/api/v1/clients/{id}"}"#),
        Some(2.0)
    );
    assert_eq!(
        count(
            r#"http_request_duration_seconds_bucket{method="GET",route="/api/v1/clients/{id}",le="+Inf"}"#
        ),
        Some(2.0)
    );
    assert!(!page.contains(&id), "a path leaked into a label");
    assert_eq!(count("db_pool_max_connections"), Some(1.0));
    assert!(count("process_resident_memory_bytes").is_some_and(|rss| rss > 0.0));

    // One update holds the only connection while it waits for a lock held elsewhere; a second
    // request waits for the connection. The pool gauges show both. Until the first update has
    // its connection, both may be waiting (or one alone, queued for a thread), so the test waits
    // for the steady state the lock produces rather than for the first sign of waiting.
    let lock = ClientLock::hold(&app, &id).await;
    let watch = async {
        let page = eventually(
            Duration::from_secs(10),
            "one request holding the connection and one waiting",
            || async {
                let page = scrape(&app).await;
                let in_use = metric(&page, r#"db_pool_connections{state="in_use"}"#);
                let waiting = metric(&page, "db_pool_waiting");
                (in_use == Some(1.0) && waiting == Some(1.0)).then_some(page)
            },
        )
        .await;
        lock.release().await;
        page
    };
    let (first, second, page) = tokio::join!(
        app.update(&id, json!({"city": "Lyon"})),
        app.update(&id, json!({"postcode": "69001"})),
        watch
    );
    assert_eq!(
        metric(&page, r#"db_pool_connections{state="idle"}"#),
        Some(0.0)
    );
    first.expect(StatusCode::OK);
    second.expect(StatusCode::OK);
    let page = scrape(&app).await;
    assert_eq!(metric(&page, "db_pool_waiting"), Some(0.0));
    assert_eq!(
        metric(
            &page,
            r#"http_requests_total{method="PUT",route="/api/v1/clients/person/{id}",status="200"}"#
        ),
        Some(2.0)
    );
}

// ---------------------------------------------------------------------------------------------
// Limits and timeouts

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

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

async fn sigterm_lets_an_update_in_flight_finish_and_be_stored_then_exits_0(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    let mut server = ServerProcess::start(
        &app.database_url,
        &[
            ("DB_ACQUIRE_TIMEOUT_MS", "30000"),
            ("DB_STATEMENT_TIMEOUT_MS", "30000"),
            ("AUTH_CACHE_TTL_MS", "600000"),
        ],
    );
    let http = reqwest::Client::new();
    // The key is verified (and cached) first, so that the connection seen in use below is the
    // update's, not its key lookup's.
    let read = http
        .get(server.url(&format!("/api/v1/clients/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let lock = ClientLock::hold(&app, &id).await;
    let in_flight = tokio::spawn(
        http.put(server.url(&format!("/api/v1/clients/person/{id}")))
            .bearer_auth(&app.key)
            .json(&json!({"city": "Lyon"}))
            .send(),
    );
    // The update has its connection and waits for the lock.
    eventually(Duration::from_secs(10), "the update in flight", || async {
        let page = http
            .get(server.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let in_flight = metric(&page, r#"db_pool_connections{state="in_use"}"#) == Some(1.0)
            && !page.contains(r#"method="PUT""#);
        in_flight.then_some(())
    })
    .await;

    server.terminate();
    // New connections are refused from now on.
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    eventually(Duration::from_secs(5), "the listener to close", || async {
        match fresh().get(server.url("/health/live")).send().await {
            Err(error) if error.is_connect() => Some(()),
            _ => None,
        }
    })
    .await;
    eventually(Duration::from_secs(5), "the SIGTERM log line", || async {
        server
            .lines()
            .iter()
            .any(|l| l.contains("SIGTERM"))
            .then_some(())
    })
    .await;
    // Longer than the one-second tick at which a stopping worker checks its shutdown timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    lock.release().await;
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let status = server.wait(Duration::from_secs(15));
    assert!(status.success(), "exit status {status}");
    assert!(
        server.lines().iter().any(|l| l.contains("stopped")),
        "{:?}",
        server.lines()
    );

    let stored = app.get(&id).await.expect(StatusCode::OK);
    assert_eq!(stored.body["city"], "Lyon");
    assert_eq!(stored.header("etag"), Some("\"2\""));
}

// ---------------------------------------------------------------------------------------------
// Scale-out

async fn two_instances_on_one_database_keep_every_change_and_consecutive_versions(app: TestApp) {
    let other = app.another_instance().await;
    fifty_concurrent_updates_across(&[&app, &other]).await;
}

crate::on_both_backends!(
    each_request_is_one_json_log_line_with_its_id_and_no_secret,
    sigterm_lets_an_update_in_flight_finish_and_be_stored_then_exits_0,
    two_instances_on_one_database_keep_every_change_and_consecutive_versions,
);

crate::for_each_backend!(
    metrics_count_requests_by_route_template_and_show_the_pool,
    the_body_limit_is_configurable,
    a_client_too_slow_to_send_its_request_gets_408_and_changes_nothing,
    an_update_waiting_on_a_locked_client_gives_up_with_503_and_changes_nothing,
);

/// Migrations (and waiting for another instance's) may take longer than a request may, and
/// opening the first connection longer than a request may wait for one: neither request timeout
/// may stop a server from starting.
async fn a_start_is_not_bound_by_the_request_timeouts(backend: Backend) {
    let Some((database, _guard)) = crate::helpers::fresh_database(backend).await else {
        return;
    };
    let mut config = api::Config::with_database(database);
    config.bind = "127.0.0.1:0".to_owned();
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
