//! Migrations on PostgreSQL, mutually exclusive across instances starting
//! together. The lock is a transaction-scoped advisory lock held by a second
//! connection's open transaction while the first migrates: a transaction-mode
//! pooler keeps that transaction on one server connection, where a
//! session-level lock would be lost (or left behind) between transactions.

use super::super::StoreError;
use super::super::error::describe;
use super::super::migrations::{self, SQLX_ERA_VERSION, failed};
use super::connections::Connector;

/// `pg_advisory_xact_lock` key: "todo" in ASCII.
const LOCK_KEY: i64 = 0x746f_646f;

pub async fn run(connector: &Connector) -> Result<(), StoreError> {
    // Migrations may outlast a request's statement timeout, and so may the
    // wait for another instance's: these connections carry none of ours.
    let unavailable = |error: tokio_postgres::Error| StoreError::Unavailable(describe(&error).into());
    let (lock, lock_driver) = connector.open_plain().await.map_err(unavailable)?;
    let (mut client, driver) = connector.open_plain().await.map_err(unavailable)?;
    let result = async {
        // Simple-protocol text only: named statements do not survive a pooler.
        lock.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({LOCK_KEY})")).await?;
        let inherited = sqlx_era_version(&client).await?;
        Ok::<_, tokio_postgres::Error>(inherited)
    }
    .await;
    let inherited = result.map_err(StoreError::from)?;
    let outcome = async {
        if let Some(version) = inherited {
            let runner = migrations::adopt(migrations::postgres(), version);
            runner.run_async(&mut client).await.map_err(failed)?;
        }
        migrations::postgres().run_async(&mut client).await.map_err(failed)?;
        Ok(())
    }
    .await;
    let _ = lock.batch_execute("COMMIT").await;
    drop((lock, client));
    let _ = tokio::join!(lock_driver, driver);
    outcome
}

/// The sqlx-era version to adopt: only when that table exists and refinery's
/// does not yet (once adopted, refinery's own history rules).
async fn sqlx_era_version(client: &tokio_postgres::Client) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client
        .query_typed_one(
            "SELECT to_regclass('_sqlx_migrations') IS NOT NULL, \
             to_regclass('refinery_schema_history') IS NOT NULL",
            &[],
        )
        .await?;
    let (sqlx_era, adopted): (bool, bool) = (row.get(0), row.get(1));
    if !sqlx_era || adopted {
        return Ok(None);
    }
    let version: i64 = client.query_typed_one(SQLX_ERA_VERSION, &[]).await?.get(0);
    Ok((version > 0).then_some(version))
}
