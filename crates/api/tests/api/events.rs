//! Contract section 7, the event log and its feed: one event per change, written with it, in an
//! order a reader can resume without skipping an event, even one that commits late.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{eventually, id_of, person, Backend, Sql, TestApp};

async fn feed(app: &TestApp, query: &str) -> crate::helpers::Response {
    app.request(Method::GET, &format!("/api/v1/events{query}"), &[], None)
        .await
}

/// Every event a full read returns, following `Link` to the end.
async fn all_events(app: &TestApp) -> Vec<Value> {
    app.all_pages("/api/v1/events?limit=3").await.0
}

/// The full read once it holds `count` events. On PostgreSQL the feed waits for every writing
/// transaction of the cluster older than an event (those of other tests' databases too), so an
/// event may show a moment after its change answered.
async fn settled_events(app: &TestApp, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(30), "the feed to settle", || async {
        let events = all_events(app).await;
        (events.len() >= count).then_some(events)
    })
    .await
}

fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(id_of).collect()
}

async fn each_change_is_one_event_with_the_client_after_it(app: TestApp) {
    let registered = app.register(person()).await.expect(StatusCode::CREATED);
    let client = registered.body.clone();
    let id = id_of(&client);
    let updated = app
        .update_with(&id, &[("x-request-id", "ev-city")], json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK)
        .body;
    // A no-op and a refused update announce nothing.
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    app.update(&id, json!({"email": "nope"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    let events = settled_events(&app, 2).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let history = app.history(&id, "").await.expect(StatusCode::OK).body;
    let history = history.as_array().unwrap();
    for (event, (kind, after)) in events
        .iter()
        .zip([("client.registered", &client), ("client.updated", &updated)])
    {
        assert_eq!(event["type"], kind);
        assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
        assert_eq!(event["organization_id"], 1);
        assert_eq!(event["created_at"], after["updated_at"]);
        let data = &event["data"];
        assert_eq!(data["client_id"], id.as_str());
        assert_eq!(&data["client"], after, "the client after the change");
        assert_eq!(data["actor"]["name"], "test");
        let entry = history
            .iter()
            .find(|h| h["version"] == data["version"])
            .expect("the history entry of this version");
        assert_eq!(
            data["changes"], entry["changes"],
            "the changes of its history entry"
        );
        assert_eq!(data["request_id"], entry["request_id"]);
    }
    assert_eq!(events[0]["data"]["version"], 1);
    assert_eq!(events[1]["data"]["version"], 2);
    assert_eq!(events[1]["data"]["request_id"], "ev-city");
    assert_eq!(
        events[1]["data"]["changes"],
        json!([{"field": "city", "old": "Paris", "new": "Lyon"}])
    );
}

async fn the_feed_pages_with_after_and_refuses_what_it_cannot_resume_from(app: TestApp) {
    for _ in 0..5 {
        app.registered().await;
    }
    settled_events(&app, 5).await;
    let all = feed(&app, "").await.expect(StatusCode::OK);
    assert!(all.header("link").is_none(), "one page holds five");
    let all = all.body.as_array().unwrap().clone();
    assert_eq!(all.len(), 5);

    let first = feed(&app, "?limit=2").await.expect(StatusCode::OK);
    assert_eq!(ids(first.body.as_array().unwrap()), ids(&all[..2]));
    let link = first.header("link").expect("a next page").to_owned();
    assert_eq!(
        link,
        format!(
            "</api/v1/events?after={}&limit=2>; rel=\"next\"",
            ids(&all)[1]
        )
    );
    assert_eq!(
        ids(&all_events(&app).await),
        ids(&all),
        "pages = one full read"
    );
    let rest = feed(&app, &format!("?after={}", ids(&all)[4]))
        .await
        .expect(StatusCode::OK);
    assert_eq!(rest.body, json!([]));

    for query in [
        format!("?after={}", uuid::Uuid::now_v7()),
        "?after=not-an-id".to_owned(),
        "?limit=0".to_owned(),
        "?limit=1001".to_owned(),
        "?since=1".to_owned(),
    ] {
        let problem = feed(&app, &query)
            .await
            .problem(StatusCode::BAD_REQUEST, "invalid_parameter");
        assert!(
            problem["errors"][0]["parameter"].is_string(),
            "{query}: {problem}"
        );
    }

    // Another organization sees none of these, and cannot resume from them.
    let (_, other) = app.new_key(Some(2), "org 2").await;
    let theirs = app
        .request_as(&other, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(theirs.expect(StatusCode::OK).body, json!([]));
    let path = format!("/api/v1/events?after={}", ids(&all)[0]);
    app.request_as(&other, Method::GET, &path, None)
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_parameter");
    // An admin key reads every organization's.
    let (_, admin) = app.new_key(None, "admin").await;
    let every = app
        .request_as(&admin, Method::GET, "/api/v1/events", None)
        .await;
    assert_eq!(
        ids(every.expect(StatusCode::OK).body.as_array().unwrap()),
        ids(&all)
    );
}

crate::on_both_backends!(
    each_change_is_one_event_with_the_client_after_it,
    the_feed_pages_with_after_and_refuses_what_it_cannot_resume_from,
);

/// Writers and a reader at once: the reader, resuming with `after` after every page, ends with
/// exactly the events one full read returns, each client's in version order.
async fn a_reader_racing_writers_misses_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(id_of(&app.registered().await));
    }
    let writers = clients.iter().map(|id| {
        let app = &app;
        async move {
            for n in 0..15 {
                app.update(id, json!({"kyc_note": format!("note {n}")}))
                    .await
                    .expect(StatusCode::OK);
            }
        }
    });
    let writing = futures::future::join_all(writers);
    let reading = async {
        let (mut seen, mut after) = (Vec::<Value>::new(), None::<String>);
        let started = std::time::Instant::now();
        loop {
            let query = after
                .as_ref()
                .map_or_else(|| "?limit=7".to_owned(), |a| format!("?limit=7&after={a}"));
            let page = feed(&app, &query).await.expect(StatusCode::OK).body;
            let page = page.as_array().unwrap().clone();
            if let Some(last) = page.last() {
                after = Some(id_of(last));
            }
            seen.extend(page);
            // 4 registrations + 60 updates.
            if seen.len() >= 64 || started.elapsed() > Duration::from_secs(60) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (_, seen) = tokio::join!(writing, reading);
    let full = settled_events(&app, 64).await;
    assert_eq!(full.len(), 64);
    assert_eq!(
        ids(&seen),
        ids(&full),
        "the racing reader saw exactly the full read"
    );
    for id in &clients {
        let versions: Vec<i64> = full
            .iter()
            .filter(|e| e["data"]["client_id"] == id.as_str())
            .map(|e| e["data"]["version"].as_i64().unwrap())
            .collect();
        assert_eq!(versions, (1..=16).collect::<Vec<_>>(), "{id}");
    }
}

crate::for_each_backend!(a_reader_racing_writers_misses_nothing);

/// PostgreSQL writers commit in another order than they took their sequence numbers. Here a
/// transaction writes an event and stays open while the API writes and commits two more: the
/// feed must not serve those two before the first is settled, or a reader resuming after them
/// would never see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_commits_after_later_ones_is_not_skipped() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let mut slow = Sql::connect(&app).await;
    let late = uuid::Uuid::now_v7();
    slow.execute(&format!(
        "BEGIN; INSERT INTO events (id, organization_id, client_id, version, type, created_at, body) \
         VALUES ('{late}', 1, '{late}', 1, 'client.registered', now(), '{{\"id\": \"{late}\"}}')"
    ))
    .await
    .unwrap();
    app.registered().await;
    app.registered().await;
    let early = feed(&app, "").await.expect(StatusCode::OK).body;
    assert_eq!(
        early,
        json!([]),
        "nothing after an open writer is served yet"
    );
    slow.execute("COMMIT").await.unwrap();
    let full = settled_events(&app, 3).await;
    assert_eq!(full.len(), 3);
    assert_eq!(
        id_of(&full[0]),
        late.to_string(),
        "the late commit sorts first"
    );
}
