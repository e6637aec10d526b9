//! Idempotency keys in the database, so every instance agrees. A request
//! with a key first *claims* it (one upsert: a new key, an expired one, or one
//! whose claimant died before writing); its write then runs only while the
//! claim is still its own and records the task it touched in the same
//! statement; last, the answer is stored and replayed to every retry. A
//! create does all of it in one commit (`create_task_keyed`): its answer is
//! not stored but rebuilt from the change log's record of the creation.

use std::time::Duration;

use crate::domain::{Task, Timestamp};

/// A keyed request: whose, which key, and a digest of what it asks.
#[derive(Debug, Clone, Copy)]
pub struct KeyedRequest<'a> {
    pub user_id: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a str,
}

/// A claim held by this request: only it may write under the key.
#[derive(Debug, Clone, Copy)]
pub struct Claimed<'a> {
    pub user_id: &'a str,
    pub key: &'a str,
    pub token: i64,
}

/// A claim's token and its times: when it is made, until when it holds,
/// and before when a silent claimant is presumed dead.
#[derive(Debug, Clone, Copy)]
pub struct KeyTimes {
    pub token: i64,
    pub now: Timestamp,
    pub expires: Timestamp,
    pub stale_before: Timestamp,
}

impl KeyTimes {
    /// A new claim: a random token, held for `ttl` from now; a claimant
    /// silent for `stale` is presumed dead.
    pub fn from_now(ttl: Duration, stale: Duration) -> Self {
        let now = Timestamp::now();
        Self { token: rand::random::<i64>(), now, expires: now.plus(ttl), stale_before: now.minus(stale) }
    }
}

/// An answer as stored, and as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
    pub location: Option<String>,
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// Ours to execute.
    Mine(i64),
    /// Already answered: replay this.
    Answered(StoredResponse),
    /// Written (this task) but the answer was never stored: the claimant died
    /// in between. The write stands; the task as it is now is the answer.
    Written(i64),
    /// The key was used with a different request.
    Mismatch,
    /// Another request with this key is still running.
    InFlight,
}

/// What a create with a key did (`Store::create_task_keyed`).
#[derive(Debug)]
pub enum KeyedCreate {
    /// The key claimed and the task created, recorded on the key, in one
    /// commit. No answer is stored: a retry rebuilds it from the task as the
    /// change log has it at its creation (see `Store::created_task`).
    Created(Task),
    /// The key claimed (this token) and nothing written: the quota is full.
    /// The caller stores that answer under the claim.
    Full(i64),
    /// Not claimed: what the key already holds.
    Found(Claim),
}

/// What a write gated on a claim did.
#[derive(Debug)]
pub enum Gated<T> {
    Done(T),
    /// The claim was taken over (this request was presumed dead): nothing written.
    ClaimLost,
}

/// The row as read after a claim did not come back as ours.
pub(super) struct KeyRow {
    pub fingerprint: String,
    pub status: Option<i64>,
    pub response: Option<String>,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub task_id: Option<i64>,
}

impl KeyRow {
    pub(super) fn verdict(self, fingerprint: &str) -> Claim {
        if self.fingerprint != fingerprint {
            return Claim::Mismatch;
        }
        match (self.status, self.response, self.task_id) {
            (Some(status), Some(body), _) => Claim::Answered(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body,
                etag: self.etag,
                location: self.location,
            }),
            (_, _, Some(task_id)) => Claim::Written(task_id),
            _ => Claim::InFlight,
        }
    }
}

/// Claims a key: inserted new, or taken over when it expired, or when its
/// claimant wrote nothing and has not been heard of since `stale_before`
/// (for the same request only: `$7`). `RETURNING` comes back only then.
pub const CLAIM_KEY: &str = "INSERT INTO idempotency_keys (user_id, key, fingerprint, claim, claimed_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
     claim = excluded.claim, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at, task_id = NULL, \
     status = NULL, response = NULL, etag = NULL, location = NULL \
     WHERE idempotency_keys.expires_at < $5 OR (idempotency_keys.status IS NULL \
     AND idempotency_keys.task_id IS NULL AND idempotency_keys.claimed_at < $7 \
     AND idempotency_keys.fingerprint = excluded.fingerprint) RETURNING claim";

pub const READ_KEY: &str = "SELECT fingerprint, status, response, etag, location, task_id \
     FROM idempotency_keys WHERE user_id = $1 AND key = $2";

pub const STORE_RESPONSE: &str = "UPDATE idempotency_keys SET status = $4, response = $5, etag = $6, location = $7 \
     WHERE user_id = $1 AND key = $2 AND claim = $3";

/// Gives a claim back when its request failed for a passing reason (503), so
/// a retry can execute; never once the write happened (a task recorded on
/// the key, or a bulk action's answer stored with its write).
pub const RELEASE_KEY: &str = "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND claim = $3 \
     AND task_id IS NULL AND status IS NULL";

/// One batch of at most `$2` expired keys (see `retention`).
/// By physical address, as `changes::PRUNE_CHANGES_PG` and `_SQLITE` go.
pub const PRUNE_KEYS_PG: &str = "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(\
     SELECT ctid FROM idempotency_keys WHERE expires_at < $1 LIMIT $2))";
pub const PRUNE_KEYS_SQLITE: &str = "DELETE FROM idempotency_keys WHERE rowid IN (\
     SELECT rowid FROM idempotency_keys WHERE expires_at < $1 LIMIT $2)";

/// The claim still ours, nothing written under it yet.
pub const CLAIM_HELD: &str = "SELECT 1 FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND claim = $3 \
     AND task_id IS NULL AND status IS NULL";

/// PostgreSQL only: a create with a key in one call (migration 0008); the
/// task's columns, then the outcome (`OUTCOME_COLUMN`).
pub const CREATE_KEYED: &str =
    "SELECT * FROM create_task_keyed($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// Where `CREATE_KEYED` says what it did: `created` or `full`.
pub const OUTCOME_COLUMN: usize = 8;

/// The SQLSTATE `CREATE_KEYED` raises, undoing itself, when the key is taken.
pub const KEY_TAKEN: &str = "TD409";

pub const MARK_WRITTEN: &str = "UPDATE idempotency_keys SET task_id = $3 WHERE user_id = $1 AND key = $2";
