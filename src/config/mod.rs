//! Settings: environment variables (and `.env`), each mirrored as a CLI flag.
//! clap reads them; `Config::from_settings` checks what clap cannot, so a bad
//! setting stops startup with one clear line that never repeats a secret.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{Args, Parser};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::MIN_SECRET_BYTES;
use crate::domain::FieldLimits;
use crate::store::{DatabaseConfig, DatabaseUrlError, PoolSettings, ReadReplicas, parse_pooler};
use crate::telemetry::LogFormat;

mod auth;
mod commands;
mod error;
mod protection;
mod realtime;
use auth::auth_config;
pub use auth::{AuthConfig, AuthSettings, JwksConfig};
pub use commands::{BackupArgs, Command, ServeArgs, TokenArgs, UserArgs, UserCommand};
pub use error::ConfigError;
pub use protection::{ProtectionConfig, ProtectionSettings};
pub use realtime::{RealtimeConfig, RealtimeSettings};

const ABOUT: &str = "Multi-user todo API for Next.js + Better Auth frontends";

const AFTER_HELP: &str = "Every setting can also be given as the environment variable shown, \
or in a .env file in the working directory. Flags win over the environment.";

#[derive(Debug, Parser)]
#[command(name = "todo-api", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// IP address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    pub host: IpAddr,

    /// TCP port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000, global = true)]
    pub port: u16,

    /// `sqlite:PATH` (a file, created on first start) or `postgres://` /
    /// `postgresql://` (TLS per `sslmode`, e.g. Neon's `?sslmode=require`).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:todo.db",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,

    /// Request workers: one thread each, with its own listener, runtime and
    /// database connections (default: one per core).
    #[arg(long, env = "WORKERS", value_parser = clap::value_parser!(u16).range(1..=256), global = true)]
    pub workers: Option<u16>,

    /// Most PostgreSQL connections for writes, shared out among the workers
    /// (each also keeps one for reads).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub database_max_connections: u32,

    /// Most seconds one database statement may run (PostgreSQL `statement_timeout`
    /// and `lock_timeout`; SQLite's wait for the write lock); then the request gets 503.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub database_statement_timeout_seconds: u64,

    /// What stands between the service and PostgreSQL: `auto` (a transaction-mode
    /// pooler for Neon's `-pooler` hosts, Supabase's pooler on port 6543 or a URL
    /// with `pooler=transaction`; any other is found out at runtime and switched
    /// to, with one log line), `none` (direct: statements prepared once per
    /// connection; never switched), or `transaction` (PgBouncer in transaction
    /// mode: statements sent unnamed, timeouts from the role's or database's defaults).
    #[arg(long, env = "DATABASE_POOLER", default_value = "auto", global = true)]
    pub database_pooler: String,

    /// PostgreSQL read replicas (`postgres://u@r1:5432,r2:5432/db`, each host
    /// read in turn): lists, gets and the change feed read there when the
    /// replica has every write of that user the primary has, else the primary.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true, global = true)]
    pub database_read_url: Option<String>,

    /// A read replica further behind the primary than this many milliseconds
    /// (or unreachable, or promoted) is left out until it catches up.
    #[arg(long, env = "DATABASE_READ_MAX_LAG_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000), global = true)]
    pub database_read_max_lag_ms: u64,

    /// Most tasks one user may own; creating one more is refused with 409.
    #[arg(long, env = "MAX_TASKS_PER_USER", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=100_000_000), global = true)]
    pub max_tasks_per_user: u32,

    /// Most characters in a task's title (after trimming); longer is a 422.
    #[arg(long, env = "MAX_TITLE_CHARS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=10_000), global = true)]
    pub max_title_chars: u64,

    /// Most characters in a task's description; longer is a 422.
    #[arg(long, env = "MAX_DESCRIPTION_CHARS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000), global = true)]
    pub max_description_chars: u64,

    /// Seconds an `Idempotency-Key` is remembered: a retry within them gets the
    /// first answer again; after them the key is forgotten (pruned in the background).
    #[arg(long, env = "IDEMPOTENCY_KEY_TTL_SECONDS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..=2_592_000), global = true)]
    pub idempotency_key_ttl_seconds: u64,

    /// Most seconds a request may take from its headers to its response (reading
    /// the body included); then it is cancelled and answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub request_timeout_seconds: u64,

    /// Most client connections open at once; more wait in the listen queue until
    /// one closes. With HTTP/1.1 this also bounds the requests in flight.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_connections: u32,

    /// Most seconds a connection may take to send a request's headers, idle
    /// keep-alive time included; then it is closed.
    #[arg(long, env = "HEADER_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub header_timeout_seconds: u64,

    #[command(flatten)]
    pub auth: AuthSettings,

    /// Comma-separated browser origins allowed to call the API with credentials.
    #[arg(long, env = "CORS_ORIGINS", default_value = "http://localhost:3000", global = true)]
    pub cors_origins: String,

    /// Log filter: a level (error, warn, info, debug, trace) or tracing directives.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,

    /// Log lines as human-readable text or as JSON objects.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Serve /metrics on this address (e.g. 127.0.0.1:9100) instead of on the API's.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub shutdown_grace_seconds: u64,

    #[command(flatten)]
    pub realtime: RealtimeSettings,

    #[command(flatten)]
    pub protection: ProtectionSettings,
}

