//! Bulk actions on one owner's list (see `domain::bulk`): every matching task
//! changed or deleted in one transaction, each with its own change event (one
//! contiguous run of the owner's numbers), gated on `If-Match` against the
//! owner's change number and, with an `Idempotency-Key`, on the key's claim.
//!
//! A keyed bulk action stores its answer in the same transaction as the
//! write: unlike a single task's, a count cannot be rebuilt afterwards, so a
//! retry must never find the write done and its answer missing.

use super::idempotency::Claimed;
use crate::domain::{BulkAction, BulkFilter, IfMatch};

/// One bulk action, as the handler asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Bulk<'a> {
    pub owner: &'a str,
    pub action: BulkAction,
    pub filter: BulkFilter,
    pub if_match: &'a IfMatch,
    pub claim: Option<Claimed<'a>>,
}

/// What a bulk action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkDone {
    /// `count` tasks changed (or deleted); the owner's change number after them.
    Done { count: i64, change_seq: i64 },
    /// `If-Match` did not hold: nothing written; the owner's change number now.
    Changed { change_seq: i64 },
    /// The idempotency claim was taken over: nothing written.
    ClaimLost,
}

/// The claim the write is gated on, locked for the statement: `$k` key and
/// `$t` token, or no gate at all when `$k` is NULL.
macro_rules! claim_gate {
    ($k:literal, $t:literal) => {
        concat!(
            "claim AS (SELECT 1 FROM idempotency_keys WHERE user_id = $1 AND key = $",
            $k,
            " AND claim = $",
            $t,
            " AND task_id IS NULL AND status IS NULL FOR UPDATE), \
             gate AS (SELECT 1 WHERE $",
            $k,
            "::text IS NULL OR EXISTS (SELECT 1 FROM claim)), "
        )
    };
}

/// The owner's row locked (so the number read is the one the triggers count
/// on from), and `ok` holding that number when `$e` (the accepted numbers,
/// as `sql::revision_list` writes them) admits it. An owner with no row yet
/// is at 0.
macro_rules! seq_gate {
    ($e:literal) => {
        concat!(
            "owner AS (SELECT change_seq FROM users WHERE id = $1 AND EXISTS (SELECT 1 FROM gate) FOR UPDATE), \
             ok AS (SELECT COALESCE((SELECT change_seq FROM owner), 0) AS seq WHERE EXISTS (SELECT 1 FROM gate) \
             AND ($",
            $e,
            "::int8[] IS NULL OR COALESCE((SELECT change_seq FROM owner), 0) = ANY($",
            $e,
            "::int8[]))), "
        )
    };
}

/// Says, for this statement's transaction, that it writes the change log
/// itself, so the row trigger steps aside (migration 7 on PostgreSQL): one
/// bump of the owner's counter for the statement instead of one per row.
/// The write's `WHERE` refers to it, so it is set before the first row changes
/// (the row triggers fire at the statement's end).
macro_rules! logs_itself {
    () => {
        "by_statement AS (SELECT set_config('todo.change_log', 'by_statement', true)), "
    };
}

/// The task's columns a write returns, for its log rows.
macro_rules! returning_task {
    () => {
        " RETURNING id, user_id, title, description, completed, created_at, updated_at, revision), "
    };
}

/// The statement's own log rows: `$rows` (the changed tasks) numbered from
/// the owner's locked counter in id order, as `$kind`; then the counter moved
/// past them (with `$more`, the rest of the owner row's change) in one update.
macro_rules! log_rows {
    ($rows:literal, $kind:literal, $more:literal) => {
        concat!(
            "counted AS (SELECT count(*) AS n FROM ",
            $rows,
            "), logged AS (INSERT INTO task_changes (user_id, seq, kind, task_id, title, description, \
             completed, created_at, updated_at, revision, logged_at) \
             SELECT user_id, (SELECT seq FROM ok) + row_number() OVER (ORDER BY id), '",
            $kind,
            "', id, title, description, completed, created_at, updated_at, revision, \
             extract(epoch FROM now())::BIGINT FROM ",
            $rows,
            "), numbered AS (UPDATE users SET change_seq = change_seq + (SELECT n FROM counted)",
            $more,
            " WHERE id = $1 AND (SELECT n FROM counted) > 0), "
        )
    };
}

