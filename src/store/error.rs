//! What can go wrong in the store, sorted by what the caller should do about
//! it: retry later (503), or nothing (a fault, 500). Driver errors are kept
//! as sources for the logs; their text never reaches a client.

use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long startup waits for a PostgreSQL that is not accepting connections
/// yet (it may be starting alongside us) before giving up.
pub const STARTUP_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, is restarting, timed out or is locked:
    /// worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Not tried: no connection is open (the database went away, or the store
    /// was closed) and none has been re-established yet.
    #[error("database unreachable")]
    Unreachable,
    /// Not tried: too much work was already queued for the database.
    #[error("database saturated: no room in the queue within {} ms", .0.as_millis())]
    Saturated(Duration),
    #[error("database error: {0}")]
    Database(#[source] BoxError),
    #[error("migration failed: {0}")]
    Migrate(#[source] BoxError),
    #[error("no answer from {0} within {secs} s", secs = STARTUP_WAIT.as_secs())]
    NoAnswer(String),
}

impl StoreError {
    /// Worth retrying: the answer is 503 with `Retry-After`.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Unreachable | Self::Saturated(_))
    }
}

/// SQLSTATEs that mean "not now" rather than "wrong": statement or lock
/// timeout (57014, 55P03), server shutdown or restart (class 57P), connection
/// failures (class 08), too many connections (53300), and a serialization
/// failure or deadlock victim (40001, 40P01).
pub fn is_transient_sqlstate(code: &str) -> bool {
    matches!(code, "57014" | "55P03" | "53300" | "40001" | "40P01")
        || code.starts_with("57P")
        || code.starts_with("08")
}

/// tokio-postgres's `Display` names only the kind of an error; the cause
/// (which option, which I/O failure) is in its source.
pub fn describe(error: &tokio_postgres::Error) -> String {
    use std::error::Error;
    match error.source() {
        // The wording an operator searches for when the server is not there.
        Some(cause) if error.to_string() == "error connecting to server" => {
            format!("error communicating with database: {cause}")
        }
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let described: BoxError = describe(&error).into();
        if let Some(db) = error.as_db_error() {
            return if is_transient_sqlstate(db.code().code()) {
                Self::Unavailable(described)
            } else {
                Self::Database(described)
            };
        }
        // Without a server's answer the error is the connection's (closed,
        // I/O, TLS, protocol), except the two conversions, which are ours.
        // tokio-postgres does not expose its error kind; its text is stable.
        let text = error.to_string();
        if text.starts_with("error serializing") || text.starts_with("error deserializing") {
            Self::Database(described)
        } else {
            Self::Unavailable(described)
        }
    }
}

/// SQLite's BUSY and LOCKED (after the busy timeout): another writer holds the file.
pub fn is_busy(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    matches!(error.sqlite_error_code(), Some(DatabaseBusy | DatabaseLocked))
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        if is_busy(&error) { Self::Unavailable(error.into()) } else { Self::Database(error.into()) }
    }
}
