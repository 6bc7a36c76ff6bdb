//! The runtime: `xiio::run`, its `Builder`, and the run loop.

use std::cell::{Cell, OnceCell, RefCell};

use slab::Slab;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::clock::Clock;
use super::foreign::Poller;
use super::notifier::Notifier;
use super::reactor::Reactor;
use crate::TaskGroup;

thread_local! {
    /// The runtime running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Runtime>>> = const { RefCell::new(None) };

    /// How many more tasks groups may poll before the run loop looks at fds
    /// and timers again; `None` (no limit) outside `xiio::run`. Kept apart
    /// from `CURRENT` because it is read at every poll of a child.
    static BUDGET: Cell<Option<u32>> = const { Cell::new(None) };

    /// The state of the seeded scheduler's generator (see `Builder::seed`);
    /// `None` without a seed. Read by every group at each refill of its
    /// list of woken children.
    static SHUFFLE: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Puts `keys` (woken children about to be polled) in a pseudo-random
/// order when the runtime runs with a seed; does nothing otherwise.
#[inline]
pub(crate) fn shuffle(keys: &mut [usize]) {
    if keys.len() < 2 {
        return;
    }
    SHUFFLE.with(|state| {
        let Some(mut x) = state.get() else {
            return;
        };
        // Fisher-Yates with xorshift64*.
        for i in (1..keys.len()).rev() {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            keys.swap(i, (r % (i as u64 + 1)) as usize);
        }
        state.set(Some(x));
    });
}

/// The environment variable that makes every `#[xiio::test]` run with a
/// seed: a number, or `random`.
const SEED_VAR: &str = "XIIO_SEED";

/// Polls of tasks (group bodies and children, at any depth of nesting) per
/// turn of the run loop. When it is spent, groups stop and the run loop
/// checks fds and timers (`epoll_wait` without blocking) before it goes on,
/// so tasks that keep waking each other cannot starve I/O. Large enough that
/// the syscall is a small share of the turn (a task poll is ~50 ns, the
/// syscall ~1 µs), small enough that a turn stays well under 100 µs.
/// (Measured in the benchmark's yield loop: tokio's `LocalSet` polls the
/// driver every 61 task polls, smol every few hundred.)
const POLL_BUDGET: u32 = 256;

/// How long a stuck mock clock waits before it reports a hang.
const HANG_AFTER: Duration = Duration::from_secs(5);

/// How often a mock clock that waits for outside work checks whether it is
/// still in flight (real time).
const OUTSIDE_WORK_CHECK: Duration = Duration::from_millis(5);

/// Takes one poll from the run loop's budget: false if it is spent, and
/// the caller (a task group) must return and be polled again later.
#[inline]
pub(crate) fn take_budget() -> bool {
    BUDGET.with(|budget| match budget.get() {
        None => true,
        Some(0) => false,
        Some(n) => {
            budget.set(Some(n - 1));
            true
        }
    })
}

/// Distinguishes runtimes, so a registration dropped under another runtime
/// than the one it was made in is not removed from the wrong reactor.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The per-thread state of a running `xiio::run`.
pub(crate) struct Runtime {
    /// Identity of this runtime (see `NEXT_ID`).
    pub(crate) id: u64,
    /// Fds and timers; borrowed only for short sections that never call out
    /// to user code.
    pub(crate) reactor: RefCell<Reactor>,
    /// Real or mock time.
    pub(crate) clock: Clock,
    /// The root waker, which every other waker ends at.
    notifier: Arc<Notifier>,
    /// Work outside this thread (thread-pool jobs, child processes); a mock
    /// clock does not jump while any of it is in flight.
    outside_work: RefCell<Slab<InFlight>>,
    /// Waits in the reactor for another executor that drives this runtime.
    poller: OnceCell<Poller>,
    /// On the mock clock, how long to wait with nothing that could wake
    /// the runtime before reporting a hang.
    hang_after: Cell<Option<Duration>>,
}

/// Gives the run loop's poll budget back, before a poll of the root.
pub(crate) fn reset_budget() {
    BUDGET.with(|budget| budget.set(Some(POLL_BUDGET)));
}

/// Configures and starts a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let elapsed = xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::now();
///     xiio::sleep(Duration::from_secs(3600)).await; // returns at once
///     xiio::now() - start
/// });
/// assert_eq!(elapsed, Duration::from_secs(3600));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    /// Whether the runtime runs on a mock clock.
    mock_clock: bool,
    /// The seed of the scheduling order, if any.
    seed: Option<u64>,
    /// Set by `#[xiio::test]`: take a seed from `XIIO_SEED`, and print the
    /// seed when the test fails.
    test: bool,
    /// Whether to keep the task tree; `None`: on the mock clock only.
    task_tree: Option<bool>,
    /// How long a mock clock waits, when nothing can ever wake it from
    /// inside, before it reports a hang; `None` from `no_hang_report`.
    hang_after: Option<Option<Duration>>,
}

