//! `xiio::run`: its value, its teardown, and the cleanups it waits for.
//!
//! The Python original's tests, Core: "run returns the future's value", "run drops a
//! paused task's future when the runtime is torn down", "run waits for
//! cleanup"; the runtime stays usable after a panic.

use std::cell::Cell;
use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use xiio::TaskGroup;

use crate::util::{DropFlag, Log, ms, panic_message, panic_with, run_mock, since, yield_now};

// ---------------------------------------------------------------------------
// run returns the future's value (sleep 100 ms then return a string: 100 ms,
// value returned).
// ---------------------------------------------------------------------------

#[test]
fn run_returns_the_futures_value() {
    let (value, elapsed) = run_mock(async {
        let start = xiio::time::now();
        xiio::sleep(ms(100)).await;
        (String::from("Hello World"), since(start))
    });
    assert_eq!(value, "Hello World");
    assert_eq!(elapsed, ms(100));
}

#[test]
fn run_returns_the_futures_value_on_the_real_clock() {
    let start = Instant::now();
    let value = xiio::run(async {
        xiio::sleep(ms(20)).await;
        "done"
    });
    let elapsed = start.elapsed();
    assert_eq!(value, "done");
    assert!(elapsed >= ms(20), "slept only {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "slept {elapsed:?}");
}

#[test]
fn run_accepts_futures_that_are_neither_send_nor_static() {
    let counter = Rc::new(Cell::new(0));
    let local = String::from("borrowed");
    let len = xiio::run(async {
        counter.set(counter.get() + 1);
        local.len()
    });
    assert_eq!(len, 8);
    assert_eq!(counter.get(), 1);
}

// ---------------------------------------------------------------------------
// run drops a paused task's future when the runtime is torn down by a
// panic/abort of the run, so its cleanup (Drop) runs.
// ---------------------------------------------------------------------------

#[test]
fn run_drops_a_paused_tasks_future_when_torn_down_by_a_panic() {
    let dropped = DropFlag::new();
    let resumed = Rc::new(Cell::new(false));
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            TaskGroup::scope(async |tg| {
                tg.add_task(async {
                    let _guard = dropped.guard();
                    xiio::sleep(Duration::from_secs(3600)).await;
                    resumed.set(true);
                });
                xiio::sleep(ms(100)).await;
                panic!("tearing the run down");
                #[allow(unreachable_code)]
                Ok::<_, ()>(())
            })
            .await
        })
    }));
    let payload = result.expect_err("the panic reaches the caller of run");
    assert_eq!(panic_message(&*payload), "tearing the run down");
    assert!(dropped.is_set(), "the paused task's future was dropped");
    assert!(!resumed.get(), "the paused task never resumed");
}

#[test]
fn run_drops_the_paused_root_future_when_torn_down_by_a_panic() {
    // No group at all: the root future itself is paused in one branch of a
    // join while the other branch panics.
    let dropped = DropFlag::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            futures::join!(
                async {
                    let _guard = dropped.guard();
                    xiio::sleep(Duration::from_secs(3600)).await;
                },
                async {
                    xiio::sleep(ms(100)).await;
                    panic!("root panicked");
                },
            )
        })
    }));
    let payload = result.expect_err("the panic reaches the caller of run");
    assert_eq!(panic_message(&*payload), "root panicked");
    assert!(dropped.is_set());
}

#[test]
fn run_torn_down_by_a_panic_still_runs_async_cleanups_first() {
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            let cleanup_log = log.clone();
            futures::join!(
                xiio::task::try_finally(xiio::sleep(Duration::from_secs(3600)), async move {
                    xiio::sleep(ms(50)).await;
                    cleanup_log.push(format!("cleanup done at {:?}", since(start)));
                }),
                async {
                    xiio::sleep(ms(100)).await;
                    panic!("root panicked");
                },
            )
        })
    }));
    assert!(result.is_err());
    assert_eq!(log.events(), ["cleanup done at 150ms"]);
}

// ---------------------------------------------------------------------------
// run waits for cleanup: a task whose `try_finally` cleanup sleeps 100 ms
// after an error takes 100 ms and then reports the error.
// ---------------------------------------------------------------------------

#[test]
fn run_waits_for_cleanup_after_an_error() {
    let log = Log::new();
    let (result, elapsed) = run_mock(async {
        let start = xiio::time::now();
        let cleanup_log = log.clone();
        let result: Result<(), &str> =
            xiio::task::try_finally(async { Err("failed") }, async move {
                xiio::sleep(ms(100)).await;
                cleanup_log.push("cleanup");
            })
            .await;
        (result, since(start))
    });
    assert_eq!(result, Err("failed"));
    assert_eq!(elapsed, ms(100));
    assert_eq!(log.events(), ["cleanup"]);
}

