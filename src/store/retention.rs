//! Retention's deletes go in batches: each statement deletes at most
//! `PRUNE_BATCH` rows in its own transaction, so writes run between them.
//! One statement for everything aged out (a minute of changes at a few
//! thousand writes a second) held SQLite's one writer for over a second
//! (docs/benchmarks.md, "Pruning in batches").

use super::StoreError;

/// The most rows one pruning statement deletes.
pub const PRUNE_BATCH: i64 = 1_000;

/// One batch's outcome: how many rows went, and where the next batch starts.
pub(super) struct Pruned {
    pub deleted: usize,
    pub next_from: i64,
}

/// Runs `batch(from)` until one deletes less than a whole batch, each from
/// the `next_from` the one before gave (`i64::MIN` first; a statement with
/// no cursor ignores it). How many rows went in all.
pub(super) async fn in_batches<F, Fut>(mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<Pruned, StoreError>>,
{
    let (mut from, mut pruned) = (i64::MIN, 0);
    loop {
        let Pruned { deleted, next_from } = batch(from).await?;
        pruned += deleted as u64;
        if deleted < PRUNE_BATCH as usize {
            return Ok(pruned);
        }
        from = next_from;
    }
}

impl Pruned {
    /// A change-log batch: the next starts at the latest `logged_at` it deleted.
    pub fn logged(logged_at: Vec<i64>, from: i64) -> Self {
        Self { deleted: logged_at.len(), next_from: logged_at.into_iter().max().unwrap_or(from) }
    }

    /// A batch with no cursor (every row it may delete is due).
    pub fn counted(deleted: usize) -> Self {
        Self { deleted, next_from: i64::MIN }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches run while they come back full, each from the cursor the last gave.
    #[tokio::test]
    async fn batches_run_until_one_is_short() {
        let sizes = [1_000, 1_000, 3, 1_000];
        let mut froms = Vec::new();
        let total = in_batches(|from| {
            froms.push(from);
            let deleted = sizes[froms.len() - 1];
            async move { Ok(Pruned { deleted, next_from: 10 * i64::try_from(deleted).unwrap() }) }
        })
        .await
        .unwrap();
        assert_eq!(total, 2_003);
        assert_eq!(froms, [i64::MIN, 10_000, 10_000]);
    }

    #[test]
    fn a_log_batch_goes_on_from_its_latest_change() {
        let batch = Pruned::logged(vec![5, 9, 7], 3);
        assert_eq!((batch.deleted, batch.next_from), (3, 9));
        assert_eq!(Pruned::logged(Vec::new(), 3).next_from, 3);
    }
}
