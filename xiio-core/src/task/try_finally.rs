//! `try_finally`: async cleanup that runs even when a task is cancelled.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::task::Poll;

use super::cancel::{self, Orphan, Panic};

/// Runs `body`, then `cleanup`, whether `body` finished, returned an error,
/// panicked, or was cancelled (dropped) at an await point: the Rust form of
/// `try: ... finally: await ...`.
///
/// Returns `body`'s output after `cleanup` finished. If `body` panics, the
/// cleanup runs (and is awaited) before the panic goes on, so a
/// `catch_unwind` around `try_finally` finds the cleanup done; a panic in
/// the cleanup itself goes on at once, and replaces the body's.
///
/// When the task is cancelled, the enclosing [`TaskGroup`](crate::TaskGroup)
/// (or [`timeout`](crate::timeout), or `xiio::run` itself) runs the cleanup
/// to its end before it returns; a cleanup is never cancelled itself. A
/// panic of the body that the cleanup was holding back then goes on from
/// there once the cleanup is done: it is never lost. Since the cleanup may
/// run after the task is gone, it owns what it uses (`'static`): move
/// values or `Rc` clones into it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::time::now();
///     let result = xiio::timeout(
///         Duration::from_millis(100),
///         xiio::task::try_finally(xiio::sleep(Duration::from_secs(10)), async {
///             // Runs although the sleep is cancelled; timeout waits for it.
///             xiio::sleep(Duration::from_millis(50)).await;
///         }),
///     )
///     .await;
///     assert!(result.is_err());
///     assert_eq!(xiio::time::now() - start, Duration::from_millis(150));
/// });
/// ```
///
/// # Why the cleanup cannot borrow
///
/// Children of a group may borrow the caller's locals; a cleanup may not,
/// not even what the group's children may borrow. The cleanup of a
/// cancelled task outlives the task, and may outlive its group too: a
/// group that is itself cancelled (dropped) while a cleanup runs cannot
/// wait in `Drop`, so it hands the cleanup to the group above it, which
/// runs it after the borrowed data may be gone. Here the task that owns
/// `log` is dropped, and with it the inner group, while the cleanup still
/// has 50 ms to go:
///
/// ```compile_fail
/// # use std::time::Duration;
/// xiio::Builder::new().mock_clock(true).run(async {
///     let outer = xiio::timeout(Duration::from_millis(10), async {
///         let log = String::from("log"); // dropped with this future
///         xiio::task_group!(|tg| {
///             tg.add_task(xiio::task::try_finally(xiio::sleep(Duration::from_secs(1)), async {
///                 xiio::sleep(Duration::from_millis(50)).await;
///                 println!("{log}"); // would read `log` after it was dropped
///             }));
///             Ok::<_, ()>(())
///         })
///     });
///     let _ = outer.await; // the cleanup runs here, after `log` is gone
/// });
/// ```
///
/// (Running the cleanup to its end inside the dropping `Drop` instead
/// would block the thread, and so every other task, for as long as the
/// cleanup waits.) Give the cleanup what it uses: move a value in, or
/// share it through an `Rc`:
///
/// ```
/// # use std::rc::Rc;
/// # use std::time::Duration;
/// xiio::Builder::new().mock_clock(true).run(async {
///     let log = Rc::new(std::cell::RefCell::new(Vec::new()));
///     let cleanup_log = log.clone();
///     let _ = xiio::timeout(
///         Duration::from_millis(10),
///         xiio::task::try_finally(xiio::sleep(Duration::from_secs(1)), async move {
///             cleanup_log.borrow_mut().push("cleaned up");
///         }),
///     )
///     .await;
///     assert_eq!(*log.borrow(), ["cleaned up"]);
/// });
/// ```
pub async fn try_finally<F, C>(body: F, cleanup: C) -> F::Output
where
    F: Future,
    C: Future<Output = ()> + 'static,
{
    let mut pending = Pending {
        cleanup: Some(Box::pin(cleanup)),
        panic: None,
    };
    let mut body = pin!(body);
    // A panic of the body is held while the cleanup runs, as Python's
    // `finally` runs before the exception goes on.
    let output = poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Some),
            Err(payload) => {
                pending.panic = Some(payload);
                Poll::Ready(None)
            }
        },
    )
    .await;
    poll_fn(|cx| {
        let cleanup = pending.cleanup.as_mut().expect("cleanup pending");
        match catch_unwind(AssertUnwindSafe(|| cleanup.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                // A cleanup that panicked cannot be polled again, and its
                // panic replaces the body's, as in Python.
                (pending.cleanup, pending.panic) = (None, None);
                resume_unwind(payload)
            }
        }
    })
    .await;
    pending.cleanup = None;
    match (output, pending.panic.take()) {
        (Some(output), _) => output,
        (None, panic) => resume_unwind(panic.expect("the body panicked")),
    }
}

/// What a `try_finally` has not finished: its cleanup, and the body's
/// panic held back meanwhile. Both are passed on if it is dropped.
struct Pending {
    cleanup: Option<Orphan>,
    panic: Option<Panic>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cancel::adopt(cleanup);
        }
        if let Some(payload) = self.panic.take() {
            cancel::adopt_panic(payload);
        }
    }
}
