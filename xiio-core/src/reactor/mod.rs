//! The reactor: the bottom layer of the runtime. It knows nothing of tasks
//! or groups: it waits for fds and deadlines and wakes plain `Waker`s.
//!
//! - `mod.rs`: [`Reactor`], one per runtime: the `mio::Poll`, a turn (one
//!   `epoll_wait`, then the wakes it produced), and the registrations of
//!   work outside the thread;
//! - `fds.rs`: the fd table, by fd number, and the temporary waits on
//!   borrowed fds ([`FdWait`]);
//! - `source.rs`: an owned fd's registration, [`Source`], with its
//!   readiness per direction;
//! - `timers.rs`: the timers, a wheel in front of an ordered set, and
//!   their handle [`Timer`];
//! - `notifier.rs`: the waker every other waker ends at;
//! - `clock.rs`: real or virtual time;
//! - `interest.rs`: readable, writable;
//! - `poller.rs`: a thread that waits on the reactor for another executor.
//!
//! **One identity rule.** Every registration (a `Source`, an `FdWait`, a
//! `Timer`, an `OutsideWork`) is a handle that names the reactor it was
//! made in by its [`ReactorId`], and nothing else says which runtime it
//! belongs to. It touches only that reactor's tables: while polled, the
//! leaf future that holds it compares the id with the running reactor's
//! and, if it was carried over from another runtime, registers anew in
//! this one; when dropped, it finds its reactor among the live reactors of
//! the thread ([`Reactor::of`]), and touches nothing if that reactor is
//! gone. Handles are plain data, so a `Sleep` is `Send` and `Sync`.

mod clock;
mod fds;
mod interest;
mod notifier;
mod poller;
mod source;
mod timers;

use std::cell::{OnceCell, RefCell};
use std::io;
use std::num::NonZeroU32;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use slab::Slab;

pub(crate) use clock::Clock;
pub(crate) use fds::FdWait;
pub use interest::Interest;
pub(crate) use notifier::Notifier;
pub(crate) use poller::Poller;
pub(crate) use source::{Direction, Source, SourceWait};
pub(crate) use timers::Timer;

use fds::FdTable;
use timers::Timers;

/// The token of the cross-thread `mio::Waker`; fd tokens are fd numbers.
const WAKER_TOKEN: Token = Token(usize::MAX);

thread_local! {
    /// The reactors alive on this thread (that of `xiio::run`, and the one
    /// `on_executor` futures share): where a registration dropped outside a
    /// poll finds its reactor.
    static LIVE: RefCell<Vec<Weak<Reactor>>> = const { RefCell::new(Vec::new()) };
}

/// Which reactor a registration belongs to: a number unique in the
/// process (never zero, so that an `Option` of a handle costs nothing;
/// 32 bits, so that a timer's handle is one word).
pub(crate) type ReactorId = NonZeroU32;

/// Source of reactor ids.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A new reactor id. Ids are never reused: a registration carried from a
/// dead runtime must never match a new one.
///
/// # Panics
///
/// After about four billion runtimes in one process.
fn next_id() -> ReactorId {
    let id = NEXT_ID.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
    id.ok().and_then(NonZeroU32::new).expect(
        "xiio ran out of runtime ids: about four billion runtimes were made in this process",
    )
}

/// The fds, timers and outside work of one runtime.
///
/// Everything is indexed, never scanned: an event finds its fd by number
/// (its token), a timer by its slab key. So a wake-up
/// costs the same with 10,000 idle fds and timers as with none.
pub(crate) struct Reactor {
    /// Its identity.
    pub(crate) id: ReactorId,
    /// The epoll instance and the buffer its events land in.
    poll: RefCell<(Poll, Events)>,
    /// Every fd in the epoll set, by fd number.
    fds: RefCell<FdTable>,
    /// The timers.
    timers: RefCell<Timers>,
    /// Real or virtual time.
    pub(crate) clock: Clock,
    /// The root waker; a wake from another thread interrupts `epoll_wait`.
    pub(crate) notifier: Arc<Notifier>,
    /// Work outside this thread in flight, each saying whether it still is
    /// (a mock clock does not jump while any is).
    outside: RefCell<Slab<InFlight>>,
    /// Wakers collected by a turn, woken once the tables are released (a
    /// woken task may be polled at once by a foreign executor).
    to_wake: RefCell<Vec<Waker>>,
    /// The thread that waits here while another executor drives the
    /// runtime, started on first use.
    poller: OnceCell<Poller>,
}

/// Says whether a piece of outside work is still in flight.
pub(crate) type InFlight = Rc<dyn Fn() -> bool>;

/// How the run loop waits when no task can run: the real clock sleeps in
/// `epoll_wait` until the next deadline; the mock clock of
/// `xiio::testing` jumps to it instead.
pub(crate) trait Park {
    /// Waits until something may wake the root: an fd event, a due timer,
    /// a wake from another thread. May return early.
    fn park(&self, reactor: &Reactor);
}

/// The real clock's park: `epoll_wait` until the next timer.
pub(crate) struct RealClock;

impl Park for RealClock {
    fn park(&self, reactor: &Reactor) {
        let timeout = reactor
            .next_wakeup()
            .map(|at| at.saturating_duration_since(Instant::now()));
        reactor.turn(timeout);
    }
}

