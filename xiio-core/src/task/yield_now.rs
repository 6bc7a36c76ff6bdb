//! `yield_now`: give the other tasks a turn.

use std::future::poll_fn;
use std::task::Poll;

/// Gives every other ready task one turn before this one goes on: wakes
/// itself and returns `Pending` once.
///
/// A long computation split by `yield_now().await` lets its siblings, fds
/// and timers make progress. (A zero `sleep` is ready at once and does not
/// yield.) It works on any executor.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// let order = xiio::run(async {
///     let turns = Cell::new(Vec::new());
///     xiio::task_group!(|tg| {
///         for name in ["a", "b"] {
///             let turns = &turns;
///             tg.add_task(async move {
///                 for _ in 0..2 {
///                     let mut v = turns.take();
///                     v.push(name);
///                     turns.set(v);
///                     xiio::task::yield_now().await;
///                 }
///             });
///         }
///         Ok::<_, ()>(())
///     })
///     .unwrap();
///     turns.take()
/// });
/// assert_eq!(order, ["a", "b", "a", "b"]);
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
