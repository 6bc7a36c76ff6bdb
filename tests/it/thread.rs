//! Threads: `xiio::thread::ThreadPool` and `xiio::thread::run_blocking`, as users write them.
//!
//! These run on the real clock (the jobs block real threads), with slack
//! for a slow, loaded machine: "about 100 ms" is asserted as at least
//! 90 ms and well under 2 s, and overlap is proven by the jobs meeting each
//! other, not by a tight upper bound.

use std::cell::Cell;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use xiio::TaskGroup;
use xiio::thread::ThreadPool;

use crate::util;
use crate::util::{ms, run_mock, since};

const JOB: Duration = Duration::from_millis(100);

const GENEROUS: Duration = Duration::from_secs(2);

/// Lets `n` jobs wait until all of them are running at the same time.
#[derive(Clone)]
struct Meeting {
    arrived: Arc<(Mutex<usize>, Condvar)>,
    n: usize,
}

impl Meeting {
    fn new(n: usize) -> Meeting {
        Meeting {
            arrived: Arc::new((Mutex::new(0), Condvar::new())),
            n,
        }
    }

    /// Arrives and waits (at most 10 s) for the others: true if all met.
    fn meet(&self) -> bool {
        let (count, all_here) = &*self.arrived;
        let mut count = count.lock().unwrap();
        *count += 1;
        all_here.notify_all();
        let (count, timeout) = all_here
            .wait_timeout_while(count, Duration::from_secs(10), |c| *c < self.n)
            .unwrap();
        !timeout.timed_out() && *count >= self.n
    }
}

/// Counts jobs running at once and remembers the most.
#[derive(Clone, Default)]
struct Concurrency {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Concurrency {
    fn run(&self, f: impl FnOnce()) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        f();
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

#[test]
fn three_100ms_blocking_jobs_in_threads_overlap() {
    let meeting = Meeting::new(3);
    let start = Instant::now();
    let met = xiio::run(xiio::task::gather((0..3).map(|_| {
        let meeting = meeting.clone();
        async move {
            let met = xiio::thread::run_blocking(move || {
                let met = meeting.meet();
                std::thread::sleep(JOB);
                met
            })
            .await;
            Ok::<_, io::Error>(met)
        }
    })))
    .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(
        met,
        [true, true, true],
        "the three jobs ran at the same time"
    );
    assert!(elapsed >= JOB - Duration::from_millis(10), "{elapsed:?}");
    assert!(elapsed < GENEROUS, "{elapsed:?}");
}

#[test]
fn a_job_that_panics_gives_the_panic_to_the_awaiting_task() {
    let pool = ThreadPool::new(1);
    let result = catch_unwind(AssertUnwindSafe(|| {
        xiio::run(TaskGroup::scope(async |tg| {
            tg.add_task(async {
                pool.run(|| panic!("the job failed")).await;
                Ok(())
            });
            Ok::<_, io::Error>(())
        }))
    }));
    let payload = result.expect_err("the panic reached the task, and the group resumed it");
    assert_eq!(panic_message(&*payload), "the job failed");
}

#[test]
fn a_job_that_returns_an_error_gives_that_error_to_the_awaiting_task() {
    let pool = ThreadPool::new(1);
    let result: io::Result<()> = xiio::run(async {
        pool.run(|| Err(io::Error::new(io::ErrorKind::NotFound, "no such record")))
            .await?;
        Ok(())
    });
    let err = result.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(err.to_string(), "no such record");
}

#[test]
fn a_pool_with_two_workers_runs_three_100ms_jobs_in_about_200ms() {
    let pool = ThreadPool::new(2);
    let concurrency = Concurrency::default();
    let start = Instant::now();
    xiio::run(xiio::task::gather((0..3).map(|_| {
        let (pool, concurrency) = (&pool, concurrency.clone());
        async move {
            pool.run(move || concurrency.run(|| std::thread::sleep(JOB)))
                .await;
            Ok::<_, io::Error>(())
        }
    })))
    .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(concurrency.most.load(Ordering::SeqCst), 2, "two at a time");
    assert!(
        elapsed >= 2 * JOB - Duration::from_millis(10),
        "{elapsed:?}"
    );
    assert!(elapsed < GENEROUS, "{elapsed:?}");
}

#[test]
fn a_panicking_job_does_not_break_the_pool() {
    let pool = ThreadPool::new(1);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        xiio::run(pool.run(|| panic!("first job")));
    }));
    assert!(panicked.is_err());
    // The same pool, and a new runtime on the same thread, keep working.
    let values = xiio::run(xiio::task::gather((1..=3).map(|n| {
        let pool = &pool;
        async move { Ok::<_, io::Error>(pool.run(move || n * 10).await) }
    })))
    .unwrap();
    assert_eq!(values, [10, 20, 30]);
}

#[test]
fn dropping_the_pool_waits_for_running_jobs() {
    let pool = ThreadPool::new(1);
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    xiio::run(TaskGroup::scope(async |tg| {
        let job = {
            let (started, finished) = (started.clone(), finished.clone());
            tg.add_task(pool.run(move || {
                started.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                finished.store(true, Ordering::SeqCst);
            }))
        };
        while !started.load(Ordering::SeqCst) {
            xiio::sleep(Duration::from_millis(5)).await;
        }
        // Cancelled while it runs: the job goes on, nobody waits for it.
        job.cancel();
        Ok::<_, io::Error>(())
    }))
    .unwrap();
    drop(pool);
    assert!(finished.load(Ordering::SeqCst), "drop waited for the job");
}

