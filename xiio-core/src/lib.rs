//! The xiio runtime: a really simple single-threaded async runtime with
//! structured concurrency built in.
//!
//! Users depend on the facade crate `xiio`, which re-exports everything
//! here with the macros and the interop bridges; its documentation has the
//! tour and the guide.
//!
//! # Implementation
//!
//! The modules form layers, each importing only those below it:
//!
//! 1. `reactor`: one `mio::Poll` per runtime, the fd table with each
//!    owned fd's readiness per direction, the timers (a wheel in front of
//!    an ordered set), the waker every other waker ends at, and the clock.
//!    It knows nothing of tasks: it wakes plain `Waker`s. Every
//!    registration holds the reactor it was made in, which is how a leaf
//!    future tells that it was carried to another runtime.
//! 2. [`task`]: groups, child handles, the per-group ready queues and
//!    wakers, cancellation and the cleanups it leaves, the scheduling
//!    policy (poll and operation budgets, seeded order), and the one
//!    thread-local context a running runtime shares with the code it
//!    polls.
//! 3. Leaf futures and system APIs, on the two: [`time`], [`io`], [`net`],
//!    [`process`], [`signal`], [`thread`], [`sync`], and [`fs`] on
//!    [`thread`]'s pool.
//! 4. `rt`: [`run`], [`Builder`], and the same runtime driven by another
//!    executor (`xiio::compat::on_executor`).
//! 5. [`testing`]: the mock clock (the run loop's park strategy) and the
//!    task tree (a tracer the groups report to), plugged into the layers
//!    below through those two hooks. The [`Builder`] methods that ask for
//!    them are defined there too, so the run loop never imports a tool.
#![doc(test(attr(deny(warnings))))]

pub mod fs;
pub mod io;
pub mod net;
pub mod process;
mod reactor;
mod rt;
pub mod signal;
pub mod sync;
pub mod task;
pub mod testing;
pub mod thread;
pub mod time;

pub use rt::{Builder, run};
pub use task::{Task, TaskGroup};
pub use time::{sleep, timeout};

/// The runtime driven from other executors; re-exported and documented as
/// `xiio::compat`.
#[doc(hidden)]
pub mod embed {
    pub use crate::rt::{OnExecutor, OutsideWork, on_executor};
}
