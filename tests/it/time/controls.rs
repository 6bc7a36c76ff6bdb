//! Timer controls in tokio's spelling: `Sleep::reset`, `interval_at`, an
//! interval's `MissedTickBehavior` and resets, and
//! `xiio::testing::advance`. All on the mock clock, with exact virtual
//! times; the last section ports tests from tokio's own suite, written as a
//! tokio user writes them.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use xiio::TaskGroup;
use xiio::testing::advance;
use xiio::time::{Interval, MissedTickBehavior, Sleep};

use crate::util::{Log, ms, poll_once, run_mock, since};

/// Polls `sleep` once with the calling task's waker (arms its timer).
async fn arm(sleep: &mut Sleep) {
    assert!(poll_once(sleep).await.is_pending(), "armed in the future");
}

/// The ticks `interval` has ready now, in milliseconds after `start`: it is
/// polled until it waits.
async fn ready_ticks(interval: &mut Interval, start: Instant) -> Vec<u64> {
    let mut ticks = Vec::new();
    poll_fn(|cx| {
        while let Poll::Ready(at) = interval.poll_tick(cx) {
            ticks.push((at - start).as_millis() as u64);
        }
        Poll::Ready(())
    })
    .await;
    ticks
}

/// Advances the clock by each step's milliseconds in turn, and checks that
/// exactly the step's ticks (in ms after `start`) are then ready.
async fn steps(interval: &mut Interval, start: Instant, script: &[(u64, &[u64])]) {
    for &(by, ticks) in script {
        advance(ms(by)).await;
        let at = xiio::time::now() - start;
        assert_eq!(ready_ticks(interval, start).await, ticks, "at {at:?}");
    }
}

// ---------------------------------------------------------------------------
// Sleep::reset
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn a_sleep_reset_later_waits_for_the_new_deadline_with_one_timer() {
    let start = xiio::time::now();
    let mut sleep = xiio::sleep(ms(100));
    arm(&mut sleep).await;
    assert_eq!(xiio::testing::timers(), (1, 1));
    Pin::new(&mut sleep).reset(start + ms(250));
    assert_eq!(sleep.deadline(), Some(start + ms(250)));
    assert_eq!(xiio::testing::timers(), (1, 1), "one timer, not two");
    sleep.await;
    assert_eq!(since(start), ms(250));
    assert_eq!(xiio::testing::timers(), (0, 0));
}

#[xiio::test(mock_clock)]
async fn a_sleep_reset_earlier_ends_at_the_new_deadline() {
    let start = xiio::time::now();
    let mut sleep = pin!(xiio::sleep(Duration::from_secs(3600)));
    arm(&mut sleep).await;
    sleep.as_mut().reset(start + ms(30));
    sleep.await;
    assert_eq!(since(start), ms(30));
}

#[xiio::test(mock_clock)]
async fn a_sleep_reset_to_the_past_ends_at_once() {
    let start = xiio::time::now();
    let mut sleep = xiio::sleep(ms(100));
    arm(&mut sleep).await;
    xiio::sleep(ms(10)).await;
    Pin::new(&mut sleep).reset(start);
    assert!(sleep.is_elapsed());
    sleep.await;
    assert_eq!(since(start), ms(10));
}

#[xiio::test(mock_clock)]
async fn a_sleep_reset_after_it_fired_waits_again() {
    let start = xiio::time::now();
    let mut sleep = xiio::sleep(ms(50));
    (&mut sleep).await;
    assert!(sleep.is_elapsed());
    Pin::new(&mut sleep).reset(xiio::time::now() + ms(70));
    assert!(!sleep.is_elapsed());
    assert!(poll_once(&mut sleep).await.is_pending());
    sleep.await;
    assert_eq!(since(start), ms(120));
}

