//! The reactor: one `mio::Poll` for fd readiness, an ordered map of
//! deadlines for timers.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::RawFd;
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Poll, Registry, Token};
use slab::Slab;

use crate::Interest;

/// The token of the cross-thread `mio::Waker`; fd tokens are the fd numbers.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// Fd readiness and timers of one runtime.
///
/// Both are indexed, never scanned: an fd event finds its waiters through a
/// hash map keyed by fd, a timer lives in a slab and its deadline in an
/// ordered map. So the cost of one wake-up does not grow with the number of
/// other idle fds and timers (a timer costs O(log n) to add, to fire and to
/// cancel, O(1) to drop once fired).
pub(crate) struct Reactor {
    /// The epoll instance.
    poll: Poll,
    /// Reused buffer for `epoll_wait` results.
    events: Events,
    /// Every fd some task waits on, with its waiters.
    fds: HashMap<RawFd, FdEntry>,
    /// Live timers (pending or fired, until their `Timer` is dropped).
    timers: Slab<TimerEntry>,
    /// The slab keys of pending timers by (deadline, id); the id makes equal
    /// deadlines distinct and keeps them in creation order. (A B-tree beat a
    /// binary heap here: popping the earliest is a walk to the leftmost
    /// leaf, while a heap's sift-down crosses the whole array, missing the
    /// cache at 100k timers.)
    deadlines: BTreeMap<(Instant, u64), usize>,
    /// The next timer id.
    next_timer: u64,
    /// Wakers collected by a turn, woken after the reactor is released (a
    /// waker may run code that needs the reactor again).
    pub(crate) to_wake: Vec<Waker>,
}

/// One fd's registration with epoll, alive while any task waits on it.
///
/// The registration is made (or re-armed with `EPOLL_CTL_MOD`) when a waiter
/// arrives, and removed when the last one leaves. Re-arming on every new
/// waiter makes epoll report the fd's current state again, so a wait never
/// misses readiness that an earlier, edge-triggered event already reported.
struct FdEntry {
    /// The union of the waiters' interests, as registered with epoll.
    interest: Interest,
    /// The tasks waiting on this fd.
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

/// One timer.
struct TimerEntry {
    /// Its id, unique in this reactor (slab keys are reused).
    id: u64,
    /// When it fires.
    deadline: Instant,
    /// Whom to wake when it fires; `None` once it fired.
    waker: Option<Waker>,
}

/// Where a timer lives in the reactor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerKey {
    /// Its slab key.
    index: usize,
    /// Its id, to tell it from a later timer under the same slab key.
    id: u64,
}

impl Reactor {
    /// A reactor with its epoll instance and cross-thread waker.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let reactor = Reactor {
            poll,
            events: Events::with_capacity(1024),
            fds: HashMap::new(),
            timers: Slab::new(),
            deadlines: BTreeMap::new(),
            next_timer: 0,
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
        if let Some(entry) = self.fds.get_mut(&fd) {
            let wanted = entry.interest | interest;
            rearm(registry, fd, wanted)?;
            entry.interest = wanted;
            let index = entry.waiters.insert(waiter);
            return Ok(Some(WaiterKey { fd, index }));
        }
        match registry.register(&mut SourceFd(&fd), Token(fd as usize), interest.to_mio()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let mut waiters = Slab::new();
        let index = waiters.insert(waiter);
        self.fds.insert(fd, FdEntry { interest, waiters });
        Ok(Some(WaiterKey { fd, index }))
    }

    /// What has fired for a waiter so far.
    pub(crate) fn fired(&self, key: WaiterKey) -> Interest {
        self.waiter(key).map_or(Interest::NONE, |w| w.fired)
    }

    /// Sets the waker a waiter wakes next.
    pub(crate) fn set_waker(&mut self, key: WaiterKey, waker: &Waker) {
        if let Some(w) = self
            .fds
            .get_mut(&key.fd)
            .and_then(|e| e.waiters.get_mut(key.index))
        {
            match &w.waker {
                Some(old) if old.will_wake(waker) => {}
                _ => w.waker = Some(waker.clone()),
            }
        }
    }

    /// Ends a wait; the last waiter of an fd removes its registration.
    pub(crate) fn remove_waiter(&mut self, key: WaiterKey) {
        let Some(entry) = self.fds.get_mut(&key.fd) else {
            return;
        };
        entry.waiters.try_remove(key.index);
        if entry.waiters.is_empty() {
            self.fds.remove(&key.fd);
            // Fails harmlessly if the fd was closed meanwhile: closing
            // already removed it from epoll.
            let _ = self.poll.registry().deregister(&mut SourceFd(&key.fd));
        }
    }

    fn waiter(&self, key: WaiterKey) -> Option<&Waiter> {
        self.fds.get(&key.fd)?.waiters.get(key.index)
    }

    /// Adds a timer that wakes `waker` at `deadline`.
    pub(crate) fn add_timer(&mut self, deadline: Instant, waker: &Waker) -> TimerKey {
        let id = self.next_timer;
        self.next_timer += 1;
        let index = self.timers.insert(TimerEntry {
            id,
            deadline,
            waker: Some(waker.clone()),
        });
        self.deadlines.insert((deadline, id), index);
        TimerKey { index, id }
    }

    fn timer(&mut self, key: TimerKey) -> Option<&mut TimerEntry> {
        self.timers.get_mut(key.index).filter(|t| t.id == key.id)
    }

    /// Sets the waker a pending timer wakes.
    pub(crate) fn set_timer_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(old) = self.timer(key).and_then(|t| t.waker.as_mut()) {
            if !old.will_wake(waker) {
                *old = waker.clone();
            }
        }
    }

    /// True once the timer fired (its deadline passed on the runtime's
    /// clock): a woken sleep knows it is done without reading the clock.
    pub(crate) fn timer_fired(&mut self, key: TimerKey) -> bool {
        self.timer(key).is_none_or(|t| t.waker.is_none())
    }

    /// Removes a timer (fired or not).
    pub(crate) fn remove_timer(&mut self, key: TimerKey) {
        let Some(timer) = self.timer(key) else {
            return;
        };
        if timer.waker.is_some() {
            // Not fired yet: its deadline is still in the map.
            let deadline = timer.deadline;
            self.deadlines.remove(&(deadline, key.id));
        }
        self.timers.remove(key.index);
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first_key_value().map(|(k, _)| k.0)
    }

    /// Collects the wakers of timers due at `now` into `to_wake`.
    pub(crate) fn fire_timers(&mut self, now: Instant) {
        // "Due" includes a deadline equal to now: a sleep of zero is due at
        // once, and a mock clock that jumped to a deadline fires it.
        while let Some(entry) = self.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let index = entry.remove();
            // The entry is there: a pending timer's deadline is in the map
            // exactly as long as its slab entry has a waker.
            self.to_wake.extend(self.timers[index].waker.take());
        }
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
            let Some(entry) = self.fds.get_mut(&(event.token().0 as RawFd)) else {
                continue;
            };
            // An error or a hang-up makes the fd "ready" for both: the next
            // read or write returns the error or end-of-file at once.
            let mut ready = Interest::NONE;
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                ready = ready | Interest::READABLE;
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                ready = ready | Interest::WRITABLE;
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
