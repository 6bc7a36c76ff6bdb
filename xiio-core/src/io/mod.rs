//! Fd I/O: waiting on fds, and reading and writing them without blocking.
//!
//! - `interest.rs`: [`Interest`], readable or writable.
//! - `condition.rs`: [`Condition`], the wait on some fds and a deadline
//!   that the Python original builds everything on.
//! - `borrowed.rs`: [`read()`], [`write()`], [`write_all`] on fds xiio
//!   does not own, which never change the fd's mode.
//! - `source.rs`: the persistent registration of an fd xiio owns, with
//!   readiness per direction.
//! - `async_fd.rs`: [`Async`], the owning wrapper on a source; the `net`
//!   types are built on it.

mod async_fd;
mod borrowed;
mod condition;
mod interest;
pub(crate) mod source;

pub use async_fd::Async;
pub(crate) use borrowed::ready;
pub use borrowed::{read, write, write_all};
pub use condition::{Condition, Fired, Wait};
pub use interest::Interest;
