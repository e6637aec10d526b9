//! The change log and stream tickets on SQLite. One process holds the file,
//! so changes fan out in process and there is nothing to notify.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::super::StoreError;
use super::super::changes::{self as log, CHANGE_TASK_COLUMN, PAGE_MAX, settle_read};
use super::super::contract::ChangeLog;
use super::super::retention::{PRUNE_BATCH, Pruned, in_batches};
use super::super::rows::{task_at_sqlite, task_from_sqlite};
use super::super::sql::for_sqlite;
use super::SqliteStore;
use crate::domain::{Change, ChangeKind, ChangesSince, Task, TaskId};

struct ChangeSql {
    head: String,
    created: String,
    read: String,
    prune: String,
}

static CHANGE_SQL: LazyLock<ChangeSql> = LazyLock::new(|| ChangeSql {
    head: for_sqlite(log::CHANGE_HEAD),
    created: for_sqlite(log::CREATED_TASK),
    read: for_sqlite(log::READ_CHANGES),
    prune: for_sqlite(log::PRUNE_CHANGES_SQLITE),
});

pub(super) fn head(conn: &Connection, owner: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(&CHANGE_SQL.head)?.query_row(params![owner], |row| row.get(0))
}

pub(super) fn change_from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    let kind: String = row.get(1)?;
    Ok(Change {
        seq: row.get(0)?,
        // The column's CHECK admits only the three names.
        kind: ChangeKind::parse(&kind).unwrap_or(ChangeKind::Updated),
        task: task_at_sqlite(row, CHANGE_TASK_COLUMN)?,
    })
}

impl ChangeLog for SqliteStore {
    async fn changes_since(&self, owner: &str, since: i64, limit: i64) -> Result<ChangesSince, StoreError> {
        let limit = limit.clamp(1, PAGE_MAX);
        let owner = owner.to_owned();
        self.read(move |conn| {
            // The head first (see `store::changes`).
            let head = head(conn, &owner)?;
            let mut statement = conn.prepare_cached(&CHANGE_SQL.read)?;
            let changes = statement
                .query_map(params![owner, since, limit], change_from_sqlite)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(settle_read(since, head, changes))
        })
        .await
    }

    async fn created_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        let owner = owner.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&CHANGE_SQL.created)?
                .query_row(params![owner, id.get()], task_from_sqlite)
                .optional()
        })
        .await
    }

    async fn change_head(&self, owner: &str) -> Result<i64, StoreError> {
        let owner = owner.to_owned();
        self.read(move |conn| head(conn, &owner)).await
    }

    /// Each batch is one job on the writer: the writes queued meanwhile go first.
    async fn prune_changes(&self, older_than: i64, keep_per_user: i64) -> Result<u64, StoreError> {
        in_batches(|from| async move {
            let logged = self
                .write(move |conn| {
                    conn.prepare_cached(&CHANGE_SQL.prune)?
                        .query_map(params![older_than, keep_per_user, PRUNE_BATCH, from], |row| row.get(0))?
                        .collect()
                })
                .await?;
            Ok(Pruned::logged(logged, from))
        })
        .await
    }
}
