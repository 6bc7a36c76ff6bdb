//! Per-child wakers: waking one child queues that child, and only it.
//!
//! Wakers are `Send + Sync` and may fire on any thread, but nearly all wakes
//! happen on the runtime's own thread (a task waking another, the reactor
//! waking a task). So each group's queue has two halves:
//!
//! - a local half, in the context of the group's thread (a group is
//!   `!Send`, so it never leaves the thread that made it): a wake on that
//!   thread is one thread-local lookup and a few plain loads and stores,
//!   without atomic read-modify-writes or locks. The group itself holds the
//!   same half (`GroupQueue`) and reaches it without the lookup;
//! - a remote half behind a mutex, for wakes from other threads.
//!
//! The group drains both; a flag tells it when the remote half has keys, so
//! it takes the lock only then.
//!
//! How the queue is drained is the scheduling policy: a group takes the
//! woken keys in the order they were woken, or in a seeded pseudo-random
//! order ([`shuffle`]), and polls them while the run loop's poll budget
//! lasts ([`take_budget`]). Within one poll of one task, the operation
//! budget ([`poll_op`]) makes a task whose operations never wait yield
//! now and then.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_task::ArcWake;

use super::context;

/// Source of queue ids (0 is never handed out).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The children of one group that were woken since the group last looked.
///
/// A group polls exactly the children in this queue, so a wake-up costs the
/// same whether the group has one child or a million.
pub(crate) struct ReadyQueue {
    /// Identifies this queue's slot among the local halves (slots are
    /// reused).
    id: u64,
    /// The token of the group's thread.
    owner: u64,
    /// The local half's slot in the owner's context; `None` if it could
    /// not be made (thread-local storage being torn down): every wake is
    /// remote then.
    slot: Option<usize>,
    /// True while `remote` holds keys, so the owner looks without locking.
    remote_pending: AtomicBool,
    /// The remote half.
    remote: Mutex<Half>,
}

/// The local half of a queue, and its slot's owner.
pub(crate) struct LocalHalf {
    /// The id of the queue this slot belongs to.
    id: u64,
    /// Shared with the group (`GroupQueue`), which reaches it without
    /// looking up thread-local storage.
    half: Rc<RefCell<Half>>,
}

/// One half of a queue.
#[derive(Default)]
struct Half {
    /// Keys of woken children, in the order they were woken.
    keys: Vec<usize>,
    /// The waker of whoever polls the group (its parent task).
    parent: Option<Waker>,
    /// True while waking the parent is useless: it was woken already for
    /// the keys queued so far, or it is polling the group right now (and so
    /// will look at the queue again before it returns). A burst of wakes, or
    /// children waking each other inside one poll of the group, thus costs
    /// no wake of the parent at all.
    notified: bool,
}

impl Half {
    /// Queues `key`; returns the parent to wake, if it must be woken. The
    /// caller wakes it after releasing the half (the parent's own queue may
    /// be another half on this thread).
    #[inline]
    fn push(&mut self, key: usize) -> Option<Waker> {
        self.keys.push(key);
        if self.notified {
            return None;
        }
        self.notified = true;
        self.parent.clone()
    }

    /// See `GroupQueue::begin_poll`.
    fn begin_poll(&mut self, waker: &Waker, keys: &mut Vec<usize>) {
        if !self.parent.as_ref().is_some_and(|p| p.will_wake(waker)) {
            self.parent = Some(waker.clone());
        }
        self.notified = true;
        append(keys, &mut self.keys);
    }

    /// See `GroupQueue::end_poll`: true if the parent must poll again.
    fn end_poll(&mut self, more: bool) -> bool {
        if more || !self.keys.is_empty() {
            return true;
        }
        self.notified = false;
        false
    }
}

/// Moves all of `from` to the end of `to`. Usually `to` is empty and a swap
/// does it, with no copy (both keep their buffers for reuse).
#[inline]
fn append(to: &mut Vec<usize>, from: &mut Vec<usize>) {
    if to.is_empty() {
        std::mem::swap(to, from);
    } else {
        to.append(from);
    }
}

/// A group's side of its queue: the shared queue (which the children's
/// wakers hold) and direct access to its local half.
pub(crate) struct GroupQueue {
    /// What the wakers hold.
    shared: Arc<ReadyQueue>,
    /// The local half, also in this thread's context; `None` if
    /// thread-local storage is being torn down.
    local: Option<Rc<RefCell<Half>>>,
}

impl GroupQueue {
    /// An empty queue for a group living on the current thread.
    pub(crate) fn new() -> GroupQueue {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let half = Rc::new(RefCell::new(Half::default()));
        let local = context::try_with(|cx| {
            let slot = cx.halves.borrow_mut().insert(LocalHalf {
                id,
                half: half.clone(),
            });
            (cx.token(), slot)
        });
        GroupQueue {
            shared: Arc::new(ReadyQueue {
                id,
                // Without thread-local storage no wake is local: a token no
                // thread has.
                owner: local.map_or(0, |(token, _)| token),
                slot: local.map(|(_, slot)| slot),
                remote_pending: AtomicBool::new(false),
                remote: Mutex::new(Half::default()),
            }),
            local: local.map(|_| half),
        }
    }

