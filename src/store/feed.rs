//! `Store`'s change log, stream tickets and notifier: the contract's calls
//! handed to the engine (the types and SQL are in `changes` and `tickets`).

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::changes::Heard;
use super::contract::{ChangeLog, Notifier, StreamTickets};
use super::postgres::PgConfig;
use super::tickets::TicketRecord;
use super::{Store, StoreError};
use crate::domain::{ChangesSince, Task, TaskId};

impl ChangeLog for Store {
    async fn changes_since(&self, owner: &str, since: i64, limit: i64) -> Result<ChangesSince, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.changes_since(owner, since, limit).await,
            Self::Postgres(engine) => engine.changes_since(owner, since, limit).await,
        }
    }

    async fn created_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.created_task(owner, id).await,
            Self::Postgres(engine) => engine.created_task(owner, id).await,
        }
    }

    async fn change_head(&self, owner: &str) -> Result<i64, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.change_head(owner).await,
            Self::Postgres(engine) => engine.change_head(owner).await,
        }
    }

    async fn prune_changes(&self, older_than: i64, keep_per_user: i64) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.prune_changes(older_than, keep_per_user).await,
            Self::Postgres(engine) => engine.prune_changes(older_than, keep_per_user).await,
        }
    }
}

impl StreamTickets for Store {
    async fn issue_ticket(&self, ticket: TicketRecord<'_>) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(engine) => engine.issue_ticket(ticket).await,
            Self::Postgres(engine) => engine.issue_ticket(ticket).await,
        }
    }

    async fn redeem_ticket(&self, hash: &str, now: i64) -> Result<Option<(String, i64)>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.redeem_ticket(hash, now).await,
            Self::Postgres(engine) => engine.redeem_ticket(hash, now).await,
        }
    }

    async fn prune_tickets(&self, now: i64) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.prune_tickets(now).await,
            Self::Postgres(engine) => engine.prune_tickets(now).await,
        }
    }
}

impl Notifier for Store {
    fn is_shared(&self) -> bool {
        match self {
            Self::Sqlite(engine) => engine.is_shared(),
            Self::Postgres(engine) => engine.is_shared(),
        }
    }

    fn listen(
        &self,
        direct: Option<&PgConfig>,
        heard: mpsc::UnboundedSender<Heard>,
    ) -> Result<Option<JoinHandle<()>>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.listen(direct, heard),
            Self::Postgres(engine) => engine.listen(direct, heard),
        }
    }

    async fn notify_changed(&self, payload: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(engine) => engine.notify_changed(payload).await,
            Self::Postgres(engine) => engine.notify_changed(payload).await,
        }
    }

    async fn change_heads(&self, owners: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.change_heads(owners).await,
            Self::Postgres(engine) => engine.change_heads(owners).await,
        }
    }
}
