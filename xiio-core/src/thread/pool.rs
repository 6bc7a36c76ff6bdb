//! `ThreadPool` and `run_blocking`: blocking work on other threads,
//! awaited from a task.
//!
//! A job is a `'static` closure that owns its data: it may outlive the task
//! that awaits it, because that task can be cancelled (dropped) or leaked
//! at any await point, and nothing may be sound only because a future is
//! polled to its end. The job and its awaiting future share only a `Slot`
//! behind an `Arc`; the worker that finishes the job stores the result
//! there and calls the stored waker, which interrupts the runtime's
//! `epoll_wait` from the worker thread.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};
use std::thread::ThreadId;

use crate::reactor::OutsideWork;
use crate::task::context;
use crate::task::trace::Wait;

/// How many workers the pool of [`run_blocking`] starts at most.
///
/// Jobs handed to `run_blocking` are mostly blocking calls that wait (file
/// I/O, DNS, a blocking library), not computations, so the limit is about
/// not exhausting the system's threads rather than about cores. Idle
/// workers exit at once, so the limit costs nothing while unused.
const DEFAULT_MAX_WORKERS: usize = 64;

/// A pool of worker threads that runs blocking closures for async tasks:
/// the Rust form of the Python original's `ThreadPool(max_workers)`.
///
/// - [`run`](ThreadPool::run) hands a closure to the pool and waits, without
///   blocking the runtime, for its value. Jobs run in the order they were
///   handed over, at most `max_workers` at a time.
/// - Workers start on demand, up to `max_workers`, and a worker exits as
///   soon as it finds the queue empty, as in the original: an idle pool has
///   no threads.
/// - A finished job wakes the awaiting task from the worker thread.
/// - A panic in a job reaches the awaiting task as a panic (the payload is
///   resumed there); the worker and the pool keep working.
/// - Cancelling (dropping) the awaiting future never blocks: a job that has
///   not started yet is skipped, a running job runs to its end on its
///   worker and its value is dropped there.
/// - Dropping the pool outside `xiio::run` blocks until the jobs still
///   running (or queued) have finished and their workers exited. Inside
///   `xiio::run` it never blocks: the jobs finish and the workers exit in
///   the background.
///
/// A `ThreadPool` is `Send + Sync`: share it by reference (tasks of a group
/// may borrow it; several threads, each with its own `xiio::run`, may use
/// it through `&` or an `Arc`). [`run`](ThreadPool::run) works in any
/// executor, not only in `xiio::run`; inside `xiio::run`, a job in flight
/// also keeps a mock clock from jumping (see
/// [`Builder::mock_clock`](crate::Builder::mock_clock)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let pool = xiio::thread::ThreadPool::new(2);
/// let values = xiio::run(xiio::task::gather([1, 2].map(|n| {
///     let pool = &pool;
///     async move {
///         let doubled = pool
///             .run(move || {
///                 std::thread::sleep(Duration::from_millis(20)); // blocking
///                 n * 2
///             })
///             .await;
///         Ok::<_, std::io::Error>(doubled)
///     }
/// })))?;
/// assert_eq!(values, [2, 4]);
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct ThreadPool {
    /// What the pool's handle and its workers share.
    shared: Arc<Shared>,
}

/// The state shared by a pool and its workers.
struct Shared {
    /// The most workers that run at once.
    max_workers: usize,
    /// The queue and the worker count.
    state: Mutex<State>,
    /// Notified when a worker exits, for `Drop for ThreadPool`.
    worker_exited: Condvar,
}

/// The mutable part of [`Shared`].
struct State {
    /// Jobs waiting for a worker, oldest first.
    queue: VecDeque<Job>,
    /// Worker threads alive (running a job or about to look at the queue).
    workers: usize,
    /// The ids of the worker threads that have started (see
    /// `Drop for ThreadPool`).
    threads: Vec<ThreadId>,
}

/// A job as the queue holds it: runs the closure and delivers its result.
type Job = Box<dyn FnOnce() + Send>;

