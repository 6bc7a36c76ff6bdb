//! Tasks and their groups: structured concurrency, and the context and
//! policy every task runs under.
//!
//! [`TaskGroup`] and [`Task`] are the core of it (and are at the crate root
//! as `xiio::TaskGroup` and `xiio::Task`); this module adds the tools built
//! on them: [`gather`] and [`gather_limit`] (run futures, collect values in
//! order), [`race`] (the first to finish wins), [`TaskSet`] (values in the
//! order they come), [`try_finally`] (cleanup that survives cancellation),
//! [`catch_panic`] (a boundary a panic does not cross: for servers) and
//! [`yield_now`].
//!
//! # Implementation
//!
//! - `group.rs`: the group's handle and state, with its state enum;
//! - `drive.rs`: the future that runs a group: it polls exactly the woken
//!   children;
//! - `child.rs`: the future a child runs in, and its handle, [`Task`];
//! - `queue.rs`: per-child wakers, the queue they push to, and the policy
//!   it is drained by (the poll budget, the seeded order);
//! - `cancel.rs`: the one way to cancel, and where cleanups go;
//! - `context.rs`: the thread-local context of a running runtime;
//! - `trace.rs`: the hook the testing tools follow the tree through.

mod cancel;
mod catch_panic;
mod child;
pub(crate) mod context;
mod drive;
mod gather;
mod group;
pub(crate) mod queue;
mod race;
mod set;
pub(crate) mod trace;
mod try_finally;
mod yield_now;

pub(crate) use cancel::{Orphan, Sink, adopt, cancel, run_cleanups};
pub use catch_panic::{Panicked, catch_panic};
pub use child::{Task, TaskOutput};
pub use gather::{gather, gather_limit};
pub use group::TaskGroup;
pub use race::race;
pub use set::TaskSet;
pub use try_finally::try_finally;
pub use yield_now::yield_now;
