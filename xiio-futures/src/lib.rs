//! Interop between xiio and the rest of the Rust async world, re-exported
//! as `xiio::compat`.
//!
//! xiio already runs every standard `Future`, including those of
//! runtime-agnostic crates (`futures` channels, `async-channel`): their
//! wakers are ordinary `std::task::Waker`s, and a wake from another thread
//! interrupts the reactor's wait. This crate will hold the other direction
//! and the trait bridges: `futures_core::Stream` and
//! `futures_io::AsyncRead`/`AsyncWrite` for xiio's streams, and
//! `on_executor` to await xiio futures from tokio, smol or
//! `futures::executor`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "hyper")]
mod hyper;
#[cfg(feature = "tokio")]
mod tokio;

pub use futures_core::Stream;
pub use futures_io::{AsyncRead, AsyncWrite};
pub use xiio_core::embed::{OnExecutor, OnThread, on_executor, on_thread};

#[cfg(feature = "hyper")]
pub use hyper::{HyperExecutor, HyperIo, HyperTimer};
#[cfg(feature = "tokio")]
pub use tokio::{TokioIo, WithTokio, with_tokio};
