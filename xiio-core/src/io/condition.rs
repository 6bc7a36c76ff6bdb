//! `Condition`: wait until any of some fds is ready or a deadline passes.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::ops::BitOr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::reactor::{FdWait, Interest, Timer};
use crate::task::context;
use crate::task::trace::Wait;

/// What a task waits for: any of some fds becoming readable or writable, or
/// a deadline passing. Awaiting it says which fired.
///
/// In the Python original every wait is a `Condition`. Here it is the tool
/// for waiting on several borrowed fds and a deadline at once, as `poll(2)`
/// does (the process module waits for a child's exit or a grace period
/// with one); the other leaf futures register with the reactor directly.
/// Conditions combine: interests on the same fd merge (read | write) and
/// the earliest deadline wins.
///
/// A `Condition` borrows its fds, so they cannot be closed while it waits.
/// A bad fd gives its OS error (`EBADF`); a regular file, which epoll
/// refuses, is always ready.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use xiio::io::Condition;
///
/// xiio::run(async {
///     let (reader, writer) = std::io::pipe()?;
///     let fired = Condition::new()
///         .readable(&reader)
///         .writable(&writer)
///         .deadline_after(Duration::from_secs(1))
///         .await?;
///     // An empty pipe's write end is writable, its read end is not.
///     assert!(fired.is_writable(&writer));
///     assert!(!fired.is_readable(&reader));
///     assert!(!fired.deadline_passed());
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Default)]
#[must_use = "a Condition does nothing unless awaited"]
pub struct Condition<'fd> {
    /// The fds and what to wait for on each; one entry per fd.
    fds: Vec<(BorrowedFd<'fd>, Interest)>,
    /// The earliest deadline, if any.
    deadline: Option<Instant>,
}

impl<'fd> Condition<'fd> {
    /// A condition that waits for nothing yet (awaited as is, it never
    /// fires).
    pub fn new() -> Condition<'fd> {
        Condition::default()
    }

    /// Also fires when `fd` is readable (or at end-of-file, or in error).
    pub fn readable(self, fd: &'fd impl AsFd) -> Condition<'fd> {
        self.fd(fd, Interest::READABLE)
    }

    /// Also fires when `fd` is writable (or its peer is gone, or in error).
    pub fn writable(self, fd: &'fd impl AsFd) -> Condition<'fd> {
        self.fd(fd, Interest::WRITABLE)
    }

    /// Also fires when `fd` is ready for `interest`.
    pub fn fd(mut self, fd: &'fd impl AsFd, interest: Interest) -> Condition<'fd> {
        self.add(fd.as_fd(), interest);
        self
    }

    /// Also fires at `deadline`; of several deadlines the earliest counts.
    pub fn deadline(mut self, deadline: Instant) -> Condition<'fd> {
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        self
    }

    /// Also fires when `duration` has passed from
    /// [`now()`](crate::time::now): a deadline, which fires the condition
    /// (unlike [`xiio::timeout`](crate::timeout), which cancels a future).
    pub fn deadline_after(self, duration: Duration) -> Condition<'fd> {
        match crate::time::now().checked_add(duration) {
            Some(deadline) => self.deadline(deadline),
            None => self,
        }
    }

    /// Both conditions in one: fires when either would.
    pub fn combine(mut self, other: Condition<'fd>) -> Condition<'fd> {
        for (fd, interest) in other.fds {
            self.add(fd, interest);
        }
        match other.deadline {
            Some(deadline) => self.deadline(deadline),
            None => self,
        }
    }

    /// The earliest deadline, if any.
    pub fn get_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// What this condition waits for on `fd`, if anything.
    pub fn interest(&self, fd: &impl AsFd) -> Option<Interest> {
        let raw = fd.as_fd().as_raw_fd();
        self.fds
            .iter()
            .find(|(f, _)| f.as_raw_fd() == raw)
            .map(|(_, i)| *i)
    }

    fn add(&mut self, fd: BorrowedFd<'fd>, interest: Interest) {
        match self
            .fds
            .iter_mut()
            .find(|(f, _)| f.as_raw_fd() == fd.as_raw_fd())
        {
            Some((_, i)) => *i = *i | interest,
            None => self.fds.push((fd, interest)),
        }
    }
}

impl<'fd> BitOr for Condition<'fd> {
    type Output = Condition<'fd>;

    /// Same as [`Condition::combine`].
    fn bitor(self, other: Condition<'fd>) -> Condition<'fd> {
        self.combine(other)
    }
}

impl fmt::Debug for Condition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("fds", &self.fds)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl<'fd> IntoFuture for Condition<'fd> {
    type Output = io::Result<Fired>;
    type IntoFuture = ConditionWait<'fd>;

    fn into_future(self) -> ConditionWait<'fd> {
        ConditionWait {
            condition: self,
            waits: Vec::new(),
            timer: None,
        }
    }
}

/// The future of an awaited [`Condition`]. Carried from one `xiio::run` to
/// the next, it waits in the new runtime.
///
/// # Panics
///
/// When polled outside `xiio::run`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait<'fd> {
    /// What it waits for.
    condition: Condition<'fd>,
    /// One registration per fd of the condition, once polled.
    waits: Vec<FdWait>,
    /// The deadline's timer, once polled.
    timer: Option<Timer>,
}

