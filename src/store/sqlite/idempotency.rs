//! Idempotency keys on SQLite: each step one job on the writer thread, so a
//! claim and the write it gates are each one transaction.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::super::contract::IdempotencyKeys;
use super::super::idempotency::{
    self as keys, Claim, Claimed, KeyRow, KeyTimes, KeyedCreate, KeyedRequest, StoredResponse,
};
use super::super::retention::{PRUNE_BATCH, Pruned, in_batches};
use super::super::rows::task_from_sqlite;
use super::super::sql::{self, for_sqlite};
use super::super::{StoreError, Writer};
use super::{Create, SQL, SqliteStore};
use crate::domain::{NewTask, Task, TaskId, Timestamp};

/// The key statements with SQLite's parameter markers, converted once.
struct KeySql {
    claim_held: String,
    mark_written: String,
    claim_key: String,
    read_key: String,
    store_response: String,
    release_key: String,
    prune_keys: String,
}

static KEY_SQL: LazyLock<KeySql> = LazyLock::new(|| KeySql {
    claim_held: for_sqlite(keys::CLAIM_HELD),
    mark_written: for_sqlite(keys::MARK_WRITTEN),
    claim_key: for_sqlite(keys::CLAIM_KEY),
    read_key: for_sqlite(keys::READ_KEY),
    store_response: for_sqlite(keys::STORE_RESPONSE),
    release_key: for_sqlite(keys::RELEASE_KEY),
    prune_keys: for_sqlite(keys::PRUNE_KEYS_SQLITE),
});

pub(super) fn claim_held(conn: &Connection, user_id: &str, key: &str, token: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(&KEY_SQL.claim_held)?
        .query_row(params![user_id, key, token], |_| Ok(()))
        .optional()
        .map(|row| row.is_some())
}

fn mark_written(conn: &Connection, user_id: &str, key: &str, task_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(&KEY_SQL.mark_written)?.execute(params![user_id, key, task_id]).map(drop)
}

/// Claims the key, or says what it holds.
fn claim_or_read(
    conn: &Connection,
    user: &str,
    key: &str,
    fingerprint: &str,
    times: KeyTimes,
) -> rusqlite::Result<Claim> {
    let KeyTimes { token, now, expires, stale_before } = times;
    let claimed = conn
        .prepare_cached(&KEY_SQL.claim_key)?
        .query_row(params![user, key, fingerprint, token, now, expires, stale_before], |_| Ok(()))
        .optional()?;
    if claimed.is_some() {
        return Ok(Claim::Mine(token));
    }
    let found = conn.prepare_cached(&KEY_SQL.read_key)?.query_row(params![user, key], |row| {
        Ok(KeyRow {
            fingerprint: row.get(0)?,
            status: row.get(1)?,
            response: row.get(2)?,
            etag: row.get(3)?,
            location: row.get(4)?,
            task_id: row.get(5)?,
        })
    })?;
    Ok(found.verdict(fingerprint))
}

/// The answer to the request that holds the claim (`token`).
pub(super) fn store_response(
    conn: &Connection,
    user_id: &str,
    key: &str,
    token: i64,
    response: StoredResponse,
) -> rusqlite::Result<()> {
    let StoredResponse { status, body, etag, location } = response;
    let values = params![user_id, key, token, i64::from(status), body, etag, location];
    conn.prepare_cached(&KEY_SQL.store_response)?.execute(values).map(drop)
}

impl IdempotencyKeys for SqliteStore {
    async fn claim_key(&self, request: KeyedRequest<'_>, times: KeyTimes) -> Result<Claim, StoreError> {
        let (user, key, fingerprint) =
            (request.user_id.to_owned(), request.key.to_owned(), request.fingerprint.to_owned());
        self.write(move |conn| claim_or_read(conn, &user, &key, &fingerprint, times)).await
    }

    /// The claim and the create in one job, so one transaction.
    async fn create_task_keyed(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
        request: KeyedRequest<'_>,
        times: KeyTimes,
    ) -> Result<KeyedCreate, StoreError> {
        let create = Create::of(writer, new, max_tasks);
        let (key, fingerprint) = (request.key.to_owned(), request.fingerprint.to_owned());
        self.write(move |conn| {
            let claim = claim_or_read(conn, &create.user, &key, &fingerprint, times)?;
            if !matches!(claim, Claim::Mine(_)) {
                return Ok(KeyedCreate::Found(claim));
            }
            let Some(task) = create.run(conn)? else { return Ok(KeyedCreate::Full(times.token)) };
            mark_written(conn, &create.user, &key, task.id)?;
            Ok(KeyedCreate::Created(task))
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
        let (owner, revisions, key, token) =
            (owner.to_owned(), sql::revisions_as_json(revisions), claim.key.to_owned(), claim.token);
        self.write(move |conn| {
            if !claim_held(conn, &owner, &key, token)? {
                return Ok(None);
            }
            let values = params![id.get(), owner, Timestamp::now(), revisions];
            let task =
                conn.prepare_cached(&SQL.toggle_task)?.query_row(values, task_from_sqlite).optional()?;
            if let Some(task) = &task {
                mark_written(conn, &owner, &key, task.id)?;
            }
            Ok(task)
        })
        .await
    }

    async fn claim_held(&self, claim: Claimed<'_>) -> Result<bool, StoreError> {
        let (user, key, token) = (claim.user_id.to_owned(), claim.key.to_owned(), claim.token);
        self.read(move |conn| claim_held(conn, &user, &key, token)).await
    }

    async fn store_response(&self, claim: Claimed<'_>, response: &StoredResponse) -> Result<(), StoreError> {
        let (user, key, token) = (claim.user_id.to_owned(), claim.key.to_owned(), claim.token);
        let response = response.clone();
        self.write(move |conn| store_response(conn, &user, &key, token, response)).await
    }

    async fn release_key(&self, claim: Claimed<'_>) -> Result<(), StoreError> {
        let (user, key, token) = (claim.user_id.to_owned(), claim.key.to_owned(), claim.token);
        self.write(move |conn| {
            conn.prepare_cached(&KEY_SQL.release_key)?.execute(params![user, key, token]).map(drop)
        })
        .await
    }

    async fn prune_keys(&self, now: Timestamp) -> Result<u64, StoreError> {
        in_batches(|_| async move {
            let deleted = self
                .write(move |conn| {
                    conn.prepare_cached(&KEY_SQL.prune_keys)?.execute(params![now, PRUNE_BATCH])
                })
                .await?;
            Ok(Pruned::counted(deleted))
        })
        .await
    }
}
