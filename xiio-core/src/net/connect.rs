//! `TcpConnector`: connecting to a host with several addresses as RFC 8305
//! ("happy eyeballs") says, and `ConnectError`, the error naming each
//! failed attempt.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Poll, Waker};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::addrs::resolve;
use super::{TcpStream, ToSocketAddrs};
use crate::TaskGroup;
use crate::io::Async;
use crate::time::Sleep;

/// The RFC 8305 "Connection Attempt Delay": how long an attempt runs alone
/// before the next one starts beside it.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects TCP streams, with settings; [`TcpStream::connect`] is
/// `TcpConnector::new().connect(addrs)`.
///
/// When a name resolves to several addresses (typically IPv6 and IPv4
/// ones), they are tried as RFC 8305 says:
///
/// - in the resolver's order, but with the two families interleaved
///   (first address of the first one's family, then the first of the other
///   family, then the second of the first family, ...);
/// - one attempt at a time, except that the next attempt starts as soon as
///   one fails, or when the current one has run for the *attempt delay*
///   (250 ms by default) without an answer, so that an address that
///   silently drops packets costs 250 ms, not a TCP timeout;
/// - all attempts run in one task group: the first connection wins, and the
///   attempts still running are cancelled and their sockets closed;
/// - if every attempt fails, the error names each address and its error.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use xiio::net::{TcpConnector, TcpListener};
///
/// xiio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let port = listener.local_addr()?.port();
///     let connector = TcpConnector::new().attempt_delay(Duration::from_millis(100));
///     // "localhost" may resolve to ::1 and 127.0.0.1: whichever answers wins.
///     let stream = connector.connect(("localhost", port)).await?;
///     assert_eq!(stream.peer_addr()?.port(), port);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TcpConnector {
    /// How long an attempt runs alone before the next starts.
    attempt_delay: Duration,
}

impl Default for TcpConnector {
    fn default() -> TcpConnector {
        TcpConnector::new()
    }
}

impl TcpConnector {
    /// A connector with RFC 8305's recommended attempt delay, 250 ms.
    pub fn new() -> TcpConnector {
        TcpConnector {
            attempt_delay: ATTEMPT_DELAY,
        }
    }

    /// Sets how long an attempt runs alone before the next one starts
    /// (RFC 8305 recommends 250 ms, and at least 100 ms).
    pub fn attempt_delay(mut self, delay: Duration) -> TcpConnector {
        self.attempt_delay = delay;
        self
    }

    /// Connects to `addrs`, resolved on the thread pool if it holds a host
    /// name; see the type's docs for how several addresses are tried.
    ///
    /// # Errors
    ///
    /// If the lookup fails, if it finds no address (`InvalidInput`), or if
    /// every attempt fails: then the error's kind is that of the last
    /// attempt's error, its message names every address and its error, and
    /// its inner value is a [`ConnectError`].
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn connect(&self, addrs: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut addrs = resolve(&addrs).await?;
        dedup(&mut addrs);
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any address",
            ));
        }
        if let [addr] = addrs[..] {
            return connect_addr(addr).await.map_err(|e| {
                let kind = e.kind();
                io::Error::new(
                    kind,
                    ConnectError {
                        attempts: vec![(addr, e)],
                    },
                )
            });
        }
        let addrs = interleave(addrs);
        let race = Race {
            failures: RefCell::new(Vec::new()),
            winner: RefCell::new(None),
            done: Cell::new(0),
            waker: RefCell::new(None),
        };
        let delay = self.attempt_delay;
        TaskGroup::scope(async |tg| {
            let mut attempts = Vec::with_capacity(addrs.len());
            for (index, &addr) in addrs.iter().enumerate() {
                let race = &race;
                attempts.push(tg.add_task(async move { race.attempt(index, addr).await }));
                if index + 1 < addrs.len() {
                    // The next attempt starts when any attempt fails or after
                    // the delay; none starts once one has won.
                    let failed = race.failures.borrow().len();
                    race.wait(Some(crate::sleep(delay)), |race| {
                        race.failures.borrow().len() > failed
                    })
                    .await;
                    if race.winner.borrow().is_some() {
                        break;
                    }
                }
            }
            let started = attempts.len();
            race.wait(None, |race| race.done.get() == started).await;
            // The winner's rivals still running are dropped, closing their
            // sockets, before the group returns.
            attempts.iter().for_each(|attempt| attempt.cancel());
            Ok::<_, Infallible>(())
        })
        .await
        .unwrap_or_else(|never| match never {});
        if let Some(stream) = race.winner.take() {
            return Ok(stream);
        }
        let mut failures = race.failures.take();
        failures.sort_by_key(|&(index, ..)| index);
        let attempts: Vec<_> = failures.into_iter().map(|(_, a, e)| (a, e)).collect();
        let kind = attempts
            .last()
            .map_or(io::ErrorKind::Other, |(_, e)| e.kind());
        Err(io::Error::new(kind, ConnectError { attempts }))
    }
}

