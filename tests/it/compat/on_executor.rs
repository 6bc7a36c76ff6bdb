//! xiio futures awaited from other executors: `xiio::compat::on_executor`
//! on tokio's current-thread runtime and `LocalSet`, smol's `block_on` and
//! `LocalExecutor`, `futures::executor::block_on`; and `on_thread` on
//! tokio's multi-thread runtime. Real time here (another executor's clock
//! is the real one), with wide slack.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use xiio::compat::{on_executor, on_own_thread};

use crate::util;
use crate::util::{Log, ms};

/// An elapsed time that is "about `expected`": not less, and less than
/// `expected` plus generous slack for a loaded machine (but less than the
/// 100 ms by which two sleeps of 100 ms that did not overlap would exceed
/// one).
fn about(elapsed: Duration, expected: Duration) -> bool {
    elapsed >= expected && elapsed < expected + ms(95)
}

fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_xiio_sleep_of_100_ms_on_tokio_takes_100_ms() {
    let start = Instant::now();
    tokio_current_thread().block_on(on_executor(xiio::sleep(ms(100))));
    let elapsed = start.elapsed();
    assert!(about(elapsed, ms(100)), "{elapsed:?}");
}

#[test]
fn it_overlaps_with_tokios_own_sleep() {
    let start = Instant::now();
    tokio_current_thread().block_on(async {
        tokio::join!(
            on_executor(xiio::sleep(ms(100))),
            tokio::time::sleep(ms(100))
        )
    });
    let elapsed = start.elapsed();
    assert!(
        about(elapsed, ms(100)),
        "{elapsed:?}: the sleeps did not overlap"
    );
}

#[test]
fn it_runs_on_a_tokio_local_set_among_other_local_tasks() {
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    let done = local.block_on(&tokio_current_thread(), async {
        let a = tokio::task::spawn_local(on_executor(async {
            xiio::sleep(ms(100)).await;
            1
        }));
        let b = tokio::task::spawn_local(on_executor(async {
            xiio::sleep(ms(50)).await;
            2
        }));
        let c = tokio::task::spawn_local(async {
            tokio::time::sleep(ms(100)).await;
            3
        });
        (a.await.unwrap(), b.await.unwrap(), c.await.unwrap())
    });
    assert_eq!(done, (1, 2, 3));
    assert!(about(start.elapsed(), ms(100)), "{:?}", start.elapsed());
}

#[test]
fn tokios_timeout_cancels_it_and_its_cleanup_runs() {
    let log = Log::new();
    let start = Instant::now();
    let guarded = {
        let log = log.clone();
        on_executor(xiio::task::try_finally(xiio::sleep(ms(1000)), async move {
            // The cleanup may await xiio futures too.
            xiio::sleep(ms(30)).await;
            log.push("cleanup done");
        }))
    };
    let result =
        tokio_current_thread().block_on(async { tokio::time::timeout(ms(50), guarded).await });
    assert!(result.is_err(), "tokio's timeout fired");
    assert_eq!(log.events(), ["cleanup done"], "the cleanup ran to its end");
    assert!(about(start.elapsed(), ms(80)), "{:?}", start.elapsed());
}

#[test]
fn it_runs_on_smol_and_overlaps_with_smols_timers() {
    let start = Instant::now();
    smol::block_on(async {
        let ex = smol::LocalExecutor::new();
        ex.run(async {
            let xiio_task = ex.spawn(on_executor(xiio::sleep(ms(100))));
            smol::Timer::after(ms(100)).await;
            xiio_task.await;
        })
        .await;
    });
    assert!(about(start.elapsed(), ms(100)), "{:?}", start.elapsed());
}

#[test]
fn it_runs_on_the_futures_executor() {
    let start = Instant::now();
    let value = futures::executor::block_on(on_executor(async {
        xiio::sleep(ms(50)).await;
        "done"
    }));
    assert_eq!(value, "done");
    assert!(about(start.elapsed(), ms(50)), "{:?}", start.elapsed());
}

