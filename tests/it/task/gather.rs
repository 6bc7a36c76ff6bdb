//! `xiio::task::gather`: run futures concurrently, values in input order.
//!
//! The Python original's tests, "gather".

use std::cell::Cell;
use std::convert::Infallible;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use futures::FutureExt;
use futures::future::LocalBoxFuture;

use crate::util::{DropFlag, Log, ms, panic_message, panic_with, run_mock, since, yield_now};

const HOUR: Duration = Duration::from_secs(3600);

type Boxed<'a, T, E> = LocalBoxFuture<'a, Result<T, E>>;

/// values of children that finish without waiting come back in order, at
/// once.
#[xiio::test(mock_clock)]
async fn gather_values_of_children_that_finish_without_waiting_come_back_in_order_at_once() {
    let start = xiio::time::now();
    let values = xiio::task::gather((0..5).map(|i| async move { Ok::<_, Infallible>(i * 10) }))
        .await
        .unwrap();
    assert_eq!(values, [0, 10, 20, 30, 40]);
    assert_eq!(since(start), ms(0));
}

#[xiio::test(mock_clock)]
async fn gather_of_nothing_is_an_empty_vec_at_once() {
    let start = xiio::time::now();
    let values: Vec<u8> = xiio::task::gather(Vec::<Boxed<'_, u8, Infallible>>::new())
        .await
        .unwrap();
    assert!(values.is_empty());
    assert_eq!(since(start), ms(0));
}

/// values come back in the order of the input, not of completion (200 ms
/// and 100 ms children: 200 ms total, `[1, 2]`).
#[xiio::test(mock_clock)]
async fn gather_values_come_back_in_the_order_of_the_input_not_of_completion() {
    let log = Log::new();
    let start = xiio::time::now();
    let values = xiio::task::gather([(1, 200), (2, 100)].map(|(value, delay)| {
        let log = &log;
        async move {
            xiio::sleep(ms(delay)).await;
            log.push(format!("{value} done"));
            Ok::<_, Infallible>(value)
        }
    }))
    .await
    .unwrap();
    assert_eq!(values, [1, 2]);
    assert_eq!(since(start), ms(200), "they ran concurrently");
    assert_eq!(log.events(), ["2 done", "1 done"], "completion order");
}

/// an error of one child is returned (after 200 ms when it fails at
/// 200 ms).
#[xiio::test(mock_clock)]
async fn gather_an_error_of_one_child_is_returned() {
    let start = xiio::time::now();
    let futs: Vec<Boxed<'_, u32, &str>> = vec![
        async {
            xiio::sleep(ms(100)).await;
            Ok(1)
        }
        .boxed_local(),
        async {
            xiio::sleep(ms(200)).await;
            Err("failed at 200 ms")
        }
        .boxed_local(),
    ];
    assert_eq!(xiio::task::gather(futs).await, Err("failed at 200 ms"));
    assert_eq!(since(start), ms(200));
}

/// an error cancels the others (a 200 ms child does not delay an error at
/// 100 ms).
#[xiio::test(mock_clock)]
async fn gather_an_error_cancels_the_others() {
    let dropped = DropFlag::new();
    let log = Log::new();
    let start = xiio::time::now();
    let futs: Vec<Boxed<'_, u32, &str>> = vec![
        async {
            let _guard = dropped.guard();
            xiio::sleep(ms(200)).await;
            log.push("200 ms child finished");
            Ok(1)
        }
        .boxed_local(),
        async {
            xiio::sleep(ms(100)).await;
            Err("failed at 100 ms")
        }
        .boxed_local(),
    ];
    assert_eq!(xiio::task::gather(futs).await, Err("failed at 100 ms"));
    assert_eq!(since(start), ms(100));
    assert!(dropped.is_set());
    assert!(log.events().is_empty());
}

/// cleanup of the others is awaited (a cancelled child whose cleanup sleeps
/// 200 ms, cancelled at 100 ms: 300 ms total).
#[xiio::test(mock_clock)]
async fn gather_cleanup_of_the_others_is_awaited() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let futs: Vec<Boxed<'_, u32, &str>> = vec![
        xiio::task::try_finally(
            async {
                xiio::sleep(HOUR).await;
                Ok(1)
            },
            async move {
                xiio::sleep(ms(200)).await;
                cleanup_log.push(format!("cleanup done at {:?}", since(start)));
            },
        )
        .boxed_local(),
        async {
            xiio::sleep(ms(100)).await;
            Err("failed at 100 ms")
        }
        .boxed_local(),
    ];
    assert_eq!(xiio::task::gather(futs).await, Err("failed at 100 ms"));
    assert_eq!(since(start), ms(300));
    assert_eq!(log.events(), ["cleanup done at 300ms"]);
}

