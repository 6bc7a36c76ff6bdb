//! The fd table: every fd in the epoll set, by fd number, with what waits
//! on it: an owned fd's readiness per direction (a [`Source`], in
//! `source.rs`) and the temporary waits on a borrowed fd ([`FdWait`]).
//!
//! Every fd is registered edge-triggered, under its fd number as token.
//! An fd has at most one entry per reactor, holding a source, temporary
//! waits, or both. A temporary wait is on an fd xiio does not own
//! (`Condition`, `xiio::io::read`): the registration is made or re-armed
//! (`EPOLL_CTL_MOD`, which makes epoll report the fd's state again) when a
//! wait arrives, so no wait misses readiness an earlier edge reported, and
//! removed when the last wait leaves, as the fd may be closed then.
//!
//! An fd that epoll refuses because it never waits (a regular file) is
//! always ready and never enters the table.
//!
//! [`Source`]: super::Source

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Registry, Token};
use slab::Slab;

use super::{Interest, Reactor, ReactorId};

/// Every registered fd of one reactor, indexed by fd number (the kernel
/// hands out the lowest free numbers, so this stays dense).
#[derive(Default)]
pub(super) struct FdTable {
    /// The entries.
    entries: Vec<Option<Entry>>,
    /// How many entries are in use.
    live: usize,
}

/// One fd's registration.
pub(super) struct Entry {
    /// What is registered with epoll.
    pub(super) interest: Interest,
    /// Readiness per direction, when an owning wrapper registered the fd.
    pub(super) sides: Option<[Side; 2]>,
    /// The temporary waits on the fd.
    pub(super) waits: Slab<WaitEntry>,
}

/// One direction of a source.
pub(super) struct Side {
    /// True unless an operation said `WouldBlock` since the last edge.
    pub(super) ready: bool,
    /// True if an edge since then reported end-of-file, a hang-up or an
    /// error: a short read must not hide it (see [`Source::drained`]).
    pub(super) closed: bool,
    /// True once an event (or a `poll(2)` check) showed this direction
    /// ready. Until then `ready` is only the optimistic start that lets the
    /// first operation run at once, which `readable()`/`writable()` must
    /// not report as readiness.
    pub(super) seen: bool,
    /// The waker of the last `poll_*` call: one per direction, the last one
    /// wins, as a poll function has nowhere to keep a place in a list.
    pub(super) poll_waker: Option<Waker>,
    /// The wakers of waiting futures, each removed when its future ends.
    pub(super) waiters: Slab<Option<Waker>>,
}

/// One temporary wait.
pub(super) struct WaitEntry {
    /// What it waits for.
    pub(super) interest: Interest,
    /// What has fired so far (a subset of `interest`).
    pub(super) fired: Interest,
    /// Whom to wake; taken when woken, set again by the next poll.
    pub(super) waker: Option<Waker>,
}

impl Side {
    pub(super) fn new() -> Side {
        Side {
            ready: true,
            closed: false,
            seen: false,
            poll_waker: None,
            waiters: Slab::new(),
        }
    }

    /// An event: ready again; collects every waker of this direction.
    fn fire(&mut self, closed: bool, to_wake: &mut Vec<Waker>) {
        self.ready = true;
        self.seen = true;
        self.closed |= closed;
        to_wake.extend(self.poll_waker.take());
        to_wake.extend(self.waiters.iter_mut().filter_map(|(_, w)| w.take()));
    }
}

impl FdTable {
    /// How many fds are registered.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// The registered fds, in ascending order.
    pub(super) fn registered(&self) -> Vec<RawFd> {
        let fds = self.entries.iter().enumerate();
        fds.filter_map(|(fd, e)| e.as_ref().map(|_| fd as RawFd))
            .collect()
    }

    pub(super) fn get_mut(&mut self, fd: RawFd) -> Option<&mut Entry> {
        self.entries.get_mut(fd as usize)?.as_mut()
    }

    pub(super) fn insert(&mut self, fd: RawFd, entry: Entry) {
        let index = fd as usize;
        if self.entries.len() <= index {
            self.entries.resize_with(index + 1, || None);
        }
        self.entries[index] = Some(entry);
        self.live += 1;
    }

