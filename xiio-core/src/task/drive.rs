//! The future that runs a task group: it polls the body and exactly the
//! children that were woken, fails the group on the first error or panic,
//! and returns once every child, cleanups included, has finished.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_task::{ArcWake, waker_ref};

use super::cancel;
use super::group::{BODY, Child, Failure, Inner, State, Work};
use super::queue::{self, ChildWaker};

/// How many times one poll of a group drains its queue before it yields to
/// its parent. Inside `xiio::run` the run loop's poll budget usually ends a
/// poll first; this bounds a group polled by another executor.
const ROUNDS: usize = 64;

/// How many wakers of finished children a group keeps for reuse. A group
/// that runs many short children then allocates one waker, not one per
/// child; a handful covers children finishing one after another.
const SPARE_WAKERS: usize = 16;

/// The body of a group.
enum Body<T, B> {
    /// Still running.
    Running(Pin<Box<B>>),
    /// Returned this value, kept until the children finished.
    Returned(T),
    /// Done with, or cancelled.
    Gone,
}

/// The future that runs a group: polls the body and the woken children.
pub(super) struct Drive<'scope, E, T, B> {
    /// The group's state; the only strong reference to it.
    inner: Rc<Inner<'scope, E>>,
    /// The body.
    body: Body<T, B>,
    /// The body's waker.
    body_waker: Arc<ChildWaker>,
    /// Keys taken from the queue; those from `next` on are still to be
    /// polled (left over when the poll budget ran out).
    keys: Vec<usize>,
    /// The next key of `keys` to poll.
    next: usize,
}

// Nothing in a `Drive` is pinned structurally (the body is boxed).
impl<E, T, B> Unpin for Drive<'_, E, T, B> {}

impl<'scope, E: 'scope, T, B> Drive<'scope, E, T, B>
where
    B: Future<Output = Result<T, E>>,
{
    pub(super) fn new(inner: Rc<Inner<'scope, E>>, body: Pin<Box<B>>) -> Self {
        let body_waker = inner.queue.waker(BODY);
        ArcWake::wake_by_ref(&body_waker); // the body starts at the first poll
        Drive {
            inner,
            body: Body::Running(body),
            body_waker,
            keys: Vec::new(),
            next: 0,
        }
    }

    fn poll_body(&mut self) {
        let Body::Running(body) = &mut self.body else {
            return;
        };
        self.body_waker.clear();
        let waker = waker_ref(&self.body_waker);
        let mut cx = Context::from_waker(&waker);
        let trace = self.inner.trace.as_ref();
        if let Some((tracer, id)) = trace {
            tracer.polling(*id, BODY);
        }
        let polled = catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(&mut cx)));
        if let Some((tracer, _)) = trace {
            tracer.polled();
        }
        let failure = match polled {
            Ok(Poll::Pending) => return,
            Ok(Poll::Ready(Ok(value))) => {
                self.body = Body::Returned(value);
                None
            }
            Ok(Poll::Ready(Err(e))) => Some(Failure::Error(e)),
            Err(payload) => Some(Failure::Panic(payload)),
        };
        self.inner.ended(BODY);
        if let Some(failure) = failure {
            self.body = Body::Gone;
            self.fail(failure);
        }
    }

    fn poll_child(&mut self, key: usize) {
        if let Some(failure) = self.inner.poll_child(key) {
            self.fail(failure);
        }
    }

    /// Records a failure (see [`State`] for which one counts) and, for the
    /// first, cancels the body and every task but the cleanups.
    fn fail(&mut self, failure: Failure<E>) {
        let inner = self.inner.clone();
        {
            let mut state = inner.state.borrow_mut();
            match (&*state, failure) {
                (State::Running, failure) => *state = State::Failing(failure),
                (State::Failing(Failure::Error(_)), panic @ Failure::Panic(_)) => {
                    *state = State::Failing(panic);
                    return;
                }
                _ => return,
            }
        }
        let body = std::mem::replace(&mut self.body, Body::Gone);
        cancel::cancel([body], &inner.orphans);
        cancel::cancel(inner.take_tasks(false), &inner.orphans);
        self.fail_with_left_panic();
    }

    /// Fails with the panic that cancelled tasks left in the sink, if any.
    fn fail_with_left_panic(&mut self) {
        if let Some(payload) = self.inner.orphans.take_panic() {
            self.fail(Failure::Panic(payload));
        }
    }

    /// Once the body and every foreground child are done (and nothing
    /// failed), cancels the background children, whose cleanups the group
    /// then awaits.
    fn end_background(&mut self) {
        let inner = self.inner.clone();
        let done = matches!(self.body, Body::Returned(_)) && inner.foreground.get() == 0;
        if done && inner.is_running() && !inner.children.borrow().is_empty() {
            cancel::cancel(inner.take_tasks(false), &inner.orphans);
            self.fail_with_left_panic();
        }
    }

    /// Turns orphaned cleanups into shielded children.
    #[inline]
    fn adopt_orphans(&self) {
        if self.inner.orphans.has_cleanups() {
            self.adopt_orphans_now(); // the rare case, out of line
        }
    }

    #[inline(never)]
    fn adopt_orphans_now(&self) {
        for orphan in self.inner.orphans.take_cleanups() {
            self.inner.insert(Work::Cleanup(orphan), None);
        }
    }
}

