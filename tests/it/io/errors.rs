//! Bad input and misuse of fd I/O: a leaf future polled outside
//! `xiio::run` panics and says what to do; a bad fd gives its OS error at
//! once, never a panic or a hang; fds that epoll refuses, or that two
//! types name, work.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use xiio::io::{Condition, Interest};

use crate::util::{ms, panic_message, since};

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn read_polled_outside_run_panics() {
    let (reader, _writer) = io::pipe().unwrap();
    let mut buf = [0; 8];
    let _ = futures::executor::block_on(xiio::io::read(&reader, &mut buf));
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn write_polled_outside_run_panics() {
    let (_reader, writer) = io::pipe().unwrap();
    let _ = futures::executor::block_on(xiio::io::write(&writer, b"x"));
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn write_all_polled_outside_run_panics() {
    let (_reader, writer) = io::pipe().unwrap();
    let _ = futures::executor::block_on(xiio::io::write_all(&writer, b"x"));
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn condition_polled_outside_run_panics() {
    let (reader, _writer) = io::pipe().unwrap();
    let _ = futures::executor::block_on(async {
        Condition::new()
            .readable(&reader)
            .deadline_after(ms(10))
            .await
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
                let _ = futures::executor::block_on(xiio::io::read(&reader, &mut buf));
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
                        .deadline_after(ms(0))
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
// Bad fds give the OS error as `io::Error`: no panic, no hang.
// ---------------------------------------------------------------------------

/// An fd that is open but good for no I/O (`O_PATH`): every read, write
/// and epoll registration of it says `EBADF`, as for a closed fd number,
/// without the unsafe code a closed number would take to borrow.
fn bad_fd() -> OwnedFd {
    rustix::fs::open(".", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap()
}

#[xiio::test(mock_clock)]
async fn read_and_write_on_a_bad_fd_give_ebadf() {
    let bad = bad_fd();
    let closed = bad.as_fd();
    let start = xiio::time::now();
    let mut buf = [0; 8];
    let error = xiio::io::read(closed, &mut buf).await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::io::write(closed, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::io::write_all(closed, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = Condition::new()
        .readable(&closed)
        .deadline_after(ms(10))
        .await
        .unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    assert_eq!(since(start), ms(0), "errors come at once");
}

#[xiio::test(mock_clock)]
async fn condition_with_one_bad_fd_fails_and_leaves_the_good_ones_usable() -> io::Result<()> {
    let bad = bad_fd();
    let closed = bad.as_fd();
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
    xiio::io::write_all(&writer, b"ok").await?;
    let fired = Condition::new().readable(&reader).await?;
    assert_eq!(fired.readiness(&reader), Some(Interest::READABLE));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn read_on_a_pipes_write_end_and_write_on_its_read_end_give_errors() {
    let (reader, writer) = io::pipe().unwrap();
    let mut buf = [0; 8];
    let error = xiio::io::read(&writer, &mut buf).await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::io::write(&reader, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
    let error = xiio::io::write_all(&reader, b"x").await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::BADF.raw_os_error()));
}

#[xiio::test(mock_clock)]
async fn read_on_a_directory_gives_an_error() {
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    let mut buf = [0; 8];
    let error = xiio::io::read(&dir, &mut buf).await.unwrap_err();
    assert_eq!(error.raw_os_error(), Some(Errno::ISDIR.raw_os_error()));
}

#[xiio::test(mock_clock)]
async fn dev_null_which_epoll_refuses_works() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let start = xiio::time::now();
    assert_eq!(xiio::io::write(&null, b"discarded").await?, 9);
    let mut buf = [0; 8];
    assert_eq!(xiio::io::read(&null, &mut buf).await?, 0, "EOF");
    let fired = Condition::new()
        .readable(&null)
        .writable(&null)
        .deadline_after(ms(100))
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
