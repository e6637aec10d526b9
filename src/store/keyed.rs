//! `Store`'s idempotency keys: the contract's calls handed to the engine,
//! and a toggle under a claim answered as the handler needs it (the types
//! and SQL are in `idempotency`).

use super::contract::{IdempotencyKeys, Writer, Written};
use super::idempotency::{Claim, Claimed, Gated, KeyTimes, KeyedCreate, KeyedRequest, StoredResponse};
use super::{Store, StoreError, sql};
use crate::domain::{IfMatch, NewTask, Task, TaskId, Timestamp};

impl Store {
    /// `toggle_task`, only while `claim` holds: `ClaimLost` when another
    /// request took the key over and nothing was written.
    pub async fn toggle_task_claimed(
        &self,
        owner: &str,
        id: TaskId,
        if_match: &IfMatch,
        claim: Claimed<'_>,
    ) -> Result<Gated<Written<Task>>, StoreError> {
        let revisions = sql::revision_list(if_match);
        let done = self.toggle_task_claimed_at(owner, id, revisions, claim).await?;
        if done.is_none() && !self.claim_held(claim).await? {
            return Ok(Gated::ClaimLost);
        }
        self.settle(done, owner, id, if_match).await.map(Gated::Done)
    }
}

impl IdempotencyKeys for Store {
    async fn claim_key(&self, request: KeyedRequest<'_>, times: KeyTimes) -> Result<Claim, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.claim_key(request, times).await,
            Self::Postgres(engine) => engine.claim_key(request, times).await,
        }
    }

    async fn create_task_keyed(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
        request: KeyedRequest<'_>,
        times: KeyTimes,
    ) -> Result<KeyedCreate, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.create_task_keyed(writer, new, max_tasks, request, times).await,
            Self::Postgres(engine) => engine.create_task_keyed(writer, new, max_tasks, request, times).await,
        }
    }

    async fn toggle_task_claimed_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
        claim: Claimed<'_>,
    ) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.toggle_task_claimed_at(owner, id, revisions, claim).await,
            Self::Postgres(engine) => engine.toggle_task_claimed_at(owner, id, revisions, claim).await,
        }
    }

    async fn claim_held(&self, claim: Claimed<'_>) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.claim_held(claim).await,
            Self::Postgres(engine) => engine.claim_held(claim).await,
        }
    }

    async fn store_response(&self, claim: Claimed<'_>, response: &StoredResponse) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(engine) => engine.store_response(claim, response).await,
            Self::Postgres(engine) => engine.store_response(claim, response).await,
        }
    }

    async fn release_key(&self, claim: Claimed<'_>) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(engine) => engine.release_key(claim).await,
            Self::Postgres(engine) => engine.release_key(claim).await,
        }
    }

    async fn prune_keys(&self, now: Timestamp) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite(engine) => engine.prune_keys(now).await,
            Self::Postgres(engine) => engine.prune_keys(now).await,
        }
    }
}
