//! Bulk actions on PostgreSQL: each one statement (see `store::bulk`), so it
//! pipelines like every other write and holds behind a transaction-mode pooler.

use tokio_postgres::types::ToSql;

use super::super::StoreError;
use super::super::bulk::{Bulk, BulkDone, settle};
use super::super::contract::BulkActions;
use super::super::sql::revision_list;
use super::pg_store::{PgStore, Role};
use super::statements;
use crate::domain::{BulkAction, Timestamp};

impl BulkActions for PgStore {
    async fn bulk(&self, bulk: Bulk<'_>) -> Result<BulkDone, StoreError> {
        let Bulk { owner, action, filter, if_match, claim } = bulk;
        let (accepted, field) = (revision_list(if_match), action.counted_as());
        let (key, token) = (claim.map(|claim| claim.key), claim.map(|claim| claim.token));
        let now = Timestamp::now();
        self.with_conn(Role::Write, |conn| async move {
            let row = match action {
                BulkAction::Complete(completed) => {
                    let params: [&(dyn ToSql + Sync); 8] =
                        [&owner, &filter.completed, &completed, &now, &accepted, &key, &token, &field];
                    conn.query(statements::COMPLETE_ALL, &params).await?
                }
                BulkAction::Delete => {
                    let params: [&(dyn ToSql + Sync); 6] =
                        [&owner, &filter.completed, &accepted, &key, &token, &field];
                    conn.query(statements::DELETE_MATCHING, &params).await?
                }
            };
            let row = row.first().expect("a bulk statement answers one row");
            Ok(settle(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))
        })
        .await
    }
}
