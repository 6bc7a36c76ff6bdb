//! Time: the runtime's clock, sleeping until a deadline, ticking at a
//! period, and cancelling by deadline.
//!
//! [`sleep`] and [`timeout`] are also at the crate root
//! (`xiio::sleep`, `xiio::timeout`): nearly every program uses them.
//!
//! - `sleep.rs`: [`sleep`], [`sleep_until`] and their future [`Sleep`], a
//!   timer in the reactor.
//! - `interval.rs`: [`interval`], [`interval_at`]: ticks at a fixed
//!   period, on a [`Sleep`] that each tick resets.
//! - `timeout.rs`: [`timeout`], [`timeout_at`]: a future and a timer side
//!   by side; the cleanups of a future cancelled by its deadline are
//!   awaited before the error is returned.

mod interval;
mod sleep;
mod timeout;

use std::time::Instant;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Timeout, TimeoutError, timeout, timeout_at};

/// The current time: the runtime's clock (mock or real) inside `xiio::run`,
/// the real clock outside.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::time::now();
///     xiio::sleep(Duration::from_millis(100)).await;
///     assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
/// });
/// ```
pub fn now() -> Instant {
    match crate::task::context::try_reactor() {
        Some(reactor) => reactor.clock.now(),
        None => Instant::now(),
    }
}
