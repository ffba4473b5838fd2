//! Logging: `tracing` events to stdout, human-readable or JSON lines, filtered by `RUST_LOG`
//! (default `info`). Events of the `log` crate (actix's own) are forwarded too.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; call once, first thing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
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
}
