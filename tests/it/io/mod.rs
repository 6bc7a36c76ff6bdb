//! Fd I/O: `Async`, `Condition`, and reads and writes of borrowed fds.

mod async_fd;
mod condition;
mod errors;
mod pipe;
mod reactor;
mod shared_fds;
