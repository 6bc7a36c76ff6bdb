//! `Async<F>`: an fd that xiio owns, made non-blocking once and registered
//! once.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::source::{Direction, Source};

/// An fd of any kind (a pipe end, a terminal, an eventfd, a socket made by
/// another crate) that xiio owns for as long as this lives, read and
/// written without blocking.
///
/// [`Async::new`] switches the fd to non-blocking mode (`O_NONBLOCK`) once.
/// That flag belongs to the *open file description*, which every dup of the
/// fd shares, in this process and in children that inherited it: give
/// `Async` an fd that nobody else uses in blocking mode (a pipe you made, a
/// socket), not a shared stdin or stdout (use [`xiio::read`](crate::read)
/// and [`xiio::write`](crate::write) for those, which never change the
/// mode). [`into_inner`](Async::into_inner) gives the fd back, still
/// non-blocking.
///
/// The fd is registered with the reactor once, edge-triggered for both
/// directions, the first time a task has to wait, and stays registered
/// until the `Async` is dropped (it is deregistered before the fd is
/// closed). xiio remembers per direction whether the fd may be ready:
/// while it may, operations just run, and a task waits only after one said
/// `WouldBlock`. So a read that finds data costs one `read(2)`, with no
/// `epoll_ctl` and no `fcntl`.
///
/// - [`read_with`](Async::read_with) / [`write_with`](Async::write_with)
///   run any non-blocking operation on the fd, waiting and retrying while it
///   says `WouldBlock`;
/// - [`readable`](Async::readable) / [`writable`](Async::writable) wait
///   until the fd is ready;
/// - when `&F` implements [`Read`] / [`Write`] (files, pipes, std sockets),
///   `Async<F>` and `&Async<F>` implement `futures_io::AsyncRead` /
///   `AsyncWrite`, so every futures-io crate works on them, and two tasks
///   can read and write one `Async` at once through `&`.
///
/// An `Async` is tied to the thread that uses it (it is `!Send`); to use an
/// fd on another thread, [`into_inner`](Async::into_inner) it and make a
/// new `Async` there. It may be made outside `xiio::run` and used by one
/// `xiio::run` after another.
///
/// An fd that epoll refuses because it never waits (a regular file) works
/// too: it counts as always ready.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// xiio::run(async {
///     let (reader, writer) = std::io::pipe()?;
///     let reader = xiio::Async::new(reader)?;
///     let writer = xiio::Async::new(writer)?;
///     xiio::task_group!(|tg| {
///         tg.add_task(async {
///             writer.write_with(|mut w| w.write(b"ping")).await?;
///             Ok(())
///         });
///         let mut buf = [0; 4];
///         let n = reader.read_with(|mut r| r.read(&mut buf)).await?;
///         assert_eq!(&buf[..n], b"ping");
///         Ok::<_, std::io::Error>(())
///     })
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct Async<F: AsFd> {
    /// The registration and readiness of the fd; shared with the reactor.
    source: Rc<Source>,
    /// The fd's owner; `None` only inside `into_inner` and `drop`.
    io: Option<F>,
}

