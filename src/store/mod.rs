//! The storage seam: one `Store` for the handlers, over two engines on their
//! native drivers: PostgreSQL through tokio-postgres (pipelined, long-lived
//! connections) and SQLite through rusqlite (reader threads and one writer
//! thread with group commit). The SQL text is shared (see `sql`); each engine
//! decides how it reaches the database.

pub mod bulk;
pub mod changes;
mod config;
mod contract;
mod engine;
mod error;
mod feed;
pub mod idempotency;
mod keyed;
mod migrations;
mod postgres;
mod queue_bound;
mod retention;
mod rows;
mod sql;
mod sqlite;
pub mod tickets;
mod url_error;
pub mod user_data;

pub use changes::{Heard, NOTIFY_PAYLOAD_MAX};
pub use config::DatabaseConfig;
pub use contract::{
    BulkActions, ChangeLog, Engine, IdempotencyKeys, Lifecycle, Listed, Notifier, PoolSettings, PoolStats,
    StreamTickets, TaskSink, Tasks, UserRecords, Writer, Written,
};
pub use engine::Store;
pub use error::StoreError;
pub use postgres::{PgConfig, Pooler, ReadReplicas, ReplicaReads, parse_pooler};
pub use url_error::DatabaseUrlError;
