//! The routes and their OpenAPI document, declared together, and the layers
//! around them.

use super::error::ApiError;
use super::events::LAST_EVENT_ID;
use super::idempotent::IDEMPOTENCY_KEY;
use super::paths::{DOCS_PATH, METRICS_PATH, OPENAPI_PATH};
use super::responses::{X_CHANGE_SEQ, X_TOTAL_COUNT};
use super::state::AppState;
use super::{bulk, events, health, observe, openapi, tasks};
use crate::config::Limits;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use axum::routing::get;
use std::time::Duration;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

/// The API routes and their OpenAPI document, from the same declarations.
pub(super) fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(tasks::list, tasks::create, bulk::complete_all, bulk::delete_matching))
        .routes(routes!(tasks::get, tasks::update, tasks::patch, tasks::delete))
        .routes(routes!(tasks::toggle));
    api.routes(routes!(events::changes))
        .routes(routes!(events::events))
        .routes(routes!(events::ticket))
        .split_for_parts()
}

/// The OpenAPI 3.1 document (`GET /openapi.json`, `todo-api openapi`), with
/// the limits this server is configured with.
pub fn openapi_document(limits: &Limits) -> utoipa::openapi::OpenApi {
    let mut document = api().1;
    openapi::apply_limits(&mut document, limits);
    document
}

/// The routes, the docs, and the contract's 404 and 405 bodies; `/metrics`
/// too unless it is served on its own address (`metrics_router`).
pub fn router(state: AppState, serve_metrics: bool) -> Router {
    let (mut api, mut document) = api();
    openapi::apply_limits(&mut document, &state.limits);
    if serve_metrics {
        api = api.route(METRICS_PATH, get(observe::metrics_endpoint));
    }
    api.merge(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, document))
        .fallback(|| async { ApiError::RouteNotFound })
        // axum still adds the `Allow` header to this response.
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .with_state(state)
}

/// `/metrics` alone, for `METRICS_ADDR`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route(METRICS_PATH, get(observe::metrics_endpoint)).with_state(state)
}

/// The routed service: CORS around the router. What applies to every
/// request and response besides, 404s and preflights included, is `front`'s
/// (each worker puts it around this, per connection).
pub fn service(
    state: AppState,
    cors_origins: Vec<HeaderValue>,
    serve_metrics: bool,
) -> impl tower::Service<Request, Response = Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    with_layers(router(state, serve_metrics), cors_origins)
}

/// `router` wrapped in CORS. Public so the benchmark's ceiling server
/// (`bench/ceiling.rs`) measures this very stack.
pub fn with_layers(
    router: Router,
    cors_origins: Vec<HeaderValue>,
) -> impl tower::Service<Request, Response = Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    cors(cors_origins).layer(router)
}

/// Listed origins get their origin echoed with credentials allowed; any other
/// origin gets no CORS headers at all (never `*` with credentials).
fn cors(origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH, IDEMPOTENCY_KEY, LAST_EVENT_ID])
        .expose_headers([LOCATION, X_TOTAL_COUNT, X_CHANGE_SEQ, ETAG])
        .max_age(Duration::from_secs(600))
}
