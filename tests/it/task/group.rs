//! `xiio::TaskGroup` and `xiio::Task`: structured concurrency.
//!
//! The Python original's tests, "Task groups"; the eight properties (the
//! eighth, timeout, is in `time/timeout.rs`); per-child wakers; nesting.
//!
//! A long-running busy group keeps flat memory (property 5),
//! also when it holds more ready children than one turn of the run loop
//! polls (measured in a child process, whose memory is its own).

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use futures::FutureExt;
use xiio::sync::Promise;
use xiio::{Task, TaskGroup};

use crate::util;
use crate::util::{
    DropFlag, Log, Spin, counted, ms, panic_message, panic_with, run_mock, since, yield_now,
};

const HOUR: Duration = Duration::from_secs(3600);

/// The events of `log`, sorted: for events whose relative order the
/// semantics leave open (several tasks dropped at the same moment).
fn sorted(log: &Log) -> Vec<String> {
    let mut events = log.events();
    events.sort();
    events
}

// ===========================================================================
// The Python original's tests, "Task groups"
// ===========================================================================

/// tasks can be added while the group runs; a child that completes a
/// promise after 100 ms lets the body, awaiting that promise, finish at
/// 100 ms.
#[xiio::test(mock_clock)]
async fn tasks_can_be_added_while_the_group_runs_a_child_completing_a_promise_after_100ms_lets_the_body_finish_at_100ms()
 {
    let promise = Promise::new();
    let start = xiio::time::now();
    let (value, body_done) = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            promise.set("completed").unwrap();
        });
        let value = promise.wait().await;
        Ok::<_, Infallible>((value, since(start)))
    })
    .await
    .unwrap();
    assert_eq!(value, "completed");
    assert_eq!(body_done, ms(100));
    assert_eq!(since(start), ms(100), "and so does the group");
}

#[xiio::test(mock_clock)]
async fn tasks_can_be_added_while_the_group_runs_after_the_body_already_waited() {
    let promise = Promise::new();
    let start = xiio::time::now();
    let body_done = TaskGroup::scope(async |tg| {
        xiio::sleep(ms(50)).await;
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            promise.set(()).unwrap();
        });
        promise.wait().await;
        Ok::<_, Infallible>(since(start))
    })
    .await
    .unwrap();
    assert_eq!(body_done, ms(150));
}

/// an error in the body (the block) ends the group at once with that error
/// and cancels a child that sleeps 300 ms.
#[xiio::test(mock_clock)]
async fn an_error_in_the_body_ends_the_group_at_once_with_that_error_and_cancels_a_child_that_sleeps_300ms()
 {
    let dropped = DropFlag::new();
    let child_started = Cell::new(false);
    let child_finished = Cell::new(false);
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            child_started.set(true);
            let _guard = dropped.guard();
            xiio::sleep(ms(300)).await;
            child_finished.set(true);
        });
        xiio::sleep(ms(100)).await;
        Err::<(), _>("error in the body")
    })
    .await;
    assert_eq!(result, Err("error in the body"));
    assert_eq!(
        since(start),
        ms(100),
        "the group ends at once, not at 300 ms"
    );
    assert!(child_started.get());
    assert!(dropped.is_set(), "the child was dropped");
    assert!(!child_finished.get());
}

#[xiio::test(mock_clock)]
async fn an_error_in_the_body_before_any_await_ends_the_group_at_once() {
    let child_ran = Cell::new(false);
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            child_ran.set(true);
            xiio::sleep(ms(300)).await;
        });
        Err::<(), _>("at once")
    })
    .await;
    assert_eq!(result, Err("at once"));
    assert_eq!(since(start), ms(0));
    assert!(!child_ran.get(), "the child never started");
}

/// children start at the next pause of the body: after the body sleeps,
/// the child has run.
#[xiio::test(mock_clock)]
async fn children_start_at_the_next_pause_of_the_body() {
    let log = Log::new();
    TaskGroup::scope(async |tg| {
        tg.add_task(async { log.push("child runs") });
        log.push("body after add_task");
        xiio::sleep(ms(1)).await;
        log.push("body after sleep");
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(
        log.events(),
        ["body after add_task", "child runs", "body after sleep"]
    );
}

/// finished children are removed from the group (the group's live count
/// drops) while the body still runs.
#[xiio::test(mock_clock)]
async fn finished_children_are_removed_from_the_group_while_the_body_still_runs() {
    TaskGroup::scope(async |tg| {
        assert_eq!(tg.len(), 0);
        assert!(tg.is_empty());
        let a = tg.add_task(async {
            xiio::sleep(ms(10)).await;
            Ok(1)
        });
        let b = tg.add_task(async {
            xiio::sleep(ms(20)).await;
            Ok(2)
        });
        assert_eq!(tg.len(), 2);
        xiio::sleep(ms(15)).await;
        assert_eq!(tg.len(), 1, "the 10 ms child is gone");
        assert!(a.is_finished());
        assert!(!b.is_finished());
        assert_eq!(a.take(), Some(1));
        xiio::sleep(ms(10)).await;
        assert_eq!(tg.len(), 0);
        assert!(tg.is_empty());
        assert_eq!(b.take(), Some(2));
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
}

// ===========================================================================
// Task groups, property 1: when the group finishes, every child has
// finished (or been dropped).
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_1_when_the_group_finishes_every_child_has_finished() {
    let log = Log::new();
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        for delay in [100, 300, 200] {
            let log = &log;
            tg.add_task(async move {
                xiio::sleep(ms(delay)).await;
                log.push(format!("{delay} ms child done at {:?}", since(start)));
            });
        }
        // The body returns at once; the group still waits for them.
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(since(start), ms(300));
    assert_eq!(
        log.events(),
        [
            "100 ms child done at 100ms",
            "200 ms child done at 200ms",
            "300 ms child done at 300ms"
        ]
    );
}

#[xiio::test(mock_clock)]
async fn property_1_when_a_failed_group_finishes_every_child_has_finished_or_been_dropped() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(50)).await;
            log.push("A finished");
            Ok(())
        });
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            Err::<(), _>("B failed")
        });
        tg.add_task(async {
            let _guard = log.on_drop("C dropped");
            xiio::sleep(HOUR).await;
            Ok(())
        });
        let cleanup_log = log.clone();
        tg.add_task(xiio::task::try_finally(
            async {
                let _guard = log.on_drop("D dropped");
                xiio::sleep(HOUR).await;
                Ok(())
            },
            async move {
                xiio::sleep(ms(50)).await;
                cleanup_log.push(format!("D cleanup done at {:?}", since(start)));
            },
        ));
        Ok(())
    })
    .await;
    assert_eq!(result, Err::<(), _>("B failed"));
    assert_eq!(since(start), ms(150));
    assert_eq!(
        sorted(&log),
        [
            "A finished",
            "C dropped",
            "D cleanup done at 150ms",
            "D dropped"
        ]
    );
}

