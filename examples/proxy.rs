//! A TCP forwarder: each client accepted on `--listen` gets a connection
//! of its own to `--to`, and bytes are copied both ways at once until both
//! directions have ended. What a forwarder needs beyond the copy:
//!
//! - **Half-close passed on**: when one side shuts down its writing, the
//!   proxy does the same to the other side and goes on copying the other
//!   way, so a client that sends a request and half-closes gets the answer.
//! - **A peer that has gone away ends one direction**, not the connection
//!   (`copy` says why).
//! - **An idle timeout per connection, not per read**: a connection where
//!   no byte moved either way for `--idle-timeout-ms` is closed; a long
//!   download is not, however quiet the client.
//! - **A connection limit**, `--max-connections`: more clients wait in the
//!   kernel's listen backlog, costing nothing here.
//! - **Graceful shutdown** on Ctrl-C (SIGINT) or SIGTERM, as in
//!   `examples/echo.rs`: stop accepting, give the open connections 5 s,
//!   then close those still open. A panic ends its connection only.
//!
//! ```text
//! cargo run --example echo                    # an upstream on 127.0.0.1:7878
//! cargo run --example proxy -- --listen 127.0.0.1:7000 --to 127.0.0.1:7878
//! nc 127.0.0.1 7000                           # echo, through the proxy
//! ```
//!
//! Defaults: `--idle-timeout-ms 300000`, `--max-connections 256`. With
//! `--self-test` it runs upstreams, proxies and clients in this process and
//! checks each point above but the shutdown (tests/it/examples.rs does):
//! `cargo run --example proxy -- --self-test`.

use std::cell::Cell;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use futures::AsyncReadExt;
use xiio::TaskGroup;
use xiio::net::{TcpListener, TcpStream};
use xiio::signal::{self, SIGINT, SIGTERM};
use xiio::sync::{Promise, Semaphore};
use xiio::task::catch_panic;

/// How long, after a stop, open connections get to finish.
const DRAIN: Duration = Duration::from_secs(5);
/// How long the upstream may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Each direction's buffer.
const BUF_SIZE: usize = 16 * 1024;

/// A proxy's settings, from the command line.
struct Config {
    /// Where connections go: `host:port`, resolved for each connection.
    upstream: String,
    /// How long a connection may go with no byte moving either way.
    idle_timeout: Duration,
    /// How many connections may be open at once.
    max_connections: usize,
}

