//! A database of its own for each test, and direct access to it beside the server's.

use diesel::connection::SimpleConnection;
use diesel::Connection;

use super::{Backend, TestApp};

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
