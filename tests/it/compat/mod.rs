//! Interop with other executors and crates.

mod ecosystem;
mod hyper;
mod interop;
mod on_executor;
mod tokio;
