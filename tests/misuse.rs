//! Bad input and misuse (DESIGN.md §6): clear panics for misuse, OS errors
//! (never hangs or panics) for bad fds.

mod util;

use std::convert::Infallible;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use rustix::io::Errno;
use rustix::process::{Resource, getrlimit};
use xiio::{Condition, Interest, TaskGroup};

use util::{ms, panic_message, run_mock, since};

// ---------------------------------------------------------------------------
// A leaf future polled outside `xiio::run` panics and says what to do.
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "xiio::sleep must be awaited inside xiio::run")]
fn sleep_polled_outside_run_panics() {
    futures::executor::block_on(xiio::sleep(ms(10)));
}

#[test]
#[should_panic(
    expected = "must be awaited inside xiio::run, or wrapped in xiio::compat::on_executor"
)]
fn sleep_until_polled_outside_run_panics_and_names_the_alternative() {
    futures::executor::block_on(xiio::sleep_until(Instant::now() + ms(10)));
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn read_polled_outside_run_panics() {
    let (reader, _writer) = io::pipe().unwrap();
    let mut buf = [0; 8];
    let _ = futures::executor::block_on(xiio::read(&reader, &mut buf));
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn write_polled_outside_run_panics() {
    let (_reader, writer) = io::pipe().unwrap();
    let _ = futures::executor::block_on(xiio::write(&writer, b"x"));
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn write_all_polled_outside_run_panics() {
    let (_reader, writer) = io::pipe().unwrap();
    let _ = futures::executor::block_on(xiio::write_all(&writer, b"x"));
}

#[test]
#[should_panic(expected = "xiio::Condition must be awaited inside xiio::run")]
fn condition_polled_outside_run_panics() {
    let (reader, _writer) = io::pipe().unwrap();
    let _ = futures::executor::block_on(async {
        Condition::new().readable(&reader).timeout(ms(10)).await
    });
}

#[test]
fn leaf_futures_outside_run_panic_even_when_they_would_be_ready() {
    // Data is there and the deadline has passed: still a misuse, reported
    // the same way, never silently "working" on one machine only.
    let (reader, writer) = io::pipe().unwrap();
    std::io::Write::write_all(&mut &writer, b"x").unwrap();
    let mut buf = [0; 8];
    type Case<'a> = (&'static str, Box<dyn FnOnce() + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            "read",
            Box::new(|| {
                let _ = futures::executor::block_on(xiio::read(&reader, &mut buf));
            }),
        ),
        (
            "sleep",
            Box::new(|| futures::executor::block_on(xiio::sleep(ms(0)))),
        ),
        (
            "condition",
            Box::new(|| {
                let _ = futures::executor::block_on(
                    Condition::new()
                        .readable(&reader)
                        .timeout(ms(0))
                        .into_future(),
                );
            }),
        ),
    ];
    for (name, case) in cases {
        let payload = catch_unwind(AssertUnwindSafe(case))
            .expect_err(&format!("{name} outside run must panic"));
        let message = panic_message(&*payload);
        assert!(
            message.contains("must be awaited inside xiio::run"),
            "{name}: {message}"
        );
    }
}

// ---------------------------------------------------------------------------
// `xiio::run` inside a running runtime panics with a clear message.
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "xiio::run called inside a running runtime")]
fn run_nested_inside_a_running_runtime_panics() {
    xiio::run(async {
        xiio::run(async { 1 });
    });
}

#[test]
#[should_panic(expected = "xiio::run called inside a running runtime")]
fn builder_run_nested_inside_a_child_panics() {
    run_mock(TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::Builder::new().mock_clock(true).run(async {});
        });
        Ok::<_, Infallible>(())
    }))
    .unwrap();
}

#[test]
fn run_nested_panic_leaves_the_outer_runtime_working() {
    let (message, elapsed) = run_mock(async {
        let start = xiio::now();
        let payload = catch_unwind(|| xiio::run(async { 1 })).unwrap_err();
        // The outer runtime is still this thread's runtime and still works.
        xiio::sleep(ms(100)).await;
        (panic_message(&*payload), since(start))
    });
    assert!(message.contains("xiio::run called inside a running runtime"));
    assert!(message.contains("await the future instead"), "{message}");
    assert_eq!(elapsed, ms(100));
}

// ---------------------------------------------------------------------------
// Adding to a group that has finished panics and says what to do.
// ---------------------------------------------------------------------------

