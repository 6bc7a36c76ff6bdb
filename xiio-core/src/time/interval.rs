//! `interval`: ticks at a fixed period, as a `Stream`.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{Sleep, now, sleep_until};

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
/// A period too long for the clock (`Duration::MAX`) makes an interval
/// that ticks once, at once, and then never again.
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
///     let start = xiio::time::now();
///     let mut ticks = xiio::time::interval(Duration::from_millis(100));
///     for n in 0..3 {
///         let at = ticks.tick().await;
///         assert_eq!(at - start, Duration::from_millis(100) * n);
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "xiio::time::interval needs a period above zero"
    );
    Interval {
        period,
        next: Some(now()),
        sleep: None,
    }
}

/// The ticks of [`interval`].
#[derive(Debug)]
#[must_use = "an interval does nothing unless its ticks are awaited"]
pub struct Interval {
    /// Time between ticks.
    period: Duration,
    /// When the next tick is due; `None` once beyond the clock's range.
    next: Option<Instant>,
    /// The sleep until `next`, once polled.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was due.
    ///
    /// Carried from one `xiio::run` to the next, an interval keeps its
    /// schedule on the new runtime's clock.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// The poll form of [`tick`](Interval::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let Some(due) = self.next else {
            // Beyond the clock's range: never (a sleep that never ends
            // says so to the task tree).
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(super::sleep(Duration::MAX)));
            return sleep
                .as_mut()
                .poll(cx)
                .map(|()| unreachable!("sleeps for ever"));
        };
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(sleep_until(due)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        // The first multiple of the period after `due` that is after now:
        // late ticks are skipped, the phase is kept, and a stall of any
        // length costs one division.
        let late = now().saturating_duration_since(due).as_nanos();
        let periods = late / self.period.as_nanos() + 1;
        let offset = self.period.as_nanos().saturating_mul(periods);
        let secs = u64::try_from(offset / 1_000_000_000).unwrap_or(u64::MAX);
        let offset = Duration::new(secs, (offset % 1_000_000_000) as u32);
        self.next = due.checked_add(offset);
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
