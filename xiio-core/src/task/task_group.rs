//! `TaskGroup`: structured concurrency. Every child task lives inside a
//! group, and the group does not finish before all of its children did.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::handle::{Task, TaskState};
use super::ready_queue::{ChildWaker, GroupQueue};
use super::tree::Record;
use super::try_finally::{self, Orphan, Sink};
use crate::runtime;

/// The queue key of a group's body (children use their slab keys).
const BODY: usize = usize::MAX;

/// How many times one poll of a group drains its queue before it yields to
/// its parent. Inside `xiio::run` the run loop's poll budget (see
/// `runtime::take_budget`) usually ends a poll first; this bounds a group
/// polled by another executor.
const ROUNDS: usize = 64;

/// How many wakers of finished children a group keeps for reuse. A group
/// that runs many short children then allocates one waker, not one per
/// child; a handful covers children finishing one after another.
const SPARE_WAKERS: usize = 16;

/// A scope for concurrent tasks: the Rust form of the Python original's
/// `async with TaskGroup() as tg:`, usually written with
/// [`task_group!`](crate#macros) or [`TaskGroup::scope`].
///
/// - When the group finishes, every child has finished or been dropped.
/// - A child added with [`add_task`](TaskGroup::add_task) starts the next
///   time the body (or whoever polls the group) awaits, not inside
///   `add_task`.
/// - The body is part of the group: children run while it runs, and an
///   error or `?` in the body cancels the children.
/// - The first error (a child's or the body's `Err`, or a panic) cancels
///   every other task; the group then returns that error (a panic is
///   resumed once the cancellation is complete). Errors that happen during
///   cancellation are lost. A panic never is: the first panic (in a child,
///   a cleanup, or the `Drop` of a cancelled child) wins over errors, even
///   earlier ones, and is resumed once every cleanup is done.
/// - A finished child is removed from the group at once; its value waits in
///   its [`Task`] handle.
/// - Children can be added while the group runs, from the body or from
///   other children (clone the `TaskGroup` handle into them).
/// - Cancellation is a drop at the task's current await point;
///   [`try_finally`](crate::try_finally) cleanups still run, and the group
///   waits for them.
///
/// Beyond the eight properties of the original:
///
/// - [`cancel`](TaskGroup::cancel) cancels every running child but not the
///   body, and the group returns the body's value: the way to stop children
///   that would run for ever.
/// - [`add_background`](TaskGroup::add_background) adds a child the group
///   does not wait for: it is cancelled once the body and the other
///   children are done.
/// - Dropping a [`Task`] handle does not cancel its child.
///
/// Children may borrow the caller's locals (`'env`): they need not be
/// `'static` or `Send`. `TaskGroup` is a cheap handle (`Rc`); clones refer to
/// the same group.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let names = ["ada", "grace"];
///     let start = xiio::now();
///     let lengths = xiio::TaskGroup::scope(async |tg| {
///         let tasks: Vec<_> = names
///             .iter()
///             .map(|name| {
///                 tg.add_task(async move {
///                     xiio::sleep(Duration::from_millis(100)).await;
///                     Ok(name.len())
///                 })
///             })
///             .collect();
///         Ok::<_, std::io::Error>(tasks)
///     })
///     .await?;
///     // The children slept in parallel.
///     assert_eq!(xiio::now() - start, Duration::from_millis(100));
///     let lengths: Vec<_> = lengths.iter().map(|t| t.take().unwrap()).collect();
///     assert_eq!(lengths, [3, 5]);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct TaskGroup<'env, E> {
    /// The group's state, shared by clones of the handle.
    inner: Rc<Inner<'env, E>>,
}

