//! Handing values between tasks.
//!
//! [`Promise`] is the seed's `Future`: one task sets a value, any number of
//! tasks await it. For everything else, the runtime-agnostic crates run on
//! xiio as they are (their wakers are plain `std::task::Waker`s):
//! `async-channel` for channels, `async-lock` for mutexes, read-write
//! locks and semaphores, `futures::channel::oneshot` for one value from
//! another thread.

mod promise;

pub use promise::{Promise, PromiseWait};
