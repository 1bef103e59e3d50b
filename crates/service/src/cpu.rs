//! Elliptic-curve work off the async workers, spread over the cores.
//!
//! A transcryptor converting a batch, or the coordinator decrypting a delivered batch, would
//! otherwise use one core while the others wait: the batch is one step in a chain, and every
//! step after it waits for the whole batch.

use std::sync::Arc;

/// Below this many items per core a batch is not split: a blocking task costs a thread handoff.
const MIN_PER_TASK: usize = 8;

/// The blocking task doing part of the work ended abnormally (it panicked or was cancelled).
#[derive(Debug, thiserror::Error)]
#[error("a CPU task failed: {0}")]
pub struct TaskFailed(#[from] tokio::task::JoinError);

/// Applies `work` to `items` on the blocking pool, in as many contiguous parts as there are cores
/// (fewer for small batches), and returns the results in the order of `items`. `work` must
/// return one result per item it is given.
pub async fn spread<T, U, F>(items: Vec<T>, work: F) -> Result<Vec<U>, TaskFailed>
where
    T: Send + Sync + 'static,
    U: Send + 'static,
    F: Fn(&[T]) -> Vec<U> + Send + Sync + 'static,
{
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(items.len() / MIN_PER_TASK).max(1);
    let items = Arc::new(items);
    let work = Arc::new(work);
    if parts == 1 {
        return Ok(tokio::task::spawn_blocking(move || work(&items)).await?);
    }
    let size = items.len().div_ceil(parts);
    let mut tasks = Vec::with_capacity(parts);
    for start in (0..items.len()).step_by(size) {
        let (items, work) = (Arc::clone(&items), Arc::clone(&work));
        let end = (start + size).min(items.len());
        tasks.push(tokio::task::spawn_blocking(move || {
            work(&items[start..end])
        }));
    }
    let mut out = Vec::with_capacity(items.len());
    for task in tasks {
        out.extend(task.await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_come_back_in_the_order_of_the_items_whatever_the_split() {
        for n in [0, 1, 7, 8, 17, 100, 257] {
            let items: Vec<u32> = (0..n).collect();
            let doubled = spread(items, |part: &[u32]| part.iter().map(|x| x * 2).collect())
                .await
                .expect("no task fails");
            assert_eq!(
                doubled,
                (0..n).map(|x| x * 2).collect::<Vec<_>>(),
                "n = {n}"
            );
        }
    }

    #[tokio::test]
    async fn a_panicking_part_is_an_error_not_a_crash() {
        let result = spread((0..64).collect::<Vec<u32>>(), |part: &[u32]| {
            assert!(!part.contains(&63), "boom");
            part.to_vec()
        })
        .await;
        assert!(result.is_err());
    }
}
