//! `GET /metrics`: Prometheus text exposition of request counts and latencies by route template,
//! the database connection pool, and the process (CPU, memory, file descriptors).

use std::sync::Mutex;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpResponse};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use store::Store;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::problem::ApiError;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(metrics);
}

/// The route label of requests that matched no route, so that unknown paths cannot grow the
/// number of series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The server's metrics, one registry per server.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    pool_waiting: IntGauge,
    statements_prepared: IntCounter,
    webhook_deliveries: IntCounterVec,
    webhook_backlog_age: GaugeVec,
    /// The oldest undelivered event of each endpoint, as the delivery worker last read it.
    webhook_backlog: Mutex<Vec<store::Backlog>>,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from the request's arrival to its response",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database connections open, by state (in_use, idle)",
            ),
            &["state"],
        )
        .expect("valid metric");
        let pool_max = IntGauge::new(
            "db_pool_max_connections",
            "The most database connections the pool opens",
        )
        .expect("valid metric");
        let pool_waiting = IntGauge::new(
            "db_pool_waiting",
            "Requests waiting for a database connection",
        )
        .expect("valid metric");
        let statements_prepared = IntCounter::new(
            "db_statements_prepared_total",
            "Statements PostgreSQL connections prepared for their statement cache; it grows with \
             new connections, not with requests",
        )
        .expect("valid metric");
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts made by this instance, by outcome (delivered, \
                 retrying, failed)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let webhook_backlog_age = GaugeVec::new(
            Opts::new(
                "webhook_oldest_undelivered_event_age_seconds",
                "Age of the oldest event not yet delivered (nor given up) to each endpoint",
            ),
            &["endpoint_id"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_max.clone()),
            Box::new(pool_waiting.clone()),
            Box::new(statements_prepared.clone()),
            Box::new(webhook_deliveries.clone()),
            Box::new(webhook_backlog_age.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            duration,
            pool_connections,
            pool_max,
            pool_waiting,
            statements_prepared,
            webhook_deliveries,
            webhook_backlog_age,
            webhook_backlog: Mutex::default(),
        }
    }

    /// Counts one webhook delivery attempt by its outcome.
    pub fn delivery_attempted(&self, outcome: store::Outcome) {
        self.webhook_deliveries
            .with_label_values(&[outcome.as_str()])
            .inc();
    }

    /// What the delivery worker last read of the endpoints' undelivered events.
    pub fn set_webhook_backlog(&self, backlog: Vec<store::Backlog>) {
        *self
            .webhook_backlog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = backlog;
    }

    /// Counts one answered request. `route` is the route template (`/api/v1/clients/{id}`), never
    /// the path.
    pub fn observe(&self, method: &str, route: &str, status: StatusCode, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// Every metric in the Prometheus text format, the pool's as of now.
    pub fn render(&self, store: &Store) -> String {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let pool = store.pool_status();
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(gauge(pool.in_use()));
        self.pool_connections
            .with_label_values(&["idle"])
            .set(gauge(pool.idle));
        self.pool_max.set(gauge(pool.max));
        self.pool_waiting.set(gauge(pool.waiting));
        let prepared = store.statements_prepared();
        self.statements_prepared
            .inc_by(prepared.saturating_sub(self.statements_prepared.get()));
        self.webhook_backlog_age.reset();
        let now = chrono::Utc::now();
        for entry in self
            .webhook_backlog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let age = (now - entry.oldest_event_at).num_milliseconds().max(0) as f64 / 1000.0;
            self.webhook_backlog_age
                .with_label_values(&[&entry.endpoint_id.to_string()])
                .set(age);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Metrics
///
/// The server's metrics in the Prometheus text format (version 0.0.4): `http_requests_total`
/// by method, route template and status; `http_request_duration_seconds` (histogram) by method
/// and route template; `db_pool_connections` by state (`in_use`, `idle`), `db_pool_max_connections`
/// and `db_pool_waiting` (every HTTP worker's connections together; the webhook delivery
/// worker's own two are not counted); `db_statements_prepared_total`
/// (PostgreSQL statements prepared for the connections' caches: it grows with new connections,
/// not with requests); `webhook_deliveries_total` by outcome (`delivered`, `retrying`,
/// `failed`) and `webhook_oldest_undelivered_event_age_seconds` by `endpoint_id`; and the
/// standard `process_*` metrics. Needs no API key: expose it to
/// your monitoring, not to the internet.
#[utoipa::path(
    operation_id = "metrics",
    tag = "Health",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8")),
)]
#[get("/metrics")]
pub async fn metrics(
    metrics: web::Data<Metrics>,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(metrics.render(&store)))
}