impl Builder {
    /// A builder with the defaults: the real clock.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Runs on a mock clock, for deterministic tests of timing.
    ///
    /// The mock clock stands still while any task can make progress. When no
    /// task is woken, no fd is ready right now and no outside work
    /// (thread-pool jobs, child processes) is in flight, it jumps to the
    /// next deadline at once, like trio's autojump clock. So a test of "two
    /// 100 ms sleeps in parallel take 100 ms" takes no real time and asserts
    /// an exact virtual duration. `xiio::now()` follows it.
    pub fn mock_clock(mut self, on: bool) -> Builder {
        self.mock_clock = on;
        self
    }

    /// Polls woken tasks in a pseudo-random but reproducible order, derived
    /// from `seed`: each group shuffles the children woken since it last
    /// looked before it polls them. The same seed (and the same program and
    /// inputs) gives the same interleaving, so a test can loop over seeds
    /// to explore interleavings, and a failing seed replays exactly.
    /// Without a seed, woken tasks are polled in the order they were woken.
    ///
    /// `#[xiio::test(seed = 7)]` sets it for a test; the environment
    /// variable `XIIO_SEED` (a number, or `random`) sets it for every
    /// `#[xiio::test]` without one, and a failing test then prints its
    /// seed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    ///
    /// let order = |seed| {
    ///     xiio::Builder::new().seed(seed).run(async {
    ///         let order = RefCell::new(Vec::new());
    ///         xiio::task_group!(|tg| {
    ///             for name in ["a", "b", "c"] {
    ///                 let order = &order;
    ///                 tg.add_task(async move { order.borrow_mut().push(name) });
    ///             }
    ///             Ok::<_, ()>(())
    ///         })
    ///         .unwrap();
    ///         order.into_inner()
    ///     })
    /// };
    /// assert_eq!(order(1), order(1), "the same seed, the same order");
    /// let orders: std::collections::HashSet<_> = (0..50).map(order).collect();
    /// assert!(orders.len() > 1, "other seeds, other orders");
    /// ```
    pub fn seed(mut self, seed: u64) -> Builder {
        self.seed = Some(seed);
        self
    }

    /// Keeps the live task tree (each group, its body and children, and
    /// what each waits on) for [`task_tree`], also on the real clock, as a
    /// stuck server may want to show it. On the mock clock it is kept
    /// anyway. Costs a little per child and per poll.
    pub fn task_tree(mut self, on: bool) -> Builder {
        self.task_tree = Some(on);
        self
    }

