//! `xiio::timeout` and `xiio::time::timeout_at`: cancellation by deadline.
//!
//! The Python original's tests, "timeout"; Task groups, property 8; nesting with groups.

use std::convert::Infallible;
use std::time::Duration;

use xiio::TaskGroup;
use xiio::time::TimeoutError;

use crate::util;
use crate::util::{DropFlag, Log, ms, run_mock, since};

const HOUR: Duration = Duration::from_secs(3600);

/// a future that finishes in time returns its value (200 ms inside a 1 s
/// timeout).
#[xiio::test(mock_clock)]
async fn timeout_a_future_that_finishes_in_time_returns_its_value() {
    let start = xiio::time::now();
    let result = xiio::timeout(Duration::from_secs(1), async {
        xiio::sleep(ms(200)).await;
        "in time"
    })
    .await;
    assert_eq!(result, Ok("in time"));
    assert_eq!(since(start), ms(200), "no waiting for the deadline");
}

/// a future that takes too long is cancelled at the deadline with
/// `TimeoutError` (100 ms).
#[xiio::test(mock_clock)]
async fn timeout_a_future_that_takes_too_long_is_cancelled_at_the_deadline() {
    let dropped = DropFlag::new();
    let log = Log::new();
    let start = xiio::time::now();
    let result = xiio::timeout(ms(100), async {
        let _guard = dropped.guard();
        xiio::sleep(Duration::from_secs(1)).await;
        log.push("finished anyway");
        "too late"
    })
    .await;
    assert_eq!(result, Err(TimeoutError));
    assert_eq!(since(start), ms(100));
    assert!(dropped.is_set(), "the future was dropped");
    assert!(log.events().is_empty());
}

/// the non-throwing form (`.ok()` / `Option`) just stops the inner future
/// at 100 ms.
#[xiio::test(mock_clock)]
async fn timeout_the_non_throwing_form_just_stops_the_inner_future() {
    let start = xiio::time::now();
    let progress = std::cell::Cell::new(0);
    let stopped: Option<()> = xiio::timeout(ms(100), async {
        loop {
            xiio::sleep(ms(30)).await;
            progress.set(progress.get() + 1);
        }
    })
    .await
    .ok();
    assert_eq!(stopped, None);
    assert_eq!(since(start), ms(100));
    assert_eq!(progress.get(), 3, "it ran until it was stopped");
    // And the value when in time.
    assert_eq!(xiio::timeout(ms(100), async { 5 }).await.ok(), Some(5));
}

/// no deadline (`None`) waits as long as the future takes.
#[xiio::test(mock_clock)]
async fn timeout_no_deadline_waits_as_long_as_the_future_takes() {
    let start = xiio::time::now();
    let result = xiio::timeout(None, async {
        xiio::sleep(HOUR).await;
        "eventually"
    })
    .await;
    assert_eq!(result, Ok("eventually"));
    assert_eq!(since(start), HOUR);

    let start = xiio::time::now();
    let result = xiio::time::timeout_at(None, xiio::sleep(HOUR)).await;
    assert_eq!(result, Ok(()));
    assert_eq!(since(start), HOUR);

    // A duration too large for the clock is no deadline either.
    let start = xiio::time::now();
    let result = xiio::timeout(Duration::MAX, xiio::sleep(ms(10))).await;
    assert_eq!(result, Ok(()));
    assert_eq!(since(start), ms(10));
}

#[xiio::test(mock_clock)]
async fn timeout_at_cancels_at_the_instant() {
    let start = xiio::time::now();
    let result = xiio::time::timeout_at(start + ms(250), xiio::sleep(HOUR)).await;
    assert_eq!(result, Err(TimeoutError));
    assert_eq!(since(start), ms(250));
    assert_eq!(
        xiio::time::timeout_at(xiio::time::now() + ms(250), async { 1 }).await,
        Ok(1)
    );
}

