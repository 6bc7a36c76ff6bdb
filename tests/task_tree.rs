//! A hang that explains itself: the live task tree, on demand
//! (`xiio::task_tree()`) and in the panic of a mock clock that is stuck.

mod util;

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use util::{ms, panic_message};

#[test]
fn the_tree_says_what_each_task_waits_on() {
    util::run_mock(async {
        let (reader, _writer) = std::io::pipe().unwrap();
        let never: xiio::Promise<()> = xiio::Promise::new();
        let (socket, _peer) = xiio::net::UnixStream::pair().unwrap();
        xiio::task_group!(|tg| {
            let sleeper = tg.add_task(xiio::sleep(ms(250)));
            let reading =
                tg.add_task(async { xiio::Condition::new().readable(&reader).await.map(|_| ()) });
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
            let tree = xiio::task_tree();
            for line in [
                "task 0: waits on a timer due in 200ms",
                &format!(
                    "task 1: waits on fd {} READABLE",
                    std::os::fd::AsRawFd::as_raw_fd(&reader)
                ),
                "task 2: woken by something else",
                "task 3: woken by something else",
                &format!(
                    "task 0: waits on fd {} readable",
                    std::os::fd::AsRawFd::as_raw_fd(&socket)
                ),
                "body: running", // the one that asked
            ] {
                assert!(tree.contains(line), "no {line:?} in:\n{tree}");
            }
            // The nested group is drawn under the child that made it.
            let nested_at = tree.find("  task 3:").unwrap();
            assert!(tree[nested_at..].contains("group #"), "{tree}");
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
                let never: xiio::Promise<()> = xiio::Promise::new();
                xiio::task_group!(|tg| {
                    tg.add_task(never.wait());
                    (&never).await; // nothing will ever set it
                    Ok::<_, ()>(())
                })
            })
    }));
    let message = panic_message(&*result.unwrap_err());
    assert!(message.contains("the mock clock is stuck"), "{message}");
    assert!(
        message.contains("body: woken by something else"),
        "{message}"
    );
    assert!(
        message.contains("task 0: woken by something else"),
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
            xiio::read(&reader, &mut buf).await.unwrap();
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
