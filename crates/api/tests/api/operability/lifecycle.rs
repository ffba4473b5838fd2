//! Graceful shutdown, and two instances on one database.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::concurrency::fifty_concurrent_updates_across;
use crate::helpers::{eventually, id_of, metric, ClientLock, TestApp};
use crate::server_process::ServerProcess;

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
    let http = crate::helpers::http_client().build().unwrap();
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
        crate::helpers::http_client()
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

async fn two_instances_on_one_database_keep_every_change_and_consecutive_versions(app: TestApp) {
    let other = app.another_instance().await;
    fifty_concurrent_updates_across(&[&app, &other]).await;
}

crate::on_both_backends!(
    sigterm_lets_an_update_in_flight_finish_and_be_stored_then_exits_0,
    two_instances_on_one_database_keep_every_change_and_consecutive_versions,
);
