//! Cancellation: the one way a task is cancelled, and where the cleanups
//! it leaves go.
//!
//! Cancelling a task in xiio is dropping its future at its current await
//! point, and `Drop` cannot await. So a `try_finally` dropped before its
//! cleanup finished leaves the cleanup future in the innermost *sink*: the
//! sink of the group (or timeout) polling or dropping it at that moment.
//! Every way of cancelling goes through [`cancel`] with a sink: a group's
//! first failure, `TaskGroup::cancel`, `Task::cancel`, the end of the
//! background children, a dropped group, a timeout's deadline, a dropped
//! `on_executor` future. And one runner runs what a sink collects: a
//! group, which runs each cleanup as a shielded child (never cancelled),
//! does not return before they all finished, and resumes the first panic
//! after them ([`run_cleanups`] makes such a group where no group is at
//! hand).
//!
//! A panic is never lost on the way: `cancel` catches a panic in a `Drop`
//! (the other tasks are still dropped) and puts it in the sink; whoever
//! holds a caught panic and is dropped before it could resume it (a
//! `try_finally` running its cleanup, a group waiting for its cleanups)
//! passes it on to the innermost sink with [`adopt_panic`]. The first panic
//! a sink gets is the one its group fails with.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;

use super::context;
use super::group::{BODY, Child, Inner, TaskGroup, Work};

/// A cleanup future left by a cancelled `try_finally`.
pub(crate) type Orphan = Pin<Box<dyn Future<Output = ()>>>;

/// A caught panic's payload.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Where a group (or a timeout) collects what cancelled tasks leave: the
/// cleanups they did not finish, and the first panic among those that
/// their drops raised or that they held.
#[derive(Default)]
pub(crate) struct Sink {
    /// Cleanups waiting to be run.
    cleanups: RefCell<Vec<Orphan>>,
    /// The first panic passed on; later ones are lost (the panic hook
    /// printed them), as in a group.
    panic: Cell<Option<Panic>>,
}

impl Sink {
    /// True if a cleanup waits in the sink.
    #[inline]
    pub(crate) fn has_cleanups(&self) -> bool {
        !self.cleanups.borrow().is_empty()
    }

    /// The cleanups waiting in the sink.
    pub(crate) fn take_cleanups(&self) -> Vec<Orphan> {
        std::mem::take(&mut *self.cleanups.borrow_mut())
    }

    /// The first panic passed on, if any.
    #[inline]
    pub(crate) fn take_panic(&self) -> Option<Panic> {
        self.panic.take()
    }

    /// Keeps `payload` unless the sink holds a panic already.
    fn keep_panic(&self, payload: Panic) {
        let first = self.panic.take().unwrap_or(payload);
        self.panic.set(Some(first));
    }
}

/// Makes `sink` the innermost sink until the guard is dropped.
pub(crate) fn collect_into(sink: &Rc<Sink>) -> SinkGuard {
    let previous = context::with(|cx| cx.sink.replace(Some(sink.clone())));
    SinkGuard(previous)
}

/// Restores the previous sink when dropped (also while unwinding).
pub(crate) struct SinkGuard(Option<Rc<Sink>>);

impl Drop for SinkGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = context::try_with(|cx| cx.sink.replace(previous));
    }
}

/// The innermost sink, if any.
fn innermost() -> Option<Rc<Sink>> {
    context::try_with(|cx| cx.sink.borrow().clone()).flatten()
}

/// Hands `cleanup` to the innermost sink. Outside any group (a future
/// dropped outside `xiio::run`) nobody can run it, and it is dropped.
pub(crate) fn adopt(cleanup: Orphan) {
    if let Some(sink) = innermost() {
        sink.cleanups.borrow_mut().push(cleanup);
    }
}

/// Passes on a caught panic that its holder can no longer resume: to the
/// innermost sink (the group it belongs to fails with it, and resumes it
/// once every cleanup is done), or, outside any group, right here, unless
/// the thread is already unwinding.
pub(crate) fn adopt_panic(payload: Panic) {
    match innermost() {
        Some(sink) => sink.keep_panic(payload),
        None if !std::thread::panicking() => resume_unwind(payload),
        None => {}
    }
}

