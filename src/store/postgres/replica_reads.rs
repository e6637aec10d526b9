//! A user's own reads through the read replicas, with the proof that the
//! replica has every write of theirs (see `replicas` for why it holds).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::future;

use super::super::StoreError;
use super::super::error::describe;
use super::pg_store::{PgStore, Role};
use super::replicas::{ReplicaReads, flushed};
use super::statements::{self, Conn};

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
            let _room = self.inner.queue.enter().await?;
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
