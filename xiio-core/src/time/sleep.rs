//! Sleeping: `sleep`, `sleep_until`, and their future `Sleep`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime;
use crate::runtime::registration::Timer;

/// Waits until `duration` has passed on the runtime's clock.
///
/// The deadline is taken when `sleep` is called, from [`now()`](crate::now).
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
        deadline: crate::now().checked_add(duration),
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
///     let deadline = xiio::now() + Duration::from_secs(5);
///     xiio::sleep_until(deadline).await;
///     assert_eq!(xiio::now(), deadline);
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
/// # Panics
///
/// When polled outside `xiio::run`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    /// When it is due; `None` for never.
    deadline: Option<Instant>,
    /// Its timer in the reactor, once polled.
    timer: Option<Timer>,
}

impl Sleep {
    /// When this sleep ends (`None`: never).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        runtime::with("xiio::sleep", |rt| {
            let Some(deadline) = this.deadline else {
                return Poll::Pending;
            };
            // A fired timer means the deadline passed, without reading the
            // clock (the usual case: the poll after the timer woke us).
            let fired = this.timer.as_ref().is_some_and(|t| t.fired(rt));
            if fired || rt.clock.now() >= deadline {
                this.timer = None;
                return Poll::Ready(());
            }
            match &this.timer {
                Some(timer) => timer.set_waker(rt, cx.waker()),
                None => this.timer = Some(Timer::new(rt, deadline, cx.waker())),
            }
            Poll::Pending
        })
    }
}
