//! No lost cleanup, no lost panic: the faults that adversarial testing
//! found, each reproduced by a test, and the rule for panics during
//! cancellation: the first panic wins over errors and is resumed once every
//! cleanup is done.

mod util;

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::mpsc;
use std::time::Duration;

use futures::FutureExt;

use util::{Log, ms, panic_message, panic_with, run_mock, since};

/// Runs `f` on a thread of its own and fails (instead of hanging the
/// suite) if it has not finished after 10 s of real time.
fn within_10_s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("still running after 10 s: hung")
}

#[test]
fn a_try_finally_whose_body_panics_awaits_its_cleanup_before_the_panic_leaves() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::now();
        let log2 = log.clone();
        let caught = AssertUnwindSafe(xiio::try_finally(
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
    let caught = within_10_s(|| {
        xiio::run(async {
            let caught = AssertUnwindSafe(xiio::try_finally(async {}, async {
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
            tg.add_task(xiio::try_finally(
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
                tg.add_task(xiio::try_finally(std::future::pending::<()>(), async {
                    xiio::sleep(ms(10)).await;
                    panic_with("a cleanup panicked");
                }));
                tg.add_task(xiio::try_finally(
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
fn a_thread_pool_job_polled_once_and_awaited_later_does_not_freeze_the_mock_clock() {
    // Before: the job's future counted as outside work for as long as it
    // existed, so once the job was done the clock never moved again and
    // the sleep below hung.
    let elapsed = within_10_s(|| {
        run_mock(async {
            let pool = xiio::ThreadPool::new(1);
            let start = xiio::now();
            let mut job = pin!(pool.run(|| {
                std::thread::sleep(ms(20));
                21 * 2
            }));
            assert!(futures::poll!(job.as_mut()).is_pending()); // started
            std::thread::sleep(ms(200)); // it finishes on its worker meanwhile
            xiio::sleep(ms(100)).await;
            assert_eq!(job.await, 42);
            since(start)
        })
    });
    assert_eq!(elapsed, ms(100));
}

#[test]
fn a_child_process_polled_once_and_awaited_later_does_not_freeze_the_mock_clock() {
    let elapsed = within_10_s(|| {
        run_mock(async {
            let start = xiio::now();
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("0.05");
            let mut child = pin!(xiio::run_process(&mut cmd));
            assert!(futures::poll!(child.as_mut()).is_pending()); // spawned
            std::thread::sleep(ms(300)); // it exits meanwhile
            xiio::sleep(ms(100)).await;
            assert!(child.await.unwrap().status.success());
            since(start)
        })
    });
    assert_eq!(elapsed, ms(100));
}
