//! Interop between xiio and the rest of the Rust async world, re-exported
//! as `xiio::compat`.
//!
//! # What xiio implements itself
//!
//! xiio runs every standard `Future`, including those of runtime-agnostic
//! crates (`futures` channels, `async-channel`, `async-lock`): their
//! wakers are ordinary `std::task::Waker`s, and a wake from another thread
//! interrupts the reactor's wait. Its byte streams (`xiio::net::TcpStream`,
//! `UnixStream`, `xiio::io::Async<F>`) implement [`AsyncRead`] and
//! [`AsyncWrite`], for the type and for a shared reference to it; its
//! streams of values (`TcpListener::incoming()`, `Signals`) implement
//! [`Stream`]. (The orphan rule puts those impls in xiio's core crate.) So
//! crates built on futures-io (futures-rustls, async-tungstenite,
//! async-compression, `futures::io::BufReader`...) take xiio's streams as
//! they are.
//!
//! # The bridges here
//!
//! - [`on_executor`]: an xiio future awaited from another executor
//!   (tokio's current-thread runtime or `LocalSet`, smol, `futures::executor`).
//!   At each poll it enters this thread's xiio runtime, runs one turn that
//!   does not block (ready fds, due timers), and polls the future; while it
//!   is pending, a helper thread blocks in `poll(2)` on the reactor's epoll
//!   fd (readable while events are pending) until the next deadline, and
//!   wakes the other executor. Dropping it cancels the future and runs its
//!   `try_finally` cleanups (blocking the thread while they run).
//! - [`on_own_thread`]: the `Send` form, for executors that move futures
//!   between threads (tokio's multi-thread runtime): the future runs in its
//!   own `xiio::run` on a thread of its own; dropping the handle cancels it
//!   there.
//! - Feature `hyper`: `HyperIo` (any futures-io stream as
//!   `hyper::rt::Read`/`Write`), `HyperTimer` (xiio's sleeps and clock),
//!   `HyperExecutor` (hyper's background futures in a `TaskGroup`, `!Send`
//!   allowed). HTTP/1 and HTTP/2 servers and clients run on xiio alone.
//! - Feature `tokio`: `TokioIo` (any futures-io stream as tokio's
//!   `AsyncRead`/`AsyncWrite`) and `with_tokio` (a future that needs a tokio
//!   context, polled by xiio with a one-worker tokio runtime entered: for
//!   reqwest, tonic, tokio-postgres).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! // An xiio task group, awaited on futures' executor.
//! let sum = futures::executor::block_on(xiio::compat::on_executor(xiio::TaskGroup::scope(
//!     async |tg| {
//!         let a = tg.add_task(async {
//!             xiio::sleep(Duration::from_millis(10)).await;
//!             Ok(1)
//!         });
//!         let b = tg.add_task(async { Ok(2) });
//!         Ok::<_, std::io::Error>((a, b))
//!     },
//! )))
//! .map(|(a, b)| a.take().unwrap() + b.take().unwrap())?;
//! assert_eq!(sum, 3);
//! # Ok::<_, std::io::Error>(())
//! ```
#[cfg(feature = "hyper")]
mod hyper;
mod own_thread;
#[cfg(feature = "tokio")]
mod tokio;

pub use futures_core::Stream;
pub use futures_io::{AsyncRead, AsyncWrite};
pub use own_thread::{OnOwnThread, on_own_thread};
pub use xiio_core::embed::{OnExecutor, on_executor};

#[cfg(feature = "hyper")]
pub use hyper::{HyperExecutor, HyperIo, HyperTimer};
#[cfg(feature = "tokio")]
pub use tokio::{TokioIo, WithTokio, with_tokio};
