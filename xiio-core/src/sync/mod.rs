//! Handing values between tasks, locking, and limiting: one place for all
//! of it.
//!
//! | need | use |
//! | --- | --- |
//! | one value, set once, awaited by any number of tasks | [`Promise`] |
//! | a queue of values between tasks or threads | [`channel`]: [`channel::bounded`], [`channel::unbounded`] |
//! | a lock held across `.await` | [`Mutex`], [`RwLock`] |
//! | at most N at once (connections, jobs) | [`Semaphore`] |
//! | wait until N tasks arrived | [`Barrier`] |
//! | a value made once, by the first task that asks | [`OnceCell`] |
//!
//! [`Promise`] is xiio's own: the Python original's `Future`. The rest are
//! the runtime-agnostic crates the Rust ecosystem already trusts,
//! re-exported as they are: `async-channel` (as [`channel`]) and
//! `async-lock`. They wake tasks through plain `std::task::Waker`s, so
//! they work on xiio, across threads, and on any other executor, and a
//! program that moves between runtimes keeps them. tokio's
//! `tokio::sync::mpsc` is [`channel::bounded`] here (one type for one or
//! many consumers), `tokio::sync::oneshot` is a [`Promise`] on one thread
//! or a `bounded(1)` channel across threads.
//!
//! Inside a single task, a `std::cell::RefCell` is enough; a lock is for
//! data that tasks hold across an `.await`.
//!
//! # Examples
//!
//! A pipeline: a producer and a consumer joined by a bounded channel, so
//! the producer waits while the consumer is behind.
//!
//! ```
//! use xiio::sync::channel;
//!
//! xiio::run(async {
//!     let (tx, rx) = channel::bounded(4);
//!     let total = xiio::task_group!(|tg| {
//!         tg.add_task(async move {
//!             for n in 1..=100u64 {
//!                 tx.send(n).await.map_err(|_| "consumer gone")?;
//!             }
//!             Ok(()) // dropping `tx` closes the channel
//!         });
//!         let total = tg.add_task(async move {
//!             let mut total = 0;
//!             while let Ok(n) = rx.recv().await {
//!                 total += n;
//!             }
//!             Ok(total)
//!         });
//!         Ok::<_, &str>(total)
//!     })?;
//!     assert_eq!(total.take(), Some(5050));
//!     Ok::<_, &str>(())
//! })?;
//! # Ok::<_, &str>(())
//! ```

mod promise;

/// Channels: `async-channel`, re-exported. Multi-producer,
/// multi-consumer, bounded or not, usable across threads.
pub use async_channel as channel;
pub use async_lock::{
    Barrier, Mutex, MutexGuard, OnceCell, RwLock, RwLockReadGuard, RwLockWriteGuard, Semaphore,
    SemaphoreGuard,
};
pub use promise::{Promise, PromiseWait};
