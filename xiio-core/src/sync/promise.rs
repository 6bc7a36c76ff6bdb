//! `Promise<T>`: a value that one task sets and any number of tasks await.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::task::queue;

/// A value set once by one task and awaited by any number of tasks, the
/// Rust form of the Python original's `Future`.
///
/// Clones share the same promise. [`wait`](Promise::wait) waits until it
/// is set and gives a clone of the value. For a result that may fail, use
/// `Promise<Result<T, E>>` (with `E: Clone`, for example `Rc<io::Error>`).
/// A promise lives on the runtime's thread (it is not `Send`); to hand a
/// value over from another thread, use a channel such as
/// `futures::channel::oneshot`, which xiio runs as well.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::run(async {
///     let promise = xiio::sync::Promise::new();
///     xiio::task_group!(|tg| {
///         let setter = promise.clone();
///         tg.add_task(async move {
///             xiio::sleep(Duration::from_millis(10)).await;
///             setter.set("ready").unwrap();
///         });
///         assert_eq!(promise.wait().await, "ready");
///         Ok::<_, ()>(())
///     })
/// })
/// .unwrap();
/// ```
pub struct Promise<T> {
    /// The state shared by all clones.
    inner: Rc<Inner<T>>,
}

/// What clones of a promise share.
struct Inner<T> {
    /// The value, once set.
    value: RefCell<Option<T>>,
    /// The tasks waiting for it, each under the key its future holds.
    waiters: RefCell<Waiters>,
}

/// The wakers of the tasks waiting for a promise.
///
/// Most promises have one waiter, so the first is kept inline (key 0) and
/// only further ones go to a slab (key `k + 1` for slab key `k`): a promise
/// with one waiter allocates nothing but its `Rc`.
#[derive(Default)]
struct Waiters {
    /// The waiter under key 0.
    first: Option<Waker>,
    /// The others.
    rest: Slab<Waker>,
}

impl Waiters {
    fn get_mut(&mut self, key: usize) -> Option<&mut Waker> {
        match key {
            0 => self.first.as_mut(),
            k => self.rest.get_mut(k - 1),
        }
    }

    fn insert(&mut self, waker: Waker) -> usize {
        if self.first.is_none() {
            self.first = Some(waker);
            0
        } else {
            self.rest.insert(waker) + 1
        }
    }

    fn remove(&mut self, key: usize) {
        match key {
            0 => self.first = None,
            k => drop(self.rest.try_remove(k - 1)),
        }
    }
}

impl<T> Promise<T> {
    /// A promise without a value yet.
    pub fn new() -> Promise<T> {
        Promise {
            inner: Rc::new(Inner {
                value: RefCell::new(None),
                waiters: RefCell::new(Waiters::default()),
            }),
        }
    }

    /// Sets the value and wakes every waiting task; a promise already set
    /// keeps its value and gives the new one back as `Err`.
    pub fn set(&self, value: T) -> Result<(), T> {
        {
            let mut slot = self.inner.value.borrow_mut();
            if slot.is_some() {
                return Err(value);
            }
            *slot = Some(value);
        }
        let waiters = std::mem::take(&mut *self.inner.waiters.borrow_mut());
        waiters.first.into_iter().for_each(Waker::wake);
        for (_, waker) in waiters.rest {
            waker.wake();
        }
        Ok(())
    }

    /// True once the value is set.
    pub fn is_set(&self) -> bool {
        self.inner.value.borrow().is_some()
    }

    /// A clone of the value, if set, without waiting.
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        self.inner.value.borrow().clone()
    }

    /// Waits until the value is set and returns a clone of it.
    pub fn wait(&self) -> PromiseWait<'_, T> {
        PromiseWait {
            promise: self,
            key: None,
        }
    }
}

impl<T> Default for Promise<T> {
    fn default() -> Promise<T> {
        Promise::new()
    }
}

impl<T> Clone for Promise<T> {
    fn clone(&self) -> Promise<T> {
        Promise {
            inner: self.inner.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Promise")
            .field(&*self.inner.value.borrow())
            .finish()
    }
}

/// The future of awaiting a [`Promise`].
#[must_use = "futures do nothing unless awaited"]
pub struct PromiseWait<'a, T> {
    /// The promise waited for.
    promise: &'a Promise<T>,
    /// This waiter's place among the promise's waiters, once pending.
    key: Option<usize>,
}

impl<T: Clone> Future for PromiseWait<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        this.promise.poll_wait(&mut this.key, cx)
    }
}

impl<T> Drop for PromiseWait<'_, T> {
    fn drop(&mut self) {
        self.promise.forget_waiter(self.key);
    }
}

impl<T> Promise<T> {
    /// Polls for the value, keeping the waiter's place in `key`.
    fn poll_wait(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<T>
    where
        T: Clone,
    {
        if self.is_set() {
            // A loop of waits that never wait still yields now and then.
            std::task::ready!(queue::poll_op(cx));
            *key = None;
            return Poll::Ready(self.get().expect("set above"));
        }
        let mut waiters = self.inner.waiters.borrow_mut();
        match key.and_then(|key| waiters.get_mut(key)) {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => *waker = cx.waker().clone(),
            None => *key = Some(waiters.insert(cx.waker().clone())),
        }
        Poll::Pending
    }

    /// Removes a waiter that stops waiting.
    fn forget_waiter(&self, key: Option<usize>) {
        // Keys are never reused after `set` empties the slab (no waiter is
        // added once a value is there), so this removes only our own entry.
        if let Some(key) = key {
            self.inner.waiters.borrow_mut().remove(key);
        }
    }
}

impl<T> fmt::Debug for PromiseWait<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PromiseWait")
            .field("key", &self.key)
            .finish()
    }
}
