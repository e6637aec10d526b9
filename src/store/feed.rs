//! The `Store` calls behind the change feed and the streams: reads of the
//! log, stream tickets, and hearing other instances (the types and SQL are
//! in `changes`).

use tokio::sync::mpsc;

use super::changes::{PAGE_MAX, TicketRecord};
use super::postgres::{Heard, PgConfig};
use super::{Store, StoreError};
use crate::domain::{ChangesSince, Task, TaskId};

impl Store {
    /// The owner's changes after `since` (at most `limit`, up to `PAGE_MAX`).
    pub async fn changes_since(
        &self,
        owner: &str,
        since: i64,
        limit: i64,
    ) -> Result<ChangesSince, StoreError> {
        let limit = limit.clamp(1, PAGE_MAX);
        on_engine!(self, engine => engine.changes_since(owner, since, limit).await)
    }

    /// The owner's latest change number.
    /// `owner`'s task `id` as it was created, while the log keeps its creation
    /// (retention may take it: then `None`).
    pub async fn created_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        on_engine!(self, engine => engine.created_task(owner, id).await)
    }

    pub async fn change_head(&self, owner: &str) -> Result<i64, StoreError> {
        on_engine!(self, engine => engine.change_head(owner).await)
    }

    /// Deletes changes past retention; how many went.
    pub async fn prune_changes(&self, older_than: i64, keep_per_user: i64) -> Result<u64, StoreError> {
        on_engine!(self, engine => engine.prune_changes(older_than, keep_per_user).await)
    }

    pub async fn issue_ticket(&self, ticket: TicketRecord<'_>) -> Result<(), StoreError> {
        on_engine!(self, engine => engine.issue_ticket(ticket).await)
    }

    /// The user a still-valid ticket opens streams for, and until when.
    pub async fn redeem_ticket(&self, hash: &str, now: i64) -> Result<Option<(String, i64)>, StoreError> {
        on_engine!(self, engine => engine.redeem_ticket(hash, now).await)
    }

    pub async fn prune_tickets(&self, now: i64) -> Result<u64, StoreError> {
        on_engine!(self, engine => engine.prune_tickets(now).await)
    }

    /// Whether other processes may write to this database (PostgreSQL), so
    /// changes must be heard from it; SQLite's one process fans out in process.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Hears other instances' changes (PostgreSQL; see `postgres::notify`).
    /// `None`: nothing to listen on, poll `change_heads` instead.
    pub fn listen(
        &self,
        direct: Option<&PgConfig>,
        heard: mpsc::UnboundedSender<Heard>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(None),
            Self::Postgres(pg) => pg.listen(direct, heard),
        }
    }

    /// Tells other instances these owners changed (ids one per line).
    pub async fn notify_changed(&self, payload: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres(pg) => pg.notify_changed(payload).await,
        }
    }

    /// The latest change number of each of these owners that has written.
    pub async fn change_heads(&self, owners: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(Vec::new()),
            Self::Postgres(pg) => pg.change_heads(owners).await,
        }
    }
}
