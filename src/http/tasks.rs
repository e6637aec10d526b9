//! Handlers of `/api/{user_id}/tasks...`. Each receives an `Owner` (already
//! authenticated and matched to the path), so every store call is scoped to
//! that owner and a foreign task is indistinguishable from a missing one.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::extract::{Conditions, JsonObject, OptionalJsonObject, Owner, TaskRef, query_unreadable};
use super::idempotent::{self, Guarded, IdempotencyKey};
use super::openapi::{
    AuthResponses, BodyResponses, ErrorBody, IdempotencyKeyHeader, IdempotencyResponses, IfMatchHeader,
    IfNoneMatchHeader, ListParamsDoc, NotModifiedResponses, PreconditionResponses, TaskNotFound, TaskPath,
    UserPath, ValidationErrorBody,
};
use super::responses::{
    X_CHANGE_SEQ, X_TOTAL_COUNT, announced, created, hex, not_modified, tag_header, with_etag,
};
use super::{ApiError, AppState};
use crate::domain::{
    CompletionBody, IfMatch, ListParams, ListQuery, NewTask, Task, TaskCreate, TaskId, TaskPatch, TaskUpdate,
    TaskView, parse_completion, task_etag,
};
use crate::store::Tasks;
use crate::store::idempotency::{Claimed, Gated};
use crate::store::{TaskSink, Writer, Written};

#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks",
    operation_id = "list_tasks",
    tag = "tasks",
    summary = "List the user's tasks",
    params(UserPath, ListParamsDoc, IfNoneMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A bare array of tasks", body = Vec<Task>,
         headers(("X-Total-Count" = i64, description = "How many tasks match the filter in all"),
                 ("X-Change-Seq" = i64, description = "The user's change number as of this list: \
                                                      resume `/changes` or `/events` from it"),
                 ("ETag" = String, description = "Covers the page and the total"))),
        NotModifiedResponses,
        AuthResponses,
        (status = 422, description = "An invalid query parameter", body = ValidationErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    owner: Owner,
    conditions: Conditions,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|_| query_unreadable())?;
    let query = ListQuery::parse(&params).map_err(ApiError::Validation)?;
    let listed = state.store.list_into(owner.id(), &query, ListBody::default()).await?;
    let (body, etag) = listed.sink.finish(listed.total);
    if conditions.not_modified(&etag) {
        return Ok(not_modified(&etag));
    }
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (X_TOTAL_COUNT, HeaderValue::from(listed.total)),
        (X_CHANGE_SEQ, HeaderValue::from(listed.change_seq)),
        (ETAG, tag_header(&etag)),
    ];
    Ok((headers, body).into_response())
}

/// A list's body, written task by task as the rows come (no `Task` per
/// row, no second pass), and its entity tag: a digest of what the page
/// shows (each task's id and revision, in order) and of the total, so any
/// write to a listed task, or one that changes the page or the count,
/// changes it.
#[derive(Default)]
struct ListBody {
    json: Vec<u8>,
    digest: Sha256,
}

/// About what one task takes in JSON (ids, a short title, two timestamps).
const TASK_JSON_BYTES: usize = 192;

impl TaskSink for ListBody {
    fn expect(&mut self, tasks: usize) {
        // Capped: an estimate must not make a huge allocation on its own.
        self.json.reserve(tasks.min(20_000) * TASK_JSON_BYTES);
    }

    fn push(&mut self, task: TaskView<'_>) {
        self.json.push(if self.json.is_empty() { b'[' } else { b',' });
        task.write_json(&mut self.json);
        self.digest.update(task.id.to_le_bytes());
        self.digest.update(task.revision.to_le_bytes());
    }
}

impl ListBody {
    /// The JSON array and the tag.
    fn finish(mut self, total: i64) -> (Vec<u8>, String) {
        match self.json.is_empty() {
            true => self.json.extend_from_slice(b"[]"),
            false => self.json.push(b']'),
        }
        self.digest.update(total.to_le_bytes());
        let etag = format!("\"l{}\"", hex(&self.digest.finalize()[..12]));
        (self.json, etag)
    }
}

/// The answer to a conditional write.
fn written(outcome: Written<Task>) -> Result<Response, ApiError> {
    match outcome {
        Written::Done(task) => Ok(with_etag(StatusCode::OK, task)),
        Written::Missing => Err(ApiError::TaskNotFound),
        Written::Changed(current) => Err(ApiError::PreconditionFailed(task_etag(current.revision))),
    }
}

#[utoipa::path(
    post,
    path = "/api/{user_id}/tasks",
    operation_id = "create_task",
    tag = "tasks",
    summary = "Create a task",
    params(UserPath, IdempotencyKeyHeader),
    request_body(content = TaskCreate, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new task", body = Task,
         headers(("Location" = String, description = "`/api/{user_id}/tasks/{id}`"),
                 ("ETag" = String, description = "The task's entity tag (its revision)"))),
        AuthResponses,
        BodyResponses,
        IdempotencyResponses,
        (status = 409, description = "The user already has `MAX_TASKS_PER_USER` tasks, \
                                      or a request with this `Idempotency-Key` is still running", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    owner: Owner,
    IdempotencyKey(key): IdempotencyKey,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let outcome = async {
        let new = NewTask::from_json(&body, state.limits.fields).map_err(ApiError::Validation)?;
        let writer = Writer { user_id: owner.id(), email: owner.0.email.as_deref() };
        let max_tasks = state.limits.max_tasks_per_user;
        let Some(key) = key else {
            let task = state.store.create_task(writer, &new, max_tasks).await?;
            return created(task.ok_or(ApiError::TaskLimit(max_tasks))?);
        };
        idempotent::create(&state, writer, &key, &body, &new).await
    }
    .await;
    announced(&state, owner.id(), outcome)
}

