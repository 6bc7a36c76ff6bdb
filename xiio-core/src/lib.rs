//! The xiio runtime: a really simple single-threaded async runtime with
//! structured concurrency built in.
//!
//! Users depend on the facade crate `xiio`, which re-exports everything
//! here; see its documentation for a tour.
//!
//! # Implementation
//!
//! The crate is laid out by concept, one folder each (the public paths are
//! flat: `xiio::Async`, `xiio::TaskGroup`, and `xiio::net::*`):
//!
//! - `runtime/`: [`run`] drives one root future on the current thread. The
//!   root is a [`TaskGroup`]; its waker (`Notifier`) sets a flag and, if the
//!   thread sleeps in `epoll_wait`, writes to an eventfd (`mio::Waker`). The
//!   reactor owns one `mio::Poll`, an entry per fd found by fd number (the
//!   epoll token), and the timers (a timing wheel, and an ordered set by
//!   `(deadline, id)` for the current millisecond). No step
//!   scans every waiter, so a wake-up costs the same with 10,000 idle fds
//!   and timers as with none. A mock clock jumps to the next deadline when
//!   nothing else can happen; see [`Builder::mock_clock`]. With a seed
//!   ([`Builder::seed`]) every group polls its woken children in a
//!   reproducible pseudo-random order. The same runtime can also be driven
//!   by another executor's polls (`xiio::compat::on_executor`), with a
//!   thread that waits in the reactor for it.
//! - `fd/`: leaf futures on fds. A [`Condition`] (and [`read()`],
//!   [`write()`] on borrowed fds) registers a *temporary* wait through an
//!   RAII handle, removed when the future is dropped; the free functions
//!   never change an fd's mode (per-call means instead: `MSG_DONTWAIT`,
//!   `RWF_NOWAIT`, a second open file description). An [`Async`] owns its
//!   fd: non-blocking once, registered once (edge-triggered, both
//!   directions) for its whole life, with its readiness kept per direction
//!   and cleared when an operation says `WouldBlock`.
//! - `net/`: TCP, UDP and Unix sockets on [`Async`], happy-eyeballs
//!   connect, and the futures-io / Stream impls.
//! - `task/`: a [`TaskGroup`] keeps its children in a slab; each child has
//!   its own waker that queues the child's key, so the group polls exactly
//!   the children that were woken. Cancellation is a drop; [`try_finally`]
//!   hands a cleanup that was not finished to the innermost group, which
//!   runs it as a shielded child. [`gather`], [`gather_limit`], [`race`]
//!   and the `join!`/`select!` macros are small groups.
//! - `time/`: [`sleep`] (a timer in the reactor) and [`timeout`] (a timer
//!   beside the wrapped future).
//! - `sys/`: the thread pool, child processes on pidfds, signals through
//!   signal-hook.
//!
//! The facade crate's documentation (`xiio`, section "Performance design")
//! says what a child, a timer and a wake-up cost, and why.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod fd;
pub mod net;
mod runtime;
mod sys;
mod task;
mod time;

pub use fd::{Async, Condition, Fired, Interest, Wait, read, write, write_all};
pub use runtime::{Builder, now, run, task_tree};
pub use sys::{
    ProcessError, Signals, ThreadPool, check_status, ctrl_c, in_thread, run_process, signal,
    subscribe_signals,
};
pub use task::{
    OwnedPromiseWait, Promise, PromiseWait, Task, TaskGroup, TaskOutput, gather, gather_limit,
    next_finished, race, try_finally, yield_now,
};
pub use time::{
    Interval, Sleep, Timeout, TimeoutError, interval, sleep, sleep_until, timeout, timeout_at,
};

/// The runtime driven from other executors; re-exported and documented as
/// `xiio::compat`.
#[doc(hidden)]
pub mod embed {
    pub use crate::runtime::{OnExecutor, OnThread, on_executor, on_thread};
}

#[doc(hidden)]
pub mod __private {
    //! Introspection for xiio's own tests; not part of the API.
    pub use crate::runtime::{registered_fds, registered_timers};
}
