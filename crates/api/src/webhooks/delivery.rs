//! The delivery worker: claims due deliveries from the database, sends each as a signed
//! `POST`, and records the attempt. One per server instance, on the main runtime, apart from
//! the HTTP workers: a slow endpoint occupies one of its slots, never a request.
//!
//! Guarantees (contract section 7), and what gives them:
//! - at least once: a delivery stays pending in the database until an attempt's outcome is
//!   recorded; a claim lapses [`LEASE_MARGIN`] after the attempt's timeout, so a delivery whose
//!   worker died is claimed again within that (SIGKILL included);
//! - in order per client and endpoint: a delivery is due only when its client has no earlier
//!   pending delivery to that endpoint (see `store::webhooks`);
//! - never twice at once: claims are exclusive, across instances, and outlive the attempt;
//! - a slow endpoint holds at most `WEBHOOK_PER_ENDPOINT` claims, every instance together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Data;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::redirect::Policy;
use store::{ClaimRequest, ClaimedDelivery, DeliveryAttempt, Outcome, Store};
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

use super::address::{self, PublicOnly};
use super::secret::SecretBox;
use crate::metrics::Metrics;

/// The delivery worker's own database connections (PostgreSQL), beyond `DB_POOL_SIZE`: it
/// never waits behind requests, nor they behind it.
pub const CONNECTIONS: usize = 2;
/// How long a claim outlives the attempt's timeout.
pub const LEASE_MARGIN: Duration = Duration::from_secs(15);
/// The most of an endpoint's answer that is read (and shown in the attempt's error).
const ANSWER_LIMIT: usize = 4096;
/// How much of a failed answer's body the attempt's error quotes.
const QUOTED: usize = 200;
/// The least time between two looks for due deliveries when woken (a delivery waits at most
/// this more).
const WAKE_GAP: Duration = Duration::from_millis(20);
/// How often the backlog metric is read again.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);

/// How deliveries are made and retried.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub allow_private: bool,
    pub timeout: Duration,
    pub retry_first: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
    pub concurrency: usize,
    pub per_endpoint: usize,
    pub poll: Duration,
}

impl Settings {
    /// The delay before the attempt after attempt `attempt` (1 for the first retry's), drawn
    /// between half and all of `retry_first × 2^(attempt−1)`, capped at `retry_max`.
    pub fn backoff(&self, attempt: i32, jitter: f64) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let base = self
            .retry_first
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.retry_max);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    fn lease(&self) -> Duration {
        self.timeout + LEASE_MARGIN
    }
}

/// Wakes the delivery worker at once, when a change wrote deliveries.
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// The delivery worker of one instance.
#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    settings: Settings,
    secrets: SecretBox,
    http: reqwest::Client,
    wake: Data<Wake>,
    metrics: Data<Metrics>,
}