/// Cancels `tasks`: drops each at its current await point with `sink` as
/// the innermost sink, so the cleanups they leave go there, and so does a
/// panic in a `Drop` (which does not stop the others from being dropped).
pub(crate) fn cancel<T>(tasks: impl IntoIterator<Item = T>, sink: &Rc<Sink>) {
    let _sink = collect_into(sink);
    tasks.into_iter().for_each(|task| drop_into(task, sink));
}

/// Drops `task`, with a panic in its `Drop` kept in `sink`: [`cancel`] for
/// a caller that has made `sink` the innermost sink already (a group
/// running one of its tasks, which drops it when it ends).
#[inline]
pub(crate) fn drop_into<T>(task: T, sink: &Sink) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(task))) {
        sink.keep_panic(payload);
    }
}

/// Runs `cleanups` concurrently to their end, as the shielded children of
/// a group, then resumes `panic` (or the first panic among them).
pub(crate) async fn run_cleanups(cleanups: Vec<Orphan>, panic: Option<Panic>) {
    let Ok(()) = TaskGroup::scope(async |tg| {
        cleanups.into_iter().for_each(|cleanup| tg.adopt(cleanup));
        panic.into_iter().for_each(adopt_panic);
        Ok::<_, Infallible>(())
    })
    .await;
}

impl<'scope, 'env, E: 'env> TaskGroup<'scope, 'env, E> {
    /// Cancels every child of the group that is running now (those added
    /// with `add_task` and with `add_background`), as a failure would but
    /// without failing the group: each is dropped at once, at its current
    /// await point (the child that calls this, once its poll returns); its
    /// `try_finally` cleanups run and the group waits for them. The body
    /// is not cancelled; children added afterwards run normally.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// xiio::Builder::new().mock_clock(true).run(async {
    ///     let start = xiio::time::now();
    ///     let value = xiio::task_group!(|tg| {
    ///         let forever = tg.add_task(async {
    ///             loop {
    ///                 xiio::sleep(Duration::from_millis(10)).await;
    ///             }
    ///         });
    ///         xiio::sleep(Duration::from_millis(150)).await;
    ///         tg.cancel();
    ///         assert!(forever.is_cancelled());
    ///         Ok::<_, ()>("done")
    ///     });
    ///     assert_eq!(value, Ok("done"));
    ///     assert_eq!(xiio::time::now() - start, Duration::from_millis(150));
    /// });
    /// ```
    pub fn cancel(&self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        // A panic they leave stays in the sink: the group fails with it
        // once the running task's poll returned.
        cancel(inner.take_tasks(true), &inner.orphans);
        // Wake whoever polls the group: it adopts the cleanups and may be
        // done.
        inner.queue.push(BODY);
    }
}

impl<'scope, E> Inner<'scope, E> {
    /// Takes every child added with `add_task` or `add_background` (not
    /// cleanups) out of the group, to be cancelled. With `with_polled`, the
    /// child being polled right now (the caller, if a child calls this) is
    /// marked to be cancelled once its poll returns.
    pub(super) fn take_tasks(&self, with_polled: bool) -> Vec<Work<'scope, E>> {
        let mut children = self.children.borrow_mut();
        let mut keys = Vec::new();
        for (key, child) in children.iter() {
            match child {
                Some(Child {
                    work: Work::Task(_) | Work::Background(_),
                    ..
                }) => keys.push(key),
                None if with_polled => self.cancel_polled.set(true),
                _ => {} // cleanups are never cancelled
            }
        }
        let taken: Vec<_> = keys
            .into_iter()
            .map(|key| {
                self.ended(key);
                let child = children.remove(key).expect("not being polled");
                if let Work::Task(_) = child.work {
                    self.foreground.set(self.foreground.get() - 1);
                }
                child.work
            })
            .collect();
        taken
    }
}