// ===========================================================================
// Property 2: a child added with `add_task` starts the next time the body
// (or whoever polls the group) awaits, not inside `add_task`.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_2_a_child_starts_at_the_bodys_next_await_not_inside_add_task() {
    let polls = Cell::new(0);
    let log = Log::new();
    TaskGroup::scope(async |tg| {
        let task = tg.add_task(counted(&polls, async {
            log.push("child");
            Ok(7)
        }));
        assert_eq!(polls.get(), 0, "add_task does not poll the child");
        assert!(!task.is_finished());
        log.push("body before await");
        yield_now().await;
        assert_eq!(polls.get(), 1);
        assert_eq!(task.take(), Some(7));
        log.push("body after await");
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(
        log.events(),
        ["body before await", "child", "body after await"]
    );
}

#[xiio::test(mock_clock)]
async fn property_2_a_child_added_by_a_child_starts_at_that_childs_next_await() {
    let log = Log::new();
    TaskGroup::scope(async |tg| {
        let tg2 = tg;
        let log = &log;
        tg.add_task(async move {
            tg2.add_task(async move { log.push("grandchild") });
            log.push("child before await");
            yield_now().await;
            log.push("child after await");
        });
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(
        log.events(),
        ["child before await", "grandchild", "child after await"]
    );
}

// ===========================================================================
// Property 3: the body is itself part of the group: children run while it
// is still running, and an error or `?` in the body cancels the children.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_3_the_body_and_its_children_run_together() {
    // Ping-pong between the body and a child: each waits for the other.
    let ping = Promise::new();
    let pong = Promise::new();
    let log = Log::new();
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        tg.add_task(async {
            let n: u32 = ping.wait().await;
            log.push(format!("child got {n}"));
            pong.set(n + 1).unwrap();
        });
        log.push("body sends 1");
        ping.set(1).unwrap();
        let n = pong.wait().await;
        log.push(format!("body got {n}"));
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(log.events(), ["body sends 1", "child got 1", "body got 2"]);
    assert_eq!(since(start), ms(0));
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse().map_err(|e| format!("bad port {text:?}: {e}"))
}

#[xiio::test(mock_clock)]
async fn property_3_a_question_mark_in_the_body_cancels_the_children() {
    let dropped = DropFlag::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            let _guard = dropped.guard();
            xiio::sleep(HOUR).await;
            Ok(())
        });
        xiio::sleep(ms(20)).await;
        let port = parse_port("eighty")?;
        Ok(port)
    })
    .await;
    assert_eq!(
        result,
        Err(String::from(
            "bad port \"eighty\": invalid digit found in string"
        ))
    );
    assert!(dropped.is_set());
    assert_eq!(since(start), ms(20));
}

#[test]
fn property_3_a_panic_in_the_body_cancels_the_children_then_is_resumed() {
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            TaskGroup::scope(async |tg| {
                let cleanup_log = log.clone();
                tg.add_task(xiio::task::try_finally(
                    async {
                        let _guard = log.on_drop("child dropped");
                        xiio::sleep(HOUR).await;
                    },
                    async move {
                        xiio::sleep(ms(50)).await;
                        cleanup_log.push(format!("child cleanup done at {:?}", since(start)));
                    },
                ));
                xiio::sleep(ms(100)).await;
                log.push("body panics");
                panic_with("body panicked");
                Ok::<_, Infallible>(())
            })
            .await
        })
    }));
    assert_eq!(panic_message(&*result.unwrap_err()), "body panicked");
    assert_eq!(
        log.events(),
        [
            "body panics",
            "child dropped",
            "child cleanup done at 150ms"
        ]
    );
}

// ===========================================================================
// Property 4: the first error (a child's or the body's `Err`, or a panic)
// cancels every other task; the group returns that first error (a panic is
// resumed after the cancellation is complete). Errors during cancellation
// are lost.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_4_the_first_error_cancels_every_other_task_and_is_returned() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(200)).await;
            log.push("second error raised");
            Err::<(), _>("second")
        });
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            Err::<(), _>("first")
        });
        tg.add_task(async {
            let _guard = log.on_drop("sleeper dropped");
            xiio::sleep(HOUR).await;
            Ok(())
        });
        let _guard = log.on_drop("body dropped");
        xiio::sleep(HOUR).await;
        log.push("body finished");
        Ok(())
    })
    .await;
    assert_eq!(result, Err::<(), _>("first"));
    assert_eq!(since(start), ms(100));
    assert_eq!(sorted(&log), ["body dropped", "sleeper dropped"]);
}

