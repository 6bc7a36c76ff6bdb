//! `gather` and `gather_limit`: run futures concurrently and collect their
//! values in order.

use std::cell::RefCell;
use std::future::Future;

use super::{Task, TaskGroup};

/// Runs all `futs` concurrently in a task group and returns their values in
/// the order of the input (not of completion), or the first error, after
/// cancelling the others and waiting for their cleanups.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::time::now();
///     let values = xiio::task::gather([200, 100].map(|ms| async move {
///         xiio::sleep(Duration::from_millis(ms)).await;
///         Ok::<_, std::io::Error>(ms)
///     }))
///     .await?;
///     assert_eq!(values, [200, 100]);
///     assert_eq!(xiio::time::now() - start, Duration::from_millis(200));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn gather<I, F, T, E>(futs: I) -> Result<Vec<T>, E>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<T, E>>,
{
    let tasks: Vec<Task<T>> =
        TaskGroup::scope(async move |tg| Ok(futs.into_iter().map(|f| tg.add_task(f)).collect()))
            .await?;
    let values = tasks.into_iter().map(|task| task.take());
    Ok(values
        .map(|value| value.expect("a child of a finished group has its value"))
        .collect())
}

/// Like [`gather`], but runs at most `limit` of `futs` at a time: bounded
/// concurrency, as for 1,000 downloads over 10 connections.
///
/// The futures are taken from `futs` in order, as room frees up (an
/// iterator that makes them, such as `(0..1000).map(|i| fetch(i))`, makes
/// each one only when it starts), and no more workers start than there are
/// futures. The values come back in the order of `futs`. The first error
/// cancels the futures that run (their cleanups are awaited), starts no
/// more, and is returned.
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
///     let start = xiio::time::now();
///     let jobs = (0..10).map(|i| async move {
///         xiio::sleep(Duration::from_millis(100)).await;
///         Ok::<_, std::io::Error>(i)
///     });
///     let values = xiio::task::gather_limit(jobs, 3).await?;
///     assert_eq!(values, (0..10).collect::<Vec<_>>());
///     // 10 jobs, 3 at a time: 4 rounds of 100 ms.
///     assert_eq!(xiio::time::now() - start, Duration::from_millis(400));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn gather_limit<I, T, E>(futs: I, limit: usize) -> Result<Vec<T>, E>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    assert!(
        limit > 0,
        "xiio::task::gather_limit needs a limit above zero"
    );
    let queue = RefCell::new(futs.into_iter().enumerate());
    let results: RefCell<Vec<Option<T>>> = RefCell::new(Vec::new());
    TaskGroup::scope(async |tg| {
        // Up to `limit` workers, each starting with a future of its own and
        // taking the next one when it is done.
        for _ in 0..limit {
            let Some(first) = queue.borrow_mut().next() else {
                break;
            };
            let (queue, results) = (&queue, &results);
            tg.add_task(async move {
                let mut next = Some(first);
                while let Some((index, fut)) = next {
                    let value = fut.await?;
                    let mut results = results.borrow_mut();
                    if results.len() <= index {
                        results.resize_with(index + 1, || None);
                    }
                    results[index] = Some(value);
                    drop(results);
                    next = queue.borrow_mut().next();
                }
                Ok(())
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
