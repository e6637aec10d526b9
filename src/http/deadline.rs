//! `REQUEST_TIMEOUT_SECONDS`: a request that runs too long is cancelled and
//! answered 503 in the contract's error shape. tower-http's `TimeoutLayer`
//! would answer with an empty body; this is the same `tokio::time::timeout`
//! with our own response.
//!
//! Cancelling drops the handler's future: an open SQLite transaction rolls
//! back, and a PostgreSQL statement already sent either commits or is stopped
//! by `statement_timeout` (shorter by default), so nothing is half-written.
//!
//! It runs inside `linger`'s middleware rather than as a layer of its own:
//! each `from_fn` layer boxes the future of everything below it, per request.

use std::future::Future;
use std::time::Duration;

use axum::response::{IntoResponse, Response};

use super::ApiError;

/// `answer`, or the 503 once `limit` has passed; and whether it had.
pub async fn within(limit: Duration, answer: impl Future<Output = Response>) -> (Response, bool) {
    match tokio::time::timeout(limit, answer).await {
        Ok(response) => (response, false),
        Err(_elapsed) => (ApiError::Timeout(limit).into_response(), true),
    }
}