#[xiio::test(mock_clock)]
async fn property_4_of_errors_at_the_same_moment_only_the_first_is_returned() {
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        for name in ["first", "second", "third"] {
            tg.add_task(async move {
                xiio::sleep(ms(100)).await;
                Err::<(), _>(name)
            });
        }
        Ok(())
    })
    .await;
    // The timers fire in the order they were set, so the children fail in
    // that order; the first failure cancels the others.
    assert_eq!(result, Err::<(), _>("first"));
    assert_eq!(since(start), ms(100));
}

#[xiio::test(mock_clock)]
async fn property_4_errors_that_happen_during_cancellation_are_lost() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            Err::<(), _>("first")
        });
        // A cleanup whose own work fails while the group cancels: the
        // error does not reach the group. (A cleanup that *panics* is
        // another matter: a panic is never lost, it wins over the error;
        // see tests/hardening.rs.)
        let cleanup_log = log.clone();
        tg.add_task(xiio::task::try_finally(
            async {
                xiio::sleep(HOUR).await;
                Ok(())
            },
            async move {
                let failed = TaskGroup::scope(async |inner| {
                    inner.add_task(async {
                        xiio::sleep(ms(50)).await;
                        Err::<(), _>("lost during cancellation")
                    });
                    Ok(())
                })
                .await;
                cleanup_log.push(format!("cleanup got {failed:?} at {:?}", since(start)));
            },
        ));
        Ok(())
    })
    .await;
    assert_eq!(result, Err::<(), _>("first"));
    assert_eq!(since(start), ms(150), "the group waited for the cleanup");
    assert_eq!(
        log.events(),
        [r#"cleanup got Err("lost during cancellation") at 150ms"#]
    );
}

#[test]
fn property_4_a_panic_is_resumed_only_after_cancellation_and_cleanups_completed() {
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            TaskGroup::scope(async |tg| {
                let cleanup_log = log.clone();
                tg.add_task(xiio::task::try_finally(
                    async {
                        let _guard = log.on_drop("sibling dropped");
                        xiio::sleep(HOUR).await;
                    },
                    async move {
                        xiio::sleep(ms(200)).await;
                        cleanup_log.push(format!("cleanup done at {:?}", since(start)));
                    },
                ));
                tg.add_task(async {
                    xiio::sleep(ms(100)).await;
                    log.push("child panics");
                    panic_with("child panicked");
                });
                let _guard = log.on_drop("body dropped");
                xiio::sleep(HOUR).await;
                Ok::<_, Infallible>(())
            })
            .await
        })
    }));
    assert_eq!(panic_message(&*result.unwrap_err()), "child panicked");
    let events = log.events();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0], "child panics");
    let mut cancelled = events[1..3].to_vec();
    cancelled.sort();
    assert_eq!(cancelled, ["body dropped", "sibling dropped"]);
    assert_eq!(events[3], "cleanup done at 300ms", "the cleanup ran last");
}

#[xiio::test(mock_clock)]
async fn property_4_a_panic_is_resumed_only_after_cleanups_measured_in_virtual_time() {
    let start = xiio::time::now();
    let caught = AssertUnwindSafe(TaskGroup::scope(async |tg| {
        tg.add_task(xiio::task::try_finally(xiio::sleep(HOUR), async {
            xiio::sleep(ms(200)).await;
        }));
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            panic_with("child panicked");
        });
        Ok::<_, Infallible>(())
    }))
    .catch_unwind()
    .await;
    assert_eq!(panic_message(&*caught.unwrap_err()), "child panicked");
    assert_eq!(since(start), ms(300), "resumed after the 200 ms cleanup");
}

#[xiio::test(mock_clock)]
async fn property_4_an_error_after_a_panic_does_not_replace_the_panic() {
    let start = xiio::time::now();
    let caught = AssertUnwindSafe(TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            panic_with("first: a panic");
            Ok(())
        });
        tg.add_task(xiio::task::try_finally(
            async {
                xiio::sleep(HOUR).await;
                Ok(())
            },
            async {
                xiio::sleep(ms(10)).await;
            },
        ));
        // The body's timer is set after the children's, so at 100 ms the
        // panicking child runs first and the body is cancelled before its
        // error.
        yield_now().await;
        xiio::sleep(ms(100)).await;
        Err::<(), _>("second: an error")
    }))
    .catch_unwind()
    .await;
    let payload = caught.expect_err("the panic came first");
    assert_eq!(panic_message(&*payload), "first: a panic");
    assert_eq!(since(start), ms(110));
}

// ===========================================================================
// Property 5: a finished child is removed from the group at once; its value
// waits in its `Task<T>` handle.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_5_a_finished_child_is_removed_at_once_and_its_value_waits_in_its_task() {
    TaskGroup::scope(async |tg| {
        let task = tg.add_task(async { Ok(String::from("value")) });
        assert_eq!(tg.len(), 1);
        yield_now().await;
        assert_eq!(tg.len(), 0, "removed as soon as it finished");
        assert!(task.is_finished());
        assert!(!task.is_cancelled());
        assert_eq!(task.take().as_deref(), Some("value"));
        assert_eq!(task.take(), None, "taken once");
        assert!(task.is_finished());
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
}

#[xiio::test(mock_clock)]
async fn property_5_a_long_running_group_keeps_nothing_for_finished_children() {
    /// Counts live values.
    struct Value<'a>(&'a Cell<i64>);
    impl Drop for Value<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }
    let live = Cell::new(0i64);
    let max_len = Cell::new(0);
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        for _ in 0..10_000 {
            // The handle is dropped at once: nobody will take the value.
            drop(tg.add_task(async {
                live.set(live.get() + 1);
                let value = Value(&live);
                xiio::sleep(ms(1)).await;
                Ok(value)
            }));
            xiio::sleep(ms(1)).await;
            max_len.set(max_len.get().max(tg.len()));
        }
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(since(start), ms(10_000));
    assert!(max_len.get() <= 2, "at most two live children at a time");
    assert_eq!(live.get(), 0, "every value was dropped with its child");
}

