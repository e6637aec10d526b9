//! `PgStore`: its connection sets (the server's and each worker's), the
//! queue bound in front of them, and running a statement on one.

use std::sync::{Arc, Mutex, Weak};

use super::super::StoreError;
use super::super::contract::Lifecycle;
use super::super::contract::{PoolSettings, PoolStats};
use super::super::error::{STARTUP_WAIT, describe};
use super::super::queue_bound::QueueBound;
use super::connections::{Connections, Connector};
use super::migrate;
use super::replicas::{self, Replicas};
use super::statements::{self, Conn};
use super::url::{PgConfig, Pooler};

/// Queries one connection may have queued in its pipeline before callers
/// wait (then get 503): deep enough to keep it busy, shallow enough that a
/// stalled database does not collect thousands of requests.
const PIPELINE_DEPTH: usize = 128;

/// Which set of connections a statement goes to.
#[derive(Clone, Copy)]
pub(super) enum Role {
    Read,
    Write,
}

#[derive(Clone)]
pub struct PgStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) reads: Arc<Connections>,
    pub(super) writes: Connections,
    pub(super) queue: QueueBound,
    pub(super) connector: Connector,
    /// Where task reads go when they can (`DATABASE_READ_URL`).
    pub(super) replicas: Option<Arc<Replicas>>,
    pub(super) settings: PoolSettings,
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
        let reads = Arc::new(Connections::start(connector.clone(), readers, Some(first)));
        let writes = Connections::start(connector.clone(), writers, None);
        let replicas = match &config.reads {
            Some(reads) => Some(Arc::new(Replicas::start(reads, settings.statement_timeout)?)),
            None => None,
        };
        let queue = QueueBound::new(
            (readers + writers + replicas.as_ref().map_or(0, |replicas| replicas.len())) * PIPELINE_DEPTH,
        );
        if let Some(replicas) = &replicas {
            tokio::spawn(replicas::watch(Arc::downgrade(replicas), Arc::downgrade(&reads)));
        }
        let inner = Arc::new(Inner {
            reads,
            writes,
            queue,
            connector,
            replicas,
            settings,
            fallback: None,
            workers: Mutex::default(),
        });
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
        let reads = Arc::new(Connections::start(connector.clone(), 1, first));
        let writes = Connections::start(connector.clone(), writers, None);
        let replicas = self.inner.replicas.as_ref().map(|replicas| Arc::new(replicas.for_worker(index)));
        let queue = QueueBound::new(
            (1 + writers + replicas.as_ref().map_or(0, |replicas| replicas.len())) * PIPELINE_DEPTH,
        );
        let settings = self.inner.settings;
        let fallback = Some(self.clone());
        let workers = Mutex::default();
        let inner =
            Arc::new(Inner { reads, writes, queue, connector, replicas, settings, fallback, workers });
        self.inner.workers.lock().expect("workers lock").push(Arc::downgrade(&inner));
        Self { inner }
    }

    /// Runs `work` on an open connection, within the queue's bound.
    pub(super) async fn with_conn<T, F>(
        &self,
        role: Role,
        work: impl FnOnce(Arc<Conn>) -> F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let _room = self.inner.queue.enter().await?;
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

impl Lifecycle for PgStore {
    /// The server's connections and every worker's, summed.
    fn pool_stats(&self) -> Vec<PoolStats> {
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
                sum(&|inner| inner.replicas.as_ref().map_or((0, 0), |replicas| replicas.counts())),
            ),
        ]
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(Role::Read, |conn| async move { conn.query(statements::PING, &[]).await.map(drop) })
            .await
    }

    /// Stops taking work; closing the server's store closes its workers' too.
    async fn close(&self) {
        let every = match self.inner.fallback {
            None => self.every_set(),
            Some(_) => vec![Arc::clone(&self.inner)],
        };
        for inner in &every {
            inner.queue.close();
            inner.reads.close();
            inner.writes.close();
            if let Some(replicas) = &inner.replicas {
                replicas.close();
            }
        }
    }
}