impl<'scope, E> Inner<'scope, E> {
    /// Polls the child at `key`, if it is still there; the failure it
    /// ended with, if any. (Inlined into the group's loop: called for every
    /// poll of every child.)
    #[inline(always)]
    fn poll_child(&self, key: usize) -> Option<Failure<E>> {
        let child = self
            .children
            .borrow_mut()
            .get_mut(key)
            .and_then(Option::take);
        let Some(mut child) = child else {
            return None; // a stale wake of a child that is gone
        };
        let handle = child.waker.get_or_insert_with(|| self.waker_for(key));
        handle.clear();
        let waker = waker_ref(handle);
        if let Some((tracer, id)) = &self.trace {
            tracer.polling(*id, key);
        }
        let mut cx = Context::from_waker(&waker);
        let polled = catch_unwind(AssertUnwindSafe(|| match &mut child.work {
            Work::Task(fut) | Work::Background(fut) => fut.as_mut().poll(&mut cx),
            Work::Cleanup(fut) => fut.as_mut().poll(&mut cx).map(Ok),
        }));
        if let Some((tracer, _)) = &self.trace {
            tracer.polled();
        }
        let cancelled = self.cancel_polled.take();
        if let (Ok(Poll::Pending), false) = (&polled, cancelled) {
            self.children.borrow_mut()[key] = Some(child);
            return None;
        }
        self.end_child(key, child, polled)
    }

    /// A waker for the child at `key`: a spare one if the group has one.
    fn waker_for(&self, key: usize) -> Arc<ChildWaker> {
        match self.spare_wakers.borrow_mut().pop() {
            Some(handle) => {
                handle.reuse(key);
                handle
            }
            None => self.queue.waker(key),
        }
    }

    /// Removes a child that finished, failed or panicked (`polled`), or is
    /// cancelled (`polled` pending), and drops it; the failure it ended
    /// with, if any.
    fn end_child(
        &self,
        key: usize,
        child: Child<'scope, E>,
        polled: std::thread::Result<Poll<Result<(), E>>>,
    ) -> Option<Failure<E>> {
        self.children.borrow_mut().remove(key);
        self.ended(key);
        if let Work::Task(_) = child.work {
            self.foreground.set(self.foreground.get() - 1);
        }
        let Child { work, waker } = child;
        // The future first: it may hold clones of the waker (in timers, fd
        // waits) that its drop releases. The group's sink is the innermost
        // one while it polls.
        cancel::drop_into(work, &self.orphans);
        if let Some(handle) = waker {
            // No clone of this waker is left but ours, so no stale wake can
            // reach the child that reuses it.
            if Arc::strong_count(&handle) == 1 && Arc::weak_count(&handle) == 0 {
                let mut spare = self.spare_wakers.borrow_mut();
                if spare.len() < SPARE_WAKERS {
                    spare.push(handle);
                }
            }
        }
        match polled {
            Ok(Poll::Ready(Err(e))) => Some(Failure::Error(e)),
            Err(payload) => Some(Failure::Panic(payload)),
            Ok(_) => None,
        }
    }
}

