//! PUT with a webhook endpoint: every update is also delivered, signed, to a receiver on the
//! same machine. What it costs the PUT, and how fast deliveries keep up.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::process::Measured;
use super::report::Run;
use super::tools;
use super::workload::exchange;

/// A partner's receiver at its cheapest: answers `204` to every request, keeping connections
/// open, and counts them.
struct Receiver {
    port: u16,
    count: Arc<AtomicU64>,
}

impl Receiver {
    fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let count = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&count);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || {
                    let _ = serve(stream, &counted);
                });
            }
        });
        Ok(Self { port, count })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

fn serve(stream: TcpStream, count: &AtomicU64) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut first = true;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        count.fetch_add(1, Ordering::Relaxed);
        writer.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")?;
    }
}

/// What the run with an endpoint measured.
pub struct WebhookRun {
    pub put: Run,
    pub delivered: u64,
    /// From the end of the PUT run to the last delivery.
    pub drained_after: Duration,
    /// Deliveries per second, from the start of the PUT run to the last delivery.
    pub deliveries_per_second: f64,
}

/// One PUT run at `connections` with an endpoint of organization 1 taking every update; then
/// waits (at most two minutes) for the receiver to have them all.
pub fn put_with_an_endpoint(
    server: &dyn Measured,
    put_script: &std::path::Path,
    key: &str,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<WebhookRun> {
    let receiver = Receiver::start()?;
    let body = format!(
        r#"{{"url":"http://127.0.0.1:{}/hooks","event_types":["client.updated"]}}"#,
        receiver.port
    );
    let mut api = BufReader::new(TcpStream::connect(("127.0.0.1", server.port()))?);
    let created = exchange(
        &mut api,
        format!(
            "POST /api/v1/webhook-endpoints HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .context("creating the webhook endpoint (the server must run with WEBHOOK_ALLOW_PRIVATE_URLS=true)")?;
    let endpoint: serde_json::Value = serde_json::from_str(&created)?;
    let id = endpoint["id"]
        .as_str()
        .context("no endpoint id")?
        .to_owned();

    let started = Instant::now();
    let put = tools::wrk(server, put_script, connections, seconds)?;
    let ended = Instant::now();
    let expected = (put.requests_per_second * seconds as f64).round() as u64;
    // Until every update has arrived (wrk's count is rounded: within one request), or nothing
    // more arrives for 10 s.
    let (mut last_count, mut last_change) = (receiver.count(), ended);
    while receiver.count() + 1 < expected && last_change.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        let now = receiver.count();
        if now != last_count {
            (last_count, last_change) = (now, Instant::now());
        }
        if ended.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let delivered = receiver.count();
    let finished = if delivered == last_count {
        last_change
    } else {
        Instant::now()
    };
    // A new connection: the first one idled past the server's keep-alive during the run.
    let mut api = BufReader::new(TcpStream::connect(("127.0.0.1", server.port()))?);
    exchange(
        &mut api,
        format!(
            "DELETE /api/v1/webhook-endpoints/{id} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\r\n"
        )
        .as_bytes(),
    )?;
    Ok(WebhookRun {
        put,
        delivered,
        drained_after: finished.saturating_duration_since(ended),
        deliveries_per_second: delivered as f64
            / finished.saturating_duration_since(started).as_secs_f64(),
    })
}
