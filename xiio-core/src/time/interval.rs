//! `interval`: ticks at a fixed period, as a `Stream`.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use super::{Sleep, now, sleep_until};

/// A tick polled at most this late counts as on time: a real clock always
/// polls a little after the deadline, and without this margin
/// [`MissedTickBehavior::Delay`] would add that lateness to every period.
/// Tokio's margin, so that code ported from tokio ticks the same.
const ON_TIME: Duration = Duration::from_millis(5);

/// Ticks every `period`, starting now: the first [`tick`](Interval::tick)
/// completes at once, the next ones at `start + period`, `start + 2 *
/// period`, ... on the runtime's clock (mock or real). Also a
/// `futures_core::Stream` of the ticks' scheduled instants.
///
/// A consumer that comes back late skips the ticks it missed: see
/// [`MissedTickBehavior`] for why that is the default, and for the others.
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
    interval_at(now(), period)
}

/// Ticks every `period`, the first tick at `start` (at once if it is
/// past), as tokio's `interval_at`; otherwise as [`interval`].
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
///     let start = xiio::time::now() + Duration::from_secs(1);
///     let mut ticks = xiio::time::interval_at(start, Duration::from_millis(100));
///     assert_eq!(ticks.tick().await, start);
///     assert_eq!(ticks.tick().await, start + Duration::from_millis(100));
///     assert_eq!(xiio::time::now(), start + Duration::from_millis(100));
/// });
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "xiio::time::interval needs a period above zero"
    );
    Interval {
        period,
        missed: MissedTickBehavior::default(),
        sleep: sleep_until(start),
    }
}

/// What an [`Interval`] does when its consumer comes back more than 5 ms
/// after a tick was due, in tokio's names and meanings.
///
/// Take a 100 ms interval started at 0 whose consumer, after the tick at
/// 0, comes back at 350 ms. Each behaviour first returns the tick due at
/// 100, at once; then:
///
/// | behaviour | the next ticks are due at | they complete at |
/// | --- | --- | --- |
/// | `Skip` (xiio's default) | 400, 500, ... | 400, 500, ... |
/// | `Burst` (tokio's default) | 200, 300, 400, 500, ... | 350, 350, 400, 500, ... |
/// | `Delay` | 450, 550, ... | 450, 550, ... |
///
/// **Why xiio's default differs from tokio's.** The common interval is a
/// heartbeat, a poll or a refresh: work that should happen about once a
/// period. When such a loop was held up (a slow request, a long poll), a
/// burst of catch-up ticks does that work several times in a row for no
/// gain, just when the program is already behind. `Skip` does it once and
/// keeps the schedule aligned to the start. Code that counts ticks (a
/// rate, a tick per frame) wants `Burst`; set it with
/// [`set_missed_tick_behavior`](Interval::set_missed_tick_behavior).
///
/// A lateness of 5 ms or less counts as on time (the next tick is one
/// period after the one returned) under every behaviour, as in tokio: a
/// real clock always polls a little late, and `Delay` would otherwise
/// drift by that much every tick.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use xiio::time::MissedTickBehavior;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let ms = Duration::from_millis;
///     let start = xiio::time::now();
///     let mut ticks = xiio::time::interval(ms(100));
///     ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
///     ticks.tick().await;
///     xiio::sleep(ms(350)).await; // late: missed the ticks at 100, 200, 300
///     for due in [100, 200, 300] {
///         assert_eq!(ticks.tick().await - start, ms(due));
///     }
///     assert_eq!(xiio::time::now() - start, ms(350), "a burst, at once");
///     assert_eq!(ticks.tick().await - start, ms(400));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MissedTickBehavior {
    /// Keeps the schedule: the missed ticks come at once, one per call,
    /// until caught up; the ticks returned are those of the schedule.
    Burst,
    /// Starts the schedule anew: the next tick is due one period after the
    /// late one was taken.
    Delay,
    /// Skips the missed ticks: the next tick is the first of the schedule
    /// (`start` plus a multiple of the period) after now.
    #[default]
    Skip,
}

/// The ticks of [`interval`] and [`interval_at`].
#[derive(Debug)]
#[must_use = "an interval does nothing unless its ticks are awaited"]
pub struct Interval {
    /// Time between ticks.
    period: Duration,
    /// What a late consumer gets.
    missed: MissedTickBehavior,
    /// The sleep until the next tick; its deadline is that tick's (`None`
    /// once beyond the clock's range: the interval never ticks again).
    sleep: Sleep,
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

    /// The poll form of [`tick`](Interval::tick): `Ready` with the instant
    /// the tick was due, or `Pending` and `cx` is woken at the next tick.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let due = self
            .sleep
            .deadline()
            .expect("a sleep that ended had a deadline");
        let now = now();
        let late = now.saturating_duration_since(due);
        let next = match self.missed {
            MissedTickBehavior::Delay if late > ON_TIME => now.checked_add(self.period),
            MissedTickBehavior::Skip if late > ON_TIME => {
                // The first tick of the schedule after now: a stall of any
                // length costs one division, and the phase is kept.
                let into = late.as_nanos() % self.period.as_nanos(); // < period
                let into =
                    Duration::new((into / 1_000_000_000) as u64, (into % 1_000_000_000) as u32);
                now.checked_add(self.period - into)
            }
            // On time, or `Burst`: the schedule goes on.
            _ => due.checked_add(self.period),
        };
        self.sleep.set_deadline(next);
        Poll::Ready(due)
    }

    /// Makes the next tick due one period from now.
    pub fn reset(&mut self) {
        self.reset_after(self.period);
    }

    /// Makes the next tick due now: the next [`tick`](Interval::tick)
    /// completes at once.
    pub fn reset_immediately(&mut self) {
        self.reset_after(Duration::ZERO);
    }

    /// Makes the next tick due `after` from now; the ones after follow at
    /// the period.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// xiio::Builder::new().mock_clock(true).run(async {
    ///     let ms = Duration::from_millis;
    ///     let start = xiio::time::now();
    ///     let mut ticks = xiio::time::interval(ms(100));
    ///     ticks.tick().await;
    ///     ticks.reset_after(ms(30));
    ///     assert_eq!(ticks.tick().await - start, ms(30));
    ///     assert_eq!(ticks.tick().await - start, ms(130));
    /// });
    /// ```
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep.set_deadline(now().checked_add(after));
    }

    /// Makes the next tick due at `deadline`; the ones after follow at the
    /// period.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep.set_deadline(Some(deadline));
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What it does when a tick is missed.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets what it does when a tick is missed, from the next tick on.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}
