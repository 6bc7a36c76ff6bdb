//! The run loop and its reactor: `xiio::run`, the `Builder`, the root
//! waker, the clock, and the one `mio::Poll` that every wait goes through.
//!
//! - `run.rs`: [`run`] and [`Builder`]; the per-thread [`Runtime`] and the
//!   loop that polls the root and parks in the reactor.
//! - `notifier.rs`: the root waker (a flag, plus an eventfd write when the
//!   thread sleeps in `epoll_wait`).
//! - `clock.rs`: real or mock time.
//! - `reactor.rs`: fd readiness (one entry per fd, found by fd number) and
//!   timers (ordered by deadline).
//! - `registration.rs`: RAII claims on the reactor (an fd wait, a timer).

mod clock;
mod notifier;
pub(crate) mod reactor;
pub(crate) mod registration;
mod run;

pub use run::{Builder, now, registered_fds, run};
pub(crate) use run::{OutsideWork, Runtime, assert_inside, current, take_budget, try_with, with};