impl<F: AsFd> Async<F> {
    /// Takes ownership of `io`, switching its fd to non-blocking mode (see
    /// the type's docs: the mode is shared with every dup of the fd).
    ///
    /// It need not be called inside `xiio::run`: the fd is registered with
    /// the runtime that first waits on it.
    ///
    /// # Errors
    ///
    /// The OS error if the mode cannot be set (a bad fd).
    pub fn new(io: F) -> io::Result<Async<F>> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Ok(Async::new_nonblocking(io))
    }

    /// Takes ownership of `io`, whose fd the caller made non-blocking.
    pub(crate) fn new_nonblocking(io: F) -> Async<F> {
        Async {
            source: Source::new(io.as_fd().as_raw_fd()),
            io: Some(io),
        }
    }

    /// The owned value.
    pub fn get_ref(&self) -> &F {
        self.io
            .as_ref()
            .expect("Async holds its value until dropped")
    }

    /// Gives the owned value back, after removing the fd from the reactor.
    /// The fd stays non-blocking.
    pub fn into_inner(mut self) -> F {
        self.source.deregister();
        self.io.take().expect("Async holds its value until dropped")
    }

    /// Waits until the fd is readable (or at end-of-file, or in error).
    ///
    /// When xiio last saw the fd readable, this checks with a `poll(2)` of
    /// no timeout that it still is, so a loop of `readable()` and a read
    /// that says `WouldBlock` waits instead of spinning.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Direction::Read).await
    }

    /// Waits until the fd is writable (or its peer is gone, or in error);
    /// see [`readable`](Async::readable).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Direction::Write).await
    }

    async fn ready(&self, dir: Direction) -> io::Result<()> {
        self.source.io(dir, "xiio::Async", || self.check(dir)).await
    }

    /// The poll form of [`readable`](Async::readable), for implementing
    /// poll-based traits: `Ready` once the fd is readable; otherwise `cx`
    /// is woken when it may be. Only the last task to call this (per
    /// direction) is woken.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source.poll_io(Direction::Read, cx, "xiio::Async", || {
            self.check(Direction::Read)
        })
    }

    /// The poll form of [`writable`](Async::writable); see
    /// [`poll_readable`](Async::poll_readable).
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.source
            .poll_io(Direction::Write, cx, "xiio::Async", || {
                self.check(Direction::Write)
            })
    }

    /// Whether the fd is ready for `dir` right now: `WouldBlock` if not.
    fn check(&self, dir: Direction) -> io::Result<()> {
        let flags = match dir {
            Direction::Read => PollFlags::IN,
            Direction::Write => PollFlags::OUT,
        };
        let mut fds = [PollFd::from_borrowed_fd(self.as_fd(), flags)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        rustix::event::poll(&mut fds, Some(&zero))?;
        if fds[0].revents().is_empty() {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    }

    /// Runs `op`, a non-blocking read-side operation on the fd (read,
    /// `recv`, `accept`...), until it does not return `WouldBlock`, waiting
    /// for readability in between.
    ///
    /// The operation must be non-blocking (the fd is) and must say
    /// `WouldBlock` only when it really has to wait: that is what tells xiio
    /// to wait for the next readiness edge. Any number of tasks may wait in
    /// `read_with` on one `Async` at once.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&F) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        self.source
            .io(Direction::Read, "xiio::Async::read_with", || op(io))
            .await
    }

    /// Runs `op`, a non-blocking write-side operation on the fd (write,
    /// `send`, a connect's completion...), until it does not return
    /// `WouldBlock`; see [`read_with`](Async::read_with).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&F) -> io::Result<R>) -> io::Result<R> {
        let io = self.get_ref();
        self.source
            .io(Direction::Write, "xiio::Async::write_with", || op(io))
            .await
    }

    /// The poll form of [`read_with`](Async::read_with), for poll-based
    /// traits; only the last task to call it (per direction) is woken.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&F) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.source
            .poll_io(Direction::Read, cx, "xiio::Async::poll_read_with", || {
                op(io)
            })
    }

    /// The poll form of [`write_with`](Async::write_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&F) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.source
            .poll_io(Direction::Write, cx, "xiio::Async::poll_write_with", || {
                op(io)
            })
    }

    /// Records that a read showed the kernel's buffer drained (a short read
    /// on a TCP stream), so the next read waits for an edge without a
    /// `read(2)` that would say `WouldBlock`.
    pub(crate) fn drained(&self, dir: Direction) {
        self.source.drained(dir);
    }
}

impl<F: AsFd> AsFd for Async<F> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<F: AsFd> AsRawFd for Async<F> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.source.fd()
    }
}

impl<F: AsFd> Drop for Async<F> {
    fn drop(&mut self) {
        // Out of the epoll set before the fd closes (with `io`, after this).
        self.source.deregister();
    }
}

impl<F: AsFd + fmt::Debug> fmt::Debug for Async<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Async").field(&self.io).finish()
    }
}

/// futures-io for `Async<F>` and `&Async<F>` when `&F` reads and writes:
/// one body for both, through `poll_read_with` and `poll_write_with`.
macro_rules! impl_futures_io {
    ($ty:ty) => {
        impl<F: AsFd> futures_io::AsyncRead for $ty
        where
            for<'a> &'a F: Read,
        {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_with(cx, |mut io| io.read(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_with(cx, |mut io| io.read_vectored(bufs))
            }
        }

        impl<F: AsFd> futures_io::AsyncWrite for $ty
        where
            for<'a> &'a F: Write,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_with(cx, |mut io| io.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_with(cx, |mut io| io.write_vectored(bufs))
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_write_with(cx, |mut io| io.flush())
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_flush(cx)
            }
        }
    };
}

impl_futures_io!(Async<F>);
impl_futures_io!(&Async<F>);