/// errors raised during cancellation are lost; the first error is the one
/// returned.
#[xiio::test(mock_clock)]
async fn gather_errors_raised_during_cancellation_are_lost_the_first_error_is_returned() {
    let log = Log::new();
    let start = xiio::time::now();
    let cleanup_log = log.clone();
    let futs: Vec<Boxed<'_, u32, &str>> = vec![
        // Would fail later: cancelled before it can.
        async {
            xiio::sleep(ms(150)).await;
            log.push("second error raised");
            Err("second")
        }
        .boxed_local(),
        // Its cleanup meets an error during the cancellation (a cleanup
        // returns `()`, so the error goes nowhere): lost. (A *panic* in a
        // cleanup is never lost: it wins over the error, see
        // tests/hardening.rs.)
        xiio::task::try_finally(
            async {
                xiio::sleep(HOUR).await;
                Ok(2)
            },
            async move {
                xiio::sleep(ms(100)).await;
                let failed: Result<(), &str> = Err("error during cancellation");
                if failed.is_err() {
                    cleanup_log.push("cleanup fails");
                }
            },
        )
        .boxed_local(),
        async {
            xiio::sleep(ms(100)).await;
            Err("first")
        }
        .boxed_local(),
    ];
    assert_eq!(xiio::task::gather(futs).await, Err("first"));
    assert_eq!(since(start), ms(200), "after the failing cleanup");
    assert_eq!(log.events(), ["cleanup fails"]);
}

/// Of two errors at the same moment, the first polled is returned: in the
/// default order (not under `XIIO_SEED`, hence `run_mock`), the first in
/// the input.
#[test]
fn gather_two_errors_at_the_same_moment_the_first_is_returned() {
    run_mock(async {
        let start = xiio::time::now();
        let result = xiio::task::gather(["first", "second"].map(|name| async move {
            xiio::sleep(ms(100)).await;
            Err::<(), _>(name)
        }))
        .await;
        assert_eq!(result, Err("first"));
        assert_eq!(since(start), ms(100));
    });
}

/// a child's cleanup runs when the whole run is torn down while it waits.
#[test]
fn gather_a_childs_cleanup_runs_when_the_whole_run_is_torn_down_while_it_waits() {
    let log = Log::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_mock(async {
            let start = xiio::time::now();
            let cleanup_log = log.clone();
            let waiting: Vec<Boxed<'_, (), Infallible>> = vec![
                xiio::task::try_finally(
                    async {
                        let _guard = log.on_drop("child dropped");
                        xiio::sleep(HOUR).await;
                        Ok(())
                    },
                    async move {
                        xiio::sleep(ms(50)).await;
                        cleanup_log.push(format!("cleanup done at {:?}", since(start)));
                    },
                )
                .boxed_local(),
            ];
            // The gather waits; the rest of the run panics, tearing it down.
            futures::join!(xiio::task::gather(waiting), async {
                xiio::sleep(ms(100)).await;
                log.push("run torn down");
                panic_with("torn down");
            })
        })
    }));
    assert_eq!(panic_message(&*result.unwrap_err()), "torn down");
    assert_eq!(
        log.events(),
        ["run torn down", "child dropped", "cleanup done at 150ms"]
    );
}

#[xiio::test(mock_clock)]
async fn gather_a_panicking_child_is_resumed_after_the_others_are_cancelled() {
    let dropped = DropFlag::new();
    let start = xiio::time::now();
    let futs: Vec<Boxed<'_, (), Infallible>> = vec![
        async {
            let _guard = dropped.guard();
            xiio::sleep(HOUR).await;
            Ok(())
        }
        .boxed_local(),
        async {
            xiio::sleep(ms(100)).await;
            panic_with("gathered child panicked");
            Ok(())
        }
        .boxed_local(),
    ];
    let caught = AssertUnwindSafe(xiio::task::gather(futs))
        .catch_unwind()
        .await;
    assert_eq!(
        panic_message(&*caught.unwrap_err()),
        "gathered child panicked"
    );
    assert!(dropped.is_set());
    assert_eq!(since(start), ms(100));
}

#[xiio::test(mock_clock)]
async fn gather_children_may_borrow_locals_and_run_interleaved() {
    let log = Log::new();
    let names = [String::from("ada"), String::from("grace")];
    let lengths = xiio::task::gather(names.iter().map(|name| {
        let log = &log;
        async move {
            log.push(format!("{name} starts"));
            yield_now().await;
            log.push(format!("{name} ends"));
            Ok::<_, Infallible>(name.len())
        }
    }))
    .await
    .unwrap();
    assert_eq!(lengths, [3, 5]);
    // Interleaved: both started before either ended (in any order, so
    // that the test holds under every XIIO_SEED too).
    let events = log.events();
    let (starts, ends) = events.split_at(2);
    assert!(starts.iter().all(|e| e.ends_with("starts")), "{events:?}");
    assert!(ends.iter().all(|e| e.ends_with("ends")), "{events:?}");
}

