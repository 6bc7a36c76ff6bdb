//! xiio: a really simple single-threaded async runtime with structured
//! concurrency built in.
//!
//! At the root is what nearly every program uses:
//!
//! - [`run`] drives any `std::future::Future` on the current thread
//!   ([`Builder`] configures it: a mock clock for exact timing tests, a
//!   seeded scheduling order); [`#[xiio::main]`](main) and
//!   [`#[xiio::test]`](test) wrap it.
//! - Concurrency is always scoped: a [`TaskGroup`] (made by
//!   [`task_group!`] or [`TaskGroup::scope`]) owns its children, each with
//!   a [`Task`] handle, cancels them all on the first error, and waits for
//!   their cleanups; [`try_join!`] and [`select!`] are small groups.
//! - [`sleep`] waits; [`timeout`] cancels a future by deadline.
//!
//! The rest lives in modules named after what they hold:
//!
//! | module | what is in it |
//! | --- | --- |
//! | [`task`] | tools built on groups: [`gather`](task::gather), [`race`](task::race), [`TaskSet`](task::TaskSet), [`try_finally`](task::try_finally), [`yield_now`](task::yield_now) |
//! | [`time`] | the clock ([`now`](time::now)), [`sleep_until`](time::sleep_until), [`interval`](time::interval), [`timeout_at`](time::timeout_at) |
//! | [`io`] | [`Async`](io::Async) for an fd you own; [`pipe`](io::pipe); [`stdin`](io::stdin), [`stdout`](io::stdout), [`stderr`](io::stderr); [`read`](io::read), [`write`](io::write) on fds you do not; [`Condition`](io::Condition) |
//! | [`net`] | TCP, UDP and Unix sockets |
//! | [`fs`] | files and directories on the blocking pool: [`File`](fs::File), [`read`](fs::read), [`write`](fs::write), [`read_dir`](fs::read_dir), ... |
//! | [`sync`] | [`Promise`](sync::Promise), channels, locks, semaphores |
//! | [`process`] | [`spawn`](process::spawn) a [`Child`](process::Child) with streamed stdio, [`run_process`](process::run_process) |
//! | [`signal`] | [`subscribe_signals`](signal::subscribe_signals), [`ctrl_c`](signal::ctrl_c) |
//! | [`thread`] | blocking work: [`run_blocking`](thread::run_blocking), [`ThreadPool`](thread::ThreadPool) |
//! | [`testing`] | advancing the mock clock ([`advance`](testing::advance)), the task tree of a hang, what is registered |
//! | [`compat`] | futures-io and futures-core, other executors, hyper, tokio |
//! | [`guide`] | how the runtime works, in doc tests: one child's life |
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! #[xiio::main(mock_clock)]
//! async fn main() -> Result<(), String> {
//!     let start = xiio::time::now();
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
//!     assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
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
//! - [`try_join!`]`(a, b, c)` runs futures of different types in one group:
//!   `Result<(A, B, C), E>`, the first error cancelling the rest.
//! - [`select!`]` { x = a => ..., y = b => ... }` runs the arm of the first
//!   future to finish, after the others were cancelled and their cleanups
//!   awaited.
//!
//! # Performance design
//!
//! What the common operations cost, and why. (BENCHMARKS.md has the
//! measurements, against tokio and smol.)
//!
//! **A child** ([`TaskGroup::add_task`]) costs its boxed future (the
//! user's future inside a wrapper of two words that reports to the
//! handle) and the `Rc` state it shares with its [`Task`] handle (the
//! output slot, the cancel flag, a waiter: 56 bytes for a `()` output).
//! Plus a 32-byte slot in the group's slab and a key in the group's ready
//! queue, both in vectors reused across children. A child that waits also
//! needs a waker (a 40-byte `Arc`), made at its first poll, and taken from
//! a pool of the wakers of finished children when one is free: a group
//! running short children one after another allocates one waker, not one
//! per child. A pending child waiting on a timer costs about 310 bytes in
//! all, less than in tokio or smol (BENCHMARKS.md). One allocation for
//! header, future and output would take a raw task built with `unsafe`,
//! which xiio forbids: the output slot, which the handle may keep after the
//! group is gone, is its own `Rc`, and the waker, which must be `'static`,
//! `Send` and `Sync` while the child's future is none of them, its own
//! `Arc`. Two small crates of the futures ecosystem (also tokio's) do the
//! rest without `unsafe` in xiio: `pin-project-lite` pins the user's
//! future in place inside the wrapper (an `async` block would hold it
//! twice: rustc keeps the moved-from copy), and futures-task's `waker_ref`
//! lends the group a `Waker` for the `Arc` it keeps, so the slot holds one
//! pointer and a poll touches no reference count.
//!
//! **A timer** ([`sleep`], [`time::sleep_until`]): a [`time::Sleep`] is
//! 24 bytes and allocates nothing; at its first poll it takes a 16-byte
//! entry in the reactor's slab (entries are reused) and a place in a
//! hierarchical timing wheel (six levels of 64 slots, 1 ms to about two
//! years): O(1) to arm and to cancel, so the deadline of a timeout whose
//! work finished in time costs a push and a swap-remove. The deadline and
//! the waker travel in the wheel's lists, so moving and firing timers
//! reads those lists in order; the slab entry only says where a timer is.
//! When the wheel reaches a slot, its timers move down a level, and those
//! of the current millisecond into a small B-tree by `(deadline, id)` from
//! which they fire: exactly at their deadline, not their millisecond, and
//! equal deadlines in creation order, on the mock clock too. A fired timer
//! is known as fired from its slab entry, without reading the clock. [`timeout`] is a timer beside the wrapped
//! future (boxed once, so a [`time::Timeout`] is small and `Unpin`), not a
//! task group; only a deadline that passes while `try_finally` cleanups
//! are pending needs more (a group to run them, made then).
//!
//! **A wake-up** on the runtime's thread (a task waking another, the
//! reactor waking a task) makes no syscall and takes no lock: the waker
//! checks its "queued" flag and pushes the child's key into its group's
//! half of the queue that lives on this thread (one thread-local lookup,
//! plain loads and stores), and wakes the parent group only if that group
//! is neither being polled nor already woken. A wake from another thread
//! goes through a mutex-guarded half of the queue and writes the runtime's
//! eventfd only if the runtime sleeps in `epoll_wait`. A group polls
//! exactly the children that were woken, so a wake-up costs the same with
//! 10,000 idle tasks, fds or timers as with none; at most 256 task polls
//! run between two `epoll_wait(0)`s, so a busy group does not starve I/O.
//!
//! **I/O**: an [`io::Async`] socket is made non-blocking and registered
//! with epoll once (edge-triggered, both directions) and keeps its
//! readiness per direction; a read that finds data is one syscall, a read
//! that must wait is none (it waits for the edge). A TCP echo costs one
//! `read` and one `write` per message per end, and no `epoll_ctl` or
//! `fcntl` in the steady state.
//!
//! **A request** (hyper on xiio, through [`compat::HyperIo`]): on a
//! kept-alive HTTP/1.1 connection, one `recvfrom` and one `writev`, and no
//! other syscall but an `epoll_wait` shared by the requests of one round
//! of events (one per ~60 requests under `wrk` with 64 connections); the
//! connection's child waits on its socket's edge between requests. Under
//! load, xiio's own code (the group's poll, the readiness checks, the
//! wakers, the fd dispatch) is about 3 % of the server's CPU (tokio's,
//! under the same load, about 4.6 %): the rest is the kernel's TCP and
//! hyper, the same with any runtime. An HTTP/2 stream
//! is one more child of the connection's group (one boxed future, no
//! thread hand-off). BENCHMARKS.md has the measurements against tokio and
//! smol under `wrk` and `h2load`.
#![doc(test(attr(deny(warnings))))]

pub use xiio_core::*;
pub use xiio_macros::{main, select, task_group, test, try_join};

/// Interop with `futures-core`, `futures-io` and other executors.
pub use xiio_futures as compat;

pub mod guide;

#[doc(hidden)]
pub mod __private {
    //! Paths used by the macros' expansions, so users depend on `xiio` alone.
    pub use xiio_core::{Builder, TaskGroup};
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
