//! The `Store` calls behind `Idempotency-Key`: claim a key, write under it,
//! keep or release its answer (the types and SQL are in `idempotency`).

use std::time::Duration;

use super::contract::{Writer, Written};
use super::idempotency::{Claim, Claimed, Gated, KeyTimes, KeyedCreate, KeyedRequest, StoredResponse};
use super::{Store, StoreError, sql};
use crate::domain::{IfMatch, NewTask, Task, TaskId, Timestamp};

impl Store {
    /// Claims `request`'s key for `ttl`; a claimant silent for `stale` is presumed dead.
    pub async fn claim_key(
        &self,
        request: KeyedRequest<'_>,
        ttl: Duration,
        stale: Duration,
    ) -> Result<Claim, StoreError> {
        on_engine!(self, engine => engine.claim_key(request, KeyTimes::from_now(ttl, stale)).await)
    }

    /// Claims `request`'s key and creates the task under it, in one commit
    /// (one round trip on PostgreSQL: see migration 0008).
    pub async fn create_task_keyed(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
        request: KeyedRequest<'_>,
        lifetimes: (Duration, Duration),
    ) -> Result<KeyedCreate, StoreError> {
        let times = KeyTimes::from_now(lifetimes.0, lifetimes.1);
        on_engine!(self, engine => engine.create_task_keyed(writer, new, max_tasks, request, times).await)
    }

    /// `toggle_task`, only while `claim` holds.
    pub async fn toggle_task_claimed(
        &self,
        owner: &str,
        id: TaskId,
        if_match: &IfMatch,
        claim: Claimed<'_>,
    ) -> Result<Gated<Written<Task>>, StoreError> {
        let revisions = sql::revision_list(if_match);
        let done = on_engine!(self, engine => engine.toggle_task_claimed(owner, id, revisions, claim).await)?;
        if done.is_none() && !self.claim_held(claim).await? {
            return Ok(Gated::ClaimLost);
        }
        self.settle(done, owner, id, if_match).await.map(Gated::Done)
    }

    /// Nothing written under the claim yet, and it is still this request's.
    async fn claim_held(&self, claim: Claimed<'_>) -> Result<bool, StoreError> {
        on_engine!(self, engine => engine.claim_held(claim).await)
    }

    pub async fn store_response(
        &self,
        claim: Claimed<'_>,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        on_engine!(self, engine => engine.store_response(claim, response).await)
    }

    pub async fn release_key(&self, claim: Claimed<'_>) -> Result<(), StoreError> {
        on_engine!(self, engine => engine.release_key(claim).await)
    }

    /// Deletes expired keys; how many went.
    pub async fn prune_keys(&self) -> Result<u64, StoreError> {
        on_engine!(self, engine => engine.prune_keys(Timestamp::now()).await)
    }
}
