//! governor's state, one `AtomicU64` per key, in a cache of bounded size.
//!
//! Written by hand because governor's own keyed stores (a `HashMap` or a
//! `DashMap`) keep every key they have seen until `retain_recent` is called,
//! and even that cannot drop keys seen within the last window: a flood of
//! distinct keys (forged addresses, many users) would grow them without bound.
//! `quick_cache` holds at most its capacity and evicts the keys used least;
//! an evicted key starts again with a full bucket, which is what it would
//! have after one idle window anyway.

use std::convert::Infallible;
use std::hash::Hash;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;

pub struct BoundedStore<K> {
    cells: quick_cache::sync::Cache<K, Arc<AtomicU64>>,
}

impl<K: Hash + Eq + Clone> BoundedStore<K> {
    pub fn new(capacity: usize) -> Self {
        Self { cells: quick_cache::sync::Cache::new(capacity) }
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    /// The same compare-and-swap loop as governor's `InMemoryState`: 0 means
    /// "never measured", and the new state is written only over the one the
    /// decision was made on.
    fn measure_and_replace<T, F, E>(&self, key: &K, decide: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let cell = match self.cells.get(key) {
            Some(cell) => cell,
            None => {
                let created = self.cells.get_or_insert_with(key, || Ok::<_, Infallible>(Arc::default()));
                created.unwrap_or_else(|never| match never {})
            }
        };
        let mut seen = cell.load(Ordering::Acquire);
        loop {
            let (outcome, next) = decide(NonZeroU64::new(seen).map(|n| Nanos::from(n.get())))?;
            match cell.compare_exchange_weak(seen, next.as_u64(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(outcome),
                Err(actual) => seen = actual,
            }
        }
    }
}

/// Eviction keeps the size bounded; nothing needs to be swept.
impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for BoundedStore<K> {
    fn retain_recent(&self, _drop_below: Nanos) {}

    fn len(&self) -> usize {
        self.cells.len()
    }

    fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}
