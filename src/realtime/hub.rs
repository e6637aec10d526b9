//! Who is watching whose change log, within stream limits, and waking them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

/// Streams allowed open at once.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub per_user: usize,
    pub total: usize,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    UserFull(usize),
    ServerFull(usize),
    ShuttingDown,
}

/// Owners whose changes this instance wrote, queued for other instances;
/// beyond this they are dropped (the relay's poll makes up for them).
const OUTBOX: usize = 10_000;

pub struct Hub {
    watching: Mutex<HashMap<String, Watched>>,
    open: AtomicUsize,
    limits: StreamLimits,
    closing: watch::Sender<bool>,
    outbox: Option<mpsc::Sender<String>>,
}

struct Watched {
    wake: watch::Sender<()>,
    streams: usize,
}

impl Hub {
    /// `shared`: other processes write to the same database, so this
    /// instance's changes are also sent out (see `relay`).
    pub fn new(limits: StreamLimits, shared: bool) -> (Arc<Self>, Option<mpsc::Receiver<String>>) {
        let (outbox, sent) = match shared {
            true => {
                let (tx, rx) = mpsc::channel(OUTBOX);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let hub = Self {
            watching: Mutex::default(),
            open: AtomicUsize::new(0),
            limits,
            closing: watch::channel(false).0,
            outbox,
        };
        (Arc::new(hub), sent)
    }

    /// A place among `owner`'s watchers, or why there is none.
    pub fn subscribe(self: &Arc<Self>, owner: &str) -> Result<Subscription, Refused> {
        if *self.closing.borrow() {
            return Err(Refused::ShuttingDown);
        }
        let mut watching = self.watching.lock().expect("hub lock");
        if self.open.load(Ordering::Relaxed) >= self.limits.total {
            return Err(Refused::ServerFull(self.limits.total));
        }
        let watched = watching
            .entry(owner.to_owned())
            .or_insert_with(|| Watched { wake: watch::channel(()).0, streams: 0 });
        if watched.streams >= self.limits.per_user {
            return Err(Refused::UserFull(self.limits.per_user));
        }
        watched.streams += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::metrics().stream_opened();
        Ok(Subscription {
            hub: Arc::clone(self),
            owner: owner.to_owned(),
            wake: watched.wake.subscribe(),
            closing: self.closing.subscribe(),
        })
    }

    /// This instance wrote one of `owner`'s tasks.
    pub fn changed(&self, owner: &str) {
        self.wake(owner);
        if let Some(outbox) = &self.outbox {
            let _ = outbox.try_send(owner.to_owned());
        }
    }

    /// `owner`'s streams here should look at the log.
    pub fn wake(&self, owner: &str) {
        if let Some(watched) = self.watching.lock().expect("hub lock").get(owner) {
            watched.wake.send_replace(());
        }
    }

    /// Every stream here should look at the log (after a gap in hearing).
    pub fn wake_all(&self) {
        for watched in self.watching.lock().expect("hub lock").values() {
            watched.wake.send_replace(());
        }
    }

    /// Owners with a stream open here.
    pub fn watched(&self) -> Vec<String> {
        self.watching.lock().expect("hub lock").keys().cloned().collect()
    }

    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Ends every stream (they end cleanly; clients reconnect and resume)
    /// and opens no more.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    fn unsubscribe(&self, owner: &str) {
        let mut watching = self.watching.lock().expect("hub lock");
        if let Some(watched) = watching.get_mut(owner) {
            watched.streams -= 1;
            if watched.streams == 0 {
                watching.remove(owner);
            }
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
        crate::telemetry::metrics().stream_closed();
    }
}

/// One open stream's place; leaving (drop) frees it.
pub struct Subscription {
    hub: Arc<Hub>,
    owner: String,
    wake: watch::Receiver<()>,
    closing: watch::Receiver<bool>,
}

impl Subscription {
    /// Forget wakes so far: call before reading the log, so a change that
    /// lands during the read still wakes the next `woken`.
    pub fn mark_seen(&mut self) {
        self.wake.mark_unchanged();
    }

    /// Resolves when there may be something new; `false` when the stream
    /// should end instead (shutting down).
    pub async fn woken(&mut self) -> bool {
        let woken = tokio::select! {
            changed = self.wake.changed() => changed.is_ok(),
            _ = self.closing.wait_for(|closing| *closing) => false,
        };
        woken && !self.is_closing()
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(per_user: usize, total: usize) -> Arc<Hub> {
        Hub::new(StreamLimits { per_user, total }, false).0
    }

    #[test]
    fn limits_count_open_streams_and_free_on_drop() {
        let hub = hub(2, 3);
        let a1 = hub.subscribe("a").unwrap();
        let _a2 = hub.subscribe("a").unwrap();
        assert_eq!(hub.subscribe("a").err(), Some(Refused::UserFull(2)));
        let _b = hub.subscribe("b").unwrap();
        assert_eq!(hub.subscribe("c").err(), Some(Refused::ServerFull(3)));
        drop(a1);
        assert_eq!(hub.open_streams(), 2);
        assert!(hub.subscribe("a").is_ok());
        hub.close();
        assert_eq!(hub.subscribe("d").err(), Some(Refused::ShuttingDown));
    }

    #[tokio::test]
    async fn a_change_wakes_only_its_owners_streams() {
        let hub = hub(4, 4);
        let (mut a, mut b) = (hub.subscribe("a").unwrap(), hub.subscribe("b").unwrap());
        a.mark_seen();
        b.mark_seen();
        hub.changed("a");
        assert!(a.woken().await);
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), b.woken()).await;
        assert!(quiet.is_err(), "b was not woken");
        hub.close();
        assert!(!b.woken().await, "closing ends the wait");
    }
}
