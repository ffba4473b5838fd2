//! How the server reaches PostgreSQL: TLS as `sslmode` says, Unix sockets, several hosts; and
//! what a PUT costs it: two statements, each prepared once per connection.

use std::net::TcpListener;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{id_of, metric, pg_connect, Backend, TestApp};
use crate::outages::{authority, with_authority};

/// The database name of a PostgreSQL URL.
fn database_of(url: &str) -> String {
    let path = url.split_once("://").unwrap().1;
    let path = path.split_once('/').unwrap().1;
    path.split('?').next().unwrap().to_owned()
}

/// The server's connections to its database, by whether they use TLS, as PostgreSQL sees them.
async fn tls_of_connections(app: &TestApp, application_name: &str) -> Vec<bool> {
    let admin = pg_connect(&app.database_url).await.unwrap();
    admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = $1 AND a.application_name = $2",
            &[&database_of(&app.database_url), &application_name],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The server works: it registers a client and updates it.
async fn registers_and_updates(app: &TestApp) {
    let client = app.registered().await;
    app.update(&id_of(&client), json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
}

async fn metrics_page(app: &TestApp) -> String {
    app.http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_used_as_sslmode_says() {
    // The tests' PostgreSQL runs with `ssl = on`, as Debian sets it up.
    for (sslmode, encrypted) in [("disable", false), ("prefer", true), ("require", true)] {
        let name = format!("tls-test-{sslmode}");
        let Some(app) = TestApp::spawn_with(Backend::Postgres, |config| {
            config.database_url = format!(
                "{}?sslmode={sslmode}&application_name={name}",
                config.database_url
            );
        })
        .await
        else {
            return;
        };
        app.registered().await;
        let connections = tls_of_connections(&app, &name).await;
        assert!(!connections.is_empty(), "{sslmode}: no connection seen");
        assert!(
            connections.iter().all(|&tls| tls == encrypted),
            "sslmode={sslmode}: TLS {connections:?}"
        );
    }
}

/// `verify-full` checks that the certificate names the host; `verify-ca` only that it chains
/// to the given root. The cluster's own certificate (a self-signed one naming `localhost`)
/// serves as the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_for_another_name_and_verify_ca_accepts_it() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let admin = pg_connect(&app.database_url).await.unwrap();
    let certificate: String = admin
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        std::path::Path::new(&certificate).exists(),
        "the tests run beside their PostgreSQL, whose certificate is {certificate}"
    );
    let port = authority(&app.database_url)
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let url = |host: &str, mode: &str| {
        format!(
            "{}?sslmode={mode}&sslrootcert={certificate}",
            with_authority(&app.database_url, &format!("{host}:{port}"))
        )
    };
    let open = |url: String| async move {
        let mut config = store::StoreConfig::new(url);
        config.acquire_timeout = std::time::Duration::from_secs(2);
        store::Store::open(&config).await.map(drop)
    };
    let refused = open(url("127.0.0.1", "verify-full")).await.unwrap_err();
    assert!(
        refused.to_string().contains("certificate"),
        "refused for its name: {refused}"
    );
    open(url("127.0.0.1", "verify-ca")).await.unwrap();
    open(url("localhost", "verify-full")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_url_works() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |config| {
        let database = database_of(&config.database_url);
        let user = config
            .database_url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map_or("postgres", |(user, _)| user)
            .to_owned();
        config.database_url =
            format!("postgres://{user}@/{database}?host=%2Fvar%2Frun%2Fpostgresql");
    })
    .await
    else {
        return;
    };
    registers_and_updates(&app).await;
}

/// With several hosts, the server connects to the first that answers and can write: here the
/// first refuses (nothing listens there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_hosts_fall_through_to_the_one_that_answers() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |config| {
        let live = authority(&config.database_url);
        config.database_url = format!(
            "{}?target_session_attrs=read-write",
            with_authority(&config.database_url, &format!("127.0.0.1:{closed},{live}"))
        );
    })
    .await
    else {
        return;
    };
    registers_and_updates(&app).await;
}

/// A PUT is a read (the client and its history's head) and one write (the change, its history
/// entry and its event), each a statement prepared once per connection: after the first PUT,
/// more PUTs and GETs prepare nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_prepares_its_two_statements_once_per_connection() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |config| {
        // One connection, so that every request meets the statements it prepared.
        config.workers = Some(1);
        config.db_pool_size = 1;
    })
    .await
    else {
        return;
    };
    let prepared =
        || async { metric(&metrics_page(&app).await, "db_statements_prepared_total").unwrap() };
    let client = app.registered().await;
    let id = id_of(&client);
    // A GET's read is a statement of its own (the PUT's also reads the history's head).
    app.request(Method::GET, &format!("/api/v1/clients/{id}"), &[], None)
        .await
        .expect(StatusCode::OK);
    let before = prepared().await;
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        prepared().await - before,
        2.0,
        "the first PUT prepares its read and its write"
    );
    let after_first = prepared().await;
    for n in 0..20 {
        app.update(
            &id,
            json!({"city": format!("City {n}"), "kyc_note": format!("note {n}")}),
        )
        .await
        .expect(StatusCode::OK);
        app.request(Method::GET, &format!("/api/v1/clients/{id}"), &[], None)
            .await
            .expect(StatusCode::OK);
    }
    assert_eq!(prepared().await, after_first, "nothing is prepared again");
    let history = app.history(&id, "?limit=50").await.expect(StatusCode::OK);
    assert_eq!(history.body.as_array().unwrap().len(), 22);
}
