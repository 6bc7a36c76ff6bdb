//! `ToSocketAddrs`: what `connect` takes, resolved without blocking.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::OnceLock;

use crate::thread::ThreadPool;

/// What [`TcpStream::connect`](super::TcpStream::connect) and
/// [`TcpConnector::connect`](super::TcpConnector::connect) take: a
/// `SocketAddr`, an `(ip, port)` pair, a `"host:port"` string, a
/// `(host, port)` pair, or a list of addresses.
///
/// Like std's `ToSocketAddrs`, but a host name is resolved on a small pool
/// of threads of its own, never on the runtime's thread, and never queued
/// behind the blocking work of [`run_blocking`](crate::thread::run_blocking)
/// (a pool full of long user jobs must not stall every connect by name).
/// Addresses written as numbers (`"127.0.0.1:8080"`, `"[::1]:8080"`) are
/// parsed at once, with no thread involved.
///
/// The trait is sealed: xiio implements it for the types std's
/// `ToSocketAddrs` covers.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// # fn takes(_: impl xiio::net::ToSocketAddrs) {}
/// takes("localhost:80");
/// takes(("localhost", 80));
/// takes(SocketAddr::from((Ipv4Addr::LOCALHOST, 80)));
/// takes((Ipv4Addr::LOCALHOST, 80));
/// takes(&[SocketAddr::from(([127, 0, 0, 1], 80))][..]);
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use std::net::SocketAddr;

    /// The hidden half of [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Sealed {
        /// The addresses, or what must be resolved to get them.
        fn to_addrs(&self) -> Addrs;
    }

    /// Addresses, known now or after a lookup.
    pub enum Addrs {
        /// Known: no lookup needed.
        Known(Vec<SocketAddr>),
        /// A `"host:port"` to look up.
        HostPort(String),
        /// A host and a port to look up.
        Host(String, u16),
    }
}

use sealed::{Addrs, Sealed};

/// Lookups at once at most: the system resolver mostly waits on the
/// network, and a program resolving more names than this at a time queues
/// them here, not behind other blocking work.
const RESOLVER_THREADS: usize = 8;

/// Resolves `addrs`, looking host names up on the resolver's own pool.
pub(crate) async fn resolve(addrs: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    static RESOLVER: OnceLock<ThreadPool> = OnceLock::new();
    let resolver = RESOLVER.get_or_init(|| ThreadPool::new(RESOLVER_THREADS));
    match addrs.to_addrs() {
        Addrs::Known(addrs) => Ok(addrs),
        Addrs::HostPort(host_port) => {
            resolver
                .run(move || Ok(host_port.to_socket_addrs()?.collect()))
                .await
        }
        Addrs::Host(host, port) => {
            resolver
                .run(move || Ok((host.as_str(), port).to_socket_addrs()?.collect()))
                .await
        }
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn to_addrs(&self) -> Addrs {
        (**self).to_addrs()
    }
}

macro_rules! known {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl Sealed for $ty {
            fn to_addrs(&self) -> Addrs {
                Addrs::Known(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

known!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
    ([u8; 4], u16),
    ([u8; 16], u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl Sealed for [SocketAddr] {
    fn to_addrs(&self) -> Addrs {
        Addrs::Known(self.to_vec())
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {}
impl Sealed for Vec<SocketAddr> {
    fn to_addrs(&self) -> Addrs {
        Addrs::Known(self.clone())
    }
}

impl<const N: usize> ToSocketAddrs for [SocketAddr; N] {}
impl<const N: usize> Sealed for [SocketAddr; N] {
    fn to_addrs(&self) -> Addrs {
        Addrs::Known(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn to_addrs(&self) -> Addrs {
        match self.parse::<SocketAddr>() {
            Ok(addr) => Addrs::Known(vec![addr]),
            Err(_) => Addrs::HostPort(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn to_addrs(&self) -> Addrs {
        self.as_str().to_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn to_addrs(&self) -> Addrs {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Addrs::Known(vec![SocketAddr::new(ip, port)]),
            Err(_) => Addrs::Host(host.to_owned(), port),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn to_addrs(&self) -> Addrs {
        (self.0.as_str(), self.1).to_addrs()
    }
}
