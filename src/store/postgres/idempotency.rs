//! Idempotency keys on PostgreSQL: each step one statement, so they pipeline
//! like the rest and hold behind a transaction-mode pooler.

use tokio_postgres::types::ToSql;

use super::super::contract::IdempotencyKeys;
use super::super::idempotency::{
    Claim, Claimed, KEY_TAKEN, KeyRow, KeyTimes, KeyedCreate, KeyedRequest, OUTCOME_COLUMN, StoredResponse,
};
use super::super::retention::{PRUNE_BATCH, Pruned, in_batches};
use super::super::rows::task_from_pg;
use super::super::{StoreError, Writer};
use super::pg_store::{PgStore, Role};
use super::statements;
use super::statements::Conn;
use super::tasks::CreateValues;
use crate::domain::{NewTask, Task, TaskId, Timestamp};

/// What the key holds, when it could not be claimed.
async fn read_key(conn: &Conn, request: KeyedRequest<'_>) -> Result<Claim, tokio_postgres::Error> {
    let Some(row) = conn.query_opt(statements::READ_KEY, &[&request.user_id, &request.key]).await? else {
        // Pruned in between: as good as in flight; the retry claims it.
        return Ok(Claim::InFlight);
    };
    let status: Option<i32> = row.try_get(1)?;
    let found = KeyRow {
        fingerprint: row.try_get(0)?,
        status: status.map(i64::from),
        response: row.try_get(2)?,
        etag: row.try_get(3)?,
        location: row.try_get(4)?,
        task_id: row.try_get(5)?,
    };
    Ok(found.verdict(request.fingerprint))
}

impl IdempotencyKeys for PgStore {
    async fn claim_key(&self, request: KeyedRequest<'_>, times: KeyTimes) -> Result<Claim, StoreError> {
        let KeyedRequest { user_id, key, fingerprint } = request;
        let KeyTimes { token, now, expires, stale_before } = times;
        let params: [&(dyn ToSql + Sync); 7] =
            [&user_id, &key, &fingerprint, &token, &now, &expires, &stale_before];
        self.with_conn(Role::Write, |conn| async move {
            if conn.query_opt(statements::CLAIM_KEY, &params).await?.is_some() {
                return Ok(Claim::Mine(token));
            }
            read_key(&conn, request).await
        })
        .await
    }

    /// One call: see migration 0008.
    async fn create_task_keyed(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
        request: KeyedRequest<'_>,
        times: KeyTimes,
    ) -> Result<KeyedCreate, StoreError> {
        let KeyTimes { token, now, expires, stale_before } = times;
        let values = CreateValues::new(writer, new, max_tasks, now);
        let [user_id, email, now, max_tasks, title, description, completed] = values.params();
        let params: [&(dyn ToSql + Sync); 12] = [
            user_id,
            email,
            now,
            max_tasks,
            title,
            description,
            completed,
            &request.key,
            &request.fingerprint,
            &token,
            &expires,
            &stale_before,
        ];
        self.with_conn(Role::Write, |conn| async move {
            let row = match conn.query_opt(statements::CREATE_KEYED, &params).await {
                Err(error) if error.code().is_some_and(|code| code.code() == KEY_TAKEN) => {
                    return read_key(&conn, request).await.map(KeyedCreate::Found);
                }
                answer => answer?,
            };
            match row {
                Some(row) if row.try_get::<_, &str>(OUTCOME_COLUMN)? == "created" => {
                    Ok(KeyedCreate::Created(task_from_pg(&row)?))
                }
                _ => Ok(KeyedCreate::Full(token)),
            }
        })
        .await
    }

    async fn toggle_task_claimed_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
        claim: Claimed<'_>,
    ) -> Result<Option<Task>, StoreError> {
        let params: [&(dyn ToSql + Sync); 6] =
            [&id.get(), &owner, &Timestamp::now(), &revisions, &claim.key, &claim.token];
        self.optional_task(Role::Write, statements::TOGGLE_CLAIMED, &params).await
    }

    async fn claim_held(&self, claim: Claimed<'_>) -> Result<bool, StoreError> {
        let params: [&(dyn ToSql + Sync); 3] = [&claim.user_id, &claim.key, &claim.token];
        self.with_conn(Role::Write, |conn| async move {
            conn.query_opt(statements::CLAIM_HELD, &params).await.map(|row| row.is_some())
        })
        .await
    }

    async fn store_response(&self, claim: Claimed<'_>, response: &StoredResponse) -> Result<(), StoreError> {
        let status = i32::from(response.status);
        let params: [&(dyn ToSql + Sync); 7] = [
            &claim.user_id,
            &claim.key,
            &claim.token,
            &status,
            &response.body,
            &response.etag,
            &response.location,
        ];
        self.with_conn(Role::Write, |conn| async move {
            conn.execute(statements::STORE_RESPONSE, &params).await.map(drop)
        })
        .await
    }

    async fn release_key(&self, claim: Claimed<'_>) -> Result<(), StoreError> {
        let params: [&(dyn ToSql + Sync); 3] = [&claim.user_id, &claim.key, &claim.token];
        self.with_conn(Role::Write, |conn| async move {
            conn.execute(statements::RELEASE_KEY, &params).await.map(drop)
        })
        .await
    }

    async fn prune_keys(&self, now: Timestamp) -> Result<u64, StoreError> {
        in_batches(|_| async move {
            let deleted = self
                .with_conn(Role::Write, |conn| async move {
                    conn.execute(statements::PRUNE_KEYS, &[&now, &PRUNE_BATCH]).await
                })
                .await?;
            Ok(Pruned::counted(deleted as usize))
        })
        .await
    }
}
