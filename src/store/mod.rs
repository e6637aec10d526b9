//! The storage seam: one `Store` over SQLite or PostgreSQL, each through its
//! native sqlx pool (sqlx's `Any` driver cannot carry timestamps). The SQL text
//! is shared (see `sql`), so the engines differ only in how they connect.

mod config;
mod migrations;
mod reachability;
mod sql;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};

use crate::domain::{ListQuery, NewTask, Task, TaskDescription, TaskId, TaskPatch, Timestamp};
pub use config::{DatabaseConfig, DatabaseUrlError};
use reachability::Reachability;

/// How long a request waits for a pooled connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections a pool may open, and how long one statement may run.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub statement_timeout: Duration,
}

/// One round trip per new connection, not per query. A `SET` rather than the
/// startup `options` parameter, which connection poolers such as PgBouncer refuse.
const SET_TIMEOUTS: &str =
    "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $1, false)";

fn pool_options<DB: sqlx::Database>(max_connections: u32) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // No ping round trip before every query: a connection that died is
        // noticed by the query itself (503), dropped, and replaced.
        .test_before_acquire(false)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is saturated: worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Not tried: the database was unreachable a moment ago and has not answered since.
    #[error("database unreachable")]
    Unreachable,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("no answer from {0} within {secs} s", secs = STARTUP_WAIT.as_secs())]
    NoAnswer(String),
}

/// How long startup waits for a PostgreSQL that is not accepting connections
/// yet (it may be starting alongside us) before giving up.
const STARTUP_WAIT: Duration = Duration::from_secs(5);

/// Startup's first connection, made directly rather than through the pool so
/// that a failure names its cause ("Connection refused", "password
/// authentication failed") instead of the pool's "timed out". Refusals and
/// "starting up" are retried until `STARTUP_WAIT`; a host that never answers
/// is given up on then too.
async fn first_contact(options: &sqlx::postgres::PgConnectOptions) -> Result<(), StoreError> {
    use sqlx::ConnectOptions;
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    loop {
        let attempt = tokio::time::timeout_at(deadline, options.connect()).await;
        let error = match attempt {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
                return Ok(());
            }
            Ok(Err(error)) => error,
            Err(_elapsed) => {
                return Err(StoreError::NoAnswer(format!("{}:{}", options.get_host(), options.get_port())));
            }
        };
        let retryable = match &error {
            sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
            sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
            _ => false,
        };
        if !retryable || tokio::time::Instant::now() + Duration::from_millis(250) >= deadline {
            return Err(error.into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::Error::*;
        match &error {
            PoolTimedOut | PoolClosed | Io(_) | Tls(_) | WorkerCrashed => Self::Unavailable(error),
            Database(db) if db.code().as_deref().is_some_and(is_transient) => Self::Unavailable(error),
            _ => Self::Database(error),
        }
    }
}

/// Error codes that mean "not now" rather than "wrong": SQLite's BUSY and LOCKED
/// (after the busy timeout); PostgreSQL's statement or lock timeout (57014,
/// 55P03), server shutdown or restart (class 57P), connection failures (class
/// 08), too many connections (53300), and a serialization failure or deadlock
/// victim (40001, 40P01).
fn is_transient(code: &str) -> bool {
    matches!(code, "5" | "6" | "57014" | "55P03" | "53300" | "40001" | "40P01")
        || code.starts_with("57P")
        || code.starts_with("08")
}

/// One page of a listing and how many tasks match the filter in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub total: i64,
}

/// Who is writing: the verified token's subject and, when the token has one, e-mail.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
}

/// SQLite allows one writer at a time. Writers queue for the single write
/// connection (fair, no busy-waiting) while readers use their own pool; in WAL
/// mode readers and the writer never block each other.
#[derive(Clone, Debug)]
pub struct SqlitePools {
    pub reads: SqlitePool,
    pub writes: SqlitePool,
}

