//! Read replicas (`DATABASE_READ_URL`): a user's task reads (list, get, the
//! change feed) go to a streaming replica when it provably holds every write
//! of that user the primary has; anything else reads the primary.
//!
//! The proof is read on the replica's connection just before its read: its
//! WAL replay position and the owner's change counter (`users.change_seq`,
//! bumped in every write's own transaction). At the same time the primary is
//! asked how far it has flushed its WAL (no row read). A replica that has
//! replayed that far holds every write committed before the request came
//! in; otherwise (the primary is being written to) the owner's counter is
//! asked of the primary too, and the replica's answer is kept when the two
//! agree. Replay only moves forward, so the replica's read, taken after its
//! position and counter, holds every write of the user the primary had
//! committed when the request came in: a client reads its own writes
//! whichever instance it lands on, with no header or cookie to carry.
//! Otherwise (the replica is behind on this user, or fails) the read runs
//! again on the primary. The rows the request actually reads come from the
//! replica; the primary answers a WAL position, and under writes one
//! primary-key lookup of one row, both pipelined on its read connection.
//!
//! A watcher compares each replica's replay position with the primary's WAL
//! every `PROBE_EVERY`: a replica more than the lag bound behind, not in
//! recovery any more (promoted), or unreachable is left out until it
//! catches up. Replica connections only ever run reads: a replica promoted
//! under us never takes a write.

use std::collections::VecDeque;
use std::mem::Discriminant;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::future;

use super::super::StoreError;
use super::connections::{Connections, Connector};
use super::statements::Conn;
use super::url::{ReadReplicas, describe};
use super::{Inner, PgStore, Role, statements};

/// How often the watcher compares positions: also how soon a replica that
/// came back, or caught up, is read from again.
const PROBE_EVERY: Duration = Duration::from_millis(100);

const REPLAYED_POSITION: &str =
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint";

/// How reads went, for `/metrics`; shared by the server's store and its workers'.
#[derive(Debug, Default)]
pub struct ReplicaReads {
    /// Answered by a replica.
    pub replica: AtomicU64,
    /// Read again on the primary: the replica had not replayed the user's latest write.
    pub behind: AtomicU64,
    /// Read again on the primary: the replica's read failed.
    pub failed: AtomicU64,
}

/// One replica host as one store reads it.
struct Host {
    label: Arc<str>,
    connector: Connector,
    conns: Connections,
    /// Set by the watcher; shared with every worker's copy of this host.
    usable: Arc<AtomicBool>,
}

impl Host {
    /// One connection to the host, made (and remade) in the background.
    fn connect(label: Arc<str>, connector: Connector, usable: Arc<AtomicBool>) -> Self {
        let conns = Connections::start(connector.clone(), 1, None);
        Self { label, connector, conns, usable }
    }
}

pub(super) struct Replicas {
    hosts: Vec<Host>,
    next: AtomicUsize,
    pub reads: Arc<ReplicaReads>,
    max_lag: Duration,
}

impl Replicas {
    /// Connects to each host in the background: one that cannot be reached
    /// now is a warning (reads go to the primary), never a failed start.
    pub fn start(config: &ReadReplicas, timeout: Duration) -> Result<Self, StoreError> {
        let hosts = config
            .hosts
            .iter()
            .map(|host| {
                let label: Arc<str> = host.display().trim_start_matches("postgres://").into();
                let connector = Connector::new(host, timeout, Some(label.clone()))?;
                Ok(Host::connect(label, connector, Arc::default()))
            })
            .collect::<Result<_, StoreError>>()?;
        let reads = Arc::default();
        Ok(Self { hosts, next: AtomicUsize::new(0), reads, max_lag: config.max_lag })
    }

    /// A request worker's own connection to each host (on its runtime), with
    /// the watcher's verdicts and the counters shared.
    pub fn for_worker(&self, index: usize) -> Self {
        let hosts = self
            .hosts
            .iter()
            .map(|host| Host::connect(host.label.clone(), host.connector.clone(), host.usable.clone()))
            .collect();
        Self { hosts, next: AtomicUsize::new(index), reads: self.reads.clone(), max_lag: self.max_lag }
    }

