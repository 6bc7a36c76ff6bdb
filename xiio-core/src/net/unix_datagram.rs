//! `UnixDatagram`: datagrams over a Unix socket.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use std::task::{Context, Poll};

use super::datagram::datagram_readiness_methods;
use super::unix_stream::unix_addr;
use crate::io::{Async, Interest};

/// A Unix datagram socket, sending and receiving without blocking: the
/// local-machine counterpart of [`UdpSocket`](super::UdpSocket). All
/// methods take `&self`.
///
/// # Examples
///
/// ```
/// xiio::run(async {
///     let (a, b) = xiio::net::UnixDatagram::pair()?;
///     a.send(b"one").await?;
///     a.send(b"two").await?;
///     let mut buf = [0; 16];
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"one"); // one datagram at a time
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UnixDatagram {
    /// The socket.
    io: Async<std::os::unix::net::UnixDatagram>,
}

impl UnixDatagram {
    /// A socket bound to `path` (the file stays after the socket is
    /// dropped). Here and in every method that takes a path, a path that
    /// starts with a NUL byte (`"\0name"`, as tokio spells it) names
    /// `name` in Linux's abstract namespace.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&unix_addr(path.as_ref())?)
    }

    /// A socket bound to `addr`, a path or a name in the abstract
    /// namespace.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind_addr(addr)?)
    }

    /// A socket bound to no address: it can send, and receive replies once
    /// connected.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A pair of connected sockets (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::DGRAM, flags, None)?;
        let wrap = |fd: std::os::fd::OwnedFd| -> io::Result<UnixDatagram> {
            Ok(UnixDatagram {
                io: Async::new_nonblocking(fd.into())?,
            })
        };
        Ok((wrap(a)?, wrap(b)?))
    }

    /// Sets the default destination of [`send`](UnixDatagram::send) and the
    /// only source [`recv`](UnixDatagram::recv) accepts (synchronous).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(&unix_addr(path.as_ref())?)
    }

    /// [`connect`](UnixDatagram::connect) to a path or an abstract name.
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.io.get_ref().connect_addr(addr)
    }

    /// Sends a datagram to the connected address.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram: its length (cut short to `buf`).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.recv(buf)).await
    }

    /// Sends a datagram to the socket at `path`.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let addr = unix_addr(path.as_ref())?;
        self.io.write_with(|s| s.send_to_addr(buf, &addr)).await
    }

    /// Sends a datagram to `addr`, a path or an abstract name.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.io.write_with(|s| s.send_to_addr(buf, addr)).await
    }

    /// Receives a datagram: its length and the sender's address.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.recv_from(buf)).await
    }

    datagram_readiness_methods!(SocketAddr);

    /// Sends a datagram to the socket at `path` once, without waiting (see
    /// [`send_to`](Self::send_to) for paths): the count sent, or
    /// `WouldBlock` if the buffer is full (which clears the readiness).
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let addr = unix_addr(path.as_ref())?;
        self.io
            .try_io(Interest::WRITABLE, |s| s.send_to_addr(buf, &addr))
    }

    /// The poll form of [`send_to_addr`](Self::send_to_addr).
    pub fn poll_send_to_addr(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        addr: &SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_with(cx, |s| s.send_to_addr(buf, addr))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a std socket, switching it to non-blocking mode.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Async::new(socket)?,
        })
    }

    /// Gives the std socket back, out of the reactor; it stays in
    /// non-blocking mode.
    pub fn into_std(self) -> std::os::unix::net::UnixDatagram {
        self.io.into_inner()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl TryFrom<std::os::unix::net::UnixDatagram> for UnixDatagram {
    type Error = io::Error;

    /// Same as [`UnixDatagram::from_std`].
    fn try_from(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(socket)
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}
