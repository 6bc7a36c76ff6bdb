//! `UnixListener` and its `UnixIncoming` stream.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::UnixStream;
use super::unix_stream::{to_rustix, unix_addr};
use crate::io::Async;

/// The backlog of a Unix listener, as for TCP.
const BACKLOG: i32 = 1024;

/// A Unix stream socket listening for connections: the local-machine
/// counterpart of [`TcpListener`](super::TcpListener).
///
/// Binding to a path creates the socket file, which stays after the
/// listener is dropped (remove it yourself, as with std); a name in the
/// abstract namespace ([`bind_addr`](UnixListener::bind_addr)) leaves
/// nothing behind.
///
/// # Examples
///
/// ```
/// use xiio::net::{UnixListener, UnixStream};
///
/// xiio::run(async {
///     let path = std::env::temp_dir().join(format!("xiio-doc-{}.sock", std::process::id()));
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server.read(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     std::fs::remove_file(&path)?;
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UnixListener {
    /// The socket.
    io: Async<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens (backlog 1024). May be called outside
    /// `xiio::run`. A path that starts with a NUL byte (`"\0name"`, as
    /// tokio spells it) names `name` in Linux's abstract namespace, as
    /// [`bind_addr`](Self::bind_addr) with an abstract address does.
    ///
    /// # Errors
    ///
    /// The OS error: `AddrInUse` if the file exists, ...
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        listen(&to_rustix(&unix_addr(path.as_ref())?)?)
    }

    /// Binds to `addr`, a path or a name in the abstract namespace, and
    /// listens.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        listen(&to_rustix(addr)?)
    }

    /// Accepts a connection: the stream and the peer's address (usually
    /// unnamed).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        self.io.read_with(accept).await
    }

    /// The poll form of [`accept`](UnixListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.io.poll_read_with(cx, accept)
    }

    /// The incoming connections as a `futures_core::Stream` of
    /// `io::Result<UnixStream>`, which never ends.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a listening std socket, switching it to non-blocking mode.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Async::new(listener)?,
        })
    }

    /// Gives the std listener back, out of the reactor; it stays in
    /// non-blocking mode.
    pub fn into_std(self) -> std::os::unix::net::UnixListener {
        self.io.into_inner()
    }
}

/// A non-blocking listening socket bound to `addr`.
fn listen(addr: &SocketAddrUnix) -> io::Result<UnixListener> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let socket = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, flags, None)?;
    rustix::net::bind(&socket, addr)?;
    rustix::net::listen(&socket, BACKLOG)?;
    Ok(UnixListener {
        io: Async::new_nonblocking(socket.into())?,
    })
}

/// One `accept`; the new socket is made non-blocking.
fn accept(listener: &std::os::unix::net::UnixListener) -> io::Result<(UnixStream, SocketAddr)> {
    // std's accept gives the peer's address as std spells it (unnamed ones
    // included), and sets close-on-exec.
    let (stream, peer) = listener.accept()?;
    Ok((UnixStream::from_std(stream)?, peer))
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl TryFrom<std::os::unix::net::UnixListener> for UnixListener {
    type Error = io::Error;

    /// Same as [`UnixListener::from_std`].
    fn try_from(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        UnixListener::from_std(listener)
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// The connections of a [`UnixListener`], as a `futures_core::Stream`;
/// made by [`UnixListener::incoming`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl futures_core::Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|result| Some(result.map(|(stream, _)| stream)))
    }
}
