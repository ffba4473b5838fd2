//! The load during a failover: writers each updating their own client with distinct values, and
//! a readiness probe, every request recorded with when it started, how long it took and how it
//! ended.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a request may go unanswered before it counts as a hang (far above any bound the
/// server documents, so that a hang is told from a slow answer).
pub const HANG: Duration = Duration::from_secs(20);

/// What a request ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    /// No answer: the connection failed or nothing came within [`HANG`].
    NoAnswer(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(s))
    }

    pub fn label(&self) -> String {
        match self {
            Outcome::Status(s) if (200..300).contains(s) => "2xx".to_owned(),
            Outcome::Status(s) => s.to_string(),
            Outcome::NoAnswer(_) => "no answer".to_owned(),
        }
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The writer that sent it; `None` for the readiness probe.
    pub writer: Option<usize>,
    /// The value the update wrote (empty for the probe).
    pub value: String,
    /// Since the start of the run.
    pub started: Duration,
    pub took: Duration,
    pub outcome: Outcome,
}

impl Sample {
    pub fn ended(&self) -> Duration {
        self.started + self.took
    }
}

/// One HTTP/1.1 request on a connection of its own; the status and the body.
pub fn call(
    port: u16,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let attempt = || -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(HANG))?;
        stream.set_write_timeout(Some(HANG))?;
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: failover\r\nConnection: close\r\n");
        if let Some(key) = key {
            request.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
        Ok((status, body.to_owned()))
    };
    attempt().map_err(|e| e.to_string())
}

/// The writers and the probe, running until stopped.
pub struct Load {
    pub start: Instant,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// One writer per client in `clients`, and the readiness probe.
    pub fn start(port: u16, key: &str, clients: &[String]) -> Self {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for (writer, id) in clients.iter().enumerate() {
            let (stop, samples, key, id) = (
                Arc::clone(&stop),
                Arc::clone(&samples),
                key.to_owned(),
                id.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let value = format!("w{writer}-{n}");
                    let body = format!(r#"{{"city":"{value}"}}"#);
                    let sample = timed(start, Some(writer), value, || {
                        call(
                            port,
                            "PUT",
                            &format!("/api/v1/clients/person/{id}"),
                            Some(&key),
                            Some(&body),
                        )
                    });
                    let failed = !sample.outcome.is_success();
                    lock(&samples).push(sample);
                    // A refusal comes back at once: do not spin on it.
                    std::thread::sleep(Duration::from_millis(if failed { 50 } else { 10 }));
                }
            }));
        }
        let (stop_probe, probe_samples) = (Arc::clone(&stop), Arc::clone(&samples));
        threads.push(std::thread::spawn(move || {
            while !stop_probe.load(Ordering::Relaxed) {
                let sample = timed(start, None, String::new(), || {
                    call(port, "GET", "/health/ready", None, None)
                });
                lock(&probe_samples).push(sample);
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
        Load {
            start,
            stop,
            samples,
            threads,
        }
    }

    /// Since the start of the run.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.samples).clone()
    }

    /// Stops every thread after its request in flight; every request made.
    pub fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            let _ = thread.join();
        }
        let mut samples = lock(&self.samples).clone();
        samples.sort_by_key(|s| s.started);
        samples
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn timed(
    start: Instant,
    writer: Option<usize>,
    value: String,
    request: impl FnOnce() -> Result<(u16, String), String>,
) -> Sample {
    let started = start.elapsed();
    let outcome = match request() {
        Ok((status, _)) => Outcome::Status(status),
        Err(error) => Outcome::NoAnswer(error),
    };
    Sample {
        writer,
        value,
        started,
        took: start.elapsed() - started,
        outcome,
    }
}
