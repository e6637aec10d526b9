//! The change log and stream tickets on SQLite. One process holds the file,
//! so changes fan out in process and there is nothing to notify.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::super::StoreError;
use super::super::changes::{self as log, CHANGE_TASK_COLUMN, TicketRecord, settle_read};
use super::super::rows::{task_at_sqlite, task_from_sqlite};
use super::super::sql::for_sqlite;
use super::SqliteStore;
use crate::domain::{Change, ChangeKind, ChangesSince, Task, TaskId};

struct ChangeSql {
    head: String,
    created: String,
    read: String,
    prune: String,
    issue_ticket: String,
    redeem_ticket: String,
    prune_tickets: String,
}

static CHANGE_SQL: LazyLock<ChangeSql> = LazyLock::new(|| ChangeSql {
    head: for_sqlite(log::CHANGE_HEAD),
    created: for_sqlite(log::CREATED_TASK),
    read: for_sqlite(log::READ_CHANGES),
    prune: for_sqlite(log::PRUNE_CHANGES),
    issue_ticket: for_sqlite(log::ISSUE_TICKET),
    redeem_ticket: for_sqlite(log::REDEEM_TICKET),
    prune_tickets: for_sqlite(log::PRUNE_TICKETS),
});

pub(super) fn head(conn: &Connection, owner: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(&CHANGE_SQL.head)?.query_row(params![owner], |row| row.get(0))
}

impl SqliteStore {
    pub async fn changes_since(
        &self,
        owner: &str,
        since: i64,
        limit: i64,
    ) -> Result<ChangesSince, StoreError> {
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

    pub async fn created_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        let owner = owner.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&CHANGE_SQL.created)?
                .query_row(params![owner, id.get()], task_from_sqlite)
                .optional()
        })
        .await
    }

    pub async fn change_head(&self, owner: &str) -> Result<i64, StoreError> {
        let owner = owner.to_owned();
        self.read(move |conn| head(conn, &owner)).await
    }

    pub async fn prune_changes(&self, older_than: i64, keep_per_user: i64) -> Result<u64, StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(&CHANGE_SQL.prune)?
                .execute(params![older_than, keep_per_user])
                .map(|n| n as u64)
        })
        .await
    }

    pub async fn issue_ticket(&self, ticket: TicketRecord<'_>) -> Result<(), StoreError> {
        let TicketRecord { hash, user_id, expires_at, stream_until } = ticket;
        let (hash, user_id) = (hash.to_owned(), user_id.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(&CHANGE_SQL.issue_ticket)?
                .execute(params![hash, user_id, expires_at, stream_until])
                .map(drop)
        })
        .await
    }

    pub async fn redeem_ticket(&self, hash: &str, now: i64) -> Result<Option<(String, i64)>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&CHANGE_SQL.redeem_ticket)?
                .query_row(params![hash, now], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .await
    }

    pub async fn prune_tickets(&self, now: i64) -> Result<u64, StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(&CHANGE_SQL.prune_tickets)?.execute(params![now]).map(|n| n as u64)
        })
        .await
    }
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
