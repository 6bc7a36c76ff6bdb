//! The context: the one thread-local of xiio, and the one guard that sets
//! and restores it.
//!
//! Everything the code of a running runtime needs to find without being
//! handed it lives here: which reactor is current (leaf futures register
//! there), the poll and operation budgets and the seeded order (the
//! scheduling policy),
//! where orphaned cleanups go (the innermost group's sink), the testing
//! hooks (a tracer), and the local halves of the groups' ready queues (so
//! that a wake on the runtime's thread takes no lock). `xiio::run` enters
//! it with [`enter`]; so does `xiio::compat::on_executor` at each poll.

use std::cell::{Cell, RefCell};
use std::panic::Location;
use std::rc::Rc;

use slab::Slab;

use super::cancel::Sink;
use super::queue::LocalHalf;
use super::trace::{Tracer, Wait};
use crate::reactor::Reactor;

thread_local! {
    /// This thread's context.
    static CONTEXT: Context = const {
        Context {
            reactor: RefCell::new(None),
            budget: Cell::new(u32::MAX),
            ops: Cell::new(u32::MAX),
            shuffle: Cell::new(None),
            sink: RefCell::new(None),
            tracer: RefCell::new(None),
            token: Cell::new(0),
            halves: RefCell::new(Slab::new()),
            parked: RefCell::new(None),
        }
    };
}

/// What the runtime running on a thread shares with the code it polls.
pub(crate) struct Context {
    /// The reactor of the runtime entered on this thread, if any.
    reactor: RefCell<Option<Rc<Reactor>>>,
    /// Task polls left before the run loop looks at the reactor again
    /// (`queue.rs`); `u32::MAX` outside a runtime.
    pub(super) budget: Cell<u32>,
    /// Operations that completed at once left to the task being polled
    /// before it must yield (`queue.rs`); `u32::MAX` outside a task poll.
    pub(super) ops: Cell<u32>,
    /// The seeded order's generator state, if the runtime has a seed
    /// (`queue.rs`).
    pub(super) shuffle: Cell<Option<u64>>,
    /// Where a dropped `try_finally` leaves its cleanup: the innermost group
    /// (or timeout) being polled or dropped.
    pub(super) sink: RefCell<Option<Rc<Sink>>>,
    /// The testing hook that keeps the task tree, if the runtime has one.
    tracer: RefCell<Option<Rc<dyn Tracer>>>,
    /// A number unique to this thread, 0 until first asked for.
    token: Cell<u64>,
    /// The local halves of the ready queues of this thread's groups.
    pub(super) halves: RefCell<Slab<LocalHalf>>,
    /// The runtime that `on_executor` futures on this thread share, kept
    /// between their polls.
    parked: RefCell<Option<Rc<Reactor>>>,
}

/// Source of thread tokens (0 is never handed out).
static NEXT_TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Context {
    /// This thread's token, cheaper to read than `thread::current().id()`.
    #[inline]
    pub(super) fn token(&self) -> u64 {
        match self.token.get() {
            0 => {
                let ordering = std::sync::atomic::Ordering::Relaxed;
                let token = NEXT_TOKEN.fetch_add(1, ordering);
                self.token.set(token);
                token
            }
            token => token,
        }
    }
}

/// Runs `f` with this thread's context; `None` while the thread's locals
/// are being torn down.
#[inline]
pub(crate) fn try_with<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    CONTEXT.try_with(f).ok()
}

/// Runs `f` with this thread's context.
#[inline]
pub(super) fn with<R>(f: impl FnOnce(&Context) -> R) -> R {
    CONTEXT.with(f)
}

/// The reactor of the runtime entered on this thread.
///
/// # Panics
///
/// Outside `xiio::run`, naming the caller's location: a leaf future of
/// xiio polled by another executor without the bridge.
#[track_caller]
pub(crate) fn reactor() -> Rc<Reactor> {
    let at = Location::caller();
    try_reactor().unwrap_or_else(|| outside(at))
}

/// The reactor of the runtime entered on this thread, if any.
pub(crate) fn try_reactor() -> Option<Rc<Reactor>> {
    try_with(|cx| cx.reactor.borrow().clone()).flatten()
}

#[cold]
fn outside(at: &Location<'_>) -> ! {
    panic!(
        "xiio: this future must be awaited inside xiio::run, or wrapped in \
         xiio::compat::on_executor to be awaited on another executor (polled at {at})"
    )
}

/// The tracer of the entered runtime, if it has one.
pub(crate) fn tracer() -> Option<Rc<dyn Tracer>> {
    try_with(|cx| cx.tracer.borrow().clone()).flatten()
}

/// Tells the tracer, if there is one, what the task being polled waits on.
#[inline]
pub(crate) fn trace_wait(wait: impl FnOnce() -> Wait) {
    let _ = try_with(|cx| {
        if let Some(tracer) = &*cx.tracer.borrow() {
            tracer.waits(wait());
        }
    });
}

/// The runtime `on_executor` futures on this thread share: made by `make`
/// the first time.
pub(crate) fn parked(make: impl FnOnce() -> Rc<Reactor>) -> Rc<Reactor> {
    with(|cx| cx.parked.borrow_mut().get_or_insert_with(make).clone())
}

/// What a runtime puts in the context when it is entered.
pub(crate) struct Runtime {
    /// Its reactor.
    pub(crate) reactor: Rc<Reactor>,
    /// The seed of its order, if it has one.
    pub(crate) seed: Option<u64>,
    /// Its tracer, if it keeps the task tree.
    pub(crate) tracer: Option<Rc<dyn Tracer>>,
}

/// Enters `runtime` on this thread until the guard is dropped.
///
/// # Panics
///
/// If a runtime is entered on this thread already: `xiio::run` was called
/// inside a running runtime.
#[track_caller]
pub(crate) fn enter(runtime: Runtime) -> Entered {
    with(|cx| {
        let mut current = cx.reactor.borrow_mut();
        assert!(
            current.is_none(),
            "xiio::run called inside a running runtime: await the future instead, \
             or add it to a TaskGroup to run it concurrently"
        );
        *current = Some(runtime.reactor);
        cx.shuffle.set(runtime.seed.map(super::queue::seed_state));
        *cx.tracer.borrow_mut() = runtime.tracer;
    });
    Entered(())
}

/// Leaves the runtime when dropped (also while unwinding), restoring the
/// context of a thread outside any runtime.
pub(crate) struct Entered(());

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = try_with(|cx| {
            let reactor = cx.reactor.borrow_mut().take();
            let tracer = cx.tracer.borrow_mut().take();
            super::queue::clear_policy(cx);
            // Dropped last: their drops may look at the context.
            drop((reactor, tracer));
        });
    }
}
