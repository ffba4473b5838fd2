//! A partner's webhook receiver: a real HTTP server on a free port that records every request,
//! answers as the test says, and notices two requests for one event at the same time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The headers as the `http` crate holds them, for the Standard Webhooks library.
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub event: Value,
    /// The path it was sent to.
    pub path: String,
    pub at: Instant,
    /// The status the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn event_id(&self) -> String {
        self.header("webhook-id").to_owned()
    }

    pub fn client_id(&self) -> String {
        self.event["data"]["client_id"].as_str().unwrap().to_owned()
    }

    pub fn version(&self) -> i64 {
        self.event["data"]["version"].as_i64().unwrap()
    }

    /// Checks the signature with the Standard Webhooks library, as a partner does.
    pub fn verify(&self, secret: &str) -> Result<(), standardwebhooks::WebhookError> {
        standardwebhooks::Webhook::new(secret)?.verify(&self.body, &self.headers)
    }
}

/// How the receiver answers a request: a status, after a delay.
pub type Behaviour = dyn Fn(&Received, usize) -> (u16, Duration) + Send + Sync;

struct State {
    /// Event ids as their requests arrived (answered or not).
    arrivals: Mutex<Vec<String>>,
    received: Mutex<Vec<Received>>,
    in_flight: Mutex<HashSet<String>>,
    /// The most requests it was answering at once.
    peak: Mutex<usize>,
    overlaps: Mutex<Vec<String>>,
    behaviour: Box<Behaviour>,
}

pub struct Receiver {
    pub port: u16,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// A receiver that answers 204 at once.
    pub async fn start() -> Receiver {
        Self::answering(|_, _| (204, Duration::ZERO)).await
    }

    /// A receiver whose answer to each request `behaviour` decides, given the request and how
    /// many requests for the same event came before it.
    pub async fn answering(
        behaviour: impl Fn(&Received, usize) -> (u16, Duration) + Send + Sync + 'static,
    ) -> Receiver {
        let state = Arc::new(State {
            arrivals: Mutex::default(),
            received: Mutex::default(),
            in_flight: Mutex::default(),
            peak: Mutex::default(),
            overlaps: Mutex::default(),
            behaviour: Box::new(behaviour),
        });
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            port,
            state,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in arrival order of their answers.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests answered 2xx, in order.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// The event id of every request that arrived, answered or not (a sender that gave up
    /// waiting cuts its request off), in order.
    pub fn arrivals(&self) -> Vec<String> {
        self.state.arrivals.lock().unwrap().clone()
    }

    /// The most requests (of distinct events) it was answering at the same time.
    pub fn peak_in_flight(&self) -> usize {
        *self.state.peak.lock().unwrap()
    }

    /// Event ids that were sent twice at the same time.
    pub fn overlaps(&self) -> Vec<String> {
        self.state.overlaps.lock().unwrap().clone()
    }

    /// Waits until `count` deliveries (2xx) arrived, at most `limit`.
    pub async fn until_delivered(&self, count: usize, limit: Duration) -> Vec<Received> {
        super::eventually(limit, &format!("{count} webhook deliveries"), || async {
            let delivered = self.delivered();
            (delivered.len() >= count).then_some(delivered)
        })
        .await
    }
}

impl Drop for Receiver {
    /// Stops the server and its worker threads with the test.
    fn drop(&mut self) {
        let stopping = self.handle.stop(false);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(stopping);
        }
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        headers.append(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let mut received = Received {
        headers,
        event: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
        path: req.path().to_owned(),
        at: Instant::now(),
        status: 0,
    };
    let id = received.event_id();
    state.arrivals.lock().unwrap().push(id.clone());
    {
        let mut in_flight = state.in_flight.lock().unwrap();
        if !in_flight.insert(id.clone()) {
            state.overlaps.lock().unwrap().push(id.clone());
        }
        let mut peak = state.peak.lock().unwrap();
        *peak = (*peak).max(in_flight.len());
    }
    // Out of flight when answered, or when the sender hangs up first (the handler is dropped).
    let _in_flight = InFlight(state.clone(), id.clone());
    let earlier = state
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.event_id() == id)
        .count();
    let (status, delay) = (state.behaviour)(&received, earlier);
    tokio::time::sleep(delay).await;
    received.status = status;
    received.at = Instant::now();
    state.received.lock().unwrap().push(received);
    let status = actix_web::http::StatusCode::from_u16(status).unwrap();
    let mut response = HttpResponse::build(status);
    if status.is_redirection() {
        response.insert_header(("location", "/redirected"));
    }
    response.body("receiver says so")
}

struct InFlight(web::Data<State>, String);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.lock().unwrap().remove(&self.1);
    }
}
