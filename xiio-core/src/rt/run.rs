//! `xiio::run`, its `Builder`, and the run loop.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::TaskGroup;
use crate::reactor::{Park, Reactor, RealClock};
use crate::task::context::{self, Runtime};
use crate::task::queue;
use crate::task::trace::Tracer;

/// The environment variable that makes every `#[xiio::test]` run with a
/// seed: a number, or `random`.
const SEED_VAR: &str = "XIIO_SEED";

/// Configures and starts a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let elapsed = xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::time::now();
///     xiio::sleep(Duration::from_secs(3600)).await; // returns at once
///     xiio::time::now() - start
/// });
/// assert_eq!(elapsed, Duration::from_secs(3600));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    /// The seed of the scheduling order, if any.
    seed: Option<u64>,
    /// Set by `#[xiio::test]`: take a seed from `XIIO_SEED`, and print the
    /// seed when the test fails.
    test: bool,
    /// The testing tools asked for, by the builder methods that
    /// [`testing`](crate::testing) adds.
    pub(crate) tools: Tools,
}

/// The testing tools a runtime was asked for, as plain data, and the
/// function of [`testing`](crate::testing) that turns them into the run
/// loop's park strategy and the tasks' tracer. The run loop knows the tools
/// only through these two hooks: it never imports them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tools {
    /// Whether the runtime runs on a mock clock.
    pub(crate) mock_clock: bool,
    /// Whether to keep the task tree; `None`: on the mock clock only.
    pub(crate) task_tree: Option<bool>,
    /// How long a mock clock waits, when nothing can ever wake it from
    /// inside, before it reports a hang; `Some(None)`: never.
    pub(crate) hang_after: Option<Option<Duration>>,
    /// Makes the park strategy and the tracer; `None` when no tool was
    /// asked for: the real clock, no tracer.
    pub(crate) plug: Option<Plug>,
}

/// What [`Tools::plug`] is: the tools, made for one runtime.
pub(crate) type Plug = fn(&Tools) -> (Box<dyn Park>, Option<Rc<dyn Tracer>>);

impl Builder {
    /// A builder with the defaults: the real clock.
    pub fn new() -> Builder {
        Builder::default()
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
    #[track_caller]
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

    #[track_caller]
    fn run_inner<F: Future>(self, fut: F) -> F::Output {
        let reactor = Reactor::new(self.tools.mock_clock);
        let (park, tracer) = match self.tools.plug {
            Some(plug) => plug(&self.tools),
            None => (Box::new(RealClock) as Box<dyn Park>, None),
        };
        let runtime = Runtime {
            reactor: reactor.clone(),
            seed: self.seed,
            tracer,
        };
        let _entered = context::enter(runtime);
        // The root is a task group, so cleanups orphaned by dropped futures
        // run before `run` returns, and a panic is resumed only after them.
        // Declared after `_entered`, it is dropped first, inside the runtime.
        let root = pin!(TaskGroup::scope(async |_| Ok::<_, Infallible>(fut.await)));
        let Ok(out) = block_on(&reactor, &*park, root);
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
#[track_caller]
pub fn run<F: Future>(fut: F) -> F::Output {
    Builder::new().run(fut)
}

/// The run loop: polls `fut`, then waits with `park` until a wake arrives,
/// and again, until `fut` is ready. Every poll gets a fresh poll budget,
/// and between two polls the reactor is always looked at (at least an
/// `epoll_wait` that does not block), so tasks that keep waking each other
/// cannot starve I/O and timers.
pub(crate) fn block_on<F: Future>(
    reactor: &Reactor,
    park: &dyn Park,
    mut fut: Pin<&mut F>,
) -> F::Output {
    let waker = Waker::from(reactor.notifier.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        queue::reset_budget();
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        loop {
            park.park(reactor);
            if reactor.notifier.take() {
                break;
            }
        }
    }
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
