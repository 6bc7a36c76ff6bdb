//! `TcpListener`, its `Incoming` stream, and `ListenOptions`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};

use super::TcpStream;
use crate::io::Async;

/// The backlog of [`TcpListener::bind`]: how many connections the kernel
/// completes and queues for `accept` (as tokio's; Linux caps it at
/// `net.core.somaxconn`).
const BACKLOG: u32 = 1024;

/// A TCP socket listening for connections.
///
/// [`bind`](TcpListener::bind) is synchronous, like std's (it makes no
/// network round trip); [`accept`](TcpListener::accept) waits for a
/// connection. [`incoming`](TcpListener::incoming) is the same as a
/// `futures_core::Stream`.
///
/// **Running out of fds.** When the process has no fd left (`EMFILE`,
/// `ENFILE`), `accept` returns that error and the connection stays in the
/// kernel's queue; the runtime does not spin on the listener meanwhile.
/// The usual answer is to back off for a moment, and to keep handling the
/// connections already open, which will free fds:
///
/// ```
/// # #[allow(dead_code)]
/// # async fn serve(listener: xiio::net::TcpListener) -> std::io::Result<()> {
/// use std::time::Duration;
///
/// loop {
///     match listener.accept().await {
///         Ok((stream, _peer)) => drop(stream), // hand it to a task
///         // ENFILE (23) or EMFILE (24): try again in a while.
///         Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
///             xiio::sleep(Duration::from_millis(100)).await;
///         }
///         Err(e) => return Err(e),
///     }
/// }
/// # }
/// ```
///
/// # Examples
///
/// A server whose connections live in its task group:
///
/// ```no_run
/// use xiio::net::TcpListener;
///
/// #[xiio::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:8080")?;
///     xiio::task_group!(|tg| {
///         loop {
///             let (stream, _peer) = listener.accept().await?;
///             tg.add_task(async move {
///                 let mut buf = [0; 1024];
///                 loop {
///                     let n = stream.read(&mut buf).await?;
///                     if n == 0 {
///                         return Ok(());
///                     }
///                     stream.write_all(&buf[..n]).await?;
///                 }
///             });
///         }
///     })
/// }
/// ```
pub struct TcpListener {
    /// The socket.
    io: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens, like std's `TcpListener::bind`: each
    /// address `addr` resolves to is tried until one binds (a host name is
    /// resolved synchronously, as std does; pass an IP address to avoid
    /// that). Port 0 picks a free port: see
    /// [`local_addr`](TcpListener::local_addr).
    ///
    /// `SO_REUSEADDR` is set, as std sets it, and the backlog is 1024. For
    /// other settings (`SO_REUSEPORT`), see [`ListenOptions`].
    ///
    /// May be called outside `xiio::run`.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (`AddrInUse`, ...), or
    /// `InvalidInput` if `addr` resolves to no address.
    pub fn bind(addr: impl std::net::ToSocketAddrs) -> io::Result<TcpListener> {
        ListenOptions::new().bind(addr)
    }

    /// Accepts a connection: the stream and the peer's address.
    ///
    /// Cancel-safe: a connection is taken from the kernel's queue only
    /// when this returns it.
    ///
    /// # Errors
    ///
    /// The OS error of `accept(2)`, such as `EMFILE` (see the type's docs).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.io.read_with(accept).await
    }

    /// The poll form of [`accept`](TcpListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.io.poll_read_with(cx, accept)
    }

    /// The incoming connections as a `futures_core::Stream` of
    /// `io::Result<TcpStream>`, which never ends (an error is an item).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use futures::StreamExt;
    ///
    /// # xiio::run(async {
    /// let listener = xiio::net::TcpListener::bind("127.0.0.1:8080")?;
    /// let mut incoming = listener.incoming();
    /// while let Some(stream) = incoming.next().await {
    ///     let stream = stream?;
    ///     stream.write_all(b"hello\n").await?;
    /// }
    /// # Ok::<_, std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets the IP time-to-live of accepted connections' packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a listening std socket, switching it to non-blocking mode.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Async::new(listener)?,
        })
    }

    /// Gives the std listener back, out of the reactor; it stays in
    /// non-blocking mode.
    pub fn into_std(self) -> std::net::TcpListener {
        self.io.into_inner()
    }
}

/// One `accept4(2)`, making the new socket non-blocking and close-on-exec
/// in the same call.
fn accept(listener: &std::net::TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let (fd, peer) = rustix::net::acceptfrom_with(listener, flags)?;
    let stream = TcpStream {
        io: Async::new_nonblocking(std::net::TcpStream::from(fd))?,
        reset: Default::default(),
    };
    let peer = match peer.map(SocketAddr::try_from) {
        Some(Ok(peer)) => peer,
        // Not reported with the connection (never for TCP); ask for it.
        _ => stream.peer_addr()?,
    };
    Ok((stream, peer))
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// Same as [`TcpListener::from_std`].
    fn try_from(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// The connections of a [`TcpListener`], as a `futures_core::Stream`;
/// made by [`TcpListener::incoming`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|result| Some(result.map(|(stream, _)| stream)))
    }
}

/// Settings for a [`TcpListener`] beyond what [`TcpListener::bind`] does:
/// the backlog, and `SO_REUSEPORT`, with which several listeners (one per
/// thread, each with its own `xiio::run`) bind the same port and the kernel
/// spreads the connections over them.
///
/// # Examples
///
/// ```
/// use xiio::net::ListenOptions;
///
/// let options = ListenOptions::new().reuse_port(true);
/// let first = options.bind("127.0.0.1:0")?;
/// let second = options.bind(first.local_addr()?)?; // the same port
/// assert_eq!(first.local_addr()?, second.local_addr()?);
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// `listen(2)`'s backlog.
    backlog: u32,
    /// Whether to set `SO_REUSEPORT`.
    reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions::new()
    }
}

impl ListenOptions {
    /// The settings of [`TcpListener::bind`]: backlog 1024, `SO_REUSEADDR`,
    /// no `SO_REUSEPORT`.
    pub fn new() -> ListenOptions {
        ListenOptions {
            backlog: BACKLOG,
            reuse_port: false,
        }
    }

    /// Sets how many connections the kernel queues for `accept` (capped by
    /// `net.core.somaxconn`). When the queue is full, new connections get
    /// no answer until there is room.
    pub fn backlog(mut self, backlog: u32) -> ListenOptions {
        self.backlog = backlog;
        self
    }

    /// Sets `SO_REUSEPORT`: listeners that all set it may bind the same
    /// address, and the kernel balances connections across them.
    pub fn reuse_port(mut self, reuse: bool) -> ListenOptions {
        self.reuse_port = reuse;
        self
    }

    /// Binds to `addr` and listens; see [`TcpListener::bind`].
    pub fn bind(&self, addr: impl std::net::ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match self.bind_one(addr) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any address",
            )
        }))
    }

    fn bind_one(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
        let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
        sockopt::set_socket_reuseaddr(&socket, true)?;
        if self.reuse_port {
            sockopt::set_socket_reuseport(&socket, true)?;
        }
        rustix::net::bind(&socket, &addr)?;
        let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
        rustix::net::listen(&socket, backlog)?;
        Ok(TcpListener {
            io: Async::new_nonblocking(std::net::TcpListener::from(socket))?,
        })
    }
}