#[test]
fn a_task_group_runs_on_another_executor() {
    let start = Instant::now();
    let names = ["ada", "grace"];
    let lengths = futures::executor::block_on(on_executor(xiio::TaskGroup::scope(async |tg| {
        let tasks: Vec<_> = names
            .iter()
            .map(|name| {
                tg.add_task(async move {
                    xiio::sleep(ms(60)).await;
                    Ok(name.len())
                })
            })
            .collect();
        Ok::<_, io::Error>(tasks)
    })))
    .unwrap();
    let lengths: Vec<_> = lengths.iter().map(|t| t.take().unwrap()).collect();
    assert_eq!(lengths, [3, 5]);
    assert!(about(start.elapsed(), ms(60)), "the children overlapped");
}

#[test]
fn xiio_reads_a_pipe_that_tokio_writes_and_tokio_reads_one_xiio_writes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio_current_thread();
    rt.block_on(async {
        // tokio writes, xiio reads.
        let (to_xiio_tx, to_xiio_rx) = tokio::net::unix::pipe::pipe().unwrap();
        let (to_tokio_rx, to_tokio_tx) = std::io::pipe().unwrap();
        let to_tokio_rx =
            tokio::net::unix::pipe::Receiver::from_owned_fd(to_tokio_rx.into()).unwrap();
        let writer = async move {
            let mut tx = to_xiio_tx;
            tokio::time::sleep(ms(20)).await;
            tx.write_all(b"from tokio").await.unwrap();
        };
        let reader = on_executor(async move {
            let mut buf = [0; 10];
            let mut got = 0;
            while got < buf.len() {
                got += xiio::io::read(&to_xiio_rx, &mut buf[got..]).await.unwrap();
            }
            // xiio writes the answer; tokio reads it.
            xiio::io::write_all(&to_tokio_tx, b"from xiio")
                .await
                .unwrap();
            buf
        });
        let answer = async move {
            let mut rx = to_tokio_rx;
            let mut buf = [0; 9];
            rx.read_exact(&mut buf).await.unwrap();
            buf
        };
        let ((), read_by_xiio, read_by_tokio) = tokio::join!(writer, reader, answer);
        assert_eq!(&read_by_xiio, b"from tokio");
        assert_eq!(&read_by_tokio, b"from xiio");
    });
}

#[test]
fn on_executor_from_several_threads_at_once() {
    let start = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                futures::executor::block_on(on_executor(async move {
                    let (mut reader, writer) = std::io::pipe().unwrap();
                    let writer = xiio::io::Async::new(writer).unwrap();
                    xiio::sleep(ms(50)).await;
                    let message = format!("thread {i}");
                    writer
                        .write_with(|mut w| w.write(message.as_bytes()))
                        .await
                        .unwrap();
                    drop(writer);
                    let mut got = String::new();
                    reader.read_to_string(&mut got).unwrap();
                    got
                }))
            })
        })
        .collect();
    let got: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, ["thread 0", "thread 1", "thread 2", "thread 3"]);
    assert!(about(start.elapsed(), ms(50)), "{:?}", start.elapsed());
}

#[test]
fn sockets_work_across_executors() {
    // An xiio server awaited from tokio, a tokio client.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio_current_thread().block_on(async {
        let listener = xiio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = on_executor(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut buf = [0; 5];
            let n = stream.read(&mut buf).await.unwrap();
            stream.write_all(&buf[..n]).await.unwrap();
        });
        let client = async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"hello").await.unwrap();
            let mut buf = [0; 5];
            stream.read_exact(&mut buf).await.unwrap();
            buf
        };
        let ((), echoed) = tokio::join!(server, client);
        assert_eq!(&echoed, b"hello");
    });
}

#[test]
fn on_thread_runs_on_tokios_multi_thread_runtime_and_its_drop_cancels() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let value = rt.block_on(async {
        // A spawned task must be Send: `on_thread` is, whatever the xiio
        // future it runs.
        tokio::spawn(on_own_thread(|| async {
            let rc = Rc::new(Cell::new(1)); // !Send inside
            xiio::sleep(ms(50)).await;
            rc.get() + 1
        }))
        .await
        .unwrap()
    });
    assert_eq!(value, 2);
    assert!(about(start.elapsed(), ms(50)), "{:?}", start.elapsed());

    // Cancelled by tokio's timeout: the cleanup runs on the xiio thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let guarded = on_own_thread(move || {
        xiio::task::try_finally(xiio::sleep(ms(10_000)), async move {
            xiio::sleep(ms(10)).await;
            tx.send("cleanup done").unwrap();
        })
    });
    let result = rt.block_on(async { tokio::time::timeout(ms(30), guarded).await });
    assert!(result.is_err());
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok("cleanup done"));
}