#[derive(Clone, Debug)]
pub enum Pools {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// The database behind the service: its pools, and whether it can be reached.
#[derive(Clone, Debug)]
pub struct Store {
    pools: Pools,
    reachability: Arc<Reachability>,
}

/// Runs the same code against whichever pool this store holds for that kind of
/// work (`reads` or `writes`): the statements are identical, only the driver
/// types differ.
macro_rules! with_pool {
    ($store:expr, $role:ident, $pool:ident => $body:expr) => {
        match &$store.pools {
            Pools::Sqlite(pools) => {
                let $pool = &pools.$role;
                $body
            }
            Pools::Postgres($pool) => $body,
        }
    };
}

impl Store {
    /// Opens the pool; the first connection is made eagerly so a bad URL or an
    /// unreachable server is reported at startup.
    pub async fn connect(config: &DatabaseConfig, settings: PoolSettings) -> Result<Self, StoreError> {
        let PoolSettings { max_connections, statement_timeout } = settings;
        let pools = match config {
            DatabaseConfig::Sqlite(options) => {
                // SQLite cannot interrupt a running statement from here; what can
                // wait without bound is the wait for the write lock.
                let options = options.clone().busy_timeout(statement_timeout);
                // The writer first: it creates the file and switches it to WAL.
                let writes = pool_options(1).connect_with(options.clone()).await?;
                let reads = pool_options(max_connections).connect_with(options).await?;
                Pools::Sqlite(SqlitePools { reads, writes })
            }
            DatabaseConfig::Postgres(options) => {
                first_contact(options).await?;
                let millis = statement_timeout.as_millis().to_string();
                let pool = pool_options(max_connections)
                    .after_connect(move |conn, _| {
                        let millis = millis.clone();
                        Box::pin(async move {
                            sqlx::query(SET_TIMEOUTS).bind(millis).execute(conn).await.map(drop)
                        })
                    })
                    .connect_with(options.clone())
                    .await?;
                Pools::Postgres(pool)
            }
        };
        Ok(Self { pools, reachability: Arc::default() })
    }

    /// The pools themselves, for tests and tools that need raw access.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Runs `operation` unless the database is known to be unreachable, and
    /// notices when it has become so.
    async fn guarded<T>(
        &self,
        operation: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.reachability.is_down() {
            return Err(StoreError::Unreachable);
        }
        let result = operation.await;
        if let Err(error) = &result
            && self.is_connection_failure(error)
        {
            let store = self.clone();
            self.reachability.lost(move || {
                let store = store.clone();
                async move { store.ping_directly().await.is_ok() }
            });
        }
        result
    }

    /// The connection broke or could not be made (as opposed to a query that
    /// failed, a timeout under load, or a busy SQLite file). A pool timeout
    /// counts only when the pool holds no connection at all: it could not open one.
    fn is_connection_failure(&self, error: &StoreError) -> bool {
        let StoreError::Unavailable(cause) = error else { return false };
        match cause {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
            sqlx::Error::PoolTimedOut => self.pool_stats().iter().all(|&(_, open, _, _)| open == 0),
            sqlx::Error::Database(db) => {
                db.code().as_deref().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            _ => false,
        }
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock while
    /// it does, so several instances starting together migrate once; a migration
    /// may take longer than a request's statement timeout, so its connection has
    /// none and is closed afterwards rather than returned to the pool.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Sqlite(pools) => migrations::sqlite().run(&pools.writes).await?,
            Pools::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                sqlx::query(SET_TIMEOUTS).bind("0").execute(&mut conn).await?;
                migrations::postgres().run(&mut conn).await?;
                sqlx::Connection::close(conn).await?;
            }
        }
        Ok(())
    }

