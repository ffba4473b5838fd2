//! Running the service: logs and request ids, metrics, limits and timeouts, graceful shutdown,
//! and two instances on one database.

mod lifecycle;
mod limits;
mod logs;
mod metrics;