/// The state of a group.
struct Inner<'env, E> {
    /// The live children. A child being polled is taken out of its slot
    /// (`None`) so that it can add siblings meanwhile.
    children: RefCell<Slab<Option<Child<'env, E>>>>,
    /// Which children (and the body) were woken.
    queue: GroupQueue,
    /// Wakers of finished children that nobody holds any more, for reuse.
    spare_wakers: RefCell<Vec<(Waker, Arc<ChildWaker>)>>,
    /// Cleanups of dropped `try_finally`s waiting to become children.
    orphans: Sink,
    /// The first error or panic.
    failure: RefCell<Option<Failure<E>>>,
    /// True once the group cancels its tasks.
    cancelling: Cell<bool>,
    /// True once the group returned or was dropped; adding to it then is a
    /// bug.
    finished: Cell<bool>,
    /// Live children added with `add_task` (not background ones, not
    /// cleanups): once the body is done and this is zero, the background
    /// children are cancelled.
    foreground: Cell<usize>,
    /// Set by `cancel` called from the child being polled: that child is
    /// dropped once its poll returns.
    cancel_polled: Cell<bool>,
    /// A panic in the `Drop` of a child that `cancel` dropped, for the
    /// group to fail with.
    dropped_panic: Cell<Option<Box<dyn Any + Send>>>,
    /// The group's record in the task tree, if the runtime keeps one.
    tree: Option<Rc<Record>>,
}

/// One child of a group.
struct Child<'env, E> {
    /// What it runs.
    fut: ChildFuture<'env, E>,
    /// Its waker, which queues it in the group, and the same waker's
    /// handle, to clear its "queued" flag before a poll. Made at the first
    /// poll (until then the child sits in the queue and nobody can wake
    /// it), from a spare if the group has one.
    waker: Option<(Waker, Arc<ChildWaker>)>,
    /// True for a child added with `add_background`.
    background: bool,
}

/// What a child runs.
enum ChildFuture<'env, E> {
    /// A task added with `add_task`, wrapped to fill its `Task` handle.
    Task(Pin<Box<dyn Future<Output = Result<(), E>> + 'env>>),
    /// An orphaned cleanup: shielded from cancellation.
    Cleanup(Orphan),
}

/// Why a group fails.
enum Failure<E> {
    /// A task returned `Err`.
    Error(E),
    /// A task panicked.
    Panic(Box<dyn Any + Send>),
}

/// What a child of a `TaskGroup<'_, E>` may return: `Result<T, E>` (an
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

/// `!`, the output of a future that never returns, such as
/// `async { loop { ... } }`, named on stable Rust through a function
/// pointer type (`fn() -> !` is stable, the `!` type itself is not).
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
/// by [`TaskGroup::cancel`] or as a background child
/// ([`TaskGroup::add_background`]).
impl<E> TaskOutput<E> for Never {
    type Ok = Never;

    fn into_result(self) -> Result<Never, E> {
        self
    }
}

impl<E> TaskOutput<E> for () {
    type Ok = ();

    fn into_result(self) -> Result<(), E> {
        Ok(())
    }
}

