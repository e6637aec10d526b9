//! The storage seam: one `Store` for the handlers, over two engines on their
//! native drivers: PostgreSQL through tokio-postgres (pipelined, long-lived
//! connections) and SQLite through rusqlite (reader threads and one writer
//! thread with group commit). The SQL text is shared (see `sql`); each engine
//! decides how it reaches the database.

/// The same call on whichever engine this store is (defined before the
/// modules so that `idempotency` can use it too).
macro_rules! on_engine {
    ($store:expr, $engine:ident => $body:expr) => {
        match $store {
            Store::Sqlite($engine) => $body,
            Store::Postgres($engine) => $body,
        }
    };
}

mod admission;
pub mod bulk;
pub mod changes;
mod config;
mod error;
pub mod idempotency;
mod migrations;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
pub mod user_data;

use std::time::Duration;

use crate::domain::{IfMatch, ListQuery, NewTask, Task, TaskDescription, TaskId, TaskPatch, TaskView};
pub use config::{DatabaseConfig, DatabaseUrlError};
pub use error::StoreError;
pub use postgres::{Heard, PgConfig, Pooler, ReadReplicas, ReplicaReads};

/// How many connections an engine keeps, and how long one statement may run.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub statement_timeout: Duration,
    /// Request workers that will each take their share of PostgreSQL's
    /// connections (`Store::for_worker`); 0 when this store serves requests itself.
    pub workers: usize,
}

/// Receives a listing's tasks one by one, borrowed from the rows as they
/// come (see `Store::list_into`), so a long list is written out without a
/// `Task` per row.
pub trait TaskSink: Send + 'static {
    fn push(&mut self, task: TaskView<'_>);
}

/// A listing: the sink that took its tasks, and its numbers.
#[derive(Debug)]
pub struct Listed<S> {
    pub sink: S,
    /// How many tasks match the filter in all.
    pub total: i64,
    /// The owner's change number as of this page (see `changes`): where a
    /// client resumes the change feed after fetching it.
    pub change_seq: i64,
}

/// Who is writing: the verified token's subject and, when the token has one, e-mail.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
}

/// Open connections of one part of an engine, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub name: &'static str,
    pub open: u32,
    pub idle: usize,
    pub max: u32,
}

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

    pub fn pool_stats(&self) -> Vec<PoolStats> {
        on_engine!(self, engine => engine.pool_stats())
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

    /// Does the database answer right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_engine!(self, engine => engine.ping().await)
    }

    /// Stops taking work; later calls answer `Unreachable`.
    pub async fn close(&self) {
        on_engine!(self, engine => engine.close().await)
    }

    /// Records the writer, counts the task against the owner's quota and inserts
    /// it, atomically; `None` (and nothing written) when the owner already has
    /// `max_tasks`. The count lives on the owner's row, so concurrent creates of
    /// one owner serialize on that row's lock and cannot overshoot together.
    pub async fn create_task(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
    ) -> Result<Option<Task>, StoreError> {
        on_engine!(self, engine => engine.create_task(writer, new, max_tasks).await)
    }

    pub async fn get_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        on_engine!(self, engine => engine.get_task(owner, id).await)
    }

    /// The task as the primary has it (a replica may lag): what a write
    /// that did not happen reports.
    async fn get_task_on_primary(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(sqlite) => sqlite.get_task(owner, id).await,
            Self::Postgres(pg) => pg.get_task_on_primary(owner, id).await,
        }
    }

    /// One page of `owner`'s tasks into `sink`, with the page's numbers from
    /// the same snapshot.
    pub async fn list_into<S: TaskSink>(
        &self,
        owner: &str,
        query: &ListQuery,
        sink: S,
    ) -> Result<Listed<S>, StoreError> {
        on_engine!(self, engine => engine.list_into(owner, query, sink).await)
    }

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
        let done =
            on_engine!(self, engine => engine.update_task(owner, id, patch, revisions.as_deref()).await)?;
        self.settle(done, owner, id, if_match).await
    }

    pub async fn toggle_task(
        &self,
        owner: &str,
        id: TaskId,
        if_match: &IfMatch,
    ) -> Result<Written<Task>, StoreError> {
        let revisions = sql::revision_list(if_match);
        let done = on_engine!(self, engine => engine.toggle_task(owner, id, revisions.as_deref()).await)?;
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
        let done = on_engine!(self, engine => engine.delete_task(owner, id, revisions.as_deref()).await)?;
        self.settle(done.then_some(()), owner, id, if_match).await
    }

    /// A conditional write that wrote nothing: the task is missing, or (when
    /// revisions were required) it exists at another one. The read after
    /// only tells the two apart; the write itself was atomic.
    async fn settle<T>(
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

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Done(T),
    /// No such task (of this owner).
    Missing,
    /// `If-Match` did not hold: the task as it is now, unchanged.
    Changed(Task),
}

/// A patch as `sql::UPDATE_TASK`'s parameters: the title (`$3`), whether the
/// description is being set (`$4`: `NULL` is a value it can be set to), the
/// description (`$5`) and `completed` (`$6`); absent fields keep their value.
struct PatchParams<'a> {
    title: Option<&'a str>,
    sets_description: bool,
    description: Option<&'a str>,
    completed: Option<bool>,
}

impl<'a> PatchParams<'a> {
    fn of(patch: &'a TaskPatch) -> Self {
        let description = patch.description.as_ref().map(|d| d.as_ref().map(TaskDescription::as_str));
        Self {
            title: patch.title.as_ref().map(|title| title.as_str()),
            sets_description: description.is_some(),
            description: description.flatten(),
            completed: patch.completed,
        }
    }
}

/// The listing's total when the page came back empty: the window count
/// rides on rows, so past the end (or with no match) it must be asked for.
fn needs_separate_count(rows: usize, query: &ListQuery) -> bool {
    rows == 0 && query.offset > 0
}