#[test]
fn run_waits_for_cleanup_of_a_task_cancelled_by_an_error() {
    // The task with the cleanup is cancelled by its sibling's error; the
    // group (and so `run`) reports the error once the cleanup is done.
    let log = Log::new();
    let (result, elapsed) = run_mock(async {
        let start = xiio::time::now();
        let result = TaskGroup::scope(async |tg| {
            let cleanup_log = log.clone();
            tg.add_task(xiio::task::try_finally(
                async {
                    xiio::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                },
                async move {
                    xiio::sleep(ms(100)).await;
                    cleanup_log.push("cleanup");
                },
            ));
            tg.add_task(async { Err::<(), _>("failed") });
            Ok(())
        })
        .await;
        (result, since(start))
    });
    assert_eq!(result, Err("failed"));
    assert_eq!(elapsed, ms(100));
    assert_eq!(log.events(), ["cleanup"]);
}

#[test]
fn run_waits_for_an_orphaned_cleanup_before_it_returns() {
    // The root future drops an unfinished `try_finally` and returns at
    // once; `run` still runs the cleanup to its end before returning.
    let log = Log::new();
    let value = run_mock(async {
        let start = xiio::time::now();
        let cleanup_log = log.clone();
        let guarded = xiio::task::try_finally(xiio::sleep(Duration::from_secs(3600)), async move {
            xiio::sleep(ms(100)).await;
            cleanup_log.push(format!("cleanup done at {:?}", since(start)));
        });
        let raced = futures::future::select(Box::pin(guarded), Box::pin(xiio::sleep(ms(10))));
        match raced.await {
            futures::future::Either::Right(((), guarded)) => drop(guarded),
            futures::future::Either::Left(_) => unreachable!("the 1 h sleep lost"),
        }
        log.push(format!("root returns at {:?}", since(start)));
        "value"
    });
    assert_eq!(value, "value");
    assert_eq!(
        log.events(),
        ["root returns at 10ms", "cleanup done at 110ms"]
    );
}

// ---------------------------------------------------------------------------
// a panic in a child reaches the parent; the runtime stays usable.
// ---------------------------------------------------------------------------

#[test]
fn run_is_usable_after_a_panic_in_a_child() {
    let result = catch_unwind(|| {
        run_mock(async {
            TaskGroup::scope(async |tg| {
                tg.add_task(async {
                    xiio::sleep(ms(10)).await;
                    panic_with("child panicked");
                });
                xiio::sleep(ms(100)).await;
                Ok::<_, ()>(())
            })
            .await
        })
    });
    let payload = result.expect_err("the child's panic reaches the caller");
    assert_eq!(panic_message(&*payload), "child panicked");

    // The same thread runs a fresh runtime, with groups, timers and
    // cleanups, as if nothing happened.
    let log = Log::new();
    let (sum, elapsed) = run_mock(async {
        let start = xiio::time::now();
        let cleanup_log = log.clone();
        let sum = TaskGroup::scope(async |tg| {
            let a = tg.add_task(async {
                xiio::sleep(ms(30)).await;
                Ok(1)
            });
            let b = tg.add_task(xiio::task::try_finally(
                async {
                    xiio::sleep(ms(20)).await;
                    Ok(2)
                },
                async move { cleanup_log.push("cleanup") },
            ));
            Ok::<_, ()>((a, b))
        })
        .await
        .map(|(a, b)| a.take().unwrap() + b.take().unwrap());
        (sum, since(start))
    });
    assert_eq!(sum, Ok(3));
    assert_eq!(elapsed, ms(30));
    assert_eq!(log.events(), ["cleanup"]);

    // And on the real clock.
    assert_eq!(
        xiio::run(async {
            xiio::sleep(ms(1)).await;
            5
        }),
        5
    );
}

#[test]
fn run_panic_in_the_root_future_reaches_the_caller_and_the_runtime_is_usable() {
    let result = catch_unwind(|| {
        run_mock(async {
            xiio::sleep(ms(10)).await;
            panic!("root failed");
        })
    });
    assert_eq!(panic_message(&*result.unwrap_err()), "root failed");
    assert_eq!(run_mock(async { 1 + 1 }), 2);
}

