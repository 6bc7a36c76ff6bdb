//! Runtime-agnostic futures and cross-thread wakes.
//!
//! These tests use real time: another thread wakes the runtime while it
//! sleeps in the reactor. Their bounds are generous.

use std::cell::Cell;
use std::convert::Infallible;
use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use xiio::TaskGroup;
use xiio::io::Condition;

use crate::util::{counted, ms, run_mock, yield_now};

/// Generous upper bound for "a short real wait" on a loaded machine.
const SLACK: Duration = Duration::from_secs(10);

fn assert_waited(elapsed: Duration, at_least: Duration) {
    assert!(elapsed >= at_least, "waited only {elapsed:?}");
    assert!(elapsed < SLACK, "waited {elapsed:?}");
}

#[test]
fn a_futures_oneshot_sent_from_another_thread_wakes_the_runtime() {
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        thread::sleep(ms(50));
        tx.send(42).unwrap();
    });
    // Nothing else is pending: the runtime sleeps in the reactor with no
    // timeout until the other thread's wake interrupts it.
    let value = xiio::run(rx).unwrap();
    assert_eq!(value, 42);
    assert_waited(start.elapsed(), ms(50));
    sender.join().unwrap();
}

#[test]
fn an_async_channel_receiver_fed_from_another_thread() {
    let (tx, rx) = async_channel::unbounded();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        for i in 1..=3 {
            thread::sleep(ms(20));
            tx.send_blocking(i).unwrap();
        }
        // Dropping the sender closes the channel.
    });
    let received = xiio::run(async {
        let mut received = Vec::new();
        while let Ok(value) = rx.recv().await {
            received.push(value);
        }
        received
    });
    assert_eq!(received, [1, 2, 3]);
    assert_waited(start.elapsed(), ms(60));
    sender.join().unwrap();
}

#[test]
fn a_cross_thread_wake_reaches_a_child_deep_in_nested_groups() {
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        thread::sleep(ms(30));
        tx.send("deep").unwrap();
    });
    let value = xiio::run(TaskGroup::scope(async |outer| {
        let task = outer.add_task(async {
            TaskGroup::scope(async |inner| {
                let mut task = inner.add_task(async { Ok(rx.await.unwrap()) });
                Ok::<_, Infallible>((&mut task).await)
            })
            .await
        });
        Ok::<_, Infallible>(task)
    }))
    .unwrap();
    assert_eq!(value.take(), Some(Some("deep")));
    assert_waited(start.elapsed(), ms(30));
    sender.join().unwrap();
}

#[test]
fn a_condition_on_a_pipe_written_from_another_thread() {
    let (reader, mut writer) = io::pipe().unwrap();
    let start = Instant::now();
    let writer_thread = thread::spawn(move || {
        thread::sleep(ms(50));
        writer.write_all(b"from afar").unwrap();
        writer
    });
    let fired = xiio::run(async {
        Condition::new()
            .readable(&reader)
            .deadline_after(Duration::from_secs(30))
            .await
    })
    .unwrap();
    assert!(fired.is_readable(&reader));
    assert!(!fired.deadline_passed());
    assert_waited(start.elapsed(), ms(50));
    let _writer = writer_thread.join().unwrap();

    // And a read gets the bytes.
    let mut buf = [0; 32];
    let n = xiio::run(xiio::io::read(&reader, &mut buf)).unwrap();
    assert_eq!(&buf[..n], b"from afar");
}

