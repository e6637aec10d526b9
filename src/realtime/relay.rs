//! Changes between instances on one PostgreSQL: what this instance wrote goes
//! out as `NOTIFY` (batched: one statement carries every owner that changed
//! while the previous one was in flight), what others wrote comes in through
//! `LISTEN`, and a poll of the watched owners' change numbers catches what a
//! notification can miss (an instance that died between its commit and its
//! `NOTIFY`, or a listener reconnecting). Behind a transaction-mode pooler
//! with no direct URL to listen on, the poll is all there is, so it runs often.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::hub::Hub;
use crate::store::NOTIFY_PAYLOAD_MAX as PAYLOAD_MAX;
use crate::store::Notifier;
use crate::store::{Heard, PgConfig, Store, StoreError};

/// How long changes gather before one NOTIFY carries them all.
const COALESCE: Duration = Duration::from_millis(5);
/// With `LISTEN`: only a safety net.
const POLL_LISTENING: Duration = Duration::from_secs(1);
/// Without: bounds how late a change made elsewhere is seen.
const POLL_ONLY: Duration = Duration::from_millis(50);

/// Starts the relay's tasks; none for an unshared (SQLite) store.
pub fn spawn(
    hub: &Arc<Hub>,
    store: &Store,
    outbox: Option<mpsc::Receiver<String>>,
    direct: Option<&PgConfig>,
) -> Result<Vec<JoinHandle<()>>, StoreError> {
    let Some(outbox) = outbox else { return Ok(Vec::new()) };
    let (heard_tx, heard) = mpsc::unbounded_channel();
    let listener = store.listen(direct, heard_tx)?;
    let every = match listener {
        Some(_) => POLL_LISTENING,
        None => {
            tracing::warn!(
                "behind a transaction-mode pooler with no DATABASE_LISTEN_URL: changes made through other \
                 instances reach streams by polling (every {} ms)",
                POLL_ONLY.as_millis()
            );
            POLL_ONLY
        }
    };
    let mut tasks = vec![
        tokio::spawn(send(store.clone(), outbox)),
        tokio::spawn(hear(Arc::clone(hub), heard)),
        tokio::spawn(poll(Arc::clone(hub), store.clone(), every)),
    ];
    tasks.extend(listener);
    Ok(tasks)
}

async fn send(store: Store, mut outbox: mpsc::Receiver<String>) {
    let mut batch = HashSet::new();
    while let Some(owner) = outbox.recv().await {
        batch.insert(owner);
        // Every NOTIFY commits under one database-wide lock: at most one per
        // COALESCE, carrying every owner that changed meanwhile.
        tokio::time::sleep(COALESCE).await;
        while let Ok(owner) = outbox.try_recv() {
            batch.insert(owner);
        }
        for payload in payloads(batch.drain()) {
            if let Err(error) = store.notify_changed(&payload).await {
                tracing::debug!(%error, "could not notify other instances; their poll will catch up");
            }
        }
    }
}

/// Owner ids one per line, each payload within PostgreSQL's limit.
fn payloads(owners: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for owner in owners {
        match out.last_mut() {
            Some(last) if last.len() + 1 + owner.len() <= PAYLOAD_MAX => {
                last.push('\n');
                last.push_str(&owner);
            }
            _ if owner.len() <= PAYLOAD_MAX => out.push(owner),
            // Cannot be sent; the poll finds it.
            _ => {}
        }
    }
    out
}

async fn hear(hub: Arc<Hub>, mut heard: mpsc::UnboundedReceiver<Heard>) {
    while let Some(news) = heard.recv().await {
        match news {
            Heard::Changed(owners) => owners.iter().for_each(|owner| hub.wake(owner)),
            Heard::Listening => hub.wake_all(),
        }
    }
}

async fn poll(hub: Arc<Hub>, store: Store, every: Duration) {
    let mut known: HashMap<String, i64> = HashMap::new();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let watched = hub.watched();
        if watched.is_empty() {
            known.clear();
            continue;
        }
        let Ok(heads) = store.change_heads(&watched).await else { continue };
        let mut seen = HashMap::with_capacity(heads.len());
        for (owner, head) in heads {
            if known.get(&owner) != Some(&head) {
                hub.wake(&owner);
            }
            seen.insert(owner, head);
        }
        known = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_within_the_limit() {
        let owners = (0..2000).map(|i| format!("user-{i:05}"));
        let out = payloads(owners);
        assert!(out.len() > 1);
        assert!(out.iter().all(|payload| payload.len() <= PAYLOAD_MAX));
        assert_eq!(out.iter().map(|payload| payload.lines().count()).sum::<usize>(), 2000);
        assert!(payloads(std::iter::once("x".repeat(PAYLOAD_MAX + 1))).is_empty());
    }
}
