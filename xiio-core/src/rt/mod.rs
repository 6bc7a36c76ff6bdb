//! Running the runtime: [`run`] and its [`Builder`] drive a future on this
//! thread; [`on_executor`] lets another executor drive it.
//!
//! - `run.rs`: the run loop: poll the root, park in the reactor until a
//!   wake, again;
//! - `on_executor.rs`: the same runtime, polled by another executor;
//! - `outside.rs`: another runtime working for a task of this one.

mod on_executor;
mod outside;
mod run;

pub use on_executor::{OnExecutor, on_executor};
pub use outside::OutsideWork;
pub(crate) use run::Tools;
pub use run::{Builder, run};
