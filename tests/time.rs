//! Time: `xiio::sleep`, `xiio::sleep_until`, `xiio::now` and the mock clock
//! (DESIGN.md §5).

mod util;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use xiio::TaskGroup;

use util::{Log, ms, run_mock, since, yield_now};

#[xiio::test(mock_clock)]
async fn sleeps_in_parallel_overlap_on_the_mock_clock() {
    let start = xiio::now();
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
    let start = xiio::now();
    let early = xiio::sleep(ms(100));
    assert_eq!(early.deadline(), Some(start + ms(100)));
    xiio::sleep(ms(60)).await;
    early.await;
    assert_eq!(since(start), ms(100), "not 160 ms");
}

#[xiio::test(mock_clock)]
async fn sleep_until_a_past_or_present_instant_returns_at_once() {
    let start = xiio::now();
    xiio::sleep_until(start).await;
    xiio::sleep_until(start - ms(10)).await;
    xiio::sleep(Duration::ZERO).await;
    assert_eq!(since(start), ms(0));
    xiio::sleep_until(start + ms(42)).await;
    assert_eq!(xiio::now(), start + ms(42));
}

#[xiio::test(mock_clock)]
async fn the_mock_clock_stands_still_while_tasks_can_run() {
    let start = xiio::now();
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
    let start = xiio::now();
    let forever = xiio::sleep(Duration::MAX);
    assert_eq!(forever.deadline(), None);
    assert_eq!(
        xiio::timeout(Duration::from_secs(86_400 * 365), forever).await,
        Err(xiio::TimeoutError)
    );
    assert_eq!(since(start), Duration::from_secs(86_400 * 365));
}

#[test]
fn sleep_on_the_real_clock_takes_at_least_its_duration() {
    let start = Instant::now();
    xiio::run(async {
        let virtual_start = xiio::now();
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
    let now = xiio::now();
    assert!(now >= before);
    assert!(now - before < Duration::from_secs(10));
    // Inside a mock-clock runtime it is the mock time, which starts at the
    // real time and then moves only by jumps.
    let (inside, after_hour) = run_mock(async {
        let inside = xiio::now();
        xiio::sleep(Duration::from_secs(3600)).await;
        (inside, xiio::now())
    });
    assert!(inside >= before);
    assert_eq!(after_hour - inside, Duration::from_secs(3600));
}
