//! `next_finished`: the next child of a set to finish, like tokio's
//! `JoinSet::join_next`.

use std::future::poll_fn;
use std::task::Poll;

use super::Task;

/// Waits until one of `tasks` has finished (with a value, failed, or
/// cancelled), takes it out of `tasks` and returns it; `None` once `tasks`
/// is empty. Of tasks that finished together, the first in `tasks` comes
/// first. Take the value with [`Task::take`].
///
/// Each call looks at every task, so this suits sets of up to a few
/// hundred; for more, have the children report into a channel. A task
/// waited for here should not be awaited elsewhere at the same time (a
/// task wakes one waiter).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     xiio::task_group!(|tg| {
///         let mut tasks: Vec<_> = [300, 100, 200]
///             .map(|ms| {
///                 tg.add_task(async move {
///                     xiio::sleep(Duration::from_millis(ms)).await;
///                     Ok(ms)
///                 })
///             })
///             .into();
///         let mut order = Vec::new();
///         while let Some(task) = xiio::next_finished(&mut tasks).await {
///             order.push(task.take().unwrap());
///         }
///         assert_eq!(order, [100, 200, 300]);
///         Ok::<_, std::io::Error>(())
///     })
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub async fn next_finished<T>(tasks: &mut Vec<Task<T>>) -> Option<Task<T>> {
    poll_fn(|cx| {
        if tasks.is_empty() {
            return Poll::Ready(None);
        }
        // Every pending task gets the waker, so any of them wakes us.
        let mut finished = None;
        for (index, task) in tasks.iter().enumerate() {
            if task.poll_finished(cx) && finished.is_none() {
                finished = Some(index);
            }
        }
        match finished {
            Some(index) => Poll::Ready(Some(tasks.remove(index))),
            None => Poll::Pending,
        }
    })
    .await
}
