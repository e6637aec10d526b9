//! Changes across instances: an instance that wrote tells the others with
//! `NOTIFY` (the owner's id only; the event itself is read from the log), and
//! each instance `LISTEN`s on one connection of its own.
//!
//! `NOTIFY` is sent after the write commits, batched, never inside the write:
//! PostgreSQL serializes the commits of every transaction that notifies under
//! one database-wide lock, which would cap all writes at one connection's
//! WAL-flush rate. A notification lost to a crash between the commit and the
//! `NOTIFY` is made up for by `change_heads`, which the realtime layer polls.
//!
//! A transaction-mode pooler does not keep `LISTEN` (its session ends with
//! the transaction), so behind one the listener needs a direct URL
//! (`DATABASE_LISTEN_URL`); without it instances only poll.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::super::StoreError;
use super::super::changes::Heard;
use super::super::contract::Notifier;
use super::super::error::describe;
use super::pg_store::{PgStore, Role};
use super::url::{PgConfig, Pooler};
use super::{statements, tls};

const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MOST: Duration = Duration::from_millis(1000);

/// One listening connection, until it breaks. `Ok` if it had been listening.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &tokio_postgres_rustls::MakeRustlsConnect,
    heard: &mpsc::UnboundedSender<Heard>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    // The connection is driven here rather than spawned: notifications
    // arrive through it, not through the client.
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {}", statements::CHANNEL);
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            done = &mut listen, if !listening => {
                done?;
                listening = true;
                if heard.send(Heard::Listening).is_err() {
                    return Ok(());
                }
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(note))) => {
                    let owners = note.payload().lines().map(str::to_owned).collect();
                    if heard.send(Heard::Changed(owners)).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_notice)) => {}
                Some(Err(error)) if !listening => return Err(error),
                Some(Err(error)) => {
                    tracing::debug!(error = %describe(&error), "change listener lost its connection");
                    return Ok(());
                }
                None => return Ok(()),
            },
        }
    }
}

impl Notifier for PgStore {
    fn is_shared(&self) -> bool {
        true
    }

    /// Tells every listening instance that these owners changed (`payload`:
    /// ids one per line, at most `NOTIFY_PAYLOAD_MAX` bytes).
    async fn notify_changed(&self, payload: &str) -> Result<(), StoreError> {
        self.with_conn(Role::Write, |conn| async move {
            conn.execute(statements::NOTIFY, &[&payload]).await.map(drop)
        })
        .await
    }

    async fn change_heads(&self, owners: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        self.with_conn(Role::Read, |conn| async move {
            let rows = conn.query(statements::CHANGE_HEADS, &[&owners]).await?;
            rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
        })
        .await
    }

    /// Starts listening, reconnecting as needed, until `heard` is dropped;
    /// `None` when there is no connection to listen on (behind a pooler
    /// without `direct`).
    fn listen(
        &self,
        direct: Option<&PgConfig>,
        heard: mpsc::UnboundedSender<Heard>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        let (config, tls) = match (direct, self.inner.connector.pooler()) {
            (Some(direct), _) => {
                let tls = tls::connector(direct).map_err(|error| StoreError::Unavailable(error.into()))?;
                (direct.config.clone(), tls)
            }
            (None, Pooler::None) => (self.inner.connector.plain.clone(), self.inner.connector.tls.clone()),
            (None, Pooler::Transaction) => return Ok(None),
        };
        Ok(Some(tokio::spawn(async move {
            let mut backoff = RETRY_FIRST;
            while !heard.is_closed() {
                match listen_once(&config, &tls, &heard).await {
                    Ok(()) => backoff = RETRY_FIRST,
                    Err(error) => tracing::debug!(error = %describe(&error), "change listener disconnected"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MOST);
            }
        })))
    }
}
