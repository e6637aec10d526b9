//! `REQUEST_TIMEOUT_SECONDS`: a request that runs too long is cancelled and
//! answered 503 in the contract's error shape. tower-http's `TimeoutLayer`
//! would answer with an empty body; this is the same `tokio::time::timeout`
//! with our own response.
//!
//! Cancelling drops the handler's future: an open SQLite transaction rolls
//! back, and a PostgreSQL statement already sent either commits or is stopped
//! by `statement_timeout` (shorter by default), so nothing is half-written.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => {
            let mut response = ApiError::Timeout(limit).into_response();
            response.extensions_mut().insert(TimedOut);
            response
        }
    }
}

/// On a response to a request cut off by the deadline: a body that did not
/// come in time is not waited for any longer (see `linger`).
#[derive(Debug, Clone, Copy)]
pub struct TimedOut;
