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