    /// On the mock clock, how long (of real time) the runtime waits when no
    /// task can run, no timer is pending, no fd is registered and no
    /// outside work is in flight, before it panics with the task tree (only
    /// another thread could still wake it then, as a channel from a std
    /// thread would); `None` waits for ever. Default: 5 s.
    pub fn hang_timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.hang_after = Some(timeout);
        self
    }

    /// For `#[xiio::test]`: takes the seed from `XIIO_SEED` unless one is
    /// set, and prints it if the test panics.
    #[doc(hidden)]
    pub fn for_test(mut self) -> Builder {
        self.test = true;
        if self.seed.is_none() {
            self.seed = seed_from_env();
        }
        self
    }

    /// Runs `fut` to completion on this thread and returns its output.
    ///
    /// # Panics
    ///
    /// If called inside a running runtime (await the future instead), if the
    /// reactor cannot be created, and with the future's own panic after its
    /// `try_finally` cleanups ran.
    pub fn run<F: Future>(self, fut: F) -> F::Output {
        match (self.test, self.seed) {
            (true, Some(seed)) => {
                let result = catch_unwind(AssertUnwindSafe(|| self.run_inner(fut)));
                result.unwrap_or_else(|payload| {
                    eprintln!("xiio: this test ran with seed {seed}; {SEED_VAR}={seed} replays it");
                    resume_unwind(payload)
                })
            }
            _ => self.run_inner(fut),
        }
    }

    fn run_inner<F: Future>(self, fut: F) -> F::Output {
        let runtime = Runtime::new(self.mock_clock);
        let hang_after = self.hang_after.unwrap_or(Some(HANG_AFTER));
        runtime
            .hang_after
            .set(hang_after.filter(|_| self.mock_clock));
        crate::task::tree::set_on(self.task_tree.unwrap_or(self.mock_clock));
        let _enter = Enter::new(runtime.clone(), "xiio::run");
        // Never zero: xorshift would stay at zero.
        let state = self.seed.map(|seed| (seed ^ 0x9E37_79B9_7F4A_7C15) | 1);
        SHUFFLE.with(|shuffle| shuffle.set(state));
        // The root is a task group, so cleanups orphaned by dropped futures
        // run before `run` returns, and a panic is resumed only after them.
        // Declared after `_enter`, it is dropped first, inside the runtime.
        let root = pin!(TaskGroup::scope(async |_| Ok::<_, Infallible>(fut.await)));
        let Ok(out) = runtime.block_on(root);
        out
    }
}

/// Runs a future to completion on this thread: the entry point of xiio.
///
/// Any `std::future::Future` runs unchanged, including futures of
/// runtime-agnostic crates woken from other threads. The future need not be
/// `Send` or `'static`. Concurrency inside it comes from a
/// [`TaskGroup`](crate::TaskGroup).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let greeting = xiio::run(async {
///     xiio::sleep(Duration::from_millis(10)).await;
///     "hello"
/// });
/// assert_eq!(greeting, "hello");
/// ```
///
/// # Panics
///
/// When called inside a running runtime: await the future there instead.
pub fn run<F: Future>(fut: F) -> F::Output {
    Builder::new().run(fut)
}

/// Installs a runtime as this thread's current one for its lifetime.
pub(crate) struct Enter;

impl Enter {
    /// Enters `runtime`; `what` names the caller in the panic if a runtime
    /// is running on this thread already.
    pub(crate) fn new(runtime: Rc<Runtime>, what: &str) -> Enter {
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            assert!(
                current.is_none(),
                "{what} called inside a running runtime: await the future instead, \
                 or add it to a TaskGroup to run it concurrently"
            );
            *current = Some(runtime);
        });
        Enter
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
        BUDGET.with(|budget| budget.set(None));
        SHUFFLE.with(|shuffle| shuffle.set(None));
        crate::task::tree::set_on(false);
    }
}

/// The live task tree of the current runtime, as text: each task group,
/// its body and its children (indented under the child that made them),
/// and what each waits on (a timer and when it is due, an fd and what for,
/// or "woken by something else": a promise, a channel, a child). The tree
/// is kept on the mock clock, or with [`Builder::task_tree`]; a hang on the
/// mock clock panics with it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     xiio::task_group!(|tg| {
///         tg.add_task(xiio::sleep(Duration::from_millis(100)));
///         xiio::yield_now().await; // the child starts and waits
///         let tree = xiio::task_tree();
///         assert!(tree.contains("task 0: waits on a timer due in 100ms"), "{tree}");
///         Ok::<_, ()>(())
///     })
/// })
/// .unwrap();
/// ```
pub fn task_tree() -> String {
    try_with(|rt| {
        let waits = rt.reactor.borrow().waits(rt.clock.now());
        crate::task::tree::report(&waits)
    })
    .unwrap_or_else(|| "not inside xiio::run\n".to_string())
}

/// The seed `XIIO_SEED` asks for: a number, or a fresh one for `random`.
///
/// # Panics
///
/// If `XIIO_SEED` is set to something else.
fn seed_from_env() -> Option<u64> {
    let value = std::env::var(SEED_VAR).ok()?;
    if value == "random" {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        return Some(nanos ^ COUNTER.fetch_add(0x9E37_79B9, Ordering::Relaxed));
    }
    match value.parse() {
        Ok(seed) => Some(seed),
        Err(_) => panic!("{SEED_VAR} is {value:?}: set it to a number, or to `random`"),
    }
}

