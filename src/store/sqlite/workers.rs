//! SQLite's connections live on their own threads, off the async runtime:
//! reader threads that take queries from one queue, and one writer thread
//! (SQLite allows one writer at a time) that commits in groups. Each
//! connection is used by its own thread only, so rows are read straight into
//! tasks there; the caller gets the result over a oneshot channel.
//!
//! Group commit: the writer takes every write that is queued when it starts
//! a transaction, runs each under its own savepoint (a write that fails rolls
//! back alone and its neighbours commit), commits once, and only then answers
//! each caller, so an answer still means its write is committed.

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::super::StoreError;
use super::super::error::is_busy;

/// Most writes one transaction commits together.
const MOST_PER_COMMIT: usize = 64;

pub(super) type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

pub enum WriteJob {
    /// Part of a group commit.
    Grouped(Box<dyn Grouped>),
    /// Alone, with the connection to itself (migrations run their own transactions).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// A write waiting for its group: `run` does the work inside the group's
/// transaction and returns what answers the caller once the commit is known.
pub trait Grouped: Send {
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Answer>);
    fn refuse(self: Box<Self>, error: StoreError);
}

pub trait Answer: Send {
    fn send(self: Box<Self>, committed: Result<(), StoreError>);
}

/// A write closure and its caller.
pub struct Write<T, F> {
    pub work: F,
    pub reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Grouped for Write<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Answer>) {
        let result = (self.work)(conn).map_err(StoreError::from);
        (result.is_ok(), Box::new(Pending { result, reply: self.reply }))
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

struct Pending<T> {
    result: Result<T, StoreError>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send> Answer for Pending<T> {
    fn send(self: Box<Self>, committed: Result<(), StoreError>) {
        let _ = self.reply.send(committed.and(self.result));
    }
}

pub fn spawn_readers(connections: Vec<Connection>) -> Sender<ReadJob> {
    let (jobs, queue) = crossbeam_channel::unbounded::<ReadJob>();
    for (index, conn) in connections.into_iter().enumerate() {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("sqlite-read-{index}"))
            .spawn(move || queue.iter().for_each(|job| job(&conn)))
            .expect("a reader thread starts");
    }
    jobs
}

pub fn spawn_writer(conn: Connection) -> Sender<WriteJob> {
    let (jobs, queue) = crossbeam_channel::unbounded::<WriteJob>();
    std::thread::Builder::new()
        .name("sqlite-write".into())
        .spawn(move || write_loop(conn, &queue))
        .expect("the writer thread starts");
    jobs
}

fn write_loop(mut conn: Connection, queue: &Receiver<WriteJob>) {
    let mut group: Vec<Box<dyn Grouped>> = Vec::with_capacity(MOST_PER_COMMIT);
    while let Ok(first) = queue.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                WriteJob::Alone(work) => {
                    commit_group(&conn, std::mem::take(&mut group));
                    work(&mut conn);
                }
                WriteJob::Grouped(write) => group.push(write),
            }
            if group.len() < MOST_PER_COMMIT {
                next = queue.try_recv().ok();
            }
        }
        commit_group(&conn, std::mem::take(&mut group));
    }
}

fn commit_group(conn: &Connection, group: Vec<Box<dyn Grouped>>) {
    if group.is_empty() {
        return;
    }
    // IMMEDIATE takes the write lock now, waiting up to the busy timeout if
    // another process holds it, so no statement inside can meet SQLITE_BUSY.
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        for write in group {
            write.refuse(described(&error));
        }
        return;
    }
    let mut answers = Vec::with_capacity(group.len());
    for write in group {
        if let Err(error) = conn.execute_batch("SAVEPOINT one_write") {
            write.refuse(described(&error));
            continue;
        }
        let (ok, answer) = write.run(conn);
        let undo = if ok { "RELEASE one_write" } else { "ROLLBACK TO one_write; RELEASE one_write" };
        if let Err(error) = conn.execute_batch(undo) {
            answer.send(Err(described(&error)));
            continue;
        }
        answers.push(answer);
    }
    let committed = conn.execute_batch("COMMIT").inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    });
    for answer in answers {
        answer.send(committed.as_ref().map(drop).map_err(described));
    }
}

/// One driver error, told to every caller it concerns (it cannot be cloned).
fn described(error: &rusqlite::Error) -> StoreError {
    let text = error.to_string().into();
    if is_busy(error) { StoreError::Unavailable(text) } else { StoreError::Database(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes queued together share one commit, and the one that fails rolls
    /// back alone: its neighbours are committed and answered `Ok`.
    #[test]
    fn a_failing_write_does_not_fail_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL CHECK (v > 0))").unwrap();
        // Queue the whole group before the writer starts, so it is one transaction.
        let (jobs, queue) = crossbeam_channel::unbounded::<WriteJob>();
        let mut answers = Vec::new();
        for v in [1, 2, -3, 4] {
            let (reply, answer) = oneshot::channel();
            let work = move |conn: &Connection| conn.execute("INSERT INTO t (v) VALUES (?1)", [v]);
            jobs.send(WriteJob::Grouped(Box::new(Write { work, reply }))).unwrap();
            answers.push(answer);
        }
        drop(jobs);
        write_loop(conn, &queue);
        let results: Vec<bool> = answers.into_iter().map(|a| a.blocking_recv().unwrap().is_ok()).collect();
        assert_eq!(results, [true, true, false, true]);
        let stored: Vec<i64> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(stored, [1, 2, 4]);
    }
}
