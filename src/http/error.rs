//! The one place errors become HTTP responses. Every body is FastAPI-shaped:
//! `{"detail": "<message>"}`, or `{"detail": [<field errors>]}` for 422.

use std::time::Duration;

use axum::Json;
use axum::http::header::{ETAG, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::domain::{FieldError, Location};
use crate::limit::{Limited, Reason};
use crate::realtime::Refused;
use crate::store::StoreError;

/// The IETF httpapi rate-limit fields (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Not Found")]
    RouteNotFound,
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    /// Never `KeysUnavailable`: that is `AuthUnavailable` (see `From<AuthError>`).
    #[error(transparent)]
    Unauthorized(AuthError),
    /// The token's key (or session) is not cached and the auth server cannot
    /// be reached: not the client's fault, so 503 rather than 401, and nobody
    /// is signed out. Holds `KeysUnavailable` or `SessionsUnavailable`.
    #[error(transparent)]
    AuthUnavailable(AuthError),
    /// Too many session lookups in flight (`SessionLookupsBusy`): 429.
    #[error(transparent)]
    AuthBusy(AuthError),
    #[error("Token subject does not match the user in the path")]
    Forbidden,
    /// The limit, in bytes.
    #[error("Request body is larger than {} KiB", .0 / 1024)]
    PayloadTooLarge(usize),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("Could not read the request body")]
    UnreadableBody,
    #[error("Request validation failed")]
    Validation(Vec<FieldError>),
    #[error("Task not found")]
    TaskNotFound,
    /// `If-Match` did not hold; the task's current tag goes back in `ETag`.
    #[error(
        "Precondition failed: the task was changed since the version in If-Match (its ETag is now {0}); \
         fetch it again and reapply the change"
    )]
    PreconditionFailed(String),
    /// `If-Match` on the list (a bulk action) did not hold; its current
    /// version (`W/"<change seq>"`) goes back in `ETag`.
    #[error(
        "Precondition failed: the list was changed since the version in If-Match (it is now {0}, \
         as X-Change-Seq); fetch it again and decide again"
    )]
    ListChanged(String),
    #[error("Idempotency-Key must be one header of 1 to 255 visible ASCII characters (a UUID, say)")]
    BadIdempotencyKey,
    #[error(
        "This Idempotency-Key was already used with a different request; use a new key for a new request"
    )]
    IdempotencyKeyReused,
    #[error("A request with this Idempotency-Key is still in progress; retry shortly to get its answer")]
    IdempotencyKeyInFlight,
    /// The change feed no longer keeps that position (or never had it).
    #[error(
        "Changes since that position are no longer kept (or never were); fetch the task list again \
         and resume from its X-Change-Seq"
    )]
    ChangesGone,
    #[error("{}", refused_detail(.0))]
    StreamRefused(Refused),
    /// A rate limit refused the request before any work was done.
    #[error("{}", limited_detail(.0))]
    RateLimited(Limited),
    #[error("Task limit reached: a user can have at most {0} tasks; delete some to create more")]
    TaskLimit(u32),
    /// The request ran past `REQUEST_TIMEOUT_SECONDS` and was cancelled.
    #[error("Request took longer than {} s and was cancelled; try again shortly", .0.as_secs())]
    Timeout(Duration),
    /// SIGTERM came: `/ready` says so, so balancers send elsewhere.
    #[error("This server is shutting down; send requests to another instance")]
    Draining,
    /// The database is down or saturated; the cause is logged, not sent.
    #[error("Database unavailable, try again shortly")]
    Unavailable(#[source] StoreError),
    /// A fault of ours; the cause is logged, not sent.
    #[error("Internal server error")]
    Internal(#[source] StoreError),
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::KeysUnavailable | AuthError::SessionsUnavailable => Self::AuthUnavailable(error),
            AuthError::SessionLookupsBusy => Self::AuthBusy(error),
            AuthError::TooManyFailures(limited) => Self::RateLimited(limited),
            cause => Self::Unauthorized(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            error if error.is_transient() => Self::Unavailable(error),
            _ => Self::Internal(error),
        }
    }
}