// ===========================================================================
// Property 6: children can be added while the group runs, from the body or
// from other children.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_6_children_can_be_added_from_the_body_and_from_children() {
    let log = Log::new();
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        let log = &log;
        let tg_a = tg;
        tg.add_task(async move {
            xiio::sleep(ms(10)).await;
            log.push(format!("A at {:?}", since(start)));
            let tg_b = tg_a;
            tg_a.add_task(async move {
                xiio::sleep(ms(10)).await;
                log.push(format!("B at {:?}", since(start)));
                tg_b.add_task(async move {
                    xiio::sleep(ms(10)).await;
                    log.push(format!("C at {:?}", since(start)));
                });
            });
        });
        // The body returns at once; children added later by children still
        // belong to the group, which waits for them.
        log.push("body returns");
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert_eq!(since(start), ms(30));
    assert_eq!(
        log.events(),
        ["body returns", "A at 10ms", "B at 20ms", "C at 30ms"]
    );
}

#[xiio::test(mock_clock)]
async fn property_6_a_child_added_from_a_child_can_fail_the_group() {
    let dropped = DropFlag::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        let tg2 = tg;
        tg.add_task(async move {
            xiio::sleep(ms(10)).await;
            tg2.add_task(async {
                xiio::sleep(ms(10)).await;
                Err::<(), _>("grandchild failed")
            });
            Ok(())
        });
        let _guard = dropped.guard();
        xiio::sleep(HOUR).await;
        Ok(())
    })
    .await;
    assert_eq!(result, Err::<(), _>("grandchild failed"));
    assert_eq!(since(start), ms(20));
    assert!(dropped.is_set(), "the body was cancelled");
}

// ===========================================================================
// Property 7: cancellation is a drop at the task's current await point;
// `try_finally` cleanups run and the group waits for them; `task.cancel()`
// cancels one child.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn property_7_cancellation_is_a_drop_at_the_current_await_point() {
    let log = Log::new();
    let handle: RefCell<Option<Task<()>>> = RefCell::new(None);
    let result = TaskGroup::scope(async |tg| {
        *handle.borrow_mut() = Some(tg.add_task(async {
            log.push("child started");
            let _guard = log.on_drop("child's locals dropped");
            xiio::sleep(HOUR).await;
            log.push("child resumed after the await");
            Ok(())
        }));
        xiio::sleep(ms(100)).await;
        Err::<(), _>("cancel")
    })
    .await;
    assert_eq!(result, Err("cancel"));
    assert_eq!(log.events(), ["child started", "child's locals dropped"]);
    let task = handle.take().unwrap();
    assert!(task.is_finished());
    assert!(task.is_cancelled());
    assert_eq!(task.take(), None);
}

#[xiio::test(mock_clock)]
async fn property_7_the_group_waits_for_try_finally_cleanups_of_cancelled_children() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        for (name, cleanup_ms) in [("a", 200), ("b", 50)] {
            let cleanup_log = log.clone();
            tg.add_task(xiio::task::try_finally(
                async {
                    xiio::sleep(HOUR).await;
                    Ok(())
                },
                async move {
                    xiio::sleep(ms(cleanup_ms)).await;
                    cleanup_log.push(format!("{name} cleanup done at {:?}", since(start)));
                },
            ));
        }
        xiio::sleep(ms(100)).await;
        Err::<(), _>("cancel")
    })
    .await;
    assert_eq!(result, Err("cancel"));
    assert_eq!(since(start), ms(300), "100 ms, then the 200 ms cleanup");
    assert_eq!(
        log.events(),
        ["b cleanup done at 150ms", "a cleanup done at 300ms"]
    );
}

#[xiio::test(mock_clock)]
async fn property_7_try_finally_cleanup_runs_after_the_body_finishes_normally() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let value = xiio::task::try_finally(
        async {
            xiio::sleep(ms(10)).await;
            log.push("body done");
            42
        },
        async move {
            xiio::sleep(ms(5)).await;
            cleanup_log.push("cleanup done");
        },
    )
    .await;
    assert_eq!(value, 42);
    assert_eq!(since(start), ms(15), "the value comes after the cleanup");
    assert_eq!(log.events(), ["body done", "cleanup done"]);
}

#[xiio::test(mock_clock)]
async fn property_7_task_cancel_cancels_one_child_and_the_others_continue() {
    let log = Log::new();
    let start = xiio::time::now();
    let (a, b, c) = TaskGroup::scope(async |tg| {
        let cleanup_log = log.clone();
        let mut a = tg.add_task(xiio::task::try_finally(
            async {
                let _guard = log.on_drop("a dropped");
                xiio::sleep(HOUR).await;
                Ok("a")
            },
            async move {
                xiio::sleep(ms(50)).await;
                cleanup_log.push(format!("a cleanup done at {:?}", since(start)));
            },
        ));
        let b = tg.add_task(async {
            xiio::sleep(ms(200)).await;
            Ok("b")
        });
        xiio::sleep(ms(100)).await;
        a.cancel();
        // Awaiting the cancelled task gives None.
        assert_eq!((&mut a).await, None);
        assert!(a.is_cancelled());
        assert_eq!(since(start), ms(100));
        // The group goes on: new children, and the old ones.
        let c = tg.add_task(async {
            xiio::sleep(ms(10)).await;
            Ok("c")
        });
        Ok::<_, Infallible>((a, b, c))
    })
    .await
    .unwrap();
    assert_eq!(since(start), ms(200));
    assert_eq!(a.take(), None);
    assert!(a.is_cancelled());
    assert_eq!(b.take(), Some("b"));
    assert_eq!(c.take(), Some("c"));
    assert_eq!(log.events(), ["a dropped", "a cleanup done at 150ms"]);
}

