//! The free functions `xiio::io::read`, `xiio::io::write` and `xiio::io::write_all` on
//! *borrowed* fds in blocking mode, shared with other threads, processes
//! and runtimes.
//!
//! I/O never blocks the thread and never disturbs others who
//! share the fd. `O_NONBLOCK` belongs to the open file description, shared
//! by every dup in every thread and child process, so these functions never
//! change it; they use per-call means instead (`xiio-core/src/io/borrowed.rs`):
//! `MSG_DONTWAIT` on sockets, `RWF_NOWAIT` on pipes, a reopened
//! non-blocking description of FIFOs and ttys (through `/proc/self/fd`),
//! a plain call on regular files, readiness-then-read as the last resort.
//!
//! The original bug: the fd was switched to non-blocking mode for the
//! length of each call, so a thread or child process writing the same pipe
//! in blocking mode got `EAGAIN` ("head: error writing 'standard output':
//! Resource temporarily unavailable"), and a runtime that lost a race for
//! a byte sat in a blocking `read(2)`.
//!
//! These tests involve other threads and processes, so they run on the real
//! clock, with wide slack, and those that could hang the thread if xiio
//! blocked in a syscall run under a real-time deadline ([`with_deadline`]).

use std::cell::Cell;
use std::io::{self, Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags, fcntl_getfl, fcntl_setfl};
use xiio::TaskGroup;

use crate::util;
use crate::util::{TempPath, is_nonblocking, ms, since};

const MIB: usize = 1 << 20;

/// Long enough for anything here on a loaded machine.
const GENEROUS: Duration = Duration::from_secs(10);

/// Runs `f` on a thread of its own and returns its value, or panics if it
/// is still running after `deadline` (a thread blocked in a syscall, or
/// spinning, cannot be stopped: it is left behind and ends with the
/// process).
fn with_deadline<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _done = done; // dropped when `f` returns or panics
        f()
    });
    match finished.recv_timeout(deadline) {
        Err(RecvTimeoutError::Disconnected) => thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Ok(()) | Err(RecvTimeoutError::Timeout) => {
            panic!("still running after {deadline:?}: the thread blocked (or spins)")
        }
    }
}

/// Reads `reader` to the end on the calling thread, in blocking mode,
/// sleeping `pause` after each read: how many bytes of each value came.
fn drain(mut reader: impl Read, pause: Duration) -> [usize; 256] {
    let mut counts = [0; 256];
    let mut buf = vec![0; 16 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return counts,
            Ok(n) => buf[..n].iter().for_each(|&b| counts[b as usize] += 1),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("drain: {e}"),
        }
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
}

// ---------------------------------------------------------------------------
// A blocking pipe shared with threads and processes.
// ---------------------------------------------------------------------------

#[test]
fn write_all_into_a_blocking_pipe_never_switches_its_mode() {
    let (reader, writer) = io::pipe().unwrap();
    let watched = writer.try_clone().unwrap(); // a dup: same description
    let writing = Arc::new(AtomicBool::new(true));
    let (checks, seen_nonblocking) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Drains slowly, so that write_all waits for room again and again.
    let drainer = std::thread::spawn(move || drain(reader, Duration::from_micros(500)));
    let watcher = std::thread::spawn({
        let (writing, checks, seen) = (writing.clone(), checks.clone(), seen_nonblocking.clone());
        move || {
            while writing.load(Ordering::SeqCst) {
                if fcntl_getfl(&watched).unwrap().contains(OFlags::NONBLOCK) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                checks.fetch_add(1, Ordering::SeqCst);
            }
            // `watched` is dropped here.
        }
    });
    let data = vec![b'x'; 4 * MIB];
    let start = Instant::now();
    xiio::run(xiio::io::write_all(&writer, &data)).unwrap();
    let took = start.elapsed();
    writing.store(false, Ordering::SeqCst);
    watcher.join().unwrap();
    assert!(!is_nonblocking(&writer));
    drop(writer);
    let counts = drainer.join().unwrap();
    assert_eq!(counts[b'x' as usize], 4 * MIB, "every byte arrived");
    let checks = checks.load(Ordering::SeqCst);
    assert!(
        checks > 1000,
        "the watcher looked {checks} times in {took:?}"
    );
    assert_eq!(
        seen_nonblocking.load(Ordering::SeqCst),
        0,
        "O_NONBLOCK was seen during write_all ({checks} checks)"
    );
}

