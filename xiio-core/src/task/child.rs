//! A child's life: the future a group runs for it, and [`Task<T>`], the
//! handle to its value.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
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

// One per child: keep it small (`Cell`s, not `RefCell`s): with its `Rc`'s
// two counts, it fits a 64-byte allocator chunk.
const _: () = assert!(std::mem::size_of::<TaskState<()>>() <= 40);

/// What a child, its group and its [`Task`] handle share.
pub(crate) struct TaskState<T> {
    /// Where the child is in its life (read through [`peek`](Self::peek)).
    outcome: Cell<Outcome<T>>,
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
            outcome: Cell::new(Outcome::Running),
            cancel_requested: Cell::new(false),
            waiter: Cell::new(None),
            child: Cell::new(None),
        })
    }

    /// Runs `f` on the outcome. (`Outcome` is not `Copy`: it is taken out
    /// for `f` and put back; nothing in `f` can look at the cell.)
    fn peek<R>(&self, f: impl FnOnce(&Outcome<T>) -> R) -> R {
        let outcome = self.outcome.replace(Outcome::Running);
        let r = f(&outcome);
        self.outcome.set(outcome);
        r
    }

    /// Records the end of the child: a value, or `None` for failed.
    fn finish(&self, value: Option<T>) {
        self.outcome.set(match value {
            Some(value) => Outcome::Done(value),
            None => Outcome::Failed,
        });
        self.child.take();
        self.wake_waiter();
    }

    /// Records that the child was dropped, if it had not finished.
    fn dropped(&self) {
        if self.peek(|outcome| matches!(outcome, Outcome::Running)) {
            self.outcome.set(match std::thread::panicking() {
                true => Outcome::Failed,
                false => Outcome::Cancelled,
            });
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

pin_project_lite::pin_project! {
    /// A child's whole life: runs `fut`, ends early once its handle asked
    /// for its cancellation, and reports its end into the handle's state.
    ///
    /// A struct with `fut` pinned in place, not an `async` block: a block
    /// holding `fut` would keep it twice (the captured value and the pinned
    /// local it is moved into), doubling what a child costs. The pinned
    /// field is projected by `pin-project-lite` (tokio's and futures'
    /// choice), whose macro is the one place that code lives: it is sound
    /// because `Run` never moves `fut` and has no `Drop` of its own, which
    /// the macro checks. The check for cancellation lives here, in the
    /// child's own future, rather than in the group: the group needs no
    /// typed view of the handle, and the check costs a load, not a virtual
    /// call.
    pub(crate) struct Run<F, T, E> {
        #[pin]
        fut: F,
        // After `fut`, so that a cancelled child's future is dropped
        // before its handle says so.
        reporter: Reporter<T>,
        // True once the child waited (and its waker was given to its
        // handle, if it still had one).
        waker_known: bool,
        error: PhantomData<fn() -> E>,
    }
}

/// Runs `fut` as a child reporting into `state`.
pub(crate) fn run<F, E>(
    fut: F,
    state: Rc<TaskState<<F::Output as TaskOutput<E>>::Ok>>,
) -> Run<F, <F::Output as TaskOutput<E>>::Ok, E>
where
    F: Future,
    F::Output: TaskOutput<E>,
{
    Run {
        fut,
        reporter: Reporter(state),
        waker_known: false,
        error: PhantomData,
    }
}

impl<F, T, E> Future for Run<F, T, E>
where
    F: Future,
    F::Output: TaskOutput<E, Ok = T>,
{
    type Output = Result<(), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        let this = self.project();
        let state = &*this.reporter.0;
        if state.cancel_requested.get() {
            return Poll::Ready(Ok(())); // dropped next: `reporter` marks the handle
        }
        let Poll::Ready(output) = this.fut.poll(cx) else {
            if !*this.waker_known {
                // Only a child that waits needs its waker known to its
                // handle, for `Task::cancel`, and only while the handle
                // exists (it is not `Clone`: once dropped, no `cancel` can
                // come). The group polls a child always with the same
                // waker, so once is enough.
                if Rc::strong_count(&this.reporter.0) > 1 {
                    state.child.set(Some(cx.waker().clone()));
                }
                *this.waker_known = true;
                if state.cancel_requested.get() {
                    cx.waker().wake_by_ref(); // cancelled during this very poll
                }
            }
            return Poll::Pending;
        };
        match output.into_result() {
            Ok(value) => {
                state.finish(Some(value));
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                state.finish(None);
                Poll::Ready(Err(e))
            }
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
        !self
            .state
            .peek(|outcome| matches!(outcome, Outcome::Running))
    }

    /// True if the child was dropped before it finished.
    pub fn is_cancelled(&self) -> bool {
        self.state
            .peek(|outcome| matches!(outcome, Outcome::Cancelled))
    }

    /// The child's value, if it finished with one and it was not taken yet.
    pub fn take(&self) -> Option<T> {
        match self.state.outcome.replace(Outcome::Taken) {
            Outcome::Done(value) => Some(value),
            other => {
                self.state.outcome.set(other);
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
        let state = self.state.peek(|outcome| match outcome {
            Outcome::Running => "running",
            Outcome::Done(_) => "done",
            Outcome::Taken => "taken",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed => "failed",
        });
        f.debug_struct("Task").field("state", &state).finish()
    }
}

#[cfg(test)]
mod tests {
    /// The wrapper adds two words to a child's future (the handle's
    /// pointer, a flag), never a second copy of the future.
    #[test]
    fn the_wrapper_adds_two_words_and_no_copy_of_the_future() {
        let inner = async {
            let held = std::hint::black_box([0u8; 48]);
            std::future::ready(()).await;
            std::hint::black_box(held);
        };
        let size = std::mem::size_of_val(&inner).next_multiple_of(8);
        let child = super::run::<_, ()>(inner, super::TaskState::<()>::new());
        assert!(
            std::mem::size_of_val(&child) <= size + 16,
            "{size} -> {}",
            std::mem::size_of_val(&child)
        );
    }
}
