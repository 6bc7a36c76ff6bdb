//! `TcpStream`: a TCP connection.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::stream::{self, impl_stream_traits, stream_readiness_methods};
use super::{TcpConnector, ToSocketAddrs};
use crate::io::Async;

/// A TCP connection, read and written without blocking.
///
/// Made by [`TcpStream::connect`] (or a [`TcpConnector`]), by
/// [`TcpListener::accept`](super::TcpListener::accept), or from a std
/// stream with [`from_std`](TcpStream::from_std). The socket is
/// non-blocking and registered with the reactor once for its whole life
/// (see [`Async`]).
///
/// Read and write it with the inherent async methods ([`read`](Self::read),
/// [`write_all`](Self::write_all), ...), which take `&self`, or through
/// `futures_io::AsyncRead` / `AsyncWrite`, which are implemented for
/// `TcpStream` and for `&TcpStream`. Either way, one task may read while
/// another writes the same stream, by sharing a reference: no split into
/// owned halves is needed. (Two tasks *reading* at once through the
/// futures-io traits is not useful: only the last one to wait is woken.)
///
/// Dropping the stream closes the connection. A stream is tied to its
/// thread (`!Send`): to move a connection to another thread, use
/// [`into_std`](Self::into_std) and [`from_std`](Self::from_std).
///
/// # Examples
///
/// ```
/// use xiio::net::{TcpListener, TcpStream};
///
/// xiio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     xiio::task_group!(|tg| {
///         tg.add_task(async {
///             let (conn, _) = listener.accept().await?;
///             let mut buf = [0; 5];
///             let n = conn.read(&mut buf).await?;
///             conn.write_all(&buf[..n]).await // echo
///         });
///         let stream = TcpStream::connect(addr).await?;
///         stream.write_all(b"hello").await?;
///         let mut buf = [0; 5];
///         let n = stream.read(&mut buf).await?;
///         assert_eq!(&buf[..n], b"hello");
///         Ok::<_, std::io::Error>(())
///     })
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct TcpStream {
    /// The socket.
    pub(crate) io: Async<std::net::TcpStream>,
    /// Whether the peer reset the connection.
    pub(crate) reset: stream::Reset,
}

impl_stream_traits!(TcpStream);

impl TcpStream {
    /// Connects to `addrs`: a `SocketAddr`, a `"host:port"` string, a
    /// `(host, port)` pair, or a list of addresses.
    ///
    /// A host name is resolved on the thread pool. When there are several
    /// addresses, they are tried as RFC 8305 ("happy eyeballs") says: the
    /// resolver's order with the address families interleaved, the next
    /// attempt started when one fails or after 250 ms, the first connection
    /// wins and the others are cancelled and closed. See [`TcpConnector`]
    /// to change the delay. For a connect timeout, wrap the call in
    /// [`xiio::timeout`](crate::timeout).
    ///
    /// # Errors
    ///
    /// If the lookup fails, if it finds no address (`InvalidInput`), or if
    /// every attempt fails: then the error's kind is that of the last
    /// attempt's error, its message names every address with its error,
    /// and its inner value is a [`ConnectError`](super::ConnectError).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn connect(addrs: impl ToSocketAddrs) -> io::Result<TcpStream> {
        TcpConnector::new().connect(addrs).await
    }

    /// Wraps a connected std stream, switching it to non-blocking mode.
    ///
    /// # Errors
    ///
    /// The OS error if the mode cannot be set.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Async::new(stream)?,
            reset: Default::default(),
        })
    }

    /// Gives the std stream back, out of the reactor. It stays in
    /// non-blocking mode: call `set_nonblocking(false)` to use it with
    /// blocking std I/O.
    pub fn into_std(self) -> std::net::TcpStream {
        self.io.into_inner()
    }

    /// Reads into `buf`, waiting for data: the count read, `0` once the
    /// peer closed (or shut down) its side.
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

    /// Reads into `buf` without taking the data out of the socket, waiting
    /// for data: the next read returns the same bytes.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.peek(buf)).await
    }

    stream_readiness_methods!();

    /// Shuts down the read half, the write half or both.
    /// `Shutdown::Write` is a half-close: the peer reads end-of-file, and
    /// this side can still read what the peer sends.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY`: send small writes at once instead of merging them
    /// (Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `SO_LINGER`: `Some(Duration::ZERO)` makes dropping the stream
    /// reset the connection (the peer's reads get `ConnectionReset`
    /// instead of end-of-file), as a proxy passing on an abort needs;
    /// `None` restores the normal close.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a non-zero linger: it would make the close in
    /// `drop` block the runtime's thread until the peer acknowledged the
    /// data (tokio deprecated its `set_linger` for that reason). To wait
    /// for the peer to have everything, shut down the write half and read
    /// to end-of-file.
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        if linger.is_some_and(|linger| !linger.is_zero()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a non-zero SO_LINGER would block the runtime's thread when the stream is \
                 dropped: use Some(Duration::ZERO) to reset, or shutdown(Write) and read to EOF",
            ));
        }
        Ok(rustix::net::sockopt::set_socket_linger(&self.io, linger)?)
    }

    /// The `SO_LINGER` setting; see [`set_linger`](Self::set_linger).
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        Ok(rustix::net::sockopt::socket_linger(&self.io)?)
    }

    /// Sets the IP time-to-live of outgoing packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
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

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// Same as [`TcpStream::from_std`].
    fn try_from(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(stream)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}
