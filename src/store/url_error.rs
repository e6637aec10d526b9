//! Why a `DATABASE_URL` cannot be used.

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL must start with sqlite:, postgres:// or postgresql://")]
    UnknownScheme,
    // The reason names the bad part, never the password.
    #[error("DATABASE_URL is not a valid {engine} URL: {reason}")]
    Invalid { engine: &'static str, reason: String },
}
