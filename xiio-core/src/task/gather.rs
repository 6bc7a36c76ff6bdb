//! `gather`: run futures concurrently and collect their values in order.

use std::future::Future;

use crate::{Task, TaskGroup};

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
///     let start = xiio::now();
///     let values = xiio::gather([200, 100].map(|ms| async move {
///         xiio::sleep(Duration::from_millis(ms)).await;
///         Ok::<_, std::io::Error>(ms)
///     }))
///     .await?;
///     assert_eq!(values, [200, 100]);
///     assert_eq!(xiio::now() - start, Duration::from_millis(200));
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
    Ok(tasks
        .into_iter()
        .map(|task| {
            task.take()
                .expect("a child of a finished group has its value")
        })
        .collect())
}