#[test]
#[should_panic(expected = "TaskGroup::add_task called on a group that has finished")]
fn add_task_on_a_finished_group_panics() {
    run_mock(async {
        let escaped = TaskGroup::scope(async |tg| Ok::<_, Infallible>(tg.clone()))
            .await
            .unwrap();
        escaped.add_task(async {});
    });
}

// ---------------------------------------------------------------------------
// Bad fds give the OS error as `io::Error`: no panic, no hang.
// ---------------------------------------------------------------------------

/// The number of an fd that was open and is now closed.
///
/// Taken from high up (above what the other tests of this binary use) so
/// that no concurrent test reopens it meanwhile.
fn closed_fd_number() -> RawFd {
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(1024);
    let min = (soft.min(1 << 20) * 3 / 4) as RawFd;
    let (reader, _writer) = io::pipe().unwrap();
    let high = rustix::io::fcntl_dupfd_cloexec(&reader, min).unwrap();
    let raw = high.as_raw_fd();
    drop(high); // closed, behind the back of whoever still has the number
    raw
}

#[xiio::test(mock_clock)]
async fn read_and_write_on_a_closed_fd_give_ebadf() {
    let raw = closed_fd_number();
    // SAFETY: deliberately not safe in the I/O-safety sense: the fd number is
    // closed, which is the bad input under test. Nothing else in this
    // process uses the number (see `closed_fd_number`), and xiio only hands
    // it to syscalls, which answer EBADF.
    let closed = unsafe { BorrowedFd::borrow_raw(raw) };
    let start = xiio::now();
    let mut buf = [0; 8];
    let error = xiio::read(closed, &mut buf).await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::write(closed, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::write_all(closed, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = Condition::new()
        .readable(&closed)
        .timeout(ms(10))
        .await
        .unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    assert_eq!(since(start), ms(0), "errors come at once");
}

#[xiio::test(mock_clock)]
async fn condition_with_one_bad_fd_fails_and_leaves_the_good_ones_usable() -> io::Result<()> {
    let raw = closed_fd_number();
    // SAFETY: as in `read_and_write_on_a_closed_fd_give_ebadf`.
    let closed = unsafe { BorrowedFd::borrow_raw(raw) };
    let (reader, writer) = io::pipe()?;
    let error = Condition::new()
        .readable(&reader)
        .writable(&writer)
        .readable(&closed)
        .await
        .unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    // The registrations of the good fds were undone: they work as before.
    let fired = Condition::new().writable(&writer).await?;
    assert!(fired.is_writable(&writer));
    xiio::write_all(&writer, b"ok").await?;
    let fired = Condition::new().readable(&reader).await?;
    assert_eq!(fired.readiness(&reader), Some(Interest::READABLE));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn read_on_a_pipes_write_end_and_write_on_its_read_end_give_errors() {
    let (reader, writer) = io::pipe().unwrap();
    let mut buf = [0; 8];
    let error = xiio::read(&writer, &mut buf).await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::write(&reader, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::write_all(&reader, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
}

#[xiio::test(mock_clock)]
async fn read_on_a_directory_gives_an_error() {
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    let mut buf = [0; 8];
    let error = xiio::read(&dir, &mut buf).await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::ISDIR.raw_os_error()));
}

#[xiio::test(mock_clock)]
async fn dev_null_which_epoll_refuses_works() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let start = xiio::now();
    assert_eq!(xiio::write(&null, b"discarded").await?, 9);
    let mut buf = [0; 8];
    assert_eq!(xiio::read(&null, &mut buf).await?, 0, "EOF");
    let fired = Condition::new()
        .readable(&null)
        .writable(&null)
        .timeout(ms(100))
        .await?;
    assert!(fired.is_readable(&null) && fired.is_writable(&null));
    assert_eq!(since(start), ms(0));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn the_same_fd_given_twice_as_different_types_is_one_fd() -> io::Result<()> {
    // `&PipeReader` and `BorrowedFd` of the same fd merge in a Condition.
    let (reader, _writer) = io::pipe()?;
    let borrowed = reader.as_fd();
    let c = Condition::new().readable(&reader).writable(&borrowed);
    assert_eq!(
        c.interest(&reader),
        Some(Interest::READABLE | Interest::WRITABLE)
    );
    Ok(())
}
