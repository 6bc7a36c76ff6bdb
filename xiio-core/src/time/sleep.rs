//! Sleeping: `sleep`, `sleep_until`, and their future `Sleep`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::reactor::Timer;
use crate::task::context;
use crate::task::trace::Wait;

/// Waits until `duration` has passed on the runtime's clock.
///
/// The deadline is taken when `sleep` is called, from [`now()`](super::now).
/// A duration too large to add to the clock sleeps forever.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::run(async {
///     xiio::sleep(Duration::from_millis(10)).await;
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        deadline: super::now().checked_add(duration),
        timer: None,
    }
}

/// Waits until the runtime's clock reaches `deadline`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let deadline = xiio::time::now() + Duration::from_secs(5);
///     xiio::time::sleep_until(deadline).await;
///     assert_eq!(xiio::time::now(), deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline: Some(deadline),
        timer: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// It owns nothing but its deadline until first polled; then it holds a
/// timer in the runtime that polled it. Polled by another runtime later
/// (carried from one `xiio::run` to the next), it makes a new timer there
/// for the same deadline.
///
/// # Panics
///
/// When polled outside `xiio::run`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// When it is due; `None` for never.
    deadline: Option<Instant>,
    /// Its timer, once polled.
    timer: Option<Timer>,
}

// A sleep is in every timeout and many children: keep it small.
const _: () = assert!(std::mem::size_of::<Sleep>() <= 24);

impl Sleep {
    /// When this sleep ends (`None`: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// True once the runtime's clock ([`now()`](super::now)) has reached
    /// the deadline.
    pub fn is_elapsed(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| super::now() >= deadline)
    }

    /// Moves the deadline to `deadline`, earlier or later, as tokio's
    /// `Sleep::reset`: the next poll waits for the new one, also after the
    /// sleep ended. A timer still pending moves in the reactor and keeps
    /// its waker, so the waiting task is woken at the new deadline even if
    /// it does not poll again first.
    ///
    /// `Sleep` is `Unpin`: with a sleep on the stack, `Pin::new(&mut
    /// sleep).reset(..)`; pinned with `pin!`, `sleep.as_mut().reset(..)`.
    ///
    /// # Examples
    ///
    /// A debounce: it fires 50 ms after the last event.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::time::Duration;
    ///
    /// xiio::Builder::new().mock_clock(true).run(async {
    ///     let start = xiio::time::now();
    ///     let quiet = Duration::from_millis(50);
    ///     let mut sleep = pin!(xiio::sleep(quiet));
    ///     for _event in 0..3 {
    ///         xiio::sleep(Duration::from_millis(20)).await;
    ///         sleep.as_mut().reset(xiio::time::now() + quiet);
    ///     }
    ///     sleep.await;
    ///     assert_eq!(xiio::time::now() - start, Duration::from_millis(110));
    /// });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.get_mut().set_deadline(Some(deadline));
    }

    /// Moves the deadline (`None`: never); see [`reset`](Sleep::reset).
    pub(super) fn set_deadline(&mut self, deadline: Option<Instant>) {
        let old = std::mem::replace(&mut self.deadline, deadline);
        // A fired timer, or one that should never fire, is dropped: the
        // next poll arms one if needed (in the slot just freed). (A timer
        // exists only with a deadline.)
        let moved = match (old, deadline, self.timer.as_mut()) {
            (Some(old), Some(new), Some(timer)) => timer.reset(old, new),
            _ => false,
        };
        if !moved {
            self.timer = None;
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let reactor = context::reactor();
        let Some(deadline) = this.deadline else {
            context::trace_wait(|| Wait::Never);
            return Poll::Pending;
        };
        match &this.timer {
            // A fired timer means the deadline passed, without reading the
            // clock (the usual case: the poll after the timer woke us).
            Some(timer) if timer.is_in(&reactor) => {
                if timer.fired(&reactor, deadline, cx.waker()) {
                    this.timer = None;
                    return Poll::Ready(());
                }
            }
            // Not polled yet, or carried over from another runtime.
            _ => this.timer = None,
        }
        if reactor.clock.now() >= deadline {
            this.timer = None;
            return Poll::Ready(());
        }
        if this.timer.is_none() {
            this.timer = Some(Timer::new(&reactor, deadline, cx.waker()));
        }
        context::trace_wait(|| Wait::Timer(deadline));
        Poll::Pending
    }
}
