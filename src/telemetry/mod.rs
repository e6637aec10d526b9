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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(log_level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
