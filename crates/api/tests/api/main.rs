//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL, each test with a
//! database of its own.

mod helpers;

mod access;
mod concurrency;
mod errors;
mod get;
mod history;
mod idempotency;
mod list;
mod register;
mod spec;
mod update;