    /// Runs `f` on the local half, if there is one.
    #[inline]
    fn with_local<R>(&self, f: impl FnOnce(&mut Half) -> R) -> Option<R> {
        self.local.as_ref().map(|half| f(&mut half.borrow_mut()))
    }

    /// Queues `key` and wakes the parent if needed (see `Half::notified`).
    pub(crate) fn push(&self, key: usize) {
        match self.with_local(|half| half.push(key)) {
            Some(parent) => parent.into_iter().for_each(Waker::wake),
            None => self.shared.push_remote(key),
        }
    }

    /// Starts a poll of the group by the task whose waker is `waker` (on the
    /// group's thread): wakes from now until [`end_poll`](Self::end_poll)
    /// do not wake the parent. Appends the queued keys to `keys` (which may
    /// hold keys left over from the last poll).
    pub(crate) fn begin_poll(&self, waker: &Waker, keys: &mut Vec<usize>) {
        self.with_local(|half| half.begin_poll(waker, keys));
        // The remote half needs the parent too; this lock is once per poll
        // of the group, not per child.
        let shared = &self.shared;
        let mut remote = shared.lock();
        shared.remote_pending.store(false, Ordering::Relaxed);
        remote.begin_poll(waker, keys);
    }

    /// Appends the queued keys to `keys`.
    #[inline]
    pub(crate) fn take_into(&self, keys: &mut Vec<usize>) {
        self.with_local(|half| append(keys, &mut half.keys));
        let shared = &self.shared;
        if shared.remote_pending.load(Ordering::Acquire) {
            let mut remote = shared.lock();
            shared.remote_pending.store(false, Ordering::Relaxed);
            append(keys, &mut remote.keys);
        }
    }

    /// Ends a poll of the group. If the group still has work (`more`, or
    /// keys queued meanwhile), the parent is woken to poll it again;
    /// otherwise the next wake wakes the parent.
    pub(crate) fn end_poll(&self, more: bool) {
        let local_more = self.with_local(|half| half.end_poll(more)) == Some(true);
        let parent = {
            let mut remote = self.shared.lock();
            let remote_more = remote.end_poll(more);
            if local_more || remote_more {
                remote.parent.clone()
            } else {
                None
            }
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }

    /// A waker for the child at `key`. The group keeps the `Arc` and
    /// polls with a [`waker_ref`](futures_task::waker_ref) to it: a
    /// `Waker` borrowed from the `Arc` without touching its count (from
    /// the futures project, sound because the borrow cannot outlive the
    /// `Arc`; a clone taken from it is a counted `Waker` like any other).
    /// A child's slot thus holds one pointer, not a `Waker` beside it.
    pub(crate) fn waker(&self, key: usize) -> Arc<ChildWaker> {
        Arc::new(ChildWaker {
            key: AtomicUsize::new(key),
            queued: AtomicBool::new(false),
            queue: self.shared.clone(),
        })
    }
}

impl Drop for GroupQueue {
    /// Frees the local half (on the group's thread, as the group never
    /// leaves it). Wakers that outlive the group then queue into the
    /// remote half, which nobody reads any more.
    fn drop(&mut self) {
        let shared = &self.shared;
        if let Some(slot) = shared.slot {
            let _ = context::try_with(|cx| {
                let mut halves = cx.halves.borrow_mut();
                if halves.get(slot).is_some_and(|l| l.id == shared.id) {
                    halves.remove(slot);
                }
            });
        }
    }
}

impl ReadyQueue {
    /// Runs `f` on the local half, if called on the group's thread and the
    /// half is still there.
    #[inline]
    fn with_local<R>(&self, f: impl FnOnce(&mut Half) -> R) -> Option<R> {
        let slot = self.slot?;
        context::try_with(|cx| {
            if cx.token() != self.owner {
                return None;
            }
            let halves = cx.halves.borrow();
            match halves.get(slot) {
                Some(l) if l.id == self.id => Some(f(&mut l.half.borrow_mut())),
                _ => None,
            }
        })
        .flatten()
    }