#[test]
fn dropping_the_awaiting_future_of_a_job_does_not_block() {
    let pool = ThreadPool::new(1);
    let (release, released) = mpsc::channel::<()>();
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let result = xiio::run({
        let done = done.clone();
        xiio::timeout(
            Duration::from_millis(50),
            pool.run(move || {
                // Blocks until the test releases it (at most 10 s).
                let _ = released.recv_timeout(Duration::from_secs(10));
                done.store(true, Ordering::SeqCst);
            }),
        )
    });
    assert_eq!(result, Err(xiio::time::TimeoutError));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the runtime did not wait for the job"
    );
    assert!(!done.load(Ordering::SeqCst), "the job still runs");
    release.send(()).unwrap();
    drop(pool);
    assert!(done.load(Ordering::SeqCst), "the job ran to its end");
}

#[test]
fn a_job_cancelled_before_it_started_never_runs() {
    let pool = ThreadPool::new(1);
    let (release, released) = mpsc::channel::<()>();
    let second_ran = Arc::new(AtomicBool::new(false));
    xiio::run(TaskGroup::scope(async |tg| {
        // The only worker is busy until released.
        tg.add_task(pool.run(move || {
            let _ = released.recv_timeout(Duration::from_secs(10));
        }));
        let second = {
            let second_ran = second_ran.clone();
            tg.add_task(pool.run(move || second_ran.store(true, Ordering::SeqCst)))
        };
        xiio::sleep(Duration::from_millis(20)).await; // both queued
        second.cancel();
        xiio::sleep(Duration::from_millis(20)).await; // the cancel happened
        release.send(()).unwrap();
        Ok::<_, io::Error>(())
    }))
    .unwrap();
    drop(pool);
    assert!(!second_ran.load(Ordering::SeqCst));
}

#[test]
fn workers_start_on_demand_and_exit_when_the_queue_is_empty() {
    let pool = ThreadPool::new(3);
    assert!(
        format!("{pool:?}").contains("workers: 0"),
        "no thread before the first job"
    );
    let meeting = Meeting::new(3);
    let met = xiio::run(xiio::task::gather((0..3).map(|_| {
        let (pool, meeting) = (&pool, meeting.clone());
        async move { Ok::<_, io::Error>(pool.run(move || meeting.meet()).await) }
    })))
    .unwrap();
    assert_eq!(
        met,
        [true, true, true],
        "three workers started for three jobs"
    );
    // A worker exits right after it finds the queue empty.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !format!("{pool:?}").contains("workers: 0") {
        assert!(Instant::now() < deadline, "idle workers exit: {pool:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_pool_is_shared_by_runtimes_on_several_threads() {
    let pool = ThreadPool::new(2);
    let meeting = Meeting::new(2);
    let met: Vec<bool> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (pool, meeting) = (&pool, meeting.clone());
                s.spawn(move || xiio::run(pool.run(move || meeting.meet())))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(met, [true, true]);
}

#[test]
fn a_job_runs_in_another_executor_too() {
    let pool = ThreadPool::new(1);
    assert_eq!(futures::executor::block_on(pool.run(|| 6 * 7)), 42);
}

#[test]
fn a_job_in_flight_keeps_the_mock_clock_from_jumping() {
    let pool = ThreadPool::new(1);
    let (result, virtual_elapsed) = xiio::Builder::new().mock_clock(true).run(async {
        let start = xiio::time::now();
        // The job takes 50 ms of real time; the 10 ms timeout is virtual
        // and cannot fire while the job is in flight.
        let result = xiio::timeout(
            Duration::from_millis(10),
            pool.run(|| {
                std::thread::sleep(Duration::from_millis(50));
                7
            }),
        )
        .await;
        (result, xiio::time::now() - start)
    });
    assert_eq!(result, Ok(7));
    assert_eq!(virtual_elapsed, Duration::ZERO);
}

#[test]
fn a_pool_is_send_and_sync() {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<ThreadPool>();
}

#[test]
fn dropping_a_thread_pool_inside_the_runtime_does_not_stall_it() {
    // Real time: a ticker every 10 ms goes on while a dropped pool's job
    // still runs for 300 ms on its worker.
    let gaps = Rc::new(Cell::new(Duration::ZERO));
    xiio::run(async {
        xiio::task_group!(|tg| {
            let ticker = tg.add_task(async {
                let mut last = Instant::now();
                loop {
                    xiio::sleep(ms(10)).await;
                    gaps.set(gaps.get().max(last.elapsed()));
                    last = Instant::now();
                }
            });
            let pool = xiio::thread::ThreadPool::new(1);
            // Started, then no longer awaited: the job goes on on its worker.
            let job = pool.run(|| std::thread::sleep(ms(300)));
            assert!(xiio::timeout(ms(20), job).await.is_err());
            drop(pool);
            xiio::sleep(ms(150)).await;
            ticker.cancel();
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
    assert!(
        gaps.get() < ms(100),
        "the ticker stalled for {:?}",
        gaps.get()
    );
}

#[test]
fn a_thread_pool_job_polled_once_and_awaited_later_does_not_freeze_the_mock_clock() {
    // Before: the job's future counted as outside work for as long as it
    // existed, so once the job was done the clock never moved again and
    // the sleep below hung.
    let elapsed = util::within_10_s(|| {
        run_mock(async {
            let pool = xiio::thread::ThreadPool::new(1);
            let start = xiio::time::now();
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
