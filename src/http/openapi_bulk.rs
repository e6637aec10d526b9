//! The OpenAPI document's parts for the bulk actions (see `bulk`).

use utoipa::{IntoParams, IntoResponses, ToSchema};

use super::openapi::{ErrorBody, StatusParam};

/// Answer of `PATCH /api/{user_id}/tasks`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BulkUpdated {
    /// How many tasks changed (those that already had the value are left alone).
    #[schema(example = 12)]
    updated: i64,
}

/// Answer of `DELETE /api/{user_id}/tasks`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BulkDeleted {
    /// How many tasks were deleted.
    #[schema(example = 12)]
    deleted: i64,
}

/// Which tasks a bulk action touches. Unknown parameters are 422 (unlike the
/// list's): a typo must not widen what is changed or deleted.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct BulkFilterParams {
    /// Only the tasks whose `completed` is this.
    completed: Option<bool>,
    /// The list's filter, as an alternative to `completed` (`pending` is `completed=false`).
    #[param(inline)]
    status: Option<StatusParam>,
}

/// The header of a conditional bulk action.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct ListIfMatchHeader {
    /// Act only if the user's list is still at this version: the `X-Change-Seq` of the
    /// list the user was shown, as `W/"12"` (or `"12"`), or `*`; else `412` and nothing
    /// is written. Checked in the write's own transaction.
    #[param(rename = "If-Match", required = false)]
    if_match: String,
}

/// Answers to `If-Match` on the list.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ListPreconditionResponses {
    /// The list changed since the version in `If-Match`; nothing was written.
    #[response(status = 412, headers(("ETag" = String, description = "The list's current version")))]
    ListChanged(ErrorBody),
}
