//! Invariants of the timer structure that a faster one could break: the
//! order of equal deadlines, a timer dropped in the turn it fires, and a
//! reactor left empty after a million timers came and went.
//!
//! The order tests record the order in which the reactor *wakes* (each
//! timer armed with a waker of its own), not the order in which tasks run:
//! that is the timer structure's promise, whatever the scheduler (or a
//! seed) does with the woken tasks afterwards.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use xiio::TaskGroup;

use crate::util::{Rng, ms, run_mock, since};

/// A waker that writes its number into a shared log when woken.
struct Recorder {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

/// Arms `sleep` (polls it once) with a waker that logs `id` into `log`.
fn arm_logged(sleep: &mut xiio::time::Sleep, id: usize, log: &Arc<Mutex<Vec<usize>>>) {
    let waker = Waker::from(Arc::new(Recorder {
        id,
        log: log.clone(),
    }));
    let mut cx = Context::from_waker(&waker);
    assert!(
        Pin::new(sleep).poll(&mut cx).is_pending(),
        "armed in the future"
    );
}

/// Arms `sleep` with the calling task's waker.
async fn arm(sleep: &mut xiio::time::Sleep) {
    poll_fn(|cx| {
        assert!(Pin::new(&mut *sleep).poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
}

#[test]
fn equal_deadlines_fire_in_the_order_the_timers_were_made() {
    run_mock(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let deadline = xiio::time::now() + ms(100);
        // Slab slots freed in a random order first, so that the timers
        // below get scattered slots: position in the slab must not decide.
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let mut fillers: Vec<_> = (0..400)
            .map(|_| Some(xiio::time::sleep_until(deadline + ms(1_000))))
            .collect();
        for (id, filler) in fillers.iter_mut().enumerate() {
            arm_logged(filler.as_mut().unwrap(), 1_000 + id, &log);
        }
        for _ in 0..300 {
            fillers[rng.below(400) as usize] = None;
        }
        // Made in one order, armed (polled) in the reverse one.
        let mut sleeps: Vec<_> = (0..200)
            .map(|_| xiio::time::sleep_until(deadline))
            .collect();
        for (id, sleep) in sleeps.iter_mut().enumerate().rev() {
            arm_logged(sleep, id, &log);
        }
        xiio::sleep(ms(200)).await;
        // A `Sleep` registers its timer at its first poll, so the reverse
        // arming order is the timers' creation order.
        let fired = log.lock().unwrap().clone();
        assert_eq!(fired, (0..200).rev().collect::<Vec<_>>());
        drop((sleeps, fillers));
        assert_eq!(xiio::testing::timers(), (0, 0));
    });
}

#[test]
fn mixed_deadlines_fire_by_deadline_then_by_creation() {
    run_mock(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let start = xiio::time::now();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // 2,000 timers over 20 distinct deadlines: many ties, armed in the
        // order they are made, some slab slots freed and reused between.
        let mut expected = Vec::new();
        let mut sleeps = Vec::new();
        for id in 0..2_000 {
            let offset = ms(10 * (1 + rng.below(20)));
            let mut sleep = xiio::time::sleep_until(start + offset);
            arm_logged(&mut sleep, id, &log);
            if id % 7 == 3 {
                drop(sleep); // cancelled at once: never fires
            } else {
                expected.push((offset, id));
                sleeps.push(sleep);
            }
        }
        expected.sort();
        xiio::sleep(ms(1_000)).await;
        let fired = log.lock().unwrap().clone();
        assert_eq!(
            fired,
            expected.iter().map(|&(_, id)| id).collect::<Vec<_>>()
        );
        drop(sleeps);
        assert_eq!(xiio::testing::timers(), (0, 0));
    });
}

#[test]
fn a_timer_dropped_in_the_turn_it_fired_wakes_nothing_later_and_frees_its_slot() {
    run_mock(async {
        let start = xiio::time::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        // Two timers due with our own sleep, one due 10 ms later.
        let mut fired_then_dropped = xiio::time::sleep_until(start + ms(100));
        let mut later = xiio::time::sleep_until(start + ms(110));
        arm_logged(&mut fired_then_dropped, 1, &log);
        arm_logged(&mut later, 2, &log);
        xiio::time::sleep_until(start + ms(100)).await;
        // This turn: timer 1 fired (its waker ran), and it is dropped now,
        // before anyone polled it. A new timer may take its slab slot.
        assert_eq!(*log.lock().unwrap(), [1]);
        drop(fired_then_dropped);
        let mut reused = xiio::time::sleep_until(start + ms(105));
        arm_logged(&mut reused, 3, &log);
        assert_eq!(xiio::testing::timers(), (2, 2));
        xiio::time::sleep_until(start + ms(120)).await;
        // The new timer fired at its own deadline, before the later one;
        // the dropped one never woke again.
        assert_eq!(*log.lock().unwrap(), [1, 3, 2]);
        drop((later, reused));
        assert_eq!(xiio::testing::timers(), (0, 0));
    });
}

#[test]
fn a_task_cancelled_in_the_turn_its_timer_fired_is_not_polled_again() {
    run_mock(async {
        let start = xiio::time::now();
        let handles: Rc<RefCell<Vec<xiio::Task<usize>>>> = Rc::default();
        let woke = Rc::new(RefCell::new(Vec::new()));
        xiio::task_group!(|tg| {
            for me in 0..2 {
                let (mine, woke) = (handles.clone(), woke.clone());
                let task = tg.add_task(async move {
                    xiio::time::sleep_until(start + ms(100)).await;
                    woke.borrow_mut().push(me);
                    // Both timers fired in this turn; whoever runs first
                    // cancels the other, whose timer fired but who has not
                    // run yet.
                    mine.borrow()[1 - me].cancel();
                    // And a new timer in the same turn, maybe in the
                    // cancelled one's slab slot.
                    xiio::sleep(ms(10)).await;
                    Ok(me)
                });
                handles.borrow_mut().push(task);
            }
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(xiio::time::now() - start, ms(110));
        let woke = woke.borrow().clone();
        assert_eq!(
            woke.len(),
            1,
            "the cancelled task ran after its timer fired: {woke:?}"
        );
        let handles = handles.borrow();
        assert_eq!(handles[woke[0]].take(), Some(woke[0]));
        assert!(handles[1 - woke[0]].is_cancelled());
        assert_eq!(xiio::testing::timers(), (0, 0));
    });
}

/// Timers beyond the wheel's two years wait in the ordered set from the
/// start, where a timer is found by its deadline: a reset, a poll with a
/// new waker and a drop must each find (or leave behind) the right one.
#[test]
fn timers_in_the_ordered_set_reset_rewake_and_drop_by_their_deadlines() {
    run_mock(async {
        let far = Duration::from_secs(3 * 365 * 24 * 3600);
        let start = xiio::time::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut dropped = xiio::time::sleep_until(start + far);
        let mut moved = xiio::time::sleep_until(start + far + ms(1));
        let mut rewoken = xiio::time::sleep_until(start + far + ms(2));
        arm(&mut dropped).await;
        arm(&mut moved).await;
        arm_logged(&mut rewoken, 1, &log);
        // Dropped without its deadline: left in the set, never to fire.
        drop(dropped);
        // Moved past `rewoken`, keeping its waker.
        Pin::new(&mut moved).reset(start + far + ms(3));
        assert_eq!(xiio::testing::timers(), (2, 2));
        // Awaited by this task: its waker replaces the logging one.
        (&mut rewoken).await;
        assert_eq!(xiio::time::now() - start, far + ms(2));
        assert!(log.lock().unwrap().is_empty(), "the old waker was woken");
        (&mut moved).await;
        assert_eq!(xiio::time::now() - start, far + ms(3));
        drop((moved, rewoken));
        assert_eq!(xiio::testing::timers(), (0, 0));
        // Nothing left to wake the clock early.
        let before = xiio::time::now();
        xiio::sleep(ms(10)).await;
        assert_eq!(xiio::time::now() - before, ms(10));
    });
}

#[test]
fn a_million_timers_armed_and_cancelled_leave_the_reactor_empty() {
    run_mock(async {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut fired = 0;
        for _ in 0..100 {
            let start = xiio::time::now();
            let mut sleeps: Vec<_> = (0..10_000)
                .map(|_| xiio::time::sleep_until(start + ms(1 + rng.below(1_000))))
                .collect();
            for sleep in &mut sleeps {
                arm(sleep).await;
            }
            // About half fire while we sleep; the rest are cancelled.
            xiio::sleep(ms(500)).await;
            let (live, pending) = xiio::testing::timers();
            assert_eq!(live, 10_000);
            fired += live - pending;
            drop(sleeps);
            assert_eq!(xiio::testing::timers(), (0, 0));
        }
        assert!((450_000..550_000).contains(&fired), "{fired} fired");
        // Nothing stale is left to wake us early.
        let start = xiio::time::now();
        xiio::sleep(Duration::from_secs(3600)).await;
        assert_eq!(xiio::time::now() - start, Duration::from_secs(3600));
    });
}

#[xiio::test(mock_clock)]
async fn ten_thousand_timers_each_fire_exactly_at_their_deadline_in_order() {
    let fired: std::cell::RefCell<Vec<(u64, Duration)>> = Default::default();
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        for i in 0..10_000u64 {
            // A permutation of 0..10_000 ms, with every deadline distinct.
            let delay = (i * 7_919) % 10_000;
            let fired = &fired;
            tg.add_task(async move {
                xiio::sleep(ms(delay)).await;
                fired.borrow_mut().push((delay, since(start)));
            });
        }
        Ok::<_, std::convert::Infallible>(())
    })
    .await
    .unwrap();
    let fired = fired.into_inner();
    assert_eq!(fired.len(), 10_000);
    for (k, &(delay, at)) in fired.iter().enumerate() {
        assert_eq!(delay, k as u64, "fired in deadline order");
        assert_eq!(at, ms(delay), "fired exactly at its deadline");
    }
    assert_eq!(since(start), ms(9_999));
}
