//! Logs and metrics.
//!
//! Logs go to stderr through `tracing`: human-readable lines by default, JSON
//! lines with `LOG_FORMAT=json`. Nothing logged carries a token or a secret:
//! requests are logged by route template, status, latency, request id and user
//! id; configuration is logged with the database password and secrets left out.

mod metrics;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

pub use metrics::{Metrics, metrics};

/// A bare level is this service's level; the libraries below it stay at
/// `info` at most (tokio-postgres and rustls log every message at `debug`),
/// and refinery's step-by-step migration lines at `warn`. Directives
/// (`todo_api=debug,tokio_postgres=trace`) are taken as written.
fn directives(log_level: &str) -> String {
    match log_level.trim() {
        level @ ("debug" | "trace") => format!("info,todo_api={level},refinery_core=warn"),
        "info" => "info,refinery_core=warn".to_owned(),
        other => other.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Lines a worker may queue for the writer thread; past that they are
/// dropped (and counted by tracing-appender) rather than block a request.
const LOG_QUEUE_LINES: usize = 64 * 1024;

/// Installs the global subscriber; a second call (as in tests) is a no-op.
/// Lines go to stderr from a thread of their own, so a worker never waits
/// on the terminal or a slow log collector; keep the guard until exit,
/// which writes out what is still queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(log_level: &str, format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_new(directives(log_level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("todo-api-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
    guard
}