impl Deliverer {
    pub fn new(
        store: Store,
        settings: Settings,
        secrets: SecretBox,
        wake: Data<Wake>,
        metrics: Data<Metrics>,
    ) -> anyhow::Result<Self> {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_certificates())
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: settings.allow_private,
                within: settings.timeout.min(Duration::from_secs(5)),
            }))
            .no_proxy()
            .user_agent(concat!("clients-api-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            settings,
            secrets,
            http,
            wake,
            metrics,
        })
    }

    /// Claims and sends deliveries for as long as the server runs.
    pub async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut backlog_read = Instant::now() - BACKLOG_EVERY;
        let mut store_down_logged = false;
        loop {
            let free = slots.available_permits();
            let mut busy = false;
            if free > 0 {
                let now = Utc::now();
                let request = ClaimRequest {
                    // A claim of its own for each call: see `finish_delivery`.
                    claim: Uuid::now_v7(),
                    now,
                    until: now + self.settings.lease(),
                    limit: i64::try_from(free).unwrap_or(i64::MAX),
                    per_endpoint: i64::try_from(self.settings.per_endpoint).unwrap_or(i64::MAX),
                };
                match self.store.claim_deliveries(request).await {
                    Ok(claimed) => {
                        store_down_logged = false;
                        busy = claimed.len() == free;
                        for delivery in claimed {
                            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                                break;
                            };
                            let deliverer = self.clone();
                            tokio::spawn(async move {
                                deliverer.deliver(delivery).await;
                                drop(permit);
                                // The client's next event may be due now.
                                deliverer.wake.now();
                            });
                        }
                    }
                    Err(error) => {
                        if !store_down_logged {
                            tracing::warn!(%error, "webhook deliveries cannot be claimed; retrying");
                            store_down_logged = true;
                        }
                    }
                }
            }
            if backlog_read.elapsed() >= BACKLOG_EVERY {
                backlog_read = Instant::now();
                if let Ok(backlog) = self.store.webhook_backlog().await {
                    self.metrics.set_webhook_backlog(backlog);
                }
            }
            if !busy {
                tokio::select! {
                    () = self.wake.0.notified() => {}
                    () = tokio::time::sleep(self.settings.poll) => {}
                }
                // Changes wake it thousands of times a second under load: one look per
                // WAKE_GAP is enough, and leaves the database to the requests.
                tokio::time::sleep(WAKE_GAP).await;
            }
        }
    }

    /// Makes one attempt and records it.
    async fn deliver(&self, delivery: ClaimedDelivery) {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let result = self.attempt(&delivery, attempted_at).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let finished = Utc::now();
        let (status_code, error, unreachable) = match result {
            Ok(answer) => (Some(i32::from(answer.status)), answer.error, false),
            Err(Unanswered { error, unreachable }) => (None, Some(error), unreachable),
        };
        let delivered = error.is_none();
        let given_up = !delivered
            && elapsed(delivery.first_attempted_at, finished) >= self.settings.give_up_after;
        let outcome = if delivered {
            Outcome::Delivered
        } else if given_up {
            Outcome::Failed
        } else {
            Outcome::Retrying
        };
        let retry_at = match outcome {
            Outcome::Retrying => {
                let delay = self.settings.backoff(delivery.attempt, jitter());
                finished + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
            }
            _ => finished,
        };
        if !delivered {
            tracing::warn!(
                webhook.endpoint_id = %delivery.endpoint_id,
                webhook.event_id = %delivery.event_id,
                webhook.attempt = delivery.attempt,
                webhook.status = status_code,
                webhook.error = error.as_deref().unwrap_or(""),
                webhook.outcome = outcome.as_str(),
                webhook.retry_at = %retry_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "webhook delivery failed"
            );
        }
        let attempt = DeliveryAttempt {
            event_id: delivery.event_id,
            attempt: delivery.attempt,
            attempted_at,
            status_code,
            error,
            duration_ms,
            outcome,
        };
        // An endpoint that cannot be reached at all fails every delivery alike: it gets one
        // attempt per backoff, not one per client, and leaves the slots to the others.
        let pause = (unreachable && outcome == Outcome::Retrying).then_some(retry_at);
        match self
            .store
            .finish_delivery(&delivery, &attempt, retry_at, pause)
            .await
        {
            Ok(true) => self.metrics.delivery_attempted(outcome),
            Ok(false) => tracing::warn!(
                webhook.endpoint_id = %delivery.endpoint_id,
                webhook.event_id = %delivery.event_id,
                "a webhook attempt was not recorded: its endpoint was deleted meanwhile, or its claim lapsed (then it is made again)"
            ),
            // The claim lapses, and the delivery is made again: at least once.
            Err(error) => tracing::warn!(
                webhook.endpoint_id = %delivery.endpoint_id,
                webhook.event_id = %delivery.event_id,
                %error,
                "a webhook attempt could not be recorded; it will be made again"
            ),
        }
    }

    /// Sends the delivery; the endpoint's status, or why there was none.
    async fn attempt(
        &self,
        delivery: &ClaimedDelivery,
        at: DateTime<Utc>,
    ) -> Result<Answer, Unanswered> {
        let allow_private = self.settings.allow_private;
        let url = address::parse(&delivery.url, allow_private)
            .map_err(|e| Unanswered::unreachable(format!("the URL {e}")))?;
        // Names are checked by the client's resolver as it connects; addresses are checked here.
        if !matches!(url.host(), Some(url::Host::Domain(_))) {
            address::resolve(&url, allow_private, self.settings.timeout)
                .await
                .map_err(|e| Unanswered::unreachable(format!("the URL {e}")))?;
        }
        let secret = self
            .secrets
            .open(delivery.endpoint_id, &delivery.secret)
            .map_err(|e| {
                Unanswered::unreachable(format!("the endpoint's secret cannot be read: {e}"))
            })?;
        let id = delivery.event_id.to_string();
        let timestamp = at.timestamp();
        let signature = standardwebhooks::Webhook::new(&secret)
            .and_then(|webhook| webhook.sign(&id, timestamp, delivery.body.as_bytes()))
            .map_err(|e| Unanswered::unreachable(format!("cannot sign: {e}")))?;
        let response = self
            .http
            .post(url)
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| Unanswered {
                // No connection at all (refused, no address, TLS refused): the same for every
                // delivery. A timeout may be this event's alone.
                unreachable: e.is_connect(),
                error: describe(&e),
            })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            // The body is not read: the connection is dropped with it unread beyond what came.
            return Ok(Answer {
                status,
                error: None,
            });
        }
        let quoted = read_some(response).await;
        let mut error = format!("HTTP {status}");
        if (300..400).contains(&status) {
            error.push_str(" (redirects are not followed)");
        }
        if !quoted.is_empty() {
            error.push_str(": ");
            error.push_str(&quoted);
        }
        Ok(Answer {
            status,
            error: Some(error),
        })
    }
}

