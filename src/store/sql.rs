//! The SQL the service runs. One text serves both engines: PostgreSQL's
//! numbered `$N` parameters become SQLite's `?N` (see `for_sqlite`), and every
//! construct here (`RETURNING`, `ON CONFLICT ... DO UPDATE`, `IS DISTINCT FROM`,
//! window functions) means the same on both. Every statement that touches a task
//! is scoped by `user_id`, so no query can reach another owner's row.

use crate::domain::{SortKey, SortOrder};

macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at"
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

/// One statement: absent fields keep their value (`$4` says whether the
/// description is being set, since `NULL` is a value it can be set to).
pub const UPDATE_TASK: &str = concat!(
    "UPDATE tasks SET title = COALESCE($3, title), \
     description = CASE WHEN $4 THEN $5 ELSE description END, \
     completed = COALESCE($6, completed), updated_at = $7 \
     WHERE id = $1 AND user_id = $2 RETURNING ",
    task_columns!()
);

/// The flip happens inside the database, so concurrent toggles serialize on the
/// row lock instead of racing a read-modify-write.
pub const TOGGLE_TASK: &str = concat!(
    "UPDATE tasks SET completed = NOT completed, updated_at = $3 \
     WHERE id = $1 AND user_id = $2 RETURNING ",
    task_columns!()
);

pub const DELETE_TASK: &str = "DELETE FROM tasks WHERE id = $1 AND user_id = $2";

pub const UNCOUNT_IN_USER: &str = "UPDATE users SET task_count = task_count - 1 WHERE id = $1";

/// PostgreSQL only: the delete and the owner's count as one statement; one row
/// updated means one task deleted.
pub const DELETE_TASK_AND_UNCOUNT: &str = "WITH gone AS (DELETE FROM tasks WHERE id = $1 AND user_id = $2 \
     RETURNING user_id) UPDATE users SET task_count = task_count - 1 FROM gone WHERE users.id = gone.user_id";

/// `$2`: required `completed` value, or NULL for every task.
pub const COUNT_TASKS: &str =
    "SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND ($2 IS NULL OR completed = $2)";

macro_rules! list_tasks {
    ($order:literal) => {
        concat!(
            "SELECT ",
            task_columns!(),
            ", COUNT(*) OVER () AS total FROM tasks \
             WHERE user_id = $1 AND ($2 IS NULL OR completed = $2) ORDER BY ",
            $order,
            " LIMIT $3 OFFSET $4"
        )
    };
}

/// The page of tasks plus, in the same statement, how many match the filter.
/// SQL text must be static, so each ordering is its own statement (indexed by
/// `list_index`); ties are broken by id so pages never overlap or skip.
pub const LIST_TASKS: [&str; 6] = [
    list_tasks!("created_at ASC, id ASC"),
    list_tasks!("created_at DESC, id DESC"),
    list_tasks!("updated_at ASC, id ASC"),
    list_tasks!("updated_at DESC, id DESC"),
    list_tasks!("title ASC, id ASC"),
    list_tasks!("title DESC, id DESC"),
];

pub fn list_index(sort: SortKey, order: SortOrder) -> usize {
    let key = match sort {
        SortKey::Created => 0,
        SortKey::Updated => 2,
        SortKey::Title => 4,
    };
    key + usize::from(order == SortOrder::Desc)
}

pub const PING: &str = "SELECT 1";

/// SQLite reads `$1` as a parameter *named* "$1", numbered by first
/// appearance; `?1` is numbered as written, which is what `$1` means here.
pub fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}
