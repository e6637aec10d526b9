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
use super::openapi::{
    AuthResponses, BodyResponses, ErrorBody, ListParamsDoc, TaskCreate, TaskNotFound, TaskPath, TaskUpdate,
    UserPath, ValidationErrorBody,
};
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

#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks",
    operation_id = "list_tasks",
    tag = "tasks",
    summary = "List the user's tasks",
    params(UserPath, ListParamsDoc),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A bare array of tasks", body = Vec<Task>,
         headers(("X-Total-Count" = i64, description = "How many tasks match the filter in all"))),
        AuthResponses,
        (status = 422, description = "An invalid query parameter", body = ValidationErrorBody),
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/{user_id}/tasks",
    operation_id = "create_task",
    tag = "tasks",
    summary = "Create a task",
    params(UserPath),
    request_body(content = TaskCreate, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new task", body = Task,
         headers(("Location" = String, description = "`/api/{user_id}/tasks/{id}`"))),
        AuthResponses,
        BodyResponses,
        (status = 409, description = "The user already has `MAX_TASKS_PER_USER` tasks", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    owner: Owner,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let new = NewTask::from_json(&body).map_err(ApiError::Validation)?;
    let writer = Writer { user_id: owner.id(), email: owner.0.email.as_deref() };
    let max_tasks = state.limits.max_tasks_per_user;
    let task =
        state.store.create_task(writer, &new, max_tasks).await?.ok_or(ApiError::TaskLimit(max_tasks))?;
    let location = format!("/api/{}/tasks/{}", utf8_percent_encode(&task.user_id, PATH_SEGMENT), task.id);
    let location = HeaderValue::try_from(location).expect("percent-encoded paths are valid header values");
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(task)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "get_task",
    tag = "tasks",
    summary = "Read a task",
    params(TaskPath),
    security(("bearer" = [])),
    responses((status = 200, description = "The task", body = Task), AuthResponses, TaskNotFound)
)]
pub async fn get(State(state): State<AppState>, owner: Owner, task: TaskRef) -> Result<Json<Task>, ApiError> {
    let id = task.require()?;
    found(state.store.get_task(owner.id(), id).await?)
}

/// `PUT` and `PATCH` are one partial update (frontends written for the
/// original backend send partial bodies with `PUT`). OpenAPI needs a distinct
/// operation id per method, so this declares both from one definition.
macro_rules! partial_update {
    ($($name:ident: $method:ident, $operation_id:literal, $summary:literal;)*) => {$(
        #[utoipa::path(
            $method,
            path = "/api/{user_id}/tasks/{id}",
            operation_id = $operation_id,
            tag = "tasks",
            summary = $summary,
            params(TaskPath),
            request_body(content = TaskUpdate, content_type = "application/json"),
            security(("bearer" = [])),
            responses(
                (status = 200, description = "The changed task", body = Task),
                AuthResponses,
                BodyResponses,
                TaskNotFound,
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            owner: Owner,
            task: TaskRef,
            JsonObject(body): JsonObject,
        ) -> Result<Json<Task>, ApiError> {
            let patch = TaskPatch::from_json(&body).map_err(ApiError::Validation)?;
            let id = task.require()?;
            found(state.store.update_task(owner.id(), id, &patch).await?)
        }
    )*};
}

partial_update! {
    update: put, "update_task", "Change a task (only the fields sent)";
    patch: patch, "patch_task", "Change a task (only the fields sent; same as PUT)";
}

#[utoipa::path(
    patch,
    path = "/api/{user_id}/tasks/{id}/complete",
    operation_id = "toggle_task",
    tag = "tasks",
    summary = "Flip a task's `completed` (atomically)",
    params(TaskPath),
    security(("bearer" = [])),
    responses((status = 200, description = "The task, flipped", body = Task), AuthResponses, TaskNotFound)
)]
pub async fn toggle(
    State(state): State<AppState>,
    owner: Owner,
    task: TaskRef,
) -> Result<Json<Task>, ApiError> {
    let id = task.require()?;
    found(state.store.toggle_task(owner.id(), id).await?)
}

#[utoipa::path(
    delete,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "delete_task",
    tag = "tasks",
    summary = "Delete a task",
    params(TaskPath),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted; no body"), AuthResponses, TaskNotFound)
)]
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
