//! Tasks and their groups: structured concurrency.
//!
//! - `task_group.rs`: [`TaskGroup`], which owns its children, polls exactly
//!   the woken ones, and cancels them all on the first failure.
//! - `handle.rs`: [`Task`], the handle to one child and its value;
//!   `next_finished.rs`: [`next_finished`], the next of a set to finish.
//! - `ready_queue.rs`: per-child wakers and the queue they push to.
//! - `try_finally.rs`: cleanups that survive cancellation, adopted by the
//!   innermost group.
//! - `gather.rs`, `gather_limit.rs`, `race.rs`, `promise.rs`,
//!   `yield_now.rs`: small tools built on the above.

mod gather;
mod gather_limit;
mod handle;
mod next_finished;
mod promise;
mod race;
mod ready_queue;
mod task_group;
pub(crate) mod tree;
pub(crate) mod try_finally;
mod yield_now;

pub use gather::gather;
pub use gather_limit::gather_limit;
pub use handle::Task;
pub use next_finished::next_finished;
pub use promise::{OwnedPromiseWait, Promise, PromiseWait};
pub use race::race;
pub use task_group::{TaskGroup, TaskOutput};
pub use try_finally::try_finally;
pub use yield_now::yield_now;
