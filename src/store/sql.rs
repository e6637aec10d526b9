//! The SQL the service runs. One text serves both engines: PostgreSQL's
//! numbered `$N` parameters become SQLite's `?N` (see `for_sqlite`), and every
//! construct here (`RETURNING`, `ON CONFLICT ... DO UPDATE`, `IS DISTINCT FROM`,
//! window functions) means the same on both. Every statement that touches a task
//! is scoped by `user_id`, so no query can reach another owner's row.

use crate::domain::{IfMatch, SortKey, SortOrder};

macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at, revision"
    };
}

/// `If-Match`, checked in the write's own statement: parameter `$n` is NULL
/// (no condition) or the acceptable revisions, any number of them: a
/// `bigint[]` on PostgreSQL; SQLite has no arrays, so `for_sqlite` reads the
/// same list from a JSON array (see `Revisions`).
macro_rules! revision_matches {
    ($n:literal) => {
        concat!("($", $n, " IS NULL OR revision = ANY($", $n, "))")
    };
}

/// Records the owner on first write (e-mail refreshed when the token has one)
/// and counts one more task against the quota `$4`. The update's `WHERE` is
/// checked on the row's latest version under its lock, so two creates racing
/// for the last slot cannot both pass; a full quota returns no row.
macro_rules! count_in_user {
    () => {
        "INSERT INTO users (id, email, created_at, task_count) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (id) DO UPDATE SET task_count = users.task_count + 1, \
         email = COALESCE(excluded.email, users.email) \
         WHERE users.task_count < $4 RETURNING id"
    };
}

pub const COUNT_IN_USER: &str = count_in_user!();

/// PostgreSQL only: the counting upsert and the task's insert as one
/// statement; no owner row returned (quota full) means no task inserted.
pub const CREATE_TASK_WITH_USER: &str = concat!(
    "WITH owner AS (",
    count_in_user!(),
    ") INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) \
     SELECT id, $5, $6, $7, $3, $3 FROM owner RETURNING ",
    task_columns!()
);

pub const INSERT_TASK: &str = concat!(
    "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
    task_columns!()
);

pub const SELECT_TASK: &str =
    concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1 AND user_id = $2");

/// PostgreSQL (`owner_first`): the owner's row (`$n`), locked before the task's. Every write
/// of a user locks both (the change-log trigger bumps the owner's counter),
/// and a bulk action must lock the owner first (it reads the counter it is
/// gated on). Taken in that one order everywhere, no two writes can wait on
/// each other; in the other, a single write and a bulk action deadlocked
/// until PostgreSQL failed one of them (a 503). `owner_locked!` in the
/// write's `WHERE` makes the lock run before the task's row is locked, and
/// filters nothing (an owner without a row has no tasks to lock).
macro_rules! owner_first {
    ($n:literal) => {
        concat!("owner AS (SELECT 1 FROM users WHERE id = $", $n, " FOR UPDATE)")
    };
}

macro_rules! owner_locked {
    () => {
        "(SELECT COUNT(*) FROM owner) >= 0 AND "
    };
}

/// One statement: absent fields keep their value (`$4` says whether the
/// description is being set, since `NULL` is a value it can be set to).
macro_rules! update_task {
    ($with:expr, $locked:expr) => {
        concat!(
            $with,
            "UPDATE tasks SET title = COALESCE($3, title), \
             description = CASE WHEN $4 THEN $5 ELSE description END, \
             completed = COALESCE($6, completed), updated_at = $7, revision = revision + 1 \
             WHERE id = $1 AND user_id = $2 AND ",
            $locked,
            revision_matches!(8),
            " RETURNING ",
            task_columns!()
        )
    };
}

pub const UPDATE_TASK: &str = update_task!("", "");
/// PostgreSQL: `UPDATE_TASK`, the owner locked first.
pub const UPDATE_TASK_OWNER_FIRST: &str =
    update_task!(concat!("WITH ", owner_first!(2), " "), owner_locked!());

