//! `xiio::try_finally`: async cleanup that runs whether the body finished,
//! failed, panicked or was cancelled, and that is never cancelled itself
//! (DESIGN.md §4, property 7).

mod util;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use xiio::{TaskGroup, TimeoutError};

use util::{Log, ms, panic_message, panic_with, run_mock, since};

const HOUR: Duration = Duration::from_secs(3600);

#[xiio::test(mock_clock)]
async fn try_finally_cleanup_runs_when_the_body_panics_and_the_panic_follows_it() {
    let log = Log::new();
    let start = xiio::now();
    let cleanup_log = log.clone();
    let caught = AssertUnwindSafe(TaskGroup::scope(async |tg| {
        tg.add_task(xiio::try_finally(
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
    let start = xiio::now();
    let cleanup_log = log.clone();
    TaskGroup::scope(async |tg| {
        // The body is done at once; the cleanup then runs inline for 100 ms.
        let task = tg.add_task(xiio::try_finally(async { Ok(1) }, async move {
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
    let start = xiio::now();
    let cleanup_log = log.clone();
    let result = xiio::timeout(
        ms(50),
        xiio::try_finally(async { "body done" }, async move {
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
    let start = xiio::now();
    let result = TaskGroup::scope(async |outer| {
        outer.add_task(async {
            // The inner group fails at 10 ms and runs A's cleanup until
            // 110 ms ...
            TaskGroup::scope(async |inner| {
                let cleanup_log = log.clone();
                inner.add_task(xiio::try_finally(
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
    let start = xiio::now();
    let outer_log = log.clone();
    let result = xiio::timeout(
        ms(100),
        xiio::try_finally(xiio::sleep(HOUR), async move {
            // The cleanup times out an operation of its own, which has a
            // cleanup of its own.
            let inner_log = outer_log.clone();
            let inner = xiio::timeout(
                ms(10),
                xiio::try_finally(xiio::sleep(HOUR), async move {
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
    let start = xiio::now();
    let cleanup_log = log.clone();
    let result: Result<u32, String> = xiio::try_finally(
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
        xiio::try_finally(
            xiio::try_finally(xiio::sleep(HOUR), async move {
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