#[xiio::test(mock_clock)]
async fn property_7_a_cancelled_childs_drop_may_wake_its_siblings() {
    /// Sets a promise when dropped.
    struct SetOnDrop<'a>(&'a Promise<&'static str>);
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.set("dropped").unwrap();
        }
    }
    let promise = Promise::new();
    let start = xiio::time::now();
    let heard = TaskGroup::scope(async |tg| {
        let victim = tg.add_task(async {
            let _guard = SetOnDrop(&promise);
            xiio::sleep(HOUR).await;
        });
        let listener = tg.add_task(async { Ok(promise.wait().await) });
        xiio::sleep(ms(10)).await;
        victim.cancel();
        Ok::<_, Infallible>(listener)
    })
    .await
    .unwrap();
    assert_eq!(heard.take(), Some("dropped"));
    assert_eq!(since(start), ms(10));
}

#[xiio::test(mock_clock)]
async fn property_7_task_cancel_before_the_child_started_means_it_never_runs() {
    let ran = Cell::new(false);
    TaskGroup::scope(async |tg| {
        let task = tg.add_task(async {
            ran.set(true);
            Ok(1)
        });
        task.cancel();
        yield_now().await;
        assert!(task.is_finished());
        assert!(task.is_cancelled());
        assert_eq!(task.await, None);
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
    assert!(!ran.get());
}

#[xiio::test(mock_clock)]
async fn property_7_task_cancel_of_a_finished_child_does_nothing() {
    TaskGroup::scope(async |tg| {
        let task = tg.add_task(async { Ok(5) });
        yield_now().await;
        task.cancel();
        yield_now().await;
        assert!(!task.is_cancelled());
        assert_eq!(task.take(), Some(5));
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
}

// ===========================================================================
// Task handles
// ===========================================================================

#[xiio::test(mock_clock)]
async fn task_await_gives_the_childs_value_when_it_finishes() {
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        let mut task = tg.add_task(async {
            xiio::sleep(ms(100)).await;
            Ok(String::from("result"))
        });
        assert_eq!((&mut task).await.as_deref(), Some("result"));
        assert_eq!(since(start), ms(100));
        assert_eq!(task.take(), None, "awaiting took the value");
        assert_eq!(task.await, None);
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
}

#[xiio::test(mock_clock)]
async fn task_of_a_failed_child_is_finished_but_not_cancelled() {
    let handle: RefCell<Option<Task<u32>>> = RefCell::new(None);
    let result = TaskGroup::scope(async |tg| {
        *handle.borrow_mut() = Some(tg.add_task(async {
            xiio::sleep(ms(10)).await;
            Err("failed")
        }));
        xiio::sleep(HOUR).await;
        Ok(())
    })
    .await;
    assert_eq!(result, Err("failed"));
    let task = handle.take().unwrap();
    assert!(task.is_finished());
    assert!(!task.is_cancelled());
    assert_eq!(task.take(), None);
}

// Regression: a child dropped before its first poll (here: a sibling fails in
// the same round, before the group got to it) once left its `Task` saying
// "running" forever, because the guard that reports a drop lived inside the
// child's async body, which never started.
#[xiio::test(mock_clock)]
async fn task_of_a_child_cancelled_before_it_started_reports_cancelled() {
    let handle: RefCell<Option<Task<u32>>> = RefCell::new(None);
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async { Err::<u32, _>("fails at once") });
        *handle.borrow_mut() = Some(tg.add_task(async {
            xiio::sleep(HOUR).await;
            Ok(1)
        }));
        Ok(())
    })
    .await;
    assert_eq!(result, Err("fails at once"));
    let task = handle.take().unwrap();
    assert!(
        task.is_finished(),
        "the child was dropped, so it is finished: {task:?}"
    );
    assert!(task.is_cancelled(), "{task:?}");
    let start = xiio::time::now();
    assert_eq!(
        xiio::timeout(ms(100), task).await,
        Ok(None),
        "awaiting it returns at once"
    );
    assert_eq!(since(start), ms(0));
}

// Regression, same cause: a task added while its group is cancelling is
// dropped without running, and its handle must say so.
#[xiio::test(mock_clock)]
async fn task_added_while_the_group_is_cancelling_reports_cancelled() {
    /// Adds a task to the group when dropped: while the group cancels.
    struct AddOnDrop<'s, 'e>(
        &'s TaskGroup<'s, 'e, &'static str>,
        &'e RefCell<Option<Task<()>>>,
    );
    impl Drop for AddOnDrop<'_, '_> {
        fn drop(&mut self) {
            let task = self.0.add_task(async { panic_with("never runs") });
            *self.1.borrow_mut() = Some(task);
        }
    }
    let late = RefCell::new(None);
    let result = TaskGroup::scope(async |tg| {
        let late = &late;
        tg.add_task(async move {
            let _adds = AddOnDrop(tg, late);
            xiio::sleep(HOUR).await;
        });
        xiio::sleep(ms(10)).await;
        Err::<(), _>("cancel")
    })
    .await;
    assert_eq!(result, Err("cancel"));
    let task = late.take().expect("the cleanup ran");
    assert!(task.is_finished(), "{task:?}");
    assert!(task.is_cancelled(), "{task:?}");
}

// ===========================================================================
// Per-child wakers: waking one child polls that child only; an always-ready
// child starves nobody.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn waking_one_of_100000_pending_children_polls_only_that_child() {
    const N: usize = 100_000;
    const BY_PROMISE: usize = 54_321;
    const BY_TIMER: usize = 12_345;
    let promises: Vec<Promise<()>> = (0..N).map(|_| Promise::new()).collect();
    let polls: Vec<Cell<u64>> = (0..N).map(|_| Cell::new(0)).collect();
    let total = |polls: &[Cell<u64>]| polls.iter().map(Cell::get).sum::<u64>();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        for (i, (promise, polls)) in promises.iter().zip(&polls).enumerate() {
            if i == BY_TIMER {
                tg.add_task(counted(polls, xiio::sleep(ms(5))));
            } else {
                tg.add_task(counted(polls, promise.wait()));
            }
        }
        yield_now().await;
        assert!(
            polls.iter().all(|p| p.get() == 1),
            "every child was polled once to start"
        );

        // A timer wakes one child.
        xiio::sleep(ms(10)).await;
        assert_eq!(since(start), ms(10));
        assert_eq!(polls[BY_TIMER].get(), 2);
        assert_eq!(total(&polls), N as u64 + 1, "no other child was polled");
        assert_eq!(tg.len(), N - 1);

        // Another task (here the body) wakes one child.
        promises[BY_PROMISE].set(()).unwrap();
        yield_now().await;
        assert_eq!(polls[BY_PROMISE].get(), 2);
        assert_eq!(total(&polls), N as u64 + 2, "no other child was polled");
        assert_eq!(tg.len(), N - 2);

        // Waking one child several times polls it once.
        Err::<(), _>("done")
    })
    .await;
    assert_eq!(result, Err("done"));
}