/// The flip happens inside the database, so concurrent toggles serialize on the
/// row lock instead of racing a read-modify-write.
macro_rules! toggle_task {
    ($with:expr, $locked:expr) => {
        concat!(
            $with,
            "UPDATE tasks SET completed = NOT completed, updated_at = $3, revision = revision + 1 \
             WHERE id = $1 AND user_id = $2 AND ",
            $locked,
            revision_matches!(4),
            " RETURNING ",
            task_columns!()
        )
    };
}

pub const TOGGLE_TASK: &str = toggle_task!("", "");
/// PostgreSQL: `TOGGLE_TASK`, the owner locked first.
pub const TOGGLE_TASK_OWNER_FIRST: &str =
    toggle_task!(concat!("WITH ", owner_first!(2), " "), owner_locked!());

pub const DELETE_TASK: &str =
    concat!("DELETE FROM tasks WHERE id = $1 AND user_id = $2 AND ", revision_matches!(3));

pub const UNCOUNT_IN_USER: &str = "UPDATE users SET task_count = task_count - 1 WHERE id = $1";

/// PostgreSQL only: the delete and the owner's count as one statement, the
/// owner locked first; one row updated means one task deleted.
pub const DELETE_TASK_AND_UNCOUNT: &str = concat!(
    "WITH ",
    owner_first!(2),
    ", gone AS (DELETE FROM tasks WHERE id = $1 AND user_id = $2 AND ",
    owner_locked!(),
    revision_matches!(3),
    " RETURNING user_id) UPDATE users SET task_count = task_count - 1 FROM gone WHERE users.id = gone.user_id"
);

/// `If-Match`'s revisions as the `revision_matches!` parameter: `None` when
/// any revision will do.
pub fn revision_list(if_match: &IfMatch) -> Option<&[i64]> {
    match if_match {
        IfMatch::Absent | IfMatch::Exists => None,
        IfMatch::Revisions(revisions) => Some(revisions),
    }
}

/// The same list as SQLite's `json_each` reads it: `[3,5]`.
pub fn revisions_as_json(revisions: Option<&[i64]>) -> Option<String> {
    revisions.map(|list| {
        let items: Vec<String> = list.iter().map(i64::to_string).collect();
        format!("[{}]", items.join(","))
    })
}

/// `$2`: required `completed` value, or NULL for every task.
pub const COUNT_TASKS: &str =
    "SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND ($2 IS NULL OR completed = $2)";

macro_rules! list_tasks {
    (all, $order:literal) => {
        list_tasks!("COALESCE((SELECT task_count FROM users WHERE id = $1), 0)", "", $order)
    };
    (filtered, $order:literal) => {
        list_tasks!(
            "(SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND completed = $2)",
            " AND completed = $2",
            $order
        )
    };
    ($total:literal, $filter:literal, $order:literal) => {
        concat!(
            "SELECT ",
            task_columns!(),
            ", ",
            $total,
            " AS total, (SELECT MAX(seq) FROM task_changes WHERE user_id = $1) AS head FROM tasks \
             WHERE user_id = $1",
            $filter,
            " ORDER BY ",
            $order,
            " LIMIT $3 OFFSET $4"
        )
    };
}

/// The page of tasks plus, in the same statement (one snapshot), how many
/// match the filter and the owner's change number (so the page and the
/// numbers agree exactly). The total of an unfiltered list is the owner's
/// quota counter, kept in every write's transaction; a filtered one is
/// counted. Both are scalar subqueries, run once per statement: a window
/// count (`COUNT(*) OVER ()`) made both engines materialize every row of
/// the page first, which cost SQLite most of a long list's time.
///
/// Unfiltered and filtered lists are separate statements (`$2`, the
/// `completed` wanted, is unused in the first): one statement choosing its
/// total with a `CASE` made PostgreSQL's generic plan carry the count's cost
/// even when it never runs, so it planned every execution afresh and a short
/// list ran at less than half the speed. SQL text must be static, so each
/// ordering is its own statement too (indexed by `list_index`); ties are
/// broken by id so pages never overlap or skip.
pub const LIST_TASKS: [&str; 12] = [
    list_tasks!(all, "created_at ASC, id ASC"),
    list_tasks!(all, "created_at DESC, id DESC"),
    list_tasks!(all, "updated_at ASC, id ASC"),
    list_tasks!(all, "updated_at DESC, id DESC"),
    list_tasks!(all, "title ASC, id ASC"),
    list_tasks!(all, "title DESC, id DESC"),
    list_tasks!(filtered, "created_at ASC, id ASC"),
    list_tasks!(filtered, "created_at DESC, id DESC"),
    list_tasks!(filtered, "updated_at ASC, id ASC"),
    list_tasks!(filtered, "updated_at DESC, id DESC"),
    list_tasks!(filtered, "title ASC, id ASC"),
    list_tasks!(filtered, "title DESC, id DESC"),
];

