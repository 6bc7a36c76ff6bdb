//! Per-child wakers: waking one child queues that child, and only it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};

/// The children of one group that were woken since the group last looked.
///
/// A group polls exactly the children in this queue, so a wake-up costs the
/// same whether the group has one child or a million. It is behind a mutex
/// because wakers are `Send + Sync` and may fire on any thread; on the
/// runtime's thread the lock is never contended.
pub(crate) struct ReadyQueue {
    /// The queue's state.
    state: Mutex<QueueState>,
}

/// What the mutex guards.
struct QueueState {
    /// Keys of woken children, in the order they were woken.
    keys: Vec<usize>,
    /// The waker of whoever polls the group (its parent task).
    parent: Option<Waker>,
    /// True once the parent was woken for the keys queued so far, so a
    /// burst of wakes wakes the parent once.
    notified: bool,
}

impl ReadyQueue {
    /// An empty queue.
    pub(crate) fn new() -> Arc<ReadyQueue> {
        Arc::new(ReadyQueue {
            state: Mutex::new(QueueState {
                keys: Vec::new(),
                parent: None,
                notified: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panicking waker cannot leave the state inconsistent: every
        // update below is a single push or swap.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `key` and wakes the parent if it was not woken yet.
    fn push(&self, key: usize) {
        let mut state = self.lock();
        state.keys.push(key);
        if !state.notified {
            state.notified = true;
            if let Some(parent) = &state.parent {
                parent.wake_by_ref();
            }
        }
    }

    /// Remembers who to wake for the next queued child.
    pub(crate) fn set_parent(&self, waker: &Waker) {
        let mut state = self.lock();
        if !state.parent.as_ref().is_some_and(|p| p.will_wake(waker)) {
            state.parent = Some(waker.clone());
        }
    }

    /// Moves the queued keys into `keys` (which must be empty); wakes after
    /// this wake the parent again.
    pub(crate) fn take_into(&self, keys: &mut Vec<usize>) {
        let mut state = self.lock();
        state.notified = false;
        std::mem::swap(&mut state.keys, keys);
    }
}

/// The waker of one child (or of a group's body).
pub(crate) struct ChildWaker {
    /// The child's key in its group.
    key: usize,
    /// True while the child is in the queue, so repeated wakes queue it once.
    queued: AtomicBool,
    /// Its group's queue.
    queue: Arc<ReadyQueue>,
}

impl ChildWaker {
    /// A waker for the child at `key`, and the handle to clear it.
    pub(crate) fn new(key: usize, queue: &Arc<ReadyQueue>) -> (Waker, Arc<ChildWaker>) {
        let handle = Arc::new(ChildWaker {
            key,
            queued: AtomicBool::new(false),
            queue: queue.clone(),
        });
        (Waker::from(handle.clone()), handle)
    }

    /// Called just before the child is polled: a wake from now on queues it
    /// again.
    pub(crate) fn clear(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.push(self.key);
        }
    }
}