#[test]
fn std_threads_writing_the_same_blocking_pipe_meanwhile_never_get_would_block() {
    let (reader, writer) = io::pipe().unwrap();
    let dup = writer.try_clone().unwrap();
    let drainer = std::thread::spawn(move || drain(reader, Duration::from_micros(200)));
    const CHUNK: usize = 16 * 1024;
    const CHUNKS: usize = 128; // 2 MiB per thread
    let errors = std::thread::scope(|s| {
        // One thread writes through the very same fd, one through a dup,
        // both in blocking mode, with bytes of their own.
        let same_fd = s.spawn(|| {
            let mut errors = Vec::new();
            for _ in 0..CHUNKS {
                if let Err(e) = (&writer).write_all(&[b'a'; CHUNK]) {
                    errors.push(e.to_string());
                }
            }
            errors
        });
        let via_dup = s.spawn(|| {
            let mut errors = Vec::new();
            for _ in 0..CHUNKS {
                if let Err(e) = (&dup).write_all(&[b'b'; CHUNK]) {
                    errors.push(e.to_string());
                }
            }
            errors
        });
        xiio::run(xiio::io::write_all(&writer, &vec![b'x'; 4 * MIB])).unwrap();
        let mut errors = same_fd.join().unwrap();
        errors.extend(via_dup.join().unwrap());
        errors
    });
    assert!(!is_nonblocking(&writer));
    drop((writer, dup));
    let counts = drainer.join().unwrap();
    assert_eq!(errors, Vec::<String>::new(), "the blocking writers failed");
    assert_eq!(counts[b'a' as usize], CHUNK * CHUNKS);
    assert_eq!(counts[b'b' as usize], CHUNK * CHUNKS);
    assert_eq!(counts[b'x' as usize], 4 * MIB);
}

#[test]
fn a_child_process_writing_the_same_pipe_as_its_stdout_exits_cleanly() {
    let (reader, writer) = io::pipe().unwrap();
    let drainer = std::thread::spawn(move || drain(reader, Duration::from_micros(200)));
    let child = {
        let mut command = Command::new("sh");
        command
            .args(["-c", "head -c 2000000 /dev/zero"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer.try_clone().unwrap()))
            .stderr(Stdio::piped());
        command.spawn().unwrap()
        // The command, and its copy of the write end, are dropped here.
    };
    // While the child writes (blocking) zeros, xiio writes x's.
    xiio::run(xiio::io::write_all(&writer, &vec![b'x'; 4 * MIB])).unwrap();
    assert!(!is_nonblocking(&writer));
    drop(writer);
    let output = child.wait_with_output().unwrap();
    let counts = drainer.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert_eq!(stderr, "", "the child's stderr is clean");
    assert_eq!(counts[0], 2_000_000, "all of the child's bytes");
    assert_eq!(counts[b'x' as usize], 4 * MIB, "all of xiio's bytes");
}

