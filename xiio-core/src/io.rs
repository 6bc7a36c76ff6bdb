//! Reading and writing any fd without blocking the thread.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::task::Poll;

use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use rustix::io::Errno;

use crate::Interest;
use crate::registration::FdWaiter;
use crate::runtime;

/// Reads up to `buf.len()` bytes from `fd`: the count read, `0` at
/// end-of-file.
///
/// Works on any fd as std hands it out (stdin, pipes, sockets, files), in
/// blocking mode or not, and never blocks the thread: for the duration of
/// each `read(2)`, a blocking fd is switched to non-blocking mode and then
/// back, so the fd's mode (shared with other processes, as stdin's is) is
/// left as it was. While no data is there, the task waits on the reactor.
///
/// # Examples
///
/// ```
/// use std::io::Write;
///
/// xiio::run(async {
///     let (reader, mut writer) = std::io::pipe()?;
///     writer.write_all(b"hi")?;
///     let mut buf = [0; 16];
///     let n = xiio::read(&reader, &mut buf).await?;
///     assert_eq!(&buf[..n], b"hi");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Panics
///
/// When polled outside `xiio::run`.
pub async fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd = fd.as_fd();
    retry(fd, Interest::READABLE, "xiio::read", || {
        rustix::io::read(fd, &mut *buf)
    })
    .await
}

/// Writes some of `buf` to `fd`: the count written.
///
/// Never blocks the thread; see [`read`] for how the fd's mode is handled.
/// Writing to a pipe whose reader is gone gives `BrokenPipe`.
///
/// # Panics
///
/// When polled outside `xiio::run`.
pub async fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    let fd = fd.as_fd();
    retry(fd, Interest::WRITABLE, "xiio::write", || {
        rustix::io::write(fd, buf)
    })
    .await
}

/// Writes all of `buf` to `fd`, waiting for room as needed.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// xiio::run(async {
///     let (mut reader, writer) = std::io::pipe()?;
///     xiio::write_all(&writer, b"hello").await?;
///     drop(writer);
///     let mut text = String::new();
///     reader.read_to_string(&mut text)?;
///     assert_eq!(text, "hello");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Panics
///
/// When polled outside `xiio::run`.
pub async fn write_all(fd: impl AsFd, mut buf: &[u8]) -> io::Result<()> {
    let fd = fd.as_fd();
    while !buf.is_empty() {
        match write(fd, buf).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Runs `op` without blocking until it does not say "would block", waiting
/// for `interest` on `fd` in between.
async fn retry<T>(
    fd: BorrowedFd<'_>,
    interest: Interest,
    what: &str,
    mut op: impl FnMut() -> rustix::io::Result<T>,
) -> io::Result<T> {
    runtime::with(what, |_| ());
    loop {
        match nonblocking(fd, &mut op) {
            Err(Errno::AGAIN) => ready(fd, interest, what).await?,
            Err(Errno::INTR) => {}
            other => return other.map_err(io::Error::from),
        }
    }
}

/// Runs `op` with `fd` in non-blocking mode, restoring its mode afterwards.
fn nonblocking<T>(
    fd: BorrowedFd<'_>,
    op: impl FnOnce() -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    let flags = fcntl_getfl(fd)?;
    if flags.contains(OFlags::NONBLOCK) {
        return op();
    }
    fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    let result = op();
    fcntl_setfl(fd, flags)?;
    result
}

/// Waits until `fd` is ready for `interest` (or in error).
pub(crate) async fn ready(fd: BorrowedFd<'_>, interest: Interest, what: &str) -> io::Result<()> {
    let mut waiter: Option<FdWaiter> = None;
    poll_fn(|cx| {
        runtime::with(what, |rt| {
            if waiter.is_none() {
                waiter = Some(FdWaiter::new(rt, fd.as_raw_fd(), interest, cx.waker())?);
            }
            let w = waiter.as_ref().expect("registered above");
            if w.fired(rt, interest).is_empty() {
                w.set_waker(rt, cx.waker());
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        })
    })
    .await
}