/// Flips the task, or sets it (`set`), under `claim` when the request has a key.
async fn complete(
    state: &AppState,
    owner: &str,
    id: TaskId,
    if_match: &IfMatch,
    set: Option<bool>,
    claim: Option<Claimed<'_>>,
) -> Result<Response, ApiError> {
    match (set, claim) {
        // `{"completed": true|false}` sets it (idempotent by nature), as some frontends expect.
        (Some(completed), _) => {
            let patch = TaskPatch { completed: Some(completed), ..TaskPatch::default() };
            written(state.store.update_task(owner, id, &patch, if_match).await?)
        }
        (None, None) => written(state.store.toggle_task(owner, id, if_match).await?),
        (None, Some(claim)) => match state.store.toggle_task_claimed(owner, id, if_match, claim).await? {
            Gated::Done(outcome) => written(outcome),
            Gated::ClaimLost => Err(ApiError::IdempotencyKeyInFlight),
        },
    }
}

#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "get_task",
    tag = "tasks",
    summary = "Read a task",
    params(TaskPath, IfNoneMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task", body = Task,
         headers(("ETag" = String, description = "The task's entity tag (its revision)"))),
        NotModifiedResponses,
        AuthResponses,
        TaskNotFound,
    )
)]
pub async fn get(
    State(state): State<AppState>,
    owner: Owner,
    conditions: Conditions,
    task: TaskRef,
) -> Result<Response, ApiError> {
    let id = task.require()?;
    let task = state.store.get_task(owner.id(), id).await?.ok_or(ApiError::TaskNotFound)?;
    let etag = task_etag(task.revision);
    if conditions.not_modified(&etag) {
        return Ok(not_modified(&etag));
    }
    Ok(with_etag(StatusCode::OK, task))
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
            params(TaskPath, IfMatchHeader),
            request_body(content = TaskUpdate, content_type = "application/json"),
            security(("bearer" = [])),
            responses(
                (status = 200, description = "The changed task", body = Task,
                 headers(("ETag" = String, description = "The task's new entity tag"))),
                AuthResponses,
                BodyResponses,
                TaskNotFound,
                PreconditionResponses,
            )
        )]
        pub async fn $name(
            State(state): State<AppState>,
            owner: Owner,
            conditions: Conditions,
            task: TaskRef,
            JsonObject(body): JsonObject,
        ) -> Result<Response, ApiError> {
            let outcome = async {
                let patch = TaskPatch::from_json(&body, state.limits.fields).map_err(ApiError::Validation)?;
                let id = task.require()?;
                written(state.store.update_task(owner.id(), id, &patch, &conditions.if_match).await?)
            }
            .await;
            announced(&state, owner.id(), outcome)
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
    summary = "Flip a task's `completed` (atomically), or set it",
    params(TaskPath, IfMatchHeader, IdempotencyKeyHeader),
    request_body(content = Option<CompletionBody>, content_type = "application/json",
                 description = "Optional: `{\"completed\": bool}` sets it; none, empty or `{}` flips it"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task, flipped or set", body = Task,
         headers(("ETag" = String, description = "The task's new entity tag"))),
        AuthResponses,
        BodyResponses,
        TaskNotFound,
        PreconditionResponses,
        IdempotencyResponses,
    )
)]
pub async fn toggle(
    State(state): State<AppState>,
    owner: Owner,
    conditions: Conditions,
    IdempotencyKey(key): IdempotencyKey,
    task: TaskRef,
    OptionalJsonObject(body): OptionalJsonObject,
) -> Result<Response, ApiError> {
    let (owner, if_match) = (owner.id(), &conditions.if_match);
    let outcome = async {
        let set = body.as_ref().map(parse_completion).transpose().map_err(ApiError::Validation)?.flatten();
        let id = task.require()?;
        let Some(key) = key else { return complete(&state, owner, id, if_match, set, None).await };
        let guarded = Guarded::Complete(id);
        idempotent::run(&state, owner, &key, guarded, body.as_ref(), |claim| {
            complete(&state, owner, id, if_match, set, Some(claim))
        })
        .await
    }
    .await;
    announced(&state, owner, outcome)
}

#[utoipa::path(
    delete,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "delete_task",
    tag = "tasks",
    summary = "Delete a task",
    params(TaskPath, IfMatchHeader),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted; no body"), AuthResponses, TaskNotFound, PreconditionResponses)
)]
pub async fn delete(
    State(state): State<AppState>,
    owner: Owner,
    conditions: Conditions,
    task: TaskRef,
) -> Result<StatusCode, ApiError> {
    let id = task.require()?;
    match state.store.delete_task(owner.id(), id, &conditions.if_match).await? {
        Written::Done(()) => {
            state.hub.changed(owner.id());
            Ok(StatusCode::NO_CONTENT)
        }
        Written::Missing => Err(ApiError::TaskNotFound),
        Written::Changed(current) => Err(ApiError::PreconditionFailed(task_etag(current.revision))),
    }
}
