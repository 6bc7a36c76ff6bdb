//! Helpers for the socket tests: addresses that refuse, listeners that
//! never answer, and a look at the kernel's connection table.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{AddressFamily, SocketType};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use xiio::net::{ListenOptions, TcpListener};

/// An address where a connect is refused at once: a TCP socket bound to it
/// but not listening (so no other test can take the port meanwhile), which
/// answers a SYN with a RST.
pub struct RefusingAddr {
    _socket: OwnedFd,
    addr: SocketAddr,
}

impl RefusingAddr {
    pub fn new() -> RefusingAddr {
        RefusingAddr::on("127.0.0.1:0".parse().unwrap())
    }

    /// Bound to `addr` (port 0 picks one).
    pub fn on(addr: SocketAddr) -> RefusingAddr {
        let family = if addr.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        let socket = rustix::net::socket(family, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&socket, &addr).unwrap();
        let addr = rustix::net::getsockname(&socket)
            .unwrap()
            .try_into()
            .unwrap();
        RefusingAddr {
            _socket: socket,
            addr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A listener whose accept queue is full, so the kernel drops every new
/// SYN: a connect to it neither succeeds nor fails (for minutes, while the
/// client retransmits).
pub struct HangingListener {
    listener: TcpListener,
    /// The connections that fill the queue; never accepted.
    _fillers: Vec<TcpStream>,
}

impl HangingListener {
    pub fn new() -> HangingListener {
        let listener = ListenOptions::new().backlog(0).bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        // With a backlog of 0 the queue holds one connection; connect until
        // one gets no answer.
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => fillers.push(stream),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the accept queue of {addr}: {e}"),
            }
            assert!(
                fillers.len() < 16,
                "the accept queue of {addr} does not fill up"
            );
        }
        HangingListener {
            listener,
            _fillers: fillers,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }
}

/// How many sockets of this machine are in the middle of connecting
/// (`SYN_SENT`) to `addr`, from `/proc/net/tcp` and `/proc/net/tcp6`.
pub fn connecting_to(addr: SocketAddr) -> usize {
    let (file, remote) = match addr {
        SocketAddr::V4(a) => (
            "/proc/net/tcp",
            format!(
                "{:08X}:{:04X}",
                u32::from_le_bytes(a.ip().octets()),
                a.port()
            ),
        ),
        SocketAddr::V6(a) => {
            let words: String = a
                .ip()
                .octets()
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_le_bytes(w.try_into().unwrap())))
                .collect();
            ("/proc/net/tcp6", format!("{words}:{:04X}", a.port()))
        }
    };
    let table = std::fs::read_to_string(file).unwrap();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<_> = line.split_whitespace().collect();
            // sl local_address rem_address st ...; st 02 is SYN_SENT.
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"02")
        })
        .count()
}

/// Raises this process's fd limit to at least `n` (up to the hard limit).
///
/// # Panics
///
/// If the hard limit is below `n`, saying so.
pub fn raise_fd_limit(n: usize) {
    let n = n as u64;
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= n {
        return;
    }
    let maximum = limit.maximum.unwrap_or(u64::MAX);
    assert!(
        maximum >= n,
        "this test needs {n} fds, and the hard limit (ulimit -Hn) is {maximum}"
    );
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(n),
            maximum: limit.maximum,
        },
    )
    .unwrap();
}
