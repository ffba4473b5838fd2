//! Logging: `tracing` events to stdout, human-readable or JSON lines, filtered by `RUST_LOG`
//! (default `info`). Events of the `log` crate (actix's own) are forwarded too.
//!
//! Lines are written by a thread of their own through a buffer, flushed whenever no line is
//! waiting: under load, one write carries many lines instead of one system call per request.
//! The guard [`init`] returns flushes what is left when dropped, at exit.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; call once, first thing, and keep the guard until exit.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colours = std::io::stdout().is_terminal();
    // Never lossy: when stdout cannot keep up, requests wait for it rather than lose lines.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        // One object per line: the event's fields at the top level, the request's id from the
        // enclosing span.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    guard
}