/// Runs a runtime on this thread that reads `fd` until end-of-file, while
/// a ticker task sleeps 10 ms at a time: the bytes read and the longest gap
/// between two ticks.
fn read_with_a_ticker(fd: OwnedFd) -> (Vec<u8>, Duration) {
    let longest = Cell::new(Duration::ZERO);
    let reading = Cell::new(true);
    xiio::run(TaskGroup::scope(async |tg| {
        tg.add_task(async {
            let mut last = Instant::now();
            while reading.get() {
                xiio::sleep(ms(10)).await;
                let now = Instant::now();
                longest.set(longest.get().max(now - last));
                last = now;
            }
        });
        let mut got = Vec::new();
        let mut buf = [0; 16];
        loop {
            match xiio::io::read(&fd, &mut buf).await? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert!(!is_nonblocking(&fd), "the reader's fd keeps its mode");
        reading.set(false); // the ticker stops at its next tick
        Ok::<_, io::Error>(got)
    }))
    .map(|got| (got, longest.get()))
    .unwrap()
}

#[test]
fn two_runtimes_reading_one_blocking_pipe_never_stall_their_other_tasks() {
    let (reader, mut writer) = io::pipe().unwrap();
    let readers: Vec<_> = [reader.try_clone().unwrap(), reader]
        .into_iter()
        .map(|r| std::thread::spawn(move || read_with_a_ticker(OwnedFd::from(r))))
        .collect();
    // One byte every 500 ms: both runtimes see the pipe readable, one gets
    // the byte, the other must go back to waiting instead of sitting in a
    // blocking read(2) until the next byte.
    for byte in 1..=4u8 {
        std::thread::sleep(ms(500));
        writer.write_all(&[byte]).unwrap();
    }
    std::thread::sleep(ms(100));
    drop(writer); // end-of-file for both
    let mut all = Vec::new();
    for (i, reader) in readers.into_iter().enumerate() {
        let (got, longest) = reader.join().unwrap();
        assert!(
            longest < ms(300),
            "runtime {i}'s ticker stalled for {longest:?} (it got {got:?})"
        );
        all.extend(got);
    }
    all.sort();
    assert_eq!(all, [1, 2, 3, 4], "each byte reached exactly one reader");
}

#[test]
fn a_fifo_in_blocking_mode_is_read_without_blocking_and_keeps_its_mode() {
    let path = TempPath::new("fifo");
    rustix::fs::mkfifoat(rustix::fs::CWD, &path.0, Mode::from_raw_mode(0o600)).unwrap();
    // Opened non-blocking (a blocking open would wait for a writer), then
    // switched to blocking, as a user's FIFO would be.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(&path.0)
        .unwrap();
    fcntl_setfl(&reader, fcntl_getfl(&reader).unwrap() - OFlags::NONBLOCK).unwrap();
    assert!(!is_nonblocking(&reader));
    let writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&path.0)
        .unwrap();
    let (got, at) = with_deadline(GENEROUS, move || {
        let got = util::run_mock(TaskGroup::scope(async |tg| {
            let start = xiio::time::now();
            tg.add_task(async {
                xiio::sleep(ms(20)).await;
                xiio::io::write_all(&writer, b"through the fifo").await
            });
            let mut buf = [0; 64];
            let n = xiio::io::read(&reader, &mut buf).await?;
            Ok::<_, io::Error>((buf[..n].to_vec(), since(start)))
        }));
        assert!(!is_nonblocking(&reader), "the reader keeps its mode");
        got.unwrap()
    });
    assert_eq!(got, b"through the fifo");
    assert_eq!(at, ms(20));
}

// ---------------------------------------------------------------------------
// Other kinds of fds.
// ---------------------------------------------------------------------------

/// A new pty: (master, slave), both blocking.
fn open_pty() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    let slave = rustix::fs::open(name.as_c_str(), flags, Mode::empty()).unwrap();
    assert!(!is_nonblocking(&master) && !is_nonblocking(&slave));
    (master, slave)
}

#[test]
fn read_on_a_blocking_pty_slave_returns_what_the_master_wrote_and_leaves_it_blocking() {
    let (master, slave) = open_pty();
    let got = with_deadline(GENEROUS, move || {
        let got = xiio::run(TaskGroup::scope(async |tg| {
            tg.add_task(async {
                xiio::sleep(ms(20)).await;
                // A line: the slave is in canonical mode.
                xiio::io::write_all(&master, b"typed line\n").await
            });
            let mut buf = [0; 64];
            let n = xiio::timeout(GENEROUS, xiio::io::read(&slave, &mut buf)).await??;
            Ok::<_, io::Error>(buf[..n].to_vec())
        }))
        .unwrap();
        assert!(!is_nonblocking(&slave), "the slave keeps its mode");
        assert!(!is_nonblocking(&master));
        got
    });
    assert_eq!(got, b"typed line\n");
}

#[test]
fn read_on_a_blocking_pty_master_returns_what_the_slave_wrote() {
    // Reopening a master through /proc/self/fd would open a new pty, whose
    // reads would never see these bytes.
    let (master, slave) = open_pty();
    let got = with_deadline(GENEROUS, move || {
        let got = xiio::run(TaskGroup::scope(async |tg| {
            tg.add_task(async {
                xiio::sleep(ms(20)).await;
                xiio::io::write_all(&slave, b"output").await
            });
            let mut got = Vec::new();
            let mut buf = [0; 64];
            while got.len() < 6 {
                let n = xiio::timeout(GENEROUS, xiio::io::read(&master, &mut buf)).await??;
                got.extend_from_slice(&buf[..n]);
            }
            Ok::<_, io::Error>(got)
        }))
        .unwrap();
        assert!(!is_nonblocking(&master), "the master keeps its mode");
        assert!(!is_nonblocking(&slave));
        got
    });
    assert_eq!(got, b"output");
}

