//! What TCP and Unix stream sockets share: reads and writes on an
//! `Async` socket that clear readiness after a short read or write, and the
//! futures-io impls for the stream types and references to them.
//!
//! A TCP stream that returns fewer bytes than asked for has drained its
//! receive buffer (and one that takes fewer bytes than offered has filled
//! its send buffer): any data that arrives later is a new epoll edge. So the
//! readiness of that direction is cleared at once, and the next read waits
//! for the edge instead of making a `read(2)` that says `EAGAIN`. An echo
//! costs one `read` and one `write` per message. A FIN or an error that
//! the last edge reported keeps the readiness (see `fd/source.rs`), so a
//! short read before the peer's FIN never hides it.
//!
//! Not so for Unix streams: the kernel ends a read early at a message that
//! carries fds (`SCM_RIGHTS`) and, with `SO_PASSCRED`, between writers with
//! different credentials, with more bytes queued and no new edge to come.
//! Nor for datagrams, listeners or terminals, where one read takes one
//! datagram, connection or line out of several.

use std::cell::Cell;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::AsFd;
use std::task::{Context, Poll};

use crate::io::{Async, Interest};
use crate::reactor::Direction;

/// Whether the peer reset the connection. The kernel reports the reset
/// (`ECONNRESET`) to one read or write and end-of-file to the next reads,
/// which every other task waiting to read would take for a clean close,
/// and a truncated transfer for a complete one. Kept here, the reset is
/// what every later read reports.
#[derive(Default)]
pub(crate) struct Reset(Cell<bool>);

impl Reset {
    /// `result` of a read, with the reset remembered and told again.
    fn read(&self, result: io::Result<usize>) -> io::Result<usize> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                self.0.set(true);
                Err(e)
            }
            Ok(0) if self.0.get() => Err(io::ErrorKind::ConnectionReset.into()),
            other => other,
        }
    }

    /// `result` of a write, with a reset remembered for the readers: the
    /// kernel may tell it to a write, and then only end-of-file to them.
    fn write<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset)
        {
            self.0.set(true);
        }
        result
    }

    /// The same for a poll.
    fn poll_read(&self, poll: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        poll.map(|result| self.read(result))
    }
}

/// A stream socket type, and whether a short read or write on it proves the
/// kernel's buffer drained or full (see the module docs).
pub(crate) trait StreamSocket {
    const SHORT_IO_DRAINS: bool;
}

impl StreamSocket for std::net::TcpStream {
    const SHORT_IO_DRAINS: bool = true;
}

impl StreamSocket for std::os::unix::net::UnixStream {
    const SHORT_IO_DRAINS: bool = false;
}

/// Reads into `buf`, waiting for data.
pub(crate) async fn read<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    buf: &mut [u8],
) -> io::Result<usize>
where
    for<'a> &'a S: Read,
{
    let len = buf.len();
    let n = reset.read(io.read_with(|mut s| s.read(buf)).await)?;
    drained(io, n, len);
    Ok(n)
}

/// Writes some of `buf`, waiting for room.
pub(crate) async fn write<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    buf: &[u8],
) -> io::Result<usize>
where
    for<'a> &'a S: Write,
{
    let n = reset.write(io.write_with(|mut s| s.write(buf)).await)?;
    filled(io, n, buf.len());
    Ok(n)
}

