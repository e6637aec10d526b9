//! A user's data on PostgreSQL (see `store::user_data`): each on a
//! connection of its own with an explicit transaction (which a
//! transaction-mode pooler keeps on one server connection), its statements
//! sent unnamed.

use tokio_postgres::IsolationLevel;
use tokio_postgres::types::Type;

use super::super::StoreError;
use super::super::changes::READ_CHANGES;
use super::super::contract::UserRecords;
use super::super::rows::task_from_pg;
use super::super::sql::OWNER_TASKS;
use super::super::user_data::{ERASE, Erased, UserData};
use super::changes::change_from_pg;
use super::pg_store::PgStore;

const LOCK_OWNER: &str = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE";

impl UserRecords for PgStore {
    /// Both reads in one repeatable-read transaction: one snapshot.
    async fn export_user(&self, user_id: &str) -> Result<UserData, StoreError> {
        let (mut client, driver) = self.inner.connector.open_plain().await?;
        let result = async {
            let snapshot = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let tasks = snapshot.query_typed(OWNER_TASKS, &[(&user_id, Type::TEXT)]).await?;
            let tasks = tasks.iter().map(task_from_pg).collect::<Result<Vec<_>, _>>()?;
            let from_the_start =
                [(&user_id as _, Type::TEXT), (&0_i64 as _, Type::INT8), (&i64::MAX as _, Type::INT8)];
            let changes = snapshot.query_typed(READ_CHANGES, &from_the_start).await?;
            let changes = changes.iter().map(change_from_pg).collect::<Result<Vec<_>, _>>()?;
            snapshot.commit().await?;
            Ok::<_, tokio_postgres::Error>(UserData { tasks, changes })
        }
        .await;
        drop(client);
        let _ = driver.await;
        Ok(result?)
    }

    async fn erase_user(&self, user_id: &str) -> Result<Erased, StoreError> {
        let (mut client, driver) = self.inner.connector.open_plain().await?;
        let result = async {
            let erasure = client.transaction().await?;
            // The owner first, as every write takes it (see `sql::owner_first`):
            // deleting the tasks first could deadlock with a bulk action.
            erasure.execute_typed(LOCK_OWNER, &[(&user_id, Type::TEXT)]).await?;
            let mut counts = [0; 6];
            for (count, sql) in counts.iter_mut().zip(ERASE) {
                *count = erasure.execute_typed(sql, &[(&user_id, Type::TEXT)]).await?;
            }
            erasure.commit().await?;
            Ok::<_, tokio_postgres::Error>(Erased::from_counts(counts))
        }
        .await;
        drop(client);
        let _ = driver.await;
        Ok(result?)
    }
}
