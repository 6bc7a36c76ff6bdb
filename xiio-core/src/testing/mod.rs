//! Tools for testing with xiio: the mock clock and [`advance`], what the
//! live tasks wait on, and what the runtime has registered.
//!
//! These tools sit at the edge of the runtime and plug into it through two
//! hooks, as trio keeps its mock clock and instruments out of its run
//! loop: the mock clock ([`Builder::mock_clock`](crate::Builder::mock_clock))
//! is the run loop's park strategy, and the task tree is a tracer that the
//! groups and leaf futures report to when the runtime keeps one
//! ([`Builder::task_tree`](crate::Builder::task_tree); always on the mock
//! clock). Without them, a runtime pays a branch per task poll.

mod mock_clock;
mod tree;

use std::rc::Rc;
use std::time::Duration;

use crate::Builder;
use crate::reactor::{Park, RealClock};
use crate::rt::Tools;
use crate::task::context;
use crate::task::trace::Tracer;
use mock_clock::MockClock;
pub use mock_clock::advance;
use tree::TaskTree;

/// How long a stuck mock clock waits before it reports a hang.
const HANG_AFTER: Duration = Duration::from_secs(5);

// The testing tools' settings of a runtime. (The run loop knows them only
// as a park strategy and a tracer, which `plug` makes.)
impl Builder {
    /// Runs on a mock clock, for deterministic tests of timing.
    ///
    /// The mock clock stands still while any task can make progress. When no
    /// task is woken, no fd is ready right now and no outside work
    /// (thread-pool jobs until their wake is made, child processes,
    /// futures inside `xiio::compat::with_tokio`) is in flight, it jumps to the
    /// next deadline at once, like trio's autojump clock. So a test of "two
    /// 100 ms sleeps in parallel take 100 ms" takes no real time and asserts
    /// an exact virtual duration. [`now`](crate::time::now) follows it.
    pub fn mock_clock(mut self, on: bool) -> Builder {
        self.tools.mock_clock = on;
        self.tools.plug = Some(plug);
        self
    }

    /// Keeps the live task tree (each group, its body and children, and
    /// what each waits on) for [`task_tree`], also on the real clock, as a
    /// stuck server may want to show it. On the mock clock it is kept
    /// anyway. Costs a little per child and per poll.
    pub fn task_tree(mut self, on: bool) -> Builder {
        self.tools.task_tree = Some(on);
        self.tools.plug = Some(plug);
        self
    }

    /// On the mock clock, how long (of real time) the runtime waits when no
    /// task can run, no timer is pending, no fd is registered and no
    /// outside work is in flight, before it panics with the task tree (only
    /// another thread could still wake it then, as a channel from a std
    /// thread would); `None` waits for ever. Default: 5 s.
    pub fn hang_timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.tools.hang_after = Some(timeout);
        self.tools.plug = Some(plug);
        self
    }
}

/// The tools `tools` asks for, made for one runtime: the run loop's park
/// strategy and the tracer its tasks report to.
fn plug(tools: &Tools) -> (Box<dyn Park>, Option<Rc<dyn Tracer>>) {
    let park: Box<dyn Park> = match tools.mock_clock {
        true => Box::new(MockClock {
            hang_after: tools.hang_after.unwrap_or(Some(HANG_AFTER)),
        }),
        false => Box::new(RealClock),
    };
    let tracer = match tools.task_tree.unwrap_or(tools.mock_clock) {
        true => Some(Rc::new(TaskTree::default()) as Rc<dyn Tracer>),
        false => None,
    };
    (park, tracer)
}

/// The live task tree of the current runtime, as text: each task group,
/// its body and its children (indented under the task that made them),
/// where each child was added, and what each waits on: a timer and when it
/// is due, a timer beyond the clock's range, an fd and what for, work
/// outside the runtime's thread, or "woken by something else" (a promise,
/// a channel, a task) when nothing more is known.
///
/// The tree is kept on the mock clock, or with
/// [`Builder::task_tree`](crate::Builder::task_tree); a hang on the mock
/// clock panics with it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     xiio::task_group!(|tg| {
///         tg.add_task(xiio::sleep(Duration::from_millis(100)));
///         xiio::task::yield_now().await; // the child starts and waits
///         let tree = xiio::testing::task_tree();
///         assert!(tree.contains("waits on a timer due in 100ms"), "{tree}");
///         Ok::<_, ()>(())
///     })
/// })
/// .unwrap();
/// ```
pub fn task_tree() -> String {
    let Some(reactor) = context::try_reactor() else {
        return "not inside xiio::run\n".to_string();
    };
    match context::tracer() {
        Some(tracer) => tracer.report(reactor.clock.now()),
        None => "no task tree is kept (it is on the mock clock, or with Builder::task_tree)\n"
            .to_string(),
    }
}

/// The fds in the current runtime's epoll set (empty outside `xiio::run`):
/// a test can check that nothing is left registered.
///
/// # Examples
///
/// ```
/// xiio::run(async {
///     let (a, _b) = xiio::net::UnixStream::pair()?;
///     let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
///     assert!(xiio::testing::registered_fds().contains(&fd));
///     drop(a);
///     assert!(!xiio::testing::registered_fds().contains(&fd));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn registered_fds() -> Vec<std::os::fd::RawFd> {
    context::try_reactor().map_or_else(Vec::new, |r| r.registered_fds())
}

/// The current runtime's timers, `(live, pending)`: live ones exist, fired
/// or not; pending ones have not fired yet. `(0, 0)` outside `xiio::run`.
/// A test can check that nothing is left behind.
pub fn timers() -> (usize, usize) {
    context::try_reactor().map_or((0, 0), |r| r.timer_counts())
}