#[test]
fn read_on_a_blocking_eventfd_returns_the_counter_after_another_task_writes_it() {
    use rustix::event::{EventfdFlags, eventfd};
    let efd = eventfd(0, EventfdFlags::CLOEXEC).unwrap();
    assert!(!is_nonblocking(&efd));
    let (value, at, again, summed) = with_deadline(GENEROUS, move || {
        let result = util::run_mock(TaskGroup::scope(async |tg| {
            let start = xiio::time::now();
            tg.add_task(async {
                xiio::sleep(ms(30)).await;
                xiio::io::write(&efd, &5u64.to_ne_bytes()).await
            });
            let mut buf = [0; 8];
            assert_eq!(xiio::io::read(&efd, &mut buf).await?, 8);
            let value = u64::from_ne_bytes(buf);
            let at = since(start);
            // The read reset the counter: the next one waits.
            let again = xiio::timeout(ms(50), xiio::io::read(&efd, &mut buf)).await;
            // Two writes add up before a read.
            xiio::io::write(&efd, &2u64.to_ne_bytes()).await?;
            xiio::io::write(&efd, &3u64.to_ne_bytes()).await?;
            assert_eq!(xiio::io::read(&efd, &mut buf).await?, 8);
            Ok::<_, io::Error>((value, at, again.is_err(), u64::from_ne_bytes(buf)))
        }));
        assert!(!is_nonblocking(&efd), "the eventfd keeps its mode");
        result.unwrap()
    });
    assert_eq!(value, 5);
    assert_eq!(at, ms(30), "the read returns when the counter is written");
    assert!(again, "a read of a zero counter waits");
    assert_eq!(summed, 5, "2 + 3");
}

#[test]
fn read_and_write_on_a_blocking_std_unix_stream_pair_work_and_leave_both_blocking() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (got, at) = with_deadline(GENEROUS, move || {
        let result = util::run_mock(TaskGroup::scope(async |tg| {
            let start = xiio::time::now();
            // An echo on b that waits for a.
            tg.add_task(async {
                let mut buf = [0; 64];
                let n = xiio::io::read(&b, &mut buf).await?;
                xiio::io::write_all(&b, &buf[..n]).await
            });
            xiio::sleep(ms(15)).await;
            assert_eq!(xiio::io::write(&a, b"echo").await?, 4);
            let mut buf = [0; 64];
            let n = xiio::io::read(&a, &mut buf).await?;
            Ok::<_, io::Error>((buf[..n].to_vec(), since(start)))
        }));
        assert!(
            !is_nonblocking(&a) && !is_nonblocking(&b),
            "both keep their mode"
        );
        result.unwrap()
    });
    assert_eq!(got, b"echo");
    assert_eq!(at, ms(15));
}

#[test]
fn a_std_thread_writing_the_same_blocking_socket_meanwhile_never_gets_would_block() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let dup = a.try_clone().unwrap();
    let drainer = std::thread::spawn(move || drain(b, Duration::from_micros(200)));
    let writer = std::thread::spawn(move || {
        let mut errors = Vec::new();
        for _ in 0..64 {
            if let Err(e) = (&dup).write_all(&[b'a'; 16 * 1024]) {
                errors.push(e.to_string());
            }
        }
        errors
    });
    xiio::run(xiio::io::write_all(&a, &vec![b'x'; 2 * MIB])).unwrap();
    let errors = writer.join().unwrap();
    assert!(!is_nonblocking(&a));
    a.shutdown(std::net::Shutdown::Write).unwrap();
    let counts = drainer.join().unwrap();
    assert_eq!(errors, Vec::<String>::new(), "the blocking writer failed");
    assert_eq!(counts[b'a' as usize], 64 * 16 * 1024);
    assert_eq!(counts[b'x' as usize], 2 * MIB);
}

#[test]
fn read_on_a_regular_file_works_without_waiting() {
    let path = TempPath::new("shared-file");
    let data: Vec<u8> = (0..MIB).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path.0, &data).unwrap();
    let mut file = std::fs::File::open(&path.0).unwrap();
    let (got, took) = util::run_mock(async {
        let start = xiio::time::now();
        let mut got = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            match xiio::io::read(&file, &mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        (got, since(start))
    });
    assert!(got == data, "the file's contents, in order");
    assert_eq!(took, ms(0), "no waiting");
    assert!(!is_nonblocking(&file));
    // The reads moved the shared file position, as read(2) does.
    assert_eq!(file.stream_position().unwrap(), MIB as u64);
}
