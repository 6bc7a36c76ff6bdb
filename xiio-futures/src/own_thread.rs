//! `on_own_thread`: an xiio future run by `xiio::run` on a thread of its
//! own, awaited from any executor, including those that move futures
//! between threads.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Runs the future that `make` returns on a new thread, in its own
/// `xiio::run`, and returns a future of its output that any executor can
/// await: the `Send` form of [`on_executor`](crate::on_executor), for
/// executors that move futures between threads (tokio's multi-thread
/// runtime).
///
/// `make` is `Send`; the future it makes need not be (xiio futures mostly
/// are not), since it lives on its thread from start to end. The output is
/// sent back, so it must be `Send`. A panic in the future reaches the
/// awaiting task.
///
/// Dropping the returned future cancels the xiio future on its thread
/// (its `try_finally` cleanups run there, in `xiio::run`'s root group)
/// without waiting for it: the drop never blocks.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let value = futures::executor::block_on(xiio::compat::on_own_thread(|| async {
///     xiio::sleep(Duration::from_millis(10)).await;
///     "from an xiio thread"
/// }));
/// assert_eq!(value, "from an xiio thread");
/// ```
pub fn on_own_thread<M, F>(make: M) -> OnOwnThread<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        cancelled: AtomicBool::new(false),
    });
    let on_thread = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("xiio-on-thread".into())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| {
                xiio_core::run(async {
                    let mut fut = pin!(make());
                    poll_fn(|cx| {
                        if on_thread.cancelled.load(Ordering::Acquire) {
                            return Poll::Ready(None);
                        }
                        on_thread.lock().xiio_waker = Some(cx.waker().clone());
                        // Cancelled meanwhile: the canceller may have missed
                        // the waker just stored.
                        if on_thread.cancelled.load(Ordering::Acquire) {
                            return Poll::Ready(None);
                        }
                        fut.as_mut().poll(cx).map(Some)
                    })
                    .await
                })
            }));
            let waker = {
                let mut state = on_thread.lock();
                state.result = Some(match result {
                    Ok(Some(value)) => Outcome::Done(value),
                    Ok(None) => Outcome::Cancelled,
                    Err(payload) => Outcome::Panicked(payload),
                });
                state.waiter.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
    if let Err(e) = spawned {
        shared.lock().result = Some(Outcome::Panicked(Box::new(format!(
            "xiio::compat::on_own_thread could not start a thread: {e}"
        ))));
    }
    OnOwnThread { shared }
}

/// The future of [`on_own_thread`]: the output of the xiio future running
/// on its own thread. `Send` and `Sync`.
#[must_use = "dropping it cancels the future on its thread"]
pub struct OnOwnThread<T> {
    shared: Arc<Shared<T>>,
}

/// What the awaiting side and the xiio thread share.
struct Shared<T> {
    state: Mutex<State<T>>,
    /// Set when the `OnOwnThread` is dropped before the future finished.
    cancelled: AtomicBool,
}

struct State<T> {
    /// The future's end, once it ended.
    result: Option<Outcome<T>>,
    /// The task awaiting the `OnOwnThread`.
    waiter: Option<Waker>,
    /// The xiio task running the future, to wake it for a cancel.
    xiio_waker: Option<Waker>,
}

impl<T> Default for State<T> {
    fn default() -> State<T> {
        State {
            result: None,
            waiter: None,
            xiio_waker: None,
        }
    }
}

/// How the future ended.
enum Outcome<T> {
    Done(T),
    Cancelled,
    Panicked(Box<dyn Any + Send>),
    /// The value was taken by a poll.
    Taken,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Future for OnOwnThread<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.shared.lock();
        match state.result.replace(Outcome::Taken) {
            Some(Outcome::Done(value)) => Poll::Ready(value),
            Some(Outcome::Panicked(payload)) => {
                drop(state);
                resume_unwind(payload)
            }
            Some(Outcome::Taken) => panic!("xiio::compat::OnOwnThread polled after it completed"),
            Some(Outcome::Cancelled) => unreachable!("cancelled only when dropped"),
            None => {
                state.result = None;
                if !state
                    .waiter
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.waiter = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for OnOwnThread<T> {
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Release);
        let waker = self.shared.lock().xiio_waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
