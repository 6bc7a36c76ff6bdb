//! `try_finally`: async cleanup that runs even when a task is cancelled.
//!
//! Cancellation in xiio is a drop, and `Drop` cannot await. So a
//! `try_finally` that is dropped before its cleanup finished hands the
//! cleanup future to the innermost task group that is polling or dropping
//! it at that moment (the *sink* below). The group runs such cleanups as
//! shielded children: they are not cancelled, and the group does not return
//! before they finish. Because the cleanup outlives the task it came from,
//! it must own its data (`'static`), like anything that outlives a poll.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::Poll;

/// A cleanup future handed over by a dropped [`try_finally`].
pub(crate) type Orphan = Pin<Box<dyn Future<Output = ()>>>;

/// Where a group collects orphaned cleanups until it runs them.
pub(crate) type Sink = Rc<RefCell<Vec<Orphan>>>;

thread_local! {
    /// The sinks of the groups being polled or dropped, innermost last.
    static SINKS: RefCell<Vec<Sink>> = const { RefCell::new(Vec::new()) };
}

/// Makes `sink` the innermost sink until the guard is dropped.
pub(crate) fn collect_into(sink: &Sink) -> SinkGuard {
    SINKS.with(|sinks| sinks.borrow_mut().push(sink.clone()));
    SinkGuard(())
}

/// Restores the previous sink when dropped (also while unwinding).
pub(crate) struct SinkGuard(());

impl Drop for SinkGuard {
    fn drop(&mut self) {
        SINKS.with(|sinks| sinks.borrow_mut().pop());
    }
}

/// Hands `cleanup` to the innermost sink. Outside any group (a future
/// dropped outside `xiio::run`) there is nobody to run it, and it is dropped.
pub(crate) fn adopt(cleanup: Orphan) {
    let sink = SINKS.with(|sinks| sinks.borrow().last().cloned());
    if let Some(sink) = sink {
        sink.borrow_mut().push(cleanup);
    }
}

/// Runs `body`, then `cleanup`, whether `body` finished, returned an error,
/// panicked, or was cancelled (dropped) at an await point: the Rust form of
/// `try: ... finally: await ...`.
///
/// Returns `body`'s output after `cleanup` finished. If `body` panics, the
/// cleanup runs (and is awaited) before the panic goes on, so a
/// `catch_unwind` around `try_finally` finds the cleanup done; a panic in
/// the cleanup itself goes on at once, and replaces the body's. When the task is
/// cancelled, the enclosing [`TaskGroup`](crate::TaskGroup) (or
/// [`timeout`](crate::timeout), or `xiio::run` itself) runs the cleanup to
/// its end before it returns; a cleanup is never cancelled itself. Since it
/// may run after the task is gone, `cleanup` owns what it uses (`'static`):
/// move values or `Rc` clones into it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::now();
///     let result = xiio::timeout(
///         Duration::from_millis(100),
///         xiio::try_finally(xiio::sleep(Duration::from_secs(10)), async {
///             // Runs although the sleep is cancelled; timeout waits for it.
///             xiio::sleep(Duration::from_millis(50)).await;
///         }),
///     )
///     .await;
///     assert!(result.is_err());
///     assert_eq!(xiio::now() - start, Duration::from_millis(150));
/// });
/// ```
pub async fn try_finally<F, C>(body: F, cleanup: C) -> F::Output
where
    F: Future,
    C: Future<Output = ()> + 'static,
{
    let mut guard = Pending(Some(Box::pin(cleanup)));
    let mut body = pin!(body);
    // A panic of the body is held while the cleanup runs, as Python's
    // `finally` runs before the exception goes on.
    let output = poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        },
    )
    .await;
    poll_fn(|cx| {
        let cleanup = guard.0.as_mut().expect("cleanup pending");
        match catch_unwind(AssertUnwindSafe(|| cleanup.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                // A cleanup that panicked cannot be polled again: it is
                // not handed to a group, its panic goes on (replacing a
                // panic of the body, as in Python).
                guard.0 = None;
                resume_unwind(payload)
            }
        }
    })
    .await;
    guard.0 = None;
    match output {
        Ok(output) => output,
        Err(payload) => resume_unwind(payload),
    }
}

/// A cleanup not finished yet: adopted by the innermost group if dropped.
struct Pending(Option<Orphan>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(cleanup) = self.0.take() {
            adopt(cleanup);
        }
    }
}
