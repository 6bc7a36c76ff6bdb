//! `xiio::task::try_finally`: async cleanup that runs whether the body finished,
//! failed, panicked or was cancelled, and that is never cancelled itself.

use std::convert::Infallible;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use futures::FutureExt;
use xiio::TaskGroup;
use xiio::time::TimeoutError;

use crate::util;
use crate::util::{Log, ms, panic_message, panic_with, run_mock, since};

const HOUR: Duration = Duration::from_secs(3600);

#[xiio::test(mock_clock)]
async fn try_finally_cleanup_runs_when_the_body_panics_and_the_panic_follows_it() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let caught = AssertUnwindSafe(TaskGroup::scope(async |tg| {
        tg.add_task(xiio::task::try_finally(
            async {
                xiio::sleep(ms(10)).await;
                panic_with("body panicked");
            },
            async move {
                xiio::sleep(ms(50)).await;
                cleanup_log.push(format!("cleanup done at {:?}", since(start)));
            },
        ));
        Ok::<_, Infallible>(())
    }))
    .catch_unwind()
    .await;
    assert_eq!(panic_message(&*caught.unwrap_err()), "body panicked");
    assert_eq!(since(start), ms(60));
    assert_eq!(log.events(), ["cleanup done at 60ms"]);
}

#[xiio::test(mock_clock)]
async fn try_finally_cleanup_already_running_is_not_cancelled_by_task_cancel() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    TaskGroup::scope(async |tg| {
        // The body is done at once; the cleanup then runs inline for 100 ms.
        let task = tg.add_task(xiio::task::try_finally(async { Ok(1) }, async move {
            cleanup_log.push("cleanup starts");
            xiio::sleep(ms(100)).await;
            cleanup_log.push(format!("cleanup done at {:?}", since(start)));
        }));
        xiio::sleep(ms(50)).await;
        // Cancelled halfway through its cleanup: the cleanup goes on.
        task.cancel();
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(since(start), ms(100), "the group waited for the cleanup");
    assert_eq!(log.events(), ["cleanup starts", "cleanup done at 100ms"]);
}

#[xiio::test(mock_clock)]
async fn try_finally_cleanup_already_running_is_not_cancelled_by_a_timeout() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let result = xiio::timeout(
        ms(50),
        xiio::task::try_finally(async { "body done" }, async move {
            xiio::sleep(ms(100)).await;
            cleanup_log.push(format!("cleanup done at {:?}", since(start)));
        }),
    )
    .await;
    // The whole future was not done at the deadline (its cleanup was not),
    // so it timed out; the cleanup still ran to its end first.
    assert_eq!(result, Err(TimeoutError));
    assert_eq!(since(start), ms(100));
    assert_eq!(log.events(), ["cleanup done at 100ms"]);
}

#[xiio::test(mock_clock)]
async fn try_finally_cleanup_in_a_cancelled_inner_group_continues_in_the_outer_group() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |outer| {
        outer.add_task(async {
            // The inner group fails at 10 ms and runs A's cleanup until
            // 110 ms ...
            TaskGroup::scope(async |inner| {
                let cleanup_log = log.clone();
                inner.add_task(xiio::task::try_finally(
                    async {
                        xiio::sleep(HOUR).await;
                        Ok(())
                    },
                    async move {
                        xiio::sleep(ms(100)).await;
                        cleanup_log.push(format!("A cleanup done at {:?}", since(start)));
                    },
                ));
                inner.add_task(async {
                    xiio::sleep(ms(10)).await;
                    Err::<(), _>("inner failed")
                });
                Ok(())
            })
            .await
        });
        // ... but the outer group fails at 50 ms and drops the inner group:
        // the running cleanup moves up and the outer group waits for it.
        xiio::sleep(ms(50)).await;
        Err::<(), _>("outer failed")
    })
    .await;
    assert_eq!(result, Err("outer failed"));
    assert_eq!(since(start), ms(110));
    assert_eq!(log.events(), ["A cleanup done at 110ms"]);
}

#[xiio::test(mock_clock)]
async fn try_finally_a_cleanups_own_cancelled_cleanup_is_awaited_too() {
    let log = Log::new();
    let start = xiio::time::now();
    let outer_log = log.clone();
    let result = xiio::timeout(
        ms(100),
        xiio::task::try_finally(xiio::sleep(HOUR), async move {
            // The cleanup times out an operation of its own, which has a
            // cleanup of its own.
            let inner_log = outer_log.clone();
            let inner = xiio::timeout(
                ms(10),
                xiio::task::try_finally(xiio::sleep(HOUR), async move {
                    xiio::sleep(ms(20)).await;
                    inner_log.push(format!("inner cleanup done at {:?}", since(start)));
                }),
            )
            .await;
            outer_log.push(format!(
                "outer cleanup done at {:?}: {inner:?}",
                since(start)
            ));
        }),
    )
    .await;
    assert_eq!(result, Err(TimeoutError));
    assert_eq!(since(start), ms(130));
    assert_eq!(
        log.events(),
        [
            "inner cleanup done at 130ms",
            "outer cleanup done at 130ms: Err(TimeoutError)"
        ]
    );
}

