//! A task's create, read, list, update, toggle and delete on SQLite.

use rusqlite::{OptionalExtension, params};

use super::super::StoreError;
use super::super::contract::{Listed, PatchParams, TaskSink, Tasks, Writer, needs_separate_count};
use super::super::rows::{HEAD_COLUMN, TOTAL_COLUMN, task_from_sqlite, task_view_sqlite};
use super::super::sql;
use super::{Create, SQL, SqliteStore, changes};
use crate::domain::{ListQuery, NewTask, Task, TaskId, TaskPatch, Timestamp};

impl Tasks for SqliteStore {
    /// SQLite has no data-modifying CTEs: the count and the insert are two
    /// statements in the group's transaction, under this write's savepoint.
    async fn create_task(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
    ) -> Result<Option<Task>, StoreError> {
        let create = Create::of(writer, new, max_tasks);
        self.write(move |conn| create.run(conn)).await
    }

    async fn get_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        let owner = owner.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&SQL.select_task)?
                .query_row(params![id.get(), owner], task_from_sqlite)
                .optional()
        })
        .await
    }

    async fn list_into<S: TaskSink>(
        &self,
        owner: &str,
        query: &ListQuery,
        mut sink: S,
    ) -> Result<Listed<S>, StoreError> {
        let (owner, query) = (owner.to_owned(), *query);
        self.read(move |conn| {
            let completed = query.status.completed();
            let limit = query.limit.unwrap_or(i64::MAX);
            let text = &SQL.list_tasks[sql::list_index(query.sort, query.order, completed.is_some())];
            let mut statement = conn.prepare_cached(text)?;
            let mut rows = statement.query(params![owner, completed, limit, query.offset])?;
            let (mut listed, mut total, mut head) = (0, 0, None);
            while let Some(row) = rows.next()? {
                if listed == 0 {
                    // Every row carries the same numbers: read them once.
                    total = row.get(TOTAL_COLUMN)?;
                    head = row.get::<_, Option<i64>>(HEAD_COLUMN)?;
                    sink.expect(query.page_size(total));
                }
                sink.push(task_view_sqlite(row)?);
                listed += 1;
            }
            if needs_separate_count(listed, &query) {
                total = conn
                    .prepare_cached(&SQL.count_tasks)?
                    .query_row(params![owner, completed], |row| row.get(0))?;
            }
            // No row (an empty page) carried the number: ask for it.
            let change_seq = match head {
                Some(head) => head,
                None => changes::head(conn, &owner)?,
            };
            Ok(Listed { sink, total, change_seq })
        })
        .await
    }

    async fn update_task_at(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
        revisions: Option<&[i64]>,
    ) -> Result<Option<Task>, StoreError> {
        let PatchParams { title, sets_description, description, completed } = PatchParams::of(patch);
        let (owner, title, description) =
            (owner.to_owned(), title.map(str::to_owned), description.map(str::to_owned));
        let revisions = sql::revisions_as_json(revisions);
        self.write(move |conn| {
            let values = params![
                id.get(),
                owner,
                title,
                sets_description,
                description,
                completed,
                Timestamp::now(),
                revisions
            ];
            conn.prepare_cached(&SQL.update_task)?.query_row(values, task_from_sqlite).optional()
        })
        .await
    }

    async fn toggle_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> Result<Option<Task>, StoreError> {
        let (owner, revisions) = (owner.to_owned(), sql::revisions_as_json(revisions));
        self.write(move |conn| {
            let values = params![id.get(), owner, Timestamp::now(), revisions];
            conn.prepare_cached(&SQL.toggle_task)?.query_row(values, task_from_sqlite).optional()
        })
        .await
    }

    async fn delete_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> Result<bool, StoreError> {
        let (owner, revisions) = (owner.to_owned(), sql::revisions_as_json(revisions));
        self.write(move |conn| {
            let deleted =
                conn.prepare_cached(&SQL.delete_task)?.execute(params![id.get(), owner, revisions])?;
            if deleted == 1 {
                conn.prepare_cached(&SQL.uncount_in_user)?.execute(params![owner])?;
            }
            Ok(deleted == 1)
        })
        .await
    }
}
