//! Contract section 5, access: the key checked first on every route, organization scoping, admin
//! keys.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{id_of, ids_in_order, person, raw_exchange, Backend, TestApp};

/// Every `/api/v1` route, as (method, path, body) for one client id.
fn routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/api/v1/clients/person".into(),
            Some(person()),
        ),
        (Method::GET, format!("/api/v1/clients/{id}"), None),
        (
            Method::PUT,
            format!("/api/v1/clients/person/{id}"),
            Some(json!({"city": "Lyon"})),
        ),
        (Method::GET, format!("/api/v1/clients/{id}/history"), None),
        (Method::GET, "/api/v1/clients".into(), None),
    ]
}

async fn call(
    app: &TestApp,
    key: &str,
    route: &(Method, String, Option<Value>),
) -> crate::helpers::Response {
    app.request_as(key, route.0.clone(), &route.1, route.2.clone())
        .await
}

async fn every_route_refuses_a_missing_wrong_or_revoked_key_with_401(app: TestApp) {
    let client = app.registered().await;
    let (revoked, revoked_key) = app.new_key(Some(1), "revoked").await;
    assert!(app
        .store
        .revoke_api_key(revoked.id, chrono::Utc::now())
        .await
        .unwrap());
    let (_, live_key) = app.new_key(Some(1), "live").await;
    let wrong_secret = format!("{}{}", &live_key[..live_key.len() - 64], "0".repeat(64));
    let unknown = format!("crk_{}_{}", uuid::Uuid::now_v7().simple(), "a".repeat(64));
    for route in routes(&id_of(&client)) {
        for key in [
            "",
            "nope",
            wrong_secret.as_str(),
            unknown.as_str(),
            revoked_key.as_str(),
        ] {
            let response = call(&app, key, &route).await;
            assert!(
                response
                    .header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{} {}",
                route.0,
                route.1
            );
            response.problem(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        let basic = app
            .request(
                route.0.clone(),
                &route.1,
                &[("authorization", "Basic dXNlcjpwYXNz")],
                None,
            )
            .await;
        basic.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // The key is checked before anything else: a bad id or an oversized body does not tell an
    // unauthenticated caller anything.
    let big = json!({"kyc_note": "n".repeat(70 * 1024)});
    for (method, path, body) in [
        (Method::GET, "/api/v1/clients/not-a-uuid".to_owned(), None),
        (
            Method::PUT,
            format!("/api/v1/clients/person/{}", id_of(&client)),
            Some(big),
        ),
    ] {
        app.request_as("", method, &path, body)
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    crate::helpers::assert_unchanged(&app, &client).await;
    assert_eq!(app.client_count().await, 1, "nothing registered");
    // Health, the spec and Swagger UI need no key.
    for path in ["/health/live", "/health/ready", "/api-docs/openapi.json"] {
        app.request(Method::GET, path, &[("authorization", "")], None)
            .await
            .expect(StatusCode::OK);
    }
}

/// A well-formed key that is not live needs a database lookup to be refused; nothing about the
/// request is looked at until that lookup has answered.
async fn an_unknown_key_is_refused_before_the_path_and_the_body_are_read(backend: Backend) {
    // A body that is never read would otherwise end in `408` after this long.
    let Some(app) = TestApp::spawn_with(backend, |c| c.request_timeout_ms = 20_000).await else {
        return;
    };
    let client = app.registered().await;
    let unknown = format!("crk_{}_{}", uuid::Uuid::now_v7().simple(), "a".repeat(64));
    app.request_as(
        &unknown,
        Method::PUT,
        "/api/v1/clients/person/not-a-uuid",
        Some(json!({})),
    )
    .await
    .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    app.request_as(
        &unknown,
        Method::GET,
        "/api/v1/clients?limit=0&nope=1",
        None,
    )
    .await
    .problem(StatusCode::UNAUTHORIZED, "unauthorized");

    // 100 KB announced (over the 64 KiB limit), 20 bytes sent: the answer comes without the rest.
    let head = format!(
        "PUT /api/v1/clients/person/{} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {unknown}\r\n\
         Content-Type: application/json\r\nContent-Length: 102400\r\n\r\n{{\"kyc_note\": \"nnnnn",
        id_of(&client)
    );
    let started = Instant::now();
    let answer = raw_exchange(&app, head.as_bytes(), Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("\"code\":\"unauthorized\""), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered without waiting for the body"
    );
    crate::helpers::assert_unchanged(&app, &client).await;
}

async fn another_organizations_client_is_a_404_on_every_route_and_changes_nothing(app: TestApp) {
    let (_, other_key) = app.new_key(Some(2), "org 2").await;
    let theirs = app
        .request_as(
            &other_key,
            Method::POST,
            "/api/v1/clients/person",
            Some(person()),
        )
        .await
        .expect(StatusCode::CREATED)
        .body;
    assert_eq!(theirs["organization_id"], 2);
    let mine = app.registered().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for (route, unknown_route) in routes(&id_of(&theirs))
        .into_iter()
        .zip(routes(&unknown))
        .skip(1)
        .take(3)
    {
        let response = call(&app, &app.key, &route).await;
        let body = response.problem(StatusCode::NOT_FOUND, "not_found");
        let unknown_body = call(&app, &app.key, &unknown_route)
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(
            (body["detail"].clone(), body["title"].clone()),
            (
                unknown_body["detail"].clone(),
                unknown_body["title"].clone()
            )
        );
    }
    let star = app
        .update_with(
            &id_of(&theirs),
            &[("if-match", "*")],
            json!({"city": "Nice"}),
        )
        .await;
    star.problem(StatusCode::NOT_FOUND, "not_found");
    let listed = app.list("").await.expect(StatusCode::OK).body;
    assert_eq!(ids_in_order(&listed), [id_of(&mine)]);

    // Seen by its own organization, the client and its history are untouched.
    let theirs_now = app
        .request_as(
            &other_key,
            Method::GET,
            &format!("/api/v1/clients/{}", id_of(&theirs)),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(theirs_now.body, theirs);
    let history = app
        .request_as(
            &other_key,
            Method::GET,
            &format!("/api/v1/clients/{}/history", id_of(&theirs)),
            None,
        )
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(history.as_array().unwrap().len(), 1);
    // An organization key cannot choose another organization.
    app.list("?organization_id=2")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_parameter");
    let mut body = person();
    body["organization_id"] = json!(2);
    assert_eq!(
        app.register(body).await.field_errors(),
        [("/organization_id".to_owned(), "read_only_field".to_owned())]
    );
}

async fn an_admin_key_sees_every_organization_and_names_one_to_register(app: TestApp) {
    let (admin, admin_key) = app.new_key(None, "back office").await;
    let mine = app.registered().await;

    let errors = app
        .request_as(
            &admin_key,
            Method::POST,
            "/api/v1/clients/person",
            Some(person()),
        )
        .await
        .field_errors();
    assert_eq!(
        errors,
        [("/organization_id".to_owned(), "required".to_owned())]
    );
    let mut body = person();
    body["organization_id"] = json!(2);
    let theirs = app
        .request_as(
            &admin_key,
            Method::POST,
            "/api/v1/clients/person",
            Some(body),
        )
        .await
        .expect(StatusCode::CREATED)
        .body;
    assert_eq!(theirs["organization_id"], 2);

    for client in [&mine, &theirs] {
        app.request_as(
            &admin_key,
            Method::GET,
            &format!("/api/v1/clients/{}", id_of(client)),
            None,
        )
        .await
        .expect(StatusCode::OK);
    }
    let all = app
        .request_as(&admin_key, Method::GET, "/api/v1/clients", None)
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let only_2 = app
        .request_as(
            &admin_key,
            Method::GET,
            "/api/v1/clients?organization_id=2",
            None,
        )
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(ids_in_order(&only_2), [id_of(&theirs)]);

    let path = format!("/api/v1/clients/person/{}", id_of(&mine));
    app.request_as(
        &admin_key,
        Method::PUT,
        &path,
        Some(json!({"risk_level": "High"})),
    )
    .await
    .expect(StatusCode::OK);
    let history = app
        .history(&id_of(&mine), "")
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(
        history[0]["actor"],
        json!({"key_id": admin.id.to_string(), "name": "back office"})
    );
    assert_eq!(history[1]["actor"]["name"], "test");
}

crate::on_both_backends!(
    every_route_refuses_a_missing_wrong_or_revoked_key_with_401,
    another_organizations_client_is_a_404_on_every_route_and_changes_nothing,
    an_admin_key_sees_every_organization_and_names_one_to_register,
);

crate::for_each_backend!(an_unknown_key_is_refused_before_the_path_and_the_body_are_read);