#[xiio::test(mock_clock)]
async fn a_reset_wakes_the_waiting_task_at_the_new_deadline_without_a_new_poll() {
    // The waiter is not polled between the reset and the new deadline: its
    // waker went with the moved timer.
    let start = xiio::time::now();
    let sleep = RefCell::new(xiio::sleep(Duration::from_secs(3600)));
    let woke = TaskGroup::scope(async |tg| {
        let waiter = tg.add_task(async {
            poll_fn(|cx| Pin::new(&mut *sleep.borrow_mut()).poll(cx)).await;
            Ok::<_, Infallible>(since(start))
        });
        xiio::task::yield_now().await; // the waiter arms the timer
        Pin::new(&mut *sleep.borrow_mut()).reset(start + ms(40));
        Ok(waiter)
    })
    .await
    .unwrap();
    assert_eq!(woke.take(), Some(ms(40)));
}

#[xiio::test(mock_clock)]
async fn a_debounce_fires_50_ms_after_the_last_event() {
    let start = xiio::time::now();
    let (tx, mut events) = futures::channel::mpsc::unbounded::<()>();
    let fired = TaskGroup::scope(async |tg| {
        tg.add_task(async move {
            for at in [10, 30, 45, 100, 120] {
                xiio::time::sleep_until(start + ms(at)).await;
                tx.unbounded_send(()).unwrap();
            }
            xiio::sleep(ms(500)).await; // then closes the channel
            Ok::<_, Infallible>(())
        });
        let mut fired = Vec::new();
        let mut debounce = pin!(xiio::sleep(Duration::MAX)); // not armed
        loop {
            xiio::select! {
                event = events.next() => match event {
                    Some(()) => debounce.as_mut().reset(xiio::time::now() + ms(50)),
                    None => break,
                },
                () = debounce.as_mut() => {
                    fired.push(since(start));
                    debounce.set(xiio::sleep(Duration::MAX));
                },
            }
        }
        Ok(fired)
    })
    .await
    .unwrap();
    assert_eq!(fired, [ms(95), ms(170)]);
}

// ---------------------------------------------------------------------------
// interval_at, MissedTickBehavior
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn interval_at_ticks_first_at_start() {
    let start = xiio::time::now();
    let mut ticks = xiio::time::interval_at(start + ms(250), ms(100));
    assert_eq!(ticks.tick().await, start + ms(250));
    assert_eq!(since(start), ms(250));
    assert_eq!(ticks.tick().await, start + ms(350));
    assert_eq!(since(start), ms(350));
}

#[xiio::test(mock_clock)]
async fn interval_at_a_past_start_ticks_at_once() {
    let start = xiio::time::now();
    xiio::sleep(ms(30)).await;
    let mut ticks = xiio::time::interval_at(start, ms(100));
    assert_eq!(ticks.tick().await, start);
    assert_eq!(since(start), ms(30));
    assert_eq!(ticks.tick().await, start + ms(100));
}

#[test]
#[should_panic(expected = "xiio::time::interval needs a period above zero")]
fn an_interval_of_zero_panics() {
    let _ = xiio::time::interval(Duration::ZERO);
}

#[test]
#[should_panic(expected = "xiio::time::interval needs a period above zero")]
fn an_interval_at_of_zero_panics() {
    let _ = xiio::time::interval_at(Instant::now(), Duration::ZERO);
}

/// A 100 ms interval whose consumer, after the tick at 0, comes back at
/// 350 ms: the next five ticks, as (due, taken) in ms after the start.
async fn late_consumer(behavior: MissedTickBehavior) -> Vec<(u64, u64)> {
    let start = xiio::time::now();
    let mut ticks = xiio::time::interval(ms(100));
    ticks.set_missed_tick_behavior(behavior);
    assert_eq!(ticks.missed_tick_behavior(), behavior);
    ticks.tick().await;
    xiio::sleep(ms(350)).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let due = ticks.tick().await - start;
        seen.push((due.as_millis() as u64, since(start).as_millis() as u64));
    }
    seen
}

#[xiio::test(mock_clock)]
async fn a_late_consumer_with_burst_gets_the_missed_ticks_at_once() {
    let seen = late_consumer(MissedTickBehavior::Burst).await;
    assert_eq!(
        seen,
        [(100, 350), (200, 350), (300, 350), (400, 400), (500, 500)]
    );
}

#[xiio::test(mock_clock)]
async fn a_late_consumer_with_delay_starts_the_schedule_anew() {
    let seen = late_consumer(MissedTickBehavior::Delay).await;
    assert_eq!(
        seen,
        [(100, 350), (450, 450), (550, 550), (650, 650), (750, 750)]
    );
}

