//! A hang that explains itself: the live task tree, on demand
//! (`xiio::testing::task_tree()`) and in the panic of a mock clock that is stuck.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::util;
use crate::util::{ms, panic_message};

#[test]
fn the_tree_says_what_each_task_waits_on() {
    util::run_mock(async {
        let (reader, _writer) = std::io::pipe().unwrap();
        let never: xiio::sync::Promise<()> = xiio::sync::Promise::new();
        let (socket, _peer) = xiio::net::UnixStream::pair().unwrap();
        xiio::task_group!(|tg| {
            let sleeper = tg.add_task(xiio::sleep(ms(250)));
            let reading = tg.add_task(async {
                xiio::io::Condition::new()
                    .readable(&reader)
                    .await
                    .map(|_| ())
            });
            let waiting = tg.add_task(never.wait());
            let nested = tg.add_task(xiio::TaskGroup::scope(async |inner| {
                inner.add_task(async {
                    let mut buf = [0; 8];
                    socket.read(&mut buf).await.map(|_| ())
                });
                std::future::pending::<()>().await;
                Ok::<_, std::io::Error>(())
            }));
            xiio::sleep(ms(50)).await; // everyone waits now
            let tree = xiio::testing::task_tree();
            let line = |start: &str| {
                let found = tree.lines().find(|l| l.trim_start().starts_with(start));
                found.unwrap_or_else(|| panic!("no {start:?} line in:\n{tree}"))
            };
            let reader = std::os::fd::AsRawFd::as_raw_fd(&reader);
            let socket = std::os::fd::AsRawFd::as_raw_fd(&socket);
            for (task, waits) in [
                ("task 0 ", "waits on a timer due in 200ms".to_string()),
                ("task 1 ", format!("waits on fd {reader} to be readable")),
                ("task 2 ", "woken by something else".to_string()),
                ("task 3 ", "runs the group below".to_string()),
                ("body ", "running".to_string()), // the one that asked
            ] {
                assert!(
                    line(task).contains(&waits),
                    "{task}: no {waits:?} in:\n{tree}"
                );
            }
            // Each child is named by where it was added.
            let added_here = format!("(added at {}:", file!());
            assert!(line("task 0 ").contains(&added_here), "{tree}");
            // The nested group is drawn under the child that made it.
            let nested_at = tree.find("  task 3 ").unwrap();
            let below = &tree[nested_at..];
            assert!(below.contains("group #"), "{tree}");
            let socket_wait = format!("waits on fd {socket} to be readable");
            assert!(below.contains(&socket_wait), "{tree}");
            for task in [&sleeper, &reading, &nested] {
                task.cancel();
            }
            waiting.cancel();
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    });
}

#[test]
fn a_stuck_mock_clock_panics_with_the_tree() {
    let result = catch_unwind(AssertUnwindSafe(|| {
        xiio::Builder::new()
            .mock_clock(true)
            .hang_timeout(Some(ms(100)))
            .run(async {
                let never: xiio::sync::Promise<()> = xiio::sync::Promise::new();
                xiio::task_group!(|tg| {
                    tg.add_task(never.wait());
                    never.wait().await; // nothing will ever set it
                    Ok::<_, ()>(())
                })
            })
    }));
    let message = panic_message(&*result.unwrap_err());
    assert!(message.contains("the mock clock is stuck"), "{message}");
    let line = |start: &str| {
        let found = message.lines().find(|l| l.trim_start().starts_with(start));
        found.unwrap_or_else(|| panic!("no {start:?} line in:\n{message}"))
    };
    assert!(
        line("task 0 ").contains("woken by something else"),
        "{message}"
    );
    assert!(
        line("task 0 ").contains(&format!("(added at {}:", file!())),
        "{message}"
    );
}

#[test]
fn no_hang_is_reported_while_an_fd_is_registered() {
    // A writer thread answers after 300 ms of real time, longer than the
    // hang timeout: the registered fd could wake the runtime, so it waits.
    let (reader, mut writer) = std::io::pipe().unwrap();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(ms(300));
        writer.write_all(b"late").unwrap();
    });
    let got = xiio::Builder::new()
        .mock_clock(true)
        .hang_timeout(Some(ms(50)))
        .run(async {
            let mut buf = [0; 4];
            xiio::io::read(&reader, &mut buf).await.unwrap();
            buf
        });
    thread.join().unwrap();
    assert_eq!(&got, b"late");
}

#[test]
fn without_a_hang_timeout_the_clock_waits_for_other_threads() {
    let (tx, rx) = async_channel::bounded(1);
    let thread = std::thread::spawn(move || {
        std::thread::sleep(ms(200));
        tx.send_blocking(7).unwrap();
    });
    let got = xiio::Builder::new()
        .mock_clock(true)
        .hang_timeout(None)
        .run(async { rx.recv().await.unwrap() });
    thread.join().unwrap();
    assert_eq!(got, 7);
}

#[test]
fn a_hang_on_a_sleep_beyond_the_clocks_range_says_so() {
    // Nothing can ever wake it: the report says why, instead of "woken by
    // something else".
    let result = catch_unwind(AssertUnwindSafe(|| {
        xiio::Builder::new()
            .mock_clock(true)
            .hang_timeout(Some(ms(100)))
            .run(xiio::TaskGroup::scope(async |tg| {
                tg.add_task(xiio::sleep(std::time::Duration::MAX));
                Ok::<_, ()>(())
            }))
    }));
    let message = panic_message(&*result.unwrap_err());
    assert!(message.contains("the mock clock is stuck"), "{message}");
    let task = message
        .lines()
        .find(|l| l.trim_start().starts_with("task 0 "))
        .unwrap();
    assert!(
        task.contains(&format!("(added at {}:", file!())),
        "{message}"
    );
    assert!(
        task.ends_with("waits on a timer beyond the clock's range (for ever)"),
        "{message}"
    );
}
