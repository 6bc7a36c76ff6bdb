//! A child's life: the future a group runs for it, and [`Task<T>`], the
//! handle to its value.

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

// One per child: keep it small (`Cell`s, not `RefCell`s, for the wakers).
const _: () = assert!(std::mem::size_of::<TaskState<()>>() <= 56);

/// What a child, its group and its [`Task`] handle share.
pub(crate) struct TaskState<T> {
    /// Where the child is in its life.
    outcome: RefCell<Outcome<T>>,
    /// Set by [`Task::cancel`]; the group cancels the child when it next
    /// looks at it.
    cancel_requested: Cell<bool>,
    /// A task awaiting this one.
    waiter: Cell<Option<Waker>>,
    /// The child's waker, to have the group look at it when cancelled. Set
    /// once the child waits (before that it is queued in its group or being
    /// polled, and the group sees the request anyway), cleared when it is
    /// over, so that a kept handle does not keep the waker alive (the group
    /// reuses it for another child).
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

    /// Records the end of the child: a value, or `None` for failed.
    fn finish(&self, value: Option<T>) {
        *self.outcome.borrow_mut() = match value {
            Some(value) => Outcome::Done(value),
            None => Outcome::Failed,
        };
        self.child.take();
        self.wake_waiter();
    }

    /// Records that the child was dropped, if it had not finished.
    fn dropped(&self) {
        let mut outcome = self.outcome.borrow_mut();
        if matches!(*outcome, Outcome::Running) {
            *outcome = match std::thread::panicking() {
                true => Outcome::Failed,
                false => Outcome::Cancelled,
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

/// What a child of a `TaskGroup<'_, '_, E>` may return: `Result<T, E>` (an
/// `Err` fails the group) or `()`.
#[diagnostic::on_unimplemented(
    message = "a task of a TaskGroup must return `Result<T, E>` with the group's error type, `()`, or never return",
    label = "this task returns `{Self}`",
    note = "wrap a plain value in `Ok(...)`; a task that only fails, or ends with `?`, needs its types spelled: `Err::<(), _>(e)`, `Ok::<_, MyError>(())`"
)]
pub trait TaskOutput<E> {
    /// The value kept in the task's [`Task`] handle.
    type Ok;

    /// Splits into the value or the error that fails the group.
    fn into_result(self) -> Result<Self::Ok, E>;
}

impl<T, E> TaskOutput<E> for Result<T, E> {
    type Ok = T;

    fn into_result(self) -> Result<T, E> {
        self
    }
}

impl<E> TaskOutput<E> for () {
    type Ok = ();

    fn into_result(self) -> Result<(), E> {
        Ok(())
    }
}

/// `!`, the output of a future that never returns, such as
/// `async { loop { ... } }`, named on stable Rust through a function
/// pointer type (`fn() -> !` is stable, the `!` type itself is not).
#[doc(hidden)]
pub type Never = <fn() -> ! as FnOutput>::Output;

/// The output type of a function pointer type; only for [`Never`].
#[doc(hidden)]
pub trait FnOutput {
    /// What the function returns.
    type Output;
}

impl<T> FnOutput for fn() -> T {
    type Output = T;
}

/// A task that never returns (`async { loop { ... } }`, whose type is
/// `!`) is a fine child too: it runs until it is cancelled, typically
/// by [`TaskGroup::cancel`](crate::TaskGroup::cancel) or as a background
/// child.
impl<E> TaskOutput<E> for Never {
    type Ok = Never;

    fn into_result(self) -> Result<Never, E> {
        self
    }
}

/// The child's side of its `Task` handle. Dropped before the child
/// finished (even before its first poll), it marks the handle cancelled.
struct Reporter<T>(Rc<TaskState<T>>);

impl<T> Drop for Reporter<T> {
    fn drop(&mut self) {
        self.0.dropped();
    }
}

/// A child's whole life: runs `fut` and reports its end into `state`.
///
/// A plain function returning an `async move` block, not an `async fn`: an
/// `async fn` first moves its arguments into locals, so the child's future
/// would hold `fut` once more (rustc keeps every such slot).
pub(crate) fn run<F, E>(
    fut: F,
    state: Rc<TaskState<<F::Output as TaskOutput<E>>::Ok>>,
) -> impl Future<Output = Result<(), E>>
where
    F: Future,
    F::Output: TaskOutput<E>,
{
    // Made out here, so that a child dropped before its first poll (whose
    // block never ran) marks its handle cancelled too.
    let reporter = Reporter(state);
    async move {
        let output = Cancellable {
            fut: std::pin::pin!(fut),
            state: &reporter.0,
            waker_known: false,
        }
        .await;
        match output.map(TaskOutput::into_result) {
            None => Ok(()), // cancelled: `reporter` marks the handle so
            Some(Ok(value)) => {
                reporter.0.finish(Some(value));
                Ok(())
            }
            Some(Err(e)) => {
                reporter.0.finish(None);
                Err(e)
            }
        }
    }
}

/// A child's future, which ends early (with `None`) once its handle asked
/// for its cancellation. The check lives here, in the child's own
/// future, rather than in the group: the group then needs no typed view of
/// the handle, and the check costs a load, not a virtual call.
struct Cancellable<'a, F, T> {
    fut: Pin<&'a mut F>,
    state: &'a TaskState<T>,
    /// True once the child's waker was given to its handle.
    waker_known: bool,
}

impl<F: Future, T> Future for Cancellable<'_, F, T> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let this = &mut *self;
        if this.state.cancel_requested.get() {
            return Poll::Ready(None);
        }
        let poll = this.fut.as_mut().poll(cx).map(Some);
        if poll.is_pending() && !this.waker_known {
            // Only a child that waits needs its waker known to its handle,
            // for `Task::cancel`; the group polls a child always with the
            // same waker, so once is enough.
            this.state.child.set(Some(cx.waker().clone()));
            this.waker_known = true;
            if this.state.cancel_requested.get() {
                cx.waker().wake_by_ref(); // cancelled during this very poll
            }
        }
        poll
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
            // Taken: the child needs no waking after this one.
            if let Some(waker) = self.state.child.take() {
                waker.wake();
            }
        }
    }

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
        match self.poll_finished(cx) {
            true => Poll::Ready(self.take()),
            false => Poll::Pending,
        }
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

#[cfg(test)]
mod tests {
    /// The wrapper adds to a child's future only the copy rustc keeps of a
    /// future moved into another (the moved-from slot) and three words
    /// (the handle's pointer, the pinned future's, a flag); an `async fn`
    /// would add one more copy.
    #[test]
    fn the_wrapper_adds_one_copy_of_the_future_and_three_words() {
        let inner = async {
            let held = std::hint::black_box([0u8; 48]);
            std::future::ready(()).await;
            std::hint::black_box(held);
        };
        let size = std::mem::size_of_val(&inner).next_multiple_of(8);
        let child = super::run::<_, ()>(inner, super::TaskState::<()>::new());
        assert!(
            std::mem::size_of_val(&child) <= 2 * size + 24,
            "{size} -> {}",
            std::mem::size_of_val(&child)
        );
    }
}