impl<'env, E: 'env> TaskGroup<'env, E> {
    /// Runs `body` with a new group and returns when the body and all
    /// children finished: the body's value, or the group's first error.
    ///
    /// A panic in the body or a child is resumed here, after every other
    /// task was cancelled and all cleanups finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = xiio::run(xiio::TaskGroup::scope(async |tg| {
    ///     tg.add_task(async { Err::<(), _>("child failed") });
    ///     xiio::sleep(std::time::Duration::from_secs(1)).await; // cancelled
    ///     Ok(())
    /// }));
    /// assert_eq!(result, Err("child failed"));
    /// ```
    pub async fn scope<T, F>(body: F) -> Result<T, E>
    where
        F: AsyncFnOnce(&TaskGroup<'env, E>) -> Result<T, E>,
    {
        let group = TaskGroup::new();
        let body = Box::pin(body(&group));
        let (body_waker, body_handle) = ChildWaker::new(BODY, group.inner.queue.shared());
        if let Some(tree) = &group.inner.tree {
            tree.set_child(BODY, "body", address(&body_handle));
        }
        body_waker.wake_by_ref();
        Drive {
            group: &group,
            body: Some(body),
            output: None,
            body_waker,
            body_handle,
            keys: Vec::new(),
            next: 0,
        }
        .await
    }

    fn new() -> TaskGroup<'env, E> {
        TaskGroup {
            inner: Rc::new(Inner {
                children: RefCell::new(Slab::new()),
                queue: GroupQueue::new(),
                spare_wakers: RefCell::new(Vec::new()),
                orphans: Sink::default(),
                failure: RefCell::new(None),
                cancelling: Cell::new(false),
                finished: Cell::new(false),
                foreground: Cell::new(0),
                cancel_polled: Cell::new(false),
                dropped_panic: Cell::new(None),
                tree: Record::new(),
            }),
        }
    }

    /// Adds a child that runs `fut`; it starts at the group's next await.
    ///
    /// The child returns `Result<T, E>` (an `Err` fails the group and the
    /// value goes to the returned [`Task`]) or `()`. Added while the group is
    /// cancelling, the child is dropped without running.
    ///
    /// Dropping the returned [`Task`] does not cancel the child (unlike
    /// smol's `Task`): the child belongs to the group, and the handle only
    /// reads its value or cancels it ([`Task::cancel`]).
    ///
    /// # Panics
    ///
    /// When the group has already finished: add tasks from inside the group's
    /// body or its children.
    pub fn add_task<F>(&self, fut: F) -> Task<<F::Output as TaskOutput<E>>::Ok>
    where
        F: Future + 'env,
        F::Output: TaskOutput<E>,
    {
        self.spawn(fut, false)
    }

    /// Adds a background child: like [`add_task`](TaskGroup::add_task),
    /// but the group does not wait for it. Once the body and every other
    /// child (not background) are done, the background children are
    /// cancelled (their `try_finally` cleanups awaited) and the group
    /// returns. For a heartbeat, a watcher of signals, a cache refresher:
    /// work that lives as long as the rest of the group.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::time::Duration;
    ///
    /// xiio::Builder::new().mock_clock(true).run(async {
    ///     let beats = Cell::new(0);
    ///     let start = xiio::now();
    ///     xiio::task_group!(|tg| {
    ///         tg.add_background(async {
    ///             loop {
    ///                 xiio::sleep(Duration::from_millis(100)).await;
    ///                 beats.set(beats.get() + 1);
    ///             }
    ///         });
    ///         xiio::sleep(Duration::from_millis(350)).await; // the real work
    ///         Ok::<_, ()>(())
    ///     })
    ///     .unwrap();
    ///     // The heartbeat ended with the body.
    ///     assert_eq!(xiio::now() - start, Duration::from_millis(350));
    ///     assert_eq!(beats.get(), 3);
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// When the group has already finished.
    pub fn add_background<F>(&self, fut: F) -> Task<<F::Output as TaskOutput<E>>::Ok>
    where
        F: Future + 'env,
        F::Output: TaskOutput<E>,
    {
        self.spawn(fut, true)
    }

    fn spawn<F>(&self, fut: F, background: bool) -> Task<<F::Output as TaskOutput<E>>::Ok>
    where
        F: Future + 'env,
        F::Output: TaskOutput<E>,
    {
        let inner = &self.inner;
        assert!(
            !inner.finished.get(),
            "TaskGroup::add_task called on a group that has finished: \
             add tasks from inside the group's body or its children"
        );
        let state = TaskState::new();
        let child = run_child(fut, Reporter(state.clone()));
        if inner.cancelling.get() {
            drop(child); // its `Reporter` marks the handle cancelled
            return Task::new(state);
        }
        if !background {
            inner.foreground.set(inner.foreground.get() + 1);
        }
        self.insert(ChildFuture::Task(Box::pin(child)), background);
        Task::new(state)
    }

    /// Cancels every child of the group that is running now (those added
    /// with `add_task` and with `add_background`), as a failure would but
    /// without failing the group: each is dropped at once, at its current
    /// await point; its `try_finally` cleanups run and the group waits for
    /// them.
    /// The body is not cancelled: it goes on, and the group returns the
    /// body's value once the body and the cleanups are done. Children added
    /// after the call run as usual.
    ///
    /// Called from a child, it cancels that child too (it is dropped when
    /// its current poll returns), and still not the body. To stop the body
    /// from a child, return an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// xiio::Builder::new().mock_clock(true).run(async {
    ///     let start = xiio::now();
    ///     let value = xiio::task_group!(|tg| {
    ///         let forever = tg.add_task(async {
    ///             xiio::try_finally(std::future::pending::<()>(), async {
    ///                 xiio::sleep(Duration::from_millis(50)).await; // cleanup
    ///             })
    ///             .await
    ///         });
    ///         xiio::sleep(Duration::from_millis(100)).await;
    ///         tg.cancel(); // the work is done: stop the rest
    ///         assert!(forever.is_cancelled());
    ///         Ok::<_, ()>("done")
    ///     });
    ///     assert_eq!(value, Ok("done"));
    ///     assert_eq!(xiio::now() - start, Duration::from_millis(150));
    /// });
    /// ```
    pub fn cancel(&self) {
        let cancelled = self.take_tasks(true);
        let _sink = try_finally::collect_into(&self.inner.orphans);
        if let Some(payload) = drop_each(cancelled) {
            // The group fails with it at its next poll.
            let first = self.inner.dropped_panic.take().unwrap_or(payload);
            self.inner.dropped_panic.set(Some(first));
        }
        // Wake whoever polls the group: it adopts the cleanups and may be
        // done.
        self.inner.queue.push(BODY);
    }

    /// Takes every child added with `add_task` or `add_background` (not
    /// cleanups) out of the group, for the caller to drop. With
    /// `with_polled`, the child being polled right now (the caller, if a
    /// child calls this) is marked to be dropped after its poll.
    fn take_tasks(&self, with_polled: bool) -> Vec<Child<'env, E>> {
        let inner = &self.inner;
        let mut children = inner.children.borrow_mut();
        let mut keys = Vec::new();
        for (key, child) in children.iter() {
            match child {
                Some(Child {
                    fut: ChildFuture::Task(_),
                    ..
                }) => keys.push(key),
                None if with_polled => inner.cancel_polled.set(true),
                _ => {} // cleanups are never cancelled
            }
        }
        if let Some(tree) = &inner.tree {
            keys.iter().for_each(|&key| tree.remove_child(key));
        }
        let taken: Vec<_> = keys
            .into_iter()
            .filter_map(|key| children.remove(key))
            .collect();
        let foreground = taken.iter().filter(|child| !child.background).count();
        inner.foreground.set(inner.foreground.get() - foreground);
        taken
    }

    /// The number of live children (finished ones are removed at once).
    pub fn len(&self) -> usize {
        self.inner.children.borrow().len()
    }

    /// True if no child is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a child and queues it, so it starts at the next poll.
    fn insert(&self, fut: ChildFuture<'env, E>, background: bool) {
        let kind = match (&fut, background) {
            (ChildFuture::Cleanup(_), _) => "cleanup",
            (_, true) => "background task",
            (_, false) => "task",
        };
        let key = self.inner.children.borrow_mut().insert(Some(Child {
            fut,
            waker: None,
            background,
        }));
        if let Some(tree) = &self.inner.tree {
            tree.set_child(key, kind, 0);
        }
        self.inner.queue.push(key);
    }
}

