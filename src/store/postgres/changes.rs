//! The change log and stream tickets on PostgreSQL.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::super::StoreError;
use super::super::changes::{CHANGE_TASK_COLUMN, PAGE_MAX, settle_read};
use super::super::contract::ChangeLog;
use super::super::retention::{PRUNE_BATCH, Pruned, in_batches};
use super::super::rows::task_at_pg;
use super::pg_store::{PgStore, Role};
use super::statements;
use crate::domain::{Change, ChangeKind, ChangesSince, Task, TaskId};

pub(super) fn change_from_pg(row: &Row) -> Result<Change, tokio_postgres::Error> {
    let kind: &str = row.try_get(1)?;
    Ok(Change {
        seq: row.try_get(0)?,
        // The column's CHECK admits only the three names.
        kind: ChangeKind::parse(kind).unwrap_or(ChangeKind::Updated),
        task: task_at_pg(row, CHANGE_TASK_COLUMN)?,
    })
}

impl ChangeLog for PgStore {
    async fn changes_since(&self, owner: &str, since: i64, limit: i64) -> Result<ChangesSince, StoreError> {
        let limit = limit.clamp(1, PAGE_MAX);
        self.read_own(owner, |conn| async move {
            // The head first: every number up to it is committed, so the page
            // read after it must start at `since + 1` unless retention took it.
            let head: i64 = conn.query(statements::CHANGE_HEAD, &[&owner]).await?[0].try_get(0)?;
            let params: [&(dyn ToSql + Sync); 3] = [&owner, &since, &limit];
            let rows = conn.query(statements::READ_CHANGES, &params).await?;
            let changes = rows.iter().map(change_from_pg).collect::<Result<_, _>>()?;
            Ok(settle_read(since, head, changes))
        })
        .await
    }

    /// On the primary: it serves retried writes.
    async fn created_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.optional_task(Role::Read, statements::CREATED_TASK, &[&owner, &id.get()]).await
    }

    async fn change_head(&self, owner: &str) -> Result<i64, StoreError> {
        self.with_conn(Role::Read, |conn| async move {
            conn.query(statements::CHANGE_HEAD, &[&owner]).await?[0].try_get(0)
        })
        .await
    }

    async fn prune_changes(&self, older_than: i64, keep_per_user: i64) -> Result<u64, StoreError> {
        in_batches(|from| async move {
            let logged = self
                .with_conn(Role::Write, move |conn| async move {
                    let params: [&(dyn ToSql + Sync); 4] = [&older_than, &keep_per_user, &PRUNE_BATCH, &from];
                    let rows = conn.query(statements::PRUNE_CHANGES, &params).await?;
                    rows.iter().map(|row| row.try_get(0)).collect()
                })
                .await?;
            Ok(Pruned::logged(logged, from))
        })
        .await
    }
}