/// Settings after every check: what the rest of the program runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub workers: usize,
    pub database: DatabaseConfig,
    pub database_max_connections: u32,
    pub database_statement_timeout: Duration,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub cors_origins: Vec<HeaderValue>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub metrics_addr: Option<SocketAddr>,
    pub shutdown_grace: Duration,
    pub realtime: RealtimeConfig,
    pub protection: ProtectionConfig,
}

/// Bounds on what one client or user can make the server hold or do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_tasks_per_user: u32,
    pub fields: FieldLimits,
    /// Request bodies above this are refused with 413 before they are parsed:
    /// 64 KiB, or more when the field limits need it (see `body_limit`).
    pub body_bytes: usize,
    /// Headers to response, reading the body included.
    pub request_timeout: Duration,
    /// Connections served at once. The next one is not accepted until one
    /// closes: it waits in the kernel's listen queue (back-pressure), and the
    /// requests on open connections keep their latency.
    pub max_connections: usize,
    /// Time to receive a request's headers, counted from when the connection
    /// is ready for the next request, so idle keep-alive counts too.
    pub header_timeout: Duration,
    /// How long an `Idempotency-Key` and its answer are kept.
    pub idempotency_ttl: Duration,
    /// How long a claimed key may go without a write before a retry takes it
    /// over (its claimant presumed gone: a crash, or a database outage that
    /// kept it from giving the key back). Safe at any length: a write runs only
    /// while its claim holds, so a taken-over claimant writes nothing.
    pub idempotency_takeover: Duration,
}

impl Config {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let hs256_secret = settings.auth.better_auth_secret.clone();
        if let Some(secret) = &hs256_secret {
            let len = secret.expose_secret().len();
            if len < MIN_SECRET_BYTES {
                return Err(ConfigError::SecretTooShort(len));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&settings.log_level).is_err() {
            return Err(ConfigError::BadLogLevel(settings.log_level.clone()));
        }
        let fields = FieldLimits {
            title_chars: settings.max_title_chars as usize,
            description_chars: settings.max_description_chars as usize,
        };
        Ok(Self {
            listen: SocketAddr::new(settings.host, settings.port),
            // Unset: one per core the process may use.
            workers: settings
                .workers
                .map_or_else(|| std::thread::available_parallelism().map_or(2, usize::from), usize::from),
            database: database_of(settings)?,
            database_max_connections: settings.database_max_connections,
            database_statement_timeout: Duration::from_secs(settings.database_statement_timeout_seconds),
            limits: Limits {
                max_tasks_per_user: settings.max_tasks_per_user,
                fields,
                body_bytes: body_limit(fields),
                request_timeout: Duration::from_secs(settings.request_timeout_seconds),
                max_connections: settings.max_connections as usize,
                header_timeout: Duration::from_secs(settings.header_timeout_seconds),
                idempotency_ttl: Duration::from_secs(settings.idempotency_key_ttl_seconds),
                idempotency_takeover: Duration::from_secs(settings.database_statement_timeout_seconds),
            },
            auth: auth_config(&settings.auth, hs256_secret)?,
            cors_origins: parse_origins(&settings.cors_origins)?,
            log_level: settings.log_level.clone(),
            log_format: settings.log_format,
            metrics_addr: settings.metrics_addr,
            shutdown_grace: Duration::from_secs(settings.shutdown_grace_seconds),
            realtime: settings.realtime.check()?,
            protection: settings.protection.check()?,
        })
    }