#[xiio::test(mock_clock)]
async fn a_late_consumer_with_skip_goes_on_at_the_next_tick_of_the_schedule() {
    let seen = late_consumer(MissedTickBehavior::Skip).await;
    assert_eq!(
        seen,
        [(100, 350), (400, 400), (500, 500), (600, 600), (700, 700)]
    );
}

#[xiio::test(mock_clock)]
async fn the_default_missed_tick_behavior_is_skip() {
    let ticks = xiio::time::interval(ms(100));
    assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Skip);
    assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Skip);
}

#[xiio::test(mock_clock)]
async fn a_tick_taken_5_ms_late_is_on_time_even_with_delay() {
    let start = xiio::time::now();
    let mut ticks = xiio::time::interval(ms(100));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await;
    xiio::sleep(ms(105)).await;
    assert_eq!(ticks.tick().await, start + ms(100));
    assert_eq!(ticks.tick().await, start + ms(200), "no drift");
    xiio::sleep(ms(106)).await;
    assert_eq!(ticks.tick().await, start + ms(300));
    assert_eq!(ticks.tick().await, start + ms(406), "delayed");
}

// ---------------------------------------------------------------------------
// Interval resets
// ---------------------------------------------------------------------------

/// An interval of 300 ms from `start`, after its ticks at 0 and 300, at
/// 400 ms: where each reset test begins.
async fn interval_at_400_ms(start: Instant) -> Interval {
    let mut ticks = xiio::time::interval_at(start, ms(300));
    steps(&mut ticks, start, &[(0, &[0]), (300, &[300]), (100, &[])]).await;
    ticks
}

#[xiio::test(mock_clock)]
async fn interval_reset_makes_the_next_tick_one_period_from_now() {
    let start = xiio::time::now();
    let mut ticks = interval_at_400_ms(start).await;
    ticks.reset();
    steps(
        &mut ticks,
        start,
        &[(299, &[]), (1, &[700]), (300, &[1000])],
    )
    .await;
}

#[xiio::test(mock_clock)]
async fn interval_reset_immediately_ticks_now() {
    let start = xiio::time::now();
    let mut ticks = interval_at_400_ms(start).await;
    ticks.reset_immediately();
    steps(&mut ticks, start, &[(0, &[400]), (300, &[700])]).await;
}

#[xiio::test(mock_clock)]
async fn interval_reset_after_and_reset_at_move_the_next_tick() {
    let start = xiio::time::now();
    let mut ticks = interval_at_400_ms(start).await;
    ticks.reset_after(ms(20));
    steps(&mut ticks, start, &[(20, &[420])]).await;
    ticks.reset_at(start + ms(1000));
    steps(
        &mut ticks,
        start,
        &[(579, &[]), (1, &[1000]), (300, &[1300])],
    )
    .await;
    assert_eq!(ticks.period(), ms(300));
}

#[xiio::test(mock_clock)]
async fn an_interval_reset_wakes_a_task_waiting_for_its_tick() {
    let start = xiio::time::now();
    let ticks = RefCell::new(xiio::time::interval_at(start + ms(1000), ms(100)));
    let at = TaskGroup::scope(async |tg| {
        let waiter = tg.add_task(async {
            let due = poll_fn(|cx| ticks.borrow_mut().poll_tick(cx)).await;
            Ok::<_, Infallible>((due - start, since(start)))
        });
        xiio::sleep(ms(10)).await;
        ticks.borrow_mut().reset_after(ms(15));
        Ok(waiter)
    })
    .await
    .unwrap();
    assert_eq!(at.take(), Some((ms(25), ms(25))));
}

// ---------------------------------------------------------------------------
// xiio::testing::advance
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn advance_moves_now_by_exactly_the_duration() {
    let start = xiio::time::now();
    advance(ms(1234)).await;
    assert_eq!(since(start), ms(1234));
    advance(Duration::from_nanos(1)).await;
    assert_eq!(since(start), ms(1234) + Duration::from_nanos(1));
    advance(Duration::ZERO).await;
    assert_eq!(since(start), ms(1234) + Duration::from_nanos(1));
}

