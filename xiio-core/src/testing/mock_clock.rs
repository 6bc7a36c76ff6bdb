//! The mock clock: a park strategy that jumps to the next deadline instead
//! of waiting for it, like trio's autojump clock.

use std::time::Duration;

use crate::reactor::{Park, Reactor};

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