    /// The pool the server runs on (`migrate` and `check` need one connection).
    pub fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.database_max_connections,
            statement_timeout: self.database_statement_timeout,
            workers: self.workers,
        }
    }

    /// The server refuses to run open: some way of verifying tokens must be set.
    pub fn require_auth(self) -> Result<Self, ConfigError> {
        if self.auth.is_configured() { Ok(self) } else { Err(ConfigError::NoAuth) }
    }

    /// `serve --dev`: a random secret that lives only as long as this process,
    /// and a loopback-only listener, whatever the settings say.
    pub fn into_dev(mut self) -> Self {
        let bytes: [u8; 32] = rand::random();
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.auth.hs256_secret = Some(SecretString::from(secret));
        self.listen.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        self
    }

    /// The database location for logs: engine, host, port, user and database,
    /// never the password or query parameters.
    pub fn database_display(&self) -> String {
        self.database.display()
    }
}

/// Room for a body whose every character is JSON-escaped (`\uXXXX\uXXXX`:
/// 12 bytes for one character outside the BMP), plus the rest of the object.
fn body_limit(fields: FieldLimits) -> usize {
    (64 * 1024).max(12 * (fields.title_chars + fields.description_chars) + 4096)
}

fn database_of(settings: &Settings) -> Result<DatabaseConfig, ConfigError> {
    let mut database: DatabaseConfig = settings.database_url.parse()?;
    match settings.database_pooler.as_str() {
        "auto" => {}
        forced => {
            let pooler = parse_pooler(forced).map_err(|_| ConfigError::BadPooler(forced.to_owned()))?;
            if let DatabaseConfig::Postgres(pg) = &mut database {
                pg.set_pooler(pooler);
            }
        }
    }
    if let Some(url) = settings.database_read_url.as_deref().filter(|url| !url.trim().is_empty()) {
        let DatabaseConfig::Postgres(pg) = &mut database else { return Err(ConfigError::ReadUrlWithSqlite) };
        let max_lag = Duration::from_millis(settings.database_read_max_lag_ms);
        pg.reads = Some(ReadReplicas::parse(url.trim(), max_lag).map_err(|error| match error {
            DatabaseUrlError::Invalid { reason, .. } => ConfigError::BadReadUrl(reason),
            other => ConfigError::BadReadUrl(other.to_string()),
        })?);
    }
    Ok(database)
}

fn parse_origins(list: &str) -> Result<Vec<HeaderValue>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let bad = || ConfigError::BadOrigin(origin.to_owned());
            let (scheme, rest) = origin.split_once("://").ok_or_else(bad)?;
            let valid = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', '*', ' ', '@']);
            if !valid {
                return Err(bad());
            }
            HeaderValue::from_str(origin).map_err(|_| bad())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PgConfig;

    #[test]
    fn origins_are_checked() {
        let origins = parse_origins("http://localhost:3000, https://app.example.com").unwrap();
        assert_eq!(origins, ["http://localhost:3000", "https://app.example.com"]);
        for bad in ["*", "localhost:3000", "https://a.com/path", "ftp://a.com", "https://"] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn read_replicas_need_postgres_and_a_valid_url() {
        let with = |database: &str, read: &str| {
            let cli =
                Cli::try_parse_from(["todo-api", "--database-url", database, "--database-read-url", read]);
            database_of(&cli.unwrap().settings)
        };
        let primary = "postgres://u:pw@p:5432/db";
        let error = with(primary, "postgres://u:hunter2@r1:port/db").unwrap_err().to_string();
        assert!(error.starts_with("DATABASE_READ_URL is not a valid PostgreSQL URL"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let error = with("sqlite:todo.db", "postgres://u@r1/db").unwrap_err().to_string();
        assert!(error.contains("needs a PostgreSQL DATABASE_URL"), "{error}");
        let Ok(DatabaseConfig::Postgres(pg)) = with(primary, "postgres://u@r1:5433,r2:5434/db") else {
            panic!()
        };
        let reads = pg.reads.expect("replicas configured");
        assert_eq!((reads.hosts.len(), reads.max_lag), (2, Duration::from_secs(1)));
        assert!(matches!(with(primary, " "), Ok(DatabaseConfig::Postgres(PgConfig { reads: None, .. }))));
    }

    #[test]
    fn secrets_never_print() {
        let cli =
            Cli::try_parse_from(["todo-api", "--better-auth-secret", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"])
                .unwrap();
        assert!(!format!("{cli:?}").contains("s3cr3t"));
    }
}
