//! The HTTP API of the client-records service: actix-web handlers documented with utoipa.
//!
//! Handlers turn HTTP into calls to the `domain` rules and the `store`, and their results back
//! into HTTP; every error leaves as an RFC 9457 problem.
// The Event schema's example (a whole client inside an event) nests deeper than `json!`'s
// default limit.
#![recursion_limit = "256"]

pub mod auth;
pub mod body;
pub mod cli;
pub mod clients;
pub mod config;
pub mod digest;
pub mod etag;
pub mod events;
pub mod fallback;
pub mod health;
pub mod members;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod query;
pub mod startup;
pub mod telemetry;
pub mod timestamp;
pub mod webhooks;

pub use config::Config;
pub use startup::Application;
