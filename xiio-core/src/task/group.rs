//! `TaskGroup`: structured concurrency. Every child task lives inside a
//! group, and the group does not finish before all of its children did.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use slab::Slab;

use super::cancel::{Orphan, Panic, Sink};
use super::child::{self, Task, TaskOutput, TaskState};
use super::context;
use super::drive::Drive;
use super::queue::{ChildWaker, GroupQueue};
use super::trace::{Kind, Tracer};

/// The queue key of a group's body (children use their slab keys).
pub(super) const BODY: usize = usize::MAX;

/// A scope for concurrent tasks: the Rust form of the Python original's
/// `async with TaskGroup() as tg:`, made by [`TaskGroup::scope`] (or the
/// [`task_group!`](crate#macros) macro, which is `scope` plus `.await`).
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
///   earlier ones, and is resumed once every cleanup is done, also when
///   the group is itself cancelled meanwhile (the enclosing group gets it).
/// - A finished child is removed from the group at once; its value waits in
///   its [`Task`] handle.
/// - Children can be added while the group runs, from the body or from
///   other children: they capture the `&TaskGroup`.
/// - Cancellation is a drop at the task's current await point;
///   [`try_finally`](crate::task::try_finally) cleanups still run, and the
///   group waits for them.
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
/// Children may borrow the caller's locals: they need not be `'static` or
/// `Send`. The handle is only ever lent, as `&'scope TaskGroup`, and cannot
/// leave its scope (as with `std::thread::scope`): returning it, or storing
/// it anywhere that outlives the scope, does not compile.
///
/// ```compile_fail
/// // Returned out of its scope:
/// let escaped = xiio::run(xiio::TaskGroup::scope(async |tg| Ok::<_, ()>(tg)));
/// ```
///
/// ```compile_fail
/// // Stored beyond its scope:
/// let kept = std::cell::RefCell::new(None);
/// let _ = xiio::run(xiio::TaskGroup::scope(async |tg| {
///     *kept.borrow_mut() = Some(tg);
///     Ok::<_, ()>(())
/// }));
/// ```
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let names = ["ada", "grace"];
///     let start = xiio::time::now();
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
///     assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
///     let lengths: Vec<_> = lengths.iter().map(|t| t.take().unwrap()).collect();
///     assert_eq!(lengths, [3, 5]);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct TaskGroup<'scope, 'env: 'scope, E: 'env> {
    /// The group's state, owned by the future that runs the group. Weak, so
    /// that dropping the handle never drops children that may borrow the
    /// handle itself.
    pub(super) inner: Weak<Inner<'scope, E>>,
    /// `'scope` is invariant: a handle cannot pass for one of a longer
    /// scope.
    scope: PhantomData<&'scope mut &'scope ()>,
    /// What the children may borrow from outside the scope.
    env: PhantomData<&'env mut &'env ()>,
}

/// The state of a group.
///
/// Besides `state`, whose transitions are written at [`State`], the fields
/// hold data (`children`, `queue`, `spare_wakers`, `orphans`, `trace`), a
/// count derived from `children` (`foreground`), and a message from a
/// [`TaskGroup::cancel`] called by the very child being polled, read by the
/// group once that poll returned (`cancel_polled`).
pub(super) struct Inner<'scope, E> {
    /// Where the group is in its life.
    pub(super) state: RefCell<State<E>>,
    /// The live children. A child being polled is taken out of its slot
    /// (`None`) so that it can add siblings meanwhile.
    pub(super) children: RefCell<Slab<Option<Child<'scope, E>>>>,
    /// Which children (and the body) were woken.
    pub(super) queue: GroupQueue,
    /// Wakers of finished children that nobody holds any more, for reuse.
    pub(super) spare_wakers: RefCell<Vec<Arc<ChildWaker>>>,
    /// What cancelled tasks leave: cleanups waiting to become children,
    /// and a panic for the group to fail with.
    pub(super) orphans: Rc<Sink>,
    /// Live children added with `add_task` (not background ones, not
    /// cleanups): once the body is done and this is zero, the background
    /// children are cancelled.
    pub(super) foreground: Cell<usize>,
    /// Set by `cancel` called from the child being polled: that child is
    /// cancelled once its poll returns.
    pub(super) cancel_polled: Cell<bool>,
    /// The tracer and the group's id in it, if the runtime keeps the tree.
    pub(super) trace: Option<(Rc<dyn Tracer>, u64)>,
}

