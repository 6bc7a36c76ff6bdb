//! `timeout`: cancellation by deadline.

use std::error::Error;
use std::fmt;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use crate::TaskGroup;

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
    // A group of two: the future as the body, and a timer child that fails
    // the group at the deadline, which cancels the body.
    TaskGroup::scope(async move |tg| {
        let timer = tg.add_task(async move {
            crate::sleep_until(deadline).await;
            Err::<(), _>(TimeoutError)
        });
        let output = fut.await;
        timer.cancel();
        Ok(output)
    })
    .await
}
