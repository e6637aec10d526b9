//! The change log (written by triggers, see migration 0005) as the realtime
//! routes read it, and the tickets that let `EventSource` open a stream.
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
/// not among its owner's latest `$2`.
pub const PRUNE_CHANGES: &str = "DELETE FROM task_changes WHERE logged_at < $1 \
     AND seq <= (SELECT MAX(seq) FROM task_changes AS latest WHERE latest.user_id = task_changes.user_id) - $2";

pub const ISSUE_TICKET: &str =
    "INSERT INTO stream_tickets (ticket_hash, user_id, expires_at, stream_until) VALUES ($1, $2, $3, $4)";

/// The ticket's user and until when its streams may run, if it is still valid at `$2`.
pub const REDEEM_TICKET: &str =
    "SELECT user_id, stream_until FROM stream_tickets WHERE ticket_hash = $1 AND expires_at > $2";

pub const PRUNE_TICKETS: &str = "DELETE FROM stream_tickets WHERE expires_at <= $1";

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

/// A ticket as the store keeps it: its SHA-256, never the ticket itself.
#[derive(Debug, Clone, Copy)]
pub struct TicketRecord<'a> {
    pub hash: &'a str,
    pub user_id: &'a str,
    /// Unix seconds: when it stops opening streams.
    pub expires_at: i64,
    /// Unix seconds: when the streams it opened end.
    pub stream_until: i64,
}

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
