//! Contract section 7, webhooks: endpoints, URL safety, and deliveries to a real receiver, signed
//! (checked with the Standard Webhooks library), retried, in order per client, never twice at
//! once, surviving a SIGKILL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    eventually, id_of, metric, person, Backend, Received, Receiver, Response, TestApp,
};
use crate::server_process::ServerProcess;

/// Servers that may deliver to the receiver on 127.0.0.1, and retry quickly.
fn for_tests(config: &mut api::Config) {
    config.webhook_allow_private_urls = true;
    config.webhook_retry_first_ms = 200;
    config.webhook_retry_max_ms = 400;
    config.webhook_poll_ms = 100;
}

async fn spawn(backend: Backend, configure: impl FnOnce(&mut api::Config)) -> Option<TestApp> {
    TestApp::spawn_with(backend, |config| {
        for_tests(config);
        configure(config);
    })
    .await
}

async fn create_endpoint(app: &TestApp, body: Value) -> Response {
    app.request(
        Method::POST,
        "/api/v1/webhook-endpoints",
        &[],
        Some(crate::helpers::Body::Json(body)),
    )
    .await
}

/// Creates an endpoint for `url` and returns (id, secret).
async fn endpoint(app: &TestApp, url: &str, event_types: Value) -> (String, String) {
    let created = create_endpoint(app, json!({"url": url, "event_types": event_types}))
        .await
        .expect(StatusCode::CREATED)
        .body;
    (
        id_of(&created),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    app.request(
        Method::GET,
        &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
        &[],
        None,
    )
    .await
    .expect(StatusCode::OK)
    .body
    .as_array()
    .unwrap()
    .clone()
}

/// Each client's versions in the order the receiver got them delivered.
fn versions_by_client(delivered: &[Received]) -> HashMap<String, Vec<i64>> {
    let mut by_client: HashMap<String, Vec<i64>> = HashMap::new();
    for r in delivered {
        by_client
            .entry(r.client_id())
            .or_default()
            .push(r.version());
    }
    by_client
}

async fn endpoints_are_created_shown_once_listed_and_deleted(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let created = create_endpoint(
        &app,
        json!({"url": "https://hooks.example.com/in", "description": "CRM sync",
               "event_types": ["client.updated", "client.updated"]}),
    )
    .await
    .expect(StatusCode::CREATED);
    let body = &created.body;
    let id = id_of(body);
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/webhook-endpoints/{id}").as_str())
    );
    let secret = body["secret"].as_str().unwrap();
    let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    assert!(bytes.len() >= 24, "{} random bytes", bytes.len());
    assert_eq!(body["event_types"], json!(["client.updated"]));
    assert_eq!(body["description"], "CRM sync");
    assert_eq!(body["organization_id"], 1);

    let shown = app
        .request(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            &[],
            None,
        )
        .await
        .expect(StatusCode::OK)
        .body;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["url"], "https://hooks.example.com/in");
    let every = create_endpoint(&app, json!({"url": "https://hooks.example.com/all"}))
        .await
        .expect(StatusCode::CREATED)
        .body;
    assert_eq!(every["event_types"], Value::Null);
    assert_eq!(every["description"], Value::Null);
    let listed = app
        .request(Method::GET, "/api/v1/webhook-endpoints", &[], None)
        .await
        .expect(StatusCode::OK)
        .body;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed.iter().all(|e| e.get("secret").is_none()));

    // Another organization sees none of them.
    let (_, other) = app.new_key(Some(2), "other").await;
    let theirs = app
        .request_as(&other, Method::GET, "/api/v1/webhook-endpoints", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(theirs.body, json!([]));
    app.request_as(
        &other,
        Method::GET,
        &format!("/api/v1/webhook-endpoints/{id}"),
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.request_as(
        &other,
        Method::DELETE,
        &format!("/api/v1/webhook-endpoints/{id}"),
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);

    let path = format!("/api/v1/webhook-endpoints/{id}");
    let deleted = app.request(Method::DELETE, &path, &[], None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.request(Method::GET, &path, &[], None)
        .await
        .expect(StatusCode::NOT_FOUND);
    app.request(Method::DELETE, &path, &[], None)
        .await
        .expect(StatusCode::NOT_FOUND);

    // An admin names the organization.
    let (_, admin) = app.new_key(None, "admin").await;
    let refused = app
        .request_as(
            &admin,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "https://hooks.example.com/x"})),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.field_errors(),
        vec![("/organization_id".to_owned(), "required".to_owned())]
    );
    let made = app
        .request_as(
            &admin,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "https://hooks.example.com/x", "organization_id": 2})),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(made.body["organization_id"], 2);
}

