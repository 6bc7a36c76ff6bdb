//! `Source`: the persistent registration of an fd that xiio owns, with its
//! readiness kept per direction.
//!
//! An owning wrapper ([`Async`](crate::Async), the `net` types) registers
//! its fd with epoll once, edge-triggered, for both directions, and keeps it
//! registered until it is dropped. Each direction has a *ready* flag:
//!
//! - set when epoll reports the direction ready;
//! - cleared when an operation says `WouldBlock`: the kernel then has
//!   nothing for us, and whatever changes later (data, room, a hang-up, an
//!   error) is a new edge;
//! - for TCP, also cleared when a short read or write shows that the
//!   kernel's buffer is drained or full ([`Source::drained`]), unless the
//!   last edge reported end-of-file, a hang-up or an error: a short read
//!   before a FIN that was already reported must not hide the FIN, so the
//!   next read runs and returns end-of-file. (A `WouldBlock` clears that
//!   too: a UDP socket's ICMP error or a FIFO's hang-up is over once an
//!   operation says `WouldBlock`, and the socket or FIFO is usable again.)
//!
//! While a direction is ready, operations just run: no `epoll_ctl`, no
//! `fcntl`, no poll of the reactor. A task waits only after `WouldBlock`,
//! and the next edge wakes it. No race hides an edge: events are processed
//! by the run loop on this thread, never while a task runs, so between an
//! operation's `WouldBlock` and the flag being cleared no event can slip
//! by; any readiness the kernel reports later is a new edge.
//!
//! Registration is lazy: a new source counts as ready in both directions,
//! and is registered the first time a task has to wait (epoll reports the
//! fd's current state when it is added, so nothing is missed). A source
//! made outside `xiio::run`, or used by one `xiio::run` after another on
//! the same thread, registers with the runtime that waits on it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::Interest;
use crate::runtime::{self, Runtime};

/// One of the two directions of an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading (also accepting, and receiving datagrams).
    Read,
    /// Writing (also a connect completing).
    Write,
}

/// The persistent registration of an owned fd.
pub(crate) struct Source {
    /// The fd, owned by the wrapper that owns this source.
    fd: RawFd,
    /// Where the fd is registered.
    registration: RefCell<Registration>,
    /// Readiness and waiters for reading.
    read: Side,
    /// Readiness and waiters for writing.
    write: Side,
}

/// Where a source is registered.
enum Registration {
    /// Nowhere yet (or its runtime ended).
    None,
    /// With the reactor of this runtime (a `Weak`, so that a source that
    /// outlives its runtime does not keep it alive).
    In(Weak<Runtime>),
    /// Nowhere, because epoll refuses the fd (a regular file): it is
    /// always ready.
    AlwaysReady,
}

/// One direction of a source.
struct Side {
    /// True unless an operation said `WouldBlock` since the last edge.
    ready: Cell<bool>,
    /// True if an edge since the last `WouldBlock` reported end-of-file, a
    /// hang-up or an error for this direction.
    closed: Cell<bool>,
    /// The waker of the last `poll_*` call (`AsyncRead::poll_read` and the
    /// like): one per direction, the last one wins, as in every runtime,
    /// because a poll function has nowhere to keep a place in a list.
    poll_waker: RefCell<Option<Waker>>,
    /// The wakers of waiting futures (`readable()`, `read_with`...), each
    /// removed when its future completes or is dropped.
    waiters: RefCell<Slab<Option<Waker>>>,
}

impl Side {
    fn new() -> Side {
        Side {
            ready: Cell::new(true),
            closed: Cell::new(false),
            poll_waker: RefCell::new(None),
            waiters: RefCell::new(Slab::new()),
        }
    }

    /// Marks the direction ready and collects every waker of it.
    fn fire(&self, closed: bool, to_wake: &mut Vec<Waker>) {
        self.ready.set(true);
        if closed {
            self.closed.set(true);
        }
        to_wake.extend(self.poll_waker.borrow_mut().take());
        for (_, waker) in self.waiters.borrow_mut().iter_mut() {
            to_wake.extend(waker.take());
        }
    }
}

