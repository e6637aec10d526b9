//! `Store`: the database behind the service, over whichever engine the
//! configuration chose. It implements the storage contract (`contract`) by
//! handing each call to that engine, and adds what is the same on both: the
//! conditional writes' answers.

use std::path::Path;

use super::bulk::{Bulk, BulkDone};
use super::contract::{
    BulkActions, Lifecycle, Listed, PoolSettings, PoolStats, TaskSink, Tasks, UserRecords, Writer, Written,
};
use super::user_data::{BackupError, Erased, UserData};
use super::{DatabaseConfig, Pooler, StoreError, postgres, sql, sqlite};
use crate::domain::{IfMatch, ListQuery, NewTask, Task, TaskId, TaskPatch};

/// The database behind the service. Cloning is cheap (the engines share
/// their state behind an `Arc`).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the engine on the schema as it is; the first connection is made
    /// eagerly so a bad URL or an unreachable server is reported at once.
    pub async fn connect(config: &DatabaseConfig, settings: PoolSettings) -> Result<Self, StoreError> {
        Self::open(config, settings, false).await
    }

    /// Opens the engine after applying pending migrations (several instances
    /// starting together migrate once).
    pub async fn connect_migrated(
        config: &DatabaseConfig,
        settings: PoolSettings,
    ) -> Result<Self, StoreError> {
        Self::open(config, settings, true).await
    }

    async fn open(
        config: &DatabaseConfig,
        settings: PoolSettings,
        migrate: bool,
    ) -> Result<Self, StoreError> {
        Ok(match config {
            DatabaseConfig::Sqlite(options) => {
                let store = sqlite::SqliteStore::open(options, settings).await?;
                if migrate {
                    store.migrate().await?;
                }
                Self::Sqlite(store)
            }
            DatabaseConfig::Postgres(options) => {
                Self::Postgres(postgres::PgStore::connect(options, settings, migrate).await?)
            }
        })
    }

    /// The store request worker `index` uses: on PostgreSQL, connections
    /// of its own on the calling runtime (see `PgStore::for_worker`); SQLite's
    /// reader threads and one writer serve every worker.
    pub async fn for_worker(&self, index: usize) -> Self {
        match self {
            Self::Sqlite(sqlite) => Self::Sqlite(sqlite.clone()),
            Self::Postgres(pg) => Self::Postgres(pg.for_worker(index).await),
        }
    }

    /// With read replicas: `(who answered, task reads so far)` (see `postgres::replicas`).
    pub fn replica_reads(&self) -> Vec<(&'static str, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        let Self::Postgres(pg) = self else { return Vec::new() };
        let Some(reads) = pg.replica_reads() else { return Vec::new() };
        vec![
            ("replica", reads.replica.load(Relaxed)),
            ("primary_behind", reads.behind.load(Relaxed)),
            ("primary_failed", reads.failed.load(Relaxed)),
        ]
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// A consistent copy of the SQLite database at `path` (a new file),
    /// taken while it is being written.
    pub async fn backup_to(&self, path: &Path) -> Result<(), BackupError> {
        if path.exists() {
            return Err(BackupError::Exists(path.display().to_string()));
        }
        match self {
            Self::Sqlite(sqlite) => Ok(sqlite.backup_to(path).await?),
            Self::Postgres(_) => Err(BackupError::NotEmbedded),
        }
    }

    /// The transaction-mode pooler in front of PostgreSQL, as configured or
    /// found out since; `None` on SQLite.
    pub fn pooler(&self) -> Pooler {
        match self {
            Self::Sqlite(_) => Pooler::None,
            Self::Postgres(pg) => pg.pooler(),
        }
    }

    /// PostgreSQL's `statement_timeout` and `lock_timeout` in force, in ms
    /// (`todo-api check`); `None` on SQLite, which has neither.
    pub async fn timeouts_in_force(&self) -> Option<Result<(i64, i64), StoreError>> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(pg) => Some(pg.timeouts_in_force().await),
        }
    }
}