#[test]
fn run_panic_can_be_caught_inside_the_run() {
    // A panic caught by the user inside the run (here around a group) does
    // not poison the runtime: the same run goes on using timers.
    let (caught, elapsed) = run_mock(async {
        let start = xiio::time::now();
        let caught = AssertUnwindSafe(TaskGroup::scope(async |tg| {
            tg.add_task(async {
                xiio::sleep(ms(10)).await;
                panic_with("inner");
            });
            xiio::sleep(ms(100)).await;
            Ok::<_, ()>(())
        }))
        .catch_unwind()
        .await;
        xiio::sleep(ms(5)).await;
        (caught.map_err(|p| panic_message(&*p)), since(start))
    });
    assert_eq!(caught, Err(String::from("inner")));
    assert_eq!(elapsed, ms(15));
}

#[test]
fn run_is_one_runtime_per_thread() {
    // Runtimes on several threads at the same time do not interfere.
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                run_mock(async move {
                    let start = xiio::time::now();
                    xiio::sleep(ms(10 * (i + 1))).await;
                    (i, since(start))
                })
            })
        })
        .collect();
    for (i, thread) in threads.into_iter().enumerate() {
        let i = i as u64;
        assert_eq!(thread.join().unwrap(), (i, ms(10 * (i + 1))));
    }
}

/// A watchdog far beyond any test: on the mock clock, a lost wake-up makes
/// time jump here instead of hanging the test.
const WATCHDOG: Duration = Duration::from_secs(3600);

// Regression: a poll budget that ended a group's poll in the middle of its
// woken keys once lost the leftover keys' positions on the next poll ("index
// out of bounds", or skipped children: lost wake-ups).
#[xiio::test(mock_clock)]
async fn a_group_with_more_ready_children_than_one_turn_polls_all_of_them() {
    // More children ready at the same moment than the run loop polls in one
    // turn: the rest must be polled in the next turns, none skipped.
    const N: u64 = 1_000;
    let polled = Cell::new(0u64);
    let start = xiio::time::now();
    let sum = xiio::timeout(
        WATCHDOG,
        TaskGroup::scope(async |tg| {
            let tasks: Vec<_> = (0..N)
                .map(|i| {
                    let polled = &polled;
                    tg.add_task(async move {
                        polled.set(polled.get() + 1);
                        yield_now().await;
                        Ok(i)
                    })
                })
                .collect();
            Ok::<_, Infallible>(tasks)
        }),
    )
    .await
    .expect("no wake-up was lost")
    .unwrap()
    .iter()
    .map(|t| t.take().unwrap())
    .sum::<u64>();
    assert_eq!(sum, N * (N - 1) / 2);
    assert_eq!(polled.get(), N);
    assert_eq!(since(start), ms(0));
}

// Regression: the same, with the budget spent inside nested groups.
#[xiio::test(mock_clock)]
async fn nested_groups_with_more_ready_children_than_one_turn_poll_all_of_them() {
    let done = Cell::new(0u32);
    let start = xiio::time::now();
    xiio::timeout(
        WATCHDOG,
        TaskGroup::scope(async |outer| {
            for _ in 0..10 {
                let done = &done;
                outer.add_task(async move {
                    TaskGroup::scope(async |inner| {
                        for _ in 0..300 {
                            inner.add_task(async move {
                                yield_now().await;
                                xiio::sleep(ms(1)).await;
                                yield_now().await;
                                done.set(done.get() + 1);
                            });
                        }
                        Ok::<_, Infallible>(())
                    })
                    .await
                });
            }
            Ok::<_, Infallible>(())
        }),
    )
    .await
    .expect("no wake-up was lost")
    .unwrap();
    assert_eq!(done.get(), 3_000);
    assert_eq!(since(start), ms(1));
}

// ---------------------------------------------------------------------------
// `xiio::run` inside a running runtime panics with a clear message.
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "xiio::run called inside a running runtime")]
fn run_nested_inside_a_running_runtime_panics() {
    xiio::run(async {
        xiio::run(async { 1 });
    });
}

#[test]
#[should_panic(expected = "xiio::run called inside a running runtime")]
fn builder_run_nested_inside_a_child_panics() {
    run_mock(TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::Builder::new().mock_clock(true).run(async {});
        });
        Ok::<_, Infallible>(())
    }))
    .unwrap();
}

#[test]
fn run_nested_panic_leaves_the_outer_runtime_working() {
    let (message, elapsed) = run_mock(async {
        let start = xiio::time::now();
        let payload = catch_unwind(|| xiio::run(async { 1 })).unwrap_err();
        // The outer runtime is still this thread's runtime and still works.
        xiio::sleep(ms(100)).await;
        (panic_message(&*payload), since(start))
    });
    assert!(message.contains("xiio::run called inside a running runtime"));
    assert!(message.contains("await the future instead"), "{message}");
    assert_eq!(elapsed, ms(100));
}
