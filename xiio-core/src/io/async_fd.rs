//! `Async<F>`: an fd that xiio owns, made non-blocking once and registered
//! once.

use std::cell::{Ref, RefCell};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::reactor::{Direction, Interest, Reactor, Source, SourceWait};
use crate::task::trace::Wait;
use crate::task::{context, queue};
use std::marker::PhantomData;
use std::rc::Rc;

/// An fd of any kind (a pipe end, a terminal, an eventfd, a socket made by
/// another crate) that xiio owns for as long as this lives, read and
/// written without blocking.
///
/// [`Async::new`] switches the fd to non-blocking mode (`O_NONBLOCK`) once.
/// That flag belongs to the *open file description*, which every dup of the
/// fd shares, in this process and in children that inherited it: give
/// `Async` an fd that nobody else uses in blocking mode (a pipe you made, a
/// socket), not a shared stdin or stdout (use [`read`](super::read) and
/// [`write`](super::write) for those, which never change the mode).
/// [`into_inner`](Async::into_inner) gives the fd back, still non-blocking.
///
/// The fd is registered with the reactor once, edge-triggered for both
/// directions, and stays registered until the `Async` is dropped (it is
/// deregistered before the fd is closed). One `Async` per fd and runtime:
/// a second one of an fd that is registered already gets an error, as it
/// would steal the first one's wake-ups. xiio remembers per direction whether the fd may be ready:
/// while it may, operations just run, and a task waits only after one said
/// `WouldBlock`. So a read that finds data costs one `read(2)`, with no
/// `epoll_ctl` and no `fcntl`.
///
/// - [`read_with`](Async::read_with) / [`write_with`](Async::write_with)
///   run any non-blocking operation on the fd, waiting and retrying while it
///   says `WouldBlock`;
/// - [`readable`](Async::readable) / [`writable`](Async::writable) wait
///   until the fd is ready as xiio knows it, and
///   [`try_io`](Async::try_io) runs one operation if it is (tokio's
///   readiness model: an operation's `WouldBlock` clears the readiness);
/// - when `&F` implements [`Read`] / [`Write`] (files, pipes, std sockets),
///   `Async<F>` and `&Async<F>` implement `futures_io::AsyncRead` /
///   `AsyncWrite`, so every futures-io crate works on them, and two tasks
///   can read and write one `Async` at once through `&`.
///
/// An `Async` is tied to the thread that uses it (it is `!Send`); to use an
/// fd on another thread, [`into_inner`](Async::into_inner) it and make a
/// new `Async` there. It may be made outside `xiio::run` and used by one
/// `xiio::run` after another: it moves its registration to the runtime
/// that uses it.
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
///     let reader = xiio::io::Async::new(reader)?;
///     let writer = xiio::io::Async::new(writer)?;
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
    /// The fd's registration in the runtime that last used it; `None`
    /// before any did. Declared first: dropped (out of epoll) before the
    /// fd is closed.
    source: RefCell<Option<Source>>,
    /// The fd's owner.
    io: F,
    /// Tied to its thread: dropped on another one, it could not take the
    /// fd out of its reactor.
    thread: PhantomData<Rc<()>>,
}

