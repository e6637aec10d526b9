//! Settings of the realtime routes (`/changes`, `/events`).

use std::time::Duration;

use clap::Args;

use super::ConfigError;
use crate::realtime::StreamLimits;
use crate::store::{DatabaseUrlError, PgConfig};

#[derive(Debug, Clone, Args)]
pub struct RealtimeSettings {
    /// Days a change stays in the log (for /changes and stream resumption)...
    #[arg(long, env = "CHANGE_RETENTION_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u64).range(1..=3650), global = true)]
    pub change_retention_days: u64,

    /// ...or, whichever keeps more, how many of each user's latest changes stay.
    #[arg(long, env = "CHANGE_RETENTION_EVENTS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000), global = true)]
    pub change_retention_events: u64,

    /// Most change streams (GET /events) open on this server; more get 429.
    #[arg(long, env = "MAX_STREAMS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000), global = true)]
    pub max_streams: u64,

    /// Most change streams one user may have open on this server; more get 429.
    #[arg(long, env = "MAX_STREAMS_PER_USER", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=10_000), global = true)]
    pub max_streams_per_user: u64,

    /// Seconds between heartbeat comments on an idle stream (keeps proxies from closing it).
    #[arg(long, env = "EVENTS_HEARTBEAT_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub events_heartbeat_seconds: u64,

    /// Seconds a stream ticket (POST /api/{user_id}/events/ticket) opens streams.
    #[arg(long, env = "EVENTS_TICKET_TTL_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub events_ticket_ttl_seconds: u64,

    /// Most seconds one stream stays open (it ends sooner when its token
    /// expires); clients reopen it and resume where they were.
    #[arg(long, env = "EVENTS_MAX_SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub events_max_seconds: u64,

    /// PostgreSQL behind a transaction-mode pooler (Neon's `-pooler` host): a
    /// direct URL to LISTEN on for other instances' changes. Without it they
    /// are polled for every 50 ms.
    #[arg(long, env = "DATABASE_LISTEN_URL", hide_env_values = true, global = true)]
    pub database_listen_url: Option<String>,
}

/// The realtime settings after checking.
#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    pub retention_age: Duration,
    pub retention_events: i64,
    pub streams: StreamLimits,
    pub heartbeat: Duration,
    pub ticket_ttl: Duration,
    pub max_stream: Duration,
    pub listen: Option<PgConfig>,
}

impl RealtimeSettings {
    pub fn check(&self) -> Result<RealtimeConfig, ConfigError> {
        let listen = match self.database_listen_url.as_deref() {
            None | Some("") => None,
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                return Err(ConfigError::BadListenUrl(
                    "it must start with postgres:// or postgresql://".into(),
                ));
            }
            Some(url) => Some(url.parse::<PgConfig>().map_err(|error| match error {
                DatabaseUrlError::Invalid { reason, .. } => ConfigError::BadListenUrl(reason),
                other => ConfigError::BadListenUrl(other.to_string()),
            })?),
        };
        Ok(RealtimeConfig {
            retention_age: Duration::from_secs(self.change_retention_days * 86_400),
            retention_events: i64::try_from(self.change_retention_events).unwrap_or(i64::MAX),
            streams: StreamLimits {
                per_user: self.max_streams_per_user as usize,
                total: self.max_streams as usize,
            },
            heartbeat: Duration::from_secs(self.events_heartbeat_seconds),
            ticket_ttl: Duration::from_secs(self.events_ticket_ttl_seconds),
            max_stream: Duration::from_secs(self.events_max_seconds),
            listen,
        })
    }
}