impl<E> Clone for TaskGroup<'_, E> {
    fn clone(&self) -> Self {
        TaskGroup {
            inner: self.inner.clone(),
        }
    }
}

impl<E> fmt::Debug for TaskGroup<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("children", &self.inner.children.borrow().len())
            .field("cancelling", &self.inner.cancelling.get())
            .finish()
    }
}

/// The child's side of its `Task` handle. Dropped before the child
/// finished (even before its first poll, as an argument of `run_child`), it
/// marks the handle cancelled.
struct Reporter<T>(Rc<TaskState<T>>);

impl<T> Drop for Reporter<T> {
    fn drop(&mut self) {
        self.0.dropped();
    }
}

/// A child's whole life: runs `fut` unless cancelled, and reports into its
/// `Task` handle.
///
/// A plain function returning an `async move` block, not an `async fn`: an
/// `async fn` first moves its arguments into locals, and `pin!` then moves
/// `fut` once more, so the child's future held `fut` three times (rustc
/// keeps every one of those slots). The block holds it twice: the
/// captured value and the pinned local it is moved into at the first poll.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps one more copy of `fut`"
)]
fn run_child<F, E>(
    fut: F,
    reporter: Reporter<<F::Output as TaskOutput<E>>::Ok>,
) -> impl Future<Output = Result<(), E>>
where
    F: Future,
    F::Output: TaskOutput<E>,
{
    async move {
        let state = &*reporter.0;
        let output = Cancellable {
            fut: pin!(fut),
            state,
            waker_known: false,
        }
        .await;
        match output.map(TaskOutput::into_result) {
            None => Ok(()),
            Some(Ok(value)) => {
                state.finish(Some(value));
                Ok(())
            }
            Some(Err(e)) => {
                state.finish(None);
                Err(e)
            }
        }
    }
}

