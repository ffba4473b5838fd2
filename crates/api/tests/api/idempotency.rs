//! Safe retries of registration with `Idempotency-Key`.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{person, Backend, Body, Response, Sql, TestApp};

async fn register_with_key(app: &TestApp, key: &str, body: Value) -> Response {
    app.request(
        Method::POST,
        "/api/v1/clients/person",
        &[("idempotency-key", key)],
        Some(Body::Json(body)),
    )
    .await
}

async fn a_retry_with_the_same_key_and_body_replays_the_first_response_and_creates_nothing(
    app: TestApp,
) {
    let body = person();
    let first = register_with_key(&app, "key-1", body.clone())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The same JSON with its members in another order is the same body.
    let reordered: Value = body
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let retry = register_with_key(&app, "key-1", reordered)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("etag"), first.header("etag"));
    assert_eq!(app.client_count().await, 1);
}

async fn the_same_key_with_another_body_is_422_and_creates_nothing(app: TestApp) {
    register_with_key(&app, "key-1", person())
        .await
        .expect(StatusCode::CREATED);
    register_with_key(&app, "key-1", person())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    assert_eq!(app.client_count().await, 1);
    // Another key is another request.
    register_with_key(&app, "key-2", person())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(app.client_count().await, 2);
}

async fn concurrent_requests_with_one_key_create_one_client(app: TestApp) {
    let body = person();
    let responses =
        join_all((0..6).map(|_| register_with_key(&app, "same-key", body.clone()))).await;
    let created: Vec<&Response> = responses
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|r| r.body == created[0].body),
        "every 201 is the same client"
    );
    for other in responses.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(other.status, StatusCode::CONFLICT, "{:#}", other.body);
        assert_eq!(other.body["code"], "idempotency_request_in_progress");
    }
    assert_eq!(app.client_count().await, 1);
}

async fn an_invalid_key_is_400(app: TestApp) {
    let long = "k".repeat(256);
    register_with_key(&app, &long, person())
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    register_with_key(&app, "has space", person())
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    register_with_key(&app, &"k".repeat(255), person())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(app.client_count().await, 1);
}

async fn a_failed_request_frees_its_key(app: TestApp) {
    let taken = app.registered().await;
    let clash = json!({"email": taken["email"]});
    let mut body = person();
    body["email"] = clash["email"].clone();
    register_with_key(&app, "key-1", body.clone())
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
    register_with_key(&app, "key-1", body)
        .await
        .problem(StatusCode::CONFLICT, "email_taken");
    register_with_key(&app, "key-1", person())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(app.client_count().await, 2);
}

async fn a_key_expires_after_24_hours(app: TestApp) {
    register_with_key(&app, "key-1", person())
        .await
        .expect(StatusCode::CREATED);
    // Age the key by 25 hours, as time would.
    let age = match app.backend {
        Backend::Sqlite => "UPDATE idempotency_keys SET created_at = '2000-01-01 00:00:00+00:00'",
        Backend::Postgres => {
            "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'"
        }
    };
    Sql::connect(&app).await.execute(age).await.unwrap();
    register_with_key(&app, "key-1", person())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(app.client_count().await, 2);
}

async fn keys_are_scoped_to_the_organization(app: TestApp) {
    register_with_key(&app, "shared-key", person())
        .await
        .expect(StatusCode::CREATED);
    let (_, other) = app.new_key(Some(2), "org 2").await;
    let auth = format!("Bearer {other}");
    let headers = [
        ("idempotency-key", "shared-key"),
        ("authorization", auth.as_str()),
    ];
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/clients/person",
            &headers,
            Some(Body::Json(person())),
        )
        .await;
    let theirs = theirs.expect(StatusCode::CREATED);
    assert_eq!(
        theirs.header("idempotent-replayed"),
        None,
        "another organization's key is another key"
    );
    assert_eq!(theirs.body["organization_id"], 2);
}

/// Claims `key` for `body` as another server instance would, at `at`.
async fn claim_elsewhere(
    app: &TestApp,
    key: &str,
    body: &Value,
    at: chrono::DateTime<chrono::Utc>,
) {
    let request_hash = api::body::canonical_hash(&serde_json::to_vec(body).unwrap());
    let key = store::IdempotencyKey {
        organization_id: 1,
        key: key.to_owned(),
        request_hash,
    };
    assert_eq!(
        app.store.claim_idempotency_key(&key, at).await.unwrap(),
        store::Claim::Claimed
    );
}

async fn a_retry_while_the_first_request_runs_is_409_until_the_claim_is_abandoned(app: TestApp) {
    let body = person();
    claim_elsewhere(&app, "running", &body, chrono::Utc::now()).await;
    register_with_key(&app, "running", body.clone())
        .await
        .problem(StatusCode::CONFLICT, "idempotency_request_in_progress");
    assert_eq!(app.client_count().await, 0);

    // A claim left for over a minute belongs to a server that died mid-request: a retry runs.
    claim_elsewhere(
        &app,
        "abandoned",
        &body,
        chrono::Utc::now() - chrono::TimeDelta::minutes(2),
    )
    .await;
    register_with_key(&app, "abandoned", body)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(app.client_count().await, 1);
}

crate::on_both_backends!(
    a_retry_while_the_first_request_runs_is_409_until_the_claim_is_abandoned,
    keys_are_scoped_to_the_organization,
    a_retry_with_the_same_key_and_body_replays_the_first_response_and_creates_nothing,
    the_same_key_with_another_body_is_422_and_creates_nothing,
    concurrent_requests_with_one_key_create_one_client,
    an_invalid_key_is_400,
    a_failed_request_frees_its_key,
    a_key_expires_after_24_hours,
);
