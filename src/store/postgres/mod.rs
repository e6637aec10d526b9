//! PostgreSQL over tokio-postgres: long-lived connections, statements
//! prepared once per connection, concurrent queries pipelined on each.
//!
//! Two sets, chosen by measurement (docs/benchmarks.md): reads go to one
//! connection per core, where pipelining batches the most (on 2 cores, `get`
//! ran 24k rps on 2 connections, 17k on 10, 13k on 16); writes spread over
//! `DATABASE_MAX_CONNECTIONS`, since PostgreSQL runs one connection's
//! statements one after another and each commit waits for its WAL flush
//! (toggles: 4.7k/s on 2 connections, 7.6k/s on 10).
//!
//! Each request worker (one runtime per core) has sets of its own
//! (`for_worker`): one read connection and its share of the writers, whose
//! driver tasks run on the worker's own thread, so a request never waits on
//! another thread. The store the server starts with keeps a small set for
//! background work, and is what a worker falls back on while its own
//! connections are (re)connecting.

mod bulk;
mod changes;
mod connections;
mod keys;
mod migrate;
mod notify;
mod pooler;
mod replicas;
mod statements;
mod tls;
mod url;
mod user_data;

use std::sync::{Arc, Mutex, Weak};

use tokio_postgres::types::ToSql;

use super::admission::Admission;
use super::error::STARTUP_WAIT;
use super::rows::{HEAD_COLUMN, TOTAL_COLUMN, task_from_pg, task_view_pg};
use super::{Listed, PatchParams, PoolSettings, PoolStats, StoreError, TaskSink, Writer, sql};
use crate::domain::{ListQuery, NewTask, Task, TaskDescription, TaskId, TaskPatch, Timestamp};
use connections::{Connections, Connector};
pub use notify::{Heard, PAYLOAD_MAX};
pub use replicas::ReplicaReads;
use replicas::Replicas;
use statements::Conn;
pub use url::{PgConfig, Pooler, ReadReplicas, SslMode, describe, parse_pooler};

/// Queries one connection may have queued in its pipeline before callers
/// wait (then get 503): deep enough to keep it busy, shallow enough that a
/// stalled database does not collect thousands of requests.
const PIPELINE_DEPTH: usize = 128;

/// Which set of connections a statement goes to.
#[derive(Clone, Copy)]
enum Role {
    Read,
    Write,
}

