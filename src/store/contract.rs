//! What the engines take and give back: the types every storage call shares,
//! whichever engine runs it.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::bulk::{Bulk, BulkDone};
use super::changes::Heard;
use super::error::StoreError;
use super::idempotency::{Claim, Claimed, KeyTimes, KeyedCreate, KeyedRequest, StoredResponse};
use super::postgres::PgConfig;
use super::tickets::TicketRecord;
use super::user_data::{Erased, UserData};
use crate::domain::{
    ChangesSince, ListQuery, NewTask, Task, TaskDescription, TaskId, TaskPatch, TaskView, Timestamp,
};

/// How many connections an engine keeps, and how long one statement may run.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub statement_timeout: Duration,
    /// Request workers that will each take their share of PostgreSQL's
    /// connections (`Store::for_worker`); 0 when this store serves requests itself.
    pub workers: usize,
}

/// Receives a listing's tasks one by one, borrowed from the rows as they
/// come (see `Store::list_into`), so a long list is written out without a
/// `Task` per row.
pub trait TaskSink: Send + 'static {
    /// How many tasks are coming (the engines know from the first row), so
    /// the sink can make room once instead of growing as they come.
    fn expect(&mut self, _tasks: usize) {}
    fn push(&mut self, task: TaskView<'_>);
}

/// A listing: the sink that took its tasks, and its numbers.
#[derive(Debug)]
pub struct Listed<S> {
    pub sink: S,
    /// How many tasks match the filter in all.
    pub total: i64,
    /// The owner's change number as of this page (see `changes`): where a
    /// client resumes the change feed after fetching it.
    pub change_seq: i64,
}

/// Who is writing: the verified token's subject and, when the token has one, e-mail.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub user_id: &'a str,
    pub email: Option<&'a str>,
}

/// Open connections of one part of an engine, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub name: &'static str,
    pub open: u32,
    pub idle: usize,
    pub max: u32,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Done(T),
    /// No such task (of this owner).
    Missing,
    /// `If-Match` did not hold: the task as it is now, unchanged.
    Changed(Task),
}

/// A patch as `sql::UPDATE_TASK`'s parameters: the title (`$3`), whether the
/// description is being set (`$4`: `NULL` is a value it can be set to), the
/// description (`$5`) and `completed` (`$6`); absent fields keep their value.
pub(super) struct PatchParams<'a> {
    pub title: Option<&'a str>,
    pub sets_description: bool,
    pub description: Option<&'a str>,
    pub completed: Option<bool>,
}

impl<'a> PatchParams<'a> {
    pub fn of(patch: &'a TaskPatch) -> Self {
        let description = patch.description.as_ref().map(|d| d.as_ref().map(TaskDescription::as_str));
        Self {
            title: patch.title.as_ref().map(|title| title.as_str()),
            sets_description: description.is_some(),
            description: description.flatten(),
            completed: patch.completed,
        }
    }
}

/// The listing's total when the page came back empty: the window count
/// rides on rows, so past the end (or with no match) it must be asked for.
pub(super) fn needs_separate_count(rows: usize, query: &ListQuery) -> bool {
    rows == 0 && query.offset > 0
}

// The storage contract. Each engine implements these traits in its own
// module, one file per trait (`postgres/tasks.rs`, `sqlite/tasks.rs`, ...),
// and `Store` implements them once by handing each call to the engine it
// holds: static dispatch, no trait objects. What only a shared database does
// (hearing other instances) is its own trait, `Notifier`, which SQLite
// implements as "nobody else writes here".

