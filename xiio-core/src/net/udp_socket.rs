//! `UdpSocket`: datagrams over IP.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use std::task::{Context, Poll};

use super::datagram::datagram_readiness_methods;
use crate::io::{Async, Interest};

/// A UDP socket, sending and receiving datagrams without blocking.
///
/// [`bind`](UdpSocket::bind) and [`connect`](UdpSocket::connect) are
/// synchronous, like std's (neither sends anything); sending and receiving
/// wait for room or for a datagram. All methods take `&self`, so any number
/// of tasks may send and receive on one socket at once.
///
/// # Examples
///
/// ```
/// use xiio::net::UdpSocket;
///
/// xiio::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0")?;
///     let b = UdpSocket::bind("127.0.0.1:0")?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct UdpSocket {
    /// The socket.
    io: Async<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, like std's `UdpSocket::bind` (port 0 picks a free
    /// port). May be called outside `xiio::run`.
    pub fn bind(addr: impl std::net::ToSocketAddrs) -> io::Result<UdpSocket> {
        UdpSocket::from_std(std::net::UdpSocket::bind(addr)?)
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts, like std's.
    pub fn connect(&self, addr: impl std::net::ToSocketAddrs) -> io::Result<()> {
        self.io.get_ref().connect(addr)
    }

    /// Sends a datagram to the connected address: the count sent.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram from the connected address: its length (a
    /// datagram longer than `buf` is cut short).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.recv(buf)).await
    }

    /// Sends a datagram to `target`: the count sent.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn send_to(&self, buf: &[u8], target: impl Into<SocketAddr>) -> io::Result<usize> {
        let target = target.into();
        self.io.write_with(|s| s.send_to(buf, target)).await
    }

    /// Receives a datagram: its length and where it came from.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.recv_from(buf)).await
    }

    /// Receives the next datagram without taking it from the queue: its
    /// length and where it came from.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.read_with(|s| s.peek_from(buf)).await
    }

    /// Receives the next datagram from the connected address without taking
    /// it from the queue.
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|s| s.peek(buf)).await
    }

    datagram_readiness_methods!(SocketAddr);

    /// Sends a datagram to `target` once, without waiting: the count sent,
    /// or `WouldBlock` if the buffer is full (which clears the readiness).
    pub fn try_send_to(&self, buf: &[u8], target: impl Into<SocketAddr>) -> io::Result<usize> {
        let target = target.into();
        self.io
            .try_io(Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// The poll form of [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_with(cx, |s| s.send_to(buf, target))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `SO_BROADCAST`: whether datagrams may go to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets the IP time-to-live of outgoing datagrams.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing datagrams.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`Ipv4Addr::UNSPECIFIED`: the default one).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0: the default one).
    pub fn join_multicast_v6(&self, multiaddr: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().join_multicast_v6(&multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, multiaddr: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v6(&multiaddr, interface)
    }

    /// Sets whether IPv4 multicast datagrams sent come back to this host.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether IPv4 multicast datagrams sent come back to this host.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// Sets the time-to-live of IPv4 multicast datagrams.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The time-to-live of IPv4 multicast datagrams.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Sets whether IPv6 multicast datagrams sent come back to this host.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v6(on)
    }

    /// Whether IPv6 multicast datagrams sent come back to this host.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v6()
    }

    /// Takes the pending socket error (`SO_ERROR`), if any: for example an
    /// ICMP "port unreachable" for an earlier datagram, on a connected
    /// socket.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    /// Wraps a std socket, switching it to non-blocking mode.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Async::new(socket)?,
        })
    }

    /// Gives the std socket back, out of the reactor; it stays in
    /// non-blocking mode.
    pub fn into_std(self) -> std::net::UdpSocket {
        self.io.into_inner()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl TryFrom<std::net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    /// Same as [`UdpSocket::from_std`].
    fn try_from(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_std(socket)
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}
