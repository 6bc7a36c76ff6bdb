//! Time: `xiio::sleep`, `xiio::time::sleep_until`, `xiio::time::now` and the mock clock.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use futures::StreamExt;
use xiio::TaskGroup;

use crate::util;
use crate::util::{Log, ms, run_mock, since, yield_now};

#[xiio::test(mock_clock)]
async fn sleeps_in_parallel_overlap_on_the_mock_clock() {
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        for delay in [100, 200] {
            tg.add_task(xiio::sleep(ms(delay)));
        }
        xiio::sleep(ms(100)).await;
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(since(start), ms(200), "200 ms, not 400 ms");
}

#[xiio::test(mock_clock)]
async fn a_sleeps_deadline_is_fixed_when_it_is_created() {
    let start = xiio::time::now();
    let early = xiio::sleep(ms(100));
    assert_eq!(early.deadline(), Some(start + ms(100)));
    xiio::sleep(ms(60)).await;
    early.await;
    assert_eq!(since(start), ms(100), "not 160 ms");
}

#[xiio::test(mock_clock)]
async fn sleep_until_a_past_or_present_instant_returns_at_once() {
    let start = xiio::time::now();
    xiio::time::sleep_until(start).await;
    xiio::time::sleep_until(start - ms(10)).await;
    xiio::sleep(Duration::ZERO).await;
    assert_eq!(since(start), ms(0));
    xiio::time::sleep_until(start + ms(42)).await;
    assert_eq!(xiio::time::now(), start + ms(42));
}