async fn unsafe_urls_and_bad_members_are_refused_and_nothing_is_created(backend: Backend) {
    // The production rules: no WEBHOOK_ALLOW_PRIVATE_URLS.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for url in [
        "http://hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://2130706433/in",
        "https://0x7f.0.0.1/in",
        "https://[::ffff:127.0.0.1]/in",
        "https://[::1]/in",
        "https://localhost/in",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/in",
        "https://100.64.0.1/in",
        "https://[fd00:ec2::254]/in",
        "https://user:pw@hooks.example.com/in",
        "hooks.example.com/in",
    ] {
        let refused = create_endpoint(&app, json!({"url": url}))
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refused.field_errors(),
            vec![("/url".to_owned(), "invalid_url".to_owned())],
            "{url}"
        );
    }
    let refused = create_endpoint(
        &app,
        json!({"url": "https://hooks.example.com/in",
               "event_types": ["client.updated", "client.deleted", 7],
               "description": 12, "secret": "whsec_mine", "colour": "red"}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let mut errors = refused.field_errors();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            ("/colour".to_owned(), "unknown_field".to_owned()),
            ("/description".to_owned(), "invalid_type".to_owned()),
            ("/event_types/1".to_owned(), "invalid_enum".to_owned()),
            ("/event_types/2".to_owned(), "invalid_type".to_owned()),
            ("/secret".to_owned(), "read_only_field".to_owned()),
        ]
    );
    create_endpoint(
        &app,
        json!({"url": "https://hooks.example.com/in", "event_types": []}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    create_endpoint(&app, json!({}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    // The limit applies to the text as sent, blank or not, as the spec's maxLength does.
    let long_blank = create_endpoint(
        &app,
        json!({"url": "https://hooks.example.com/in", "description": "\u{85}".repeat(501)}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        long_blank.field_errors(),
        vec![("/description".to_owned(), "too_long".to_owned())]
    );
    let none = app
        .request(Method::GET, "/api/v1/webhook-endpoints", &[], None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(none.body, json!([]));
    // A public address is accepted (an address: the test machine may have no DNS).
    let public = create_endpoint(&app, json!({"url": "https://93.184.215.14/hooks"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(public.body["url"], "https://93.184.215.14/hooks");
}

async fn changes_arrive_signed_in_order_and_as_the_feed_shows_them(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&app, &receiver.url("/hooks"), Value::Null).await;
    let only_updates = Receiver::start().await;
    let (_, updates_secret) =
        endpoint(&app, &only_updates.url("/u"), json!(["client.updated"])).await;
    let client = app.registered().await;
    let id = id_of(&client);
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    // A no-op announces nothing.
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    app.update(&id, json!({"city": "Nice"}))
        .await
        .expect(StatusCode::OK);

    let delivered = receiver.until_delivered(3, Duration::from_secs(20)).await;
    let feed = eventually(Duration::from_secs(30), "the feed", || async {
        let events = app.all_pages("/api/v1/events").await.0;
        (events.len() >= 3).then_some(events)
    })
    .await;
    assert_eq!(delivered.len(), 3);
    for (received, event) in delivered.iter().zip(&feed) {
        received
            .verify(&secret)
            .expect("the signature verifies with the Standard Webhooks library");
        assert!(
            received.verify(&updates_secret).is_err(),
            "another endpoint's secret must not verify"
        );
        assert_eq!(received.event, *event, "the body is the feed's event");
        assert_eq!(received.event_id(), event["id"].as_str().unwrap());
        assert_eq!(received.header("content-type"), "application/json");
        let timestamp: i64 = received.header("webhook-timestamp").parse().unwrap();
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        assert!(received.header("webhook-signature").starts_with("v1,"));
        assert_eq!(received.path, "/hooks");
    }
    let kinds: Vec<&str> = delivered
        .iter()
        .map(|r| r.event["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["client.registered", "client.updated", "client.updated"]
    );
    assert_eq!(versions_by_client(&delivered)[&id], [1, 2, 3]);

    let updates = only_updates
        .until_delivered(2, Duration::from_secs(20))
        .await;
    assert!(updates.iter().all(|r| r.event["type"] == "client.updated"));
    for r in &updates {
        r.verify(&updates_secret).unwrap();
    }
    // A tampered body does not verify.
    let mut tampered = delivered[0].clone();
    tampered.body = tampered
        .body
        .iter()
        .map(|b| if *b == b'1' { b'2' } else { *b })
        .collect();
    assert!(tampered.verify(&secret).is_err());

    // An endpoint receives only what happens after it was created.
    let late = Receiver::start().await;
    endpoint(&app, &late.url("/late"), Value::Null).await;
    app.update(&id, json!({"city": "Metz"}))
        .await
        .expect(StatusCode::OK);
    let got = late.until_delivered(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].version(), 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(late.received().len(), 1);
}

async fn a_failing_client_waits_its_turn_while_others_flow(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    // The first event of the client named "Stuck" fails twice; everything else is delivered.
    let receiver = Receiver::answering(|r, earlier| {
        let stuck = r.event["data"]["client"]["first_name"] == "Stuck";
        if stuck && r.version() == 1 && earlier < 2 {
            (500, Duration::ZERO)
        } else {
            (200, Duration::ZERO)
        }
    })
    .await;
    let (endpoint_id, _) = endpoint(&app, &receiver.url("/"), Value::Null).await;
    let mut stuck = person();
    stuck["first_name"] = json!("Stuck");
    let a = app.register(stuck).await.expect(StatusCode::CREATED).body;
    let a_id = id_of(&a);
    app.update(&a_id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    let b = app
        .register(person())
        .await
        .expect(StatusCode::CREATED)
        .body;
    let b_id = id_of(&b);
    app.update(&b_id, json!({"city": "Lille"}))
        .await
        .expect(StatusCode::OK);

    let delivered = receiver.until_delivered(4, Duration::from_secs(30)).await;
    let by_client = versions_by_client(&delivered);
    assert_eq!(by_client[&a_id], [1, 2], "A's events in version order");
    assert_eq!(by_client[&b_id], [1, 2]);
    // A's second event was not sent before its first was delivered.
    let received = receiver.received();
    let a_v2 = received
        .iter()
        .position(|r| r.client_id() == a_id && r.version() == 2)
        .unwrap();
    let a_v1_ok = received
        .iter()
        .position(|r| r.client_id() == a_id && r.version() == 1 && r.status == 200)
        .unwrap();
    assert!(a_v1_ok < a_v2, "{received:#?}");
    assert_eq!(
        received
            .iter()
            .filter(|r| r.client_id() == a_id && r.version() == 1)
            .count(),
        3,
        "two failures, then the delivery"
    );
    // B did not wait for A's retries.
    let b_last = received
        .iter()
        .position(|r| r.client_id() == b_id && r.version() == 2)
        .unwrap();
    assert!(
        b_last < a_v1_ok,
        "B's events flowed while A's were retried: {received:#?}"
    );

    let attempts = eventually(Duration::from_secs(10), "the recorded attempts", || async {
        let attempts = deliveries(&app, &endpoint_id).await;
        (attempts.len() >= 5).then_some(attempts)
    })
    .await;
    let a_first = delivered
        .iter()
        .find(|r| r.client_id() == a_id && r.version() == 1)
        .unwrap()
        .event_id();
    let mut of_a_first: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["event_id"] == a_first.as_str())
        .collect();
    of_a_first.reverse();
    let summary: Vec<(i64, Value, &str)> = of_a_first
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["status_code"].clone(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, json!(500), "retrying"),
            (2, json!(500), "retrying"),
            (3, json!(200), "delivered")
        ]
    );
    assert!(of_a_first[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 500"));
    assert_eq!(of_a_first[2]["error"], Value::Null);
    let page = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&page, r#"webhook_deliveries_total{outcome="retrying"}"#),
        Some(2.0)
    );
    assert_eq!(
        metric(&page, r#"webhook_deliveries_total{outcome="delivered"}"#),
        Some(4.0)
    );
}

async fn a_delivery_given_up_is_failed_and_the_next_event_follows(backend: Backend) {
    let Some(app) = spawn(backend, |config| config.webhook_give_up_after_ms = 800).await else {
        return;
    };
    // Version 1 is never accepted; redirects are answered to one client's events.
    let receiver = Receiver::answering(|r, _| match (r.version(), r.path.as_str()) {
        (1, "/moved") => (302, Duration::ZERO),
        (1, _) => (503, Duration::ZERO),
        _ => (200, Duration::ZERO),
    })
    .await;
    let (endpoint_id, _) = endpoint(&app, &receiver.url("/"), Value::Null).await;
    let id = id_of(&app.registered().await);
    app.update(&id, json!({"city": "Lyon"}))
        .await
        .expect(StatusCode::OK);
    let delivered = receiver.until_delivered(1, Duration::from_secs(20)).await;
    assert_eq!(delivered[0].version(), 2);
    // The attempt is recorded once the receiver's answer is back: a moment after it was sent.
    let attempts = eventually(
        Duration::from_secs(10),
        "the delivery's attempt",
        || async {
            let attempts = deliveries(&app, &endpoint_id).await;
            (attempts
                .first()
                .is_some_and(|a| a["outcome"] == "delivered"))
            .then_some(attempts)
        },
    )
    .await;
    let first = attempts
        .iter()
        .find(|a| a["outcome"] == "failed")
        .expect("a failed attempt");
    assert_eq!(first["status_code"], 503);
    let failed_at = attempts
        .iter()
        .position(|a| a["outcome"] == "failed")
        .unwrap();
    assert!(
        attempts[failed_at + 1..]
            .iter()
            .all(|a| a["outcome"] == "retrying"),
        "newest first: the retries came before the give-up: {attempts:#?}"
    );
    assert_eq!(attempts[0]["outcome"], "delivered");

    // A redirect is a failed attempt, not followed.
    let (moved, _) = endpoint(&app, &receiver.url("/moved"), Value::Null).await;
    let other = id_of(&app.registered().await);
    let attempts = eventually(Duration::from_secs(20), "a given-up redirect", || async {
        let attempts = deliveries(&app, &moved).await;
        attempts
            .iter()
            .any(|a| a["outcome"] == "failed")
            .then_some(attempts)
    })
    .await;
    assert!(
        attempts.iter().all(|a| a["status_code"] == 302),
        "{attempts:#?}"
    );
    assert!(attempts[0]["error"]
        .as_str()
        .unwrap()
        .contains("redirects are not followed"));
    assert!(!receiver.received().iter().any(|r| r.path == "/redirected"));
    assert!(receiver.received().iter().any(|r| r.client_id() == other));
}

async fn a_slow_endpoint_slows_neither_requests_nor_other_endpoints(backend: Backend) {
    let Some(app) = spawn(backend, |config| {
        config.webhook_timeout_ms = 20_000;
        config.webhook_per_endpoint = 2;
    })
    .await
    else {
        return;
    };
    // Answers after 30 s: each of its attempts holds a slot for the whole timeout.
    let slow = Receiver::answering(|_, _| (200, Duration::from_secs(30))).await;
    let fast = Receiver::start().await;
    endpoint(&app, &slow.url("/slow"), Value::Null).await;
    endpoint(&app, &fast.url("/fast"), Value::Null).await;
    let started = Instant::now();
    for _ in 0..8 {
        app.registered().await;
    }
    let requests = started.elapsed();
    fast.until_delivered(8, Duration::from_secs(15)).await;
    let all_fast = started.elapsed();
    assert!(
        all_fast < Duration::from_secs(10),
        "the fast endpoint got its 8 events after {all_fast:?}, behind the slow one (20 s each)"
    );
    assert!(
        requests < Duration::from_secs(5),
        "8 registrations took {requests:?}"
    );
    // Meanwhile the slow endpoint held at most its 2 claims.
    assert_eq!(slow.peak_in_flight(), 2, "{:?}", slow.arrivals());
    assert_eq!(slow.arrivals().len(), 2);
}

async fn an_unreachable_endpoint_is_paused_and_holds_up_no_other(backend: Backend) {
    let Some(app) = spawn(backend, |config| {
        config.webhook_retry_first_ms = 1000;
        config.webhook_retry_max_ms = 1000;
        config.webhook_concurrency = 2;
    })
    .await
    else {
        return;
    };
    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://127.0.0.1:{}/", closed.local_addr().unwrap().port());
    drop(closed);
    let mut dead = Vec::new();
    for _ in 0..5 {
        dead.push(endpoint(&app, &dead_url, Value::Null).await.0);
    }
    let live = Receiver::start().await;
    endpoint(&app, &live.url("/live"), Value::Null).await;
    let started = Instant::now();
    for _ in 0..20 {
        app.registered().await;
    }
    live.until_delivered(20, Duration::from_secs(20)).await;
    let took = started.elapsed();
    // Without the pause, each dead endpoint would take an attempt per client (20 each) before
    // the live one's turn, two at a time.
    let attempts = deliveries(&app, &dead[0]).await;
    assert!(!attempts.is_empty());
    assert!(
        attempts.len() <= 2 + took.as_secs() as usize * 2,
        "{} attempts in {took:?} to an endpoint that refuses connections: {attempts:#?}",
        attempts.len()
    );
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect"),
        "{attempts:#?}"
    );
    assert_eq!(attempts[0]["status_code"], Value::Null);
    // Its backlog shows in the metrics; the live endpoint has none.
    let sample = format!(
        "webhook_oldest_undelivered_event_age_seconds{{endpoint_id=\"{}\"}}",
        dead[0]
    );
    let age = eventually(Duration::from_secs(10), "the backlog metric", || async {
        let page = app
            .http
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric(&page, &sample)
            .filter(|age| *age > 0.0)
            .map(|age| (age, page))
    })
    .await;
    assert_eq!(
        age.1
            .matches("webhook_oldest_undelivered_event_age_seconds{")
            .count(),
        5,
        "the five dead endpoints, not the live one"
    );
}

async fn a_url_refused_at_delivery_time_is_a_failed_attempt(backend: Backend) {
    // Production rules; the endpoint is stored as if its URL had been accepted before (a name
    // that resolved to a public address then, say), and now points to loopback.
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.webhook_retry_first_ms = 200;
        config.webhook_poll_ms = 100;
    })
    .await
    else {
        return;
    };
    let receiver = Receiver::start().await;
    let secrets =
        api::webhooks::SecretBox::from_base64(crate::helpers::WEBHOOK_SECRETS_KEY).unwrap();
    let id = uuid::Uuid::now_v7();
    app.store
        .create_webhook_endpoint(&store::WebhookEndpoint {
            id,
            organization_id: 1,
            url: receiver.url("/"),
            description: None,
            event_types: None,
            event_mask: None,
            secret: secrets.seal(id, &api::webhooks::secret::generate()),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    app.registered().await;
    let attempts = eventually(Duration::from_secs(10), "a refused attempt", || async {
        let attempts = deliveries(&app, &id.to_string()).await;
        (!attempts.is_empty()).then_some(attempts)
    })
    .await;
    assert_eq!(attempts[0]["status_code"], Value::Null);
    assert_eq!(attempts[0]["outcome"], "retrying");
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("must use https"),
        "{attempts:#?}"
    );
    assert!(receiver.arrivals().is_empty(), "nothing was sent");
}

async fn a_deleted_endpoint_receives_nothing_more(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let receiver = Receiver::answering(|_, _| (500, Duration::ZERO)).await;
    let (id, _) = endpoint(&app, &receiver.url("/"), Value::Null).await;
    app.registered().await;
    eventually(Duration::from_secs(10), "a first attempt", || async {
        (!receiver.arrivals().is_empty()).then_some(())
    })
    .await;
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/webhook-endpoints/{id}"),
            &[],
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = receiver.arrivals().len();
    app.registered().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.arrivals().len(),
        before,
        "retries and new events stopped"
    );
}

async fn two_instances_share_the_work_and_never_send_one_event_twice_at_once(backend: Backend) {
    let Some(first) = spawn(backend, |_| {}).await else {
        return;
    };
    let second = first.another_instance_with(for_tests).await;
    // Slow enough that both instances are busy at once; every event fails once.
    let receiver = Receiver::answering(|_, earlier| {
        (
            if earlier == 0 { 500 } else { 200 },
            Duration::from_millis(150),
        )
    })
    .await;
    endpoint(&first, &receiver.url("/"), Value::Null).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &first } else { &second };
        let id = id_of(&app.registered().await);
        app.update(&id, json!({"city": "Lyon"}))
            .await
            .expect(StatusCode::OK);
        ids.push(id);
    }
    let delivered = receiver.until_delivered(12, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.overlaps(), Vec::<String>::new());
    let by_client = versions_by_client(&delivered);
    for id in &ids {
        assert_eq!(by_client[id], [1, 2], "client {id}");
    }
    assert_eq!(receiver.delivered().len(), 12, "each event delivered once");
}

async fn a_delivery_cut_off_by_sigkill_is_made_after_the_restart(backend: Backend) {
    let Some((database, _guard)) = crate::helpers::fresh_database(backend).await else {
        return;
    };
    let store = store::Store::open(&store::StoreConfig::new(database.clone()))
        .await
        .unwrap();
    let key = api::auth::create_key(&store, Some(1), "test", chrono::Utc::now())
        .await
        .unwrap()
        .1;
    // The very first request hangs until its sender gives up or dies (and would not count as
    // delivered if that sender were still waiting for the answer).
    let first = std::sync::atomic::AtomicBool::new(true);
    let receiver = Receiver::answering(move |_, _| {
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            (500, Duration::from_secs(40))
        } else {
            (200, Duration::ZERO)
        }
    })
    .await;
    let env = [
        ("WEBHOOK_ALLOW_PRIVATE_URLS", "true"),
        ("WEBHOOK_TIMEOUT_MS", "20000"),
        ("WEBHOOK_POLL_MS", "100"),
    ];
    let mut server = ServerProcess::start(&database, &env);
    let http = crate::helpers::http_client().build().unwrap();
    let created: Value = http
        .post(server.url("/api/v1/webhook-endpoints"))
        .bearer_auth(&key)
        .json(&json!({"url": receiver.url("/")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let client: Value = http
        .post(server.url("/api/v1/clients/person"))
        .bearer_auth(&key)
        .json(&person())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = id_of(&client);
    let updated = http
        .put(server.url(&format!("/api/v1/clients/person/{id}")))
        .bearer_auth(&key)
        .json(&json!({"city": "Lyon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    eventually(
        Duration::from_secs(10),
        "the first attempt to arrive",
        || async { (!receiver.arrivals().is_empty()).then_some(()) },
    )
    .await;
    // Killed mid-attempt: nothing was recorded, the claim is held.
    server.kill();
    server.wait(Duration::from_secs(10));
    let restarted_at = Instant::now();
    let _restarted = ServerProcess::start(&database, &env);
    let delivered = receiver.until_delivered(2, Duration::from_secs(90)).await;
    let waited = restarted_at.elapsed();
    assert!(
        waited < Duration::from_secs(60),
        "the cut-off attempt was made again {waited:?} after the restart"
    );
    assert_eq!(versions_by_client(&delivered)[&id], [1, 2]);
    for r in &delivered {
        r.verify(&secret).unwrap();
    }
}

async fn an_instance_with_another_key_of_secrets_refuses_to_start(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let mut config = api::Config::with_database(app.database_url.clone());
    config.bind = "127.0.0.1:0".to_owned();
    config.webhook_secrets_key = Some("YW5vdGhlci1rZXktb2Ytd2ViaG9vay1zZWNyZXRzISE=".to_owned());
    let refused = api::Application::build(config).await;
    let error = format!("{:#}", refused.err().expect("the start is refused"));
    assert!(error.contains("WEBHOOK_SECRETS_KEY"), "{error}");
    // The same key starts.
    app.another_instance().await;
}

crate::for_each_backend!(
    an_instance_with_another_key_of_secrets_refuses_to_start,
    endpoints_are_created_shown_once_listed_and_deleted,
    unsafe_urls_and_bad_members_are_refused_and_nothing_is_created,
    changes_arrive_signed_in_order_and_as_the_feed_shows_them,
    a_failing_client_waits_its_turn_while_others_flow,
    a_delivery_given_up_is_failed_and_the_next_event_follows,
    a_slow_endpoint_slows_neither_requests_nor_other_endpoints,
    a_deleted_endpoint_receives_nothing_more,
    a_url_refused_at_delivery_time_is_a_failed_attempt,
    an_unreachable_endpoint_is_paused_and_holds_up_no_other,
    two_instances_share_the_work_and_never_send_one_event_twice_at_once,
    a_delivery_cut_off_by_sigkill_is_made_after_the_restart,
);
