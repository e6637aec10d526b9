//! `DATABASE_URL` → the engine and its connection options.

use std::str::FromStr;

use super::postgres::PgConfig;
use super::sqlite::SqliteOptions;
use super::url_error::DatabaseUrlError;

// Made once at startup and kept: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    Sqlite(SqliteOptions),
    Postgres(PgConfig),
}

impl FromStr for DatabaseConfig {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(url.parse()?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.parse()?))
        } else {
            Err(DatabaseUrlError::UnknownScheme)
        }
    }
}

impl DatabaseConfig {
    /// The database location for logs: engine, host, port, user and database,
    /// never the password or query parameters.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(options) => options.display(),
            Self::Postgres(options) => options.display(),
        }
    }
}

impl DatabaseConfig {
    /// The read replicas for logs (`none` without `DATABASE_READ_URL`), never a password.
    pub fn replicas_display(&self) -> String {
        match self {
            Self::Postgres(PgConfig { reads: Some(reads), .. }) => {
                let hosts: Vec<_> = reads.hosts.iter().map(PgConfig::display).collect();
                format!("{} (lag bound {} ms)", hosts.join(", "), reads.max_lag.as_millis())
            }
            _ => "none".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_choose_the_engine() {
        assert!(matches!("sqlite:todo.db".parse(), Ok(DatabaseConfig::Sqlite(_))));
        assert!(matches!("sqlite::memory:".parse(), Ok(DatabaseConfig::Sqlite(_))));
        assert!(matches!("postgres://localhost/x".parse(), Ok(DatabaseConfig::Postgres(_))));
        let err = "mysql://localhost/x".parse::<DatabaseConfig>().unwrap_err();
        assert_eq!(err.to_string(), "DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
    }
}
