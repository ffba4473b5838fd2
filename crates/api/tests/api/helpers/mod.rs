//! The test harness: a real server on a free port with a database of its own, and a small HTTP
//! client that asserts statuses. One module per concern; everything is re-exported here.

mod app;
mod backends;
mod database;
mod fixtures;
mod raw;
mod receiver;
mod response;

pub use app::{Body, TestApp, WEBHOOK_SECRETS_KEY};
pub use backends::Backend;
pub use database::{fresh_database, pg_connect, ClientLock, Sql};
pub use fixtures::{assert_unchanged, eventually, http_client, id_of, ids_in_order, person};
pub use raw::raw_exchange;
pub use receiver::{Received, Receiver};
pub use response::{metric, Response};