    /// Forgets `fd` if nothing uses its entry any more, and takes it out of
    /// the epoll set (which fails harmlessly for an fd closed meanwhile).
    pub(super) fn remove_if_unused(&mut self, fd: RawFd, registry: &Registry) {
        let Some(slot) = self.entries.get_mut(fd as usize) else {
            return;
        };
        if slot
            .as_ref()
            .is_some_and(|e| e.sides.is_none() && e.waits.is_empty())
        {
            *slot = None;
            self.live -= 1;
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
    }

    /// Applies one epoll event and collects the wakers it wakes.
    pub(super) fn dispatch(&mut self, event: &Event, to_wake: &mut Vec<Waker>) {
        let Some(entry) = self.get_mut(event.token().0 as RawFd) else {
            return;
        };
        // An error or a hang-up makes the fd "ready" for both: the next
        // operation returns the error or end-of-file at once.
        let read_closed = event.is_read_closed() || event.is_error();
        let write_closed = event.is_write_closed() || event.is_error();
        let mut ready = Interest::NONE;
        if event.is_readable() || read_closed {
            ready = ready | Interest::READABLE;
        }
        if event.is_writable() || write_closed {
            ready = ready | Interest::WRITABLE;
        }
        if let Some([read, write]) = &mut entry.sides {
            if ready.is_readable() {
                read.fire(read_closed, to_wake);
            }
            if ready.is_writable() {
                write.fire(write_closed, to_wake);
            }
        }
        for (_, wait) in entry.waits.iter_mut() {
            let hit = wait.interest.and(ready);
            if !hit.is_empty() {
                wait.fired = wait.fired | hit;
                to_wake.extend(wait.waker.take());
            }
        }
    }
}

/// Adds `fd` to the epoll set; false if epoll refuses it because it is
/// always ready (a regular file: `EPERM`).
pub(super) fn register(registry: &Registry, fd: RawFd, interest: Interest) -> io::Result<bool> {
    match registry.register(&mut SourceFd(&fd), Token(fd as usize), interest.to_mio()) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Re-registers `fd` (`EPOLL_CTL_MOD`), which also makes epoll report its
/// state again; registers it anew if the fd number was closed and reused
/// behind the reactor's back.
pub(super) fn rearm(registry: &Registry, fd: RawFd, interest: Interest) -> io::Result<()> {
    let (token, mio_interest) = (Token(fd as usize), interest.to_mio());
    match registry.reregister(&mut SourceFd(&fd), token, mio_interest) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
            registry.register(&mut SourceFd(&fd), token, mio_interest)
        }
        other => other,
    }
}

impl Reactor {
    /// Runs `f` on the fd table and the epoll registry.
    pub(super) fn with_fds<R>(&self, f: impl FnOnce(&mut FdTable, &Registry) -> R) -> R {
        let poll = self.poll.borrow();
        f(&mut self.fds.borrow_mut(), poll.0.registry())
    }
}

/// A temporary wait for readiness of a borrowed fd, in one reactor;
/// removed when dropped.
#[derive(Debug)]
pub(crate) struct FdWait {
    /// The reactor it waits in.
    reactor: ReactorId,
    /// Its fd.
    fd: RawFd,
    /// Its key among the fd's waits; `None` for an always-ready fd.
    key: Option<usize>,
}

impl FdWait {
    /// Starts a wait for `interest` on `fd` in `reactor`, woken through
    /// `waker`.
    ///
    /// # Errors
    ///
    /// The OS error for a bad fd.
    pub(crate) fn new(
        reactor: &Reactor,
        fd: RawFd,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<FdWait> {
        let wait = WaitEntry {
            interest,
            fired: Interest::NONE,
            waker: Some(waker.clone()),
        };
        let key = reactor.with_fds(|table, registry| {
            if let Some(entry) = table.get_mut(fd) {
                let wanted = entry.interest | interest;
                rearm(registry, fd, wanted)?;
                entry.interest = wanted;
                return Ok(Some(entry.waits.insert(wait)));
            }
            if !register(registry, fd, interest)? {
                return Ok(None);
            }
            let mut waits = Slab::new();
            let key = waits.insert(wait);
            let sides = None;
            table.insert(
                fd,
                Entry {
                    interest,
                    sides,
                    waits,
                },
            );
            Ok::<_, io::Error>(Some(key))
        })?;
        Ok(FdWait {
            reactor: reactor.id,
            fd,
            key,
        })
    }

    /// True if it waits in `reactor`.
    pub(crate) fn is_in(&self, reactor: &Reactor) -> bool {
        self.reactor == reactor.id
    }

    /// What of `interest` has fired; all of it for an always-ready fd.
    /// Otherwise nothing yet, and `waker` is woken when something fires.
    /// `reactor` is the one it waits in.
    pub(crate) fn fired(&self, reactor: &Reactor, interest: Interest, waker: &Waker) -> Interest {
        let Some(key) = self.key else {
            return interest;
        };
        let mut table = reactor.fds.borrow_mut();
        let Some(wait) = table.get_mut(self.fd).and_then(|e| e.waits.get_mut(key)) else {
            return Interest::NONE;
        };
        if wait.fired.is_empty() && !wait.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            wait.waker = Some(waker.clone());
        }
        wait.fired
    }

    /// Polls a wait for `interest` on `fd` kept in `slot`, made (again, if
    /// it was made in another runtime) in `reactor`: `Ready` once the fd is
    /// ready (or in error) for it.
    pub(crate) fn poll(
        slot: &mut Option<FdWait>,
        reactor: &Reactor,
        fd: RawFd,
        interest: Interest,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if slot.as_ref().is_some_and(|w| !w.is_in(reactor)) {
            *slot = None;
        }
        let wait = match slot {
            Some(wait) => wait,
            None => match FdWait::new(reactor, fd, interest, cx.waker()) {
                Ok(wait) => slot.insert(wait),
                Err(e) => return Poll::Ready(Err(e)),
            },
        };
        match wait.fired(reactor, interest, cx.waker()).is_empty() {
            true => Poll::Pending,
            false => Poll::Ready(Ok(())),
        }
    }
}

impl Drop for FdWait {
    fn drop(&mut self) {
        let (Some(key), Some(reactor)) = (self.key, Reactor::of(self.reactor)) else {
            return;
        };
        reactor.with_fds(|table, registry| {
            if let Some(entry) = table.get_mut(self.fd) {
                entry.waits.try_remove(key);
            }
            table.remove_if_unused(self.fd, registry);
        });
    }
}
