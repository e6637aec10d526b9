//! SQLite over rusqlite (bundled): reads on a pool of reader threads, writes
//! on one writer thread with group commit (see `workers`). WAL mode, so
//! readers and the writer never block each other; `synchronous=NORMAL`,
//! which with WAL loses nothing on a process crash (only on power loss).

mod bulk;
mod changes;
mod idempotency;
mod options;
mod tasks;
mod tickets;
mod user_data;
mod workers;

use std::sync::{Arc, LazyLock};

use crossbeam_channel::Sender;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::StoreError;
use super::changes::Heard;
use super::contract::{Lifecycle, Notifier};
use super::contract::{PoolSettings, PoolStats, Writer};
use super::migrations::{self, SQLX_ERA_VERSION, failed};
use super::postgres::PgConfig;
use super::queue_bound::QueueBound;
use super::rows::task_from_sqlite;
use super::sql::{self, for_sqlite};
use crate::domain::{NewTask, Task, TaskDescription, Timestamp};
pub use options::SqliteOptions;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use workers::{ReadJob, Write, WriteJob};

/// Operations queued per connection before callers wait (then get 503).
const QUEUE_PER_CONNECTION: usize = 64;

/// The shared SQL with SQLite's parameter markers, converted once.
struct Statements {
    count_in_user: String,
    insert_task: String,
    select_task: String,
    update_task: String,
    toggle_task: String,
    delete_task: String,
    uncount_in_user: String,
    count_tasks: String,
    list_tasks: Vec<String>,
}

static SQL: LazyLock<Statements> = LazyLock::new(|| Statements {
    count_in_user: for_sqlite(sql::COUNT_IN_USER),
    insert_task: for_sqlite(sql::INSERT_TASK),
    select_task: for_sqlite(sql::SELECT_TASK),
    update_task: for_sqlite(sql::UPDATE_TASK),
    toggle_task: for_sqlite(sql::TOGGLE_TASK),
    delete_task: for_sqlite(sql::DELETE_TASK),
    uncount_in_user: for_sqlite(sql::UNCOUNT_IN_USER),
    count_tasks: for_sqlite(sql::COUNT_TASKS),
    list_tasks: sql::LIST_TASKS.iter().map(|text| for_sqlite(text)).collect(),
});

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    reads: Sender<ReadJob>,
    writes: Sender<WriteJob>,
    readers: usize,
    queue: QueueBound,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("readers", &self.inner.readers).finish_non_exhaustive()
    }
}

impl SqliteStore {
    pub async fn open(options: &SqliteOptions, settings: PoolSettings) -> Result<Self, StoreError> {
        let (options, readers) = (options.clone(), settings.max_connections as usize);
        let busy = settings.statement_timeout;
        // Opening touches the disk: off the runtime too.
        let (writer, reader_conns) = tokio::task::spawn_blocking(move || {
            // The writer first: it creates the file and switches it to WAL.
            let writer = Connection::open_with_flags(&options.target, options.writer_flags())?;
            writer.busy_timeout(busy)?;
            if !options.memory {
                writer.pragma_update(None, "journal_mode", "WAL")?;
            }
            writer.pragma_update(None, "synchronous", "NORMAL")?;
            writer.pragma_update(None, "foreign_keys", "ON")?;
            writer.set_prepared_statement_cache_capacity(32);
            let readers = (0..readers)
                .map(|_| {
                    let reader = Connection::open_with_flags(&options.target, options.reader_flags())?;
                    // SQLite cannot interrupt a running statement from here;
                    // what can wait without bound is the wait for a lock.
                    reader.busy_timeout(busy)?;
                    reader.set_prepared_statement_cache_capacity(32);
                    Ok(reader)
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, rusqlite::Error>((writer, readers))
        })
        .await
        .expect("opening SQLite does not panic")?;
        let inner = Inner {
            reads: workers::spawn_readers(reader_conns),
            writes: workers::spawn_writer(writer),
            readers,
            queue: QueueBound::new((readers + 1) * QUEUE_PER_CONNECTION),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let _room = self.inner.queue.enter().await?;
        let (reply, answer) = oneshot::channel();
        let job = Box::new(move |conn: &Connection| {
            let _ = reply.send(work(conn).map_err(StoreError::from));
        });
        self.inner.reads.send(job).map_err(|_| StoreError::Unreachable)?;
        answer.await.map_err(|_| StoreError::Unreachable)?
    }

    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let _room = self.inner.queue.enter().await?;
        let (reply, answer) = oneshot::channel();
        let job = WriteJob::Grouped(Box::new(Write { work, reply }));
        self.inner.writes.send(job).map_err(|_| StoreError::Unreachable)?;
        answer.await.map_err(|_| StoreError::Unreachable)?
    }

    /// On the writer's connection, between groups; refinery runs each
    /// migration in its own transaction, and the file's write lock keeps a
    /// second process out meanwhile.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = WriteJob::Alone(Box::new(move |conn: &mut Connection| {
            let _ = reply.send(migrate(conn));
        }));
        self.inner.writes.send(job).map_err(|_| StoreError::Unreachable)?;
        answer.await.map_err(|_| StoreError::Unreachable)?
    }
}