/// Four children sleep 100, 30, 150 and 151 ms; the body advances 150 ms:
/// what the children logged by then.
async fn children_woken_by_advance() -> Vec<String> {
    let start = xiio::time::now();
    let log = Log::new();
    TaskGroup::scope(async |tg| {
        for at in [100, 30, 150, 151] {
            let (log, sleep) = (&log, xiio::sleep(ms(at)));
            tg.add_task(async move {
                sleep.await;
                log.push(format!("{at} woke at {:?}", since(start)));
                Ok::<_, Infallible>(())
            });
        }
        xiio::task::yield_now().await; // the children arm their timers
        advance(ms(150)).await;
        let woke = log.events();
        assert_eq!(since(start), ms(150));
        Ok(woke)
    })
    .await
    .unwrap()
}

#[test]
fn advance_fires_the_timers_due_in_order_and_their_tasks_run_before_it_returns() {
    // All at the new time, in deadline order; not the one due later.
    let woke = run_mock(children_woken_by_advance());
    assert_eq!(
        woke,
        ["30 woke at 150ms", "100 woke at 150ms", "150 woke at 150ms"]
    );
}

#[test]
fn advance_lets_the_woken_tasks_run_first_in_any_seeded_order() {
    for seed in 0..50 {
        let builder = xiio::Builder::new().mock_clock(true).seed(seed);
        let mut woke = builder.run(children_woken_by_advance());
        woke.sort();
        assert_eq!(
            woke,
            ["100 woke at 150ms", "150 woke at 150ms", "30 woke at 150ms"]
        );
    }
}

#[xiio::test(mock_clock)]
async fn the_clock_still_jumps_by_itself_after_an_advance() {
    let start = xiio::time::now();
    let sleep = xiio::sleep(ms(300));
    advance(ms(100)).await;
    sleep.await;
    assert_eq!(since(start), ms(300));
}

