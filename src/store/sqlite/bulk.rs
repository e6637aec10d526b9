//! Bulk actions on SQLite: one job on the writer thread, so the claim, the
//! precondition, the write, its events (the triggers), the quota and the
//! stored answer are one transaction (see `store::bulk`).

use std::sync::LazyLock;

use rusqlite::{Connection, params};

use super::super::StoreError;
use super::super::bulk::{self as sql_bulk, Bulk, BulkDone};
use super::super::contract::BulkActions;
use super::super::idempotency::StoredResponse;
use super::super::sql::for_sqlite;
use super::{SqliteStore, changes, idempotency};
use crate::domain::{BulkAction, BulkFilter, IfMatch, Timestamp, change_seq_etag};

struct BulkSql {
    set_completed: String,
    delete: String,
    uncount: String,
}

static BULK_SQL: LazyLock<BulkSql> = LazyLock::new(|| BulkSql {
    set_completed: for_sqlite(sql_bulk::SET_COMPLETED_WHERE),
    delete: for_sqlite(sql_bulk::DELETE_WHERE),
    uncount: for_sqlite(sql_bulk::UNCOUNT_MANY),
});

/// A bulk action, owned so that it can move to the writer thread.
struct Job {
    owner: String,
    action: BulkAction,
    filter: BulkFilter,
    if_match: IfMatch,
    claim: Option<(String, i64)>,
}

impl Job {
    fn run(&self, conn: &Connection) -> rusqlite::Result<BulkDone> {
        let Self { owner, action, filter, if_match, claim } = self;
        if let Some((key, token)) = claim
            && !idempotency::claim_held(conn, owner, key, *token)?
        {
            return Ok(BulkDone::ClaimLost);
        }
        // The writer thread is the only writer: the number cannot move under us.
        let seq = changes::head(conn, owner)?;
        if !if_match.admits(seq) {
            return Ok(BulkDone::Changed { change_seq: seq });
        }
        let count = match *action {
            BulkAction::Complete(completed) => {
                let values = params![owner, filter.completed, completed, Timestamp::now()];
                conn.prepare_cached(&BULK_SQL.set_completed)?.execute(values)?
            }
            BulkAction::Delete => {
                let gone =
                    conn.prepare_cached(&BULK_SQL.delete)?.execute(params![owner, filter.completed])?;
                if gone > 0 {
                    conn.prepare_cached(&BULK_SQL.uncount)?.execute(params![owner, gone as i64])?;
                }
                gone
            }
        } as i64;
        let change_seq = seq + count;
        if let Some((key, token)) = claim {
            let answer = StoredResponse {
                status: 200,
                body: action.answer(count),
                etag: Some(change_seq_etag(change_seq)),
                location: None,
            };
            idempotency::store_response(conn, owner, key, *token, answer)?;
        }
        Ok(BulkDone::Done { count, change_seq })
    }
}

impl BulkActions for SqliteStore {
    async fn bulk(&self, bulk: Bulk<'_>) -> Result<BulkDone, StoreError> {
        let job = Job {
            owner: bulk.owner.to_owned(),
            action: bulk.action,
            filter: bulk.filter,
            if_match: bulk.if_match.clone(),
            claim: bulk.claim.map(|claim| (claim.key.to_owned(), claim.token)),
        };
        self.write(move |conn| job.run(conn)).await
    }
}