/// Calls `f` with the current runtime, or panics saying that `what` must
/// run inside `xiio::run`.
pub(crate) fn with<R>(what: &str, f: impl FnOnce(&Runtime) -> R) -> R {
    try_with(f).unwrap_or_else(|| outside(what))
}

/// The current runtime, or a panic saying that `what` must run inside
/// `xiio::run`.
pub(crate) fn current(what: &str) -> Rc<Runtime> {
    CURRENT
        .with(|current| current.borrow().clone())
        .unwrap_or_else(|| outside(what))
}

/// Panics unless called inside `xiio::run`, saying that `what` must be.
#[inline]
pub(crate) fn assert_inside(what: &str) {
    if !CURRENT.with(|current| current.borrow().is_some()) {
        outside(what)
    }
}

#[cold]
fn outside(what: &str) -> ! {
    panic!("{what} must be awaited inside xiio::run, or wrapped in xiio::compat::on_executor")
}

/// The runtime this thread is in, if any.
pub(crate) fn try_current() -> Option<Rc<Runtime>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Calls `f` with the current runtime, if there is one.
pub(crate) fn try_with<R>(f: impl FnOnce(&Runtime) -> R) -> Option<R> {
    CURRENT.with(|current| current.borrow().as_deref().map(f))
}

/// The current time: the runtime's clock (mock or real) inside `xiio::run`,
/// the real clock outside.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::now();
///     xiio::sleep(Duration::from_millis(100)).await;
///     assert_eq!(xiio::now() - start, Duration::from_millis(100));
/// });
/// ```
pub fn now() -> Instant {
    try_with(|rt| rt.clock.now()).unwrap_or_else(Instant::now)
}

/// Work outside the runtime's thread (a thread-pool job, a child process)
/// that a mock clock waits for instead of jumping, while it is really in
/// flight: `in_flight` says so. (Counting it while its future merely
/// exists froze the clock for ever when a finished job was awaited only
/// later.)
pub(crate) struct OutsideWork {
    /// The runtime it counts in.
    id: u64,
    /// Its place in the runtime's list.
    key: usize,
}

/// Says whether a piece of outside work is still in flight.
pub(crate) type InFlight = Rc<dyn Fn() -> bool>;

impl OutsideWork {
    /// Registers a piece of outside work with the current runtime.
    pub(crate) fn begin(what: &str, in_flight: InFlight) -> OutsideWork {
        with(what, |rt| OutsideWork {
            id: rt.id,
            key: rt.outside_work.borrow_mut().insert(in_flight),
        })
    }
}

impl Drop for OutsideWork {
    fn drop(&mut self) {
        try_with(|rt| {
            if rt.id == self.id {
                rt.outside_work.borrow_mut().try_remove(self.key);
            }
        });
    }
}

impl Runtime {
    /// A runtime for this thread, not entered yet.
    ///
    /// # Panics
    ///
    /// If the reactor cannot be created (no fds left).
    pub(crate) fn new(mock_clock: bool) -> Rc<Runtime> {
        let (reactor, mio_waker) =
            Reactor::new().unwrap_or_else(|e| panic!("xiio could not create its reactor: {e}"));
        Rc::new(Runtime {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            reactor: RefCell::new(reactor),
            clock: Clock::new(mock_clock),
            notifier: Arc::new(Notifier::new(mio_waker)),
            outside_work: RefCell::new(Slab::new()),
            poller: OnceCell::new(),
            hang_after: Cell::new(None),
        })
    }

    /// Drives `fut` to completion, blocking this thread in the reactor
    /// between polls: the run loop. The caller has entered the runtime.
    pub(crate) fn block_on<F: Future>(&self, mut fut: Pin<&mut F>) -> F::Output {
        let waker = Waker::from(self.notifier.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if self.notifier.take() {
                reset_budget();
                if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            self.park();
        }
    }

    /// One turn that does not block: wakes the tasks whose fds are ready or
    /// whose timers are due.
    pub(crate) fn turn_now(&self) {
        self.turn(Some(Duration::ZERO));
        self.fire_timers();
    }

    /// When the timers need the runtime next, at the latest (a time at or
    /// before the earliest deadline).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.reactor.borrow().next_wakeup()
    }