impl Lifecycle for SqliteStore {
    fn pool_stats(&self) -> Vec<PoolStats> {
        let readers = self.inner.readers as u32;
        vec![
            PoolStats { name: "sqlite_reads", open: readers, idle: readers as usize, max: readers },
            PoolStats { name: "sqlite_writes", open: 1, idle: 1, max: 1 },
        ]
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row(sql::PING, [], |_| Ok(()))).await
    }

    async fn close(&self) {
        self.inner.queue.close();
    }
}

/// One process writes this file: changes fan out in process, there is
/// nobody to tell and nothing to listen to.
impl Notifier for SqliteStore {
    fn is_shared(&self) -> bool {
        false
    }

    fn listen(
        &self,
        _direct: Option<&PgConfig>,
        _heard: mpsc::UnboundedSender<Heard>,
    ) -> Result<Option<JoinHandle<()>>, StoreError> {
        Ok(None)
    }

    async fn notify_changed(&self, _payload: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn change_heads(&self, _owners: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(Vec::new())
    }
}

/// A create, owned so that it can move to the writer thread.
struct Create {
    user: String,
    email: Option<String>,
    title: String,
    description: Option<String>,
    completed: bool,
    max_tasks: i64,
}

impl Create {
    fn of(writer: Writer<'_>, new: &NewTask, max_tasks: u32) -> Self {
        Self {
            user: writer.user_id.to_owned(),
            email: writer.email.map(str::to_owned),
            title: new.title.as_str().to_owned(),
            description: new.description.as_ref().map(|d| TaskDescription::as_str(d).to_owned()),
            completed: new.completed,
            max_tasks: i64::from(max_tasks),
        }
    }

    /// Counts the task against the owner's quota and inserts it; `None`
    /// (nothing written) when the quota is full.
    fn run(&self, conn: &Connection) -> rusqlite::Result<Option<Task>> {
        let Self { user, email, title, description, completed, max_tasks } = self;
        let now = Timestamp::now();
        let counted = conn
            .prepare_cached(&SQL.count_in_user)?
            .query_row(params![user, email, now, max_tasks], |_| Ok(()))
            .optional()?;
        if counted.is_none() {
            return Ok(None);
        }
        let mut insert = conn.prepare_cached(&SQL.insert_task)?;
        insert.query_row(params![user, title, description, completed, now], task_from_sqlite).map(Some)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let table_exists = |conn: &Connection, name: &str| {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [name],
            |row| row.get::<_, bool>(0),
        )
    };
    let sqlx_era = table_exists(conn, "_sqlx_migrations")?;
    if sqlx_era && !table_exists(conn, "refinery_schema_history")? {
        let version: i64 = conn.query_row(SQLX_ERA_VERSION, [], |row| row.get(0))?;
        if version > 0 {
            migrations::adopt(migrations::sqlite(), version).run(conn).map_err(failed)?;
        }
    }
    migrations::sqlite().run(conn).map_err(failed)?;
    Ok(())
}
