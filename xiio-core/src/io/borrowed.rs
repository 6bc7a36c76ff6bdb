//! Reading and writing an fd that xiio does not own, without blocking the
//! thread and without changing the fd's mode.
//!
//! `O_NONBLOCK` belongs to the open file description, which every dup of
//! the fd shares, in every thread and every child process that inherited
//! it (a terminal's stdin and stdout, a pipe passed to a child). Switching
//! it on, even for the length of one call, makes a concurrent blocking
//! `write(2)` elsewhere fail with `EAGAIN`. So these functions never touch
//! it. Instead each call picks a per-call means that cannot block even when
//! another thread or process races for the same data or room (readiness
//! alone is not enough: between "readable" and `read(2)` someone else may
//! take the data):
//!
//! 1. sockets: `recv`/`send` with `MSG_DONTWAIT`;
//! 2. regular files, block devices: a plain call (epoll refuses them; they
//!    never wait for a peer);
//! 3. pipes, FIFOs and anything else: `preadv2`/`pwritev2` with
//!    `RWF_NOWAIT`, where the kernel honours it (pipes since Linux 5.x);
//! 4. otherwise, if the fd is non-blocking already, a plain call;
//! 5. otherwise, for FIFOs and terminals, a second open file description of
//!    the same file, opened non-blocking through `/proc/self/fd` for the
//!    length of the call;
//! 6. otherwise (an eventfd or a device in blocking mode), waiting for
//!    readiness and then a plain call, which can block if another reader
//!    races for the same data: wrap such an fd in [`Async`](super::Async).
//!
//! This costs an `fstat` per call (and an `open`/`close` in case 5): fine
//! for one-off use of stdin or a pipe. Fds used for long, such as sockets,
//! belong in an owning wrapper (`Async`, the `net` types), which sets
//! `O_NONBLOCK` once and keeps one epoll registration.

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, IsTerminal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::task::{Context, Poll};

use rustix::fs::{FileType, Mode, OFlags, fcntl_getfl, fstat, major, minor};
use rustix::io::{Errno, ReadWriteFlags};
use rustix::net::{RecvFlags, SendFlags};

use crate::reactor::{FdWait, Interest};
use crate::task::trace::Wait;
use crate::task::{context, queue};

/// Reads up to `buf.len()` bytes from `fd`: the count read, `0` at
/// end-of-file.
///
/// Works on any fd as std hands it out (stdin, pipes, sockets, files), in
/// blocking mode or not, never blocks the thread, and never changes the
/// fd's mode (`O_NONBLOCK` is shared with every dup of the fd, in other
/// threads and in child processes). While no data is there, the task waits
/// on the reactor. Each call uses a means that cannot block even when
/// another thread or process races for the same data: `MSG_DONTWAIT` on a
/// socket, `RWF_NOWAIT` on a pipe (Linux 5.x and later), a second,
/// non-blocking open file description of a FIFO or terminal (through
/// `/proc/self/fd`), a plain read on a regular file or on an fd that is
/// non-blocking already. For an fd none of these apply to (an eventfd in
/// blocking mode), it waits for readiness and then reads, which could block
/// if another reader took the data first: wrap such an fd in
/// [`Async`](super::Async), which is also cheaper for an fd used for long
/// (this function costs an `fstat` per call).
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
///     let n = xiio::io::read(&reader, &mut buf).await?;
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
    let mut calls = Calls::default();
    poll_fn(|cx| calls.poll_read(fd, cx, buf)).await
}

