//! Contract rule 7: without If-Match, concurrent updates of one client never lose each other's
//! changes, and each real change is one version.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{id_of, TestApp};

async fn fifty_concurrent_updates_all_survive_and_each_is_one_version(app: TestApp) {
    fifty_concurrent_updates_across(&[&app]).await;
}

/// Fifty concurrent updates of one client, spread over `instances` in turn (servers on one
/// database): every change survives, and each is one version, consecutive.
pub async fn fifty_concurrent_updates_across(instances: &[&TestApp]) {
    let app = instances[0];
    let client = app.registered().await;
    let id = id_of(&client);
    // Ten requests each own a field; forty more give kyc_note forty distinct values, so every
    // one of the fifty is a real change whatever order they run in.
    let owned = json!({
        "address": "2 Place Bellecour", "city": "Lyon", "postcode": "69002", "state_province": "ARA",
        "mobile_phone_number": "+33700000001", "second_mobile_phone_number": "+33700000002",
        "second_email": "second@example.com", "planned_income": "100k", "planned_expenditure": "40k",
        "risk_level": "High",
    });
    let mut bodies: Vec<Value> = owned
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| json!({ k: v }))
        .collect();
    let notes: Vec<String> = (0..40).map(|i| format!("note {i}")).collect();
    bodies.extend(notes.iter().map(|n| json!({"kyc_note": n})));
    assert_eq!(bodies.len(), 50);

    let responses = join_all(
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| instances[i % instances.len()].update(&id, body)),
    )
    .await;
    let mut etags: Vec<i64> = responses
        .into_iter()
        .map(|r| {
            r.expect(StatusCode::OK)
                .header("etag")
                .unwrap()
                .trim_matches('"')
                .parse()
                .unwrap()
        })
        .collect();
    etags.sort_unstable();
    assert_eq!(
        etags,
        (2..=51).collect::<Vec<i64>>(),
        "each update produced its own version"
    );

    let stored = app.get(&id).await.expect(StatusCode::OK);
    assert_eq!(stored.header("etag"), Some("\"51\""));
    for other in &instances[1..] {
        assert_eq!(
            other.get(&id).await.expect(StatusCode::OK).body,
            stored.body
        );
    }
    for (field, value) in owned.as_object().unwrap() {
        assert_eq!(&stored.body[field], value, "{field} was lost");
    }
    assert!(notes.iter().any(|n| stored.body["kyc_note"] == *n.as_str()));
    assert_eq!(stored.body["email"], client["email"]);

    let history = app
        .history(&id, "?limit=200")
        .await
        .expect(StatusCode::OK)
        .body;
    let entries = history.as_array().unwrap();
    let versions: Vec<i64> = entries
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=51).rev().collect::<Vec<i64>>(),
        "one entry per real change, consecutive"
    );
    assert!(entries[..50]
        .iter()
        .all(|e| e["changes"].as_array().unwrap().len() == 1));
}

crate::on_both_backends!(fifty_concurrent_updates_all_survive_and_each_is_one_version);