    /// The thread that waits in the reactor for this runtime while another
    /// executor drives it (see `foreign.rs`), started on first use.
    ///
    /// # Panics
    ///
    /// If the thread cannot be started.
    pub(crate) fn poller(&self) -> &Poller {
        self.poller.get_or_init(|| {
            let epoll = self.reactor.borrow().poll_fd();
            Poller::start(epoll.expect("xiio: a dup of the epoll fd for the poller"))
        })
    }

    /// Waits until something wakes the root: an fd event, a due timer, or a
    /// wake from another thread. Returns at once if a wake is pending.
    fn park(&self) {
        if self.clock.is_mock() {
            self.park_mock();
            return;
        }
        let timeout = self
            .reactor
            .borrow()
            .next_wakeup()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        self.turn(timeout);
        self.fire_timers();
    }

    /// `park` on a mock clock: time jumps only when nothing else can happen.
    fn park_mock(&self) {
        self.turn(Some(Duration::ZERO));
        if self.notifier.is_woken() {
            return;
        }
        let in_flight = self.outside_work.borrow().iter().any(|(_, f)| f());
        if in_flight {
            // Time stands still while outside work runs. It usually wakes
            // us when done; a child process that nobody waits on right now
            // does not, so look again every few milliseconds.
            self.turn(Some(OUTSIDE_WORK_CHECK));
            return;
        }
        if self.reactor.borrow().has_fds() {
            // Before time jumps, let the kernel finish what it may still be
            // doing for us on this CPU (loopback packets are processed in
            // softirq context, sometimes by a kernel thread that needs the
            // CPU we hold), so "no fd is ready right now" is true.
            std::thread::yield_now();
            self.turn(Some(Duration::ZERO));
            if self.notifier.is_woken() {
                return;
            }
        }
        let next = self.reactor.borrow_mut().next_deadline();
        match next {
            Some(deadline) => {
                self.clock.advance_to(deadline);
                self.fire_timers();
            }
            // Only an fd or another thread can wake us now.
            None => match self.hang_after.get() {
                Some(hang_after) if !self.reactor.borrow().has_fds() => {
                    self.turn(Some(hang_after));
                    if !self.notifier.is_woken() {
                        panic!(
                            "xiio: the mock clock is stuck: no task can run, no timer is \
                             pending, no fd is registered and no outside work is in flight, \
                             and nothing woke the runtime for {hang_after:?} \
                             (Builder::hang_timeout). The live tasks:\n{}",
                            task_tree()
                        );
                    }
                }
                _ => self.turn(None),
            },
        }
    }

    /// One `epoll_wait` of at most `timeout`, then the wakes it produced.
    fn turn(&self, timeout: Option<Duration>) {
        let blocking = timeout != Some(Duration::ZERO);
        let timeout = if blocking && !self.notifier.prepare_sleep() {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let result = self.reactor.borrow_mut().poll_events(timeout);
        if blocking {
            self.notifier.end_sleep();
        }
        if let Err(e) = result {
            panic!("xiio: epoll_wait failed: {e}");
        }
        self.wake_collected();
    }

    /// Wakes the tasks whose timers are due.
    fn fire_timers(&self) {
        let now = self.clock.now();
        self.reactor.borrow_mut().fire_timers(now);
        self.wake_collected();
    }

    /// Wakes what the reactor collected, with the reactor released.
    fn wake_collected(&self) {
        let mut wakers = std::mem::take(&mut self.reactor.borrow_mut().to_wake);
        for waker in wakers.drain(..) {
            waker.wake();
        }
        // Give the (now empty) buffer back to reuse its allocation.
        self.reactor.borrow_mut().to_wake = wakers;
    }
}

/// The fds in the current runtime's epoll set (empty outside `xiio::run`),
/// for tests that check that nothing is left registered.
pub fn registered_fds() -> Vec<std::os::fd::RawFd> {
    try_with(|rt| rt.reactor.borrow().registered_fds()).unwrap_or_default()
}

/// The current runtime's timers (`(live, pending)`: live ones exist, fired
/// or not; pending ones are still ordered by deadline), for tests that
/// check that nothing is left behind. `(0, 0)` outside `xiio::run`.
pub fn registered_timers() -> (usize, usize) {
    try_with(|rt| rt.reactor.borrow().timer_counts()).unwrap_or_default()
}
