//! Contract section 9, tamper evidence: every history entry's `hash` chains to the previous one
//! over the canonical encoding, events carry it, and `GET …/history/verify` finds a row
//! changed, removed or added directly in the database.

use domain::chain::{EntryChange, EntryContent, GENESIS};
use domain::FieldValue;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{id_of, Backend, Sql, TestApp};

async fn verify(app: &TestApp, id: &str) -> Value {
    app.request(
        Method::GET,
        &format!("/api/v1/clients/{id}/history/verify"),
        &[],
        None,
    )
    .await
    .expect(StatusCode::OK)
    .body
}

/// The history, oldest first.
async fn entries(app: &TestApp, id: &str) -> Vec<Value> {
    let mut history = app
        .history(id, "?limit=200")
        .await
        .expect(StatusCode::OK)
        .body
        .as_array()
        .unwrap()
        .clone();
    history.reverse();
    history
}

fn field_value(value: &Value) -> FieldValue {
    match value {
        Value::Null => FieldValue::Null,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => FieldValue::Integer(n.as_i64().unwrap()),
        Value::String(s) => FieldValue::Text(s.clone()),
        other => panic!("unexpected value {other}"),
    }
}

/// The hash of `entry` (as the API shows it) after `previous`, recomputed as a partner would,
/// from the documented encoding.
fn recompute(client: &Value, entry: &Value, previous: &str) -> String {
    let changes: Vec<(String, FieldValue, FieldValue)> = entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap().to_owned(),
                field_value(&c["old"]),
                field_value(&c["new"]),
            )
        })
        .collect();
    EntryContent {
        client_id: id_of(client).parse().unwrap(),
        organization_id: client["organization_id"].as_i64().unwrap() as i32,
        version: entry["version"].as_i64().unwrap(),
        recorded_at: entry["recorded_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        actor_key_id: entry["actor"]["key_id"].as_str(),
        actor_name: entry["actor"]["name"].as_str().unwrap(),
        request_id: entry["request_id"].as_str(),
        changes: changes
            .iter()
            .map(|(field, old, new)| EntryChange { field, old, new })
            .collect(),
        reason: entry["reason"].as_str(),
    }
    .hash(previous)
}

/// A client with three entries: its registration and two updates.
async fn client_with_three_entries(app: &TestApp) -> (Value, String) {
    let client = app.registered().await;
    let id = id_of(&client);
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    app.update(&id, json!({"blocked": true, "kyc_note": "checked"}))
        .await
        .expect(StatusCode::OK);
    (client, id)
}

