//! A user's data and the database copy on SQLite (see `store::user_data`).

use std::path::Path;

use rusqlite::params;

use super::super::StoreError;
use super::super::changes::READ_CHANGES;
use super::super::contract::UserRecords;
use super::super::rows::task_from_sqlite;
use super::super::sql::{OWNER_TASKS, for_sqlite};
use super::super::user_data::{ERASE, Erased, UserData};
use super::{SqliteStore, changes};

impl SqliteStore {
    /// `VACUUM INTO` on a reader: a compacted, consistent copy from one read
    /// transaction, which in WAL mode never holds up the writer.
    pub async fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        let target = path.to_string_lossy().into_owned();
        self.read(move |conn| conn.execute("VACUUM INTO ?1", params![target]).map(drop)).await
    }
}

impl UserRecords for SqliteStore {
    /// Both reads in one read transaction: one snapshot of the file.
    async fn export_user(&self, user_id: &str) -> Result<UserData, StoreError> {
        let user = user_id.to_owned();
        self.read(move |conn| {
            let snapshot = conn.unchecked_transaction()?;
            let tasks = snapshot
                .prepare(&for_sqlite(OWNER_TASKS))?
                .query_map(params![user], task_from_sqlite)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let changes = snapshot
                .prepare(&for_sqlite(READ_CHANGES))?
                .query_map(params![user, 0, i64::MAX], changes::change_from_sqlite)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            snapshot.finish()?;
            Ok(UserData { tasks, changes })
        })
        .await
    }

    /// On the writer: every statement inside its one transaction.
    async fn erase_user(&self, user_id: &str) -> Result<Erased, StoreError> {
        let user = user_id.to_owned();
        self.write(move |conn| {
            let mut counts = [0; 6];
            for (count, sql) in counts.iter_mut().zip(ERASE) {
                *count = conn.execute(&for_sqlite(sql), params![user])? as u64;
            }
            Ok(Erased::from_counts(counts))
        })
        .await
    }
}
