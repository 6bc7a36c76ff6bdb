//! The mock clock: a park strategy that jumps to the next deadline instead
//! of waiting for it, like trio's autojump clock.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use crate::reactor::{Park, Reactor, Timer};
use crate::task::context;
use crate::task::trace::Wait;

/// How often a mock clock that waits for outside work checks whether it is
/// still in flight (real time).
const OUTSIDE_WORK_CHECK: Duration = Duration::from_millis(5);

/// The run loop's park on a mock clock: time stands still while any task
/// can make progress, and jumps to the next deadline when none can.
pub(crate) struct MockClock {
    /// How long (of real time) to wait when nothing could ever wake the
    /// runtime from inside, before panicking with the task tree.
    pub(crate) hang_after: Option<Duration>,
}

impl Park for MockClock {
    fn park(&self, reactor: &Reactor) {
        reactor.turn(Some(Duration::ZERO));
        if reactor.notifier.is_woken() {
            return;
        }
        if reactor.outside_work_in_flight() {
            // Time stands still while outside work runs. It usually wakes
            // us when done; a child process that nobody waits on right now
            // does not, so look again every few milliseconds.
            reactor.turn(Some(OUTSIDE_WORK_CHECK));
            return;
        }
        if reactor.has_fds() {
            // Before time jumps, let the kernel finish what it may still be
            // doing for us on this CPU (loopback packets are processed in
            // softirq context, sometimes by a kernel thread that needs the
            // CPU we hold), so "no fd is ready right now" is true.
            std::thread::yield_now();
            reactor.turn(Some(Duration::ZERO));
            if reactor.notifier.is_woken() {
                return;
            }
        }
        match reactor.next_deadline() {
            Some(deadline) => {
                reactor.clock.advance_to(deadline);
                reactor.turn(Some(Duration::ZERO)); // fires the timers due
            }
            // Only an fd or another thread can wake us now.
            None => match self.hang_after {
                Some(hang_after) if !reactor.has_fds() => {
                    reactor.turn(Some(hang_after));
                    if !reactor.notifier.is_woken() {
                        panic!(
                            "xiio: the mock clock is stuck: no task can run, no timer is \
                             pending, no fd is registered and no outside work is in flight, \
                             and nothing woke the runtime for {hang_after:?} \
                             (Builder::hang_timeout). The live tasks:\n{}",
                            super::task_tree()
                        );
                    }
                }
                _ => reactor.turn(None),
            },
        }
    }
}

/// Moves the mock clock forward by `duration` at once, as tokio's
/// `time::advance` and trio's `MockClock.jump`: for a test that wants time
/// to pass while its tasks can still run (the mock clock jumps by itself
/// only when none can), to see what a deadline does without sleeping
/// until it.
///
/// The timers due by the new time fire, in deadline order, with
/// [`now()`](crate::time::now) already at the new time, and the tasks they
/// woke have been polled when `advance` returns (in that order, or in the
/// seeded order of `Builder::seed`). A timer due later does not fire.
///
/// # Panics
///
/// Unless the runtime is on the mock clock, and if the new time is beyond
/// the clock's range.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::time::now();
///     let deadline = xiio::time::sleep(Duration::from_secs(30));
///     xiio::testing::advance(Duration::from_secs(10)).await;
///     assert_eq!(xiio::time::now() - start, Duration::from_secs(10));
///     assert!(!deadline.is_elapsed());
///     xiio::testing::advance(Duration::from_secs(20)).await;
///     assert!(deadline.is_elapsed());
/// });
/// ```
pub async fn advance(duration: Duration) {
    let to = {
        let reactor = context::try_reactor().filter(|r| r.clock.is_mock());
        let Some(reactor) = reactor else {
            panic!(
                "xiio::testing::advance needs the mock clock: use \
                 #[xiio::test(mock_clock)] or Builder::mock_clock(true)"
            )
        };
        let Some(to) = reactor.clock.now().checked_add(duration) else {
            panic!("xiio::testing::advance({duration:?}) goes beyond the clock's range")
        };
        reactor.clock.advance_to(to);
        to
    };
    // Wait for two turns of the run loop, on timers due at the new time
    // (made directly: a `Sleep` would see the time and not wait). The
    // first turn fires every timer due by then, this one's last, and wakes
    // their tasks; the run loop turns again only after it polled them, in
    // whatever order (a seeded order may put this task first). Waking
    // itself instead, as `yield_now` does, would not do: its group polls
    // it again before its parent gets to the woken tasks around it.
    let mut turns = 0;
    let mut timer: Option<Timer> = None;
    poll_fn(|cx| {
        let reactor = context::reactor();
        if timer
            .as_ref()
            .is_some_and(|t| t.fired(&reactor, to, cx.waker()))
        {
            timer = None;
            turns += 1;
        }
        if turns == 2 {
            return Poll::Ready(());
        }
        if timer.is_none() {
            timer = Some(Timer::new(&reactor, to, cx.waker()));
        }
        context::trace_wait(|| Wait::Timer(to));
        Poll::Pending
    })
    .await
}
