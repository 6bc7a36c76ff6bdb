//! The system around the runtime: blocking work on threads, child
//! processes, Unix signals.
//!
//! - `thread_pool.rs`: [`ThreadPool`] and [`in_thread`].
//! - `process.rs`: [`run_process`] on a pidfd.
//! - `signals.rs`: [`subscribe_signals`] through signal-hook.

mod process;
mod signals;
mod thread_pool;

pub use process::{ProcessError, check_status, run_process};
pub use signals::{Signals, ctrl_c, signal, subscribe_signals};
pub use thread_pool::{ThreadPool, in_thread};