/// Where a group is in its life. The legal transitions, and no others:
///
/// ```text
/// Running        --a task returns Err or panics-->  Failing(failure)
/// Failing(Error) --a task panics-->                 Failing(Panic)
/// Running, Failing  --the group returns or is dropped-->  Done
/// ```
///
/// A panic wins over an error because it is a bug, not an outcome; later
/// errors, and panics after a panic, are lost (the panic hook printed the
/// latter). On entering `Failing`, the body and every child but the
/// cleanups are cancelled, and children added from then on are cancelled at
/// once.
pub(super) enum State<E> {
    /// The body or children run, and nothing failed.
    Running,
    /// A task failed: only cleanups run, then the group returns this.
    Failing(Failure<E>),
    /// The group returned or was dropped.
    Done,
}

/// Why a group fails.
pub(super) enum Failure<E> {
    /// A task returned `Err`.
    Error(E),
    /// A task panicked.
    Panic(Panic),
}

/// One child of a group.
pub(super) struct Child<'scope, E> {
    /// What it runs.
    pub(super) work: Work<'scope, E>,
    /// Its waker, which queues it in the group (the group clears its
    /// "queued" flag before a poll). Made at the first poll (until then the
    /// child sits in the queue and nobody can wake it), from a spare if the
    /// group has one.
    pub(super) waker: Option<Arc<ChildWaker>>,
}

/// What a child runs. (Three variants rather than a `background` flag:
/// the tag then gets a word of its own, and moving a child in and out of
/// its slot copies aligned words.)
pub(super) enum Work<'scope, E> {
    /// A task added with `add_task`, wrapped to fill its `Task` handle.
    Task(TaskFuture<'scope, E>),
    /// The same, added with `add_background`.
    Background(TaskFuture<'scope, E>),
    /// The cleanup of a cancelled `try_finally`: never cancelled.
    Cleanup(Orphan),
}

/// A task's future, wrapped to fill its `Task` handle.
pub(super) type TaskFuture<'scope, E> = Pin<Box<dyn Future<Output = Result<(), E>> + 'scope>>;

// Children are many: keep each slot small.
const _: () = assert!(std::mem::size_of::<Option<Child<'static, ()>>>() <= 32);

impl<'scope, 'env, E: 'env> TaskGroup<'scope, 'env, E> {
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
    #[track_caller]
    pub fn scope<T, F>(body: F) -> impl Future<Output = Result<T, E>> + use<'env, T, E, F>
    where
        F: for<'s> AsyncFnOnce(&'s TaskGroup<'s, 'env, E>) -> Result<T, E>,
    {
        let at = Location::caller();
        async move {
            // The handle is made before the state it points to, so that it
            // is dropped after it: the state's children may borrow it.
            let mut group = TaskGroup {
                inner: Weak::new(),
                scope: PhantomData,
                env: PhantomData,
            };
            let inner = Rc::new(Inner::new(at));
            group.inner = Rc::downgrade(&inner);
            let body = Box::pin(body(&group));

            Drive::new(inner, body).await
        }
    }

    /// Adds a child that runs `fut`; it starts at the group's next await.
    ///
    /// The child returns `Result<T, E>` (an `Err` fails the group and the
    /// value goes to the returned [`Task`]) or `()`. Added while the group is
    /// failing, the child is dropped without running.
    ///
    /// Dropping the returned [`Task`] does not cancel the child (unlike
    /// smol's `Task`): the child belongs to the group, and the handle only
    /// reads its value or cancels it ([`Task::cancel`]).
    #[track_caller]
    pub fn add_task<F>(&self, fut: F) -> Task<<F::Output as TaskOutput<E>>::Ok>
    where
        F: Future + 'scope,
        F::Output: TaskOutput<E>,
    {
        self.spawn(fut, false, Location::caller())
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
    ///     let start = xiio::time::now();
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
    ///     assert_eq!(xiio::time::now() - start, Duration::from_millis(350));
    ///     assert_eq!(beats.get(), 3);
    /// });
    /// ```
    #[track_caller]
    pub fn add_background<F>(&self, fut: F) -> Task<<F::Output as TaskOutput<E>>::Ok>
    where
        F: Future + 'scope,
        F::Output: TaskOutput<E>,
    {
        self.spawn(fut, true, Location::caller())
    }

    fn spawn<F>(
        &self,
        fut: F,
        background: bool,
        at: &'static Location<'static>,
    ) -> Task<<F::Output as TaskOutput<E>>::Ok>
    where
        F: Future + 'scope,
        F::Output: TaskOutput<E>,
    {
        let state = TaskState::new();
        let task = Task::new(state.clone());
        let fut = child::run(fut, state);
        let inner = self.inner.upgrade();
        let Some(inner) = inner.filter(|inner| inner.is_running()) else {
            drop(fut); // cancelled before it ran: its handle says so
            return task;
        };
        if !background {
            inner.foreground.set(inner.foreground.get() + 1);
        }
        let work = match background {
            false => Work::Task(Box::pin(fut)),
            true => Work::Background(Box::pin(fut)),
        };
        inner.insert(work, Some(at));
        task
    }

    /// Runs `cleanup` as a shielded child: never cancelled, awaited before
    /// the group returns.
    pub(crate) fn adopt(&self, cleanup: Orphan) {
        if let Some(inner) = self.inner.upgrade() {
            inner.insert(Work::Cleanup(cleanup), None);
        }
    }

    /// The number of things the group still waits for: its live children
    /// (background ones included) and the cleanups handed to it (a
    /// cancelled `try_finally`'s cleanup, a dropped process's reap).
    /// Finished ones are removed at once.
    pub fn len(&self) -> usize {
        self.inner
            .upgrade()
            .map_or(0, |i| i.children.borrow().len())
    }

    /// True if no child is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E> fmt::Debug for TaskGroup<'_, '_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (children, failing) = self.inner.upgrade().map_or((0, false), |inner| {
            let failing = matches!(*inner.state.borrow(), State::Failing(_));
            (inner.children.borrow().len(), failing)
        });
        f.debug_struct("TaskGroup")
            .field("children", &children)
            .field("failing", &failing)
            .finish()
    }
}