#[xiio::test(mock_clock)]
async fn try_finally_returns_the_bodys_error_after_the_cleanup() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let result: Result<u32, String> = xiio::task::try_finally(
        async {
            xiio::sleep(ms(10)).await;
            Err(String::from("body failed"))
        },
        async move {
            xiio::sleep(ms(30)).await;
            cleanup_log.push("cleanup");
        },
    )
    .await;
    assert_eq!(result, Err(String::from("body failed")));
    assert_eq!(since(start), ms(40));
    assert_eq!(log.events(), ["cleanup"]);
}

#[test]
fn try_finally_nested_cleanups_all_run_when_cancelled() {
    let log = Log::new();
    let (outer_log, inner_log) = (log.clone(), log.clone());
    let result = run_mock(xiio::timeout(
        ms(10),
        xiio::task::try_finally(
            xiio::task::try_finally(xiio::sleep(HOUR), async move {
                xiio::sleep(ms(5)).await;
                inner_log.push("inner cleanup");
            }),
            async move {
                xiio::sleep(ms(5)).await;
                outer_log.push("outer cleanup");
            },
        ),
    ));
    assert_eq!(result, Err(TimeoutError));
    let mut events = log.events();
    events.sort();
    // Both ran; dropped together, their relative order is not defined.
    assert_eq!(events, ["inner cleanup", "outer cleanup"]);
}

#[test]
fn a_try_finally_whose_body_panics_awaits_its_cleanup_before_the_panic_leaves() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        let log2 = log.clone();
        let caught = AssertUnwindSafe(xiio::task::try_finally(
            async {
                xiio::sleep(ms(10)).await;
                panic_with("body failed");
            },
            async move {
                xiio::sleep(ms(50)).await;
                log2.push("cleanup done");
            },
        ))
        .catch_unwind()
        .await;
        // As Python's `finally`: the cleanup is over when the panic is seen.
        assert_eq!(log.events(), ["cleanup done"]);
        assert_eq!(panic_message(&*caught.unwrap_err()), "body failed");
        assert_eq!(since(start), ms(60));
    });
}

#[test]
fn a_cleanup_that_panicked_inline_is_not_polled_again() {
    // The task catches the cleanup's panic and goes on; before the fix the
    // cleanup was also handed to the group, polled again, and panicked
    // with "`async fn` resumed after panicking", failing xiio::run.
    let caught = util::within_10_s(|| {
        xiio::run(async {
            let caught = AssertUnwindSafe(xiio::task::try_finally(async {}, async {
                panic_with("cleanup failed");
            }))
            .catch_unwind()
            .await;
            panic_message(&*caught.unwrap_err())
        })
    });
    assert_eq!(caught, "cleanup failed");
}

/// Panics when dropped.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic_with(self.0);
        }
    }
}

#[test]
fn a_panic_in_the_drop_of_a_cancelled_child_waits_for_the_other_cleanups() {
    let log = Log::new();
    run_mock(async {
        let log2 = log.clone();
        // The group, caught as a whole: when its panic comes out, the
        // other child's cleanup must be over (before the fix the panic
        // unwound straight out of the group, and the cleanup ran later in
        // the enclosing group).
        let group = AssertUnwindSafe(xiio::TaskGroup::scope(async |tg| {
            tg.add_task(async {
                let _guard = PanicOnDrop("drop of a cancelled child");
                std::future::pending::<()>().await;
            });
            tg.add_task(xiio::task::try_finally(
                std::future::pending::<()>(),
                async move {
                    xiio::sleep(ms(50)).await;
                    log2.push("the other child's cleanup done");
                },
            ));
            xiio::sleep(ms(10)).await;
            Err::<(), _>(io::Error::other("the body failed"))
        }))
        .catch_unwind()
        .await;
        let payload = group.expect_err("the panic is not lost");
        assert_eq!(panic_message(&*payload), "drop of a cancelled child");
        assert_eq!(log.events(), ["the other child's cleanup done"]);
    });
}

#[test]
fn a_panic_in_a_cleanup_during_cancellation_wins_over_the_error() {
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let log2 = log.clone();
            xiio::task_group!(|tg| {
                tg.add_task(xiio::task::try_finally(
                    std::future::pending::<()>(),
                    async {
                        xiio::sleep(ms(10)).await;
                        panic_with("a cleanup panicked");
                    },
                ));
                tg.add_task(xiio::task::try_finally(
                    std::future::pending::<()>(),
                    async move {
                        xiio::sleep(ms(50)).await;
                        log2.push("the slower cleanup done");
                    },
                ));
                tg.add_task(async {
                    xiio::sleep(ms(5)).await;
                    Err::<(), _>(io::Error::other("the first error"))
                });
                Ok::<_, io::Error>(())
            })
        })
    }));
    // Before: printed, then lost (the group returned the error).
    let payload = result.expect_err("the panic is resumed, not lost");
    assert_eq!(panic_message(&*payload), "a cleanup panicked");
    assert_eq!(log.events(), ["the slower cleanup done"]);
}