impl<F: AsFd> Async<F> {
    /// Takes ownership of `io`, switching its fd to non-blocking mode (see
    /// the type's docs: the mode is shared with every dup of the fd).
    ///
    /// Inside `xiio::run`, the fd is registered with the runtime at once;
    /// outside, with the runtime that first uses it.
    ///
    /// # Errors
    ///
    /// The OS error if the mode cannot be set (a bad fd), and
    /// `AlreadyExists` if another `Async` (or socket) of this runtime owns
    /// the fd already: it keeps it, and its wake-ups.
    pub fn new(io: F) -> io::Result<Async<F>> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Async::new_nonblocking(io)
    }

    /// Takes ownership of `io`, whose fd the caller made non-blocking.
    pub(crate) fn new_nonblocking(io: F) -> io::Result<Async<F>> {
        let source = match context::try_reactor() {
            Some(reactor) => Some(Source::new(&reactor, io.as_fd().as_raw_fd())?),
            None => None,
        };
        Ok(Async {
            source: RefCell::new(source),
            io,
            thread: PhantomData,
        })
    }

    /// The owned value.
    pub fn get_ref(&self) -> &F {
        &self.io
    }

    /// Gives the owned value back, after removing the fd from the reactor.
    /// The fd stays non-blocking.
    pub fn into_inner(self) -> F {
        let Async { source, io, .. } = self;
        drop(source);
        io
    }

    /// Waits until the fd is readable (or at end-of-file, or in error), as
    /// xiio knows it: readiness is cached per direction, set by the
    /// reactor's events and cleared only when an operation says
    /// `WouldBlock` (tokio's model).
    ///
    /// So this may return although nothing can be read (a false positive:
    /// someone else read the data, through this `Async` or around it). Use
    /// it with [`try_io`](Async::try_io), whose `WouldBlock` clears the
    /// readiness: a loop of `readable()` and `try_io` then waits for the
    /// next edge instead of spinning, and never waits while the kernel has
    /// data. Before the first event, this asks the kernel (a `poll(2)` of
    /// no timeout), so a fresh fd with nothing to read waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// xiio::run(async {
    ///     let (reader, mut writer) = std::io::pipe()?;
    ///     let reader = xiio::io::Async::new(reader)?;
    ///     writer.write_all(b"hello")?;
    ///     let mut buf = [0; 16];
    ///     let n = loop {
    ///         reader.readable().await?;
    ///         match reader.try_io(xiio::io::Interest::READABLE, |mut r| r.read(&mut buf)) {
    ///             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///             read => break read?,
    ///         }
    ///     };
    ///     assert_eq!(&buf[..n], b"hello");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn readable(&self) -> io::Result<()> {
        self.io(Direction::Read, || self.seen(Direction::Read))
            .await
    }

    /// Waits until the fd is writable (or its peer is gone, or in error),
    /// as xiio knows it; see [`readable`](Async::readable).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn writable(&self) -> io::Result<()> {
        self.io(Direction::Write, || self.seen(Direction::Write))
            .await
    }

    /// The poll form of [`readable`](Async::readable), for implementing
    /// poll-based traits: `Ready` once the fd is readable; otherwise `cx`
    /// is woken when it may be. Only the last task to call this (per
    /// direction) is woken.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_io(Direction::Read, cx, None, &mut || {
            self.seen(Direction::Read)
        })
    }

    /// The poll form of [`writable`](Async::writable); see
    /// [`poll_readable`](Async::poll_readable).
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_io(Direction::Write, cx, None, &mut || {
            self.seen(Direction::Write)
        })
    }

    /// Runs `op` once if the fd is ready for `interest` as xiio knows it,
    /// and returns its result; `WouldBlock` without running it if not. A
    /// `WouldBlock` from `op` clears the readiness, so the next
    /// [`readable`](Async::readable) (or `writable`) waits for an edge.
    ///
    /// `op` must be non-blocking and say `WouldBlock` only when it really
    /// has to wait (as for [`read_with`](Async::read_with)). Outside
    /// `xiio::run`, `op` just runs.
    ///
    /// # Panics
    ///
    /// If `interest` is not exactly one of `Interest::READABLE` and
    /// `Interest::WRITABLE`: a try is one operation in one direction.
    pub fn try_io<R>(
        &self,
        interest: Interest,
        op: impl FnOnce(&F) -> io::Result<R>,
    ) -> io::Result<R> {
        let dir = if interest == Interest::READABLE {
            Direction::Read
        } else if interest == Interest::WRITABLE {
            Direction::Write
        } else {
            panic!("try_io takes one direction: Interest::READABLE or Interest::WRITABLE");
        };
        let Some(reactor) = context::try_reactor() else {
            return op(&self.io);
        };
        let source = self.source(&reactor)?;
        if !source.is_ready(&reactor, dir) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = op(&self.io);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
        {
            source.clear(&reactor, dir);
        }
        result
    }

    /// For `readable()`/`writable()`, run while `dir` is cached ready: `Ok`
    /// once an event or a check has shown it ready; before that, a
    /// `poll(2)` check, whose `WouldBlock` makes the caller wait.
    fn seen(&self, dir: Direction) -> io::Result<()> {
        let reactor = context::reactor();
        let source = self.source(&reactor)?;
        if !source.seen(&reactor, dir) {
            self.check(dir)?;
            source.see(&reactor, dir);
        }
        Ok(())
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
        self.io(Direction::Read, || op(&self.io)).await
    }

    /// Runs `op`, a non-blocking write-side operation on the fd (write,
    /// `send`, a connect's completion...), until it does not return
    /// `WouldBlock`; see [`read_with`](Async::read_with).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&F) -> io::Result<R>) -> io::Result<R> {
        self.io(Direction::Write, || op(&self.io)).await
    }

    /// The poll form of [`read_with`](Async::read_with), for poll-based
    /// traits; only the last task to call it (per direction) is woken.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&F) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(Direction::Read, cx, None, &mut || op(&self.io))
    }

    /// The poll form of [`write_with`](Async::write_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&F) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(Direction::Write, cx, None, &mut || op(&self.io))
    }

    /// Runs `op` until it does not say `WouldBlock`, waiting for `dir` in
    /// between: the future form, which any number of tasks may await at
    /// once (each has a place among the direction's waiters).
    async fn io<R>(&self, dir: Direction, mut op: impl FnMut() -> io::Result<R>) -> io::Result<R> {
        let mut wait = SourceWait::default();
        poll_fn(|cx| self.poll_io(dir, cx, Some(&mut wait), &mut op)).await
    }

    /// Runs `op` while `dir` is ready; when it says `WouldBlock` (which
    /// clears the readiness), `Pending` with `cx` registered: in `wait` if
    /// given, else as the direction's one poll waker. An interrupted call
    /// is retried.
    fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut wait: Option<&mut SourceWait>,
        op: &mut impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let reactor = context::reactor();
        // An fd that is always ready (a regular file, `/dev/zero`, a
        // socket that never runs dry) must not keep the task for ever.
        std::task::ready!(queue::poll_op(cx));
        let source = match self.source(&reactor) {
            Ok(source) => source,
            Err(e) => return Poll::Ready(Err(e)),
        };
        loop {
            if source.is_ready(&reactor, dir) {
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => source.clear(&reactor, dir),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    result => return Poll::Ready(result),
                }
                continue;
            }
            let ready = match &mut wait {
                Some(wait) => wait.poll(&reactor, &source, dir, cx),
                None => source.poll_ready(&reactor, dir, cx),
            };
            if ready.is_pending() {
                let interest = match dir {
                    Direction::Read => Interest::READABLE,
                    Direction::Write => Interest::WRITABLE,
                };
                context::trace_wait(|| Wait::Fd(self.as_raw_fd(), interest));
                return Poll::Pending;
            }
        }
    }

    /// The fd's registration in `reactor`, the runtime's polling now:
    /// registered there at first use, and again if it was used by another
    /// runtime before.
    fn source(&self, reactor: &Reactor) -> io::Result<Ref<'_, Source>> {
        let here = |s: &Option<Source>| s.as_ref().is_some_and(|s| s.is_in(reactor));
        if !here(&self.source.borrow()) {
            let mut source = self.source.borrow_mut();
            *source = None; // out of the other runtime first
            *source = Some(Source::new(reactor, self.as_raw_fd())?);
        }
        Ok(Ref::map(self.source.borrow(), |s| {
            s.as_ref().expect("registered above")
        }))
    }

    /// Records that a read showed the kernel's buffer drained (a short read
    /// on a TCP stream), so the next read waits for an edge without a
    /// `read(2)` that would say `WouldBlock`.
    pub(crate) fn drained(&self, dir: Direction) {
        let source = self.source.borrow();
        if let (Some(source), Some(reactor)) = (&*source, context::try_reactor())
            && source.is_in(&reactor)
        {
            source.drained(&reactor, dir);
        }
    }
}

impl<F: AsFd> AsFd for Async<F> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl<F: AsFd> AsRawFd for Async<F> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.as_fd().as_raw_fd()
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