/// The shared state of the attempts of one `connect`.
struct Race {
    /// Failed attempts: their index in the order of attempts, address and
    /// error.
    failures: RefCell<Vec<(usize, SocketAddr, io::Error)>>,
    /// The first connection made.
    winner: RefCell<Option<TcpStream>>,
    /// How many attempts ended (failed or won).
    done: Cell<usize>,
    /// The group's body, waiting for an attempt to end.
    waker: RefCell<Option<Waker>>,
}

impl Race {
    /// One attempt: reports its result, and wakes the body.
    async fn attempt(&self, index: usize, addr: SocketAddr) {
        let result = connect_addr(addr).await;
        match result {
            Ok(stream) => {
                let mut winner = self.winner.borrow_mut();
                if winner.is_none() {
                    *winner = Some(stream);
                }
                // A second connection at the same moment is dropped here.
            }
            Err(e) => self.failures.borrow_mut().push((index, addr, e)),
        }
        self.done.set(self.done.get() + 1);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Waits until an attempt has won, `until` holds, or `sleep` ended.
    async fn wait(&self, sleep: Option<Sleep>, until: impl Fn(&Race) -> bool) {
        let mut sleep = sleep.map(Box::pin);
        poll_fn(|cx| {
            if self.winner.borrow().is_some() || until(self) {
                return Poll::Ready(());
            }
            if let Some(sleep) = &mut sleep
                && sleep.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(());
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// One connection attempt to one address.
pub(crate) async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let socket = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
    match rustix::net::connect(&socket, &addr) {
        // In progress, or interrupted (it goes on in the background).
        Ok(()) | Err(Errno::INPROGRESS | Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    // From here on, dropping (cancelling) the attempt closes the socket.
    let io = Async::new_nonblocking(std::net::TcpStream::from(socket))?;
    // The connect is done when the socket turns writable; then `SO_ERROR`
    // says how it went.
    io.write_with(|stream| {
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        match stream.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(TcpStream {
        io,
        reset: Default::default(),
    })
}

/// Removes repeated addresses, keeping the first of each.
fn dedup(addrs: &mut Vec<SocketAddr>) {
    let mut seen = Vec::with_capacity(addrs.len());
    addrs.retain(|addr| {
        let new = !seen.contains(addr);
        seen.push(*addr);
        new
    });
}

/// Interleaves the address families (RFC 8305 §4), keeping the order within
/// each: the first address's family first.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs[0].is_ipv6();
    let (first, other): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(first.len() + other.len());
    let (mut first, mut other) = (first.into_iter(), other.into_iter());
    loop {
        match (first.next(), other.next()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Why a connect failed: every address tried, each with its error, in the
/// order they were tried. The inner value of the `io::Error` that
/// [`TcpStream::connect`] returns when every attempt failed.
///
/// # Examples
///
/// ```
/// use std::net::TcpListener;
///
/// xiio::run(async {
///     // A port nobody listens on: bound, then closed.
///     let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
///     let err = xiio::net::TcpStream::connect(addr).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
///     let inner = err.get_ref().unwrap().downcast_ref::<xiio::net::ConnectError>().unwrap();
///     assert_eq!(inner.attempts()[0].0, addr);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ConnectError {
    /// Each address tried, with its error.
    attempts: Vec<(SocketAddr, io::Error)>,
}

impl ConnectError {
    /// Each address tried, with its error, in the order they were tried.
    pub fn attempts(&self) -> &[(SocketAddr, io::Error)] {
        &self.attempts
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attempts.as_slice() {
            [(addr, e)] => write!(f, "could not connect to {addr}: {e}"),
            attempts => {
                f.write_str("could not connect to any address: ")?;
                for (i, (addr, e)) in attempts.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{addr}: {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.attempts.last().map(|(_, e)| e as _)
    }
}