/// Connections: health, metrics, shutdown.
pub trait Lifecycle: Send + Sync {
    /// Open connections per pool.
    fn pool_stats(&self) -> Vec<PoolStats>;
    /// Does the database answer right now?
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stops taking work; later calls answer `Unreachable`.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// One owner's tasks. Every call is scoped by the owner: no call can reach
/// another owner's row. `revisions`: `If-Match`'s accepted revisions, `None`
/// for any (see `sql::revision_list`).
pub trait Tasks: Send + Sync {
    /// Records the writer, counts the task against the owner's quota and
    /// inserts it, atomically; `None` (nothing written) when the owner
    /// already has `max_tasks`.
    fn create_task(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
    fn get_task(
        &self,
        owner: &str,
        id: TaskId,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
    /// The task as the primary has it (a read replica may lag): what a write
    /// that did not happen reports.
    fn get_task_on_primary(
        &self,
        owner: &str,
        id: TaskId,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send {
        self.get_task(owner, id)
    }
    /// One page of the owner's tasks into `sink`, with the total and change
    /// number read in the same snapshot.
    fn list_into<S: TaskSink>(
        &self,
        owner: &str,
        query: &ListQuery,
        sink: S,
    ) -> impl Future<Output = Result<Listed<S>, StoreError>> + Send;
    /// The task after the patch, `None` if it is missing or not at `revisions`.
    fn update_task_at(
        &self,
        owner: &str,
        id: TaskId,
        patch: &TaskPatch,
        revisions: Option<&[i64]>,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
    fn toggle_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
    /// Whether a task was deleted.
    fn delete_task_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Mark all and clear completed (see `bulk`).
pub trait BulkActions: Send + Sync {
    /// Every matching task of the owner changed or deleted, in one transaction.
    fn bulk(&self, bulk: Bulk<'_>) -> impl Future<Output = Result<BulkDone, StoreError>> + Send;
}

/// Idempotency keys, kept in the database so every instance agrees (see
/// `idempotency`).
pub trait IdempotencyKeys: Send + Sync {
    fn claim_key(
        &self,
        request: KeyedRequest<'_>,
        times: KeyTimes,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Claims the key and creates the task under it, in one commit.
    fn create_task_keyed(
        &self,
        writer: Writer<'_>,
        new: &NewTask,
        max_tasks: u32,
        request: KeyedRequest<'_>,
        times: KeyTimes,
    ) -> impl Future<Output = Result<KeyedCreate, StoreError>> + Send;
    /// `toggle_task_at`, only while `claim` holds (recording the task under it).
    fn toggle_task_claimed_at(
        &self,
        owner: &str,
        id: TaskId,
        revisions: Option<&[i64]>,
        claim: Claimed<'_>,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
    /// Nothing written under the claim yet, and it is still this request's.
    fn claim_held(&self, claim: Claimed<'_>) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn store_response(
        &self,
        claim: Claimed<'_>,
        response: &StoredResponse,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn release_key(&self, claim: Claimed<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes keys expired by `now`; how many went.
    fn prune_keys(&self, now: Timestamp) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The change log behind `/changes` and `/events` (see `changes`).
pub trait ChangeLog: Send + Sync {
    /// The owner's changes after `since`, at most `limit` (and `PAGE_MAX`).
    fn changes_since(
        &self,
        owner: &str,
        since: i64,
        limit: i64,
    ) -> impl Future<Output = Result<ChangesSince, StoreError>> + Send;
    /// The task as it was created, while the log keeps its creation.
    fn created_task(
        &self,
        owner: &str,
        id: TaskId,
    ) -> impl Future<Output = Result<Option<Task>, StoreError>> + Send;
    /// The owner's latest change number (0 before their first write).
    fn change_head(&self, owner: &str) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Deletes changes past retention; how many went.
    fn prune_changes(
        &self,
        older_than: i64,
        keep_per_user: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The tickets that let `EventSource` (which cannot send headers) open a stream.
pub trait StreamTickets: Send + Sync {
    fn issue_ticket(&self, ticket: TicketRecord<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The user a still-valid ticket opens streams for, and until when.
    fn redeem_ticket(
        &self,
        hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<(String, i64)>, StoreError>> + Send;
    fn prune_tickets(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// One user's data, for the operator (`todo-api user export|delete`).
pub trait UserRecords: Send + Sync {
    /// Everything stored about the user, from one snapshot.
    fn export_user(&self, user_id: &str) -> impl Future<Output = Result<UserData, StoreError>> + Send;
    /// Erases it all in one transaction; what went.
    fn erase_user(&self, user_id: &str) -> impl Future<Output = Result<Erased, StoreError>> + Send;
}

/// Hearing and telling other instances that share the database. Only
/// PostgreSQL is shared; SQLite's one process fans out in process, so it
/// listens to nothing, tells nobody and has no heads to poll.
pub trait Notifier: Send + Sync {
    /// Whether other processes may write to this database.
    fn is_shared(&self) -> bool;
    /// Hears other instances' changes; `None`: nothing to listen on, poll
    /// `change_heads` instead.
    fn listen(
        &self,
        direct: Option<&PgConfig>,
        heard: mpsc::UnboundedSender<Heard>,
    ) -> Result<Option<JoinHandle<()>>, StoreError>;
    /// Tells other instances these owners changed (ids one per line).
    fn notify_changed(&self, payload: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The latest change number of each of these owners that has written.
    fn change_heads(
        &self,
        owners: &[String],
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;
}

/// Everything an engine does.
pub trait Engine:
    Lifecycle + Tasks + BulkActions + IdempotencyKeys + ChangeLog + StreamTickets + UserRecords + Notifier
{
}

impl<E> Engine for E where
    E: Lifecycle + Tasks + BulkActions + IdempotencyKeys + ChangeLog + StreamTickets + UserRecords + Notifier
{
}