/// Writes under `If-Match`: the engine writes only at an accepted revision
/// (checked in the write's own statement); when nothing was written, a
/// read tells a missing task from one at another revision.
impl Store {
    /// Applies the present fields in one statement, if `if_match` holds (checked
    /// in that statement); an empty patch changes nothing.
    pub async fn update_task(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
        if_match: &IfMatch,
    ) -> Result<Written<Task>, StoreError> {
        if patch.is_empty() {
            return Ok(match self.get_task(owner, id).await? {
                Some(task) if if_match.admits(task.revision) => Written::Done(task),
                Some(task) => Written::Changed(task),
                None => Written::Missing,
            });
        }
        let revisions = sql::revision_list(if_match);
        let done = self.update_task_at(owner, id, patch, revisions).await?;
        self.settle(done, owner, id, if_match).await
    }

    pub async fn toggle_task(
        &self,
        owner: &str,
        id: TaskId,
        if_match: &IfMatch,
    ) -> Result<Written<Task>, StoreError> {
        let revisions = sql::revision_list(if_match);
        let done = self.toggle_task_at(owner, id, revisions).await?;
        self.settle(done, owner, id, if_match).await
    }

    /// `Done` if this call deleted the task (and gave its owner one back).
    pub async fn delete_task(
        &self,
        owner: &str,
        id: TaskId,
        if_match: &IfMatch,
    ) -> Result<Written<()>, StoreError> {
        let revisions = sql::revision_list(if_match);
        let done = self.delete_task_at(owner, id, revisions).await?;
        self.settle(done.then_some(()), owner, id, if_match).await
    }

    /// A conditional write that wrote nothing: the task is missing, or (when
    /// revisions were required) it exists at another one. The read after
    /// only tells the two apart; the write itself was atomic.
    pub(super) async fn settle<T>(
        &self,
        done: Option<T>,
        owner: &str,
        id: TaskId,
        if_match: &IfMatch,
    ) -> Result<Written<T>, StoreError> {
        Ok(match done {
            Some(done) => Written::Done(done),
            None if matches!(if_match, IfMatch::Revisions(_)) => {
                match self.get_task_on_primary(owner, id).await? {
                    Some(current) => Written::Changed(current),
                    None => Written::Missing,
                }
            }
            None => Written::Missing,
        })
    }
}

impl Lifecycle for Store {
    fn pool_stats(&self) -> Vec<PoolStats> {
        match self {
            Self::Sqlite(engine) => engine.pool_stats(),
            Self::Postgres(engine) => engine.pool_stats(),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(engine) => engine.ping().await,
            Self::Postgres(engine) => engine.ping().await,
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(engine) => engine.close().await,
            Self::Postgres(engine) => engine.close().await,
        }
    }
}

impl Tasks for Store {
    async fn create_task(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
    ) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.create_task(writer, new, max_tasks).await,
            Self::Postgres(engine) => engine.create_task(writer, new, max_tasks).await,
        }
    }

    async fn get_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.get_task(owner, id).await,
            Self::Postgres(engine) => engine.get_task(owner, id).await,
        }
    }

    async fn get_task_on_primary(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.get_task_on_primary(owner, id).await,
            Self::Postgres(engine) => engine.get_task_on_primary(owner, id).await,
        }
    }

    async fn list_into<S: TaskSink>(
        &self,
        owner: &str,
        query: &ListQuery,
        sink: S,
    ) -> Result<Listed<S>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.list_into(owner, query, sink).await,
            Self::Postgres(engine) => engine.list_into(owner, query, sink).await,
        }
    }

    async fn update_task_at(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
        revisions: Option<&[i64]>,
    ) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.update_task_at(owner, id, patch, revisions).await,
            Self::Postgres(engine) => engine.update_task_at(owner, id, patch, revisions).await,
        }
    }

    async fn toggle_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.toggle_task_at(owner, id, revisions).await,
            Self::Postgres(engine) => engine.toggle_task_at(owner, id, revisions).await,
        }
    }

    async fn delete_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.delete_task_at(owner, id, revisions).await,
            Self::Postgres(engine) => engine.delete_task_at(owner, id, revisions).await,
        }
    }
}

impl BulkActions for Store {
    async fn bulk(&self, bulk: Bulk<'_>) -> Result<BulkDone, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.bulk(bulk).await,
            Self::Postgres(engine) => engine.bulk(bulk).await,
        }
    }
}

impl UserRecords for Store {
    async fn export_user(&self, user_id: &str) -> Result<UserData, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.export_user(user_id).await,
            Self::Postgres(engine) => engine.export_user(user_id).await,
        }
    }

    async fn erase_user(&self, user_id: &str) -> Result<Erased, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.erase_user(user_id).await,
            Self::Postgres(engine) => engine.erase_user(user_id).await,
        }
    }
}
