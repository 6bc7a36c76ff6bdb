//! The xiio runtime: a really simple single-threaded async runtime with
//! structured concurrency built in.
//!
//! Users depend on the facade crate `xiio`, which re-exports everything
//! here; see its documentation for a tour.
//!
//! # Implementation
//!
//! - [`run`] drives one root future on the current thread. The root is a
//!   [`TaskGroup`]; its waker (`Notifier`) sets a flag and, if the thread
//!   sleeps in `epoll_wait`, writes to an eventfd (`mio::Waker`).
//! - The reactor (`reactor.rs`) owns one `mio::Poll` and a timer map ordered
//!   by `(deadline, id)`. Fds are registered only while a task waits on them,
//!   and found by fd number when an event comes; timers are found by order.
//!   No step scans every waiter, so a wake-up costs the same with 10,000 idle
//!   fds and timers as with none.
//! - Leaf futures ([`Condition`], [`sleep`], [`read()`], [`write()`]) register
//!   with the reactor through RAII handles (`registration.rs`): dropping a
//!   future (cancelling it) removes its registrations.
//! - A [`TaskGroup`] keeps its children in a slab; each child has its own
//!   waker that queues the child's key (`ready_queue.rs`), so the group polls
//!   exactly the children that were woken.
//! - Cancellation is a drop. [`try_finally`] hands a cleanup that was not
//!   finished to the innermost group, which runs it as a shielded child.
//! - A mock clock (`clock.rs`) jumps to the next deadline when nothing else
//!   can happen; see [`Builder::mock_clock`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod condition;
mod gather;
mod interest;
mod io;
mod notifier;
mod process;
mod promise;
mod reactor;
mod ready_queue;
mod registration;
mod runtime;
mod signals;
mod task;
mod task_group;
mod thread_pool;
mod time;
mod timeout;
mod try_finally;
mod yield_now;

pub use condition::{Condition, Fired, Wait};
pub use gather::gather;
pub use interest::Interest;
pub use io::{read, write, write_all};
pub use process::{ProcessError, check_status, run_process};
pub use promise::{Promise, PromiseWait};
pub use runtime::{Builder, now, run};
pub use signals::{Signals, signal, subscribe_signals};
pub use task::Task;
pub use task_group::{TaskGroup, TaskOutput};
pub use thread_pool::{ThreadPool, in_thread};
pub use time::{Sleep, sleep, sleep_until};
pub use timeout::{TimeoutError, timeout, timeout_at};
pub use try_finally::try_finally;
pub use yield_now::yield_now;
