//! Sockets: TCP, UDP and Unix, each an owning wrapper on [`Async`].
//!
//! Every socket here is non-blocking from the start and registered with
//! the reactor once for its whole life (see [`Async`]): reading data that
//! is there costs one `read(2)`, and waiting for more costs no syscall of
//! its own, only the run loop's shared `epoll_wait`.
//!
//! - [`TcpListener`] (with [`ListenOptions`] for `SO_REUSEPORT` and the
//!   backlog) and [`TcpStream`]; [`TcpConnector`] connects to a host with
//!   several addresses as RFC 8305 ("happy eyeballs") says.
//! - [`UdpSocket`].
//! - [`UnixListener`], [`UnixStream`], [`UnixDatagram`]: paths and Linux's
//!   abstract namespace.
//!
//! The stream types implement `futures_io::AsyncRead` and `AsyncWrite`, for
//! the type and for a shared reference to it, and the listeners'
//! [`incoming`](TcpListener::incoming) connections are a
//! `futures_core::Stream`: crates built on futures-io work with them as
//! they are.
//!
//! Readiness follows tokio's model: each socket caches whether it is
//! readable and writable, set by the reactor's events and cleared only when
//! an operation says `WouldBlock`. The async operations (`read`, `send`...)
//! wait and retry on their own; for code that drives the socket itself,
//! `readable()`/`writable()` report the cached readiness (which can be a
//! false positive) and the `try_*` operations (`try_read`, `try_write`,
//! `try_recv`, `try_send`, `try_recv_from`, `try_send_to`, `try_io`) make
//! one attempt each, so a loop of `readable()` and `try_read` never spins
//! and never waits while the kernel has data or room. Datagram sockets
//! have the `poll_*` forms too.
//!
//! Unix socket paths that start with a NUL byte (`"\0name"`) name `name`
//! in Linux's abstract namespace, as in tokio; `bind_addr` and
//! `connect_addr` take a `std::os::unix::net::SocketAddr` for the same.
//!
//! Bad input and peers behave as the OS says, with one exception: a reset
//! connection gives `ConnectionReset` to every task waiting to read it and
//! to every later read, where the kernel tells the reset to one read and
//! end-of-file to the others (a reset taken for a clean close hides a
//! truncated transfer). A closed connection gives end-of-file (`Ok(0)`);
//! nothing panics or hangs.
//!
//! # Examples
//!
//! ```
//! use xiio::net::{TcpListener, TcpStream};
//!
//! xiio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     xiio::task_group!(|tg| {
//!         tg.add_task(async {
//!             let (stream, _) = listener.accept().await?;
//!             stream.write_all(b"hello").await
//!         });
//!         let stream = TcpStream::connect(addr).await?;
//!         let mut buf = [0; 5];
//!         stream.read(&mut buf).await?;
//!         assert_eq!(&buf, b"hello");
//!         Ok::<_, std::io::Error>(())
//!     })
//! })?;
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! [`Async`]: crate::io::Async

mod addrs;
mod connect;
mod datagram;
mod readiness;
pub(crate) mod stream;
mod tcp_listener;
mod tcp_stream;
mod udp_socket;
mod unix_datagram;
mod unix_listener;
mod unix_stream;

pub use addrs::ToSocketAddrs;
pub use connect::{ConnectError, TcpConnector};
pub use tcp_listener::{Incoming, ListenOptions, TcpListener};
pub use tcp_stream::TcpStream;
pub use udp_socket::UdpSocket;
pub use unix_datagram::UnixDatagram;
pub use unix_listener::{UnixIncoming, UnixListener};
pub use unix_stream::UnixStream;
