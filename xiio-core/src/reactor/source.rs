//! An owned fd's registration: [`Source`], its readiness per direction,
//! and [`SourceWait`], a future's place among the waiters of one
//! direction.
//!
//! An owning wrapper (`Async`, the sockets) makes its fd non-blocking and
//! registers it for both directions until it drops the source. Each
//! direction has a *ready* flag: set by an event, cleared when an
//! operation says `WouldBlock` (whatever changes after that is a new
//! edge). While a direction is ready, operations just run: no
//! `epoll_ctl`, no `fcntl`. Events are processed by the run loop on this
//! thread, never while a task runs, so no edge slips between an
//! operation's `WouldBlock` and the flag being cleared. A second source
//! for an fd that has one is refused (`AlreadyExists`): it would steal the
//! first one's wake-ups, and its drop would take the fd out of epoll.

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use slab::Slab;

use super::fds::{Entry, Side, rearm, register};
use super::{Interest, Reactor, ReactorId};

/// One of the two directions of an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading (also accepting, and receiving datagrams).
    Read,
    /// Writing (also a connect completing).
    Write,
}

/// The registration of an fd that its owner made non-blocking, for both
/// directions, in one reactor; removed from it when dropped, which the
/// owner does before it closes the fd. Its methods take the reactor it was
/// made in.
#[derive(Debug)]
pub(crate) struct Source {
    /// The reactor it is registered in.
    reactor: ReactorId,
    /// The fd; `None` for an fd that epoll refuses as always ready.
    fd: Option<RawFd>,
}