/// The answer stored on the key (`$k`) with the write: `{"<$f>": N}` and
/// the list's new version as a weak tag; then what the statement did.
macro_rules! answer_and_report {
    ($k:literal, $f:literal) => {
        concat!(
            "answered AS (UPDATE idempotency_keys SET status = 200, \
             response = '{\"' || $",
            $f,
            " || '\":' || (SELECT n FROM counted) || '}', \
             etag = 'W/\"' || ((SELECT seq FROM ok) + (SELECT n FROM counted)) || '\"' \
             WHERE user_id = $1 AND key = $",
            $k,
            " AND EXISTS (SELECT 1 FROM claim) AND EXISTS (SELECT 1 FROM ok)) \
             SELECT EXISTS (SELECT 1 FROM gate), (SELECT seq FROM ok), (SELECT n FROM counted), \
             COALESCE((SELECT change_seq FROM owner), 0)"
        )
    };
}

/// PostgreSQL: sets `completed` (`$3`) on every task of the owner that
/// matches `$2` (NULL: all) and does not have it yet. `$4` now, `$5` the
/// accepted change numbers, `$6`/`$7` the claim, `$8` the answer's field.
pub const COMPLETE_ALL: &str = concat!(
    "WITH ",
    claim_gate!(6, 7),
    seq_gate!(5),
    logs_itself!(),
    "changed AS (UPDATE tasks SET completed = $3, updated_at = $4, revision = revision + 1 \
     WHERE user_id = $1 AND completed <> $3 AND ($2::boolean IS NULL OR completed = $2) \
     AND EXISTS (SELECT 1 FROM ok) AND EXISTS (SELECT 1 FROM by_statement)",
    returning_task!(),
    log_rows!("changed", "updated", ""),
    answer_and_report!(6, 8)
);

/// PostgreSQL: deletes every task of the owner that matches `$2` and gives
/// the quota back. `$3` the accepted change numbers, `$4`/`$5` the claim,
/// `$6` the answer's field.
pub const DELETE_MATCHING: &str = concat!(
    "WITH ",
    claim_gate!(4, 5),
    seq_gate!(3),
    logs_itself!(),
    "gone AS (DELETE FROM tasks WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2) \
     AND EXISTS (SELECT 1 FROM ok) AND EXISTS (SELECT 1 FROM by_statement)",
    returning_task!(),
    log_rows!("gone", "deleted", ", task_count = task_count - (SELECT n FROM counted)"),
    answer_and_report!(4, 6)
);

/// SQLite: the same writes as plain statements in the writer's transaction.
pub const SET_COMPLETED_WHERE: &str = "UPDATE tasks SET completed = $3, updated_at = $4, revision = revision + 1 \
     WHERE user_id = $1 AND completed <> $3 AND ($2 IS NULL OR completed = $2)";

pub const DELETE_WHERE: &str = "DELETE FROM tasks WHERE user_id = $1 AND ($2 IS NULL OR completed = $2)";

pub const UNCOUNT_MANY: &str = "UPDATE users SET task_count = task_count - $2 WHERE id = $1";

/// What a PostgreSQL bulk statement's row says.
pub(super) fn settle(gated: bool, seq: Option<i64>, count: i64, current: i64) -> BulkDone {
    match (gated, seq) {
        (false, _) => BulkDone::ClaimLost,
        (true, None) => BulkDone::Changed { change_seq: current },
        (true, Some(seq)) => BulkDone::Done { count, change_seq: seq + count },
    }
}
