//! The reactor: one `mio::Poll` for fd readiness, and the timers (a wheel
//! and an ordered set, in `timers.rs`).

use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Poll, Registry, Token};
use slab::Slab;

use super::timers::{TimerKey, Timers};
use crate::Interest;
use crate::fd::source::Source;

/// The token of the cross-thread `mio::Waker`; fd tokens are the fd numbers.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// Fd readiness and timers of one runtime.
///
/// Both are indexed, never scanned: an fd event finds its entry by fd
/// number (the token), a timer lives in a slab and in a wheel slot or an
/// ordered set. So the cost of one wake-up does not grow with the number
/// of other idle fds and timers (a timer costs O(1) to arm and cancel in
/// the wheel, O(log n) in the small set of the current millisecond).
pub(crate) struct Reactor {
    /// The epoll instance.
    poll: Poll,
    /// Reused buffer for `epoll_wait` results.
    events: Events,
    /// Every fd in the epoll set, indexed by fd number (the kernel hands out
    /// the lowest free numbers, so this stays dense).
    fds: Vec<Option<FdEntry>>,
    /// How many entries of `fds` are in use.
    live_fds: usize,
    /// The timers: a wheel and an ordered set (see `timers.rs`).
    timers: Timers,
    /// Wakers collected by a turn, woken after the reactor is released (a
    /// waker may run code that needs the reactor again).
    pub(crate) to_wake: Vec<Waker>,
}

/// One fd's registration with epoll (always edge-triggered), of one of two
/// kinds, or both at once:
///
/// - persistent: an owning wrapper's [`Source`], registered for both
///   directions from the first wait until the wrapper is dropped, which
///   keeps its readiness itself (see `fd/source.rs`);
/// - temporary: waits on a borrowed fd ([`Condition`](crate::Condition),
///   `xiio::read` and the like). The registration is made (or re-armed
///   with `EPOLL_CTL_MOD`) when a waiter arrives, and removed when the last
///   one leaves, since the fd belongs to someone else and may be closed
///   after the wait. Re-arming on every new waiter makes epoll report the
///   fd's current state again, so a wait never misses readiness that an
///   earlier edge already reported. A temporary wait on an fd that has a
///   source (a `Condition` on a socket) shares the source's registration.
struct FdEntry {
    /// What is registered with epoll: the union of the waiters' interests,
    /// or both directions for a source.
    interest: Interest,
    /// The persistent registration, if an owning wrapper made one.
    source: Option<Rc<Source>>,
    /// The temporary waits on this fd.
    waiters: Slab<Waiter>,
}

/// One task's wait on one fd.
struct Waiter {
    /// What it waits for.
    interest: Interest,
    /// What has fired so far (a subset of `interest`).
    fired: Interest,
    /// Whom to wake; taken when woken, set again by the next poll.
    waker: Option<Waker>,
}

/// Where a waiter lives: its fd and its index among that fd's waiters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaiterKey {
    fd: RawFd,
    index: usize,
}

