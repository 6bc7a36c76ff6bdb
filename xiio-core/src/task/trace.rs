//! The tracer: the hook through which the testing tools follow the live
//! task tree (`xiio::testing::task_tree`, the mock clock's hang report).
//!
//! A runtime has no tracer unless it keeps the tree: then each group calls
//! it as tasks come, are polled and go, and leaf futures tell it what the
//! task being polled waits on. Without one, a group pays a branch per poll.

use std::os::fd::RawFd;
use std::panic::Location;
use std::time::Instant;

use crate::reactor::Interest;

/// Follows the tasks of one runtime.
pub(crate) trait Tracer {
    /// A group is made, inside the task being polled now; returns its id.
    fn group_started(&self) -> u64;

    /// The group returned or was dropped.
    fn group_ended(&self, group: u64);

    /// A task of `group` (its body, a child or a cleanup) starts to exist;
    /// `at` is where it was added (`None` for a cleanup).
    fn task_added(
        &self,
        group: u64,
        key: usize,
        kind: Kind,
        at: Option<&'static Location<'static>>,
    );

    /// The task ended (finished, failed or cancelled).
    fn task_ended(&self, group: u64, key: usize);

    /// The task is about to be polled.
    fn polling(&self, group: u64, key: usize);

    /// The poll of the task that `polling` announced returned.
    fn polled(&self);

    /// The task being polled waits on `wait` (among other things, maybe).
    fn waits(&self, wait: Wait);

    /// What the tracer knows, as text, with deadlines measured from `now`.
    fn report(&self, now: Instant) -> String;
}

/// What a task of a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The group's body.
    Body,
    /// A child added with `add_task`.
    Task,
    /// A child added with `add_background`.
    Background,
    /// The cleanup of a cancelled `try_finally`.
    Cleanup,
}

/// What a leaf future waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A timer due at this instant.
    Timer(Instant),
    /// A deadline beyond the clock's range: for ever.
    Never,
    /// An fd, for this interest.
    Fd(RawFd, Interest),
    /// Work outside the runtime's thread, named.
    Outside(&'static str),
}
