//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL, each test with a
//! database of its own.

mod helpers;
mod server_process;
mod tcp_proxy;

mod access;
mod chain;
mod concurrency;
mod connections;
mod errors;
mod events;
mod get;
mod history;
mod idempotency;
mod keys;
mod kyc;
mod list;
mod operability;
mod outages;
mod register;
mod relationship;
mod spec;
mod update;
mod webhooks;
