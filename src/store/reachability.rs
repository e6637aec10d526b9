//! Fail fast while the database is unreachable. Without this every request
//! would wait out the pool's acquire timeout (sqlx keeps retrying a refused
//! connection until then) before its 503, and pile up meanwhile. Once a
//! connection-level failure is seen, requests are answered 503 at once and a
//! watchdog pings the database until it answers; then traffic flows again.
//! Circuit-breaker crates exist, but they wrap tower services, not one
//! engine's connection failures; this is one flag and one task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the watchdog pings while the database is down, and how long one
/// ping may take: together they bound how late recovery is noticed.
const PROBE_EVERY: Duration = Duration::from_millis(200);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct Reachability {
    down: AtomicBool,
}

impl Reachability {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Marks the database down; the first caller to do so gets `true` and
    /// should start the watchdog.
    fn mark_down(&self) -> bool {
        !self.down.swap(true, Ordering::AcqRel)
    }

    /// Marks it down and, unless a watchdog already runs, pings with `ping`
    /// until it answers.
    pub fn lost<F, Fut>(self: &Arc<Self>, ping: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send,
    {
        if !self.mark_down() {
            return;
        }
        tracing::error!("database unreachable; answering 503 until it is back");
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if tokio::time::timeout(PROBE_TIMEOUT, ping()).await.unwrap_or(false) {
                    this.down.store(false, Ordering::Release);
                    tracing::info!("database reachable again");
                    return;
                }
            }
        });
    }
}
