//! Fd I/O: waiting on fds, and reading and writing them without blocking.
//!
//! - [`Async`] owns an fd (a pipe end, a terminal, a socket made by another
//!   crate): non-blocking once, registered with the reactor once, with its
//!   readiness kept per direction. The `net` types are built on it.
//! - [`pipe()`] makes a pipe whose ends are `Async` streams.
//! - [`stdin()`], [`stdout()`], [`stderr()`]: the standard streams as
//!   futures-io streams, `BufReader::new(stdin()).lines()` being the way
//!   to read lines.
//! - [`read()`], [`write()`], [`write_all`] work on fds xiio does not own
//!   (stdin, a pipe passed in), without ever changing their mode.
//! - [`Condition`] waits until any of several borrowed fds is readable or
//!   writable, or a deadline passes, and says which fired.
//! - [`Interest`]: readable, writable.

mod async_fd;
mod borrowed;
mod condition;
mod pipe;
mod stdio;

pub use crate::reactor::Interest;
pub use async_fd::Async;
pub(crate) use borrowed::ready;
pub use borrowed::{read, write, write_all};
pub use condition::{Condition, ConditionWait, Fired};
pub use pipe::pipe;
pub use stdio::{Stderr, Stdin, Stdout, stderr, stdin, stdout};
