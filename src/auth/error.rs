use thiserror::Error;

use crate::limit::Limited;

/// Why a request is not authenticated. The messages are the response `detail`:
/// each names the cause so it can be found in docs/frontend.md's troubleshooting
/// table, and none repeats any part of the token or any key.
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
    #[error("Token algorithm does not match its signing key")]
    AlgorithmKeyMismatch,
    #[error("Token has critical header parameters this server does not support")]
    CriticalHeader,
    #[error("Token signing key is not known to this server")]
    UnknownKey,
    #[error("Token signature is invalid")]
    BadSignature,
    #[error("Token has expired")]
    Expired,
    #[error("Token is not yet valid")]
    NotYetValid,
    #[error("Token is missing a valid {0} claim")]
    MissingClaim(&'static str),
    #[error("Token issuer is not accepted")]
    WrongIssuer,
    #[error("Token audience is not accepted")]
    WrongAudience,
    #[error("Stream ticket is invalid or has expired; ask POST /api/{{user_id}}/events/ticket for a new one")]
    BadTicket,
    #[error("Session is not known to Better Auth (signed out or expired); sign in again")]
    UnknownSession,
    /// Too many session tokens being looked up at once (a flood of them): 429.
    #[error("Too many sign-in checks in progress; retry shortly")]
    SessionLookupsBusy,
    /// Not the client's fault: Better Auth's session endpoint did not answer and
    /// the session is not cached. 503, as for keys.
    #[error("Better Auth's session endpoint is unavailable; try again shortly")]
    SessionsUnavailable,
    /// Not the client's fault: the key server is unreachable and the token's key
    /// is not cached. Answered 503, not 401, so nobody is signed out by an outage.
    #[error("Authentication keys are unavailable; try again shortly")]
    KeysUnavailable,
    /// This client address failed to authenticate too often lately: refused
    /// (429) before its token is looked at.
    #[error("Too many failed authentications from this address; retry in {} s", .0.retry_after_secs())]
    TooManyFailures(Limited),
}

impl AuthError {
    /// A stable name for metrics (`auth_failures_total{reason=...}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::NotBearer => "not_bearer",
            Self::MultipleHeaders => "multiple_headers",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAccepted => "algorithm_not_accepted",
            Self::AlgorithmKeyMismatch => "algorithm_key_mismatch",
            Self::CriticalHeader => "critical_header",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::MissingClaim(_) => "missing_claim",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::BadTicket => "bad_ticket",
            Self::UnknownSession => "unknown_session",
            Self::SessionLookupsBusy => "session_lookups_busy",
            Self::SessionsUnavailable => "sessions_unavailable",
            Self::KeysUnavailable => "keys_unavailable",
            Self::TooManyFailures(_) => "too_many_failures",
        }
    }

    /// Whether the client presented a bearer token at all (RFC 6750: only then
    /// does the challenge carry `error="invalid_token"`).
    pub fn token_presented(&self) -> bool {
        !matches!(self, Self::MissingCredentials | Self::NotBearer)
    }

    /// Whether the failure says something about the client (a bad, missing or
    /// expired token), as opposed to this server or its auth server.
    pub fn is_clients_fault(&self) -> bool {
        !matches!(
            self,
            Self::KeysUnavailable
                | Self::SessionsUnavailable
                | Self::SessionLookupsBusy
                | Self::TooManyFailures(_)
        )
    }
}
