//! The Prometheus page: requests by route template, the pool, the process.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{eventually, id_of, metric, Backend, ClientLock, TestApp};

/// The server's metrics page, checked to be Prometheus text.
pub(super) async fn scrape(app: &TestApp) -> String {
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
                // At least: on SQLite the webhook delivery worker shares the connections, and
                // its look for due deliveries may be holding or awaiting one too.
                let at_least_one = |value: Option<f64>| value.is_some_and(|v| v >= 1.0);
                (at_least_one(in_use) && at_least_one(waiting)).then_some(page)
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

crate::for_each_backend!(metrics_count_requests_by_route_template_and_show_the_pool);