/// Writes some of `buf` to `fd`: the count written.
///
/// Never blocks the thread and never changes the fd's mode; see [`read`].
/// Writing to a pipe whose reader is gone gives `BrokenPipe`.
///
/// # Panics
///
/// When polled outside `xiio::run`.
pub async fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    let fd = fd.as_fd();
    let mut calls = Calls::default();
    poll_fn(|cx| calls.poll_write(fd, cx, buf)).await
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
///     xiio::io::write_all(&writer, b"hello").await?;
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
    // One choice of means for the whole buffer, not one per chunk.
    let mut calls = Calls::default();
    while !buf.is_empty() {
        match poll_fn(|cx| calls.poll_write(fd, cx, buf)).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Whether a call reads or writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

impl Access {
    fn interest(self) -> Interest {
        match self {
            Access::Read => Interest::READABLE,
            Access::Write => Interest::WRITABLE,
        }
    }
}

/// How one call reads or writes a borrowed fd without blocking; see the
/// module docs for the order in which they are tried.
enum Way {
    /// `recv`/`send` with `MSG_DONTWAIT`.
    Socket,
    /// A plain call on an fd that never waits for a peer (regular file,
    /// block device, directory).
    File,
    /// `preadv2`/`pwritev2` with `RWF_NOWAIT`.
    NoWait,
    /// A plain call on an fd that is non-blocking already.
    NonBlocking,
    /// A plain call on a non-blocking open file description of the same
    /// file, opened for this call.
    Reopened(OwnedFd),
    /// A plain call once the fd is ready; see the module docs.
    ReadinessOnly,
}

/// What a `Way` returned: done, or wait for readiness and call again.
type Step<T> = Result<T, Errno>;

impl Way {
    /// Picks the first means for `fd`; `NoWait` may fall back later.
    fn of(fd: BorrowedFd<'_>) -> io::Result<Way> {
        let stat = fstat(fd)?;
        Ok(match FileType::from_raw_mode(stat.st_mode) {
            FileType::Socket => Way::Socket,
            FileType::RegularFile | FileType::BlockDevice | FileType::Directory => Way::File,
            _ => Way::NoWait,
        })
    }

    /// The means to use once `RWF_NOWAIT` turned out to be unsupported.
    fn fallback(fd: BorrowedFd<'_>, access: Access) -> io::Result<Way> {
        if fcntl_getfl(fd)?.contains(OFlags::NONBLOCK) {
            return Ok(Way::NonBlocking);
        }
        if reopenable(fd)? {
            let mode = match access {
                Access::Read => OFlags::RDONLY,
                Access::Write => OFlags::WRONLY,
            };
            let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            let flags = mode | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
            match rustix::fs::open(path, flags, Mode::empty()) {
                Ok(reopened) => return Ok(Way::Reopened(reopened)),
                // A FIFO opened for writing without a reader: what a write
                // to the original would say.
                Err(Errno::NXIO) if access == Access::Write => {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                // No /proc, or no permission on the file: the last resort.
                Err(_) => {}
            }
        }
        Ok(Way::ReadinessOnly)
    }

    fn read(&self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> Step<usize> {
        match self {
            Way::Socket => rustix::net::recv(fd, &mut *buf, RecvFlags::DONTWAIT).map(|(n, _)| n),
            Way::File | Way::NonBlocking | Way::ReadinessOnly => rustix::io::read(fd, buf),
            Way::NoWait => rustix::io::preadv2(
                fd,
                &mut [IoSliceMut::new(buf)],
                u64::MAX, // the current position, as read(2)
                ReadWriteFlags::NOWAIT,
            ),
            Way::Reopened(own) => rustix::io::read(own, buf),
        }
    }

    fn write(&self, fd: BorrowedFd<'_>, buf: &[u8]) -> Step<usize> {
        match self {
            Way::Socket => rustix::net::send(fd, buf, SendFlags::DONTWAIT | SendFlags::NOSIGNAL),
            Way::File | Way::NonBlocking | Way::ReadinessOnly => rustix::io::write(fd, buf),
            Way::NoWait => {
                rustix::io::pwritev2(fd, &[IoSlice::new(buf)], u64::MAX, ReadWriteFlags::NOWAIT)
            }
            Way::Reopened(own) => rustix::io::write(own, buf),
        }
    }
}

/// True for fds that can safely get a second open file description through
/// `/proc/self/fd`: FIFOs (pipes included) and terminals, but not a pty
/// master, whose reopening would make a new pty.
fn reopenable(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let stat = fstat(fd)?;
    Ok(match FileType::from_raw_mode(stat.st_mode) {
        FileType::Fifo => true,
        FileType::CharacterDevice => {
            let (maj, min) = (major(stat.st_rdev), minor(stat.st_rdev));
            // 5:2 is /dev/ptmx; major 2 the old BSD pty masters.
            let pty_master = (maj, min) == (5, 2) || maj == 2;
            fd.is_terminal() && !pty_master
        }
        _ => false,
    })
}

/// The calls made on one borrowed fd: the means chosen for it (made at
/// the first call, kept for the next ones) and the wait for readiness in
/// progress. A one-off call makes one; a stream of calls such as
/// [`Stdin`](super::Stdin) keeps one.
#[derive(Default)]
pub(crate) struct Calls {
    /// The means; `None` until the first call.
    way: Option<Way>,
    /// The wait for readiness, while there is one.
    wait: Option<FdWait>,
    /// True if the next attempt must wait for readiness first.
    must_wait: bool,
}

impl Calls {
    /// Reads into `buf` once data is there, without blocking.
    pub(crate) fn poll_read(
        &mut self,
        fd: BorrowedFd<'_>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll(fd, Access::Read, cx, |way, fd| way.read(fd, buf))
    }

    /// Writes some of `buf` once there is room, without blocking.
    pub(crate) fn poll_write(
        &mut self,
        fd: BorrowedFd<'_>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll(fd, Access::Write, cx, |way, fd| way.write(fd, buf))
    }

    /// Runs `op` with the fd's means until it does not say "would block",
    /// waiting for `access` in between.
    fn poll<T>(
        &mut self,
        fd: BorrowedFd<'_>,
        access: Access,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&Way, BorrowedFd<'_>) -> Step<T>,
    ) -> Poll<io::Result<T>> {
        // Also when the call would not need to wait: a leaf future outside
        // `xiio::run` fails the same way every time.
        let reactor = context::reactor();
        let interest = access.interest();
        loop {
            let waited = std::mem::take(&mut self.must_wait);
            if waited {
                let poll = FdWait::poll(&mut self.wait, &reactor, fd.as_raw_fd(), interest, cx);
                if poll.is_pending() {
                    self.must_wait = true;
                    context::trace_wait(|| Wait::Fd(fd.as_raw_fd(), interest));
                    return Poll::Pending;
                }
                // A wait stays fired: the next one is a new wait.
                self.wait = None;
                if let Poll::Ready(Err(e)) = poll {
                    return Poll::Ready(Err(e));
                }
            }
            let way = match &mut self.way {
                Some(way) => way,
                None => match Way::of(fd) {
                    Ok(way) => self.way.insert(way),
                    Err(e) => return Poll::Ready(Err(e)),
                },
            };
            if matches!(way, Way::ReadinessOnly) && !waited {
                self.must_wait = true;
                continue;
            }
            // A file that is always ready must not keep the task for ever.
            std::task::ready!(queue::poll_op(cx));
            match op(way, fd) {
                Err(Errno::AGAIN) => self.must_wait = true,
                Err(Errno::INTR) => {}
                // No `RWF_NOWAIT` for this file (or this kernel).
                Err(Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS)
                    if matches!(way, Way::NoWait) =>
                {
                    match Way::fallback(fd, access) {
                        Ok(way) => self.way = Some(way),
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                other => return Poll::Ready(other.map_err(io::Error::from)),
            }
        }
    }
}

/// Waits until `fd` is ready for `interest` (or in error).
pub(crate) async fn ready(fd: BorrowedFd<'_>, interest: Interest) -> io::Result<()> {
    let mut wait = None;
    poll_fn(|cx| {
        let reactor = context::reactor();
        let poll = FdWait::poll(&mut wait, &reactor, fd.as_raw_fd(), interest, cx);
        if poll.is_pending() {
            context::trace_wait(|| Wait::Fd(fd.as_raw_fd(), interest));
        }
        poll
    })
    .await
}