#[xiio::test(mock_clock)]
async fn waking_one_child_many_times_before_it_runs_polls_it_once() {
    let polls = Cell::new(0);
    let waker: RefCell<Option<std::task::Waker>> = RefCell::new(None);
    TaskGroup::scope(async |tg| {
        let mut first = true;
        let waker = &waker;
        let task = tg.add_task(counted(
            &polls,
            std::future::poll_fn(move |cx| {
                if first {
                    first = false;
                    *waker.borrow_mut() = Some(cx.waker().clone());
                    std::task::Poll::Pending
                } else {
                    std::task::Poll::Ready(Ok(()))
                }
            }),
        ));
        yield_now().await;
        assert_eq!(polls.get(), 1);
        let w = waker.take().unwrap();
        for _ in 0..1000 {
            w.wake_by_ref();
        }
        yield_now().await;
        assert!(task.is_finished());
        assert_eq!(polls.get(), 2, "a thousand wakes, one poll");
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
}

/// A group reuses the wakers of finished children, but only one nobody
/// else holds: a waker kept after its child finished must never wake the
/// child that got the finished one's slot, nor leave the next child
/// without a waker that works.
#[xiio::test(mock_clock)]
async fn a_waker_kept_after_its_child_finished_never_wakes_a_later_child() {
    let kept: RefCell<Option<std::task::Waker>> = RefCell::new(None);
    let (first_polls, later_polls) = (Cell::new(0), Cell::new(0));
    TaskGroup::scope(async |tg| {
        let kept = &kept;
        // Finishes at its second poll, keeping a clone of its waker.
        let mut waited = false;
        tg.add_task(counted(
            &first_polls,
            std::future::poll_fn(move |cx| {
                if std::mem::replace(&mut waited, true) {
                    return std::task::Poll::Ready(Ok(()));
                }
                *kept.borrow_mut() = Some(cx.waker().clone());
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }),
        ));
        yield_now().await;
        yield_now().await;
        assert_eq!((first_polls.get(), tg.len()), (2, 0));
        // Children that finish at once return their (unshared) wakers to
        // the group's pool; the later child takes one of them, or a new
        // one, but never the kept one.
        for _ in 0..4 {
            tg.add_task(async { Ok(()) });
        }
        let later = Promise::new();
        let waiting = later.clone();
        tg.add_task(counted(&later_polls, async move {
            waiting.wait().await;
            Ok(())
        }));
        yield_now().await;
        assert_eq!(later_polls.get(), 1);
        kept.take().unwrap().wake();
        yield_now().await;
        yield_now().await;
        assert_eq!(later_polls.get(), 1, "a stale waker polled a later child");
        later.set(()).unwrap();
        yield_now().await;
        assert_eq!((later_polls.get(), tg.len()), (2, 0));
        Ok::<_, Infallible>(())
    })
    .await
    .unwrap();
}

#[xiio::test]
async fn an_always_ready_child_does_not_starve_its_siblings_or_the_body() {
    // Real clock: on the mock clock, time stands still while a task can
    // run, so a body sleep next to a spinner would never end (by design).
    let spins = Cell::new(0);
    let sibling_done = Cell::new(None);
    let start = Instant::now();
    let spinner = TaskGroup::scope(async |tg| {
        let spinner = tg.add_task(Spin(&spins));
        tg.add_task(async {
            xiio::sleep(ms(5)).await;
            sibling_done.set(Some(start.elapsed()));
        });
        xiio::sleep(ms(20)).await;
        let elapsed = start.elapsed();
        assert!(elapsed >= ms(20), "the body slept {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(10),
            "the body slept {elapsed:?}"
        );
        let sibling = sibling_done.get().expect("the sibling finished");
        assert!(sibling >= ms(5), "{sibling:?}");
        assert!(!spinner.is_finished());
        assert!(spins.get() >= 2, "the spinner spun: {}", spins.get());
        spinner.cancel();
        Ok::<_, Infallible>(spinner)
    })
    .await
    .unwrap();
    assert!(spinner.is_cancelled());
}

#[xiio::test(mock_clock)]
async fn an_always_ready_child_does_not_starve_fd_readiness_and_time_stands_still() -> io::Result<()>
{
    let (reader, writer) = io::pipe()?;
    let spins = Cell::new(0);
    let start = xiio::time::now();
    TaskGroup::scope(async |tg| {
        let spinner = tg.add_task(Spin(&spins));
        tg.add_task(async {
            yield_now().await;
            xiio::io::write_all(&writer, b"through the reactor").await
        });
        // The pipe is empty: the body waits on the reactor for the sibling's
        // write while the spinner keeps the runtime busy.
        let mut buf = [0; 64];
        let n = xiio::io::read(&reader, &mut buf).await?;
        assert_eq!(&buf[..n], b"through the reactor");
        assert!(spins.get() > 0);
        assert_eq!(
            since(start),
            ms(0),
            "time stands still while a task can run"
        );
        spinner.cancel();
        Ok::<_, io::Error>(())
    })
    .await
}

// ===========================================================================
// Nesting: groups in groups, in children, in cleanups.
// ===========================================================================

#[xiio::test(mock_clock)]
async fn nested_groups_an_inner_failure_is_a_value_for_the_outer_group() {
    let dropped = DropFlag::new();
    let start = xiio::time::now();
    let (inner, sibling) = TaskGroup::scope(async |outer| {
        let sibling = outer.add_task(async {
            xiio::sleep(ms(300)).await;
            Ok(2)
        });
        let inner = TaskGroup::scope(async |inner| {
            inner.add_task(async {
                xiio::sleep(ms(100)).await;
                Err::<(), _>("inner failed")
            });
            inner.add_task(async {
                let _guard = dropped.guard();
                xiio::sleep(HOUR).await;
                Ok(())
            });
            Ok(())
        })
        .await;
        assert_eq!(since(start), ms(100));
        Ok::<_, Infallible>((inner, sibling))
    })
    .await
    .unwrap();
    assert_eq!(inner, Err::<(), _>("inner failed"));
    assert!(dropped.is_set(), "the inner sibling was cancelled");
    assert_eq!(sibling.take(), Some(2), "the outer sibling was not");
    assert_eq!(since(start), ms(300));
}

#[xiio::test(mock_clock)]
async fn nested_groups_an_inner_error_propagated_with_question_mark_fails_the_outer() {
    let dropped = DropFlag::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |outer| {
        outer.add_task(async {
            let _guard = dropped.guard();
            xiio::sleep(HOUR).await;
            Ok(())
        });
        TaskGroup::scope(async |inner| {
            inner.add_task(async {
                xiio::sleep(ms(100)).await;
                Err::<(), _>("inner failed")
            });
            Ok(())
        })
        .await?;
        Ok(())
    })
    .await;
    assert_eq!(result, Err::<(), _>("inner failed"));
    assert!(dropped.is_set());
    assert_eq!(since(start), ms(100));
}

#[xiio::test(mock_clock)]
async fn nested_groups_outer_cancellation_drops_inner_children_and_awaits_their_cleanups() {
    let log = Log::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |outer| {
        outer.add_task(async {
            TaskGroup::scope(async |inner| {
                for name in ["x", "y"] {
                    let log = &log;
                    let cleanup_log = log.clone();
                    inner.add_task(xiio::task::try_finally(
                        async move {
                            let _guard = log.on_drop(format!("{name} dropped"));
                            xiio::sleep(HOUR).await;
                            Ok(())
                        },
                        async move {
                            xiio::sleep(ms(50)).await;
                            cleanup_log.push(format!("{name} cleanup done at {:?}", since(start)));
                        },
                    ));
                }
                xiio::sleep(HOUR).await;
                Ok(())
            })
            .await
        });
        xiio::sleep(ms(100)).await;
        Err::<(), _>("outer failed")
    })
    .await;
    assert_eq!(result, Err::<(), _>("outer failed"));
    assert_eq!(since(start), ms(150));
    assert_eq!(
        sorted(&log),
        [
            "x cleanup done at 150ms",
            "x dropped",
            "y cleanup done at 150ms",
            "y dropped"
        ]
    );
}