#[xiio::test(mock_clock)]
async fn advance_from_a_nested_group_still_lets_the_woken_tasks_run_first() {
    // The woken task is in an outer group: a self-wake of the advancing
    // task would have it polled again by its own group first.
    let start = xiio::time::now();
    let log = Log::new();
    TaskGroup::scope(async |tg| {
        let sleep = xiio::sleep(ms(10));
        tg.add_task(async {
            sleep.await;
            log.push("outer task woke");
            Ok::<_, Infallible>(())
        });
        xiio::task::yield_now().await;
        TaskGroup::scope(async |inner| {
            inner.add_task(async {
                advance(ms(10)).await;
                log.push("advance returned");
                Ok::<_, Infallible>(())
            });
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
    assert_eq!(log.events(), ["outer task woke", "advance returned"]);
    assert_eq!(since(start), ms(10));
}

#[xiio::test(mock_clock)]
async fn advance_does_not_wait_for_a_timer_due_after_it() {
    let start = xiio::time::now();
    let mut sleep = xiio::sleep(ms(500));
    arm(&mut sleep).await;
    advance(ms(499)).await;
    assert!(poll_once(&mut sleep).await.is_pending());
    assert!(!sleep.is_elapsed());
    advance(ms(1)).await;
    assert!(sleep.is_elapsed());
    assert!(poll_once(&mut sleep).await.is_ready());
    assert_eq!(since(start), ms(500));
}

#[test]
#[should_panic(
    expected = "advance needs the mock clock: use #[xiio::test(mock_clock)] or Builder::mock_clock(true)"
)]
fn advance_on_the_real_clock_panics() {
    xiio::run(advance(ms(10)));
}

#[test]
#[should_panic(expected = "advance needs the mock clock")]
fn advance_outside_a_runtime_panics() {
    futures::executor::block_on(advance(ms(10)));
}

// ---------------------------------------------------------------------------
// Ported from tokio's tests (tests/time_sleep.rs, time_pause.rs,
// time_interval.rs), in tokio's spelling: `time::`, `Instant::now()` is
// `time::now()`, `tokio::pin!` is `std::pin::pin!`.
// ---------------------------------------------------------------------------

mod tokio_style {
    use std::pin::pin;
    use std::time::Duration;

    use xiio::testing::advance;
    use xiio::time::{self, MissedTickBehavior};

    use super::steps;
    use crate::util::{ms, poll_once};

    #[xiio::test(mock_clock)]
    async fn reset_future_sleep_before_fire() {
        let now = time::now();
        let mut sleep = Box::pin(time::sleep_until(now + ms(100)));
        assert!(poll_once(&mut sleep).await.is_pending());
        sleep.as_mut().reset(time::now() + ms(200));
        sleep.await;
        assert_eq!(time::now() - now, ms(200));
    }

    #[xiio::test(mock_clock)]
    async fn reset_past_sleep_before_turn() {
        let now = time::now();
        let mut sleep = Box::pin(time::sleep_until(now + ms(100)));
        assert!(poll_once(&mut sleep).await.is_pending());
        time::sleep(ms(80)).await;
        sleep.as_mut().reset(now + ms(80));
        sleep.await;
        assert_eq!(time::now() - now, ms(80));
    }

    #[xiio::test(mock_clock)]
    async fn sleep_reset_in_a_select_loop() {
        // tokio's `Sleep` example: a timer re-armed each time it fires.
        let start = time::now();
        let sleep = time::sleep(Duration::from_millis(10));
        let mut sleep = pin!(sleep);
        let mut elapsed = Vec::new();
        while elapsed.len() < 3 {
            xiio::select! {
                () = &mut sleep => {
                    elapsed.push(time::now() - start);
                    sleep.as_mut().reset(time::now() + Duration::from_millis(50));
                },
            }
        }
        assert_eq!(elapsed, [ms(10), ms(60), ms(110)]);
    }

    #[xiio::test(mock_clock)]
    async fn sleep_same_task() {
        let start = time::now();
        let mut sleep = Box::pin(time::sleep_until(start + ms(300)));
        assert!(poll_once(&mut sleep).await.is_pending());
        let before = time::now();
        advance(ms(100)).await;
        assert_eq!(time::now() - before, ms(100));
        assert!(poll_once(&mut sleep).await.is_pending());
        let before = time::now();
        advance(ms(200)).await;
        assert_eq!(time::now() - before, ms(200));
        assert!(poll_once(&mut sleep).await.is_ready());
    }

    #[xiio::test(mock_clock)]
    async fn advance_once_with_timer() {
        let mut sleep = Box::pin(time::sleep(ms(1)));
        assert!(poll_once(&mut sleep).await.is_pending());
        advance(ms(250)).await;
        assert!(poll_once(&mut sleep).await.is_ready());
    }

    // tokio's `check_interval_poll!` after each `time::advance`, as a
    // table: (advance by, ticks then ready), in ms.

    #[xiio::test(mock_clock)]
    async fn burst() {
        let start = time::now();
        let mut i = time::interval_at(start, ms(300));
        // tokio's default; xiio's is Skip.
        i.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let script: [(u64, &[u64]); _] = [
            (0, &[0]),
            (100, &[]),
            (200, &[300]),
            (650, &[600, 900]),
            (200, &[]),
            (100, &[1200]),
            (250, &[1500]),
            (300, &[1800]),
        ];
        steps(&mut i, start, &script).await;
    }

    #[xiio::test(mock_clock)]
    async fn delay() {
        let start = time::now();
        let mut i = time::interval_at(start, ms(300));
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // tokio's test first advances 1 ms and expects 1251, 1551, 1851 (its
        // timers resolve a millisecond late); xiio's fire at their deadline.
        let script: [(u64, &[u64]); _] = [
            (0, &[0]),
            (100, &[]),
            (200, &[300]),
            (650, &[600]),
            (100, &[]),
            (200, &[1250]),
            (300, &[1550]),
            (300, &[1850]),
        ];
        steps(&mut i, start, &script).await;
    }

    #[xiio::test(mock_clock)]
    async fn skip() {
        let start = time::now();
        let mut i = time::interval_at(start, ms(300));
        i.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let script: [(u64, &[u64]); _] = [
            (0, &[0]),
            (100, &[]),
            (200, &[300]),
            (650, &[600]),
            (250, &[1200]),
            (300, &[1500]),
            (300, &[1800]),
        ];
        steps(&mut i, start, &script).await;
    }
}
