//! Settings that protect the server from its clients and its clients from its
//! restarts: rate limits, who a client is behind a proxy, and the drain.

use std::time::Duration;

use clap::Args;

use super::ConfigError;
use crate::limit::{Rate, TrustedProxies};

#[derive(Debug, Clone, Args)]
pub struct ProtectionSettings {
    /// Requests per second each user may make on average, per instance (N
    /// instances allow N times as many); over it, 429 with Retry-After. 0: no limit.
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub rate_limit_per_second: u32,

    /// Requests each user may make at once before RATE_LIMIT_PER_SECOND applies.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub rate_limit_burst: u32,

    /// Failed authentications (401s) per minute one client address may cause on
    /// average; past it, its requests get 429 before any token is checked,
    /// except tokens already verified. 0: no limit.
    #[arg(long, env = "AUTH_FAILURES_PER_MINUTE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub auth_failures_per_minute: u32,

    /// Failed authentications one client address may cause at once.
    #[arg(long, env = "AUTH_FAILURES_BURST", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub auth_failures_burst: u32,

    /// Comma-separated proxy addresses or CIDR ranges (e.g. 10.0.0.0/8) whose
    /// X-Forwarded-For / Forwarded name the client. Default: none (trust no header).
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: String,

    /// On SIGTERM, seconds to keep accepting and serving (with /ready 503 and
    /// `Connection: close`) so balancers move away, before the listener closes
    /// and SHUTDOWN_GRACE_SECONDS starts. 0: close the listener at once.
    #[arg(long, env = "DRAIN_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=600), global = true)]
    pub drain_seconds: u64,
}

/// The protection settings after checking.
#[derive(Debug, Clone)]
pub struct ProtectionConfig {
    pub user_rate: Option<Rate>,
    pub auth_failures: Option<Rate>,
    pub trusted_proxies: TrustedProxies,
    pub drain: Duration,
}

impl ProtectionSettings {
    pub fn check(&self) -> Result<ProtectionConfig, ConfigError> {
        let second = Duration::from_secs(1);
        Ok(ProtectionConfig {
            user_rate: Rate::new(self.rate_limit_per_second, second, self.rate_limit_burst),
            auth_failures: Rate::new(self.auth_failures_per_minute, 60 * second, self.auth_failures_burst),
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies).map_err(ConfigError::BadProxy)?,
            drain: Duration::from_secs(self.drain_seconds),
        })
    }
}
