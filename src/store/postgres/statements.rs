//! The statements the PostgreSQL engine runs, each with its parameter types,
//! and one connection's way of running them: prepared once at connect (the
//! fast path: one Bind/Execute per query), or sent unnamed with their types
//! (`query_typed`: still one round trip) where a transaction-mode pooler
//! would lose a prepared statement between transactions.

use std::sync::Arc;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, Row, Statement};

use super::super::{bulk, changes, idempotency as keys, sql, tickets};
use super::pooler::PoolerWatch;

pub struct Definition {
    pub sql: &'static str,
    pub types: &'static [Type],
}

/// The one channel every instance notifies and listens on, named once.
macro_rules! channel {
    () => {
        "todo_api_changes"
    };
}

pub const CHANNEL: &str = channel!();

/// Each owner's latest number, for the owners given.
pub const CHANGE_HEADS_SQL: &str = "SELECT id, change_seq FROM users WHERE id = ANY($1)";

/// Owners' ids, one per line. The channel name is fixed here, never taken from input.
/// A transaction that notifies gets an XID and a commit record; committing it
/// asynchronously (this statement's own transaction only) spares it the WAL
/// flush the writes are waiting for. A notification lost to a crash is made
/// up for by the poll, like one lost between a write's commit and its NOTIFY.
pub const NOTIFY_SQL: &str =
    concat!("SELECT set_config('synchronous_commit', 'off', true), pg_notify('", channel!(), "', $1)");

const LIST_TYPES: &[Type] = &[Type::TEXT, Type::BOOL, Type::INT8, Type::INT8];
const KEY: &[Type] = &[Type::TEXT, Type::TEXT, Type::INT8];

/// Declares each statement once, by name, with its SQL and parameter types:
/// the name is its index into `DEFINITIONS` (and into a connection's
/// prepared statements), counted by the compiler, never kept by hand.
macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $sql:expr, $types:expr;)*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum Index { $($name),* }
        $($(#[$doc])* pub const $name: usize = Index::$name as usize;)*
        pub const DEFINITIONS: &[Definition] = &[$(Definition { sql: $sql, types: $types }),*];
    };
}

statements! {
    CREATE = sql::CREATE_TASK_WITH_USER,
        &[Type::TEXT, Type::TEXT, Type::TIMESTAMPTZ, Type::INT8, Type::TEXT, Type::TEXT, Type::BOOL];
    SELECT = sql::SELECT_TASK, &[Type::INT8, Type::TEXT];
    UPDATE = sql::UPDATE_TASK_OWNER_FIRST,
        &[Type::INT8, Type::TEXT, Type::TEXT, Type::BOOL, Type::TEXT, Type::BOOL, Type::TIMESTAMPTZ, Type::INT8_ARRAY];
    TOGGLE = sql::TOGGLE_TASK_OWNER_FIRST, &[Type::INT8, Type::TEXT, Type::TIMESTAMPTZ, Type::INT8_ARRAY];
    DELETE = sql::DELETE_TASK_AND_UNCOUNT, &[Type::INT8, Type::TEXT, Type::INT8_ARRAY];
    COUNT = sql::COUNT_TASKS, &[Type::TEXT, Type::BOOL];
    PING = sql::PING, &[];
    /// The listings, `LIST + sql::list_index(..)`: in `LIST_TASKS` order.
    LIST = sql::LIST_TASKS[0], LIST_TYPES;
    LIST_1 = sql::LIST_TASKS[1], LIST_TYPES;
    LIST_2 = sql::LIST_TASKS[2], LIST_TYPES;
    LIST_3 = sql::LIST_TASKS[3], LIST_TYPES;
    LIST_4 = sql::LIST_TASKS[4], LIST_TYPES;
    LIST_5 = sql::LIST_TASKS[5], LIST_TYPES;
    LIST_6 = sql::LIST_TASKS[6], LIST_TYPES;
    LIST_7 = sql::LIST_TASKS[7], LIST_TYPES;
    LIST_8 = sql::LIST_TASKS[8], LIST_TYPES;
    LIST_9 = sql::LIST_TASKS[9], LIST_TYPES;
    LIST_10 = sql::LIST_TASKS[10], LIST_TYPES;
    LIST_11 = sql::LIST_TASKS[11], LIST_TYPES;
    /// Idempotency keys (see `store::idempotency`).
    CLAIM_KEY = keys::CLAIM_KEY,
        &[Type::TEXT, Type::TEXT, Type::TEXT, Type::INT8, Type::TIMESTAMPTZ, Type::TIMESTAMPTZ, Type::TIMESTAMPTZ];
    READ_KEY = keys::READ_KEY, &[Type::TEXT, Type::TEXT];
    STORE_RESPONSE = keys::STORE_RESPONSE,
        &[Type::TEXT, Type::TEXT, Type::INT8, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT];
    RELEASE_KEY = keys::RELEASE_KEY, KEY;
    PRUNE_KEYS = keys::PRUNE_KEYS_PG, &[Type::TIMESTAMPTZ, Type::INT8];
    CLAIM_HELD = keys::CLAIM_HELD, KEY;
    CREATE_KEYED = keys::CREATE_KEYED,
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ];
    CREATED_TASK = changes::CREATED_TASK, &[Type::TEXT, Type::INT8];
    TOGGLE_CLAIMED = sql::TOGGLE_TASK_CLAIMED,
        &[Type::INT8, Type::TEXT, Type::TIMESTAMPTZ, Type::INT8_ARRAY, Type::TEXT, Type::INT8];
    /// The change log and stream tickets (see `store::changes`).
    CHANGE_HEAD = changes::CHANGE_HEAD, &[Type::TEXT];
    /// The owner's change counter, bumped in every write's transaction, and
    /// the WAL positions a read replica is judged by (see `replicas`).
    OWNER_SEQ = "SELECT COALESCE((SELECT change_seq FROM users WHERE id = $1), 0)", &[Type::TEXT];
    FLUSHED = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint", &[];
    REPLAYED = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, \
                COALESCE((SELECT change_seq FROM users WHERE id = $1), 0)", &[Type::TEXT];
    READ_CHANGES = changes::READ_CHANGES, &[Type::TEXT, Type::INT8, Type::INT8];
    PRUNE_CHANGES = changes::PRUNE_CHANGES_PG, &[Type::INT8, Type::INT8, Type::INT8, Type::INT8];
    ISSUE_TICKET = tickets::ISSUE_TICKET, &[Type::TEXT, Type::TEXT, Type::INT8, Type::INT8];
    REDEEM_TICKET = tickets::REDEEM_TICKET, &[Type::TEXT, Type::INT8];
    PRUNE_TICKETS = tickets::PRUNE_TICKETS, &[Type::INT8];
    CHANGE_HEADS = CHANGE_HEADS_SQL, &[Type::TEXT_ARRAY];
    NOTIFY = NOTIFY_SQL, &[Type::TEXT];
    /// Bulk actions (see `store::bulk`).
    COMPLETE_ALL = bulk::COMPLETE_ALL,
        &[Type::TEXT, Type::BOOL, Type::BOOL, Type::TIMESTAMPTZ, Type::INT8_ARRAY, Type::TEXT, Type::INT8, Type::TEXT];
    DELETE_MATCHING = bulk::DELETE_MATCHING, &[Type::TEXT, Type::BOOL, Type::INT8_ARRAY, Type::TEXT, Type::INT8, Type::TEXT];
}

