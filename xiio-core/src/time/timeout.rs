//! `timeout`: cancellation by deadline.

use std::error::Error;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use super::sleep::Sleep;
use crate::task::{self, Orphan, Sink};
use std::rc::Rc;

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

/// Runs `fut` (any `IntoFuture`, such as a
/// [`Condition`](crate::io::Condition)),
/// but cancels it when `duration` has passed: its value, or
/// `Err(TimeoutError)` once it was dropped and its
/// [`try_finally`](crate::task::try_finally) cleanups finished.
///
/// `None` sets no deadline. For the form that does not fail, use `.ok()`:
/// `timeout(d, fut).await.ok()` is `None` when time ran out. The deadline
/// is taken from [`now()`](super::now) when the timeout is first polled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let slow = xiio::sleep(Duration::from_secs(10));
///     let result = xiio::timeout(Duration::from_millis(100), slow).await;
///     assert_eq!(result, Err(xiio::time::TimeoutError));
///     let fast = async { 42 };
///     assert_eq!(xiio::timeout(None, fast).await, Ok(42));
/// });
/// ```
pub fn timeout<F: IntoFuture>(
    duration: impl Into<Option<Duration>>,
    fut: F,
) -> Timeout<F::IntoFuture> {
    Timeout::new(duration.into().map_or(Limit::Never, Limit::After), fut)
}

/// Runs `fut`, but cancels it at `deadline` (`None`: never); see
/// [`timeout`].
pub fn timeout_at<F: IntoFuture>(
    deadline: impl Into<Option<Instant>>,
    fut: F,
) -> Timeout<F::IntoFuture> {
    Timeout::new(deadline.into().map_or(Limit::Never, Limit::At), fut)
}

/// The future of [`timeout`] and [`timeout_at`].
///
/// A timer beside the future, no task group: that is the common case, a
/// future that finishes in time, and it costs one allocation (the boxed
/// future, which keeps `Timeout` small and `Unpin` whatever it wraps) and
/// one timer. Only when the deadline passes is the future cancelled, with
/// a place for the cleanups of its `try_finally`s, which then run here (in
/// a group of their own) before the error is returned.
///
/// # Panics
///
/// When polled again after it returned, or outside `xiio::run` with a
/// deadline.
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F: Future> {
    state: State<F>,
}

// A timeout wraps the many futures that finish in time: keep it small.
const _: () = assert!(std::mem::size_of::<Timeout<std::future::Ready<()>>>() <= 56);

/// When a [`Timeout`] ends its future.
#[derive(Clone, Copy)]
enum Limit {
    /// Never: the future runs to its end.
    Never,
    /// This long after the first poll.
    After(Duration),
    /// At this instant.
    At(Instant),
}

/// Where a [`Timeout`] is.
enum State<F: Future> {
    /// The future runs; the timer is made at the first poll.
    Running {
        fut: Pin<Box<F>>,
        limit: Limit,
        timer: Option<Sleep>,
    },
    /// The deadline passed and the future was cancelled; the cleanups it
    /// left run (dropped, they go to the enclosing group).
    Cleaning(Orphan),
    /// It returned.
    Done,
}

impl<F: Future> Timeout<F> {
    fn new(limit: Limit, fut: impl IntoFuture<IntoFuture = F>) -> Timeout<F> {
        Timeout {
            state: State::Running {
                fut: Box::pin(fut.into_future()),
                limit,
                timer: None,
            },
        }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, TimeoutError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.state;
        if let State::Running { fut, limit, timer } = state {
            if let Poll::Ready(output) = fut.as_mut().poll(cx) {
                *state = State::Done;
                return Poll::Ready(Ok(output));
            }
            let timer = match (timer, *limit) {
                (_, Limit::Never) => return Poll::Pending,
                (Some(timer), _) => timer,
                (timer @ None, Limit::After(d)) => timer.insert(super::sleep(d)),
                (timer @ None, Limit::At(at)) => timer.insert(super::sleep_until(at)),
            };
            if Pin::new(timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            let State::Running { fut, .. } = std::mem::replace(state, State::Done) else {
                unreachable!("matched above")
            };
            // The deadline passed: cancel the future, and run the cleanups
            // it leaves before saying so.
            let sink = Rc::new(Sink::default());
            task::cancel([fut], &sink);
            let (cleanups, panic) = (sink.take_cleanups(), sink.take_panic());
            if cleanups.is_empty() && panic.is_none() {
                return Poll::Ready(Err(TimeoutError));
            }
            *state = State::Cleaning(Box::pin(task::run_cleanups(cleanups, panic)));
        }
        match state {
            State::Cleaning(cleanups) => {
                ready!(cleanups.as_mut().poll(cx));
                *state = State::Done;
                Poll::Ready(Err(TimeoutError))
            }
            _ => panic!("`Timeout` polled after it returned"),
        }
    }
}

impl<F: Future> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Running { .. } => "running",
            State::Cleaning(_) => "cleaning up",
            State::Done => "done",
        };
        f.debug_struct("Timeout").field("state", &state).finish()
    }
}
