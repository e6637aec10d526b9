//! One user's data as an operator hands it over or erases it (GDPR art. 15
//! and 17: `todo-api user export|delete`), and a copy of the embedded
//! database (`todo-api backup`). These run from the command line beside a
//! serving instance, each on a connection of its own and in one transaction,
//! so the export is one consistent snapshot and the erasure all or nothing.

use super::StoreError;
use crate::domain::{Change, Task};

/// Everything stored about one user, as of one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub tasks: Vec<Task>,
    /// The change log as retention has kept it, in order.
    pub changes: Vec<Change>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub tasks: u64,
    /// The change log as it was (the deletions of the tasks are not logged).
    pub changes: u64,
    pub idempotency_keys: u64,
    pub stream_tickets: u64,
    /// The owner row, with its quota count and change counter: 0 or 1.
    pub users: u64,
}

/// The erasure, in this order: the log first (so it is counted as it was),
/// then the tasks (whose triggers log their deletion), that log again, and
/// the rest. `$1` is the user.
pub const ERASE: [&str; 6] = [
    "DELETE FROM task_changes WHERE user_id = $1",
    "DELETE FROM tasks WHERE user_id = $1",
    "DELETE FROM task_changes WHERE user_id = $1",
    "DELETE FROM idempotency_keys WHERE user_id = $1",
    "DELETE FROM stream_tickets WHERE user_id = $1",
    "DELETE FROM users WHERE id = $1",
];

impl Erased {
    /// From `ERASE`'s counts, in its order.
    pub(super) fn from_counts(counts: [u64; 6]) -> Self {
        let [changes, tasks, _their_deletions, idempotency_keys, stream_tickets, users] = counts;
        Self { tasks, changes, idempotency_keys, stream_tickets, users }
    }
}

/// Why `backup` was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backups of PostgreSQL are PostgreSQL's own: pg_dump for a copy, or continuous archiving \
         (point-in-time recovery) from your provider"
    )]
    NotEmbedded,
    #[error("{0} already exists; name a new file")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