impl Future for ConditionWait<'_> {
    type Output = io::Result<Fired>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Fired>> {
        let this = &mut *self;
        let reactor = context::reactor();
        // Carried over from another runtime: wait here instead.
        if this.waits.first().is_some_and(|w| !w.is_in(&reactor))
            || this.timer.as_ref().is_some_and(|t| !t.is_in(&reactor))
        {
            this.waits.clear();
            this.timer = None;
        }
        for &(fd, interest) in &this.condition.fds[this.waits.len()..] {
            match FdWait::new(&reactor, fd.as_raw_fd(), interest, cx.waker()) {
                Ok(wait) => this.waits.push(wait),
                Err(e) => {
                    this.waits.clear();
                    return Poll::Ready(Err(e));
                }
            }
        }
        let mut fired = Fired::default();
        for (wait, &(fd, interest)) in this.waits.iter().zip(&this.condition.fds) {
            let ready = wait.fired(&reactor, interest, cx.waker());
            if !ready.is_empty() {
                fired.fds.push((fd.as_raw_fd(), ready));
            }
        }
        let deadline = this.condition.deadline;
        fired.deadline_passed = deadline.is_some_and(|d| reactor.clock.now() >= d);
        if fired.fds.is_empty() && fired.deadline_passed && !this.condition.fds.is_empty() {
            // The reactor may not have reported fds registered just now:
            // say which are ready at this moment, as poll(2) would.
            fired.fds = ready_now(&this.condition.fds);
        }
        if !fired.fds.is_empty() || fired.deadline_passed {
            this.waits.clear();
            this.timer = None;
            return Poll::Ready(Ok(fired));
        }
        if let Some(deadline) = deadline {
            match &this.timer {
                Some(timer) => drop(timer.fired(&reactor, deadline, cx.waker())),
                None => this.timer = Some(Timer::new(&reactor, deadline, cx.waker())),
            }
            context::trace_wait(|| Wait::Timer(deadline));
        }
        for &(fd, interest) in &this.condition.fds {
            context::trace_wait(|| Wait::Fd(fd.as_raw_fd(), interest));
        }
        Poll::Pending
    }
}

/// Which of `fds` are ready right now, without waiting (`poll(2)` with a
/// zero timeout).
fn ready_now(fds: &[(BorrowedFd<'_>, Interest)]) -> Vec<(RawFd, Interest)> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|&(fd, _)| PollFd::from_borrowed_fd(fd, PollFlags::IN | PollFlags::OUT))
        .collect();
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    if rustix::event::poll(&mut polled, Some(&zero)).is_err() {
        return Vec::new();
    }
    let gone = PollFlags::HUP | PollFlags::ERR;
    polled
        .iter()
        .zip(fds)
        .filter_map(|(p, &(fd, interest))| {
            let events = p.revents();
            let mut ready = Interest::NONE;
            if events.intersects(PollFlags::IN | gone) {
                ready = ready | Interest::READABLE;
            }
            if events.intersects(PollFlags::OUT | gone) {
                ready = ready | Interest::WRITABLE;
            }
            let ready = ready.and(interest);
            (!ready.is_empty()).then(|| (fd.as_raw_fd(), ready))
        })
        .collect()
}

/// What fired when a [`Condition`] was awaited: the ready fds with their
/// readiness, and whether the deadline passed. Several may fire at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// The fds that are ready, each with what it is ready for.
    fds: Vec<(RawFd, Interest)>,
    /// Whether the condition's deadline passed.
    deadline_passed: bool,
}

impl Fired {
    /// What `fd` is ready for, if it fired.
    pub fn readiness(&self, fd: &impl AsFd) -> Option<Interest> {
        let raw = fd.as_fd().as_raw_fd();
        self.fds.iter().find(|(f, _)| *f == raw).map(|(_, i)| *i)
    }

    /// True if `fd` fired as readable.
    pub fn is_readable(&self, fd: &impl AsFd) -> bool {
        self.readiness(fd).is_some_and(Interest::is_readable)
    }

    /// True if `fd` fired as writable.
    pub fn is_writable(&self, fd: &impl AsFd) -> bool {
        self.readiness(fd).is_some_and(Interest::is_writable)
    }

    /// True if the deadline passed.
    pub fn deadline_passed(&self) -> bool {
        self.deadline_passed
    }

    /// The ready fds (as raw numbers) with their readiness.
    pub fn fds(&self) -> impl Iterator<Item = (RawFd, Interest)> + '_ {
        self.fds.iter().copied()
    }
}
