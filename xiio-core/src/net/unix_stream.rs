//! `UnixStream`: a connection over a Unix socket.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::stream::{self, impl_stream_traits, stream_readiness_methods};
use crate::io::Async;

/// A connection over a Unix stream socket, read and written without
/// blocking: the local-machine counterpart of
/// [`TcpStream`](super::TcpStream), with the same methods and the same
/// futures-io impls (for `UnixStream` and for `&UnixStream`, so one task
/// may read while another writes).
///
/// Addresses are paths, or on Linux names in the abstract namespace
/// ([`connect_addr`](UnixStream::connect_addr) with a
/// `std::os::unix::net::SocketAddr` made by `SocketAddrExt::from_abstract_name`).
///
/// # Examples
///
/// ```
/// xiio::run(async {
///     let (a, b) = xiio::net::UnixStream::pair()?;
///     a.write_all(b"hello").await?;
///     let mut buf = [0; 5];
///     let n = b.read(&mut buf).await?;
///     assert_eq!(&buf[..n], b"hello");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UnixStream {
    /// The socket.
    pub(crate) io: Async<std::os::unix::net::UnixStream>,
    /// Whether the peer reset the connection.
    pub(crate) reset: stream::Reset,
}

impl_stream_traits!(UnixStream);

impl UnixStream {
    /// Connects to the socket at `path`; a path that starts with a NUL
    /// byte (`"\0name"`) names `name` in the abstract namespace.
    ///
    /// A Unix connect does not wait for the listener to accept: it
    /// succeeds at once while the listener's backlog has room.
    ///
    /// # Errors
    ///
    /// The OS error: `NotFound` for no such file, `ConnectionRefused` if
    /// nobody listens there, and `WouldBlock` if the listener's backlog is
    /// full (a non-blocking Unix connect cannot wait for room).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        connect(&to_rustix(&unix_addr(path.as_ref())?)?).await
    }

    /// Connects to `addr`: a path, or a name in the abstract namespace.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// xiio::run(async {
    ///     let name = format!("xiio-doc-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let listener = xiio::net::UnixListener::bind_addr(&addr)?;
    ///     let client = xiio::net::UnixStream::connect_addr(&addr).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     server.read(&mut buf).await?;
    ///     assert_eq!(&buf, b"hi");
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixStream::connect); `InvalidInput` for an unnamed
    /// address.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        connect(&to_rustix(addr)?).await
    }

    /// A pair of connected streams (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
        Ok((
            UnixStream::from_fd(a.into())?,
            UnixStream::from_fd(b.into())?,
        ))
    }

    fn from_fd(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Async::new_nonblocking(stream)?,
            reset: Default::default(),
        })
    }

    /// Wraps a connected std stream, switching it to non-blocking mode.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Async::new(stream)?,
            reset: Default::default(),
        })
    }

    /// Gives the std stream back, out of the reactor; it stays in
    /// non-blocking mode.
    pub fn into_std(self) -> std::os::unix::net::UnixStream {
        self.io.into_inner()
    }

    /// Reads into `buf`, waiting for data: the count read, `0` once the
    /// peer closed or shut down its side.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        stream::read(&self.io, &self.reset, buf).await
    }

    /// Writes some of `buf`, waiting for room: the count written.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        stream::write(&self.io, &self.reset, buf).await
    }

    /// Writes all of `buf`.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        stream::write_all(&self.io, &self.reset, buf).await
    }

    stream_readiness_methods!();

    /// Shuts down the read half, the write half or both;
    /// `Shutdown::Write` lets the peer read end-of-file.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }
}

/// A non-blocking connect to `addr`.
async fn connect(addr: &SocketAddrUnix) -> io::Result<UnixStream> {
    crate::task::context::reactor();
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let socket = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
    rustix::net::connect(&socket, addr)?;
    UnixStream::from_fd(socket.into())
}

/// The address a path names: a file, or, for a path whose first byte is
/// NUL (tokio's and Python's spelling, `"\0name"`), the name after it in
/// Linux's abstract namespace.
pub(crate) fn unix_addr(path: &Path) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    match path.as_os_str().as_bytes() {
        [0, name @ ..] => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(path),
    }
}

/// A std Unix address as rustix takes it.
pub(crate) fn to_rustix(addr: &SocketAddr) -> io::Result<SocketAddrUnix> {
    if let Some(path) = addr.as_pathname() {
        return Ok(SocketAddrUnix::new(path)?);
    }
    if let Some(name) = addr.as_abstract_name() {
        return Ok(SocketAddrUnix::new_abstract_name(name)?);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "an unnamed Unix socket address cannot be connected to",
    ))
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// Same as [`UnixStream::from_std`].
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        UnixStream::from_std(stream)
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}