impl ThreadPool {
    /// A pool that runs at most `max_workers` jobs at the same time.
    ///
    /// No thread starts before the first job.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = xiio::thread::ThreadPool::new(4);
    /// let answer = xiio::run(pool.run(|| 6 * 7));
    /// assert_eq!(answer, 42);
    /// ```
    ///
    /// # Panics
    ///
    /// If `max_workers` is 0.
    pub fn new(max_workers: usize) -> ThreadPool {
        assert!(
            max_workers > 0,
            "xiio::thread::ThreadPool::new needs at least one worker, got 0"
        );
        ThreadPool {
            shared: Arc::new(Shared {
                max_workers,
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    workers: 0,
                    threads: Vec::new(),
                }),
                worker_exited: Condvar::new(),
            }),
        }
    }

    /// The most jobs this pool runs at the same time.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(xiio::thread::ThreadPool::new(3).max_workers(), 3);
    /// ```
    pub fn max_workers(&self) -> usize {
        self.shared.max_workers
    }

    /// Runs `f` on a worker thread and returns its value, without blocking
    /// the task's thread meanwhile.
    ///
    /// The job is queued when the returned future is first polled. If `f`
    /// panics, this future panics with the same payload (inside a
    /// [`TaskGroup`](crate::TaskGroup), that fails the group); the pool is
    /// unharmed. An error is just a value: return a `Result`. Dropping the
    /// future before the job started skips the job; after it started, the
    /// job still runs to its end and its value is dropped on the worker.
    ///
    /// `f` and its value are `Send + 'static`: the job may outlive the
    /// awaiting task, so it owns what it uses (move data in, or clone an
    /// `Arc`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = xiio::thread::ThreadPool::new(1);
    /// let is_dir = xiio::run(async {
    ///     let path = std::env::temp_dir();
    ///     // A blocking call, off the runtime's thread.
    ///     pool.run(move || std::fs::metadata(path).map(|m| m.is_dir())).await
    /// })?;
    /// assert!(is_dir);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// With the job's panic; and if the pool has no worker and cannot start
    /// a thread.
    pub async fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        // Outside xiio::run (another executor) there is no clock to hold.
        let _work = context::try_reactor().map(|reactor| {
            let slot = slot.clone();
            OutsideWork::new(&reactor, Rc::new(move || slot.in_flight()))
        });
        let job_slot = slot.clone();
        if let Err(e) = self.submit(Box::new(move || job_slot.run(f))) {
            panic!("xiio::thread::ThreadPool could not start a worker thread: {e}");
        }
        // Dropped with this future: tells the job nobody waits any more.
        let _abandon = Abandon(&slot);
        let result = poll_fn(|cx| {
            let poll = slot.poll(cx.waker());
            if poll.is_pending() {
                context::trace_wait(|| Wait::Outside("a job on a thread pool"));
            }
            poll
        })
        .await;
        match result {
            Ok(value) => value,
            Err(payload) => resume_unwind(payload),
        }
    }

    /// Queues a job and starts a worker for it if the limit allows.
    fn submit(&self, job: Job) -> io::Result<()> {
        let mut state = self.shared.lock();
        state.queue.push_back(job);
        if state.workers >= self.shared.max_workers {
            return Ok(()); // a busy worker takes it when it is done
        }
        state.workers += 1;
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("xiio-worker".into())
            .spawn(move || shared.work());
        if let Err(e) = spawned {
            state.workers -= 1;
            if state.workers == 0 {
                // Nobody else would ever take the job.
                state.queue.pop_back();
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Shared {
    /// Locks the state; a panic never happens while it is locked, but if one
    /// did, the state is still consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker's life: run jobs until the queue is empty, then exit.
    fn work(&self) {
        let me = std::thread::current().id();
        self.lock().threads.push(me);
        loop {
            let job = {
                let mut state = self.lock();
                match state.queue.pop_front() {
                    Some(job) => job,
                    None => {
                        state.workers -= 1;
                        state.threads.retain(|&id| id != me);
                        self.worker_exited.notify_all();
                        return;
                    }
                }
            };
            // Never unwinds: the job catches the closure's panic.
            job();
        }
    }
}

impl Drop for ThreadPool {
    /// Outside `xiio::run`, waits until every job still queued or running
    /// has finished and the workers have exited. Inside it, returns at once
    /// (the runtime's thread must not block): the jobs run to their end and
    /// the workers exit on their own.
    fn drop(&mut self) {
        if context::try_reactor().is_some() {
            return;
        }
        let mut state = self.shared.lock();
        // The last handle may be dropped by a job of this very pool (an
        // `Arc<ThreadPool>` moved into it); that worker cannot wait for
        // itself.
        let me = std::thread::current().id();
        let own = usize::from(state.threads.contains(&me));
        while state.workers > own {
            state = self
                .shared
                .worker_exited
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("ThreadPool")
            .field("max_workers", &self.shared.max_workers)
            .field("workers", &state.workers)
            .field("queued", &state.queue.len())
            .finish()
    }
}

/// Runs `f`, a blocking closure, on a worker thread of xiio's shared pool
/// and returns its value, without blocking the task's thread meanwhile:
/// the Rust form of the Python original's `in_thread(fn)` (tokio calls it
/// `spawn_blocking`, smol `unblock`).
///
/// The shared pool is created on first use, is process-wide (every thread
/// and runtime uses the same one) and is never dropped. It runs at most 64
/// jobs at a time: meant for blocking calls that mostly wait (files, DNS,
/// blocking libraries); its workers exit when it is idle. For CPU-bound work
/// or another limit, create a [`ThreadPool`] and use
/// [`ThreadPool::run`], whose rules (panics, cancellation) apply here too.
///
/// # Examples
///
/// ```
/// xiio::run(async {
///     // A blocking read, off the runtime's thread.
///     let listing = xiio::thread::run_blocking(|| std::fs::read_dir(".").map(|d| d.count())).await?;
///     assert!(listing > 0);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Panics
///
/// With the job's panic.
pub async fn run_blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    shared_pool().run(f).await
}

/// The pool of [`run_blocking`]: created on first use, process-wide, never
/// dropped.
fn shared_pool() -> &'static ThreadPool {
    static SHARED: OnceLock<ThreadPool> = OnceLock::new();
    SHARED.get_or_init(|| ThreadPool::new(DEFAULT_MAX_WORKERS))
}

/// Queues `f` on the pool of [`run_blocking`] with nobody awaiting it: for
/// work that must be done although whoever asked for it is gone (the last
/// write of a dropped `fs::File`), which a cancelled `run_blocking` would
/// skip if it had not started. It holds no mock clock, and a panic in `f`
/// is dropped (a worker must not unwind).
///
/// # Errors
///
/// If the pool has no worker and cannot start a thread; `f` is dropped
/// unrun.
pub(crate) fn run_detached(f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    shared_pool().submit(Box::new(move || {
        let _ = catch_unwind(AssertUnwindSafe(f));
    }))
}

/// Where a job's result meets its awaiting future.
struct Slot<T> {
    /// Where the job is in its life.
    state: Mutex<SlotState<T>>,
    /// Set once the job is over *and* its wake was made: until then the
    /// job is outside work in flight. (Not "until the result is stored":
    /// between storing it and waking the task, a mock clock that saw no
    /// work left and no task woken would jump and fire a timeout around
    /// the job early. Not "until the result is taken" either: a task may
    /// wait on something else, a sleep, before it awaits the job, and the
    /// clock must then move.)
    over: AtomicBool,
}

/// The life of one job, as its awaiting future sees it.
enum SlotState<T> {
    /// Queued or running; the waker of the awaiting task, once polled.
    Pending(Option<Waker>),
    /// Finished: the value, or the panic's payload.
    Done(Result<T, Box<dyn Any + Send>>),
    /// The result was handed to the awaiting future.
    Taken,
    /// The awaiting future was dropped: skip the job if it has not started,
    /// drop its result if it has.
    Abandoned,
}

impl<T> Slot<T> {
    fn new() -> Slot<T> {
        Slot {
            state: Mutex::new(SlotState::Pending(None)),
            over: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs on the worker: calls `f` unless abandoned, stores its result and
    /// wakes the awaiting task.
    fn run(&self, f: impl FnOnce() -> T) {
        self.finish(f);
        self.over.store(true, Ordering::Release);
    }

    /// [`run`](Slot::run), up to and with the wake.
    fn finish(&self, f: impl FnOnce() -> T) {
        if matches!(*self.lock(), SlotState::Abandoned) {
            return; // cancelled before it started; `f` is dropped here
        }
        let result = catch_unwind(AssertUnwindSafe(f));
        let mut state = self.lock();
        match std::mem::replace(&mut *state, SlotState::Done(result)) {
            SlotState::Pending(waker) => {
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            _ => {
                // Abandoned while running: nobody wants the result. Drop it
                // (it may be big, or panic in its Drop) outside the lock.
                let result = std::mem::replace(&mut *state, SlotState::Abandoned);
                drop(state);
                drop(result);
            }
        }
    }

    /// True until the job is over and its wake made (see [`Slot::over`]).
    fn in_flight(&self) -> bool {
        !self.over.load(Ordering::Acquire)
    }

    /// Polled by the awaiting future.
    fn poll(&self, waker: &Waker) -> Poll<Result<T, Box<dyn Any + Send>>> {
        let mut state = self.lock();
        match &mut *state {
            SlotState::Pending(stored) => {
                match stored {
                    Some(old) if old.will_wake(waker) => {}
                    _ => *stored = Some(waker.clone()),
                }
                Poll::Pending
            }
            SlotState::Done(_) => match std::mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Done(result) => Poll::Ready(result),
                _ => unreachable!("matched Done above"),
            },
            SlotState::Taken | SlotState::Abandoned => {
                unreachable!("a job's future is not polled after it returned")
            }
        }
    }
}

/// Marks a job abandoned when its awaiting future is dropped (after it
/// returned, the state is `Taken` and this changes nothing that matters).
struct Abandon<'a, T>(&'a Slot<T>);

impl<T> Drop for Abandon<'_, T> {
    fn drop(&mut self) {
        let old = std::mem::replace(&mut *self.0.lock(), SlotState::Abandoned);
        // A finished result (or a panic payload) not taken is dropped here,
        // outside the lock.
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Wake, Waker};

    use super::Slot;

    /// A waker that records whether the job still counted as in flight
    /// when its wake was made.
    struct Check(Arc<Slot<u32>>, AtomicBool);

    impl Wake for Check {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.1.store(self.0.in_flight(), Ordering::SeqCst);
        }
    }

    // Regression: the job stopped counting as outside work once it stored
    // its result, before its wake reached the runtime; in that gap a mock
    // clock could jump and fire a timeout around the job early.
    #[test]
    fn a_job_counts_as_in_flight_until_its_wake_was_made() {
        let slot = Arc::new(Slot::new());
        let check = Arc::new(Check(slot.clone(), AtomicBool::new(false)));
        assert!(slot.poll(&Waker::from(check.clone())).is_pending());
        assert!(slot.in_flight());
        slot.run(|| 7);
        assert!(check.1.load(Ordering::SeqCst), "in flight while waking");
        assert!(!slot.in_flight(), "over once woken");
    }
}
