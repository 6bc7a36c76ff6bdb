//! A task's claims on the reactor: a wait on an fd, a timer. Both are removed
//! when dropped, so a cancelled (dropped) future leaves nothing behind.

use std::io;
use std::os::fd::RawFd;
use std::task::Waker;
use std::time::Instant;

use super::reactor::WaiterKey;
use super::timers::TimerKey;
use crate::Interest;
use crate::runtime::{self, Runtime};

/// A registered wait for readiness on one fd.
#[derive(Debug)]
pub(crate) struct FdWaiter {
    /// The runtime it is registered in.
    runtime: u64,
    /// Where it lives in the reactor; `None` for an always-ready fd (a
    /// regular file, which epoll refuses).
    key: Option<WaiterKey>,
}

impl FdWaiter {
    /// Registers a wait for `interest` on `fd`, woken through `waker`.
    pub(crate) fn new(
        rt: &Runtime,
        fd: RawFd,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<FdWaiter> {
        let key = rt.reactor.borrow_mut().add_waiter(fd, interest, waker)?;
        Ok(FdWaiter {
            runtime: rt.id,
            key,
        })
    }

    /// What fired so far; everything asked for, for an always-ready fd.
    pub(crate) fn fired(&self, rt: &Runtime, interest: Interest) -> Interest {
        match self.key {
            Some(key) => rt.reactor.borrow().fired(key),
            None => interest,
        }
    }

    /// Makes the next readiness wake `waker`.
    pub(crate) fn set_waker(&self, rt: &Runtime, waker: &Waker) {
        if let Some(key) = self.key {
            rt.reactor.borrow_mut().set_waker(key, waker);
        }
    }
}

impl Drop for FdWaiter {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            runtime::try_with(|rt| {
                if rt.id == self.runtime {
                    rt.reactor.borrow_mut().remove_waiter(key);
                }
            });
        }
    }
}

/// A registered timer. Its key's id is unique on the thread, so a timer
/// of a runtime that ended finds nothing to remove in a later runtime on
/// the same thread: no runtime id needed.
#[derive(Debug)]
pub(crate) struct Timer {
    /// Where it lives in the reactor.
    key: TimerKey,
}

impl Timer {
    /// Registers a timer that wakes `waker` at `deadline`.
    pub(crate) fn new(rt: &Runtime, deadline: Instant, waker: &Waker) -> Timer {
        let key = rt.reactor.borrow_mut().add_timer(deadline, waker);
        Timer { key }
    }

    /// Makes the timer wake `waker`.
    pub(crate) fn set_waker(&self, rt: &Runtime, waker: &Waker) {
        rt.reactor.borrow_mut().set_timer_waker(self.key, waker);
    }

    /// True once the timer fired: its deadline passed on the runtime's clock.
    pub(crate) fn fired(&self, rt: &Runtime) -> bool {
        rt.reactor.borrow_mut().timer_fired(self.key)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        runtime::try_with(|rt| rt.reactor.borrow_mut().remove_timer(self.key));
    }
}
