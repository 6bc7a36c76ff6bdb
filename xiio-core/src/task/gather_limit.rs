//! `gather_limit`: `gather` that runs at most N futures at a time.

use std::cell::RefCell;
use std::future::Future;

use crate::TaskGroup;

/// Like [`gather`](crate::gather), but runs at most `limit` of `futs` at a
/// time: bounded concurrency, as for 1,000 downloads over 10 connections.
///
/// The futures are taken from `futs` in order, as room frees up (an
/// iterator that makes them, such as `(0..1000).map(|i| fetch(i))`, makes
/// each one only when it starts). The values come back in the order of
/// `futs`. The first error cancels the futures that run (their cleanups
/// are awaited), starts no more, and is returned.
///
/// # Panics
///
/// If `limit` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::now();
///     let jobs = (0..10).map(|i| async move {
///         xiio::sleep(Duration::from_millis(100)).await;
///         Ok::<_, std::io::Error>(i)
///     });
///     let values = xiio::gather_limit(jobs, 3).await?;
///     assert_eq!(values, (0..10).collect::<Vec<_>>());
///     // 10 jobs, 3 at a time: 4 rounds of 100 ms.
///     assert_eq!(xiio::now() - start, Duration::from_millis(400));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn gather_limit<I, T, E>(futs: I, limit: usize) -> Result<Vec<T>, E>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    assert!(limit > 0, "xiio::gather_limit needs a limit above zero");
    let queue = RefCell::new(futs.into_iter().enumerate());
    let results: RefCell<Vec<Option<T>>> = RefCell::new(Vec::new());
    TaskGroup::scope(async |tg| {
        // `limit` workers, each taking the next future when it is done.
        for _ in 0..limit {
            let (queue, results) = (&queue, &results);
            tg.add_task(async move {
                loop {
                    let next = queue.borrow_mut().next();
                    let Some((index, fut)) = next else {
                        return Ok(());
                    };
                    let value = fut.await?;
                    let mut results = results.borrow_mut();
                    if results.len() <= index {
                        results.resize_with(index + 1, || None);
                    }
                    results[index] = Some(value);
                }
            });
        }
        Ok(())
    })
    .await?;
    let results = results.into_inner().into_iter();
    Ok(results
        .map(|value| value.expect("every future ran"))
        .collect())
}