impl Source {
    /// Registers `fd` in `reactor`. Both directions start ready: the first
    /// operations just run.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if another owning wrapper registered the fd in this
    /// reactor; the OS error for a bad fd.
    pub(crate) fn new(reactor: &Reactor, fd: RawFd) -> io::Result<Source> {
        let both = Interest::READABLE | Interest::WRITABLE;
        let sides = || Some([Side::new(), Side::new()]);
        let registered = reactor.with_fds(|table, registry| match table.get_mut(fd) {
            Some(entry) if entry.sides.is_some() => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "fd {fd} is registered with this runtime already, by another xiio::io::Async \
                     or socket: one owning wrapper per fd (share it between tasks with `&`)"
                ),
            )),
            Some(entry) => {
                // Temporary waits got there first (a `Condition` on it).
                rearm(registry, fd, both)?;
                entry.interest = both;
                entry.sides = sides();
                Ok(true)
            }
            None => {
                let registered = register(registry, fd, both)?;
                if registered {
                    let waits = Slab::new();
                    let entry = Entry {
                        interest: both,
                        sides: sides(),
                        waits,
                    };
                    table.insert(fd, entry);
                }
                Ok(registered)
            }
        })?;
        Ok(Source {
            reactor: reactor.id,
            fd: registered.then_some(fd),
        })
    }

    /// True if it is registered in `reactor`.
    pub(crate) fn is_in(&self, reactor: &Reactor) -> bool {
        self.reactor == reactor.id
    }

    /// Runs `f` on one direction's state, in `reactor` (its own).
    fn side<R>(reactor: &Reactor, fd: RawFd, dir: Direction, f: impl FnOnce(&mut Side) -> R) -> R {
        let mut table = reactor.fds.borrow_mut();
        let [read, write] = table
            .get_mut(fd)
            .and_then(|e| e.sides.as_mut())
            .expect("a source keeps its entry until dropped");
        f(match dir {
            Direction::Read => read,
            Direction::Write => write,
        })
    }

    /// True unless an operation in `dir` said `WouldBlock` since the last
    /// event.
    pub(crate) fn is_ready(&self, reactor: &Reactor, dir: Direction) -> bool {
        let Some(fd) = self.fd else {
            return true;
        };
        Source::side(reactor, fd, dir, |side| side.ready)
    }

    /// True if an event or a check showed `dir` ready since the source was
    /// made: from then on, its cached readiness is what `readable()` and
    /// `writable()` report.
    pub(crate) fn seen(&self, reactor: &Reactor, dir: Direction) -> bool {
        let Some(fd) = self.fd else {
            return true;
        };
        Source::side(reactor, fd, dir, |side| side.seen)
    }

    /// Records that a `poll(2)` check showed `dir` ready.
    pub(crate) fn see(&self, reactor: &Reactor, dir: Direction) {
        if let Some(fd) = self.fd {
            Source::side(reactor, fd, dir, |side| side.seen = true);
        }
    }

    /// Records that an operation in `dir` said `WouldBlock`: the next one
    /// waits for an edge.
    pub(crate) fn clear(&self, reactor: &Reactor, dir: Direction) {
        if let Some(fd) = self.fd {
            Source::side(reactor, fd, dir, |side| {
                (side.ready, side.closed) = (false, false)
            });
        }
    }

    /// Records that a short read (or write) of a TCP stream drained (or
    /// filled) the kernel's buffer: the next operation waits for an edge,
    /// unless the last edge reported end-of-file, a hang-up or an error,
    /// which the next operation must see.
    pub(crate) fn drained(&self, reactor: &Reactor, dir: Direction) {
        if let Some(fd) = self.fd {
            Source::side(reactor, fd, dir, |side| side.ready &= side.closed);
        }
    }

    /// The poll form of waiting for `dir`: `Ready` if it is ready, else
    /// `cx` is woken by its next event (only the last such `cx` per
    /// direction).
    pub(crate) fn poll_ready(
        &self,
        reactor: &Reactor,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let Some(fd) = self.fd else {
            return Poll::Ready(());
        };
        Source::side(reactor, fd, dir, |side| {
            if side.ready {
                return Poll::Ready(());
            }
            if !side
                .poll_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                side.poll_waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let (Some(fd), Some(reactor)) = (self.fd, Reactor::of(self.reactor)) else {
            return;
        };
        reactor.with_fds(|table, registry| {
            if let Some(entry) = table.get_mut(fd) {
                entry.sides = None;
            }
            table.remove_if_unused(fd, registry);
        });
    }
}

/// A future's place among the waiters of one direction of a [`Source`],
/// so that any number of tasks can wait on one fd at once; removed when
/// dropped.
#[derive(Debug, Default)]
pub(crate) struct SourceWait {
    /// Where its waker is: reactor, fd, direction and slab key.
    place: Option<(ReactorId, RawFd, Direction, usize)>,
}

impl SourceWait {
    /// `Ready` if `dir` of `source` (registered in `reactor`) is ready;
    /// otherwise `cx` is woken by its next event.
    pub(crate) fn poll(
        &mut self,
        reactor: &Reactor,
        source: &Source,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let Some(fd) = source.fd else {
            return Poll::Ready(());
        };
        if self.place.is_some_and(|(id, ..)| id != reactor.id) {
            self.place = None; // the source moved to another runtime
        }
        let key = self.place.map(|(.., key)| key);
        let poll = Source::side(reactor, fd, dir, |side| {
            if side.ready {
                if let Some(key) = key {
                    side.waiters.remove(key);
                }
                return None;
            }
            Some(match key {
                Some(key) => {
                    let slot = &mut side.waiters[key];
                    if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *slot = Some(cx.waker().clone());
                    }
                    key
                }
                None => side.waiters.insert(Some(cx.waker().clone())),
            })
        });
        self.place = poll.map(|key| (reactor.id, fd, dir, key));
        match poll {
            None => Poll::Ready(()),
            Some(_) => Poll::Pending,
        }
    }
}

impl Drop for SourceWait {
    fn drop(&mut self) {
        let Some((id, fd, dir, key)) = self.place.take() else {
            return;
        };
        let Some(reactor) = Reactor::of(id) else {
            return;
        };
        let mut table = reactor.fds.borrow_mut();
        if let Some([read, write]) = table.get_mut(fd).and_then(|e| e.sides.as_mut()) {
            let side = match dir {
                Direction::Read => read,
                Direction::Write => write,
            };
            side.waiters.try_remove(key);
        }
    }
}