/// Why an attempt got no answer, and whether the endpoint cannot be reached at all.
struct Unanswered {
    error: String,
    unreachable: bool,
}

impl Unanswered {
    fn unreachable(error: String) -> Self {
        Self {
            error,
            unreachable: true,
        }
    }
}

/// What an endpoint answered: its status, and why it is not a delivery when it is not 2xx.
struct Answer {
    status: u16,
    error: Option<String>,
}

/// The start of a failed answer's body, as text, read up to [`ANSWER_LIMIT`] bytes.
async fn read_some(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < ANSWER_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(ANSWER_LIMIT)]);
    let text = text.trim();
    match text.char_indices().nth(QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A transport error with its causes (refused, reset, timed out, TLS, DNS).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

/// A number in [0, 1).
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

fn root_certificates() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "a system CA certificate could not be loaded");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!(
            ignored,
            "no system CA certificate: https webhook deliveries will fail"
        );
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            allow_private: false,
            timeout: Duration::from_secs(15),
            retry_first: Duration::from_secs(8),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(86_400),
            concurrency: 32,
            per_endpoint: 4,
            poll: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_first_retry_comes_within_ten_seconds_and_then_doubles_to_the_cap() {
        let s = settings();
        assert!(s.backoff(1, 0.0) >= Duration::from_secs(4));
        assert!(s.backoff(1, 1.0) <= Duration::from_secs(8));
        assert_eq!(s.backoff(2, 1.0), Duration::from_secs(16));
        assert_eq!(s.backoff(3, 0.0), Duration::from_secs(16));
        assert_eq!(s.backoff(20, 1.0), Duration::from_secs(3600));
        assert_eq!(s.backoff(i32::MAX, 1.0), Duration::from_secs(3600));
    }

    #[test]
    fn the_default_schedule_keeps_trying_for_a_day() {
        // Even with the shortest draws, attempts go on until the give-up time has passed.
        let s = settings();
        let (mut total, mut attempt) = (Duration::ZERO, 1);
        while total < s.give_up_after {
            total += s.backoff(attempt, 0.0);
            attempt += 1;
        }
        assert!(attempt > 20, "{attempt} attempts in a day");
        assert!(total >= Duration::from_secs(86_400));
    }
}
