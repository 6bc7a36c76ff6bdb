//! A thread that waits on a reactor while another executor drives the
//! runtime (`xiio::compat::on_executor`).
//!
//! The other executor polls; nothing of xiio blocks in `epoll_wait` then.
//! So a `Poller` thread blocks in `poll(2)` on a dup of the epoll fd
//! (readable while events are pending) until the next deadline, then wakes
//! the wakers it was given. It is armed at the end of a pending poll and
//! disarms itself when it fires, so it never spins on events the
//! executor's thread has not collected yet.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::Instant;

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd};

/// The thread that waits on a reactor while another executor drives the
/// runtime; stopped and joined when dropped.
pub(crate) struct Poller {
    /// What the thread and the runtime share.
    shared: Arc<Shared>,
    /// The thread, joined when the runtime is dropped.
    thread: Option<JoinHandle<()>>,
}

/// The state of a poller.
struct Shared {
    /// What to wait for, and whom to wake.
    state: Mutex<Armed>,
    /// A dup of the runtime's epoll fd.
    epoll: OwnedFd,
    /// Written to make the thread look at `state` again.
    interrupt: OwnedFd,
}

/// What a poller waits for.
#[derive(Default)]
struct Armed {
    /// Whom to wake when the reactor has events or the deadline passed;
    /// empty while disarmed.
    wakers: Vec<Waker>,
    /// The earliest deadline of the runtime's timers.
    deadline: Option<Instant>,
    /// True when the runtime is gone.
    quit: bool,
}

impl Poller {
    /// Starts the thread for the reactor whose epoll fd (a dup) is `epoll`.
    pub(crate) fn start(epoll: OwnedFd) -> Poller {
        let shared = Arc::new(Shared {
            state: Mutex::new(Armed::default()),
            epoll,
            interrupt: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                .expect("eventfd for the poller"),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("xiio-poller".into())
                .spawn(move || shared.run())
                .expect("a thread for the poller")
        };
        Poller {
            shared,
            thread: Some(thread),
        }
    }

    /// Arms the poller: wake `waker` when the reactor has events or at
    /// `deadline` (the runtime's earliest).
    pub(crate) fn arm(&self, deadline: Option<Instant>, waker: &Waker) {
        let mut state = self.shared.lock();
        let was_armed = !state.wakers.is_empty();
        let known = state.wakers.iter().any(|w| w.will_wake(waker));
        if !known {
            state.wakers.push(waker.clone());
        }
        let earlier = deadline.is_some_and(|d| state.deadline.is_none_or(|old| d < old));
        state.deadline = deadline;
        drop(state);
        // The thread sleeps with the old setting: interrupt it only if
        // that matters (it was disarmed, or must wake up sooner).
        if !was_armed || earlier {
            self.shared.interrupt();
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shared.lock().quit = true;
        self.shared.interrupt();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Armed> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn interrupt(&self) {
        let _ = rustix::io::write(&self.interrupt, &1u64.to_ne_bytes());
    }

    /// The thread's loop.
    fn run(&self) {
        loop {
            let (armed, deadline) = {
                let state = self.lock();
                if state.quit {
                    return;
                }
                (!state.wakers.is_empty(), state.deadline)
            };
            let timeout = if armed {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                None
            };
            let timeout = timeout.map(|t| Timespec {
                tv_sec: t.as_secs() as _,
                tv_nsec: t.subsec_nanos() as _,
            });
            let mut fds = vec![PollFd::new(&self.interrupt, PollFlags::IN)];
            if armed {
                fds.push(PollFd::new(&self.epoll, PollFlags::IN));
            }
            match rustix::io::retry_on_intr(|| rustix::event::poll(&mut fds, timeout.as_ref())) {
                Ok(_) => {}
                Err(_) => return, // the fds are gone: nothing left to do
            }
            if !fds[0].revents().is_empty() {
                let mut counter = [0; 8];
                let _ = rustix::io::read(&self.interrupt, &mut counter);
                continue; // look at the new setting
            }
            let events = fds.get(1).is_some_and(|fd| !fd.revents().is_empty());
            let due = deadline.is_some_and(|d| Instant::now() >= d);
            if events || due {
                let wakers = {
                    let mut state = self.lock();
                    state.deadline = None;
                    std::mem::take(&mut state.wakers)
                };
                wakers.into_iter().for_each(Waker::wake);
            }
        }
    }
}