#[test]
fn a_read_on_a_pipe_written_and_closed_from_another_thread() {
    let (reader, mut writer) = io::pipe().unwrap();
    let writer_thread = thread::spawn(move || {
        for chunk in [&b"one "[..], b"two ", b"three"] {
            thread::sleep(ms(10));
            writer.write_all(chunk).unwrap();
        }
        // Dropped here: EOF.
    });
    let received = xiio::run(async {
        let mut received = Vec::new();
        let mut buf = [0; 64];
        loop {
            match xiio::io::read(&reader, &mut buf).await? {
                0 => return Ok::<_, io::Error>(received),
                n => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .unwrap();
    assert_eq!(received, b"one two three");
    writer_thread.join().unwrap();
}

#[test]
fn a_cross_thread_wake_while_a_timer_is_pending_comes_first() {
    // The reactor waits with a 10 s timeout (the timer); the wake from the
    // other thread must cut that wait short.
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        thread::sleep(ms(30));
        tx.send(()).unwrap();
    });
    let result = xiio::run(xiio::timeout(Duration::from_secs(10), rx));
    assert_eq!(result, Ok(Ok(())));
    assert_waited(start.elapsed(), ms(30));
    sender.join().unwrap();
}

#[test]
fn a_mock_clock_runtime_with_no_deadline_waits_for_a_cross_thread_wake() {
    let (tx, rx) = oneshot::channel();
    let start = Instant::now();
    let sender = thread::spawn(move || {
        thread::sleep(ms(30));
        tx.send(7).unwrap();
    });
    let (value, virtual_elapsed) = run_mock(async {
        let virtual_start = xiio::time::now();
        (rx.await.unwrap(), xiio::time::now() - virtual_start)
    });
    assert_eq!(value, 7);
    assert_eq!(virtual_elapsed, ms(0), "no deadline, so no jump");
    assert_waited(start.elapsed(), ms(30));
    sender.join().unwrap();
}

#[test]
fn waking_one_of_100000_children_from_another_thread_polls_only_that_child() {
    const N: usize = 100_000;
    const WOKEN: usize = 77_777;
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..N).map(|_| oneshot::channel::<usize>()).unzip();
    let polls: Vec<Cell<u64>> = (0..N).map(|_| Cell::new(0)).collect();
    let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
    let sender = senders[WOKEN].take().unwrap();
    let result = xiio::run(TaskGroup::scope(async |tg| {
        let mut tasks: Vec<_> = receivers
            .into_iter()
            .zip(&polls)
            .map(|(rx, polls)| tg.add_task(counted(polls, async { Ok(rx.await.ok()) })))
            .collect();
        yield_now().await;
        assert!(polls.iter().all(|p| p.get() == 1));
        let thread = thread::spawn(move || {
            thread::sleep(ms(20));
            sender.send(WOKEN).unwrap();
        });
        // The body waits for that one child (a same-thread wake of the body
        // by the child, after the cross-thread wake of the child).
        let value = (&mut tasks[WOKEN]).await;
        thread.join().unwrap();
        assert_eq!(value, Some(Some(WOKEN)));
        assert_eq!(polls[WOKEN].get(), 2);
        let total: u64 = polls.iter().map(Cell::get).sum();
        assert_eq!(total, N as u64 + 1, "only the woken child was polled");
        Err::<(), _>("done")
    }));
    assert_eq!(result, Err("done"));
    drop(senders);
}

#[xiio::test(mock_clock)]
async fn futures_channels_and_combinators_between_xiio_tasks() {
    let (mut tx, rx) = mpsc::channel::<u32>(1);
    let start = xiio::time::now();
    let sum = TaskGroup::scope(async |tg| {
        tg.add_task(async move {
            for i in 1..=5 {
                xiio::sleep(ms(10)).await;
                tx.send(i).await.unwrap();
            }
        });
        let sum = rx.fold(0, |sum, x| async move { sum + x }).await;
        Ok::<_, Infallible>(sum)
    })
    .await
    .unwrap();
    assert_eq!(sum, 15);
    assert_eq!(xiio::time::now() - start, ms(50));

    // `select` and `join` from futures drive xiio leaf futures.
    let start = xiio::time::now();
    let (a, b) = futures::join!(
        async {
            xiio::sleep(ms(30)).await;
            "a"
        },
        async {
            xiio::sleep(ms(20)).await;
            "b"
        }
    );
    assert_eq!((a, b), ("a", "b"));
    assert_eq!(xiio::time::now() - start, ms(30));
    let start = xiio::time::now();
    futures::select! {
        _ = futures::FutureExt::fuse(xiio::sleep(ms(30))) => panic!("the later sleep won"),
        _ = futures::FutureExt::fuse(xiio::sleep(ms(20))) => {}
    }
    assert_eq!(xiio::time::now() - start, ms(20));
}

#[test]
fn a_waker_used_after_its_runtime_ended_does_nothing() {
    let waker = xiio::run(std::future::poll_fn(|cx| {
        std::task::Poll::Ready(cx.waker().clone())
    }));
    // From this thread and another: no panic, no effect.
    waker.wake_by_ref();
    thread::spawn(move || waker.wake()).join().unwrap();
    // And a new runtime on this thread is unaffected.
    assert_eq!(run_mock(async { 3 }), 3);
}