async fn each_entry_chains_to_the_one_before_and_a_clean_history_verifies(app: TestApp) {
    let (client, id) = client_with_three_entries(&app).await;
    let history = entries(&app, &id).await;
    let mut previous = GENESIS.to_owned();
    for entry in &history {
        let hash = entry["hash"].as_str().unwrap();
        assert_eq!(hash.len(), 64);
        assert_eq!(
            hash,
            recompute(&client, entry, &previous),
            "version {} recomputed from what the API shows",
            entry["version"]
        );
        previous = hash.to_owned();
    }
    assert_eq!(
        verify(&app, &id).await,
        json!({"valid": true, "entries": 3})
    );

    // Each event carries its entry's hash: the anchors partners keep.
    let anchors: Vec<(i64, String)> = app
        .events_of(&id, history.len())
        .await
        .iter()
        .map(|e| {
            (
                e["data"]["version"].as_i64().unwrap(),
                e["data"]["history_hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let hashes: Vec<(i64, String)> = history
        .iter()
        .map(|e| {
            (
                e["version"].as_i64().unwrap(),
                e["hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(anchors, hashes);
}

const SQLITE_NO_UPDATE_TRIGGER: &str =
    include_str!("../../../../migrations/sqlite/2026-12-01-000009_history_hash_chain/up.sql");

/// Lets the test change `client_history` as someone with the database's keys could.
async fn behind_the_apis_back(app: &TestApp, sql: &mut Sql, statement: &str) {
    let statement = match app.backend {
        Backend::Postgres => format!(
            "ALTER TABLE client_history DISABLE TRIGGER client_history_append_only; {statement}; \
             ALTER TABLE client_history ENABLE TRIGGER client_history_append_only"
        ),
        // SQLite cannot disable a trigger: drop both, put them back as the migrations made them.
        Backend::Sqlite => format!(
            "DROP TRIGGER client_history_no_update; DROP TRIGGER client_history_no_delete; \
             {statement}; {}; \
             CREATE TRIGGER client_history_no_delete BEFORE DELETE ON client_history \
             BEGIN SELECT RAISE(ABORT, 'client_history is append-only'); END",
            SQLITE_NO_UPDATE_TRIGGER
                .split_once("DROP TRIGGER client_history_no_update;")
                .unwrap()
                .1
        ),
    };
    sql.execute(&statement).await.unwrap();
}

fn invalid_at(version: i64) -> Value {
    json!({"valid": false, "first_invalid_version": version})
}

async fn rows_changed_removed_or_added_in_the_database_are_reported(app: TestApp) {
    let mut sql = Sql::connect(&app).await;
    let entry = |id: &str, version: i64| {
        let id = match app.backend {
            // SQLite keeps ids as text.
            Backend::Sqlite => format!("'{id}'"),
            Backend::Postgres => format!("'{id}'::uuid"),
        };
        format!("client_id = {id} AND version = {version}")
    };

    // A value changed in the middle.
    let (_, id) = client_with_three_entries(&app).await;
    behind_the_apis_back(
        &app,
        &mut sql,
        &format!(
            "UPDATE client_history SET changes = replace(changes, 'Lyon', 'Nice') WHERE {}",
            entry(&id, 2)
        ),
    )
    .await;
    assert_eq!(verify(&app, &id).await, invalid_at(2), "altered content");

    // Another actor written into the first entry.
    let (_, id) = client_with_three_entries(&app).await;
    behind_the_apis_back(
        &app,
        &mut sql,
        &format!(
            "UPDATE client_history SET actor_name = 'someone else' WHERE {}",
            entry(&id, 1)
        ),
    )
    .await;
    assert_eq!(verify(&app, &id).await, invalid_at(1), "altered actor");

    // The last entry removed.
    let (_, id) = client_with_three_entries(&app).await;
    behind_the_apis_back(
        &app,
        &mut sql,
        &format!("DELETE FROM client_history WHERE {}", entry(&id, 3)),
    )
    .await;
    assert_eq!(verify(&app, &id).await, invalid_at(3), "last entry removed");

    // An entry in the middle removed.
    let (_, id) = client_with_three_entries(&app).await;
    behind_the_apis_back(
        &app,
        &mut sql,
        &format!("DELETE FROM client_history WHERE {}", entry(&id, 2)),
    )
    .await;
    assert_eq!(verify(&app, &id).await, invalid_at(2), "a gap");

    // An entry added after the last one, its hash copied from a real one.
    let (_, id) = client_with_three_entries(&app).await;
    sql.execute(&format!(
        "INSERT INTO client_history (client_id, version, organization_id, recorded_at, \
         actor_key_id, actor_name, request_id, changes, reason, hash) \
         SELECT client_id, 4, organization_id, recorded_at, actor_key_id, actor_name, \
         request_id, changes, reason, hash FROM client_history WHERE {}",
        entry(&id, 3)
    ))
    .await
    .unwrap();
    assert_eq!(verify(&app, &id).await, invalid_at(4), "an entry added");

    // A hash rewritten to hide a change (the entry's own content untouched).
    let (_, id) = client_with_three_entries(&app).await;
    behind_the_apis_back(
        &app,
        &mut sql,
        &format!(
            "UPDATE client_history SET hash = '{}' WHERE {}",
            "0".repeat(64),
            entry(&id, 3)
        ),
    )
    .await;
    assert_eq!(verify(&app, &id).await, invalid_at(3), "hash rewritten");
}

/// Entries written before the chain (no hash) get theirs when the server starts: the same
/// hashes the API would have written.
async fn entries_written_before_the_chain_are_hashed_at_start(app: TestApp) {
    let (_, id) = client_with_three_entries(&app).await;
    let written: Vec<Value> = entries(&app, &id)
        .await
        .iter()
        .map(|e| e["hash"].clone())
        .collect();
    let mut sql = Sql::connect(&app).await;
    behind_the_apis_back(&app, &mut sql, "UPDATE client_history SET hash = NULL").await;
    assert_eq!(verify(&app, &id).await, invalid_at(1), "unhashed");

    // Only the hash may be given, and only once: the database still refuses any other change.
    let refused = sql
        .execute("UPDATE client_history SET actor_name = 'x', hash = 'y'")
        .await;
    assert!(refused.is_err(), "{refused:?}");

    store::Store::open(&store::StoreConfig::new(app.database_url.clone()))
        .await
        .unwrap();
    let chained: Vec<Value> = entries(&app, &id)
        .await
        .iter()
        .map(|e| e["hash"].clone())
        .collect();
    assert_eq!(chained, written);
    assert_eq!(
        verify(&app, &id).await,
        json!({"valid": true, "entries": 3})
    );
    let again = sql
        .execute(&format!(
            "UPDATE client_history SET hash = '{}'",
            "1".repeat(64)
        ))
        .await;
    assert!(again.is_err(), "a hash, once given, is final: {again:?}");
}

async fn verifying_an_unknown_client_is_404(app: TestApp) {
    app.request(
        Method::GET,
        &format!("/api/v1/clients/{}/history/verify", uuid::Uuid::now_v7()),
        &[],
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
}

crate::on_both_backends!(
    each_entry_chains_to_the_one_before_and_a_clean_history_verifies,
    rows_changed_removed_or_added_in_the_database_are_reported,
    entries_written_before_the_chain_are_hashed_at_start,
    verifying_an_unknown_client_is_404,
);
