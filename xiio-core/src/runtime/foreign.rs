//! `on_executor`: xiio futures awaited from another executor (tokio's
//! current-thread runtime, smol, `futures::executor`).
//!
//! The other executor polls; xiio has no loop of its own there. So at each
//! poll an [`OnExecutor`] enters this thread's xiio runtime (made at the
//! first such poll and kept for the next ones), runs one turn that does not
//! block (ready fds, due timers), and polls its future. Wakes between tasks
//! and from other threads reach the other executor's waker through the
//! usual chain of wakers. Only the reactor needs someone to wait on it: a
//! [`Poller`] thread per runtime blocks in `poll(2)` on the epoll fd
//! (readable while events are pending) until the next deadline, then wakes
//! the wakers it was given. It is armed at the end of a pending poll and
//! disarms itself when it fires, so it never spins on events the executor's
//! thread has not collected yet.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Instant;

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd};

use super::run::{Enter, Runtime, reset_budget, try_current};
use crate::TaskGroup;
use crate::task::try_finally::{Sink, collect_into};

thread_local! {
    /// The runtime of the futures awaited on this thread from other
    /// executors, kept between their polls.
    static PARKED: RefCell<Option<Rc<Runtime>>> = const { RefCell::new(None) };
}

/// This thread's runtime for [`OnExecutor`], made on first use.
fn parked() -> Rc<Runtime> {
    PARKED.with(|parked| {
        parked
            .borrow_mut()
            .get_or_insert_with(|| Runtime::new(false))
            .clone()
    })
}

/// Makes an xiio future (a sleep, a read, a task group, a socket...)
/// awaitable from another executor: tokio's current-thread runtime or
/// `LocalSet`, smol's `block_on` or `LocalExecutor`,
/// `futures::executor::block_on`.
///
/// At each poll, the returned future enters this thread's xiio runtime
/// (made at the first poll, kept for the next ones; all such futures on a
/// thread share it), runs one turn that does not block (ready fds, due
/// timers) and polls `fut`. While `fut` is pending, a helper thread waits
/// in the reactor until an fd is ready or the next deadline passes, and
/// wakes the other executor. So an xiio sleep of 100 ms takes 100 ms there
/// too, and overlaps with that executor's own timers.
///
/// Dropping it (the other executor's timeout, say) cancels `fut` at its
/// current await point; its [`try_finally`](crate::try_finally) cleanups
/// still run, in the drop, which blocks this thread until they are done.
///
/// The future is not `Send`: it must be polled on one thread, as
/// single-threaded executors do. For executors that move futures between
/// threads (tokio's multi-thread runtime), use `on_thread`.
///
/// Awaited inside `xiio::run`, it just polls `fut` in that runtime.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let value = futures::executor::block_on(xiio::compat::on_executor(async {
///     xiio::sleep(Duration::from_millis(20)).await;
///     42
/// }));
/// assert_eq!(value, 42);
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
pub fn on_executor<'a, F>(fut: F) -> OnExecutor<'a, F::Output>
where
    F: IntoFuture + 'a,
{
    let fut = fut.into_future();
    OnExecutor {
        root: Some(Box::pin(async move {
            // A task group at the root, as in `xiio::run`: it owns cleanups
            // orphaned inside, and resumes a panic only after them.
            let Ok(out) = TaskGroup::scope(async |_| Ok::<_, Infallible>(fut.await)).await;
            out
        })),
        runtime: None,
    }
}

/// The future of [`on_executor`].
#[must_use = "futures do nothing unless awaited"]
pub struct OnExecutor<'a, T> {
    /// The future in its root group; `None` once done.
    root: Option<Pin<Box<dyn Future<Output = T> + 'a>>>,
    /// The runtime it runs in, from its first poll outside `xiio::run`.
    runtime: Option<Rc<Runtime>>,
}

impl<T> Future for OnExecutor<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        let root = this
            .root
            .as_mut()
            .expect("xiio::compat::OnExecutor polled after it completed");
        if try_current().is_some() {
            // Inside xiio::run (or inside another OnExecutor's poll).
            return root.as_mut().poll(cx);
        }
        let runtime = this.runtime.get_or_insert_with(parked).clone();
        let _enter = Enter::new(runtime.clone(), "xiio::compat::on_executor");
        runtime.turn_now();
        reset_budget();
        match root.as_mut().poll(cx) {
            Poll::Ready(out) => {
                this.root = None;
                Poll::Ready(out)
            }
            Poll::Pending => {
                runtime.poller().arm(runtime.next_deadline(), cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for OnExecutor<'_, T> {
    /// Cancels the future and runs its pending cleanups to their end.
    fn drop(&mut self) {
        let Some(root) = self.root.take() else {
            return;
        };
        let runtime = match &self.runtime {
            Some(runtime) if try_current().is_none() => runtime.clone(),
            // Never polled (nothing can be pending), or inside a runtime
            // whose groups adopt the cleanups.
            _ => return drop(root),
        };
        let _enter = Enter::new(runtime.clone(), "dropping xiio::compat::OnExecutor");
        let sink = Sink::default();
        {
            let _collect = collect_into(&sink);
            drop(root);
        }
        let orphans = std::mem::take(&mut *sink.borrow_mut());
        if orphans.is_empty() {
            return;
        }
        let cleanups = pin!(TaskGroup::scope(async |tg| {
            for cleanup in orphans {
                tg.add_task(cleanup);
            }
            Ok::<_, Infallible>(())
        }));
        let result = catch_unwind(AssertUnwindSafe(|| runtime.block_on(cleanups)));
        if let Err(payload) = result {
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
    }
}

/// The thread that waits in a runtime's reactor while another executor
/// drives the runtime.
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
