//! The one line a bad setting stops startup with.

use crate::auth::MIN_SECRET_BYTES;
use crate::store::DatabaseUrlError;

/// Why the settings cannot run; each message names the setting and what it takes.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    DatabaseUrl(#[from] DatabaseUrlError),
    #[error(
        "BETTER_AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes (it has {0}); generate one with `openssl rand -base64 32`"
    )]
    SecretTooShort(usize),
    #[error(
        "no authentication configured: set BETTER_AUTH_URL (Better Auth's JWKS) or BETTER_AUTH_SECRET (HS256), or run `todo-api serve --dev` to try it out"
    )]
    NoAuth,
    #[error("{0} must be an http(s) URL like https://app.example.com")]
    BadUrl(&'static str),
    #[error("BETTER_AUTH_SESSIONS=true needs BETTER_AUTH_URL (where Better Auth answers get-session)")]
    SessionsNeedUrl,
    #[error("set only one of JWKS_URL and JWKS_FILE")]
    TwoJwksSources,
    #[error("CORS_ORIGINS entry {0:?} is not an origin like https://app.example.com")]
    BadOrigin(String),
    #[error("DATABASE_POOLER {0:?} is not auto, none or transaction")]
    BadPooler(String),
    #[error("DATABASE_READ_URL is not a valid PostgreSQL URL: {0}")]
    BadReadUrl(String),
    #[error("DATABASE_READ_URL needs a PostgreSQL DATABASE_URL (SQLite reads are local already)")]
    ReadUrlWithSqlite,
    #[error("DATABASE_LISTEN_URL is not a valid PostgreSQL URL: {0}")]
    BadListenUrl(String),
    #[error("TRUSTED_PROXIES entry {0:?} is not an IP address or a CIDR range like 10.0.0.0/8")]
    BadProxy(String),
    #[error("LOG_LEVEL {0:?} is not a level (error, warn, info, debug, trace) or a tracing filter")]
    BadLogLevel(String),
}