impl Reactor {
    /// A reactor with its epoll instance, on a mock or the real clock.
    ///
    /// # Panics
    ///
    /// If epoll or its eventfd cannot be made (no fd left).
    pub(crate) fn new(mock_clock: bool) -> Rc<Reactor> {
        let make = || -> io::Result<(Poll, mio::Waker)> {
            let poll = Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
            Ok((poll, waker))
        };
        let (poll, waker) =
            make().unwrap_or_else(|e| panic!("xiio could not create its reactor: {e}"));
        let reactor = Rc::new(Reactor {
            id: next_id(),
            poll: RefCell::new((poll, Events::with_capacity(1024))),
            fds: RefCell::new(FdTable::default()),
            timers: RefCell::new(Timers::new(Instant::now())),
            clock: Clock::new(mock_clock),
            notifier: Arc::new(Notifier::new(waker)),
            outside: RefCell::new(Slab::new()),
            to_wake: RefCell::new(Vec::new()),
            poller: OnceCell::new(),
        });
        LIVE.with(|live| live.borrow_mut().push(Rc::downgrade(&reactor)));
        reactor
    }

    /// The live reactor of this thread with id `id`, if there is one.
    pub(crate) fn of(id: ReactorId) -> Option<Rc<Reactor>> {
        let find = |live: &RefCell<Vec<Weak<Reactor>>>| {
            let live = live.borrow();
            live.iter().find_map(|r| r.upgrade().filter(|r| r.id == id))
        };
        LIVE.try_with(find).ok().flatten()
    }

    /// One turn: an `epoll_wait` of at most `timeout` (`None`: no limit;
    /// cut short if a wake is pending), then the timers due; wakes what
    /// they made ready.
    pub(crate) fn turn(&self, timeout: Option<Duration>) {
        let blocking = timeout != Some(Duration::ZERO);
        let timeout = match blocking && !self.notifier.prepare_sleep() {
            true => Some(Duration::ZERO),
            false => timeout,
        };
        let result = {
            let (poll, events) = &mut *self.poll.borrow_mut();
            poll.poll(events, timeout).map(|()| {
                let mut fds = self.fds.borrow_mut();
                let mut to_wake = self.to_wake.borrow_mut();
                let events = events.iter().filter(|e| e.token() != WAKER_TOKEN);
                events.for_each(|event| fds.dispatch(event, &mut to_wake));
            })
        };
        if blocking {
            self.notifier.end_sleep();
        }
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("xiio: epoll_wait failed: {e}"),
        }
        let now = self.clock.now();
        self.timers
            .borrow_mut()
            .fire(now, &mut self.to_wake.borrow_mut());
        self.wake_collected();
    }

    /// Wakes what a turn collected, with every table released.
    fn wake_collected(&self) {
        let mut wakers = std::mem::take(&mut *self.to_wake.borrow_mut());
        wakers.drain(..).for_each(Waker::wake);
        // Give the empty buffer back, to reuse its allocation.
        *self.to_wake.borrow_mut() = wakers;
    }

    /// When the timers need the runtime next, at the latest (a time at or
    /// before the earliest deadline).
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        self.timers.borrow_mut().next_wakeup()
    }

    /// The earliest pending deadline, exactly, for a mock clock about to
    /// jump to it.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow_mut().next_deadline()
    }

    /// True if any fd is in the epoll set.
    pub(crate) fn has_fds(&self) -> bool {
        self.fds.borrow().live() > 0
    }

    /// The fds in the epoll set, in ascending order.
    pub(crate) fn registered_fds(&self) -> Vec<std::os::fd::RawFd> {
        self.fds.borrow().registered()
    }

    /// How many timers are live, and how many of them still pending.
    pub(crate) fn timer_counts(&self) -> (usize, usize) {
        self.timers.borrow().counts()
    }

    /// True if any outside work is still in flight.
    pub(crate) fn outside_work_in_flight(&self) -> bool {
        self.outside
            .borrow()
            .iter()
            .any(|(_, in_flight)| in_flight())
    }

    /// The thread that waits on this reactor for another executor.
    pub(crate) fn poller(&self) -> &Poller {
        self.poller.get_or_init(|| {
            let (poll, _) = &*self.poll.borrow();
            let epoll = std::os::fd::AsFd::as_fd(poll.registry()).try_clone_to_owned();
            Poller::start(epoll.expect("xiio: a dup of the epoll fd for the poller"))
        })
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        let _ = LIVE.try_with(|live| live.borrow_mut().retain(|r| r.strong_count() > 0));
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Work outside the runtime's thread (a thread-pool job, a child process)
/// that a mock clock waits for instead of jumping, while `in_flight` says
/// it is. Unregistered when dropped.
#[derive(Debug)]
pub(crate) struct OutsideWork {
    /// The reactor it counts in.
    reactor: ReactorId,
    /// Its key in the reactor's list.
    key: usize,
}

impl OutsideWork {
    /// Counts a piece of outside work in `reactor` while this lives.
    pub(crate) fn new(reactor: &Reactor, in_flight: InFlight) -> OutsideWork {
        let key = reactor.outside.borrow_mut().insert(in_flight);
        OutsideWork {
            reactor: reactor.id,
            key,
        }
    }

    /// True if it counts in `reactor`.
    pub(crate) fn is_in(&self, reactor: &Reactor) -> bool {
        self.reactor == reactor.id
    }
}

impl Drop for OutsideWork {
    fn drop(&mut self) {
        if let Some(reactor) = Reactor::of(self.reactor) {
            reactor.outside.borrow_mut().try_remove(self.key);
        }
    }
}