/// A child's future, unless its handle cancels it first. (A struct, not a
/// `poll_fn` closure: the closure's captures took another three words in
/// every child.)
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
        if this.state.cancel_requested() {
            return Poll::Ready(None);
        }
        let poll = this.fut.as_mut().poll(cx).map(Some);
        if poll.is_pending() && !this.waker_known {
            // Only a child that waits needs its waker known to its handle
            // (for `Task::cancel`); the group polls a child always with
            // the same waker, so once is enough.
            this.state.set_child_waker(cx.waker());
            this.waker_known = true;
            if this.state.cancel_requested() {
                cx.waker().wake_by_ref(); // cancelled during this very poll
            }
        }
        poll
    }
}

/// The future that runs a group: polls the body and the woken children.
struct Drive<'g, 'env, E, T, B> {
    /// The group it runs.
    group: &'g TaskGroup<'env, E>,
    /// The body, until it finished or was cancelled.
    body: Option<Pin<Box<B>>>,
    /// The body's value, kept until the children finished.
    output: Option<T>,
    /// The body's waker.
    body_waker: Waker,
    /// The same, to clear its "queued" flag.
    body_handle: Arc<ChildWaker>,
    /// Keys taken from the queue; those from `next` on are still to be
    /// polled (left over when the poll budget ran out).
    keys: Vec<usize>,
    /// The next key of `keys` to poll.
    next: usize,
}

// Nothing in a `Drive` is pinned structurally (the body is boxed).
impl<E, T, B> Unpin for Drive<'_, '_, E, T, B> {}