    /// An open connection to a usable replica, taking the hosts in turn.
    pub fn pick(&self) -> Option<Arc<Conn>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.hosts.len()).find_map(|offset| {
            let host = &self.hosts[(start + offset) % self.hosts.len()];
            host.usable.load(Ordering::Relaxed).then(|| host.conns.pick()).flatten()
        })
    }

    /// How many hosts (one connection each per store).
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// `(open, capacity)` over every host.
    pub fn counts(&self) -> (u32, u32) {
        self.hosts
            .iter()
            .map(|host| host.conns.counts())
            .fold((0, 0), |(o, m), (open, max)| (o + open, m + max))
    }

    pub fn close(&self) {
        for host in &self.hosts {
            host.usable.store(false, Ordering::Relaxed);
            host.conns.close();
        }
    }
}

impl PgStore {
    /// A read of `owner`'s own data: from a replica when one is usable and
    /// has every write of theirs the primary has (see `replicas`), else from
    /// the primary. `read` may run twice: on the replica, then the primary.
    pub(super) async fn read_own<T, F>(
        &self,
        owner: &str,
        read: impl Fn(Arc<Conn>) -> F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let replicas = self.inner.replicas.as_ref();
        if let Some((replicas, replica)) = replicas.and_then(|replicas| Some((replicas, replicas.pick()?))) {
            let _room = self.inner.admission.enter().await?;
            // Joined in order: the replica's position is asked before its read.
            let flushed = self.with_conn(Role::Read, |conn| async move { flushed(&conn).await });
            let there = future::join(replayed(&replica, owner), read(replica.clone()));
            let (flushed, (replayed, answer)) = future::join(flushed, there).await;
            let flushed = flushed?;
            let counter = match (replayed, answer) {
                (Ok(replayed), Ok(answer)) if self.in_step(owner, flushed, replayed).await? => {
                    replicas.reads.replica.fetch_add(1, Ordering::Relaxed);
                    return Ok(answer);
                }
                (Ok(_), Ok(_)) => &replicas.reads.behind,
                (Err(error), _) | (_, Err(error)) => {
                    tracing::debug!(error = %describe(&error), "read replica failed a read; reading from the primary");
                    &replicas.reads.failed
                }
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.with_conn(Role::Read, read).await
    }

    /// How reads went between replicas and the primary, when there are replicas.
    pub fn replica_reads(&self) -> Option<&ReplicaReads> {
        self.inner.replicas.as_ref().map(|replicas| &*replicas.reads)
    }
}

impl PgStore {
    /// Whether the replica's read, taken after `replayed`, holds every write
    /// of `owner` the primary had committed when the request came in: it had
    /// replayed all the WAL the primary had flushed (`flushed`, asked after
    /// the request came in; no row read), or else the owner's change counters
    /// agree (one more round trip, and one row, on the primary).
    async fn in_step(&self, owner: &str, flushed: i64, replayed: Replayed) -> Result<bool, StoreError> {
        if replayed.position.is_some_and(|position| position >= flushed) {
            return Ok(true);
        }
        let seq = self.with_conn(Role::Read, |conn| async move { owner_seq(&conn, owner).await }).await?;
        Ok(seq == replayed.owner_seq)
    }
}

/// How far the primary has flushed its WAL (a byte position).
async fn flushed(conn: &Conn) -> Result<i64, tokio_postgres::Error> {
    conn.query(statements::FLUSHED, &[]).await?[0].try_get(0)
}

/// What a replica had replayed just before a read.
#[derive(Debug, Clone, Copy)]
struct Replayed {
    /// Its replay position (`None` on a server that is not in recovery).
    position: Option<i64>,
    owner_seq: i64,
}

async fn replayed(conn: &Conn, owner: &str) -> Result<Replayed, tokio_postgres::Error> {
    let rows = conn.query(statements::REPLAYED, &[&owner]).await?;
    Ok(Replayed { position: rows[0].try_get(0)?, owner_seq: rows[0].try_get(1)? })
}

/// The owner's change counter (0 before their first write), as this
/// connection's server has it.
async fn owner_seq(conn: &Conn, owner: &str) -> Result<i64, tokio_postgres::Error> {
    conn.query(statements::OWNER_SEQ, &[&owner]).await?[0].try_get(0)
}

/// Runs while the server's store does: every `PROBE_EVERY`, the primary's
/// flushed WAL position, then each replica's replayed one. A replica's lag
/// is how long ago the primary first had WAL the replica has not replayed.
pub(super) async fn watch(store: Weak<Inner>) {
    let mut positions: VecDeque<(Instant, i64)> = VecDeque::new();
    let mut verdicts = Vec::new();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = store.upgrade() else { return };
        let Some(replicas) = inner.replicas.as_ref() else { return };
        if inner.admission.is_closed() {
            return;
        }
        verdicts.resize(replicas.hosts.len(), None);
        let now = Instant::now();
        if let Some(primary) = inner.reads.pick() {
            if let Ok(position) = flushed(&primary).await {
                positions.push_back((now, position));
            }
        }
        // Enough history to tell a lag of `max_lag` (and more) from a smaller one.
        let window = replicas.max_lag + 2 * PROBE_EVERY;
        while positions.len() > 1 && positions.front().is_some_and(|(at, _)| now - *at > window) {
            positions.pop_front();
        }
        for (host, verdict) in replicas.hosts.iter().zip(verdicts.iter_mut()) {
            let now_is = judge(host, &positions, replicas.max_lag).await;
            host.usable.store(matches!(now_is, Judged::Usable), Ordering::Relaxed);
            log_change(&host.label, verdict, now_is, replicas.max_lag);
        }
    }
}

enum Judged {
    Usable,
    Lagging(Duration),
    Promoted,
    Unreachable,
}

async fn judge(host: &Host, primary: &VecDeque<(Instant, i64)>, max_lag: Duration) -> Judged {
    let Some(conn) = host.conns.pick() else { return Judged::Unreachable };
    let Ok(row) = conn.client.query_typed_one(REPLAYED_POSITION, &[]).await else {
        return Judged::Unreachable;
    };
    let (Ok(true), Ok(Some(replayed))) = (row.try_get::<_, bool>(0), row.try_get::<_, Option<i64>>(1)) else {
        return Judged::Promoted;
    };
    let lag = lag(primary, replayed, Instant::now());
    // No position from the primary yet: nothing to compare with, so not yet.
    match primary.is_empty() || lag > max_lag {
        true => Judged::Lagging(lag),
        false => Judged::Usable,
    }
}

/// How long ago the primary first had a position past `replayed`.
fn lag(primary: &VecDeque<(Instant, i64)>, replayed: i64, now: Instant) -> Duration {
    primary.iter().find(|(_, position)| *position > replayed).map_or(Duration::ZERO, |(at, _)| now - *at)
}

/// Logs a host's verdict when its kind changed (`was`: the last one, `None` before the first).
fn log_change(label: &str, was: &mut Option<Discriminant<Judged>>, now_is: Judged, max_lag: Duration) {
    let kind = std::mem::discriminant(&now_is);
    if *was == Some(kind) {
        return;
    }
    let bound = max_lag.as_millis();
    match now_is {
        Judged::Usable => tracing::info!("read replica {label} is in step: reading from it"),
        // At startup a replica is "lagging" until the primary has been asked once: not news.
        Judged::Lagging(lag) if was.is_some() || lag > max_lag => tracing::warn!(
            "read replica {label} is {} ms behind (DATABASE_READ_MAX_LAG_MS={bound}): reading from the \
             primary until it catches up",
            lag.as_millis()
        ),
        Judged::Lagging(_) => {}
        Judged::Promoted => {
            tracing::warn!("read replica {label} is not in recovery (promoted?): no longer reading from it")
        }
        // The connection's supervisor says why.
        Judged::Unreachable => {}
    }
    *was = Some(kind);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_age_of_the_first_position_not_replayed() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let primary: VecDeque<_> = [(at(0), 100), (at(100), 200), (at(200), 300)].into();
        assert_eq!(lag(&primary, 300, at(250)), Duration::ZERO);
        assert_eq!(lag(&primary, 250, at(250)), Duration::from_millis(50));
        assert_eq!(lag(&primary, 150, at(250)), Duration::from_millis(150));
        assert_eq!(lag(&primary, 50, at(250)), Duration::from_millis(250));
    }
}
