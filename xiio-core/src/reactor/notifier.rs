//! The waker of the runtime's root future.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::Wake;

/// Wakes the thread that runs `xiio::run`: the waker of the root future.
///
/// Every waker of a task ends here: a child's waker queues the child in its
/// group and wakes the group's parent, and so on up to this one. Waking it
/// from the runtime's own thread is two atomic operations; from another
/// thread, while the runtime sleeps in `epoll_wait`, it also writes to the
/// reactor's eventfd (`mio::Waker`).
pub(crate) struct Notifier {
    /// Set by a wake, cleared by the run loop just before it polls the root.
    woken: AtomicBool,
    /// True while the run loop is (about to be) blocked in the reactor, so a
    /// wake knows it must interrupt it. Together with `woken` this is the
    /// classic store-then-load handshake: either the waker sees `sleeping`,
    /// or the sleeper sees `woken`.
    sleeping: AtomicBool,
    /// Interrupts `epoll_wait` from another thread.
    waker: mio::Waker,
}

impl Notifier {
    /// A notifier not woken yet (the run loop polls the root once at
    /// start anyway).
    pub(crate) fn new(waker: mio::Waker) -> Notifier {
        Notifier {
            woken: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            waker,
        }
    }

    /// Takes the wake-up: true if the root should be polled now.
    pub(crate) fn take(&self) -> bool {
        self.woken.swap(false, SeqCst)
    }

    /// True if a wake-up is pending.
    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(SeqCst)
    }

    /// Announces a blocking wait; returns false if a wake-up is already
    /// pending, in which case the caller must not block.
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, SeqCst);
        !self.woken.load(SeqCst)
    }

    /// Ends a blocking wait.
    pub(crate) fn end_sleep(&self) {
        self.sleeping.store(false, SeqCst);
    }
}

impl Wake for Notifier {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        if !self.woken.swap(true, SeqCst) && self.sleeping.load(SeqCst) {
            // An error here means the eventfd is gone with the runtime:
            // there is nobody left to wake.
            let _ = self.waker.wake();
        }
    }
}
