//! Stream tickets on SQLite (see `store::changes`).

use std::sync::LazyLock;

use rusqlite::{OptionalExtension, params};

use super::super::StoreError;
use super::super::contract::StreamTickets;
use super::super::sql::for_sqlite;
use super::super::tickets::{self as sql, TicketRecord};
use super::SqliteStore;

/// The tickets' SQL with SQLite's parameter markers, converted once.
struct TicketSql {
    issue: String,
    redeem: String,
    prune: String,
}

static TICKET_SQL: LazyLock<TicketSql> = LazyLock::new(|| TicketSql {
    issue: for_sqlite(sql::ISSUE_TICKET),
    redeem: for_sqlite(sql::REDEEM_TICKET),
    prune: for_sqlite(sql::PRUNE_TICKETS),
});

impl StreamTickets for SqliteStore {
    async fn issue_ticket(&self, ticket: TicketRecord<'_>) -> Result<(), StoreError> {
        let TicketRecord { hash, user_id, expires_at, stream_until } = ticket;
        let (hash, user_id) = (hash.to_owned(), user_id.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(&TICKET_SQL.issue)?
                .execute(params![hash, user_id, expires_at, stream_until])
                .map(drop)
        })
        .await
    }

    async fn redeem_ticket(&self, hash: &str, now: i64) -> Result<Option<(String, i64)>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&TICKET_SQL.redeem)?
                .query_row(params![hash, now], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .await
    }

    async fn prune_tickets(&self, now: i64) -> Result<u64, StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(&TICKET_SQL.prune)?.execute(params![now]).map(|n| n as u64)
        })
        .await
    }
}