    fn lock(&self) -> MutexGuard<'_, Half> {
        // A panicking waker cannot leave the state inconsistent: every
        // update below is a single push or swap.
        self.remote
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `push` from another thread.
    fn push_remote(&self, key: usize) {
        let parent = {
            let mut remote = self.lock();
            self.remote_pending.store(true, Ordering::Release);
            remote.push(key)
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

/// The waker of one child (or of a group's body).
pub(crate) struct ChildWaker {
    /// The child's key in its group. Atomic only so that the group can
    /// reuse the waker for another child (see `reuse`) through a shared
    /// `Arc`; it changes only while nobody else holds the waker.
    key: AtomicUsize,
    /// True while the child is in the queue, so repeated wakes queue it once.
    /// (Only an optimisation: if a wake from another thread races with one
    /// on the group's thread, the child is queued twice and polled once
    /// more, which futures allow.)
    queued: AtomicBool,
    /// Its group's queue.
    queue: Arc<ReadyQueue>,
}

impl ChildWaker {
    /// Makes this waker the waker of the child at `key`. Only for a waker
    /// that nobody but the group holds: a group keeps the wakers of finished
    /// children for reuse, saving an allocation per child.
    pub(crate) fn reuse(&self, key: usize) {
        self.key.store(key, Ordering::Relaxed);
        self.queued.store(false, Ordering::Relaxed);
    }

    /// Called just before the child is polled: a wake from now on queues it
    /// again.
    pub(crate) fn clear(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl ArcWake for ChildWaker {
    fn wake_by_ref(this: &Arc<Self>) {
        let queue = &this.queue;
        let local = queue.with_local(|half| {
            // Plain load and store: on this thread nothing races with us
            // but a remote wake, and that race is harmless (see `queued`).
            if this.queued.load(Ordering::Relaxed) {
                return None;
            }
            this.queued.store(true, Ordering::Relaxed);
            half.push(this.key.load(Ordering::Relaxed))
        });
        match local {
            Some(parent) => parent.into_iter().for_each(Waker::wake),
            None => {
                if !this.queued.swap(true, Ordering::AcqRel) {
                    queue.push_remote(this.key.load(Ordering::Relaxed));
                }
            }
        }
    }
}

/// Polls of tasks (group bodies and children, at any depth of nesting) per
/// turn of the run loop. When it is spent, groups stop and the run loop
/// checks fds and timers (`epoll_wait` without blocking) before it goes on,
/// so tasks that keep waking each other cannot starve I/O. Large enough
/// that the syscall is a small share of the turn (a task poll is tens of
/// nanoseconds, the syscall about a microsecond), small enough that a turn
/// stays well under 100 µs.
const POLL_BUDGET: u32 = 256;

/// Operations that complete without waiting (an I/O call on an fd that is
/// always ready, a wait on a promise already set) that one poll of one task
/// may make before it yields. Without it, a loop of such operations never
/// returns `Pending`: its siblings, timers and timeouts would never run
/// (tokio's cooperative budget is the same idea, and the same size).
const OP_BUDGET: u32 = 128;

/// The operation budget of the task that polls a group, kept while the
/// group's children spend budgets of their own, and given back when
/// dropped (at the end of the group's poll).
pub(crate) struct KeptOps(u32);

/// Keeps the operation budget of the task polling a group: see [`KeptOps`].
pub(crate) fn keep_op_budget() -> KeptOps {
    KeptOps(context::with(|cx| cx.ops.get()))
}

impl Drop for KeptOps {
    fn drop(&mut self) {
        let _ = context::try_with(|cx| cx.ops.set(self.0));
    }
}

/// Counts one operation of the task being polled: `Ready` to go on, or,
/// once the task's budget for this poll is spent, `Pending` with the task
/// woken at once, so that it yields and comes back after the others.
/// Every leaf operation that can complete without waiting calls it first.
///
/// A spent operation budget also ends the run loop's poll budget: the
/// groups stop, and the run loop looks at fds and timers before the busy
/// task runs again. (Otherwise a turn of the run loop would allow 256
/// polls of 128 operations each: a 10 ms ticker beside a loop of 4 KiB
/// reads ticked twice in 100 ms.)
#[inline]
pub(crate) fn poll_op(cx: &mut Context<'_>) -> Poll<()> {
    let take = |ctx: &context::Context| match ctx.ops.get() {
        0 => {
            ctx.budget.set(0);
            false
        }
        n => {
            ctx.ops.set(n - 1);
            true
        }
    };
    if context::try_with(take).unwrap_or(true) {
        return Poll::Ready(());
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Gives the run loop's poll budget back, before a poll of the root.
pub(crate) fn reset_budget() {
    context::with(|cx| cx.budget.set(POLL_BUDGET));
}

/// Puts the context back to "no limit", outside a runtime.
pub(crate) fn clear_policy(cx: &context::Context) {
    cx.budget.set(u32::MAX);
    cx.ops.set(u32::MAX);
    cx.shuffle.set(None);
}

/// Takes one poll from the run loop's budget, and gives the task about to
/// be polled a fresh operation budget: false if the poll budget is spent,
/// and the caller (a task group) must return and be polled again later.
#[inline]
pub(crate) fn take_budget() -> bool {
    let take = |cx: &context::Context| match cx.budget.get() {
        0 => false,
        n => {
            cx.budget.set(n - 1);
            cx.ops.set(OP_BUDGET);
            true
        }
    };
    context::try_with(take).unwrap_or(true)
}

/// The state of the seeded order's generator for `seed` (never zero:
/// xorshift would stay at zero).
pub(crate) fn seed_state(seed: u64) -> u64 {
    (seed ^ 0x9E37_79B9_7F4A_7C15) | 1
}

/// Puts `keys` (woken children about to be polled) in a pseudo-random
/// order when the runtime runs with a seed; does nothing otherwise.
#[inline]
pub(crate) fn shuffle(keys: &mut [usize]) {
    if keys.len() < 2 {
        return;
    }
    let _ = context::try_with(|cx| {
        let Some(mut x) = cx.shuffle.get() else {
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
        cx.shuffle.set(Some(x));
    });
}