#[test]
fn a_panic_held_by_a_try_finally_cancelled_during_its_cleanup_is_not_lost() {
    // The body panics; while the cleanup runs (100 ms), a sibling fails
    // (at 50 ms) and the task is cancelled. The panic once vanished and
    // the group returned the sibling's later error.
    let start = std::time::Instant::now();
    let result = catch_unwind(|| {
        run_mock(TaskGroup::scope(async |tg| {
            tg.add_task(xiio::task::try_finally(
                async { panic_with("first") },
                async { xiio::sleep(ms(100)).await },
            ));
            tg.add_task(async {
                xiio::sleep(ms(50)).await;
                Err::<(), _>("later")
            });
            Ok::<_, &str>(())
        }))
    });
    match result {
        Err(payload) => assert_eq!(panic_message(&*payload), "first"),
        Ok(result) => panic!("the panic was lost: {result:?}"),
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_group_dropped_by_a_timeout_while_it_holds_a_panic_passes_it_on() {
    // The inner group caught a child's panic and waits for another child's
    // cleanup when the timeout drops it: the panic goes on from the
    // enclosing group, once the cleanup is done.
    let cleanup_done = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            let log = cleanup_done.clone();
            let outcome = futures::FutureExt::catch_unwind(AssertUnwindSafe(xiio::timeout(
                ms(50),
                TaskGroup::scope(async |tg| {
                    tg.add_task(xiio::task::try_finally(xiio::sleep(ms(1000)), async move {
                        xiio::sleep(ms(100)).await;
                        log.push("cleanup done");
                    }));
                    tg.add_task(async {
                        xiio::task::yield_now().await; // the other child waits first
                        panic_with("inner")
                    });
                    Ok::<_, ()>(())
                }),
            )))
            .await;
            (outcome.map(|r| format!("{r:?}")), since(start))
        })
    }));
    let (outcome, elapsed) = result.unwrap();
    let payload = outcome.expect_err("the panic was lost");
    assert_eq!(panic_message(&*payload), "inner");
    assert_eq!(cleanup_done.events(), ["cleanup done"]);
    assert_eq!(elapsed, ms(100), "resumed once the cleanup was done");
}

#[test]
fn a_group_cancelled_by_its_parent_while_it_holds_a_panic_passes_it_on() {
    // The inner group caught a child's panic (at 10 ms) and waits for
    // another child's cleanup (until 60 ms) when a sibling of the inner
    // group fails (at 20 ms) and the outer group cancels it. The panic
    // once vanished there and the outer group returned the sibling's
    // error; it now wins, once the cleanup is done.
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            let inner_log = log.clone();
            let outer = TaskGroup::scope(async |tg| {
                tg.add_task(TaskGroup::scope(async |inner| {
                    inner.add_task(xiio::task::try_finally(xiio::sleep(ms(1000)), async move {
                        xiio::sleep(ms(50)).await;
                        inner_log.push(format!("cleanup done at {:?}", since(start)));
                    }));
                    inner.add_task(async {
                        xiio::sleep(ms(10)).await;
                        panic_with("inner")
                    });
                    Ok::<_, &str>(())
                }));
                tg.add_task(async {
                    xiio::sleep(ms(20)).await;
                    Err::<(), _>("the sibling's error")
                });
                Ok::<_, &str>(())
            });
            outer.await
        })
    }));
    match result {
        Err(payload) => assert_eq!(panic_message(&*payload), "inner"),
        Ok(result) => panic!("the panic was lost: {result:?}"),
    }
    assert_eq!(log.events(), ["cleanup done at 60ms"]);
}

#[test]
fn a_timeout_that_drops_a_try_finally_holding_a_panic_passes_it_on() {
    // The body panics at once; its cleanup takes 100 ms; the deadline
    // passes at 50 ms and the timeout drops the `try_finally` mid-cleanup.
    // The timeout runs the cleanup to its end, then resumes the panic: it
    // does not return `Err(TimeoutError)` as if nothing had panicked.
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            let cleanup_log = log.clone();
            let timed = xiio::timeout(
                ms(50),
                xiio::task::try_finally(async { panic_with("the body") }, async move {
                    xiio::sleep(ms(100)).await;
                    cleanup_log.push(format!("cleanup done at {:?}", since(start)));
                }),
            );
            timed.await
        })
    }));
    match result {
        Err(payload) => assert_eq!(panic_message(&*payload), "the body"),
        Ok(result) => panic!("the panic was lost: {result:?}"),
    }
    assert_eq!(log.events(), ["cleanup done at 100ms"]);
}