#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    reads: Connections,
    writes: Connections,
    admission: Admission,
    connector: Connector,
    /// Where task reads go when they can (`DATABASE_READ_URL`).
    replicas: Option<Replicas>,
    settings: PoolSettings,
    /// A worker's store falls back on the server's while its own sets are empty.
    fallback: Option<PgStore>,
    /// The server's store: its workers' stores, for metrics that cover them all.
    workers: Mutex<Vec<Weak<Inner>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pooler", &self.inner.connector.pooler()).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects (and, with `migrate`, first brings the schema up to date:
    /// statements are prepared against it when each connection opens).
    pub async fn connect(
        config: &PgConfig,
        settings: PoolSettings,
        migrate: bool,
    ) -> Result<Self, StoreError> {
        let connector = Connector::new(config, settings.statement_timeout, None)?;
        first_contact(&connector, config).await?;
        if migrate {
            migrate::run(&connector).await?;
        }
        let first = connector.open().await?;
        let writers = settings.max_connections as usize;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // With workers, requests use the workers' connections: this store
        // keeps one for background work, and its reads serve its writes.
        let (readers, writers) = match settings.workers {
            0 => (cores.min(writers), writers),
            _ => (1, 0),
        };
        let reads = Connections::start(connector.clone(), readers, Some(first));
        let writes = Connections::start(connector.clone(), writers, None);
        let replicas = match &config.reads {
            Some(reads) => Some(Replicas::start(reads, settings.statement_timeout)?),
            None => None,
        };
        let admission =
            Admission::new((readers + writers + replicas.as_ref().map_or(0, Replicas::len)) * PIPELINE_DEPTH);
        let watched = replicas.is_some();
        let inner = Arc::new(Inner {
            reads,
            writes,
            admission,
            connector,
            replicas,
            settings,
            fallback: None,
            workers: Mutex::default(),
        });
        if watched {
            tokio::spawn(replicas::watch(Arc::downgrade(&inner)));
        }
        Ok(Self { inner })
    }

    /// A store for request worker `index`, whose connections run on the
    /// calling runtime: one for reads (opened before this returns, when it
    /// can be) and its share of `DATABASE_MAX_CONNECTIONS` for writes. Until
    /// they are open, and whenever they are lost, it uses this store's.
    pub async fn for_worker(&self, index: usize) -> Self {
        let (total, workers) =
            (self.inner.settings.max_connections as usize, self.inner.settings.workers.max(1));
        let writers = total / workers + usize::from(index < total % workers);
        let connector = self.inner.connector.clone();
        let first = match tokio::time::timeout(STARTUP_WAIT, connector.open()).await {
            Ok(Ok(first)) => Some(first),
            _ => None,
        };
        let reads = Connections::start(connector.clone(), 1, first);
        let writes = Connections::start(connector.clone(), writers, None);
        let replicas = self.inner.replicas.as_ref().map(|replicas| replicas.for_worker(index));
        let admission =
            Admission::new((1 + writers + replicas.as_ref().map_or(0, Replicas::len)) * PIPELINE_DEPTH);
        let settings = self.inner.settings;
        let fallback = Some(self.clone());
        let workers = Mutex::default();
        let inner =
            Arc::new(Inner { reads, writes, admission, connector, replicas, settings, fallback, workers });
        self.inner.workers.lock().expect("workers lock").push(Arc::downgrade(&inner));
        Self { inner }
    }

    /// Runs `work` on an open connection, within the queue's bound.
    async fn with_conn<T, F>(&self, role: Role, work: impl FnOnce(Arc<Conn>) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let _room = self.inner.admission.enter().await?;
        let set = match role {
            Role::Read => &self.inner.reads,
            Role::Write => &self.inner.writes,
        };
        // A write set still connecting (or lost) falls back on a reader, and back.
        let conn = set.pick().or_else(|| self.inner.reads.pick()).or_else(|| self.inner.writes.pick());
        let conn = match (conn, &self.inner.fallback) {
            (Some(conn), _) => conn,
            (None, Some(server)) => return Box::pin(server.with_conn(role, work)).await,
            (None, None) => return Err(StoreError::Unreachable),
        };
        Ok(work(conn).await?)
    }

    /// The server's connections and every worker's, summed.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let every = self.every_set();
        let sum = |counts: &dyn Fn(&Inner) -> (u32, u32)| {
            every.iter().map(|inner| counts(inner)).fold((0, 0), |(open, max), (o, m)| (open + o, max + m))
        };
        // Pipelined: every open connection takes more queries, none is "busy".
        let stats = |name, (open, max): (u32, u32)| PoolStats { name, open, idle: open as usize, max };
        // `postgres` is the DATABASE_MAX_CONNECTIONS set (writes), as before the split.
        vec![
            stats("postgres", sum(&|inner| inner.writes.counts())),
            stats("postgres_reads", sum(&|inner| inner.reads.counts())),
            stats(
                "postgres_replicas",
                sum(&|inner| inner.replicas.as_ref().map_or((0, 0), Replicas::counts)),
            ),
        ]
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(Role::Read, |conn| async move { conn.query(statements::PING, &[]).await.map(drop) })
            .await
    }

    /// The `statement_timeout` and `lock_timeout` (ms, 0 = none) the server
    /// applies to our statements, for `todo-api check`: directly connected
    /// they are ours; behind a pooler, the role's or database's defaults.
    pub async fn timeouts_in_force(&self) -> Result<(i64, i64), StoreError> {
        const SQL: &str = "SELECT (SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'), \
                           (SELECT setting::bigint FROM pg_settings WHERE name = 'lock_timeout')";
        let conn = self.inner.reads.pick().ok_or(StoreError::Unreachable)?;
        let row = conn.client.query_typed_one(SQL, &[]).await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    pub fn pooler(&self) -> Pooler {
        self.inner.connector.pooler()
    }

    pub fn statement_timeout(&self) -> std::time::Duration {
        self.inner.settings.statement_timeout
    }

    /// The server's sets and those of every worker still running.
    fn every_set(&self) -> Vec<Arc<Inner>> {
        let server = &self.inner.fallback.as_ref().unwrap_or(self).inner;
        let workers = server.workers.lock().expect("workers lock");
        std::iter::once(Arc::clone(server)).chain(workers.iter().filter_map(Weak::upgrade)).collect()
    }

    /// Stops taking work; closing the server's store closes its workers' too.
    pub async fn close(&self) {
        let every = match self.inner.fallback {
            None => self.every_set(),
            Some(_) => vec![Arc::clone(&self.inner)],
        };
        for inner in &every {
            inner.admission.close();
            inner.reads.close();
            inner.writes.close();
            if let Some(replicas) = &inner.replicas {
                replicas.close();
            }
        }
    }

    /// One statement, one round trip: the counting upsert rides in a CTE.
    pub async fn create_task(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
    ) -> Result<Option<Task>, StoreError> {
        let (now, max_tasks) = (Timestamp::now(), i64::from(max_tasks));
        let description = new.description.as_ref().map(TaskDescription::as_str);
        let params: [&(dyn ToSql + Sync); 7] = [
            &writer.user_id,
            &writer.email,
            &now,
            &max_tasks,
            &new.title.as_str(),
            &description,
            &new.completed,
        ];
        self.optional_task(Role::Write, statements::CREATE, &params).await
    }

    pub async fn get_task(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        let params: [&(dyn ToSql + Sync); 2] = [&id.get(), &owner];
        self.read_own(owner, |conn| async move {
            let row = conn.query_opt(statements::SELECT, &params).await?;
            row.as_ref().map(task_from_pg).transpose()
        })
        .await
    }

    /// The task as the primary has it now: for what a write does next.
    pub async fn get_task_on_primary(&self, owner: &str, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.optional_task(Role::Read, statements::SELECT, &[&id.get(), &owner]).await
    }

    pub async fn list_into<S: TaskSink>(
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
                        let total = match super::needs_separate_count(0, query) {
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
        for row in &rows {
            sink.push(task_view_pg(row)?);
        }
        Ok(Listed { sink, total, change_seq: head })
    }

    pub async fn update_task(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
        revisions: Option<&str>,
    ) -> Result<Option<Task>, StoreError> {
        let PatchParams { title, sets_description, description, completed } = PatchParams::of(patch);
        let now = Timestamp::now();
        let params: [&(dyn ToSql + Sync); 8] =
            [&id.get(), &owner, &title, &sets_description, &description, &completed, &now, &revisions];
        self.optional_task(Role::Write, statements::UPDATE, &params).await
    }

    /// The flip happens inside the database, so concurrent toggles serialize
    /// on the row lock instead of racing a read-modify-write.
    pub async fn toggle_task(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&str>,
    ) -> Result<Option<Task>, StoreError> {
        let params: [&(dyn ToSql + Sync); 4] = [&id.get(), &owner, &Timestamp::now(), &revisions];
        self.optional_task(Role::Write, statements::TOGGLE, &params).await
    }

    /// The delete and the owner's count as one statement: one row updated
    /// means one task deleted.
    pub async fn delete_task(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&str>,
    ) -> Result<bool, StoreError> {
        let params: [&(dyn ToSql + Sync); 3] = [&id.get(), &owner, &revisions];
        self.with_conn(Role::Write, |conn| async move {
            conn.execute(statements::DELETE, &params).await.map(|n| n == 1)
        })
        .await
    }

    async fn optional_task(
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

/// Startup's first connection, made directly so that a failure names its
/// cause ("Connection refused", "password authentication failed").
/// Refusals and "starting up" are retried until `STARTUP_WAIT`; a host that
/// never answers is given up on then too.
async fn first_contact(connector: &Connector, config: &PgConfig) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    loop {
        let error = match tokio::time::timeout_at(deadline, connector.open_plain()).await {
            Ok(Ok((client, driver))) => {
                drop(client);
                let _ = driver.await;
                return Ok(());
            }
            Ok(Err(error)) => error,
            Err(_elapsed) => return Err(StoreError::NoAnswer(config.display())),
        };
        let refused = std::error::Error::source(&error)
            .and_then(|cause| cause.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        let starting_up = error.code().is_some_and(|code| code.code() == "57P03");
        if !(refused || starting_up) || tokio::time::Instant::now() + RETRY_PAUSE >= deadline {
            return Err(StoreError::Unavailable(describe(&error).into()));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
