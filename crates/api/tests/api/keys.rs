//! Contract section 5, the keys themselves: stored as hashes, the bootstrap key of the embedded
//! database, and the command line that creates, lists and revokes them.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::helpers::{eventually, fresh_database, Backend, TestApp};
use crate::server_process::ServerProcess;

async fn keys_are_stored_as_hashes_never_as_keys(app: TestApp) {
    let keys = app.store.list_api_keys().await.unwrap();
    let secret = &app.key[app.key.len() - 64..];
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0].secret_hash, secret);
    assert!(!keys[0].secret_hash.contains(secret) && !keys[0].name.contains(secret));
    assert_eq!(keys[0].secret_hash.len(), 64, "hex SHA-256");
    app.list("").await.expect(StatusCode::OK);
    // Recorded in the background: the request does not wait for that write.
    eventually(Duration::from_secs(5), "the key's last use", || async {
        app.store.list_api_keys().await.unwrap()[0].last_used_at
    })
    .await;
}

crate::on_both_backends!(keys_are_stored_as_hashes_never_as_keys);

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
    let response = crate::helpers::http_client()
        .build()
        .unwrap()
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
    config.webhook_secrets_key = Some(crate::helpers::WEBHOOK_SECRETS_KEY.to_owned());
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

crate::for_each_backend!(keys_are_created_listed_and_revoked_from_the_command_line);
