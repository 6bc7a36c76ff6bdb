//! `TaskSet`: tasks of one type, each handed out as it finishes.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use super::Task;

/// A set of [`Task`]s whose ends are handed out in the order they happen,
/// as tokio's `JoinSet::join_next` does (the tasks stay children of their
/// group; the set only watches them).
///
/// Each task in the set wakes the set when it ends (its handle's single
/// waiter is the set's), so [`next_finished`](TaskSet::next_finished) costs
/// the same with 20,000 tasks in the set as with one. A task in a set should
/// not also be awaited elsewhere.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use xiio::task::TaskSet;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     xiio::task_group!(|tg| {
///         let mut set = TaskSet::new();
///         for ms in [300, 100, 200] {
///             set.push(tg.add_task(async move {
///                 xiio::sleep(Duration::from_millis(ms)).await;
///                 Ok(ms)
///             }));
///         }
///         let mut order = Vec::new();
///         while let Some(task) = set.next_finished().await {
///             order.push(task.take().unwrap());
///         }
///         assert_eq!(order, [100, 200, 300]);
///         Ok::<_, std::io::Error>(())
///     })
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct TaskSet<T> {
    /// The tasks not handed out yet.
    tasks: Slab<Task<T>>,
    /// What the tasks' wakers report to.
    ended: Arc<Ended>,
}

/// Where the tasks of a set report their ends.
#[derive(Default)]
struct Ended {
    /// Keys of tasks that ended (or may have), and the set's waiter.
    state: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

/// The waker a set gives one of its tasks.
struct EndWaker {
    /// The task's key in the set.
    key: usize,
    /// The set's report.
    ended: Arc<Ended>,
}

impl Wake for EndWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self
            .ended
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.0.push_back(self.key);
        let waiter = state.1.take();
        drop(state);
        waiter.into_iter().for_each(Waker::wake);
    }
}

impl<T> TaskSet<T> {
    /// An empty set.
    pub fn new() -> TaskSet<T> {
        TaskSet {
            tasks: Slab::new(),
            ended: Arc::default(),
        }
    }

    /// Adds `task` to the set.
    pub fn push(&mut self, task: Task<T>) {
        let key = self.tasks.vacant_key();
        let ended = self.ended.clone();
        let waker = Waker::from(Arc::new(EndWaker { key, ended }));
        if task.poll_finished(&mut Context::from_waker(&waker)) {
            waker.wake(); // ended already
        }
        self.tasks.insert(task);
    }

    /// Waits until a task of the set has ended (with a value, failed, or
    /// cancelled), takes it out of the set and returns it; `None` once the
    /// set is empty. Take the value with [`Task::take`].
    pub async fn next_finished(&mut self) -> Option<Task<T>> {
        poll_fn(|cx| self.poll_next_finished(cx)).await
    }

    /// The poll form of [`next_finished`](TaskSet::next_finished).
    pub fn poll_next_finished(&mut self, cx: &mut Context<'_>) -> Poll<Option<Task<T>>> {
        let mut state = self
            .ended
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while let Some(key) = state.0.pop_front() {
            if self.tasks.get(key).is_some_and(Task::is_finished) {
                return Poll::Ready(Some(self.tasks.remove(key)));
            }
        }
        if self.tasks.is_empty() {
            return Poll::Ready(None);
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }

    /// How many tasks the set holds.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl<T> Default for TaskSet<T> {
    fn default() -> TaskSet<T> {
        TaskSet::new()
    }
}

impl<T> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet")
            .field("len", &self.tasks.len())
            .finish()
    }
}