impl<'scope, E> Inner<'scope, E> {
    /// The state of a new group, made at `at`.
    fn new(at: &'static Location<'static>) -> Inner<'scope, E> {
        let trace = context::tracer().map(|tracer| {
            let id = tracer.group_started();
            tracer.task_added(id, BODY, Kind::Body, Some(at));
            (tracer, id)
        });
        Inner {
            state: RefCell::new(State::Running),
            children: RefCell::new(Slab::new()),
            queue: GroupQueue::new(),
            spare_wakers: RefCell::new(Vec::new()),
            orphans: Rc::default(),
            foreground: Cell::new(0),
            cancel_polled: Cell::new(false),
            trace,
        }
    }

    /// True while nothing failed and the group has not returned.
    pub(super) fn is_running(&self) -> bool {
        matches!(*self.state.borrow(), State::Running)
    }

    /// Stores a child and queues it, so that it starts at the next poll.
    pub(super) fn insert(&self, work: Work<'scope, E>, at: Option<&'static Location<'static>>) {
        let kind = match &work {
            Work::Task(_) => Kind::Task,
            Work::Background(_) => Kind::Background,
            Work::Cleanup(_) => Kind::Cleanup,
        };
        let child = Child { work, waker: None };
        let key = self.children.borrow_mut().insert(Some(child));
        if let Some((tracer, id)) = &self.trace {
            tracer.task_added(*id, key, kind, at);
        }
        self.queue.push(key);
    }

    /// Tells the tracer that the child at `key` ended.
    pub(super) fn ended(&self, key: usize) {
        if let Some((tracer, id)) = &self.trace {
            tracer.task_ended(*id, key);
        }
    }
}

impl<E> Drop for Inner<'_, E> {
    fn drop(&mut self) {
        if let Some((tracer, id)) = &self.trace {
            tracer.group_ended(*id);
        }
    }
}
