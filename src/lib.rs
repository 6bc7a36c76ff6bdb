//! xiio: a really simple single-threaded async runtime with structured
//! concurrency built in.
//!
//! - [`run`] drives any `std::future::Future` on the current thread;
//!   [`#[xiio::main]`](main) and [`#[xiio::test]`](test) wrap it.
//! - Leaf futures wait on a [`Condition`]: fds ready ([`read`], [`write`],
//!   [`write_all`]) or a deadline ([`sleep`], [`sleep_until`], [`now`]).
//! - Concurrency is always scoped: a [`TaskGroup`] (written
//!   [`task_group!`]) owns its children, cancels them all on the first
//!   error, and waits for their [`try_finally`] cleanups. [`gather`] and
//!   [`timeout`] are built on it.
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
//! async fn main() -> Result<(), xiio::TimeoutError> {
//!     let start = xiio::now();
//!     let (a, b) = xiio::task_group!(|tg| {
//!         let a = tg.add_task(async {
//!             xiio::sleep(Duration::from_millis(100)).await;
//!             Ok("a")
//!         });
//!         let b = tg.add_task(xiio::timeout(Duration::from_millis(50), async {
//!             xiio::sleep(Duration::from_millis(200)).await;
//!             "b"
//!         }));
//!         Ok((a, b))
//!     })?;
//!     assert_eq!(a.take(), Some("a"));
//!     assert_eq!(xiio::now() - start, Duration::from_millis(100));
//!     let _ = b; // the timeout failed the group? No: see below.
//!     Ok(())
//! }
//! # main().unwrap();
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub use xiio_core::*;
pub use xiio_macros::{main, task_group, test};

/// Interop with `futures-core`, `futures-io` and other executors.
pub use xiio_futures as compat;

#[doc(hidden)]
pub mod __private {
    //! Paths used by the macros' expansions, so users depend on `xiio` alone.
    pub use xiio_core::{Builder, TaskGroup};
}
