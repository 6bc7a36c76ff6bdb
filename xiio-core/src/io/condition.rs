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

use crate::Interest;
use crate::runtime;
use crate::runtime::registration::{FdWaiter, Timer};

/// What a task waits for: any of some fds becoming readable or writable, or
/// a deadline passing. Awaiting it says which fired.
///
/// This is the building block of every leaf future in xiio, as in the
/// Python original: [`read`](crate::read) waits on a `Condition` when the fd
/// has no data, [`sleep`](crate::sleep) is a `Condition` with only a
/// deadline. Conditions combine: interests on the same fd merge
/// (read | write) and the earliest deadline wins.
///
/// A `Condition` borrows its fds, so they cannot be closed while it waits.
/// A bad fd gives its OS error (`EBADF`); a regular file, which epoll
/// refuses, is always ready.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use xiio::Condition;
///
/// xiio::run(async {
///     let (reader, writer) = std::io::pipe()?;
///     let fired = Condition::new()
///         .readable(&reader)
///         .writable(&writer)
///         .timeout(Duration::from_secs(1))
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

    /// Also fires when `duration` has passed from [`now()`](crate::now).
    pub fn timeout(self, duration: Duration) -> Condition<'fd> {
        match crate::now().checked_add(duration) {
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
    type IntoFuture = Wait<'fd>;

    fn into_future(self) -> Wait<'fd> {
        Wait {
            condition: self,
            waiters: Vec::new(),
            timer: None,
        }
    }
}

/// The future of an awaited [`Condition`].
///
/// # Panics
///
/// When polled outside `xiio::run`.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<'fd> {
    /// What it waits for.
    condition: Condition<'fd>,
    /// One registration per fd of the condition, once polled.
    waiters: Vec<FdWaiter>,
    /// The deadline's timer, once polled.
    timer: Option<Timer>,
}

impl Future for Wait<'_> {
    type Output = io::Result<Fired>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<Fired>> {
        let this = &mut *self;
        runtime::with("xiio::Condition", |rt| {
            if this.waiters.len() < this.condition.fds.len() {
                for &(fd, interest) in &this.condition.fds[this.waiters.len()..] {
                    match FdWaiter::new(rt, fd.as_raw_fd(), interest, cx.waker()) {
                        Ok(waiter) => this.waiters.push(waiter),
                        Err(e) => {
                            this.waiters.clear();
                            return Poll::Ready(Err(e));
                        }
                    }
                }
            }
            let mut fired = Fired::default();
            for (waiter, &(fd, interest)) in this.waiters.iter().zip(&this.condition.fds) {
                let ready = waiter.fired(rt, interest);
                if !ready.is_empty() {
                    fired.fds.push((fd.as_raw_fd(), ready));
                }
            }
            fired.deadline_passed = this.condition.deadline.is_some_and(|d| rt.clock.now() >= d);
            if fired.fds.is_empty() && fired.deadline_passed && !this.condition.fds.is_empty() {
                // The reactor may not have reported fds registered just now:
                // say which are ready at this moment, as poll(2) would.
                fired.fds = ready_now(&this.condition.fds);
            }
            if !fired.fds.is_empty() || fired.deadline_passed {
                this.waiters.clear();
                this.timer = None;
                return Poll::Ready(Ok(fired));
            }
            for waiter in &this.waiters {
                waiter.set_waker(rt, cx.waker());
            }
            match (&this.timer, this.condition.deadline) {
                (Some(timer), _) => timer.set_waker(rt, cx.waker()),
                (None, Some(deadline)) => this.timer = Some(Timer::new(rt, deadline, cx.waker())),
                (None, None) => {}
            }
            Poll::Pending
        })
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
