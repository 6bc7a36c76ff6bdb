//! The run loop and its reactor: `xiio::run`, the `Builder`, the root
//! waker, the clock, and the one `mio::Poll` that every wait goes through.
//!
//! - `run.rs`: [`run`] and [`Builder`]; the per-thread [`Runtime`] and the
//!   loop that polls the root and parks in the reactor.
//! - `notifier.rs`: the root waker (a flag, plus an eventfd write when the
//!   thread sleeps in `epoll_wait`).
//! - `clock.rs`: real or mock time.
//! - `reactor.rs`: fd readiness (one entry per fd, found by fd number) and
//!   the timers.
//! - `timers.rs`: a hierarchical wheel (O(1) to arm and cancel) and an
//!   ordered set for the current millisecond (exact deadlines and order).
//! - `registration.rs`: RAII claims on the reactor (an fd wait, a timer).
//! - `foreign.rs`: [`on_executor`], the same runtime driven by another
//!   executor's polls, with a thread that waits in the reactor for it.
//! - `on_thread.rs`: [`on_thread`], an xiio future on a thread of its own,
//!   awaited from any executor.

mod clock;
mod foreign;
mod notifier;
mod on_thread;
pub(crate) mod reactor;
pub(crate) mod registration;
mod run;
mod timers;

pub use foreign::{OnExecutor, on_executor};
pub use on_thread::{OnThread, on_thread};
pub use run::{Builder, now, registered_fds, registered_timers, run, task_tree};
pub(crate) use run::{
    OutsideWork, Runtime, assert_inside, current, shuffle, take_budget, try_with, with,
};
