//! The drain on SIGTERM. Closing the listener at once resets every connection
//! still waiting in the kernel's accept queue, and a balancer keeps sending
//! new ones until its health check sees us go. So for `DRAIN_SECONDS` the
//! server goes on accepting and serving while `/ready` answers 503 and every
//! response carries `Connection: close` (clients reconnect, through the
//! balancer, elsewhere); only then does the listener close.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether the drain has started; shared by the accept loop and `/ready`.
#[derive(Debug, Clone, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn started(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How the server stops: drain for `drain_for`, then give in-flight requests
/// up to `grace`.
#[derive(Debug, Clone)]
pub struct Stopping {
    pub drain: Drain,
    pub drain_for: Duration,
    pub grace: Duration,
}