impl<'env, E: 'env, T, B> Future for Drive<'_, 'env, E, T, B>
where
    B: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        let this = &mut *self;
        let inner = this.group.inner.clone();
        let _sink = try_finally::collect_into(&inner.orphans);
        let mut keys = std::mem::take(&mut this.keys);
        // Keys before `next` were polled by the last poll; those after it
        // had no budget yet, and the queued ones come after them. The
        // polled prefix goes once it is at least half of `keys`: never
        // dropping it grew `keys` by one per child poll for a group busier
        // than the budget, for ever; dropping it at every poll moved every
        // waiting key at every poll, O(n²) for a burst of n wakes (100k
        // timers firing together spent 7 % of their time in that memmove).
        let mut next = this.next;
        if next * 2 >= keys.len() {
            keys.drain(..next);
            next = 0;
        }
        // Wakes from here to `end_poll` do not wake our parent: we look at
        // the queue again before returning.
        inner.queue.begin_poll(cx.waker(), &mut keys);
        runtime::shuffle(&mut keys[next..]);
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
                runtime::shuffle(&mut keys);
                if keys.is_empty() {
                    break;
                }
                rounds += 1;
            }
            if !runtime::take_budget() {
                break; // the rest of `keys` waits for the next poll
            }
            let key = keys[next];
            next += 1;
            if key == BODY {
                this.poll_body();
            } else {
                this.poll_child(key);
            }
            let dropped_panic = inner.dropped_panic.take();
            if let Some(payload) = dropped_panic {
                this.fail(Failure::Panic(payload));
            }
        }
        this.cancel_background();
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
        let failure = inner.failure.borrow_mut().take();
        match failure {
            Some(Failure::Error(e)) => {
                inner.finished.set(true);
                Poll::Ready(Err(e))
            }
            Some(Failure::Panic(payload)) => {
                inner.finished.set(true);
                resume_unwind(payload)
            }
            None => match this.output.take() {
                Some(value) if this.body.is_none() => {
                    inner.finished.set(true);
                    Poll::Ready(Ok(value))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl<'env, E: 'env, T, B> Drive<'_, 'env, E, T, B>
where
    B: Future<Output = Result<T, E>>,
{
    fn poll_body(&mut self) {
        let Some(body) = &mut self.body else {
            return;
        };
        self.body_handle.clear();
        let tree = self.group.inner.tree.clone();
        let _polling = tree.as_ref().map(|tree| tree.polling(BODY));
        let mut cx = Context::from_waker(&self.body_waker);
        match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(&mut cx))) {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(Ok(value))) => {
                self.body = None;
                self.output = Some(value);
            }
            Ok(Poll::Ready(Err(e))) => {
                self.body = None;
                self.fail(Failure::Error(e));
            }
            Err(payload) => {
                self.body = None;
                self.fail(Failure::Panic(payload));
            }
        }
        if self.body.is_none() {
            if let Some(tree) = &tree {
                tree.remove_child(BODY);
            }
        }
    }

    fn poll_child(&mut self, key: usize) {
        let inner = &self.group.inner;
        let child = inner
            .children
            .borrow_mut()
            .get_mut(key)
            .and_then(Option::take);
        let Some(mut child) = child else {
            return; // a stale wake of a child that is gone
        };
        let (waker, handle) =
            child
                .waker
                .get_or_insert_with(|| match inner.spare_wakers.borrow_mut().pop() {
                    Some((waker, handle)) => {
                        handle.reuse(key);
                        (waker, handle)
                    }
                    None => ChildWaker::new(key, inner.queue.shared()),
                });
        handle.clear();
        let _polling = inner.tree.as_ref().map(|tree| {
            tree.set_waker(key, address(handle));
            tree.polling(key)
        });
        let mut cx = Context::from_waker(waker);
        let polled = catch_unwind(AssertUnwindSafe(|| match &mut child.fut {
            ChildFuture::Task(fut) => fut.as_mut().poll(&mut cx),
            ChildFuture::Cleanup(fut) => fut.as_mut().poll(&mut cx).map(Ok),
        }));
        let cancelled = inner.cancel_polled.replace(false);
        if let (Ok(Poll::Pending), false) = (&polled, cancelled) {
            inner.children.borrow_mut()[key] = Some(child);
            return;
        }
        inner.children.borrow_mut().remove(key);
        if let Some(tree) = &inner.tree {
            tree.remove_child(key);
        }
        if matches!(child.fut, ChildFuture::Task(_)) && !child.background {
            inner.foreground.set(inner.foreground.get() - 1);
        }
        let Child { fut, waker, .. } = child;
        // The future first: it may hold clones of the waker (in timers, fd
        // waits) that its drop releases.
        let drop_panic = drop_each([fut]);
        if let Some((waker, handle)) = waker {
            // No clone of this waker is left but our two (the `Waker` and
            // its handle), so no stale wake can reach the child that reuses
            // it.
            if Arc::strong_count(&handle) == 2 && Arc::weak_count(&handle) == 0 {
                let mut spare = inner.spare_wakers.borrow_mut();
                if spare.len() < SPARE_WAKERS {
                    spare.push((waker, handle));
                }
            }
        }
        match polled {
            Ok(Poll::Ready(Err(e))) => self.fail(Failure::Error(e)),
            Err(payload) => self.fail(Failure::Panic(payload)),
            _ => {}
        }
        if let Some(payload) = drop_panic {
            self.fail(Failure::Panic(payload));
        }
    }

    /// Records the first failure and cancels everything but cleanups; later
    /// failures are lost.
    fn fail(&mut self, failure: Failure<E>) {
        let inner = self.group.inner.clone();
        {
            let mut current = inner.failure.borrow_mut();
            match (&*current, failure) {
                (None, failure) => *current = Some(failure),
                // A panic is a bug, not an error: the first panic wins
                // over an error, even one that came first (the group is
                // cancelling already; the panic is resumed once every
                // cleanup is done).
                (Some(Failure::Error(_)), panic @ Failure::Panic(_)) => {
                    *current = Some(panic);
                    return;
                }
                // Later errors, and panics after a panic, are lost (the
                // panic hook printed the latter).
                _ => return,
            }
        }
        inner.cancelling.set(true);
        let body = self.body.take();
        self.output = None;
        let cancelled = self.group.take_tasks(false);
        // Dropped with the group's sink installed: their cleanups become
        // children of this group. One that panics in its `Drop` does not
        // stop the others from being dropped.
        let body_panic = drop_each(body);
        if let Some(payload) = body_panic.or(drop_each(cancelled)) {
            self.fail(Failure::Panic(payload));
        }
    }

    /// Once the body and every foreground child are done (and nothing
    /// failed), cancels the background children, whose cleanups the group
    /// then awaits.
    fn cancel_background(&mut self) {
        let inner = &self.group.inner;
        let done = self.body.is_none() && self.output.is_some();
        if done && inner.foreground.get() == 0 && !inner.children.borrow().is_empty() {
            let cancelled = self.group.take_tasks(false);
            // With the group's sink installed.
            if let Some(payload) = drop_each(cancelled) {
                self.fail(Failure::Panic(payload));
            }
        }
    }

    /// Turns orphaned cleanups into shielded children.
    #[inline]
    fn adopt_orphans(&mut self) {
        if !self.group.inner.orphans.borrow().is_empty() {
            self.adopt_orphans_now(); // the rare case, out of line
        }
    }

    #[inline(never)]
    fn adopt_orphans_now(&mut self) {
        loop {
            let orphans = std::mem::take(&mut *self.group.inner.orphans.borrow_mut());
            if orphans.is_empty() {
                return;
            }
            for orphan in orphans {
                self.group.insert(ChildFuture::Cleanup(orphan), false);
            }
        }
    }
}

