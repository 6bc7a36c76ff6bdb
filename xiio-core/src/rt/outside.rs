//! Outside work held by a bridge: another runtime working for a task of
//! this one.

use std::fmt;
use std::rc::Rc;

use crate::reactor::{self, Reactor};
use crate::task::context;
use crate::task::trace::Wait;

/// Work another runtime does for a task of this one (the tokio bridge's
/// helper thread), from the task's first wait until its future is done:
/// while it lives, the mock clock does not jump (that work takes real
/// time), and the task tree says the task waits on it instead of calling
/// the runtime stuck.
pub struct OutsideWork {
    /// What the task waits on, for the task tree.
    what: &'static str,
    /// The runtime's count of it; `None` outside `xiio::run`, where there
    /// is no clock to hold.
    held: Option<reactor::OutsideWork>,
}

impl OutsideWork {
    /// Work described as `what` (shown in the task tree), counted by the
    /// runtime polling now, if any, until dropped.
    pub fn new(what: &'static str) -> OutsideWork {
        let held = context::try_reactor().map(|reactor| hold(&reactor));
        OutsideWork { what, held }
    }

    /// Call when the task's poll returns `Pending`: tells the task tree
    /// what the task waits on, and moves the count to the runtime polling
    /// now if the task was carried to another one.
    pub fn pending(&mut self) {
        if let Some(reactor) = context::try_reactor()
            && !self.held.as_ref().is_some_and(|held| held.is_in(&reactor))
        {
            self.held = Some(hold(&reactor));
        }
        context::trace_wait(|| Wait::Outside(self.what));
    }
}

/// Counts one piece of outside work in `reactor` while the result lives.
fn hold(reactor: &Reactor) -> reactor::OutsideWork {
    reactor::OutsideWork::new(reactor, Rc::new(|| true))
}

impl fmt::Debug for OutsideWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutsideWork")
            .field("what", &self.what)
            .field("counted", &self.held.is_some())
            .finish()
    }
}