impl Source {
    /// A source for `fd`, which the caller owns and has made non-blocking.
    pub(crate) fn new(fd: RawFd) -> Rc<Source> {
        Rc::new(Source {
            fd,
            registration: RefCell::new(Registration::None),
            read: Side::new(),
            write: Side::new(),
        })
    }

    /// The fd.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    fn side(&self, dir: Direction) -> &Side {
        match dir {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        }
    }

    /// True unless an operation in `dir` said `WouldBlock` since the last
    /// readiness event.
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.side(dir).ready.get()
    }

    /// True for an fd that epoll refuses because it never waits.
    fn always_ready(&self) -> bool {
        matches!(*self.registration.borrow(), Registration::AlwaysReady)
    }

    /// Records that `dir` would block: the next operation waits for an
    /// edge. (Not for an always-ready fd, which never says `WouldBlock`.)
    pub(crate) fn clear(&self, dir: Direction) {
        if !self.always_ready() {
            let side = self.side(dir);
            side.ready.set(false);
            side.closed.set(false);
        }
    }

    /// Records that a short read (or write) on a TCP stream drained (or
    /// filled) the kernel's buffer: the next operation waits for an edge,
    /// unless the last edge reported end-of-file, a hang-up or an error.
    pub(crate) fn drained(&self, dir: Direction) {
        let side = self.side(dir);
        if !side.closed.get() && !self.always_ready() {
            side.ready.set(false);
        }
    }

    /// Called by the reactor for an event: `ready` says which directions
    /// fired, `read_closed`/`write_closed` whether the event reported
    /// end-of-file, a hang-up or an error.
    pub(crate) fn fire(
        &self,
        ready: Interest,
        read_closed: bool,
        write_closed: bool,
        to_wake: &mut Vec<Waker>,
    ) {
        if ready.is_readable() {
            self.read.fire(read_closed, to_wake);
        }
        if ready.is_writable() {
            self.write.fire(write_closed, to_wake);
        }
    }

    /// Adds what the tasks waiting on this source wait for to `waits`, by
    /// the address of their wakers (for the task tree).
    pub(crate) fn waits(&self, waits: &mut std::collections::HashMap<usize, Vec<String>>) {
        for (side, what) in [(&self.read, "readable"), (&self.write, "writable")] {
            let poll_waker = side.poll_waker.borrow();
            let waiters = side.waiters.borrow();
            let wakers = poll_waker
                .iter()
                .chain(waiters.iter().filter_map(|(_, w)| w.as_ref()));
            for waker in wakers {
                let wait = format!("fd {} {what}", self.fd);
                waits.entry(waker.data() as usize).or_default().push(wait);
            }
        }
    }

    /// Makes sure the fd is registered with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Outside `xiio::run`, saying that `what` must be awaited inside it.
    fn register(self: &Rc<Self>, what: &str) -> io::Result<()> {
        let rt = runtime::current(what);
        {
            let registration = self.registration.borrow();
            match &*registration {
                Registration::AlwaysReady => return Ok(()),
                Registration::In(weak) if std::ptr::eq(weak.as_ptr(), Rc::as_ptr(&rt)) => {
                    return Ok(());
                }
                _ => {}
            }
        }
        let registered = rt.reactor.borrow_mut().register_source(self)?;
        *self.registration.borrow_mut() = if registered {
            Registration::In(Rc::downgrade(&rt))
        } else {
            // Epoll refuses the fd because it never blocks (a regular
            // file): count it as ready for ever.
            self.read.ready.set(true);
            self.write.ready.set(true);
            Registration::AlwaysReady
        };
        Ok(())
    }

    /// Removes the registration, if any; the owner calls this before it
    /// closes the fd (an fd that was dup'ed elsewhere would otherwise stay
    /// in the epoll set).
    pub(crate) fn deregister(&self) {
        let registration =
            std::mem::replace(&mut *self.registration.borrow_mut(), Registration::None);
        if let Registration::In(weak) = registration {
            if let Some(rt) = weak.upgrade() {
                rt.reactor.borrow_mut().deregister_source(self.fd);
            }
        }
    }

    /// The poll form of waiting for `dir`: `Ready` at once if the direction
    /// is ready, else registers `cx`'s waker as the direction's poll waker.
    /// `what` names the caller for the panic outside `xiio::run`.
    pub(crate) fn poll_ready(
        self: &Rc<Self>,
        dir: Direction,
        cx: &mut Context<'_>,
        what: &str,
    ) -> Poll<io::Result<()>> {
        if self.is_ready(dir) {
            return Poll::Ready(Ok(()));
        }
        if let Err(e) = self.register(what) {
            return Poll::Ready(Err(e));
        }
        if self.is_ready(dir) {
            return Poll::Ready(Ok(()));
        }
        let mut slot = self.side(dir).poll_waker.borrow_mut();
        if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Runs `op` until it does not say `WouldBlock`, in the poll form:
    /// returns `Pending` (with `cx` registered) when it would block.
    pub(crate) fn poll_io<R>(
        self: &Rc<Self>,
        dir: Direction,
        cx: &mut Context<'_>,
        what: &str,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        // Also when the operation would not need to wait: a leaf future
        // outside `xiio::run` fails the same way every time.
        runtime::assert_inside(what);
        loop {
            if let Some(result) = self.attempt(dir, &mut op) {
                return Poll::Ready(result);
            }
            match self.poll_ready(dir, cx, what) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Runs `op` until it does not say `WouldBlock`, waiting for `dir` in
    /// between: the future form of [`poll_io`](Source::poll_io), which any
    /// number of tasks may await at once.
    pub(crate) async fn io<R>(
        self: &Rc<Self>,
        dir: Direction,
        what: &str,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        runtime::assert_inside(what);
        loop {
            if let Some(result) = self.attempt(dir, &mut op) {
                return result;
            }
            self.ready(dir, what).await?;
        }
    }

    /// Runs `op` while `dir` is ready: its result, or `None` once it said
    /// `WouldBlock` (the readiness is cleared then) or `dir` was not ready.
    /// An interrupted call is retried.
    fn attempt<R>(
        &self,
        dir: Direction,
        op: &mut impl FnMut() -> io::Result<R>,
    ) -> Option<io::Result<R>> {
        while self.is_ready(dir) {
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear(dir),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Some(result),
            }
        }
        None
    }

    /// Waits until `dir` is ready (at once if it is).
    pub(crate) fn ready<'a>(self: &'a Rc<Self>, dir: Direction, what: &'a str) -> Ready<'a> {
        Ready {
            source: self,
            dir,
            what,
            key: None,
        }
    }
}

/// The future of [`Source::ready`]: one entry in the direction's waiters
/// while pending, removed when done or dropped.
pub(crate) struct Ready<'a> {
    source: &'a Rc<Source>,
    dir: Direction,
    /// Names the caller in the panic outside `xiio::run`.
    what: &'a str,
    /// Its place among the direction's waiters, once it waited.
    key: Option<usize>,
}

impl Ready<'_> {
    fn remove(&mut self) {
        if let Some(key) = self.key.take() {
            self.source
                .side(self.dir)
                .waiters
                .borrow_mut()
                .try_remove(key);
        }
    }
}

impl Future for Ready<'_> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.source.is_ready(this.dir) {
            if let Err(e) = this.source.register(this.what) {
                this.remove();
                return Poll::Ready(Err(e));
            }
        }
        if this.source.is_ready(this.dir) {
            this.remove();
            return Poll::Ready(Ok(()));
        }
        let mut waiters = this.source.side(this.dir).waiters.borrow_mut();
        match this.key.and_then(|key| waiters.get_mut(key)) {
            Some(slot) => match slot {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            },
            None => this.key = Some(waiters.insert(Some(cx.waker().clone()))),
        }
        Poll::Pending
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        self.remove();
    }
}
