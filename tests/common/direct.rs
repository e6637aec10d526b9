//! The test's own connection to an app's database, beside the app's (to
//! look at what it stored, or to break or lock it on purpose): tokio-postgres
//! or rusqlite opened on the same URL.

use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

pub enum Direct {
    Postgres(tokio_postgres::Client),
    Sqlite(rusqlite::Connection),
}

impl Direct {
    pub async fn open(url: &str) -> Self {
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.split('?').next().unwrap();
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
            return Self::Sqlite(conn);
        }
        Self::Postgres(pg_client(url).await.unwrap_or_else(|e| panic!("cannot connect to {url}: {e}")))
    }

    /// Runs `sql` (one or more statements, no parameters).
    pub async fn execute(&self, sql: &str) {
        match self {
            // DDL here (a test breaking the schema) may meet the server's own
            // background work and be chosen as a deadlock's victim: run it again.
            Self::Postgres(client) => {
                for attempt in 1.. {
                    match client.batch_execute(sql).await {
                        Ok(()) => break,
                        Err(error)
                            if attempt < 5 && error.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) => {}
                        Err(error) => panic!("{sql}: {error}"),
                    }
                }
            }
            Self::Sqlite(conn) => conn.execute_batch(sql).unwrap(),
        }
    }

    pub async fn ids(&self, sql: &str) -> Vec<i64> {
        match self {
            Self::Postgres(client) => {
                client.query(sql, &[]).await.unwrap().iter().map(|row| row.get(0)).collect()
            }
            Self::Sqlite(conn) => {
                let mut statement = conn.prepare(sql).unwrap();
                statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
            }
        }
    }

    /// `(text, optional text)` rows.
    pub async fn pairs(&self, sql: &str) -> Vec<(String, Option<String>)> {
        match self {
            Self::Postgres(client) => {
                client.query(sql, &[]).await.unwrap().iter().map(|row| (row.get(0), row.get(1))).collect()
            }
            Self::Sqlite(conn) => {
                let mut statement = conn.prepare(sql).unwrap();
                let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap();
                rows.map(Result::unwrap).collect()
            }
        }
    }
}

/// A plain client (no TLS) with its connection driven in the background.
pub async fn pg_client(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
