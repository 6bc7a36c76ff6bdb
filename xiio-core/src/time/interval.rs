//! `interval`: ticks at a fixed period, as a `Stream`.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::Sleep;

/// Ticks every `period`, starting now: the first [`tick`](Interval::tick)
/// completes at once, the next ones at `start + period`, `start + 2 *
/// period`, ... on the runtime's clock (mock or real). Also a
/// `futures_core::Stream` of the ticks' scheduled instants.
///
/// **Missed ticks are skipped.** A consumer that comes back late (its work
/// took longer than a period) gets the tick it missed at once, and the
/// next one at the next multiple of the period after now: the schedule
/// stays aligned to the start, and no burst of ticks catches up (tokio's
/// `MissedTickBehavior::Skip`).
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::now();
///     let mut ticks = xiio::interval(Duration::from_millis(100));
///     for n in 0..3 {
///         let at = ticks.tick().await;
///         assert_eq!(at - start, Duration::from_millis(100) * n);
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "xiio::interval needs a period above zero"
    );
    Interval {
        period,
        next: crate::now(),
        sleep: None,
    }
}

/// The ticks of [`interval`].
#[derive(Debug)]
#[must_use = "an interval does nothing unless its ticks are awaited"]
pub struct Interval {
    /// Time between ticks.
    period: Duration,
    /// When the next tick is due.
    next: Instant,
    /// The sleep until `next`, once polled.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was due.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// The poll form of [`tick`](Interval::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let due = self.next;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(crate::sleep_until(due)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        let now = crate::now();
        let mut next = due + self.period;
        if next <= now {
            // Late: skip the ticks that were missed, keeping the phase.
            let missed = (now - due).as_nanos() / self.period.as_nanos();
            next = due + self.period * (missed as u32 + 1);
        }
        self.next = next;
        Poll::Ready(due)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}