impl<E, T, B> Drop for Drive<'_, '_, E, T, B> {
    /// The group itself is cancelled (dropped by its parent): drop the body
    /// and the children, and hand every pending cleanup to the enclosing
    /// group, which keeps running them.
    fn drop(&mut self) {
        let inner = &self.group.inner;
        inner.finished.set(true);
        inner.cancelling.set(true);
        self.body = None;
        let children: Vec<_> = inner.children.borrow_mut().drain().flatten().collect();
        for child in children {
            match child.fut {
                ChildFuture::Cleanup(cleanup) => try_finally::adopt(cleanup),
                ChildFuture::Task(fut) => drop(fut),
            }
        }
        let orphans = std::mem::take(&mut *inner.orphans.borrow_mut());
        orphans.into_iter().for_each(try_finally::adopt);
    }
}

/// Drops each item, catching a panic in its `Drop` so that the others are
/// still dropped; returns the first panic.
fn drop_each<T>(items: impl IntoIterator<Item = T>) -> Option<Box<dyn Any + Send>> {
    let mut first = None;
    for item in items {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(item))) {
            first.get_or_insert(payload);
        }
    }
    first
}

/// The address of a child's waker, as `Waker::data()` gives it for the
/// wakers the reactor holds: the task tree matches the two.
fn address(handle: &Arc<ChildWaker>) -> usize {
    Arc::as_ptr(handle) as usize
}