    /// `(pool, open, idle, max)` connections of each pool, for metrics.
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize, u32)> {
        fn stats<DB: sqlx::Database>(
            name: &'static str,
            pool: &sqlx::Pool<DB>,
        ) -> (&'static str, u32, usize, u32) {
            (name, pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        match &self.pools {
            Pools::Sqlite(pools) => {
                vec![stats("sqlite_reads", &pools.reads), stats("sqlite_writes", &pools.writes)]
            }
            Pools::Postgres(pool) => vec![stats("postgres", pool)],
        }
    }

    pub fn engine(&self) -> &'static str {
        match &self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    /// Does the database answer right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.guarded(self.ping_directly()).await
    }

    async fn ping_directly(&self) -> Result<(), StoreError> {
        with_pool!(self, reads, pool => sqlx::query(sql::PING).execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite(pools) => {
                pools.reads.close().await;
                pools.writes.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
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
        self.guarded(async {
            let now = Timestamp::now();
            let description = new.description.as_ref().map(TaskDescription::as_str);
            let max_tasks = i64::from(max_tasks);
            let task = match &self.pools {
                // One statement, one round trip: the counting upsert rides in a CTE.
                Pools::Postgres(pool) => {
                    sqlx::query_as::<_, Task>(sql::CREATE_TASK_WITH_USER)
                        .bind(writer.user_id)
                        .bind(writer.email)
                        .bind(now)
                        .bind(max_tasks)
                        .bind(new.title.as_str())
                        .bind(description)
                        .bind(new.completed)
                        .fetch_optional(pool)
                        .await?
                }
                // SQLite has no data-modifying CTEs; an in-process transaction costs little.
                Pools::Sqlite(pools) => {
                    let mut tx = pools.writes.begin().await?;
                    let counted = sqlx::query(sql::COUNT_IN_USER)
                        .bind(writer.user_id)
                        .bind(writer.email)
                        .bind(now)
                        .bind(max_tasks)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if counted.is_none() {
                        return Ok(None);
                    }
                    let task = sqlx::query_as::<_, Task>(sql::INSERT_TASK)
                        .bind(writer.user_id)
                        .bind(new.title.as_str())
                        .bind(description)
                        .bind(new.completed)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Some(task)
                }
            };
            Ok(task)
        })
        .await
    }

    pub async fn get_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.guarded(async {
            Ok(with_pool!(self, reads, pool => {
                sqlx::query_as::<_, Task>(sql::SELECT_TASK)
                    .bind(id.get())
                    .bind(owner)
                    .fetch_optional(pool)
                    .await
            })?)
        })
        .await
    }

    pub async fn list_tasks(&self, owner: &str, query: &ListQuery) -> Result<TaskPage, StoreError> {
        self.guarded(async {
            let completed = query.status.completed();
            let rows = with_pool!(self, reads, pool => {
                sqlx::query_as::<_, Listed>(sql::list_tasks(query.sort, query.order))
                    .bind(owner)
                    .bind(completed)
                    .bind(query.limit.unwrap_or(i64::MAX))
                    .bind(query.offset)
                    .fetch_all(pool)
                    .await
            })?;
            let total = match rows.first() {
                Some(row) => row.total,
                None if query.offset == 0 => 0,
                // Paged past the end: the window count came with no row to carry it.
                None => with_pool!(self, reads, pool => {
                    sqlx::query_scalar::<_, i64>(sql::COUNT_TASKS)
                        .bind(owner)
                        .bind(completed)
                        .fetch_one(pool)
                        .await
                })?,
            };
            Ok(TaskPage { tasks: rows.into_iter().map(|row| row.task).collect(), total })
        })
        .await
    }

    /// Applies the present fields in one statement; an empty patch changes nothing.
    pub async fn update_task(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
    ) -> Result<Option<Task>, StoreError> {
        self.guarded(async {
            if patch.is_empty() {
                return self.get_task(owner, id).await;
            }
            let title = patch.title.as_ref().map(|title| title.as_str());
            let description = patch.description.as_ref().map(|d| d.as_ref().map(TaskDescription::as_str));
            Ok(with_pool!(self, writes, pool => {
                sqlx::query_as::<_, Task>(sql::UPDATE_TASK)
                    .bind(id.get())
                    .bind(owner)
                    .bind(title)
                    .bind(description.is_some())
                    .bind(description.flatten())
                    .bind(patch.completed)
                    .bind(Timestamp::now())
                    .fetch_optional(pool)
                    .await
            })?)
        })
        .await
    }

    pub async fn toggle_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.guarded(async {
            Ok(with_pool!(self, writes, pool => {
                sqlx::query_as::<_, Task>(sql::TOGGLE_TASK)
                    .bind(id.get())
                    .bind(owner)
                    .bind(Timestamp::now())
                    .fetch_optional(pool)
                    .await
            })?)
        })
        .await
    }

    /// `true` if this call deleted the task (and gave its owner one back).
    pub async fn delete_task(&self, owner: &str, id: TaskId) -> Result<bool, StoreError> {
        self.guarded(async {
            let deleted = match &self.pools {
                Pools::Postgres(pool) => sqlx::query(sql::DELETE_TASK_AND_UNCOUNT)
                    .bind(id.get())
                    .bind(owner)
                    .execute(pool)
                    .await?
                    .rows_affected(),
                Pools::Sqlite(pools) => {
                    let mut tx = pools.writes.begin().await?;
                    let deleted =
                        sqlx::query(sql::DELETE_TASK).bind(id.get()).bind(owner).execute(&mut *tx).await?;
                    if deleted.rows_affected() == 1 {
                        sqlx::query(sql::UNCOUNT_IN_USER).bind(owner).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    deleted.rows_affected()
                }
            };
            Ok(deleted == 1)
        })
        .await
    }
}

/// A listing row: the task plus the window count of every match.
struct Listed {
    task: Task,
    total: i64,
}

impl<'r, R> FromRow<'r, R> for Listed
where
    R: Row,
    Task: FromRow<'r, R>,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self { task: Task::from_row(row)?, total: row.try_get("total")? })
    }
}

/// Written by hand instead of derived: the derive needs sqlx's proc-macro crates.
impl<'r, R> FromRow<'r, R> for Task
where
    R: Row,
    &'r str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            completed: row.try_get("completed")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}