#[xiio::test(mock_clock)]
async fn the_mock_clock_stands_still_while_tasks_can_run() {
    let start = xiio::time::now();
    // A thousand turns of busy tasks: no time passes.
    for _ in 0..1000 {
        yield_now().await;
    }
    assert_eq!(since(start), ms(0));
    // Then it jumps straight to the next deadline, not beyond.
    let log = Log::new();
    TaskGroup::scope(async |tg| {
        for delay in [30, 10, 20] {
            let log = &log;
            tg.add_task(async move {
                xiio::sleep(ms(delay)).await;
                log.push(format!("{delay} ms sleeper at {:?}", since(start)));
            });
        }
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(
        log.events(),
        [
            "10 ms sleeper at 10ms",
            "20 ms sleeper at 20ms",
            "30 ms sleeper at 30ms"
        ]
    );
}

#[xiio::test(mock_clock)]
async fn a_sleep_forever_is_never_due() {
    let start = xiio::time::now();
    let forever = xiio::sleep(Duration::MAX);
    assert_eq!(forever.deadline(), None);
    assert_eq!(
        xiio::timeout(Duration::from_secs(86_400 * 365), forever).await,
        Err(xiio::time::TimeoutError)
    );
    assert_eq!(since(start), Duration::from_secs(86_400 * 365));
}

#[test]
fn sleep_on_the_real_clock_takes_at_least_its_duration() {
    let start = Instant::now();
    xiio::run(async {
        let virtual_start = xiio::time::now();
        xiio::sleep(ms(30)).await;
        assert!(since(virtual_start) >= ms(30));
    });
    let elapsed = start.elapsed();
    assert!(elapsed >= ms(30), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn now_outside_a_runtime_is_the_real_clock() {
    let before = Instant::now();
    let now = xiio::time::now();
    assert!(now >= before);
    assert!(now - before < Duration::from_secs(10));
    // Inside a mock-clock runtime it is the mock time, which starts at the
    // real time and then moves only by jumps.
    let (inside, after_hour) = run_mock(async {
        let inside = xiio::time::now();
        xiio::sleep(Duration::from_secs(3600)).await;
        (inside, xiio::time::now())
    });
    assert!(inside >= before);
    assert_eq!(after_hour - inside, Duration::from_secs(3600));
}

#[test]
fn interval_ticks_at_each_period() {
    run_mock(async {
        let start = xiio::time::now();
        let mut interval = xiio::time::interval(ms(100));
        let mut at = Vec::new();
        for _ in 0..4 {
            at.push(interval.tick().await - start);
        }
        assert_eq!(at, [ms(0), ms(100), ms(200), ms(300)]);
        assert_eq!(since(start), ms(300));
    });
}

#[test]
fn a_slow_consumer_of_an_interval_skips_the_missed_ticks() {
    run_mock(async {
        let start = xiio::time::now();
        let mut interval = xiio::time::interval(ms(100));
        interval.tick().await; // 0 ms
        xiio::sleep(ms(250)).await; // missed the ticks at 100 and 200
        let late = interval.tick().await;
        assert_eq!(late - start, ms(100), "the missed tick comes at once");
        assert_eq!(since(start), ms(250));
        let next = interval.tick().await;
        assert_eq!(next - start, ms(300), "then the schedule goes on, no burst");
        assert_eq!(since(start), ms(300));
    });
}

// Regression: after a stall of 2^32 periods the interval panicked in
// debug builds (a u32 count of periods overflowed) and, in release
// builds, stuck on one stale instant and ticked at once for ever.
#[test]
fn an_interval_after_a_stall_of_four_billion_periods_ticks_once_and_goes_on() {
    run_mock(async {
        let period = ms(1);
        let mut interval = xiio::time::interval(period);
        interval.tick().await;
        xiio::sleep(period * u32::MAX + period * 10).await; // about 50 days
        let resumed = xiio::time::now();
        interval.tick().await; // the missed tick, at once
        assert_eq!(since(resumed), Duration::ZERO);
        let next = interval.tick().await; // then on schedule, not at once
        assert!(next > resumed, "the next tick is in the future");
        assert!(since(resumed) <= period && since(resumed) > Duration::ZERO);
        interval.tick().await;
        assert!(since(resumed) > period);
    });
}

// Regression: `interval(Duration::MAX)` panicked at its first tick
// ("overflow when adding duration to instant").
#[test]
fn an_interval_of_duration_max_ticks_once_then_never() {
    run_mock(async {
        let start = xiio::time::now();
        let mut interval = xiio::time::interval(Duration::MAX);
        assert_eq!(interval.tick().await, start);
        let second = xiio::timeout(Duration::from_secs(3600), interval.tick()).await;
        assert!(second.is_err(), "a very slow interval");
        assert_eq!(interval.period(), Duration::MAX);
    });
}

#[test]
fn an_interval_is_a_stream() {
    run_mock(async {
        let start = xiio::time::now();
        let ticks: Vec<Instant> = xiio::time::interval(ms(50)).take(3).collect().await;
        let offsets: Vec<Duration> = ticks.iter().map(|t| *t - start).collect();
        assert_eq!(offsets, [ms(0), ms(50), ms(100)]);
    });
}

// ---------------------------------------------------------------------------
// A leaf future polled outside `xiio::run` panics and says what to do.
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn sleep_polled_outside_run_panics() {
    futures::executor::block_on(xiio::sleep(ms(10)));
}

#[test]
#[should_panic(
    expected = "must be awaited inside xiio::run, or wrapped in xiio::compat::on_executor"
)]
fn sleep_until_polled_outside_run_panics_and_names_the_alternative() {
    futures::executor::block_on(xiio::time::sleep_until(Instant::now() + ms(10)));
}

#[test]
fn a_sleep_first_polled_in_one_runtime_waits_its_time_in_the_next() {
    // Its timer lives in the first runtime; the second one once took the
    // timer for fired, and the sleep ended at once.
    let mut sleep = Box::pin(xiio::sleep(ms(1000)));
    let deadline = sleep.deadline().unwrap();
    run_mock(async {
        assert!(util::poll_once(&mut sleep).await.is_pending());
    });
    let ended = run_mock(async {
        sleep.await;
        xiio::time::now()
    });
    assert!(ended >= deadline, "ended {:?} early", deadline - ended);
}

#[test]
fn an_interval_carried_to_the_next_runtime_ticks_on_time() {
    let mut ticks = xiio::time::interval(ms(1000));
    let first = run_mock(async {
        let first = ticks.tick().await; // at once
        let mut next = Box::pin(ticks.tick());
        assert!(util::poll_once(&mut next).await.is_pending());
        first
    });
    let at = run_mock(async {
        ticks.tick().await;
        xiio::time::now()
    });
    assert!(at >= first + ms(1000), "ticked early");
}
