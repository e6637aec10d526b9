//! What the engines take and give back: the types every storage call shares,
//! whichever engine runs it.

use std::time::Duration;

use crate::domain::{ListQuery, Task, TaskDescription, TaskPatch, TaskView};

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
