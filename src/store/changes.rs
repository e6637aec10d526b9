//! The change log (written by triggers, see migration 0005) as the realtime
//! routes read it (stream tickets are in `tickets`).
//!
//! One owner's numbers are contiguous: each write takes the next one (on
//! PostgreSQL under the owner row's lock), and a rolled-back write gives its
//! number back. So a page that does not start right after `since` has lost its start
//! to retention, which is how `changes_since` tells "gone" from "nothing new".

use crate::domain::{Change, ChangesSince};

/// The owner's latest number (0 before their first write). Read from the log
/// itself on both engines (retention always keeps each owner's latest change);
/// PostgreSQL also counts on `users.change_seq`, where its trigger takes the
/// owner's lock to number a change.
pub const CHANGE_HEAD: &str = "SELECT COALESCE((SELECT MAX(seq) FROM task_changes WHERE user_id = $1), 0)";

/// After `$2`, in order, at most `$3`; the task's columns from position 2 on,
/// in `task_columns!` order.
pub const READ_CHANGES: &str = "SELECT seq, kind, task_id, user_id, title, description, completed, \
     created_at, updated_at, revision FROM task_changes WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

/// A task as its creation logged it, in `task_columns!` order: what a
/// retried keyed create answers (see `Store::created_task`).
pub const CREATED_TASK: &str = "SELECT task_id, user_id, title, description, completed, created_at, \
     updated_at, revision FROM task_changes WHERE user_id = $1 AND task_id = $2 AND kind = 'created'";

/// Where the task's columns start in a `READ_CHANGES` row.
pub const CHANGE_TASK_COLUMN: usize = 2;

/// Retention: a change goes once it is older than `$1` (Unix seconds) *and*
/// not among its owner's latest `$2`. One batch: at most `$3` of them, the
/// oldest logged at `$4` or later, so each batch starts where the last one
/// ended instead of passing again over the old changes kept as their
/// owners' latest. Returns when each deleted change was logged.
///
/// The rows go by their physical address (`ctid`, `rowid`), so the delete is
/// a lookup per row whatever a planner makes of a two-column `IN`.
macro_rules! prune_changes {
    ($row:literal, $set:literal, $close:literal) => {
        concat!(
            "DELETE FROM task_changes WHERE ",
            $row,
            $set,
            "SELECT ",
            $row,
            " FROM task_changes AS old WHERE logged_at < $1 AND logged_at >= $4 \
             AND seq <= (SELECT MAX(seq) FROM task_changes AS latest WHERE latest.user_id = old.user_id) - $2 \
             ORDER BY logged_at LIMIT $3",
            $close,
            " RETURNING logged_at"
        )
    };
}
/// Retention's batch on PostgreSQL (see `prune_changes!`).
pub const PRUNE_CHANGES_PG: &str = prune_changes!("ctid", " = ANY(ARRAY(", "))");
/// Retention's batch on SQLite (see `prune_changes!`).
pub const PRUNE_CHANGES_SQLITE: &str = prune_changes!("rowid", " IN (", ")");

/// The most changes one read returns.
pub const PAGE_MAX: i64 = 1000;

/// Decides a read of the log: `head` read first, then `changes` after `since`.
pub(super) fn settle_read(since: i64, head: i64, changes: Vec<Change>) -> ChangesSince {
    let contiguous = match changes.first() {
        Some(first) => first.seq == since + 1,
        None => since == head,
    };
    if since > head || !contiguous {
        return ChangesSince::Gone { head };
    }
    let head = changes.last().map_or(head, |last| last.seq.max(head));
    ChangesSince::Found { changes, head }
}

/// What the listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// These owners have new changes.
    Changed(Vec<String>),
    /// Listening (again): whatever was sent while not listening was missed,
    /// so every stream should look at the log.
    Listening,
}

/// The most bytes of owner ids one notification carries (PostgreSQL's
/// limit on a payload is 8000 bytes).
pub const NOTIFY_PAYLOAD_MAX: usize = 7900;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChangeKind, Task, Timestamp};

    fn at(seq: i64) -> Change {
        let now = Timestamp::now();
        let task = Task {
            id: 1,
            user_id: "u".into(),
            title: "t".into(),
            description: None,
            completed: false,
            created_at: now,
            updated_at: now,
            revision: 1,
        };
        Change { seq, kind: ChangeKind::Updated, task }
    }

    #[test]
    fn a_page_must_start_right_after_since() {
        assert!(matches!(settle_read(3, 5, vec![at(4), at(5)]), ChangesSince::Found { head: 5, .. }));
        assert_eq!(settle_read(1, 5, vec![at(4), at(5)]), ChangesSince::Gone { head: 5 });
        assert_eq!(settle_read(0, 0, vec![]), ChangesSince::Found { changes: vec![], head: 0 });
        assert_eq!(settle_read(5, 5, vec![]), ChangesSince::Found { changes: vec![], head: 5 });
        // Written between the two reads: newer than the head, still in order.
        assert!(matches!(settle_read(5, 5, vec![at(6)]), ChangesSince::Found { head: 6, .. }));
    }

    #[test]
    fn pruned_or_foreign_positions_are_gone() {
        assert_eq!(settle_read(2, 9, vec![]), ChangesSince::Gone { head: 9 });
        assert_eq!(settle_read(10, 9, vec![]), ChangesSince::Gone { head: 9 });
    }
}
