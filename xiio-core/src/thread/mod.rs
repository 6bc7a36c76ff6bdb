//! Blocking work on other threads: [`run_blocking`] on xiio's shared pool,
//! or a [`ThreadPool`] of your own, awaited without blocking the runtime.

mod pool;

pub(crate) use pool::run_detached;
pub use pool::{ThreadPool, run_blocking};
