//! Contract section 5: API keys, organization scoping, admin keys, the bootstrap key, the CLI.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    eventually, fresh_database, id_of, ids_in_order, person, raw_exchange, Backend, TestApp,
};
use crate::server_process::ServerProcess;

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

async fn keys_are_stored_as_hashes_never_as_keys(app: TestApp) {
    let keys = app.store.list_api_keys().await.unwrap();
    let secret = &app.key[app.key.len() - 64..];
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0].secret_hash, secret);
    assert!(!keys[0].secret_hash.contains(secret) && !keys[0].name.contains(secret));
    assert_eq!(keys[0].secret_hash.len(), 64, "hex SHA-256");
    app.list("").await.expect(StatusCode::OK);
    assert!(
        app.store.list_api_keys().await.unwrap()[0]
            .last_used_at
            .is_some(),
        "last use is recorded"
    );
}

crate::on_both_backends!(
    every_route_refuses_a_missing_wrong_or_revoked_key_with_401,
    another_organizations_client_is_a_404_on_every_route_and_changes_nothing,
    an_admin_key_sees_every_organization_and_names_one_to_register,
    keys_are_stored_as_hashes_never_as_keys,
);

crate::for_each_backend!(an_unknown_key_is_refused_before_the_path_and_the_body_are_read);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_of_the_embedded_database_prints_a_working_key_once() {
    let (database, _guard) = fresh_database(Backend::Sqlite).await.unwrap();
    let first = ServerProcess::start(&database, &[]);
    let (output, port) = (first.lines(), first.port);
    let key = output
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("crk_")))
        .expect("a key is printed");
    assert!(
        output.iter().any(|l| l.contains("Authorization: Bearer")),
        "a line says how to use it"
    );
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/clients"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    drop(first);
    assert_eq!(response.status(), StatusCode::OK);

    let second = ServerProcess::start(&database, &[]);
    let output = second.lines();
    drop(second);
    assert!(
        !output.iter().any(|l| l.contains("crk_")),
        "no key on the second start: {output:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_never_bootstrapped() {
    let Some((database, _guard)) = fresh_database(Backend::Postgres).await else {
        return;
    };
    let mut config = api::Config::with_database(database);
    config.bind = "127.0.0.1:0".to_owned();
    let app = api::Application::build(config).await.unwrap();
    assert_eq!(app.bootstrap_key(), None);
}

fn cli(database: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_clients-api"))
        .args(["--database-url", database, "keys"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.success(),
        format!("{text}\n[{}]", output.status),
    )
}

async fn keys_are_created_listed_and_revoked_from_the_command_line(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| config.auth_cache_ttl_ms = 300).await
    else {
        return;
    };
    let (ok, created) = cli(
        &app.database_url,
        &["create", "--organization-id", "1", "--name", "partner crm"],
    );
    assert!(ok, "{created}");
    let key = created
        .split_whitespace()
        .find(|w| w.starts_with("crk_"))
        .unwrap()
        .to_owned();
    let auth = format!("Bearer {key}");
    app.request(
        Method::GET,
        "/api/v1/clients",
        &[("authorization", &auth)],
        None,
    )
    .await
    .expect(StatusCode::OK);

    let (ok, listed) = cli(&app.database_url, &["list"]);
    assert!(ok && listed.contains("partner crm"), "{listed}");
    assert!(
        !listed.contains(&key[key.len() - 64..]),
        "list never shows secrets"
    );
    let id = listed
        .lines()
        .find(|l| l.contains("partner crm"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (ok, out) = cli(&app.database_url, &["revoke", &id]);
    assert!(ok, "{out}");
    // The server trusts a key it verified for AUTH_CACHE_TTL_MS (300 ms here), then reads it
    // again. The key was last verified before the revocation, so no request sent more than the
    // TTL after it may still get in, however slowly the machine answers.
    let revoked = Instant::now();
    let ttl = Duration::from_millis(300);
    let refused = eventually(
        Duration::from_secs(5),
        "the revoked key refused",
        || async {
            let sent = Instant::now();
            let response = app
                .request(
                    Method::GET,
                    "/api/v1/clients",
                    &[("authorization", &auth)],
                    None,
                )
                .await;
            if response.status != StatusCode::OK {
                return Some(response);
            }
            assert!(
                sent < revoked + ttl,
                "a request sent {:?} after the revocation got in",
                sent - revoked
            );
            None
        },
    )
    .await;
    refused.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        !cli(&app.database_url, &["revoke", &id]).0,
        "a revoked key cannot be revoked again"
    );
    let (ok, admin) = cli(&app.database_url, &["create", "--admin", "--name", "ops"]);
    assert!(ok && admin.contains("every organization"), "{admin}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keys_are_created_listed_and_revoked_from_the_command_line() {
    keys_are_created_listed_and_revoked_from_the_command_line(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keys_are_created_listed_and_revoked_from_the_command_line() {
    keys_are_created_listed_and_revoked_from_the_command_line(Backend::Postgres).await;
}
