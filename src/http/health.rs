//! Unauthenticated probes for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::auth::{AuthError, Reachability};
use crate::store::Lifecycle;

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "health", summary = "Liveness",
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = Object, example = json!({"status": "ok"}))))]
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and, with a JWKS, keys have been loaded
/// (503 with the standard error body if not, and from SIGTERM on). Keys that could not be refreshed
/// lately still verify tokens, so they are reported as `stale`, not unready.
/// With session tokens on, missing keys are not fatal (a Better Auth without
/// the jwt plugin has none), and the session endpoint is reported as the last
/// lookup found it: cached sessions keep working while it is away.
#[utoipa::path(get, path = "/ready", operation_id = "ready", tag = "health", summary = "Readiness: database and auth keys",
    responses(
        (status = 200, description = "Ready", body = Object,
         example = json!({"status": "ready", "database": "ok", "jwks": "ok", "sessions": "not configured"})),
        (status = 503, description = "Database or auth keys unavailable, or the server is draining", body = ErrorBody,
         headers(("Retry-After" = String, description = "Seconds to wait"))),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.drain.started() {
        return Err(ApiError::Draining);
    }
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    let sessions = state.verifier.sessions().map(|sessions| sessions.reachability());
    let jwks = match state.verifier.jwks().map(|cache| cache.status()) {
        None => "not configured",
        Some(status) if status.last_success.is_none() && sessions.is_some() => "unavailable",
        Some(status) if status.last_success.is_none() => {
            return Err(ApiError::AuthUnavailable(AuthError::KeysUnavailable));
        }
        Some(status) if status.last_error.is_some() => "stale",
        Some(_) => "ok",
    };
    let sessions = match sessions {
        None => "not configured",
        Some(Reachability::NotAskedYet) => "not asked yet",
        Some(Reachability::Answered) => "ok",
        Some(Reachability::Unreachable) => "unreachable",
    };
    Ok(Json(json!({ "status": "ready", "database": "ok", "jwks": jwks, "sessions": sessions })))
}