#[xiio::test(mock_clock)]
async fn timeout_of_zero_returns_a_ready_value_and_cancels_a_waiting_future() {
    let start = xiio::time::now();
    assert_eq!(xiio::timeout(Duration::ZERO, async { 42 }).await, Ok(42));
    assert_eq!(
        xiio::timeout(Duration::ZERO, xiio::sleep(ms(1))).await,
        Err(TimeoutError)
    );
    // A deadline in the past, likewise.
    assert_eq!(
        xiio::time::timeout_at(start - ms(10), xiio::sleep(ms(1))).await,
        Err(TimeoutError)
    );
    assert_eq!(since(start), ms(0));
}

#[xiio::test(mock_clock)]
async fn timeout_error_converts_to_io_error_timed_out() {
    let result: std::io::Result<()> = async {
        xiio::timeout(ms(10), xiio::sleep(HOUR)).await?;
        Ok(())
    }
    .await;
    let error = result.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(TimeoutError.to_string(), "deadline has elapsed");
}

// ---------------------------------------------------------------------------
// Task groups, property 8: `timeout` is cancellation by deadline: the inner
// future is cancelled with its `try_finally` cleanups, then
// `Err(TimeoutError)`.
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn property_8_timeout_cancels_the_inner_future_and_waits_for_its_cleanups() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let result = xiio::timeout(
        ms(100),
        xiio::task::try_finally(
            async {
                let _guard = log.on_drop("inner dropped");
                xiio::sleep(HOUR).await;
            },
            async move {
                xiio::sleep(ms(50)).await;
                cleanup_log.push(format!("cleanup done at {:?}", since(start)));
            },
        ),
    )
    .await;
    assert_eq!(result, Err(TimeoutError));
    assert_eq!(since(start), ms(150), "the error comes after the cleanup");
    assert_eq!(log.events(), ["inner dropped", "cleanup done at 150ms"]);
}

#[xiio::test(mock_clock)]
async fn property_8_nested_timeouts_the_earlier_deadline_wins() {
    let start = xiio::time::now();
    let inner_first = xiio::timeout(ms(200), xiio::timeout(ms(100), xiio::sleep(HOUR))).await;
    assert_eq!(inner_first, Ok(Err(TimeoutError)));
    assert_eq!(since(start), ms(100));

    let start = xiio::time::now();
    let outer_first = xiio::timeout(ms(100), xiio::timeout(ms(200), xiio::sleep(HOUR))).await;
    assert_eq!(outer_first, Err(TimeoutError));
    assert_eq!(since(start), ms(100));
}

// ---------------------------------------------------------------------------
// Timeouts and groups.
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn a_timeout_inside_a_group() {
    let start = xiio::time::now();
    let (slow, fast) = TaskGroup::scope(async |tg| {
        // A timed-out child returns its TimeoutError as a value here...
        let slow = tg.add_task(async { Ok(xiio::timeout(ms(100), xiio::sleep(HOUR)).await) });
        let fast = tg.add_task(async { Ok(xiio::timeout(ms(100), xiio::sleep(ms(50))).await) });
        Ok::<_, Infallible>((slow, fast))
    })
    .await
    .unwrap();
    assert_eq!(slow.take(), Some(Err(TimeoutError)));
    assert_eq!(fast.take(), Some(Ok(())));
    assert_eq!(since(start), ms(100));
}

#[xiio::test(mock_clock)]
async fn a_timeout_inside_a_group_can_fail_the_group() {
    let dropped = DropFlag::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        // ... or, with `?`, fails the group, cancelling the others.
        tg.add_task(async {
            xiio::timeout(ms(100), xiio::sleep(HOUR)).await?;
            Ok(())
        });
        tg.add_task(async {
            let _guard = dropped.guard();
            xiio::sleep(HOUR).await;
            Ok(())
        });
        Ok::<_, TimeoutError>(())
    })
    .await;
    assert_eq!(result, Err(TimeoutError));
    assert!(dropped.is_set());
    assert_eq!(since(start), ms(100));
}