#[test]
fn race_of_100_and_300_ms_whose_loser_has_a_50_ms_cleanup_returns_the_winner_at_150_ms() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        let log2 = log.clone();
        let runners: Vec<std::pin::Pin<Box<dyn Future<Output = u32>>>> = vec![
            Box::pin(async {
                xiio::sleep(ms(100)).await;
                1
            }),
            Box::pin(xiio::task::try_finally(
                async {
                    xiio::sleep(ms(300)).await;
                    2
                },
                async move {
                    xiio::sleep(ms(50)).await;
                    log2.push("loser cleaned up");
                },
            )),
        ];
        let winner = xiio::task::race(runners).await;
        assert_eq!(winner, 1);
        assert_eq!(since(start), ms(150));
    });
    assert_eq!(log.events(), ["loser cleaned up"]);
}

#[test]
fn race_ties_go_to_the_first_future() {
    run_mock(async {
        let first = xiio::task::race(["first", "second"].map(|name| async move {
            xiio::sleep(ms(10)).await;
            name
        }))
        .await;
        assert_eq!(first, "first");
    });
}

#[test]
#[should_panic(expected = "xiio::task::race needs at least one future")]
fn race_of_nothing_panics() {
    run_mock(xiio::task::race(Vec::<std::future::Ready<()>>::new()));
}

#[test]
fn ten_jobs_of_100_ms_with_a_limit_of_3_take_400_ms() {
    run_mock(async {
        let start = xiio::time::now();
        let running = Cell::new(0);
        let most = Cell::new(0);
        let jobs = (0..10).map(|i| {
            let (running, most) = (&running, &most);
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                xiio::sleep(ms(100)).await;
                running.set(running.get() - 1);
                Ok::<_, io::Error>(i * 2)
            }
        });
        let values = xiio::task::gather_limit(jobs, 3).await.unwrap();
        assert_eq!(values, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(since(start), ms(400));
        assert_eq!(most.get(), 3, "never more than 3 at once");
    });
}

// Regression: `gather_limit` started `n` workers however few futures
// there were: a limit of 10 M with 3 futures took 14 s and 2.6 GB, and
// `usize::MAX` aborted out of memory.
#[test]
fn gather_limit_far_above_the_work_starts_no_more_workers_than_futures() {
    run_mock(async {
        let jobs = || (0..3).map(|i| async move { Ok::<_, ()>(i) });
        assert_eq!(
            xiio::task::gather_limit(jobs(), usize::MAX).await,
            Ok(vec![0, 1, 2])
        );
        let jobs_tree = xiio::task_group!(|tg| {
            let limited = tg.add_task(xiio::task::gather_limit(
                (0..3).map(|_| xiio::sleep(ms(10)).map(Ok::<_, ()>)),
                10_000_000,
            ));
            yield_now().await; // the workers start and wait
            yield_now().await;
            let tree = xiio::testing::task_tree();
            Ok::<_, ()>((limited, tree))
        });
        let (limited, tree) = jobs_tree.unwrap();
        assert_eq!(limited.take().map(|v| v.len()), Some(3));
        let waiting = tree.matches("waits on a timer").count();
        assert_eq!(waiting, 3, "one worker per future:\n{tree}");
    });
}

#[test]
fn gather_limit_stops_at_the_first_error() {
    run_mock(async {
        let started = Cell::new(0);
        let jobs = (0..10).map(|i| {
            let started = &started;
            async move {
                started.set(started.get() + 1);
                xiio::sleep(ms(100)).await;
                if i == 4 { Err(i) } else { Ok(i) }
            }
        });
        assert_eq!(xiio::task::gather_limit(jobs, 2).await, Err(4));
        assert_eq!(started.get(), 6, "jobs 0-5 started; none after the error");
    });
}

#[test]
fn a_task_set_gives_children_in_the_order_they_finish() {
    run_mock(async {
        let start = xiio::time::now();
        xiio::task_group!(|tg| {
            let mut tasks = xiio::task::TaskSet::new();
            for (i, d) in [300, 100, 200].into_iter().enumerate() {
                tasks.push(tg.add_task(async move {
                    xiio::sleep(ms(d)).await;
                    Ok::<_, io::Error>(i)
                }));
            }
            let mut order = Vec::new();
            while let Some(task) = tasks.next_finished().await {
                order.push((task.take().unwrap(), since(start)));
            }
            assert_eq!(order, [(1, ms(100)), (2, ms(200)), (0, ms(300))]);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}
