use thiserror::Error;

/// Why a request is not authenticated. The messages are the 401 `detail`: each
/// names the cause so it can be found in the README's troubleshooting table,
/// and none repeats any part of the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("Not authenticated")]
    MissingCredentials,
    #[error("Authorization header must use the Bearer scheme")]
    NotBearer,
    #[error("Send exactly one Authorization header")]
    MultipleHeaders,
    #[error("Token is too large")]
    TooLarge,
    #[error("Token is malformed")]
    Malformed,
    #[error("Token algorithm is not accepted")]
    AlgorithmNotAccepted,
    #[error("Token has critical header parameters this server does not support")]
    CriticalHeader,
    #[error("Token signature is invalid")]
    BadSignature,
    #[error("Token has expired")]
    Expired,
    #[error("Token is not yet valid")]
    NotYetValid,
    #[error("Token is missing a valid {0} claim")]
    MissingClaim(&'static str),
}

impl AuthError {
    /// Whether the client presented a bearer token at all (RFC 6750: only then
    /// does the challenge carry `error="invalid_token"`).
    pub fn token_presented(&self) -> bool {
        !matches!(self, Self::MissingCredentials | Self::NotBearer)
    }
}
