//! The test harness: a real server on a free port with a database of its own, and a small HTTP
//! client that asserts statuses.

use std::future::Future;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(app: TestApp)` once on SQLite and once on PostgreSQL, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )+
        }
    };
}

/// Runs each listed `async fn name(backend: Backend)` once per backend, as `name::sqlite` and
/// `name::postgres`, for tests that set the server up themselves.
#[macro_export]
macro_rules! for_each_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            }
        )+
    };
}

/// The database a test owns; dropped with the test.
pub enum TestDatabase {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            // `drop` cannot await: the database is dropped from a thread and runtime of its own.
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(admin) = pg_connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = admin.batch_execute(&sql).await;
                    }
                });
            });
            let _ = dropped.join();
        }
    }
}

/// A plain PostgreSQL connection (no TLS), driven on the caller's runtime.
pub async fn pg_connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A connection to a test's database beside the server's, to look at or change what the API
/// does not let one touch.
pub enum Sql {
    Sqlite(diesel::SqliteConnection),
    Postgres(tokio_postgres::Client),
}

impl Sql {
    pub async fn connect(app: &TestApp) -> Self {
        match app.backend {
            Backend::Sqlite => {
                Sql::Sqlite(diesel::SqliteConnection::establish(&app.database_url).unwrap())
            }
            Backend::Postgres => Sql::Postgres(pg_connect(&app.database_url).await.unwrap()),
        }
    }

    /// Runs one or more statements; the database's error message if one fails.
    pub async fn execute(&mut self, sql: &str) -> Result<(), String> {
        match self {
            Sql::Sqlite(conn) => conn.batch_execute(sql).map_err(|e| e.to_string()),
            Sql::Postgres(client) => client.batch_execute(sql).await.map_err(|e| {
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |db| db.message().to_owned())
            }),
        }
    }
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` pointing at database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

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

/// A database of its own for one test: a SQLite file in a temporary directory, or a new
/// PostgreSQL database; `None` when PostgreSQL is unreachable outside CI.
pub async fn fresh_database(backend: Backend) -> Option<(String, TestDatabase)> {
    Some(match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("clients.db").to_string_lossy().into_owned();
            (path, TestDatabase::Sqlite { _dir: dir })
        }
        Backend::Postgres => {
            let admin_url = admin_url();
            let admin = match pg_connect(&admin_url).await {
                Ok(conn) => conn,
                Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
                    panic!(
                        "PostgreSQL is unreachable at TEST_DATABASE_URL ({error}); CI requires it"
                    )
                }
                Err(error) => {
                    eprintln!(
                        "\n!!!!!!!! SKIPPING a PostgreSQL test: PostgreSQL is unreachable ({error}). \
                         Set TEST_DATABASE_URL or start PostgreSQL; under CI=true this fails. !!!!!!!!\n"
                    );
                    return None;
                }
            };
            let name = format!("clients_test_{}", uuid::Uuid::now_v7().simple());
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            (
                with_database(&admin_url, &name),
                TestDatabase::Postgres { admin_url, name },
            )
        }
    })
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
        Self::serve(
            self.backend,
            self.database_url.clone(),
            self.store.clone(),
            self.key.clone(),
            None,
            |_| {},
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
        let http = reqwest::Client::builder()
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

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    /// Asserts the status (showing the body when it differs) and returns the response.
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {:#}",
            self.body
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem response with this status and code, and returns its body.
    #[track_caller]
    pub fn problem(self, status: StatusCode, code: &str) -> Value {
        let response = self.expect(status);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{:#}",
            response.body
        );
        let body = response.body;
        assert_eq!(body["code"], code, "{body:#}");
        assert_eq!(body["status"], status.as_u16(), "{body:#}");
        assert_eq!(body["type"], format!("/problems/{code}"));
        for member in ["title", "detail", "request_id"] {
            assert!(
                body[member].as_str().is_some_and(|s| !s.is_empty()),
                "problem without {member}: {body:#}"
            );
        }
        assert_eq!(
            response
                .headers
                .get("x-request-id")
                .unwrap()
                .to_str()
                .unwrap(),
            body["request_id"]
        );
        body
    }

    /// The `(pointer, code)` pairs of a validation problem.
    #[track_caller]
    pub fn field_errors(self) -> Vec<(String, String)> {
        let body = self.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (
                    e["pointer"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// A valid registration body with a unique email.
pub fn person() -> Value {
    json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "1990-04-21",
        "gender": "female",
        "nationality": "GBR",
        "birth_country": "GBR",
        "country_of_tax_residence": "FRA",
        "email": format!("ada.{}@example.com", uuid::Uuid::now_v7().simple()),
        "mobile_phone_number": "+33612345678",
        "address": "1 Rue de Rivoli",
        "city": "Paris",
        "postcode": "75001",
        "country_code": "FRA",
        "kyc_level": "FULL_KYC",
        "kyc_note": "onboarded in branch",
    })
}

/// The ids of a list response, in its order.
pub fn ids_in_order(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(id_of)
        .collect()
}

pub fn id_of(client: &Value) -> String {
    client["id"].as_str().expect("id").to_owned()
}

/// Asserts the stored client is exactly `expected` (same body, so same version and timestamps).
pub async fn assert_unchanged(app: &TestApp, expected: &Value) {
    let now = app.get(&id_of(expected)).await.expect(StatusCode::OK);
    assert_eq!(&now.body, expected, "the stored client changed");
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "t1"),
        "postgres://u@h:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u@h/postgres?sslmode=disable", "t1"),
        "postgres://u@h/t1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
}

/// The lock an update of one client needs, held from outside the server until released: an
/// update of that client waits for it (PostgreSQL: the row; SQLite: the database's write lock).
pub struct ClientLock(Sql);

impl ClientLock {
    pub async fn hold(app: &TestApp, id: &str) -> Self {
        let mut sql = Sql::connect(app).await;
        let lock = match app.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            Backend::Postgres => {
                format!("BEGIN; SELECT 1 FROM clients WHERE id = '{id}' FOR UPDATE")
            }
        };
        sql.execute(&lock).await.unwrap();
        ClientLock(sql)
    }

    pub async fn release(mut self) {
        self.0.execute("ROLLBACK").await.unwrap();
    }
}

/// The value of one sample (`name{labels}` exactly as exposed) in a Prometheus text page.
pub fn metric(page: &str, sample: &str) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `probe` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