#[xiio::test(mock_clock)]
async fn a_group_inside_a_child() {
    let start = xiio::time::now();
    let total = TaskGroup::scope(async |tg| {
        let mut sum = tg.add_task(async {
            let (a, b) = TaskGroup::scope(async |inner| {
                let a = inner.add_task(async {
                    xiio::sleep(ms(100)).await;
                    Ok(1)
                });
                let b = inner.add_task(async {
                    xiio::sleep(ms(200)).await;
                    Ok(2)
                });
                Ok::<_, Infallible>((a, b))
            })
            .await?;
            Ok(a.take().unwrap() + b.take().unwrap())
        });
        Ok::<_, Infallible>((&mut sum).await)
    })
    .await
    .unwrap();
    assert_eq!(total, Some(3));
    assert_eq!(since(start), ms(200));
}

#[xiio::test(mock_clock)]
async fn a_group_inside_a_try_finally_cleanup() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let result = xiio::timeout(
        ms(100),
        xiio::task::try_finally(xiio::sleep(HOUR), async move {
            let log = &cleanup_log;
            TaskGroup::scope(async |tg| {
                for (name, delay) in [("first", 50), ("second", 30)] {
                    tg.add_task(async move {
                        xiio::sleep(ms(delay)).await;
                        log.push(format!("{name} at {:?}", since(start)));
                    });
                }
                Ok::<_, Infallible>(())
            })
            .await
            .unwrap();
            log.push(format!("cleanup done at {:?}", since(start)));
        }),
    )
    .await;
    assert_eq!(result, Err(xiio::time::TimeoutError));
    assert_eq!(since(start), ms(150));
    assert_eq!(
        log.events(),
        ["second at 130ms", "first at 150ms", "cleanup done at 150ms"]
    );
}

