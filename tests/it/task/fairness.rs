//! Fairness: a task whose operations never wait still yields, so its
//! siblings, timers and timeouts keep running.

use std::cell::Cell;
use std::fs::File;
use std::io::Write;
use std::time::Duration;

use xiio::net::UnixStream;
use xiio::sync::Promise;

use crate::util::{self, ms};

/// The most operations that complete at once one poll of a task makes
/// before it yields (tokio's cooperative budget is the same size).
const OP_BUDGET: usize = 128;

/// Runs `body`, which makes `ops` operations that complete at once and
/// counts them in `done`, beside a sibling added first: how many `body`
/// had made when the sibling first ran.
async fn sibling_runs_after(done: &Cell<usize>, body: impl AsyncFnOnce()) -> usize {
    let ran_at = Cell::new(None);
    xiio::task_group!(|tg| {
        tg.add_task(async { ran_at.set(Some(done.get())) });
        body().await;
        Ok::<_, ()>(())
    })
    .unwrap();
    ran_at.get().expect("the sibling ran")
}

// Regression: a loop of reads of an always-ready file never returned
// `Pending`, so the sibling ran only after all 100,000 reads.
#[xiio::test(mock_clock)]
async fn a_loop_of_file_reads_that_never_wait_lets_its_sibling_run() {
    let zero = File::open("/dev/zero").unwrap();
    let reads = Cell::new(0);
    let ran_at = sibling_runs_after(&reads, async || {
        let mut buf = [1; 64];
        while reads.get() < 100_000 {
            assert_eq!(xiio::io::read(&zero, &mut buf).await.unwrap(), 64);
            reads.set(reads.get() + 1);
        }
    })
    .await;
    assert!(ran_at <= OP_BUDGET, "the sibling ran after {ran_at} reads");
}

/// The same with a socket that never runs dry within the loop (its peer
/// wrote a megabyte first), read through the owning wrapper.
#[xiio::test(mock_clock)]
async fn a_loop_of_socket_reads_that_never_wait_lets_its_sibling_run() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let writer = std::thread::spawn(move || {
        let mut b = b;
        let _ = b.write_all(&vec![7; 1 << 20]);
    });
    let a = UnixStream::from_std(a).unwrap();
    // Let the socket buffer fill before the loop starts.
    std::thread::sleep(Duration::from_millis(50));
    let reads = Cell::new(0);
    let ran_at = sibling_runs_after(&reads, async || {
        let mut buf = [0; 16];
        while reads.get() < 1_000 {
            assert!(a.read(&mut buf).await.unwrap() > 0);
            reads.set(reads.get() + 1);
        }
    })
    .await;
    assert!(ran_at <= OP_BUDGET, "the sibling ran after {ran_at} reads");
    drop(a);
    writer.join().unwrap();
}

/// And with waits on a promise that is already set.
#[xiio::test(mock_clock)]
async fn a_loop_of_waits_on_a_set_promise_lets_its_sibling_run() {
    let promise = Promise::new();
    promise.set(5).unwrap();
    let waits = Cell::new(0);
    let ran_at = sibling_runs_after(&waits, async || {
        while waits.get() < 10_000 {
            assert_eq!(promise.wait().await, 5);
            waits.set(waits.get() + 1);
        }
    })
    .await;
    assert!(ran_at <= OP_BUDGET, "the sibling ran after {ran_at} waits");
}

/// The budget is per poll of a task: a task that runs a group gets its own
/// budget back after the group's children spent theirs.
#[xiio::test(mock_clock)]
async fn a_group_inside_a_task_does_not_spend_the_tasks_budget() {
    let zero = File::open("/dev/zero").unwrap();
    let reads = Cell::new(0);
    let ran_at = sibling_runs_after(&reads, async || {
        let mut buf = [0; 8];
        let mut read = async || {
            xiio::io::read(&zero, &mut buf).await.unwrap();
            reads.set(reads.get() + 1);
        };
        for _ in 0..100 {
            read().await;
        }
        // A child that makes 120 reads, on a budget of its own.
        xiio::task_group!(|tg| {
            tg.add_task(async {
                let mut buf = [0; 8];
                for _ in 0..120 {
                    xiio::io::read(&zero, &mut buf).await.unwrap();
                }
            });
            Ok::<_, ()>(())
        })
        .unwrap();
        // 100 + 20 stay within this task's budget: no forced yield, so
        // the sibling runs only once the task is done.
        for _ in 0..20 {
            read().await;
        }
    })
    .await;
    assert_eq!(ran_at, 120);
}

const CHILD: &str = "XIIO_TEST_FAIRNESS_CHILD";

// Regression, on the real clock: a `timeout` around a loop of reads of an
// always-ready file never fired, and a 10 ms ticker beside it never
// ticked; the loop ran for ever. It runs in a child process killed after a
// deadline, so the bug, if it came back, fails the test instead of hanging
// the suite.
#[test]
fn a_timeout_fires_and_a_ticker_ticks_beside_a_loop_that_never_waits() {
    util::assert_ignored_child_passes(
        CHILD,
        "task::fairness::child_timeout_around_an_endless_read_loop",
        Duration::from_secs(30),
        "timed out after",
    );
}

/// Runs in a child process (see the test above); does nothing otherwise.
#[test]
#[ignore = "run by a_timeout_fires_and_a_ticker_ticks_beside_a_loop_that_never_waits"]
fn child_timeout_around_an_endless_read_loop() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let zero = File::open("/dev/zero").unwrap();
    let ticks = Cell::new(0);
    let reads = Cell::new(0_u64);
    xiio::run(async {
        let start = std::time::Instant::now();
        let result = xiio::task_group!(|tg| {
            tg.add_background(async {
                let mut interval = xiio::time::interval(ms(10));
                loop {
                    interval.tick().await;
                    ticks.set(ticks.get() + 1);
                }
            });
            let endless = async {
                let mut buf = [0; 4096];
                loop {
                    xiio::io::read(&zero, &mut buf).await.unwrap();
                    reads.set(reads.get() + 1);
                }
            };
            Ok::<_, ()>(xiio::timeout(ms(100), endless).await)
        })
        .unwrap();
        assert!(result.is_err());
        println!(
            "timed out after {:?}, {} reads, {} ticks of a 10 ms ticker",
            start.elapsed(),
            reads.get(),
            ticks.get()
        );
        // About 10 on an idle machine; before the operation budget, none.
        assert!(ticks.get() >= 3, "the ticker ticked {} times", ticks.get());
    });
}