/// FastAPI's error body; a struct (not `json!`) so field order is kept.
#[derive(Serialize)]
struct Detail<T> {
    detail: T,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::RouteNotFound | Self::TaskNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TaskLimit(_) => StatusCode::CONFLICT,
            Self::UnreadableBody | Self::BadIdempotencyKey => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyKeyInFlight => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) | Self::ListChanged(_) => StatusCode::PRECONDITION_FAILED,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::AuthBusy(_) | Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::AuthUnavailable(_) | Self::Timeout(_) | Self::Draining => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::ChangesGone => StatusCode::GONE,
            Self::StreamRefused(Refused::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StreamRefused(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.record();
        let mut response = self.body();
        self.add_headers(response.headers_mut());
        response
    }
}

impl ApiError {
    /// `{"detail": ...}` with the status; FastAPI's list shape for every 422.
    fn body(&self) -> Response {
        let status = self.status();
        match self {
            Self::Validation(errors) => (status, Json(Detail { detail: errors })).into_response(),
            Self::IdempotencyKeyReused => {
                let error = FieldError::new(
                    "idempotency_key_reused",
                    Location::Header("Idempotency-Key"),
                    self.to_string(),
                );
                (status, Json(Detail { detail: [error] })).into_response()
            }
            _ => (status, Json(Detail { detail: self.to_string() })).into_response(),
        }
    }

    /// What the logs and metrics keep of an error; its cause is never sent.
    fn record(&self) {
        match self {
            // While unreachable, the store logged it once; not again per request.
            Self::Unavailable(cause) if !matches!(cause, StoreError::Unreachable) => {
                tracing::warn!(error = %cause, "database unavailable");
            }
            Self::StreamRefused(reason) => crate::telemetry::metrics().stream_refused(match reason {
                Refused::UserFull(_) => "user_limit",
                Refused::ServerFull(_) => "server_limit",
                Refused::ShuttingDown => "shutting_down",
            }),
            Self::Timeout(_) => tracing::warn!("request timed out"),
            Self::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            _ => {}
        }
    }

    /// `Retry-After` on what is worth retrying, the challenge on a 401, the
    /// rate-limit fields on a 429, the current tag on a 412.
    fn add_headers(&self, headers: &mut HeaderMap) {
        let retry_after = match self {
            Self::AuthUnavailable(_) => Some("5"),
            Self::StreamRefused(reason) if !matches!(reason, Refused::UserFull(_)) => Some("5"),
            Self::AuthBusy(_) | Self::Unavailable(_) | Self::IdempotencyKeyInFlight | Self::Timeout(_) => {
                Some("1")
            }
            _ => None,
        };
        if let Some(seconds) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        match self {
            Self::Unauthorized(cause) => {
                headers.insert(WWW_AUTHENTICATE, challenge(cause));
            }
            Self::RateLimited(limited) => {
                let fields = [
                    (RETRY_AFTER, limited.retry_after_secs().to_string()),
                    (RATELIMIT_POLICY, limited.policy_field()),
                    (RATELIMIT, limited.limit_field()),
                ];
                for (name, value) in fields {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
            }
            Self::PreconditionFailed(etag) | Self::ListChanged(etag) => {
                if let Ok(value) = HeaderValue::from_str(etag) {
                    headers.insert(ETAG, value);
                }
            }
            _ => {}
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

fn refused_detail(reason: &Refused) -> String {
    match reason {
        Refused::UserFull(most) => {
            format!("Too many change streams open for this user (at most {most}); close one to open another")
        }
        Refused::ServerFull(most) => {
            format!("This server has its most change streams open ({most}); try again shortly")
        }
        Refused::ShuttingDown => "This server is shutting down; reconnect to resume the stream".to_owned(),
    }
}

fn limited_detail(limited: &Limited) -> String {
    let retry = limited.retry_after_secs();
    match limited.reason {
        Reason::User => format!(
            "Too many requests for this user (at most {} at once, then one every {} ms); retry in {retry} s",
            limited.rate.burst,
            limited.rate.refill.as_millis()
        ),
        Reason::AuthFailures => {
            format!("Too many failed authentications from this address; retry in {retry} s")
        }
    }
}

/// RFC 6750 §3: `error="invalid_token"` only when a token was presented.
fn challenge(cause: &AuthError) -> HeaderValue {
    HeaderValue::from_static(if cause.token_presented() {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    })
}
