//! The service's vocabulary: tasks, the input that changes them, list queries,
//! and the validation errors input can produce. Nothing here knows about HTTP
//! or SQL.

mod bodies;
mod bulk;
mod change;
mod listing;
mod precondition;
mod task;
mod task_view;
mod timestamp;
mod validation;

pub use bodies::{
    BulkCompletionBody, CompletionBody, TaskCreate, TaskUpdate, parse_bulk_completion, parse_completion,
    title_pattern, title_schema_for,
};
pub use bulk::{BulkAction, BulkFilter, change_seq_etag, change_seq_of};
pub use change::{Change, ChangeKind, ChangesSince};
pub use listing::{LIMIT_MAX, ListParams, ListQuery, SortKey, SortOrder, StatusFilter};
pub use precondition::{IfMatch, none_match_hits, task_etag};
pub use task::{FieldLimits, NewTask, Task, TaskDescription, TaskId, TaskPatch, TaskTitle};
pub use task_view::{Stamp, TaskView};
pub use timestamp::{Timestamp, TimestampError};
pub use validation::{FieldError, Location};
