//! A real server on a free port with a database of its own, and the requests tests send it.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::database::{fresh_database, TestDatabase};
use super::{eventually, person, Backend, Response};

/// The key of webhook secrets every test server uses (base64 of 32 bytes), so that no test
/// writes a key file.
pub const WEBHOOK_SECRETS_KEY: &str = "dGVzdHMtd2ViaG9vay1zZWNyZXRzLWtleS0zMi1ieXQ=";

pub struct TestApp {
    pub address: String,
    /// An organization 1 key, sent with every request unless the test sends its own
    /// `authorization` header (an empty value sends none).
    pub key: String,
    /// The server's database, for creating more keys.
    pub store: store::Store,
    pub backend: Backend,
    pub http: reqwest::Client,
    /// The database's URL (PostgreSQL) or file path (SQLite).
    pub database_url: String,
    /// `None` for a second instance on another's database.
    _database: Option<TestDatabase>,
}

impl TestApp {
    /// A server with default settings, or `None` when PostgreSQL is unreachable outside CI.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server whose configuration `configure` changes from the defaults.
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut api::Config),
    ) -> Option<TestApp> {
        let (database_url, database) = fresh_database(backend).await?;
        let store = store::Store::open(&store::StoreConfig::new(database_url.clone()))
            .await
            .expect("test database opens");
        let key = api::auth::create_key(&store, Some(1), "test", chrono::Utc::now())
            .await
            .unwrap()
            .1;
        Some(Self::serve(backend, database_url, store, key, Some(database), configure).await)
    }

    /// A second server instance on this one's database, as another replica behind a load
    /// balancer would be; the same key works on both.
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// Another instance with its configuration changed by `configure`.
    pub async fn another_instance_with(&self, configure: impl FnOnce(&mut api::Config)) -> TestApp {
        Self::serve(
            self.backend,
            self.database_url.clone(),
            self.store.clone(),
            self.key.clone(),
            None,
            configure,
        )
        .await
    }

    async fn serve(
        backend: Backend,
        database_url: String,
        store: store::Store,
        key: String,
        database: Option<TestDatabase>,
        configure: impl FnOnce(&mut api::Config),
    ) -> TestApp {
        let mut config = api::Config::with_database(database_url.clone());
        config.bind = "127.0.0.1:0".to_owned();
        config.workers = Some(2);
        config.webhook_secrets_key = Some(WEBHOOK_SECRETS_KEY.to_owned());
        configure(&mut config);
        let app = api::Application::build(config)
            .await
            .expect("server starts");
        assert_eq!(
            app.bootstrap_key(),
            None,
            "a database with a key is never bootstrapped"
        );
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run());
        let http = super::http_client()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            address,
            key,
            store,
            backend,
            http,
            database_url,
            _database: database,
        }
    }

    /// A new key; `None` for an admin key.
    pub async fn new_key(
        &self,
        organization_id: Option<i32>,
        name: &str,
    ) -> (store::ApiKey, String) {
        api::auth::create_key(&self.store, organization_id, name, chrono::Utc::now())
            .await
            .unwrap()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Body>,
    ) -> Response {
        let mut request = self.http.request(method, format!("{}{path}", self.address));
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            request = request.bearer_auth(&self.key);
        }
        for (name, value) in headers.iter().filter(|(_, value)| !value.is_empty()) {
            request = request.header(*name, *value);
        }
        request = match body {
            Some(Body::Json(value)) => request.json(&value),
            Some(Body::Raw {
                content_type,
                bytes,
            }) => request.header(CONTENT_TYPE, content_type).body(bytes),
            None => request,
        };
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Response {
            status,
            headers,
            body,
        }
    }

    /// How many clients the test's key sees (up to 200).
    pub async fn client_count(&self) -> usize {
        self.list("?limit=200")
            .await
            .expect(StatusCode::OK)
            .body
            .as_array()
            .expect("a JSON array")
            .len()
    }

    /// A request with another key (`""` sends none).
    pub async fn request_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let authorization = if key.is_empty() {
            String::new()
        } else {
            format!("Bearer {key}")
        };
        self.request(
            method,
            path,
            &[("authorization", &authorization)],
            body.map(Body::Json),
        )
        .await
    }

    pub async fn register(&self, body: Value) -> Response {
        self.request(
            Method::POST,
            "/api/v1/clients/person",
            &[],
            Some(Body::Json(body)),
        )
        .await
    }

    /// Registers a valid person, distinct from any other this test registers, and returns it.
    pub async fn registered(&self) -> Value {
        self.register(person())
            .await
            .expect(StatusCode::CREATED)
            .body
    }

    pub async fn get(&self, id: &str) -> Response {
        self.request(Method::GET, &format!("/api/v1/clients/{id}"), &[], None)
            .await
    }

    pub async fn update(&self, id: &str, body: Value) -> Response {
        self.update_with(id, &[], body).await
    }

    pub async fn update_with(&self, id: &str, headers: &[(&str, &str)], body: Value) -> Response {
        self.request(
            Method::PUT,
            &format!("/api/v1/clients/person/{id}"),
            headers,
            Some(Body::Json(body)),
        )
        .await
    }
}

impl TestApp {
    /// Polls `/health/ready` until it answers 200; fails the test after `limit`. For a server
    /// that must recover by itself, with no restart, once its database is back.
    pub async fn until_ready(&self, limit: Duration) {
        eventually(limit, "readiness after the outage", || async {
            let ready = self.request(Method::GET, "/health/ready", &[], None).await;
            (ready.status == StatusCode::OK).then_some(())
        })
        .await;
    }

    pub async fn history(&self, id: &str, query: &str) -> Response {
        self.request(
            Method::GET,
            &format!("/api/v1/clients/{id}/history{query}"),
            &[],
            None,
        )
        .await
    }

    pub async fn list(&self, query: &str) -> Response {
        self.request(Method::GET, &format!("/api/v1/clients{query}"), &[], None)
            .await
    }

    /// Follows `Link: <...>; rel="next"` from `first` to the end, collecting every item.
    /// The events of client `id` in the feed, once there are `count` of them: the feed serves
    /// an event only when every transaction that began before it has ended (a key's last use is
    /// recorded in the background, for one), so it may lag a write by milliseconds.
    pub async fn events_of(&self, id: &str, count: usize) -> Vec<Value> {
        super::eventually(Duration::from_secs(10), "the client's events", || async {
            let (events, _) = self.all_pages("/api/v1/events?limit=100").await;
            let mine: Vec<Value> = events
                .into_iter()
                .filter(|e| e["data"]["client_id"] == id)
                .collect();
            (mine.len() >= count).then_some(mine)
        })
        .await
    }

    pub async fn all_pages(&self, first: &str) -> (Vec<Value>, usize) {
        let (mut items, mut pages, mut next) = (Vec::new(), 0, Some(first.to_owned()));
        while let Some(path) = next.take() {
            let page = self
                .request(Method::GET, &path, &[], None)
                .await
                .expect(StatusCode::OK);
            pages += 1;
            next = page.header("link").map(|link| {
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                link.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned()
            });
            items.extend(page.body.as_array().expect("a JSON array").iter().cloned());
        }
        (items, pages)
    }
}

pub enum Body {
    Json(Value),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}
