//! The storage seam: one `Store` for the handlers, over two engines on their
//! native drivers: PostgreSQL through tokio-postgres (pipelined, long-lived
//! connections) and SQLite through rusqlite (reader threads and one writer
//! thread with group commit). The SQL text is shared (see `sql`); each engine
//! decides how it reaches the database.

/// The same call on whichever engine this store is (defined before the
/// modules so that each can use it).
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
mod contract;
mod engine;
mod error;
mod feed;
pub mod idempotency;
mod keyed;
mod migrations;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
mod url_error;
pub mod user_data;

pub use config::DatabaseConfig;
pub use contract::{Listed, PoolSettings, PoolStats, TaskSink, Writer, Written};
pub use engine::Store;
pub use error::StoreError;
pub use postgres::{Heard, PgConfig, Pooler, ReadReplicas, ReplicaReads};
pub use url_error::DatabaseUrlError;
