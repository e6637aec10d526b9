//! What `front` records of each request: its id, its route template and
//! method as static labels, and the in-flight gauge; and `GET /metrics`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use super::{AppState, DOCS_PATH, METRICS_PATH, OPENAPI_PATH};
use crate::store::Lifecycle;
use crate::telemetry::metrics;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's id is kept if it is a plausible id; anything else is replaced, so
/// logs never carry arbitrary client text.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    let plausible = |id: &&HeaderValue| {
        (1..=64).contains(&id.len())
            && id.as_bytes().iter().all(|&b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    if let Some(id) = headers.get(&X_REQUEST_ID).filter(plausible) {
        return id.clone();
    }
    let mut hex = [0u8; 16];
    let random = rand::random::<u64>();
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[(random >> (60 - 4 * i) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&hex).expect("hex digits are a valid header value")
}

/// The route template a path is served by, as the router declares it (a
/// test holds the two together): a metric label and a log field that never
/// carries a user id or task id, known before the router runs and without
/// an allocation.
pub fn route_of(path: &str) -> &'static str {
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    let mut next = || segments.next().filter(|segment| !segment.is_empty());
    let route = match (next(), next(), next(), next(), next(), next()) {
        (Some("api"), Some(_), Some("tasks"), None, ..) => "/api/{user_id}/tasks",
        (Some("api"), Some(_), Some("tasks"), Some(_), None, _) => "/api/{user_id}/tasks/{id}",
        (Some("api"), Some(_), Some("tasks"), Some(_), Some("complete"), None) => {
            "/api/{user_id}/tasks/{id}/complete"
        }
        (Some("api"), Some(_), Some("changes"), None, ..) => "/api/{user_id}/changes",
        (Some("api"), Some(_), Some("events"), None, ..) => "/api/{user_id}/events",
        (Some("api"), Some(_), Some("events"), Some("ticket"), None, _) => "/api/{user_id}/events/ticket",
        _ => "unmatched",
    };
    match path {
        "/health" => "/health",
        "/ready" => "/ready",
        METRICS_PATH => METRICS_PATH,
        OPENAPI_PATH => OPENAPI_PATH,
        _ if path.starts_with(DOCS_PATH) => DOCS_PATH,
        _ => route,
    }
}

/// The method as a static label.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Decrements the in-flight gauge however the request ends (even if the client
/// goes away and the future is dropped).
pub struct InFlight;

impl InFlight {
    pub fn start() -> Self {
        metrics().request_started();
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics().request_ended();
    }
}

/// `GET /metrics`: Prometheus (OpenMetrics) text. Pool gauges are read now.
pub async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    let pools: Vec<_> = state.store.pool_stats().iter().map(|p| (p.name, p.open, p.idle, p.max)).collect();
    metrics().set_pools(&pools);
    metrics().set_replica_reads(&state.store.replica_reads());
    metrics().set_worker_connections(&state.balance.open());
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
        let fresh = request_id(&HeaderMap::new());
        assert_eq!(fresh.len(), 16);
        assert!(fresh.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn every_documented_route_is_its_own_label_and_nothing_else_is() {
        let (_, document) = super::super::router::api();
        for template in document.paths.paths.keys() {
            let path = template.replace("{user_id}", "alice").replace("{id}", "7");
            assert_eq!(route_of(&path), template, "{path}");
        }
        for other in
            ["/", "/api", "/api/alice", "/api//tasks", "/api/alice/tasks/7/x", "/nope", "/api/a/taskss"]
        {
            assert_eq!(route_of(other), "unmatched", "{other}");
        }
        assert_eq!(route_of(METRICS_PATH), METRICS_PATH);
        assert_eq!(route_of("/docs/index.html"), DOCS_PATH);
    }
}
