//! Stream tickets on PostgreSQL (see `store::changes`).

use tokio_postgres::types::ToSql;

use super::super::StoreError;
use super::super::contract::StreamTickets;
use super::super::tickets::TicketRecord;
use super::pg_store::{PgStore, Role};
use super::statements;

impl StreamTickets for PgStore {
    async fn issue_ticket(&self, ticket: TicketRecord<'_>) -> Result<(), StoreError> {
        let TicketRecord { hash, user_id, expires_at, stream_until } = ticket;
        let params: [&(dyn ToSql + Sync); 4] = [&hash, &user_id, &expires_at, &stream_until];
        self.with_conn(Role::Write, |conn| async move {
            conn.execute(statements::ISSUE_TICKET, &params).await.map(drop)
        })
        .await
    }

    async fn redeem_ticket(&self, hash: &str, now: i64) -> Result<Option<(String, i64)>, StoreError> {
        self.with_conn(Role::Read, |conn| async move {
            let row = conn.query_opt(statements::REDEEM_TICKET, &[&hash, &now]).await?;
            row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
        })
        .await
    }

    async fn prune_tickets(&self, now: i64) -> Result<u64, StoreError> {
        self.with_conn(
            Role::Write,
            |conn| async move { conn.execute(statements::PRUNE_TICKETS, &[&now]).await },
        )
        .await
    }
}
