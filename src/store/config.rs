//! `DATABASE_URL` → the engine and its connection options.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL must start with sqlite:, postgres:// or postgresql://")]
    UnknownScheme,
    // sqlx's message names the bad part, never the password.
    #[error("DATABASE_URL is not a valid {engine} URL: {reason}")]
    Invalid { engine: &'static str, reason: String },
}

impl FromStr for DatabaseConfig {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| invalid("SQLite", e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // With WAL, NORMAL loses nothing on a process crash (only on power loss).
                .synchronous(SqliteSynchronous::Normal)
                // The busy timeout is the statement timeout (see `Store::connect`).
                .foreign_keys(true);
            Ok(Self::Sqlite(options))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(&without_channel_binding(url))
                .map_err(|e| invalid("PostgreSQL", e))?;
            Ok(Self::Postgres(options))
        } else {
            Err(DatabaseUrlError::UnknownScheme)
        }
    }
}

fn invalid(engine: &'static str, error: sqlx::Error) -> DatabaseUrlError {
    DatabaseUrlError::Invalid { engine, reason: error.to_string() }
}

/// Neon's URLs carry `channel_binding=require`, a libpq option sqlx does not
/// know (it authenticates with SCRAM-SHA-256 over the TLS that `sslmode`
/// demands, without channel binding). Dropping it keeps those URLs working as
/// pasted, without a warning per connection.
fn without_channel_binding(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query.split('&').filter(|pair| !pair.starts_with("channel_binding=")).collect();
    if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgSslMode;

    #[test]
    fn neon_urls_are_accepted_with_tls_required() {
        let url = "postgresql://alex:secret@ep-cool-1.eu-central-1.aws.neon.tech/neondb\
                   ?sslmode=require&channel_binding=require";
        let DatabaseConfig::Postgres(options) = url.parse().unwrap() else { panic!("engine") };
        assert!(matches!(options.get_ssl_mode(), PgSslMode::Require));
        assert_eq!(options.get_database(), Some("neondb"));
    }

    #[test]
    fn channel_binding_is_dropped_wherever_it_stands() {
        assert_eq!(without_channel_binding("postgres://h/d?channel_binding=require"), "postgres://h/d");
        assert_eq!(
            without_channel_binding("postgres://h/d?channel_binding=require&sslmode=require"),
            "postgres://h/d?sslmode=require"
        );
        assert_eq!(without_channel_binding("postgres://h/d"), "postgres://h/d");
    }

    #[test]
    fn schemes_choose_the_engine() {
        assert!(matches!("sqlite:todo.db".parse(), Ok(DatabaseConfig::Sqlite(_))));
        assert!(matches!("sqlite::memory:".parse(), Ok(DatabaseConfig::Sqlite(_))));
        assert!(matches!("postgres://localhost/x".parse(), Ok(DatabaseConfig::Postgres(_))));
        let err = "mysql://localhost/x".parse::<DatabaseConfig>().unwrap_err();
        assert_eq!(err.to_string(), "DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
    }
}