// `LIST + sql::list_index(..)` reaches every listing, and only listings.
const _: () = assert!(LIST_11 == LIST + 11 && LIST_11 - LIST + 1 == sql::LIST_TASKS.len());
const _: () = assert!(LIST_1 == LIST + 1 && LIST_2 == LIST + 2 && LIST_3 == LIST + 3 && LIST_4 == LIST + 4);
const _: () = assert!(LIST_5 == LIST + 5 && LIST_6 == LIST + 6 && LIST_7 == LIST + 7 && LIST_8 == LIST + 8);
const _: () = assert!(LIST_9 == LIST + 9 && LIST_10 == LIST + 10);

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// An open connection and how it runs statements.
pub struct Conn {
    pub client: Client,
    /// `None` behind a transaction-mode pooler: every statement goes unnamed.
    prepared: Option<Vec<Statement>>,
    /// Once a pooler is found out, the prepared statements are left unused.
    watch: Arc<PoolerWatch>,
}

impl Conn {
    /// Prepares every statement, pipelined (one round trip in all).
    pub async fn prepared(client: Client, watch: Arc<PoolerWatch>) -> Result<Self, Error> {
        let prepares = DEFINITIONS.iter().map(|def| client.prepare_typed(def.sql, def.types));
        let prepared = futures_util::future::try_join_all(prepares).await?;
        Ok(Self { client, prepared: Some(prepared), watch })
    }

    pub fn unnamed(client: Client, watch: Arc<PoolerWatch>) -> Self {
        Self { client, prepared: None, watch }
    }

    /// The prepared statement `which`, unless statements go unnamed.
    fn named(&self, which: usize) -> Option<&Statement> {
        self.prepared.as_ref().filter(|_| !self.watch.found()).map(|statements| &statements[which])
    }

    /// Whether a prepared statement's `answer` should be had again unnamed: a
    /// pooler's sign (the statement is gone, so it did not run).
    fn again_unnamed<T>(&self, answer: &Result<T, Error>) -> bool {
        answer.as_ref().err().is_some_and(|error| self.watch.is_a_sign(error))
    }

    pub async fn query(&self, which: usize, params: Params<'_>) -> Result<Vec<Row>, Error> {
        if let Some(statement) = self.named(which) {
            let answer = self.client.query(statement, params).await;
            if !self.again_unnamed(&answer) {
                return answer;
            }
        }
        self.client.query_typed(DEFINITIONS[which].sql, &typed(which, params)).await
    }

    pub async fn query_opt(&self, which: usize, params: Params<'_>) -> Result<Option<Row>, Error> {
        if let Some(statement) = self.named(which) {
            let answer = self.client.query_opt(statement, params).await;
            if !self.again_unnamed(&answer) {
                return answer;
            }
        }
        self.client.query_typed_opt(DEFINITIONS[which].sql, &typed(which, params)).await
    }

    pub async fn execute(&self, which: usize, params: Params<'_>) -> Result<u64, Error> {
        if let Some(statement) = self.named(which) {
            let answer = self.client.execute(statement, params).await;
            if !self.again_unnamed(&answer) {
                return answer;
            }
        }
        self.client.execute_typed(DEFINITIONS[which].sql, &typed(which, params)).await
    }
}

fn typed<'a>(which: usize, params: Params<'a>) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().zip(DEFINITIONS[which].types).map(|(param, ty)| (*param, ty.clone())).collect()
}
