//! The OpenAPI document's parts for the realtime routes (see `events`).

use utoipa::{IntoParams, ToSchema};

use crate::domain::{ChangeKind, Task};

/// One change. Created and updated ones carry the task as the change left
/// it; a deleted one carries its `id` instead.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChangeDoc {
    /// The change's number in the user's own sequence (1, 2, 3, ...).
    #[schema(example = 12)]
    seq: i64,
    #[schema(rename = "type")]
    kind: ChangeKind,
    #[schema(required = false)]
    task: Task,
    /// Only for `deleted`.
    #[schema(required = false, example = 7)]
    id: i64,
}

/// `GET /api/{user_id}/changes`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChangeFeed {
    changes: Vec<ChangeDoc>,
    /// The `since` to ask with next: the last seq returned, or `since` when nothing is new.
    #[schema(example = 12)]
    next: i64,
}

/// `POST /api/{user_id}/events/ticket`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TicketBody {
    /// Opens streams for this user only; never put the JWT itself in a URL.
    ticket: String,
    /// Seconds it opens streams for (`EVENTS_TICKET_TTL_SECONDS`).
    #[schema(example = 30)]
    expires_in: u64,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ChangesParams {
    /// Changes after this seq (default 0: from the start of what the log keeps).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    since: Option<i64>,
    /// Most changes returned (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventsParams {
    /// Resume after this seq (`Last-Event-ID` wins when both are sent).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    since: Option<i64>,
    /// From `POST /api/{user_id}/events/ticket`, for clients that cannot send
    /// `Authorization` (EventSource); used only when that header is absent.
    ticket: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct LastEventIdHeader {
    /// The `id` of the last event received: the stream resumes after it.
    #[param(rename = "Last-Event-ID", required = false, pattern = r"^[0-9]+$")]
    last_event_id: String,
}

/// `event` of a change stream's event.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StreamEventType {
    Created,
    Updated,
    Deleted,
    /// The position resumed from is no longer kept: refetch the list.
    Reset,
}

/// One Server-Sent Event of `GET /api/{user_id}/events`, as its fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StreamEvent {
    /// The change's seq (for `reset`, the user's latest): what `Last-Event-ID` resumes after.
    #[schema(pattern = "^[0-9]+$", example = "12")]
    id: String,
    #[schema(inline)]
    event: StreamEventType,
    /// The change as JSON, as in `/changes` (for `reset`: `{"detail": ..., "seq": ...}`).
    #[schema(example = "{\"seq\":12,\"type\":\"deleted\",\"id\":7}")]
    data: String,
}