/// This process's resident anonymous memory (heap and stacks, not the
/// pages of the test binary), in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Set in the child process of the memory test.
const FLAT_MEMORY_CHILD: &str = "XIIO_FLAT_MEMORY_CHILD";

#[test]
fn a_group_with_more_ready_children_than_a_turn_polls_keeps_flat_memory() {
    // The other tests of this binary allocate meanwhile: measure in a
    // process of its own.
    util::assert_ignored_child_passes(
        FLAT_MEMORY_CHILD,
        "task::group::flat_memory_child",
        std::time::Duration::from_secs(60),
        "1 passed",
    );
}

#[test]
#[ignore = "run by a_group_with_more_ready_children_..., in a process of its own"]
fn flat_memory_child() {
    if std::env::var_os(FLAT_MEMORY_CHILD).is_none() {
        return; // run by hand with --ignored: nothing to do outside the child
    }
    xiio::run(async {
        let polls = Cell::new(0);
        xiio::task_group!(|tg| {
            // 300 children that are always ready: more than one turn's
            // budget (256 polls).
            let spinners: Vec<_> = (0..300).map(|_| tg.add_task(Spin(&polls))).collect();
            let mut before = 0;
            while polls.get() < 3_000_000 {
                if before == 0 && polls.get() > 300_000 {
                    before = rss(); // after warm-up
                }
                xiio::task::yield_now().await;
            }
            let grown = rss().saturating_sub(before);
            // Before the fix: about 8 bytes per child poll, 20 MB here.
            assert!(
                grown < 4 << 20,
                "memory grew by {grown} bytes in 2.7M child polls"
            );
            spinners.iter().for_each(|s| s.cancel());
            Ok::<_, std::io::Error>(())
        })
    })
    .unwrap();
}

#[test]
fn a_group_with_a_forever_heartbeat_ends_when_the_body_cancels_it_and_its_cleanup_ran() {
    let log = Log::new();
    let beats = Cell::new(0);
    run_mock(async {
        let start = xiio::time::now();
        let value = xiio::task_group!(|tg| {
            let heartbeat = {
                let log = log.clone();
                let beats = &beats;
                tg.add_task(xiio::task::try_finally(
                    async move {
                        loop {
                            xiio::sleep(ms(100)).await;
                            beats.set(beats.get() + 1);
                        }
                    },
                    async move {
                        xiio::sleep(ms(30)).await;
                        log.push("heartbeat stopped");
                    },
                ))
            };
            xiio::sleep(ms(250)).await;
            tg.cancel();
            assert!(heartbeat.is_cancelled());
            Ok::<_, io::Error>("done")
        })
        .unwrap();
        assert_eq!(value, "done");
        assert_eq!(
            since(start),
            ms(280),
            "cancelled at 250 ms, cleanup of 30 ms"
        );
    });
    assert_eq!(beats.get(), 2);
    assert_eq!(log.events(), ["heartbeat stopped"]);
}

#[test]
fn cancel_called_from_a_child_cancels_the_children_but_not_the_body() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        let value = xiio::task_group!(|tg| {
            let tg2 = tg;
            let log2 = log.clone();
            tg.add_task(async move {
                xiio::sleep(ms(50)).await;
                tg2.cancel();
                log2.push("the caller goes on until its next await");
                xiio::sleep(ms(1)).await;
                log2.push("never: the caller is cancelled too");
            });
            let sleeper = tg.add_task(xiio::sleep(ms(1000)));
            xiio::sleep(ms(200)).await; // the body is not cancelled
            assert!(sleeper.is_cancelled());
            log.push("body done");
            Ok::<_, io::Error>(7)
        })
        .unwrap();
        assert_eq!(value, 7);
        assert_eq!(since(start), ms(200));
    });
    assert_eq!(
        log.events(),
        ["the caller goes on until its next await", "body done"]
    );
}

#[test]
fn background_children_are_cancelled_once_the_body_and_the_other_children_are_done() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        xiio::task_group!(|tg| {
            let log2 = log.clone();
            tg.add_background(xiio::task::try_finally(
                std::future::pending::<()>(),
                async move {
                    log2.push("background cleanup");
                },
            ));
            let log3 = log.clone();
            tg.add_task(async move {
                xiio::sleep(ms(300)).await; // a foreground child outlives the body
                log3.push("foreground done");
            });
            xiio::sleep(ms(100)).await;
            Ok::<_, io::Error>(())
        })
        .unwrap();
        assert_eq!(since(start), ms(300));
    });
    assert_eq!(log.events(), ["foreground done", "background cleanup"]);
}

#[test]
fn a_child_that_loops_for_ever_is_a_task_too() {
    // `async { loop { ... } }` has type `!`, which a group accepts.
    run_mock(async {
        let ticks = Cell::new(0);
        xiio::task_group!(|tg| {
            let ticker = tg.add_task(async {
                loop {
                    xiio::sleep(ms(10)).await;
                    ticks.set(ticks.get() + 1);
                }
            });
            xiio::sleep(ms(55)).await;
            ticker.cancel();
            Ok::<_, io::Error>(())
        })
        .unwrap();
        assert_eq!(ticks.get(), 5);
    });
}

// ---------------------------------------------------------------------------
// Adding to a group that has finished panics and says what to do.
// ---------------------------------------------------------------------------