/// Writes all of `buf`.
pub(crate) async fn write_all<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    mut buf: &[u8],
) -> io::Result<()>
where
    for<'a> &'a S: Write,
{
    while !buf.is_empty() {
        match write(io, reset, buf).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// `AsyncRead::poll_read`.
pub(crate) fn poll_read<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Read,
{
    let len = buf.len();
    let poll = reset.poll_read(io.poll_read_with(cx, |mut s| s.read(buf)));
    if let Poll::Ready(Ok(n)) = poll {
        drained(io, n, len);
    }
    poll
}

/// `AsyncRead::poll_read_vectored`.
pub(crate) fn poll_read_vectored<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    cx: &mut Context<'_>,
    bufs: &mut [IoSliceMut<'_>],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Read,
{
    let len = bufs.iter().map(|b| b.len()).sum();
    let poll = reset.poll_read(io.poll_read_with(cx, |mut s| s.read_vectored(bufs)));
    if let Poll::Ready(Ok(n)) = poll {
        drained(io, n, len);
    }
    poll
}

/// `AsyncWrite::poll_write`.
pub(crate) fn poll_write<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Write,
{
    let poll = io
        .poll_write_with(cx, |mut s| s.write(buf))
        .map(|r| reset.write(r));
    if let Poll::Ready(Ok(n)) = poll {
        filled(io, n, buf.len());
    }
    poll
}

/// `AsyncWrite::poll_write_vectored`.
pub(crate) fn poll_write_vectored<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Write,
{
    let len = bufs.iter().map(|b| b.len()).sum();
    let poll = io
        .poll_write_with(cx, |mut s| s.write_vectored(bufs))
        .map(|r| reset.write(r));
    if let Poll::Ready(Ok(n)) = poll {
        filled(io, n, len);
    }
    poll
}

/// One read attempt, if the stream is readable as xiio knows it.
pub(crate) fn try_read<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    bufs: &mut [IoSliceMut<'_>],
) -> io::Result<usize>
where
    for<'a> &'a S: Read,
{
    let len = bufs.iter().map(|b| b.len()).sum();
    let n = reset.read(io.try_io(Interest::READABLE, |mut s| s.read_vectored(bufs)))?;
    drained(io, n, len);
    Ok(n)
}

/// One write attempt, if the stream is writable as xiio knows it.
pub(crate) fn try_write<S: AsFd + StreamSocket>(
    io: &Async<S>,
    reset: &Reset,
    bufs: &[IoSlice<'_>],
) -> io::Result<usize>
where
    for<'a> &'a S: Write,
{
    let len = bufs.iter().map(|b| b.len()).sum();
    let n = reset.write(io.try_io(Interest::WRITABLE, |mut s| s.write_vectored(bufs)))?;
    filled(io, n, len);
    Ok(n)
}

/// After a read of `n` of `len` bytes: a short read drained the buffer.
fn drained<S: AsFd + StreamSocket>(io: &Async<S>, n: usize, len: usize) {
    if S::SHORT_IO_DRAINS && n > 0 && n < len {
        io.drained(Direction::Read);
    }
}

/// After a write of `n` of `len` bytes: a short write filled the buffer.
fn filled<S: AsFd + StreamSocket>(io: &Async<S>, n: usize, len: usize) {
    if S::SHORT_IO_DRAINS && n > 0 && n < len {
        io.drained(Direction::Write);
    }
}

/// Implements futures-io's `AsyncRead` and `AsyncWrite` for a stream type
/// (with an `io: Async<_>` field and a `shutdown` method) and for shared
/// references to it, so that two tasks can read and write one stream at
/// once. Closing shuts the write half down: the peer reads end-of-file.
macro_rules! impl_stream_traits {
    ($ty:ty) => {
        impl_stream_traits!(@impl $ty);
        impl_stream_traits!(@impl &$ty);
    };
    (@impl $ty:ty) => {
        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_read(&self.io, &self.reset, cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_read_vectored(&self.io, &self.reset, cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_write(&self.io, &self.reset, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                $crate::net::stream::poll_write_vectored(&self.io, &self.reset, cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                // A socket has no user-space buffer to flush.
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }
    };
}

pub(crate) use impl_stream_traits;

/// The readiness methods of a stream type (with `io: Async<_>` and
/// `reset` fields), in tokio's spelling, inside its `impl` block.
macro_rules! stream_readiness_methods {
    () => {
        $crate::net::readiness::readiness_methods!(
            try_read,
            try_write,
            poll_read_ready,
            poll_write_ready
        );

        /// Reads into `buf` once, without waiting: the count read, `0` at
        /// end-of-file, `WouldBlock` if there is nothing to read now
        /// (which clears the readiness, so the next
        /// [`readable`](Self::readable) waits for data).
        pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.try_read_vectored(&mut [std::io::IoSliceMut::new(buf)])
        }

        /// [`try_read`](Self::try_read) into several buffers, in order.
        pub fn try_read_vectored(
            &self,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::io::Result<usize> {
            $crate::net::stream::try_read(&self.io, &self.reset, bufs)
        }

        /// Writes some of `buf` once, without waiting: the count written,
        /// `WouldBlock` if the send buffer is full (which clears the
        /// readiness, so the next [`writable`](Self::writable) waits for
        /// room).
        pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.try_write_vectored(&[std::io::IoSlice::new(buf)])
        }

        /// [`try_write`](Self::try_write) from several buffers, in order.
        pub fn try_write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            $crate::net::stream::try_write(&self.io, &self.reset, bufs)
        }
    };
}

pub(crate) use stream_readiness_methods;
