//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL, each test with a
//! database of its own.

mod helpers;
mod server_process;
mod tcp_proxy;

mod access;
mod concurrency;
mod errors;
mod get;
mod history;
mod idempotency;
mod list;
mod operability;
mod register;
mod spec;
mod update;
