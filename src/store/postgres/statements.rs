//! The statements the PostgreSQL engine runs, each with its parameter types,
//! and one connection's way of running them: prepared once at connect (the
//! fast path: one Bind/Execute per query), or sent unnamed with their types
//! (`query_typed`: still one round trip) where a transaction-mode pooler
//! would lose a prepared statement between transactions.

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Error, Row, Statement};

use super::super::{changes, idempotency as keys, sql};

pub struct Definition {
    pub sql: &'static str,
    pub types: &'static [Type],
}

const LIST_TYPES: &[Type] = &[Type::TEXT, Type::BOOL, Type::INT8, Type::INT8];

/// Indexes into `DEFINITIONS` (and into a connection's prepared statements).
pub const CREATE: usize = 0;
pub const SELECT: usize = 1;
pub const UPDATE: usize = 2;
pub const TOGGLE: usize = 3;
pub const DELETE: usize = 4;
pub const COUNT: usize = 5;
pub const PING: usize = 6;
/// The listings, `LIST + sql::list_index(sort, order)`.
pub const LIST: usize = 7;
/// Idempotency keys (see `store::idempotency`).
pub const CLAIM_KEY: usize = 13;
pub const READ_KEY: usize = 14;
pub const STORE_RESPONSE: usize = 15;
pub const RELEASE_KEY: usize = 16;
pub const PRUNE_KEYS: usize = 17;
pub const CLAIM_HELD: usize = 18;
pub const CREATE_CLAIMED: usize = 19;
pub const TOGGLE_CLAIMED: usize = 20;
/// The change log and stream tickets (see `store::changes`).
pub const CHANGE_HEAD: usize = 21;
pub const READ_CHANGES: usize = 22;
pub const PRUNE_CHANGES: usize = 23;
pub const ISSUE_TICKET: usize = 24;
pub const REDEEM_TICKET: usize = 25;
pub const PRUNE_TICKETS: usize = 26;
pub const CHANGE_HEADS: usize = 27;
pub const NOTIFY: usize = 28;

const KEY: &[Type] = &[Type::TEXT, Type::TEXT, Type::INT8];

pub const DEFINITIONS: [Definition; 29] = [
    Definition {
        sql: sql::CREATE_TASK_WITH_USER,
        types: &[Type::TEXT, Type::TEXT, Type::TIMESTAMPTZ, Type::INT8, Type::TEXT, Type::TEXT, Type::BOOL],
    },
    Definition { sql: sql::SELECT_TASK, types: &[Type::INT8, Type::TEXT] },
    Definition {
        sql: sql::UPDATE_TASK,
        types: &[
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
            Type::TEXT,
            Type::BOOL,
            Type::TIMESTAMPTZ,
            Type::TEXT,
        ],
    },
    Definition { sql: sql::TOGGLE_TASK, types: &[Type::INT8, Type::TEXT, Type::TIMESTAMPTZ, Type::TEXT] },
    Definition { sql: sql::DELETE_TASK_AND_UNCOUNT, types: &[Type::INT8, Type::TEXT, Type::TEXT] },
    Definition { sql: sql::COUNT_TASKS, types: &[Type::TEXT, Type::BOOL] },
    Definition { sql: sql::PING, types: &[] },
    Definition { sql: sql::LIST_TASKS[0], types: LIST_TYPES },
    Definition { sql: sql::LIST_TASKS[1], types: LIST_TYPES },
    Definition { sql: sql::LIST_TASKS[2], types: LIST_TYPES },
    Definition { sql: sql::LIST_TASKS[3], types: LIST_TYPES },
    Definition { sql: sql::LIST_TASKS[4], types: LIST_TYPES },
    Definition { sql: sql::LIST_TASKS[5], types: LIST_TYPES },
    Definition {
        sql: keys::CLAIM_KEY,
        types: &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
        ],
    },
    Definition { sql: keys::READ_KEY, types: &[Type::TEXT, Type::TEXT] },
    Definition {
        sql: keys::STORE_RESPONSE,
        types: &[Type::TEXT, Type::TEXT, Type::INT8, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT],
    },
    Definition { sql: keys::RELEASE_KEY, types: KEY },
    Definition { sql: keys::PRUNE_KEYS, types: &[Type::TIMESTAMPTZ] },
    Definition { sql: keys::CLAIM_HELD, types: KEY },
    Definition {
        sql: sql::CREATE_TASK_CLAIMED,
        types: &[
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::BOOL,
            Type::TEXT,
            Type::INT8,
        ],
    },
    Definition {
        sql: sql::TOGGLE_TASK_CLAIMED,
        types: &[Type::INT8, Type::TEXT, Type::TIMESTAMPTZ, Type::TEXT, Type::TEXT, Type::INT8],
    },
    Definition { sql: changes::CHANGE_HEAD, types: &[Type::TEXT] },
    Definition { sql: changes::READ_CHANGES, types: &[Type::TEXT, Type::INT8, Type::INT8] },
    Definition { sql: changes::PRUNE_CHANGES, types: &[Type::INT8, Type::INT8] },
    Definition { sql: changes::ISSUE_TICKET, types: &[Type::TEXT, Type::TEXT, Type::INT8, Type::INT8] },
    Definition { sql: changes::REDEEM_TICKET, types: &[Type::TEXT, Type::INT8] },
    Definition { sql: changes::PRUNE_TICKETS, types: &[Type::INT8] },
    Definition { sql: super::notify::CHANGE_HEADS, types: &[Type::TEXT_ARRAY] },
    Definition { sql: super::notify::NOTIFY, types: &[Type::TEXT] },
];

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// An open connection and how it runs statements.
pub struct Conn {
    pub client: Client,
    /// `None` behind a transaction-mode pooler: every statement goes unnamed.
    prepared: Option<Vec<Statement>>,
}

impl Conn {
    /// Prepares every statement, pipelined (one round trip in all).
    pub async fn prepared(client: Client) -> Result<Self, Error> {
        let prepares = DEFINITIONS.iter().map(|def| client.prepare_typed(def.sql, def.types));
        let prepared = futures_util::future::try_join_all(prepares).await?;
        Ok(Self { client, prepared: Some(prepared) })
    }

    pub fn unnamed(client: Client) -> Self {
        Self { client, prepared: None }
    }

    pub async fn query(&self, which: usize, params: Params<'_>) -> Result<Vec<Row>, Error> {
        match &self.prepared {
            Some(statements) => self.client.query(&statements[which], params).await,
            None => self.client.query_typed(DEFINITIONS[which].sql, &typed(which, params)).await,
        }
    }

    pub async fn query_opt(&self, which: usize, params: Params<'_>) -> Result<Option<Row>, Error> {
        match &self.prepared {
            Some(statements) => self.client.query_opt(&statements[which], params).await,
            None => self.client.query_typed_opt(DEFINITIONS[which].sql, &typed(which, params)).await,
        }
    }

    pub async fn execute(&self, which: usize, params: Params<'_>) -> Result<u64, Error> {
        match &self.prepared {
            Some(statements) => self.client.execute(&statements[which], params).await,
            None => self.client.execute_typed(DEFINITIONS[which].sql, &typed(which, params)).await,
        }
    }
}

fn typed<'a>(which: usize, params: Params<'a>) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().zip(DEFINITIONS[which].types).map(|(param, ty)| (*param, ty.clone())).collect()
}
