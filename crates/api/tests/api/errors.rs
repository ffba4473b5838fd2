//! Contract section 4: every error is a problem, with the documented status.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_unchanged, id_of, pg_connect, Backend, Body, Sql, TestApp};

async fn body_that_is_not_json_is_400_and_changes_nothing(app: TestApp) {
    let client = app.registered().await;
    let path = format!("/api/v1/clients/person/{}", id_of(&client));
    let raw = Body::Raw {
        content_type: "application/json",
        bytes: b"{\"city\": \"Lyon\"".to_vec(),
    };
    app.request(Method::PUT, &path, &[], Some(raw))
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    let raw = Body::Raw {
        content_type: "application/json",
        bytes: b"[{\"city\": \"Lyon\"}]".to_vec(),
    };
    app.request(Method::PUT, &path, &[], Some(raw))
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    let raw = Body::Raw {
        content_type: "application/json",
        bytes: Vec::new(),
    };
    app.request(Method::POST, "/api/v1/clients/person", &[], Some(raw))
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
    assert_unchanged(&app, &client).await;
}

async fn body_that_is_not_sent_as_json_is_415(app: TestApp) {
    let client = app.registered().await;
    let path = format!("/api/v1/clients/person/{}", id_of(&client));
    let raw = Body::Raw {
        content_type: "text/plain",
        bytes: b"{\"city\": \"Lyon\"}".to_vec(),
    };
    app.request(Method::PUT, &path, &[], Some(raw))
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    app.request(Method::PUT, &path, &[], None)
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let vendor_json = Body::Raw {
        content_type: "application/merge-patch+json",
        bytes: b"{\"city\": \"Lyon\"}".to_vec(),
    };
    app.request(Method::PUT, &path, &[], Some(vendor_json))
        .await
        .expect(StatusCode::OK);
}

async fn body_over_64_kib_is_413_and_changes_nothing(app: TestApp) {
    let client = app.registered().await;
    let big = json!({"kyc_note": "n".repeat(64 * 1024)});
    app.update(&id_of(&client), big)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_unchanged(&app, &client).await;
}

async fn unknown_route_is_a_404_problem(app: TestApp) {
    app.request(Method::GET, "/api/v1/nothing-here", &[], None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.request(Method::DELETE, "/api/v1/clients/person/x/y", &[], None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

async fn request_id_is_echoed_when_safe_and_generated_otherwise(app: TestApp) {
    let given = app
        .request(
            Method::GET,
            "/api/v1/clients/x",
            &[("x-request-id", "partner-req-42")],
            None,
        )
        .await;
    assert_eq!(
        given.problem(StatusCode::BAD_REQUEST, "invalid_id")["request_id"],
        "partner-req-42"
    );
    let unsafe_id = app
        .request(
            Method::GET,
            "/health/live",
            &[("x-request-id", "a b<script>")],
            None,
        )
        .await;
    let generated = unsafe_id.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

async fn a_known_path_with_another_method_is_405_listing_the_allowed_ones(app: TestApp) {
    let client = app.registered().await;
    let id = id_of(&client);
    for (method, path, allowed) in [
        (Method::DELETE, format!("/api/v1/clients/{id}"), "GET, HEAD"),
        (Method::PATCH, format!("/api/v1/clients/person/{id}"), "PUT"),
        (Method::PUT, "/api/v1/clients".to_owned(), "GET, HEAD"),
        (Method::POST, "/health/live".to_owned(), "GET, HEAD"),
        // The registration path, not a client id that is not a UUID.
        (Method::GET, "/api/v1/clients/person".to_owned(), "POST"),
    ] {
        let response = app.request(method.clone(), &path, &[], None).await;
        assert_eq!(response.header("allow"), Some(allowed), "{method} {path}");
        response.problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    app.request(Method::DELETE, &format!("/api/v1/nothing/{id}"), &[], None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_unchanged(&app, &client).await;
}

async fn head_is_get_without_the_body(app: TestApp) {
    let client = app.registered().await;
    let path = format!("/api/v1/clients/{}", id_of(&client));
    let get = app
        .request(Method::GET, &path, &[], None)
        .await
        .expect(StatusCode::OK);
    let response = app
        .http
        .head(format!("{}{path}", app.address))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], get.header("etag").unwrap());
    assert!(response.headers().contains_key("x-request-id"));
    assert!(
        response.bytes().await.unwrap().is_empty(),
        "HEAD has no body"
    );
    let live = app
        .http
        .head(format!("{}/health/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let unauthenticated = app
        .http
        .head(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

crate::on_both_backends!(
    head_is_get_without_the_body,
    a_known_path_with_another_method_is_405_listing_the_allowed_ones,
    body_that_is_not_json_is_400_and_changes_nothing,
    body_that_is_not_sent_as_json_is_415,
    body_over_64_kib_is_413_and_changes_nothing,
    unknown_route_is_a_404_problem,
    request_id_is_echoed_when_safe_and_generated_otherwise,
);

/// Makes the test's database unavailable until [`Outage::end`].
enum Outage {
    /// Another process holding the write lock: writers queue, then give up.
    Sqlite(Sql),
    /// The database refuses connections, and the server's are closed.
    Postgres {
        admin: tokio_postgres::Client,
        database: String,
    },
}

impl Outage {
    async fn start(app: &TestApp) -> Self {
        match app.backend {
            Backend::Sqlite => {
                let mut sql = Sql::connect(app).await;
                sql.execute("BEGIN EXCLUSIVE").await.unwrap();
                Outage::Sqlite(sql)
            }
            Backend::Postgres => {
                let database = app.database_url.rsplit('/').next().unwrap().to_owned();
                let admin_url = app.database_url.replace(&database, "postgres");
                let admin = pg_connect(&admin_url).await.unwrap();
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false; \
                         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}';"
                    ))
                    .await
                    .unwrap();
                Outage::Postgres { admin, database }
            }
        }
    }

    async fn end(self) {
        match self {
            Outage::Sqlite(mut sql) => sql.execute("ROLLBACK").await.unwrap(),
            Outage::Postgres { admin, database } => admin
                .batch_execute(&format!(
                    "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true"
                ))
                .await
                .unwrap(),
        }
    }
}

async fn database_outage_is_a_quick_503_that_changes_nothing_and_the_server_recovers(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.db_acquire_timeout_ms = 500).await
    else {
        return;
    };
    let client = app.registered().await;
    let id = id_of(&client);

    let outage = Outage::start(&app).await;
    let started = Instant::now();
    let response = app.update(&id, json!({"city": "Lyon"})).await;
    assert_eq!(response.header("retry-after"), Some("1"));
    response.problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "503 took {:?}",
        started.elapsed()
    );
    app.request(Method::GET, "/health/live", &[], None)
        .await
        .expect(StatusCode::OK);
    if backend == Backend::Postgres {
        app.request(Method::GET, "/health/ready", &[], None)
            .await
            .problem(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    }
    outage.end().await;

    // Ready again by itself, without a restart (the pool may first have to open a connection).
    app.until_ready(Duration::from_secs(10)).await;
    assert_unchanged(&app, &client).await;
    let updated = app
        .update(&id, json!({"city": "Nice"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(updated.header("etag"), Some("\"2\""));
}

crate::for_each_backend!(
    database_outage_is_a_quick_503_that_changes_nothing_and_the_server_recovers
);
