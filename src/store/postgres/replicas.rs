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

use super::super::StoreError;
use super::connections::{Connections, Connector};
use super::statements;
use super::statements::Conn;
use super::url::ReadReplicas;

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
    /// Set by `close`: the watcher stops.
    closed: AtomicBool,
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
        Ok(Self {
            hosts,
            next: AtomicUsize::new(0),
            reads,
            max_lag: config.max_lag,
            closed: AtomicBool::new(false),
        })
    }

    /// A request worker's own connection to each host (on its runtime), with
    /// the watcher's verdicts and the counters shared.
    pub fn for_worker(&self, index: usize) -> Self {
        let hosts = self
            .hosts
            .iter()
            .map(|host| Host::connect(host.label.clone(), host.connector.clone(), host.usable.clone()))
            .collect();
        Self {
            hosts,
            next: AtomicUsize::new(index),
            reads: self.reads.clone(),
            max_lag: self.max_lag,
            closed: AtomicBool::new(false),
        }
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
        self.closed.store(true, Ordering::Relaxed);
        for host in &self.hosts {
            host.usable.store(false, Ordering::Relaxed);
            host.conns.close();
        }
    }
}

/// Runs while the server's store does: every `PROBE_EVERY`, the primary's
/// flushed WAL position, then each replica's replayed one. A replica's lag
/// is how long ago the primary first had WAL the replica has not replayed.
pub(super) async fn watch(replicas: Weak<Replicas>, primary: Weak<Connections>) {
    let mut positions: VecDeque<(Instant, i64)> = VecDeque::new();
    let mut verdicts = Vec::new();
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (Some(replicas), Some(primary)) = (replicas.upgrade(), primary.upgrade()) else { return };
        if replicas.closed.load(Ordering::Relaxed) {
            return;
        }
        verdicts.resize(replicas.hosts.len(), None);
        let now = Instant::now();
        if let Some(primary) = primary.pick()
            && let Ok(position) = flushed(&primary).await
        {
            positions.push_back((now, position));
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

/// How far the primary has flushed its WAL (a byte position).
pub(super) async fn flushed(conn: &Conn) -> Result<i64, tokio_postgres::Error> {
    conn.query(statements::FLUSHED, &[]).await?[0].try_get(0)
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