#[xiio::main]
async fn main() -> io::Result<()> {
    let mut listen = None;
    let mut config = Config {
        upstream: String::new(),
        idle_timeout: Duration::from_secs(300),
        max_connections: 256,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| usage(&format!("no value for {arg}")))
        };
        match arg.as_str() {
            "--self-test" => return self_test().await,
            "--listen" => listen = Some(value()?),
            "--to" => config.upstream = value()?,
            "--idle-timeout-ms" => config.idle_timeout = Duration::from_millis(number(value()?)?),
            "--max-connections" => config.max_connections = number(value()?)?,
            _ => return Err(usage(&format!("unknown argument {arg}"))),
        }
    }
    let listen = listen.ok_or_else(|| usage("no --listen"))?;
    if config.upstream.is_empty() || config.max_connections == 0 {
        return Err(usage("no --to, or --max-connections 0"));
    }

    // Subscribed first, so that no Ctrl-C is missed.
    let mut signals = xiio::signal::subscribe_signals(&[SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(listen.as_str())?;
    let pid = std::process::id();
    let (addr, to) = (listener.local_addr()?, config.upstream.clone());
    println!("listening on {addr}, forwarding to {to} (pid {pid})");

    let stop = Promise::new();
    xiio::task_group!(|tg| {
        let mut server = tg.add_task(serve(listener, config, stop.wait()));
        let received = signals.recv().await?;
        drop(signals); // from here on, a second Ctrl-C ends the program at once
        let name = signal::name(received).unwrap_or("a signal");
        println!("{name}: stopping; open connections get {DRAIN:?} to finish");
        let _ = stop.set(());
        if xiio::timeout(DRAIN, &mut server).await.is_err() {
            println!("drain deadline passed: closing the connections still open");
            server.cancel();
        }
        Ok::<_, io::Error>(())
    })?;
    println!("all connections closed, exiting");
    Ok(())
}

/// The error for a bad command line: `problem`, and the usage.
fn usage(problem: &str) -> io::Error {
    let usage = "proxy --listen ADDR --to ADDR [--idle-timeout-ms MS] [--max-connections N]";
    let message = format!("{problem}; usage: {usage}, or proxy --self-test");
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A number from the command line.
fn number<T: std::str::FromStr>(value: String) -> io::Result<T> {
    value
        .parse()
        .map_err(|_| usage(&format!("not a number: {value}")))
}

/// Proxies the clients of `listener` until `stop` completes, then waits
/// for the open connections to finish. The connections are children of
/// this function's group: cancelling it closes them all.
async fn serve(
    listener: TcpListener,
    config: Config,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let limit = Semaphore::new(config.max_connections);
    xiio::task_group!(|tg| {
        let accepting = tg.add_task(accept_loop(listener, &config, &limit, tg));
        stop.await;
        // The accept loop owns the listener: cancelling it closes the
        // listener, so new clients are refused rather than left queued.
        accepting.cancel();
        println!("stopped accepting; {} connection(s) open", tg.len() - 1);
        Ok(())
    })
}

/// Accepts clients and adds each connection to the group `tg`.
async fn accept_loop<'s, 'e>(
    listener: TcpListener,
    config: &'e Config,
    limit: &'e Semaphore,
    tg: &'s TaskGroup<'s, 'e, io::Error>,
) -> io::Result<()> {
    loop {
        // A permit first, then `accept`: beyond the limit, clients wait in
        // the kernel's backlog (bounded, and costing no memory or fd
        // here) rather than as sockets accepted and held.
        let permit = limit.acquire().await;
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of fds (ENFILE 23, EMFILE 24): the open connections will
            // free some; try again in a moment.
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                println!("accept: {e}; pausing");
                xiio::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        tg.add_task(async move {
            let _permit = permit; // given back when this connection ends
            let traffic = Traffic {
                peer,
                up: Cell::new(0),
                down: Cell::new(0),
                last_active: Cell::new(xiio::time::now()),
            };
            // An error, or a panic in this connection's code, ends this
            // connection only: returned (or let through), it would fail
            // the group and close every other connection.
            let end = match catch_panic(connection(client, config, &traffic)).await {
                Ok(Ok(())) => "done".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(panicked) => format!("a bug: {panicked}"),
            };
            let (up, down) = (traffic.up.get(), traffic.down.get());
            println!("{peer}: closed ({end}); {up} bytes client→upstream, {down} upstream→client");
        });
    }
}

/// What a connection's two copies and its watchdog share.
struct Traffic {
    /// The client's address, for the log.
    peer: SocketAddr,
    /// Bytes written to the upstream.
    up: Cell<u64>,
    /// Bytes written to the client.
    down: Cell<u64>,
    /// When a byte last moved, either way.
    last_active: Cell<Instant>,
}

/// Proxies one client: connects to the upstream, then copies both ways
/// until both directions have ended, or until the connection is idle for
/// too long. Returning drops, and so closes, both sockets.
async fn connection(client: TcpStream, config: &Config, traffic: &Traffic) -> io::Result<()> {
    let to = config.upstream.as_str();
    let upstream = xiio::timeout(CONNECT_TIMEOUT, TcpStream::connect(to))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{to}: no answer")))?
        .map_err(|e| io::Error::new(e.kind(), format!("{to}: {e}")))?;
    println!("{}: open, to {}", traffic.peer, upstream.peer_addr()?);
    // The copies write what arrived as soon as it arrived: Nagle's delay
    // here would add to that of the ends.
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    traffic.last_active.set(xiio::time::now());
    xiio::task_group!(|tg| {
        // Each copy reads one stream and writes the other, both shared by
        // reference: a `&TcpStream` reads and writes, no split needed.
        let (up, down) = (&traffic.up, &traffic.down);
        tg.add_task(copy(&client, &upstream, up, traffic, "client→upstream"));
        tg.add_task(copy(&upstream, &client, down, traffic, "upstream→client"));
        // Background: cancelled once both copies are done. Its error fails
        // the group, which cancels the copies.
        tg.add_background(watchdog(&traffic.last_active, config.idle_timeout));
        Ok(())
    })
}

/// Copies `from` to `to` until `from` ends, counting the bytes written in
/// `moved`. How a direction ends:
///
/// - `from` reads end-of-file (its peer shut down writing): the half-close
///   is passed on by shutting down writing to `to`, and the opposite
///   direction goes on.
/// - A read fails (`from`'s peer reset the connection): the error ends the
///   whole connection, since that socket is also the opposite direction's
///   destination. (The other peer then sees a close, not a reset: passing
///   the reset on would take `SO_LINGER` 0, which `TcpStream` cannot set.)
/// - A write fails because `to`'s peer is gone (it reset the connection,
///   or closed its socket): this direction ends, and *only* this one, on
///   purpose. That peer is gone both ways, but what it sent before going
///   is still in this side's kernel buffer, and the opposite direction
///   delivers it (then reads end-of-file, or the reset). Ending the whole
///   connection here would lose it: an upstream that refuses an upload
///   with an answer and closes would see its answer dropped. There is no
///   one to tell on the `from` side: on Linux, shutting down reading
///   sends nothing to the peer, which learns when the connection closes.
async fn copy(
    from: &TcpStream,
    to: &TcpStream,
    moved: &Cell<u64>,
    traffic: &Traffic,
    direction: &str,
) -> io::Result<()> {
    let mut buf = vec![0; BUF_SIZE];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            // `to` may be gone already: then there is no one to tell.
            let _ = to.shutdown(Shutdown::Write);
            return Ok(());
        }
        traffic.last_active.set(xiio::time::now());
        let mut pending = &buf[..n];
        while !pending.is_empty() {
            match to.write(pending).await {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => {
                    pending = &pending[written..];
                    moved.set(moved.get() + written as u64);
                    traffic.last_active.set(xiio::time::now());
                }
                Err(e) if peer_gone(&e) => {
                    let peer = traffic.peer;
                    println!("{peer}: {direction} ends, its destination is gone: {e}");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether a write failed because the peer is gone.
fn peer_gone(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(e.kind(), BrokenPipe | ConnectionReset | NotConnected)
}

/// Fails once no byte has moved either way for `idle` (a peer that stops
/// reading stalls its direction: that counts as idle too). One timer per
/// connection, re-armed only when it fires: the copies merely note the
/// time, instead of resetting a timer at each read.
async fn watchdog(last_active: &Cell<Instant>, idle: Duration) -> io::Result<()> {
    loop {
        let deadline = last_active.get() + idle;
        if xiio::time::now() >= deadline {
            let message = format!("idle for {}ms", idle.as_millis());
            return Err(io::Error::new(io::ErrorKind::TimedOut, message));
        }
        // Bytes moved since the last look push the deadline back.
        xiio::time::sleep_until(deadline).await;
    }
}

// ---- The self-test ----

/// The self-test's idle timeout (on the real clock: generous bounds).
const IDLE: Duration = Duration::from_millis(300);
/// What the echo upstream sends after the client's half-close.
const TAIL_LEN: usize = 1 << 20;

/// Upstreams and proxies in this process, and a client for each check. A
/// failed check panics: the program exits non-zero with its message.
async fn self_test() -> io::Result<()> {
    let echo = TcpListener::bind("127.0.0.1:0")?;
    // The upstreams of two checks, which accept their connection.
    let trickle = TcpListener::bind("127.0.0.1:0")?;
    let refuser = TcpListener::bind("127.0.0.1:0")?;
    xiio::task_group!(|tg| {
        // Background children: cancelled once the checks are done.
        tg.add_background(echo_upstream(&echo));
        // A proxy to `upstream`, as a background child: its address.
        let proxy = |upstream: &TcpListener, idle_timeout, max_connections| {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let upstream = upstream.local_addr()?.to_string();
            let config = Config {
                upstream,
                idle_timeout,
                max_connections,
            };
            tg.add_background(serve(listener, config, std::future::pending()));
            Ok::<_, io::Error>(addr)
        };
        let patient = Duration::from_secs(10);
        check_round_trip(proxy(&echo, patient, 256)?).await?;
        check_idle_timeout(proxy(&echo, IDLE, 256)?).await?;
        check_slow_download(proxy(&trickle, IDLE, 256)?, &trickle).await?;
        check_limit(proxy(&echo, patient, 2)?).await?;
        check_peer_gone(proxy(&refuser, patient, 256)?, &refuser).await?;
        println!("self-test: passed");
        Ok(())
    })
}

/// Echoes each connection until end-of-file, then sends `TAIL_LEN` bytes
/// and closes.
async fn echo_upstream(listener: &TcpListener) -> io::Result<()> {
    xiio::task_group!(|tg| loop {
        let (stream, _) = listener.accept().await?;
        tg.add_task(async move {
            // An error (the proxy closed the connection: the idle check)
            // ends this connection only.
            let _ = echo_then_tail(&stream).await;
        });
    })
}

/// Echoes until end-of-file, then sends `TAIL_LEN` bytes.
async fn echo_then_tail(stream: &TcpStream) -> io::Result<()> {
    let mut buf = vec![0; BUF_SIZE];
    loop {
        match stream.read(&mut buf).await? {
            0 => return stream.write_all(&pattern(TAIL_LEN)).await,
            n => stream.write_all(&buf[..n]).await?,
        }
    }
}

/// 1 MiB through the proxy and back, written and read at once; then a
/// half-close, after which the upstream sends its last `TAIL_LEN` bytes.
async fn check_round_trip(proxy: SocketAddr) -> io::Result<()> {
    let sent = pattern(1 << 20);
    let client = TcpStream::connect(proxy).await?;
    let mut echoed = vec![0; sent.len()];
    // Both at once: one after the other would stall with the buffers full.
    xiio::try_join!(client.write_all(&sent), read_exact(&client, &mut echoed))?;
    assert!(echoed == sent, "the echo differs from what was sent");
    println!("self-test: round trip: 1 MiB sent and echoed at once, byte-exact");
    client.shutdown(Shutdown::Write)?;
    assert!(
        read_to_end(&client).await? == pattern(TAIL_LEN),
        "a bad tail"
    );
    println!(
        "self-test: half-close: after shutting down its writing, the client got the \
         upstream's last {TAIL_LEN} bytes, then end-of-file"
    );
    Ok(())
}

/// A client that says nothing more is closed after the idle timeout.
async fn check_idle_timeout(proxy: SocketAddr) -> io::Result<()> {
    let client = TcpStream::connect(proxy).await?;
    let start = xiio::time::now(); // before the last byte moved
    let mut echo = [0; 5];
    client.write_all(b"ping\n").await?;
    read_exact(&client, &mut echo).await?;
    let rest = xiio::timeout(Duration::from_secs(10), read_to_end(&client)).await??;
    let waited = xiio::time::now() - start;
    assert!(rest.is_empty() && waited >= IDLE, "closed after {waited:?}");
    println!(
        "self-test: idle timeout: a silent connection was closed after {}ms (timeout {}ms)",
        waited.as_millis(),
        IDLE.as_millis()
    );
    Ok(())
}

/// A download slower than the idle timeout, the client silent all along,
/// goes through: the timeout is per connection, not per direction.
async fn check_slow_download(proxy: SocketAddr, upstream: &TcpListener) -> io::Result<()> {
    let client = TcpStream::connect(proxy).await?;
    let (server, _) = upstream.accept().await?;
    let ticks = async {
        // Twice the idle timeout in all, a line every sixth of it.
        for _ in 0..12 {
            xiio::sleep(IDLE / 6).await;
            server.write_all(b"tick\n").await?;
        }
        server.shutdown(Shutdown::Write)
    };
    let ((), got) = xiio::try_join!(ticks, read_to_end(&client))?;
    assert!(got == b"tick\n".repeat(12), "the download was cut");
    println!("self-test: idle timeout: a slow download went through whole, the client silent");
    Ok(())
}

/// With two connections allowed, a third client waits for one to end.
async fn check_limit(proxy: SocketAddr) -> io::Result<()> {
    let a = TcpStream::connect(proxy).await?;
    let b = TcpStream::connect(proxy).await?;
    let mut buf = [0; 2];
    for (client, line) in [(&a, b"a\n"), (&b, b"b\n")] {
        client.write_all(line).await?;
        read_exact(client, &mut buf).await?;
    }
    // The kernel completes the connection, but the proxy does not accept it.
    let c = TcpStream::connect(proxy).await?;
    c.write_all(b"c\n").await?;
    let early = xiio::timeout(Duration::from_millis(300), read_exact(&c, &mut buf)).await;
    assert!(early.is_err(), "a third client was served with two open");
    a.shutdown(Shutdown::Write)?;
    read_to_end(&a).await?; // `a` is closed: its permit goes to `c`
    xiio::timeout(Duration::from_secs(10), read_exact(&c, &mut buf)).await??;
    assert_eq!(&buf, b"c\n");
    for client in [b, c] {
        client.shutdown(Shutdown::Write)?;
        read_to_end(&client).await?;
    }
    println!("self-test: limit: with 2 connections allowed, a third waited until one ended");
    Ok(())
}

/// An upstream that answers before it has read the whole request, and
/// leaves (as an HTTP server refusing too large an upload does). Its
/// answer must reach the client although the proxy's writes to it fail.
///
/// Deterministic on Linux: the upstream writes its answer, shuts down both
/// ways (a FIN after the answer) and closes with the upload unread, which
/// resets the connection. The proxy's next write to it fails, ending the
/// client→upstream direction; the answer and the FIN are in the proxy's
/// receive buffer, which a reset leaves as it is, so the upstream→client
/// direction delivers them. The client uploads without end, so the
/// failing write always comes. (An upstream that only shut down its
/// reading would not do: on Linux that tells the peer nothing, and the
/// proxy's writes would go on succeeding.)
async fn check_peer_gone(proxy: SocketAddr, upstream: &TcpListener) -> io::Result<()> {
    const ANSWER: &[u8] = b"413: too large, stop\n";
    let client = TcpStream::connect(proxy).await?;
    let (server, _) = upstream.accept().await?;
    let uploading = async {
        let chunk = pattern(BUF_SIZE);
        loop {
            if let Err(e) = client.write_all(&chunk).await {
                return Ok::<_, io::Error>(e);
            }
        }
    };
    let answering = async move {
        server.read(&mut [0; 1024]).await?; // the start of the request
        server.write_all(ANSWER).await?;
        server.shutdown(Shutdown::Both)?;
        drop(server); // with the upload unread: a reset
        Ok(())
    };
    let all = async { xiio::try_join!(uploading, answering, read_to_end(&client)) };
    let (upload_error, (), got) = xiio::timeout(Duration::from_secs(10), all).await??;
    assert!(got == ANSWER, "the answer was lost");
    println!(
        "self-test: peer gone: the upstream answered mid-upload and left; the upload \
         ended ({}) and the answer reached the client whole",
        upload_error.kind()
    );
    Ok(())
}

/// `len` bytes that do not repeat at powers of two.
fn pattern(len: usize) -> Vec<u8> {
    let mut bytes = (0..=250).collect::<Vec<u8>>().repeat(len / 251 + 1);
    bytes.truncate(len);
    bytes
}

/// Reads exactly `buf.len()` bytes.
async fn read_exact(mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<()> {
    stream.read_exact(buf).await
}

/// Reads until end-of-file.
async fn read_to_end(mut stream: &TcpStream) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await?;
    Ok(bytes)
}
