//! Handlers of `/api/{user_id}/tasks...`. Each receives an `Owner` (already
//! authenticated and matched to the path), so every store call is scoped to
//! that owner and a foreign task is indistinguishable from a missing one.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::extract::{JsonObject, Owner, TaskRef};
use super::{ApiError, AppState};
use crate::domain::{FieldError, ListParams, ListQuery, Location, NewTask, Task, TaskPatch};
use crate::store::Writer;

pub const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// Characters escaped when a user id is put back into a path segment
/// (RFC 3986 `pchar` minus what would end or split the segment).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

pub async fn list(
    State(state): State<AppState>,
    owner: Owner,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    // The decoder rejects a query it cannot read at all (e.g. a repeated key).
    let Query(params) = params.map_err(|_| {
        ApiError::Validation(vec![FieldError::new(
            "query_invalid",
            Location::Query("query"),
            "Query string could not be parsed; give each parameter at most once",
        )])
    })?;
    let query = ListQuery::parse(&params).map_err(ApiError::Validation)?;
    let page = state.store.list_tasks(owner.id(), &query).await?;
    Ok(([(X_TOTAL_COUNT, HeaderValue::from(page.total))], Json(page.tasks)).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    owner: Owner,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let new = NewTask::from_json(&body).map_err(ApiError::Validation)?;
    let writer = Writer { user_id: owner.id(), email: owner.0.email.as_deref() };
    let task = state.store.create_task(writer, &new).await?;
    let location = format!("/api/{}/tasks/{}", utf8_percent_encode(&task.user_id, PATH_SEGMENT), task.id);
    let location = HeaderValue::try_from(location).expect("percent-encoded paths are valid header values");
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(task)).into_response())
}

pub async fn get(State(state): State<AppState>, owner: Owner, task: TaskRef) -> Result<Json<Task>, ApiError> {
    let id = task.require()?;
    found(state.store.get_task(owner.id(), id).await?)
}

/// `PUT` and `PATCH`: both partial, only present fields change.
pub async fn update(
    State(state): State<AppState>,
    owner: Owner,
    task: TaskRef,
    JsonObject(body): JsonObject,
) -> Result<Json<Task>, ApiError> {
    let patch = TaskPatch::from_json(&body).map_err(ApiError::Validation)?;
    let id = task.require()?;
    found(state.store.update_task(owner.id(), id, &patch).await?)
}

pub async fn toggle(
    State(state): State<AppState>,
    owner: Owner,
    task: TaskRef,
) -> Result<Json<Task>, ApiError> {
    let id = task.require()?;
    found(state.store.toggle_task(owner.id(), id).await?)
}

pub async fn delete(
    State(state): State<AppState>,
    owner: Owner,
    task: TaskRef,
) -> Result<StatusCode, ApiError> {
    let id = task.require()?;
    if state.store.delete_task(owner.id(), id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::TaskNotFound)
    }
}

fn found(task: Option<Task>) -> Result<Json<Task>, ApiError> {
    task.map(Json).ok_or(ApiError::TaskNotFound)
}
