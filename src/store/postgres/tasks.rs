//! A task's create, read, list, update, toggle and delete on PostgreSQL.

use tokio_postgres::types::ToSql;

use super::super::contract::Tasks;
use super::super::contract::{Listed, PatchParams, TaskSink, Writer, needs_separate_count};
use super::super::rows::{HEAD_COLUMN, TOTAL_COLUMN, task_from_pg, task_view_pg};
use super::super::{StoreError, sql};
use super::pg_store::{PgStore, Role};
use super::statements;
use crate::domain::{ListQuery, NewTask, Task, TaskDescription, TaskId, TaskPatch, Timestamp};

impl Tasks for PgStore {
    /// One statement, one round trip: the counting upsert rides in a CTE.
    async fn create_task(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
    ) -> Result<Option<Task>, StoreError> {
        let values = CreateValues::new(writer, new, max_tasks, Timestamp::now());
        self.optional_task(Role::Write, statements::CREATE, &values.params()).await
    }

    async fn get_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        let params: [&(dyn ToSql + Sync); 2] = [&id.get(), &owner];
        self.read_own(owner, |conn| async move {
            let row = conn.query_opt(statements::SELECT, &params).await?;
            row.as_ref().map(task_from_pg).transpose()
        })
        .await
    }

    /// The task as the primary has it now: for what a write does next.
    async fn get_task_on_primary(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.optional_task(Role::Read, statements::SELECT, &[&id.get(), &owner]).await
    }

    async fn list_into<S: TaskSink>(
        &self,
        owner: &str,
        query: &ListQuery,
        mut sink: S,
    ) -> Result<Listed<S>, StoreError> {
        let completed = query.status.completed();
        let limit = query.limit.unwrap_or(i64::MAX);
        let which = statements::LIST + sql::list_index(query.sort, query.order, completed.is_some());
        let params: [&(dyn ToSql + Sync); 4] = [&owner, &completed, &limit, &query.offset];
        let (rows, total, head) = self
            .read_own(owner, |conn| async move {
                let rows = conn.query(which, &params).await?;
                let (total, head) = match rows.first() {
                    Some(row) => {
                        (row.try_get(TOTAL_COLUMN)?, row.try_get::<_, Option<i64>>(HEAD_COLUMN)?.unwrap_or(0))
                    }
                    None => {
                        let total = match needs_separate_count(0, query) {
                            true => {
                                conn.query(statements::COUNT, &[&owner, &completed]).await?[0].try_get(0)?
                            }
                            false => 0,
                        };
                        (total, conn.query(statements::CHANGE_HEAD, &[&owner]).await?[0].try_get(0)?)
                    }
                };
                Ok((rows, total, head))
            })
            .await?;
        sink.expect(rows.len());
        for row in &rows {
            sink.push(task_view_pg(row)?);
        }
        Ok(Listed { sink, total, change_seq: head })
    }

    async fn update_task_at(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
        revisions: Option<&[i64]>,
    ) -> Result<Option<Task>, StoreError> {
        let PatchParams { title, sets_description, description, completed } = PatchParams::of(patch);
        let now = Timestamp::now();
        let params: [&(dyn ToSql + Sync); 8] =
            [&id.get(), &owner, &title, &sets_description, &description, &completed, &now, &revisions];
        self.optional_task(Role::Write, statements::UPDATE, &params).await
    }

    /// The flip happens inside the database, so concurrent toggles serialize
    /// on the row lock instead of racing a read-modify-write.
    async fn toggle_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> Result<Option<Task>, StoreError> {
        let params: [&(dyn ToSql + Sync); 4] = [&id.get(), &owner, &Timestamp::now(), &revisions];
        self.optional_task(Role::Write, statements::TOGGLE, &params).await
    }

    /// The delete and the owner's count as one statement: one row updated
    /// means one task deleted.
    async fn delete_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> Result<bool, StoreError> {
        let params: [&(dyn ToSql + Sync); 3] = [&id.get(), &owner, &revisions];
        self.with_conn(Role::Write, |conn| async move {
            conn.execute(statements::DELETE, &params).await.map(|n| n == 1)
        })
        .await
    }
}

impl PgStore {
    pub(super) async fn optional_task(
        &self,
        role: Role,
        which: usize,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Task>, StoreError> {
        self.with_conn(role, |conn| async move {
            let row = conn.query_opt(which, params).await?;
            row.as_ref().map(task_from_pg).transpose()
        })
        .await
    }
}

/// A create's values, `$1`-`$7` of `CREATE` and of `CREATE_KEYED` (which
/// takes the key's after them).
pub(super) struct CreateValues<'a> {
    writer: Writer<'a>,
    now: Timestamp,
    max_tasks: i64,
    title: &'a str,
    description: Option<&'a str>,
    completed: bool,
}

impl<'a> CreateValues<'a> {
    pub(super) fn new(writer: Writer<'a>, new: &'a NewTask, max_tasks: u32, now: Timestamp) -> Self {
        Self {
            writer,
            now,
            max_tasks: i64::from(max_tasks),
            title: new.title.as_str(),
            description: new.description.as_ref().map(TaskDescription::as_str),
            completed: new.completed,
        }
    }

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.writer.user_id,
            &self.writer.email,
            &self.now,
            &self.max_tasks,
            &self.title,
            &self.description,
            &self.completed,
        ]
    }
}
