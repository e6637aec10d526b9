//! One line per request, request ids, and request metrics, in one middleware.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;
use crate::telemetry::metrics;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's id is kept if it is a plausible id; anything else is replaced, so
/// logs never carry arbitrary client text.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| format!("{:016x}", rand::random::<u64>()), str::to_owned)
}

/// Decrements the in-flight gauge however the request ends (even if the client
/// goes away and the future is dropped).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics().request_started();
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics().request_ended();
    }
}

pub async fn observe(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = InFlight::start();
    let id = request_id(request.headers());
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    // The `Owner` extractor fills in `user_id` once the token has verified.
    let span =
        tracing::info_span!("request", request_id = %id, %method, %route, user_id = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request"));
    metrics().request_finished(route.to_owned(), method.as_str(), status, elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

/// `GET /metrics`: Prometheus (OpenMetrics) text. Pool gauges are read now.
pub async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    let pools: Vec<_> = state.store.pool_stats().iter().map(|p| (p.name, p.open, p.idle, p.max)).collect();
    metrics().set_pools(&pools);
    let content_type = HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    ([(CONTENT_TYPE, content_type)], metrics().render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_request_ids_are_kept_and_others_replaced() {
        let with = |id: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(X_REQUEST_ID, HeaderValue::from_str(id).unwrap());
            request_id(&headers)
        };
        assert_eq!(with("abc-123_x.y:z"), "abc-123_x.y:z");
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            let replaced = with(bad);
            assert_eq!(replaced.len(), 16, "{bad:?}");
            assert_ne!(replaced, bad);
        }
        assert_eq!(request_id(&HeaderMap::new()).len(), 16);
    }
}
