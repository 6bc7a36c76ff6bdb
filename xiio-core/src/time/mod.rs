//! Time: sleeping until a deadline, and cancelling by deadline.
//!
//! - `sleep.rs`: [`sleep`], [`sleep_until`] and their future [`Sleep`], a
//!   timer in the reactor.
//! - `interval.rs`: [`interval`], ticks at a fixed period.
//! - `timeout.rs`: [`timeout`], [`timeout_at`]: a future and a timer side
//!   by side; the cleanups of a future cancelled by its deadline are
//!   awaited before the error is returned.

mod interval;
mod sleep;
mod timeout;

pub use interval::{Interval, interval};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Timeout, TimeoutError, timeout, timeout_at};