impl<'scope, E: 'scope, T, B> Future for Drive<'scope, E, T, B>
where
    B: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        let this = &mut *self;
        let inner = this.inner.clone();
        let _sink = cancel::collect_into(&inner.orphans);
        // Each task polled below gets an operation budget of its own
        // (`take_budget`); the task polling us gets its own back after.
        let _ops = queue::keep_op_budget();
        let mut keys = std::mem::take(&mut this.keys);
        // Keys before `next` were polled by the last poll; those after it
        // had no budget yet, and the queued ones come after them. The
        // polled prefix goes once it is at least half of `keys`: never
        // dropping it grew `keys` by one per child poll for a group busier
        // than the budget; dropping it at every poll moved every waiting
        // key at every poll, O(n²) for a burst of n wakes.
        let mut next = this.next;
        if next * 2 >= keys.len() {
            keys.drain(..next);
            next = 0;
        }
        // Wakes from here to `end_poll` do not wake our parent: we look at
        // the queue again before returning.
        inner.queue.begin_poll(cx.waker(), &mut keys);
        queue::shuffle(&mut keys[next..]);
        let mut rounds = 1;
        loop {
            if next == keys.len() {
                keys.clear();
                next = 0;
                this.adopt_orphans();
                if rounds == ROUNDS {
                    break;
                }
                inner.queue.take_into(&mut keys);
                queue::shuffle(&mut keys);
                if keys.is_empty() {
                    break;
                }
                rounds += 1;
            }
            if !queue::take_budget() {
                break; // the rest of `keys` waits for the next poll
            }
            let key = keys[next];
            next += 1;
            if key == BODY {
                this.poll_body();
            } else {
                this.poll_child(key);
            }
            this.fail_with_left_panic();
        }
        this.end_background();
        // Cleanups orphaned by the last polls become children before the
        // group decides whether it is done.
        this.adopt_orphans();
        let more = next < keys.len();
        this.keys = keys;
        this.next = next;
        inner.queue.end_poll(more);
        if !inner.children.borrow().is_empty() {
            return Poll::Pending;
        }
        let body = std::mem::replace(&mut this.body, Body::Gone);
        let state = std::mem::replace(&mut *inner.state.borrow_mut(), State::Done);
        match (state, body) {
            (State::Failing(Failure::Error(e)), _) => Poll::Ready(Err(e)),
            (State::Failing(Failure::Panic(payload)), _) => resume_unwind(payload),
            (_, Body::Returned(value)) => Poll::Ready(Ok(value)),
            (state, body) => {
                // The body still runs.
                *inner.state.borrow_mut() = state;
                this.body = body;
                Poll::Pending
            }
        }
    }
}

impl<E, T, B> Drop for Drive<'_, E, T, B> {
    /// The group itself is cancelled (dropped by its parent): cancel the
    /// body and the children, and hand every cleanup not finished, and a
    /// panic the group held, to the enclosing group, which runs them.
    fn drop(&mut self) {
        let inner = &self.inner;
        let state = std::mem::replace(&mut *inner.state.borrow_mut(), State::Done);
        let body = std::mem::replace(&mut self.body, Body::Gone);
        let (mut tasks, mut cleanups) = (Vec::new(), Vec::new());
        for child in inner.children.borrow_mut().drain().flatten() {
            match child.work {
                Work::Task(fut) | Work::Background(fut) => tasks.push(fut),
                Work::Cleanup(cleanup) => cleanups.push(cleanup),
            }
        }
        cancel::cancel([body], &inner.orphans);
        cancel::cancel(tasks, &inner.orphans);
        cleanups.append(&mut inner.orphans.take_cleanups());
        cleanups.into_iter().for_each(cancel::adopt);
        let panic = match state {
            State::Failing(Failure::Panic(payload)) => Some(payload),
            _ => inner.orphans.take_panic(),
        };
        if let Some(payload) = panic {
            cancel::adopt_panic(payload);
        }
    }
}