impl Reactor {
    /// A reactor with its epoll instance and cross-thread waker.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let reactor = Reactor {
            poll,
            events: Events::with_capacity(1024),
            fds: Vec::new(),
            live_fds: 0,
            timers: Timers::new(Instant::now()),
            to_wake: Vec::new(),
        };
        Ok((reactor, waker))
    }

    /// Starts a wait on `fd`.
    ///
    /// Returns `Ok(None)` for an fd that epoll refuses because it is always
    /// ready (regular files, `EPERM`), and the OS error for a bad fd.
    pub(crate) fn add_waiter(
        &mut self,
        fd: RawFd,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<Option<WaiterKey>> {
        let registry = self.poll.registry();
        let waiter = Waiter {
            interest,
            fired: Interest::NONE,
            waker: Some(waker.clone()),
        };
        if let Some(entry) = entry_mut(&mut self.fds, fd) {
            let wanted = entry.interest | interest;
            rearm(registry, fd, wanted)?;
            entry.interest = wanted;
            let index = entry.waiters.insert(waiter);
            return Ok(Some(WaiterKey { fd, index }));
        }
        if !register(registry, fd, interest)? {
            return Ok(None);
        }
        let mut waiters = Slab::new();
        let index = waiters.insert(waiter);
        self.insert_entry(
            fd,
            FdEntry {
                interest,
                source: None,
                waiters,
            },
        );
        Ok(Some(WaiterKey { fd, index }))
    }

    /// Registers an owning wrapper's source for both directions. Returns
    /// false for an fd that epoll refuses because it is always ready.
    pub(crate) fn register_source(&mut self, source: &Rc<Source>) -> io::Result<bool> {
        let fd = source.fd();
        let both = Interest::READABLE | Interest::WRITABLE;
        let registry = self.poll.registry();
        if let Some(entry) = entry_mut(&mut self.fds, fd) {
            // Temporary waiters got there first (a `Condition` on the fd).
            rearm(registry, fd, both)?;
            entry.interest = both;
            entry.source = Some(source.clone());
            return Ok(true);
        }
        if !register(registry, fd, both)? {
            return Ok(false);
        }
        self.insert_entry(
            fd,
            FdEntry {
                interest: both,
                source: Some(source.clone()),
                waiters: Slab::new(),
            },
        );
        Ok(true)
    }

    /// Removes a source's registration, before its owner closes the fd.
    pub(crate) fn deregister_source(&mut self, fd: RawFd) {
        let Some(entry) = entry_mut(&mut self.fds, fd) else {
            return;
        };
        entry.source = None;
        if entry.waiters.is_empty() {
            self.remove_entry(fd);
        }
    }

    fn insert_entry(&mut self, fd: RawFd, entry: FdEntry) {
        let index = fd as usize;
        if self.fds.len() <= index {
            self.fds.resize_with(index + 1, || None);
        }
        self.fds[index] = Some(entry);
        self.live_fds += 1;
    }

    /// Forgets an fd and takes it out of the epoll set. Fails harmlessly
    /// if the fd was closed meanwhile: closing already removed it.
    fn remove_entry(&mut self, fd: RawFd) {
        if let Some(slot) = self.fds.get_mut(fd as usize) {
            if slot.take().is_some() {
                self.live_fds -= 1;
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
            }
        }
    }

    /// A dup of the epoll instance's fd (readable while events are
    /// pending), for a thread that waits on the reactor from outside.
    pub(crate) fn poll_fd(&self) -> io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.poll.registry().as_fd().try_clone_to_owned()
    }

    /// What each waker waits for, by the address of its data (for the task
    /// tree): timers with their deadlines, fds with their interest.
    pub(crate) fn waits(&self, now: Instant) -> std::collections::HashMap<usize, Vec<String>> {
        let mut waits: std::collections::HashMap<usize, Vec<String>> = Default::default();
        for timer in self.timers.iter() {
            if let Some(waker) = &timer.waker {
                let wait = match timer.deadline.checked_duration_since(now) {
                    Some(left) => format!("a timer due in {left:?}"),
                    None => "a timer due now".to_string(),
                };
                waits.entry(waker.data() as usize).or_default().push(wait);
            }
        }
        for (fd, entry) in self.fds.iter().enumerate() {
            let Some(entry) = entry else {
                continue;
            };
            for (_, waiter) in &entry.waiters {
                if let Some(waker) = &waiter.waker {
                    let wait = format!("fd {fd} {:?}", waiter.interest);
                    waits.entry(waker.data() as usize).or_default().push(wait);
                }
            }
            if let Some(source) = &entry.source {
                source.waits(&mut waits);
            }
        }
        waits
    }

    /// The fds in the epoll set, in ascending order.
    pub(crate) fn registered_fds(&self) -> Vec<RawFd> {
        let fds = self.fds.iter().enumerate();
        fds.filter_map(|(fd, entry)| entry.as_ref().map(|_| fd as RawFd))
            .collect()
    }

    /// True if any fd is in the epoll set.
    pub(crate) fn has_fds(&self) -> bool {
        self.live_fds > 0
    }

    /// What has fired for a waiter so far.
    pub(crate) fn fired(&self, key: WaiterKey) -> Interest {
        self.waiter(key).map_or(Interest::NONE, |w| w.fired)
    }

    /// Sets the waker a waiter wakes next.
    pub(crate) fn set_waker(&mut self, key: WaiterKey, waker: &Waker) {
        if let Some(w) = entry_mut(&mut self.fds, key.fd).and_then(|e| e.waiters.get_mut(key.index))
        {
            match &w.waker {
                Some(old) if old.will_wake(waker) => {}
                _ => w.waker = Some(waker.clone()),
            }
        }
    }

    /// Ends a wait; the last waiter of an fd removes its registration.
    pub(crate) fn remove_waiter(&mut self, key: WaiterKey) {
        let Some(entry) = entry_mut(&mut self.fds, key.fd) else {
            return;
        };
        entry.waiters.try_remove(key.index);
        if entry.waiters.is_empty() && entry.source.is_none() {
            self.remove_entry(key.fd);
        }
    }

    fn waiter(&self, key: WaiterKey) -> Option<&Waiter> {
        self.fds
            .get(key.fd as usize)?
            .as_ref()?
            .waiters
            .get(key.index)
    }

    /// Adds a timer that wakes `waker` at `deadline`.
    pub(crate) fn add_timer(&mut self, deadline: Instant, waker: &Waker) -> TimerKey {
        self.timers.add(deadline, waker)
    }

    /// Sets the waker a pending timer wakes.
    pub(crate) fn set_timer_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(old) = self.timers.get_mut(key).and_then(|t| t.waker.as_mut()) {
            if !old.will_wake(waker) {
                *old = waker.clone();
            }
        }
    }

    /// True once the timer fired (its deadline passed on the runtime's
    /// clock): a woken sleep knows it is done without reading the clock.
    pub(crate) fn timer_fired(&mut self, key: TimerKey) -> bool {
        self.timers.get_mut(key).is_none_or(|t| t.waker.is_none())
    }

    /// Removes a timer (fired or not).
    pub(crate) fn remove_timer(&mut self, key: TimerKey) {
        self.timers.remove(key);
    }

    /// How many timers are live, and how many of them are still pending.
    pub(crate) fn timer_counts(&self) -> (usize, usize) {
        self.timers.counts()
    }

    /// When to wake up for the timers at the latest (see
    /// `Timers::next_wakeup`).
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        self.timers.next_wakeup()
    }

    /// The earliest pending deadline, exactly (for a mock clock's jump).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Collects the wakers of timers due at `now` into `to_wake`.
    pub(crate) fn fire_timers(&mut self, now: Instant) {
        self.timers.fire(now, &mut self.to_wake);
    }

    /// Waits for fd events for at most `timeout` (`None`: no limit) and
    /// collects the wakers of the waiters they satisfy into `to_wake`.
    pub(crate) fn poll_events(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        for event in self.events.iter() {
            if event.token() == WAKER_TOKEN {
                continue;
            }
            let Some(Some(entry)) = self.fds.get_mut(event.token().0) else {
                continue;
            };
            // An error or a hang-up makes the fd "ready" for both: the next
            // read or write returns the error or end-of-file at once.
            let read_closed = event.is_read_closed() || event.is_error();
            let write_closed = event.is_write_closed() || event.is_error();
            let mut ready = Interest::NONE;
            if event.is_readable() || read_closed {
                ready = ready | Interest::READABLE;
            }
            if event.is_writable() || write_closed {
                ready = ready | Interest::WRITABLE;
            }
            if let Some(source) = &entry.source {
                source.fire(ready, read_closed, write_closed, &mut self.to_wake);
            }
            for (_, waiter) in entry.waiters.iter_mut() {
                let hit = waiter.interest.and(ready);
                if !hit.is_empty() {
                    waiter.fired = waiter.fired | hit;
                    self.to_wake.extend(waiter.waker.take());
                }
            }
        }
        Ok(())
    }
}

/// The entry of `fd`, if it has one.
fn entry_mut(fds: &mut [Option<FdEntry>], fd: RawFd) -> Option<&mut FdEntry> {
    fds.get_mut(fd as usize)?.as_mut()
}

/// Adds an fd to the epoll set; false if epoll refuses it because it is
/// always ready (a regular file: `EPERM`).
fn register(registry: &Registry, fd: RawFd, interest: Interest) -> io::Result<bool> {
    match registry.register(&mut SourceFd(&fd), Token(fd as usize), interest.to_mio()) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Re-registers an fd (`EPOLL_CTL_MOD`), which also makes epoll report its
/// current readiness again; registers it anew if the fd number was closed
/// and reused behind the reactor's back.
fn rearm(registry: &Registry, fd: RawFd, interest: Interest) -> io::Result<()> {
    let token = Token(fd as usize);
    match registry.reregister(&mut SourceFd(&fd), token, interest.to_mio()) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
            registry.register(&mut SourceFd(&fd), token, interest.to_mio())
        }
        other => other,
    }
}
