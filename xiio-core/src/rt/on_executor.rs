//! `on_executor`: xiio futures awaited from another executor (tokio's
//! current-thread runtime, smol, `futures::executor`).
//!
//! The other executor polls; xiio has no loop of its own there. So at each
//! poll an [`OnExecutor`] enters this thread's xiio runtime (made at the
//! first such poll and kept for the next ones), runs one turn that does not
//! block (ready fds, due timers), and polls its future. Wakes between tasks
//! and from other threads reach the other executor's waker through the
//! usual chain of wakers; the reactor's poller thread wakes it when an fd
//! is ready or a deadline passes.

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::run::block_on;
use crate::TaskGroup;
use crate::reactor::{Reactor, RealClock};
use crate::task::context::{self, Runtime};
use crate::task::{self, Sink, queue};

/// Makes an xiio future (a sleep, a read, a task group, a socket...)
/// awaitable from another executor: tokio's current-thread runtime or
/// `LocalSet`, smol's `block_on` or `LocalExecutor`,
/// `futures::executor::block_on`.
///
/// At each poll, the returned future enters this thread's xiio runtime
/// (made at the first poll, kept for the next ones; all such futures on a
/// thread share it), runs one turn that does not block (ready fds, due
/// timers) and polls `fut`. While `fut` is pending, a helper thread waits
/// in the reactor until an fd is ready or the next deadline passes, and
/// wakes the other executor. So an xiio sleep of 100 ms takes 100 ms there
/// too, and overlaps with that executor's own timers.
///
/// Dropping it (the other executor's timeout, say) cancels `fut` at its
/// current await point; its [`try_finally`](crate::task::try_finally)
/// cleanups still run, in the drop, which blocks this thread until they
/// are done.
///
/// The future is not `Send`: it must be polled on one thread, as
/// single-threaded executors do. For executors that move futures between
/// threads (tokio's multi-thread runtime), use `on_own_thread`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let value = futures::executor::block_on(xiio::compat::on_executor(async {
///     xiio::sleep(Duration::from_millis(20)).await;
///     42
/// }));
/// assert_eq!(value, 42);
/// assert!(start.elapsed() >= Duration::from_millis(20));
/// ```
///
/// # Panics
///
/// When polled inside `xiio::run`: there, await `fut` itself. (Another
/// executor's `block_on` called from a task of `xiio::run` would block the
/// runtime's thread for ever, the runtime it waits for included.)
pub fn on_executor<'a, F>(fut: F) -> OnExecutor<'a, F::Output>
where
    F: IntoFuture + 'a,
{
    let fut = fut.into_future();
    OnExecutor {
        root: Some(Box::pin(async move {
            // A task group at the root, as in `xiio::run`: it owns cleanups
            // orphaned inside, and resumes a panic only after them.
            let Ok(out) = TaskGroup::scope(async |_| Ok::<_, Infallible>(fut.await)).await;
            out
        })),
        reactor: None,
    }
}

/// The future of [`on_executor`].
#[must_use = "futures do nothing unless awaited"]
pub struct OnExecutor<'a, T> {
    /// The future in its root group; `None` once done.
    root: Option<Pin<Box<dyn Future<Output = T> + 'a>>>,
    /// The runtime it runs in, from its first poll.
    reactor: Option<Rc<Reactor>>,
}

impl<T> OnExecutor<'_, T> {
    /// Enters the runtime this future runs in.
    fn enter(reactor: &Rc<Reactor>) -> context::Entered {
        let reactor = reactor.clone();
        let (seed, tracer) = (None, None);
        context::enter(Runtime {
            reactor,
            seed,
            tracer,
        })
    }
}

impl<T> Future for OnExecutor<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        assert!(
            context::try_reactor().is_none(),
            "xiio::compat::on_executor polled inside xiio::run: await the future itself there. \
             (If another executor's block_on called from a task of xiio::run polled it, that \
             would block the runtime for ever, the runtime it waits for included.)"
        );
        let this = &mut *self;
        let root = this
            .root
            .as_mut()
            .expect("xiio::compat::OnExecutor polled after it completed");
        let reactor = this
            .reactor
            .get_or_insert_with(|| context::parked(|| Reactor::new(false)))
            .clone();
        let _entered = Self::enter(&reactor);
        reactor.turn(Some(Duration::ZERO));
        queue::reset_budget();
        match root.as_mut().poll(cx) {
            Poll::Ready(out) => {
                this.root = None;
                Poll::Ready(out)
            }
            Poll::Pending => {
                reactor.poller().arm(reactor.next_wakeup(), cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for OnExecutor<'_, T> {
    /// Cancels the future and runs its pending cleanups to their end.
    fn drop(&mut self) {
        let Some(root) = self.root.take() else {
            return;
        };
        let reactor = match &self.reactor {
            Some(reactor) if context::try_reactor().is_none() => reactor.clone(),
            // Never polled (nothing can be pending), or dropped inside a
            // runtime, whose groups adopt the cleanups.
            _ => return drop(root),
        };
        let _entered = Self::enter(&reactor);
        let sink = Rc::new(Sink::default());
        task::cancel([root], &sink);
        let (cleanups, panic) = (sink.take_cleanups(), sink.take_panic());
        if cleanups.is_empty() && panic.is_none() {
            return;
        }
        let cleanups = pin!(task::run_cleanups(cleanups, panic));
        let result = catch_unwind(AssertUnwindSafe(|| {
            block_on(&reactor, &RealClock, cleanups)
        }));
        if let Err(payload) = result
            && !std::thread::panicking()
        {
            resume_unwind(payload);
        }
    }
}