#[test]
fn a_panic_on_the_xiio_thread_reaches_the_awaiting_task() {
    let result = std::panic::catch_unwind(|| {
        futures::executor::block_on(on_own_thread(|| async {
            xiio::sleep(ms(1)).await;
            util::panic_with("boom on the xiio thread");
        }))
    });
    let payload = result.unwrap_err();
    assert_eq!(util::panic_message(&*payload), "boom on the xiio thread");
}

#[test]
#[should_panic(expected = "on_executor polled inside xiio::run: await the future itself")]
fn inside_xiio_run_it_panics_and_says_to_await_the_future_itself() {
    util::run_mock(async {
        on_executor(xiio::sleep(ms(100))).await;
    });
}

#[test]
fn block_on_of_on_executor_inside_run_panics_instead_of_blocking_for_ever() {
    // Another executor's block_on, called from sync code in a task, would
    // block the runtime's thread for ever, with the runtime it waits for.
    let result = util::within_10_s(|| {
        std::panic::catch_unwind(|| {
            xiio::run(async {
                futures::executor::block_on(on_executor(xiio::sleep(ms(10))));
            })
        })
    });
    let message = util::panic_message(&*result.unwrap_err());
    assert!(message.contains("block_on"), "{message}");
}

#[test]
fn a_second_future_dropped_while_its_cleanup_is_pending_runs_it_and_returns() {
    // The drops run the cleanups to their end on this thread's runtime,
    // which both futures share; the second drop once hung for ever.
    let cleanups = util::within_10_s(|| {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..3 {
            let ran = ran.clone();
            let mut fut = Box::pin(on_executor(xiio::task::try_finally(
                xiio::sleep(ms(10_000)),
                async move {
                    xiio::sleep(ms(20)).await;
                    ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                },
            )));
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            drop(fut); // cancels; the cleanup runs in the drop
        }
        ran.load(std::sync::atomic::Ordering::Relaxed)
    });
    assert_eq!(cleanups, 3);
}

#[test]
fn processes_cancelled_by_dropped_futures_are_reaped_every_time() {
    // A unique argument, to tell these children from other tests' ones.
    let marker = format!("10.{}", std::process::id());
    let pids = util::within_10_s(move || {
        let mut pids = Vec::new();
        for _ in 0..2 {
            let marker = marker.clone();
            let mut fut = Box::pin(on_executor(async move {
                let mut cmd = std::process::Command::new("sleep");
                xiio::process::run_process(cmd.arg(marker)).await
            }));
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            assert!(fut.as_mut().poll(&mut cx).is_pending()); // spawned
            let pid = child_running(&format!("sleep\0{}\0", cx_marker()));
            drop(fut); // cancels: SIGTERM, then the reap, in the drop
            pids.push(pid);
        }
        pids
    });
    for pid in pids {
        let pid = pid.expect("the child was running");
        // Reaped: no /proc entry, not even a zombie's.
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} left"
        );
    }
}

/// The argument that marks this test's children.
fn cx_marker() -> String {
    format!("10.{}", std::process::id())
}

/// A child of this process whose command line is `cmdline`, looked for
/// during up to 5 s: `spawn` returns once the child's `execve` replaced
/// its memory, and the kernel records the new command line a moment
/// after (a loaded machine can show the old one, or none, in between).
fn child_running(cmdline: &str) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(pid) = child_with(cmdline) {
            return Some(pid);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A child of this process whose command line is `cmdline` now.
fn child_with(cmdline: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .to_string();
            let args = std::fs::read(entry.path().join("cmdline")).ok()?;
            (ppid == me && args == cmdline.as_bytes()).then_some(pid)
        })
}

#[test]
fn the_misuse_message_names_on_executor_and_following_it_works() {
    // A leaf future polled by another executor, without the bridge:
    let payload = std::panic::catch_unwind(|| {
        futures::executor::block_on(xiio::sleep(ms(1)));
    })
    .unwrap_err();
    let message = util::panic_message(&*payload);
    assert!(message.contains("xiio::compat::on_executor"), "{message}");
    // Doing what it says:
    futures::executor::block_on(on_executor(xiio::sleep(ms(1))));
}
