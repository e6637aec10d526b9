//! Bulk actions on `/api/{user_id}/tasks`: mark every (matching) task
//! complete or not, and clear the completed ones, each one request and one
//! transaction instead of one request per task (see `store::bulk`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::extract::{JsonObject, Owner, header_lines, query_unreadable};
use super::idempotent::{self, Guarded, IdempotencyKey};
use super::openapi::{
    AuthResponses, BodyResponses, IdempotencyKeyHeader, IdempotencyResponses, UserPath, ValidationErrorBody,
};
use super::openapi_bulk::{
    BulkDeleted, BulkFilterParams, BulkUpdated, ListIfMatchHeader, ListPreconditionResponses,
};
use super::responses::{X_CHANGE_SEQ, announced};
use super::{ApiError, AppState};
use crate::domain::{
    BulkAction, BulkCompletionBody, BulkFilter, FieldError, IfMatch, Location, change_seq_etag,
    parse_bulk_completion,
};
use crate::store::BulkActions;
use crate::store::bulk::{Bulk, BulkDone};

/// `If-Match` on the whole list: the owner's change numbers it accepts.
#[derive(Debug)]
pub struct ListCondition(IfMatch);

impl<S: Send + Sync> FromRequestParts<S> for ListCondition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self(IfMatch::parse_change_seq(&header_lines(&parts.headers, IF_MATCH))))
    }
}

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

#[utoipa::path(
    patch,
    path = "/api/{user_id}/tasks",
    operation_id = "complete_all_tasks",
    tag = "tasks",
    summary = "Mark every (matching) task complete, or not: one transaction",
    params(UserPath, BulkFilterParams, ListIfMatchHeader, IdempotencyKeyHeader),
    request_body(content = BulkCompletionBody, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many tasks changed; each has its `updated` change event",
         body = BulkUpdated,
         headers(("X-Change-Seq" = i64, description = "The user's change number after this action"),
                 ("ETag" = String, description = "The list's new version, `W/\"<X-Change-Seq>\"`"))),
        AuthResponses,
        BodyResponses,
        IdempotencyResponses,
        ListPreconditionResponses,
    )
)]
pub async fn complete_all(
    State(state): State<AppState>,
    owner: Owner,
    ListCondition(if_match): ListCondition,
    IdempotencyKey(key): IdempotencyKey,
    query: Pairs,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let outcome = async {
        let Query(pairs) = query.map_err(|_| query_unreadable())?;
        let (filter, completed) = match (BulkFilter::parse(&pairs), parse_bulk_completion(&body)) {
            (Ok(filter), Ok(completed)) => (filter, completed),
            (filter, completed) => {
                let errors = filter.err().into_iter().chain(completed.err()).flatten().collect();
                return Err(ApiError::Validation(errors));
            }
        };
        let action = BulkAction::Complete(completed);
        run(&state, owner.id(), action, filter, &if_match, key, Some(&body)).await
    }
    .await;
    announced(&state, owner.id(), outcome)
}

#[utoipa::path(
    delete,
    path = "/api/{user_id}/tasks",
    operation_id = "delete_matching_tasks",
    tag = "tasks",
    summary = "Delete every completed (or every pending) task: one transaction",
    description = "A filter is required (`completed=true` clears the completed tasks); without one, \
                   or with `status=all`, the answer is 422 and nothing is deleted.",
    params(UserPath, BulkFilterParams, ListIfMatchHeader, IdempotencyKeyHeader),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many tasks were deleted; each has its `deleted` change event",
         body = BulkDeleted,
         headers(("X-Change-Seq" = i64, description = "The user's change number after this action"),
                 ("ETag" = String, description = "The list's new version, `W/\"<X-Change-Seq>\"`"))),
        AuthResponses,
        IdempotencyResponses,
        ListPreconditionResponses,
        (status = 422, description = "No filter, or an unknown or invalid query parameter",
         body = ValidationErrorBody),
    )
)]
pub async fn delete_matching(
    State(state): State<AppState>,
    owner: Owner,
    ListCondition(if_match): ListCondition,
    IdempotencyKey(key): IdempotencyKey,
    query: Pairs,
) -> Result<Response, ApiError> {
    let outcome = async {
        let Query(pairs) = query.map_err(|_| query_unreadable())?;
        let filter = BulkFilter::parse(&pairs).map_err(ApiError::Validation)?;
        if filter.completed.is_none() {
            return Err(ApiError::Validation(vec![filter_required()]));
        }
        run(&state, owner.id(), BulkAction::Delete, filter, &if_match, key, None).await
    }
    .await;
    announced(&state, owner.id(), outcome)
}

fn filter_required() -> FieldError {
    FieldError::new(
        "missing",
        Location::Query("completed"),
        "A filter is required: completed=true (or status=completed) deletes the completed tasks; \
         deleting every task at once is not offered",
    )
}

/// The action, under the key's claim when the request has one.
async fn run(
    state: &AppState,
    owner: &str,
    action: BulkAction,
    filter: BulkFilter,
    if_match: &IfMatch,
    key: Option<String>,
    body: Option<&Map<String, Value>>,
) -> Result<Response, ApiError> {
    let bulk = |claim| Bulk { owner, action, filter, if_match, claim };
    let Some(key) = key else { return answer(action, state.store.bulk(bulk(None)).await?) };
    idempotent::run(state, owner, &key, Guarded::Bulk(action, filter), body, |claim| async move {
        answer(action, state.store.bulk(bulk(Some(claim))).await?)
    })
    .await
}

fn answer(action: BulkAction, done: BulkDone) -> Result<Response, ApiError> {
    match done {
        BulkDone::Done { count, change_seq } => {
            let etag = HeaderValue::try_from(change_seq_etag(change_seq)).expect("digits are a header value");
            let headers = [
                (X_CHANGE_SEQ, HeaderValue::from(change_seq)),
                (ETAG, etag),
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            ];
            Ok((StatusCode::OK, headers, action.answer(count)).into_response())
        }
        BulkDone::Changed { change_seq } => Err(ApiError::ListChanged(change_seq_etag(change_seq))),
        BulkDone::ClaimLost => Err(ApiError::IdempotencyKeyInFlight),
    }
}
