//! `Task<T>`: the handle to one child of a task group.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A child of a [`TaskGroup`](crate::TaskGroup), returned by
/// [`add_task`](crate::TaskGroup::add_task).
///
/// The group drops a finished child at once; its value waits here until
/// [`take`](Task::take)n. Awaiting a `Task` (inside the group) waits for that
/// one child and gives its value, or `None` if it was cancelled, failed, or
/// its value was taken.
///
/// # Examples
///
/// ```
/// let (a, b) = xiio::run(async {
///     xiio::task_group!(|tg| {
///         let a = tg.add_task(async { Ok(1) });
///         let b = tg.add_task(async { Ok(2) });
///         Ok::<_, ()>((a, b))
///     })
/// })
/// .unwrap();
/// assert_eq!((a.take(), b.take()), (Some(1), Some(2)));
/// ```
pub struct Task<T> {
    /// What the child and this handle share.
    state: Rc<TaskState<T>>,
}

/// What a child and its [`Task`] handle share.
pub(crate) struct TaskState<T> {
    /// Where the child is in its life.
    outcome: RefCell<Outcome<T>>,
    /// Set by [`Task::cancel`]; the child sees it at its next poll.
    cancel_requested: Cell<bool>,
    /// A task awaiting this one.
    waiter: Cell<Option<Waker>>,
    /// The child's waker, to have the group look at it when cancelled. Set
    /// when the child first waits (before that it is queued in its group or
    /// being polled, and sees the request anyway), cleared when it is over,
    /// so a kept handle does not keep the waker alive (and the group can
    /// reuse it for another child).
    /// (`Cell`s, not `RefCell`s: taken and put back, never borrowed, which
    /// saves a borrow flag each in every child.)
    child: Cell<Option<Waker>>,
}

/// Where a child is in its life.
enum Outcome<T> {
    /// Not finished.
    Running,
    /// Finished with this value.
    Done(T),
    /// Finished, and the value was taken.
    Taken,
    /// Dropped before it finished.
    Cancelled,
    /// Returned an error or panicked (the error went to the group).
    Failed,
}

impl<T> TaskState<T> {
    /// The state of a child that has not run yet.
    pub(crate) fn new() -> Rc<TaskState<T>> {
        Rc::new(TaskState {
            outcome: RefCell::new(Outcome::Running),
            cancel_requested: Cell::new(false),
            waiter: Cell::new(None),
            child: Cell::new(None),
        })
    }

    /// True if the handle asked for cancellation.
    pub(crate) fn cancel_requested(&self) -> bool {
        self.cancel_requested.get()
    }

    /// Remembers the waker the child waits with (see `child`).
    pub(crate) fn set_child_waker(&self, waker: &Waker) {
        let known = self.child.take();
        if known.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.child.set(known);
        } else {
            self.child.set(Some(waker.clone()));
        }
    }

    /// Records the end of the child: a value, or `None` for failed.
    pub(crate) fn finish(&self, value: Option<T>) {
        *self.outcome.borrow_mut() = match value {
            Some(value) => Outcome::Done(value),
            None => Outcome::Failed,
        };
        self.child.take();
        self.wake_waiter();
    }

    /// Records that the child was dropped, if it had not finished.
    pub(crate) fn dropped(&self) {
        let mut outcome = self.outcome.borrow_mut();
        if matches!(*outcome, Outcome::Running) {
            *outcome = if std::thread::panicking() {
                Outcome::Failed
            } else {
                Outcome::Cancelled
            };
            drop(outcome);
            self.child.take();
            self.wake_waiter();
        }
    }

    fn wake_waiter(&self) {
        if let Some(waker) = self.waiter.take() {
            waker.wake();
        }
    }
}

impl<T> Task<T> {
    /// The handle of the child that reports into `state`.
    pub(crate) fn new(state: Rc<TaskState<T>>) -> Task<T> {
        Task { state }
    }

    /// True once the child finished, failed or was cancelled.
    pub fn is_finished(&self) -> bool {
        !matches!(*self.state.outcome.borrow(), Outcome::Running)
    }

    /// True if the child was dropped before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(*self.state.outcome.borrow(), Outcome::Cancelled)
    }

    /// The child's value, if it finished with one and it was not taken yet.
    pub fn take(&self) -> Option<T> {
        let mut outcome = self.state.outcome.borrow_mut();
        match std::mem::replace(&mut *outcome, Outcome::Taken) {
            Outcome::Done(value) => Some(value),
            other => {
                *outcome = other;
                None
            }
        }
    }

    /// Cancels this child alone: the group drops it at its current await
    /// point the next time the group runs (its `try_finally` cleanups still
    /// run), and the rest of the group goes on. Does nothing to a finished
    /// child.
    pub fn cancel(&self) {
        if !self.is_finished() && !self.state.cancel_requested.replace(true) {
            // Taken: the child needs no waking after this one (it ends at
            // its next poll, which clears the slot anyway).
            if let Some(waker) = self.state.child.take() {
                waker.wake();
            }
        }
    }
}

impl<T> Task<T> {
    /// True once the child finished; otherwise `cx` is woken when it does.
    /// (The same single waiter slot as awaiting the task.)
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> bool {
        if self.is_finished() {
            return true;
        }
        self.state.waiter.set(Some(cx.waker().clone()));
        false
    }
}

impl<T> Future for Task<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.is_finished() {
            return Poll::Ready(self.take());
        }
        self.state.waiter.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match *self.state.outcome.borrow() {
            Outcome::Running => "running",
            Outcome::Done(_) => "done",
            Outcome::Taken => "taken",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed => "failed",
        };
        f.debug_struct("Task").field("state", &state).finish()
    }
}
