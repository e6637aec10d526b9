//! A bound on the work queued for the database. When it is saturated a
//! caller waits a bounded time for room, then gets 503; nothing piles up
//! without bound behind a slow database.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::StoreError;

/// How long a caller waits for room in a full queue before it is answered 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct QueueBound {
    room: Semaphore,
}

impl QueueBound {
    pub fn new(capacity: usize) -> Self {
        Self { room: Semaphore::new(capacity) }
    }

    /// Room for one operation, held until the permit is dropped. The common
    /// case (room free) takes no timer.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, StoreError> {
        match self.room.try_acquire() {
            Ok(permit) => Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => Err(StoreError::Unreachable),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                match tokio::time::timeout(QUEUE_WAIT, self.room.acquire()).await {
                    Ok(Ok(permit)) => Ok(permit),
                    Ok(Err(_closed)) => Err(StoreError::Unreachable),
                    Err(_elapsed) => Err(StoreError::Saturated(QUEUE_WAIT)),
                }
            }
        }
    }

    /// Refuses all later work (`Unreachable`).
    pub fn close(&self) {
        self.room.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_answers_saturated_after_the_bounded_wait_and_frees_room() {
        let queue = QueueBound::new(1);
        let held = queue.enter().await.unwrap();
        let started = std::time::Instant::now();
        let refused = queue.enter().await.unwrap_err();
        assert!(matches!(refused, StoreError::Saturated(_)), "{refused}");
        assert!(refused.is_transient(), "a 503, not a 500");
        assert!(started.elapsed() >= QUEUE_WAIT, "waited the bound: {:?}", started.elapsed());
        drop(held);
        let _again = queue.enter().await.expect("room once the first is done");
    }

    #[tokio::test]
    async fn a_closed_queue_refuses_at_once() {
        let queue = QueueBound::new(4);
        queue.close();
        assert!(matches!(queue.enter().await, Err(StoreError::Unreachable)));
    }
}
