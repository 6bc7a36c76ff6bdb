//! `timeout`: cancellation by deadline.

use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::task::try_finally::{self, Orphan, Sink};

/// The error of a [`timeout`] whose deadline passed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeoutError;

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for TimeoutError {}

impl From<TimeoutError> for std::io::Error {
    fn from(e: TimeoutError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `fut` (any `IntoFuture`, such as a [`Condition`](crate::Condition)),
/// but cancels it when `duration` has passed: its value, or
/// `Err(TimeoutError)` once it was dropped and its
/// [`try_finally`](crate::try_finally) cleanups finished.
///
/// `None` sets no deadline. For the form that does not fail, use `.ok()`:
/// `timeout(d, fut).await.ok()` is `None` when time ran out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let slow = xiio::sleep(Duration::from_secs(10));
///     assert_eq!(xiio::timeout(Duration::from_millis(100), slow).await, Err(xiio::TimeoutError));
///     let fast = async { 42 };
///     assert_eq!(xiio::timeout(None, fast).await, Ok(42));
/// });
/// ```
pub async fn timeout<F: IntoFuture>(
    duration: impl Into<Option<Duration>>,
    fut: F,
) -> Result<F::Output, TimeoutError> {
    let deadline = duration.into().and_then(|d| crate::now().checked_add(d));
    timeout_at(deadline, fut).await
}

/// Runs `fut`, but cancels it at `deadline` (`None`: never); see
/// [`timeout`].
pub async fn timeout_at<F: IntoFuture>(
    deadline: impl Into<Option<Instant>>,
    fut: F,
) -> Result<F::Output, TimeoutError> {
    let fut = fut.into_future();
    let Some(deadline) = deadline.into() else {
        return Ok(fut.await);
    };
    // A timer beside the future, no task group: that is the common case,
    // a future that finishes in time. Only when the deadline passes does
    // the future need dropping with a place for the cleanups of its
    // `try_finally`s, which are then awaited here.
    let mut inner = Some(Box::pin(fut));
    let mut timer = crate::sleep_until(deadline);
    let output = poll_fn(|cx| {
        let fut = inner.as_mut().expect("polled until done");
        if let Poll::Ready(output) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        Pin::new(&mut timer).poll(cx).map(|()| None)
    })
    .await;
    if let Some(output) = output {
        return Ok(output);
    }
    let sink = Sink::default();
    {
        let _collect = try_finally::collect_into(&sink);
        drop(inner);
    }
    let cleanups = std::mem::take(&mut *sink.borrow_mut());
    if !cleanups.is_empty() {
        Cleanups(cleanups.into_iter().map(Some).collect())
            .run()
            .await;
    }
    Err(TimeoutError)
}

/// The cleanups of a future cancelled by its deadline, awaited together.
/// Dropped before they finished (the timeout itself cancelled), it hands
/// them to the enclosing group, as a dropped `try_finally` would.
struct Cleanups(Vec<Option<Orphan>>);

impl Cleanups {
    /// Polls every cleanup until all are done; a panic in one is resumed
    /// once the others finished.
    async fn run(mut self) {
        let mut panic = None;
        poll_fn(|cx| {
            let mut pending = false;
            for slot in &mut self.0 {
                let Some(cleanup) = slot else {
                    continue;
                };
                match catch_unwind(AssertUnwindSafe(|| cleanup.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => pending = true,
                    Ok(Poll::Ready(())) => *slot = None,
                    Err(payload) => {
                        *slot = None;
                        panic.get_or_insert(payload);
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }
}

impl Drop for Cleanups {
    fn drop(&mut self) {
        for cleanup in self.0.drain(..).flatten() {
            try_finally::adopt(cleanup);
        }
    }
}