/// Which of `LIST_TASKS` serves a listing.
pub fn list_index(sort: SortKey, order: SortOrder, filtered: bool) -> usize {
    let key = match sort {
        SortKey::Created => 0,
        SortKey::Updated => 2,
        SortKey::Title => 4,
    };
    key + usize::from(order == SortOrder::Desc) + if filtered { 6 } else { 0 }
}

pub const PING: &str = "SELECT 1";

/// Every task of one owner, oldest first (the user's data export).
pub const OWNER_TASKS: &str =
    concat!("SELECT ", task_columns!(), " FROM tasks WHERE user_id = $1 ORDER BY id");

/// SQLite reads `$1` as a parameter *named* "$1", numbered by first
/// appearance; `?1` is numbered as written, which is what `$1` means here.
/// `= ANY(?n)` (an array parameter) becomes a membership test on the JSON
/// array SQLite is given instead.
pub fn for_sqlite(sql: &str) -> String {
    let numbered = sql.replace('$', "?");
    let mut out = String::with_capacity(numbered.len() + 64);
    let mut rest = numbered.as_str();
    while let Some(at) = rest.find("= ANY(") {
        let (before, after) = rest.split_at(at);
        let close = after.find(')').expect("ANY( is closed");
        let parameter = &after["= ANY(".len()..close];
        out.push_str(before);
        out.push_str("IN (SELECT value FROM json_each(");
        out.push_str(parameter);
        out.push_str("))");
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// PostgreSQL only: `TOGGLE_TASK` gated on an idempotency claim (`$5`, `$6`);
/// the claim, then the owner, then the task locked, as a keyed bulk action does.
pub const TOGGLE_TASK_CLAIMED: &str = concat!(
    "WITH claim AS (SELECT 1 FROM idempotency_keys WHERE user_id = $2 AND key = $5 AND claim = $6 \
     AND task_id IS NULL AND status IS NULL FOR UPDATE), ",
    owner_first!(2),
    ", flipped AS (UPDATE tasks SET completed = NOT completed, updated_at = $3, revision = revision + 1 \
     WHERE id = $1 AND user_id = $2 AND EXISTS (SELECT 1 FROM claim) AND ",
    owner_locked!(),
    revision_matches!(4),
    " RETURNING ",
    task_columns!(),
    "), marked AS (UPDATE idempotency_keys SET task_id = flipped.id FROM flipped \
     WHERE idempotency_keys.user_id = $2 AND idempotency_keys.key = $5) SELECT ",
    task_columns!(),
    " FROM flipped"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_reads_an_array_parameter_as_a_json_list() {
        assert_eq!(
            for_sqlite("DELETE FROM tasks WHERE id = $1 AND ($3 IS NULL OR revision = ANY($3))"),
            "DELETE FROM tasks WHERE id = ?1 AND (?3 IS NULL OR revision IN (SELECT value FROM json_each(?3)))"
        );
        assert_eq!(for_sqlite("SELECT $1, $2"), "SELECT ?1, ?2");
        assert_eq!(revisions_as_json(Some(&[3, 5])), Some("[3,5]".to_owned()));
        assert_eq!(revisions_as_json(Some(&[])), Some("[]".to_owned()));
        assert_eq!(revisions_as_json(None), None);
    }

    #[test]
    fn if_match_names_revisions_only_when_it_lists_tags() {
        assert_eq!(revision_list(&IfMatch::Absent), None);
        assert_eq!(revision_list(&IfMatch::Exists), None);
        assert_eq!(revision_list(&IfMatch::Revisions(vec![7, 9])), Some(&[7, 9][..]));
    }
}
