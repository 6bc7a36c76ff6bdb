//! xiio: a really simple single-threaded async runtime with structured
//! concurrency built in.
//!
//! - [`run`] drives any `std::future::Future` on the current thread;
//!   [`#[xiio::main]`](main) and [`#[xiio::test]`](test) wrap it, and
//!   [`Builder::mock_clock`] runs it on a clock that jumps, for exact timing
//!   tests.
//! - Leaf futures wait on a [`Condition`]: fds ready ([`read()`], [`write()`],
//!   [`write_all`]) or a deadline ([`sleep`], [`sleep_until`], [`now`]).
//! - Concurrency is always scoped: a [`TaskGroup`] (written
//!   [`task_group!`]) owns its children, cancels them all on the first
//!   error, and waits for their [`try_finally`] cleanups. [`gather`] and
//!   [`timeout`] are built on it.
//! - [`net`] has TCP, UDP and Unix sockets (happy-eyeballs connect
//!   included), and [`Async`] wraps any other fd you own: non-blocking
//!   once, registered with the reactor once.
//! - [`Promise`] hands a value from one task to any number of others.
//! - [`compat`] connects xiio with `futures-core`, `futures-io` and other
//!   executors.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! #[xiio::main(mock_clock)]
//! async fn main() -> Result<(), String> {
//!     let start = xiio::now();
//!     let name = String::from("xiio");
//!     let (len, slow) = xiio::task_group!(|tg| {
//!         // Children may borrow locals such as `name`.
//!         let len = tg.add_task(async {
//!             xiio::sleep(Duration::from_millis(100)).await;
//!             Ok(name.len())
//!         });
//!         // timeout cancels a future by deadline; `.ok()` turns the
//!         // error into `None` so it does not fail the group.
//!         let slow = tg.add_task(async {
//!             let sleep = xiio::sleep(Duration::from_secs(60));
//!             Ok(xiio::timeout(Duration::from_millis(50), sleep).await.ok())
//!         });
//!         Ok::<_, String>((len, slow))
//!     })?;
//!     assert_eq!(len.take(), Some(4));
//!     assert_eq!(slow.take(), Some(None));
//!     // The two children ran concurrently, on the mock clock.
//!     assert_eq!(xiio::now() - start, Duration::from_millis(100));
//!     Ok(())
//! }
//! ```
//!
//! # Macros
//!
//! - [`#[xiio::main]`](main) turns `async fn main` into a `fn main` that
//!   calls [`run`].
//! - [`#[xiio::test]`](test) does the same for a test; `#[xiio::test(mock_clock)]`
//!   runs it on the mock clock.
//! - [`task_group!`]`(|tg| { ... })` is [`TaskGroup::scope`] plus `.await`,
//!   the Rust form of Python's `async with TaskGroup() as tg:`.
//! - [`join!`]`(a, b, c)` runs futures of different types in one group:
//!   `Result<(A, B, C), E>`, the first error cancelling the rest.
//! - [`select!`]` { x = a => ..., y = b => ... }` runs the arm of the first
//!   future to finish, after the others were cancelled and their cleanups
//!   awaited.
//!
//! # Performance design
//!
//! What the common operations cost, and why (numbers from
//! `cargo bench --bench runtimes`; BENCHMARKS.md has the comparison with
//! tokio and smol).
//!
//! **A child** ([`TaskGroup::add_task`]) costs two allocations: its boxed
//! future (the user's future inside a small wrapper that reports to the
//! handle) and the `Rc` state it shares with its [`Task`] handle (the
//! output slot, the cancel flag, a waiter). Plus a slot in the group's slab
//! and a key in the group's ready queue, both in vectors reused across
//! children. A child that waits also needs a waker (an `Arc`, 40 bytes),
//! made at its first poll, and taken from a pool of the wakers of finished
//! children when one is free: a group running short children one after
//! another allocates one waker, not one per child. A child waiting on a
//! sleep costs about 490 bytes of memory in all (tokio: about 585).
//! smol needs one allocation, tokio's `JoinSet` two; one allocation for
//! header, future and output takes a raw task built with `unsafe`, which
//! this crate forbids. So the output slot, which the handle may keep after
//! the group is gone, is its own `Rc`, and the waker, which must be
//! `'static`, `Send` and `Sync` while the child's future is none of them,
//! its own `Arc`. rustc stores a future moved into another one twice (the
//! moved-from slot stays), so the wrapper is written to add only that copy
//! and 48 bytes.
//!
//! **A timer** ([`sleep`], [`sleep_until`]): a [`Sleep`] is 32 bytes and
//! allocates nothing; at its first poll it takes a slot in the reactor's
//! slab (slots are reused) and a place in a hierarchical timing wheel (six
//! levels of 64 slots, 1 ms to about two years): O(1) to arm and to
//! cancel, so the deadline of a timeout whose work finished in time costs
//! a push and a swap-remove. When the wheel reaches a slot, its timers move
//! down a level, and those of the current millisecond into a small B-tree
//! by `(deadline, id)` from which they fire: exactly at their deadline, not
//! their millisecond, and equal deadlines in creation order (ids increase
//! per thread), on the mock clock too. A fired timer is known as fired from
//! its slot, without reading the clock. [`timeout`] is a timer beside the
//! wrapped future (boxed once, so a [`Timeout`] is small and `Unpin`), not
//! a task group; only a deadline that passes while `try_finally` cleanups
//! are pending needs more (a place to collect them, made then).
//!
//! **A wake-up** on the runtime's thread (a task waking another, the
//! reactor waking a task) makes no syscall and takes no lock: the waker
//! checks its "queued" flag and pushes the child's key into its group's
//! thread-local queue (one thread-local lookup, plain loads and stores),
//! and wakes the parent group only if that group is neither being polled
//! nor already woken. A wake from another thread goes through a
//! mutex-guarded half of the queue and writes the runtime's eventfd only
//! if the runtime sleeps in `epoll_wait`. A group polls exactly the
//! children that were woken, so a wake-up costs the same with 10,000 idle
//! tasks, fds or timers as with none; at most 256 task polls run between
//! two `epoll_wait(0)`s, so a busy group does not starve I/O.
//!
//! **I/O**: an [`Async`] socket is made non-blocking and registered with
//! epoll once (edge-triggered, both directions) and keeps its readiness
//! per direction; a read that finds data is one syscall, a read that must
//! wait is none (it waits for the edge). A TCP echo costs one `read` and
//! one `write` per message per end, and no `epoll_ctl` or `fcntl` in the
//! steady state.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub use xiio_core::*;
pub use xiio_macros::{join, main, select, task_group, test};

/// Interop with `futures-core`, `futures-io` and other executors.
pub use xiio_futures as compat;

#[doc(hidden)]
pub mod __private {
    //! Paths used by the macros' expansions, so users depend on `xiio` alone.
    pub use xiio_core::__private::*;
    pub use xiio_core::{Builder, TaskGroup};
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
