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
mod idempotency;
mod migrate;
mod notify;
mod pg_store;
mod pooler;
mod replica_reads;
mod replicas;
mod statements;
mod tasks;
mod tickets;
mod tls;
mod url;
mod user_data;

pub use pg_store::PgStore;
pub use replicas::ReplicaReads;
pub use url::{PgConfig, Pooler, ReadReplicas, parse_pooler};