#[xiio::test(mock_clock)]
async fn a_group_inside_a_timeout_is_cancelled_with_all_its_children_and_cleanups() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = xiio::timeout(
        ms(100),
        TaskGroup::scope(async |tg| {
            for name in ["a", "b"] {
                let log = &log;
                let cleanup_log = log.clone();
                tg.add_task(xiio::task::try_finally(
                    async move {
                        let _guard = log.on_drop(format!("{name} dropped"));
                        xiio::sleep(HOUR).await;
                        Ok(())
                    },
                    async move {
                        xiio::sleep(ms(30)).await;
                        cleanup_log.push(format!("{name} cleanup done at {:?}", since(start)));
                    },
                ));
            }
            tg.add_task(async {
                xiio::sleep(ms(50)).await;
                log.push("c finished");
                Ok(())
            });
            let _guard = log.on_drop("body dropped");
            xiio::sleep(HOUR).await;
            Ok::<_, Infallible>(())
        }),
    )
    .await;
    assert_eq!(result, Err(TimeoutError));
    assert_eq!(since(start), ms(130));
    let mut events = log.events();
    assert_eq!(events[0], "c finished");
    events.sort();
    assert_eq!(
        events,
        [
            "a cleanup done at 130ms",
            "a dropped",
            "b cleanup done at 130ms",
            "b dropped",
            "body dropped",
            "c finished"
        ]
    );
}

#[xiio::test(mock_clock)]
async fn a_group_inside_a_timeout_that_finishes_in_time_returns_its_value() {
    let start = xiio::time::now();
    let result = xiio::timeout(
        ms(100),
        TaskGroup::scope(async |tg| {
            let a = tg.add_task(async {
                xiio::sleep(ms(60)).await;
                Ok(1)
            });
            let b = tg.add_task(async {
                xiio::sleep(ms(80)).await;
                Ok(2)
            });
            Ok::<_, Infallible>((a, b))
        }),
    )
    .await;
    let (a, b) = result.unwrap().unwrap();
    assert_eq!((a.take(), b.take()), (Some(1), Some(2)));
    assert_eq!(since(start), ms(80));
}

#[xiio::test(mock_clock)]
async fn the_cleanups_of_a_timed_out_future_run_concurrently() {
    let log = Log::new();
    let start = xiio::time::now();
    let (a, b) = (log.clone(), log.clone());
    let result = xiio::timeout(
        ms(100),
        xiio::TaskGroup::scope(async |tg| {
            tg.add_task(xiio::task::try_finally(xiio::sleep(HOUR), async move {
                xiio::sleep(ms(50)).await;
                a.push("a");
            }));
            tg.add_task(xiio::task::try_finally(xiio::sleep(HOUR), async move {
                xiio::sleep(ms(30)).await;
                b.push("b");
            }));
            Ok::<_, ()>(())
        }),
    )
    .await;
    assert!(result.is_err());
    assert_eq!(
        since(start),
        ms(150),
        "the cleanups overlapped: 100 + max(50, 30)"
    );
    assert_eq!(log.events(), ["b", "a"]);
}

#[test]
fn a_timeout_cancelled_while_its_cleanups_run_hands_them_to_the_group() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        let cleanup_log = log.clone();
        // The inner timeout fires at 100 ms and awaits a 100 ms cleanup;
        // the outer one cancels it at 150 ms, in the middle of that.
        let outer = xiio::timeout(
            ms(150),
            xiio::timeout(
                ms(100),
                xiio::task::try_finally(xiio::sleep(HOUR), async move {
                    xiio::sleep(ms(100)).await;
                    cleanup_log.push("cleanup done");
                }),
            ),
        )
        .await;
        assert!(outer.is_err());
        // Still awaited, by the outer timeout: never cut short.
        assert_eq!(since(start), ms(200));
    });
    assert_eq!(log.events(), ["cleanup done"]);
}

#[test]
fn a_timeout_first_polled_in_one_runtime_does_not_fire_early_in_the_next() {
    let mut timeout = Box::pin(xiio::timeout(ms(1000), std::future::pending::<()>()));
    let start = std::time::Instant::now();
    run_mock(async {
        assert!(util::poll_once(&mut timeout).await.is_pending());
    });
    let ended = run_mock(async {
        assert!(timeout.await.is_err());
        xiio::time::now()
    });
    assert!(ended >= start + ms(1000), "fired early");
}
