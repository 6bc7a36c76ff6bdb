//! An HTTP server on xiio with hyper 1.x: HTTP/1.1 and HTTP/2 (cleartext,
//! "prior knowledge") on one port, every connection a child of the
//! server's task group, and a graceful shutdown on Ctrl-C (SIGINT) or
//! SIGTERM: stop accepting, let each connection finish the requests in
//! flight (for at most a drain deadline), then exit. No tokio runtime
//! anywhere: xiio's sockets, timers and task groups are what hyper runs on
//! (`xiio::compat::{HyperIo, HyperTimer, HyperExecutor}`, feature `hyper`).
//!
//! Written to be copied: a request whose handler panics gets a 500 and
//! takes nothing else down (`xiio::task::catch_panic`, per request and per
//! connection); a client that sends nothing, or only part of its first
//! bytes, is timed out like a slow header; a client that leaves is let go
//! at once; and no client holds up the shutdown beyond the drain deadline.
//!
//! ```text
//! cargo run --example http                    # http://127.0.0.1:8080
//! curl http://127.0.0.1:8080/                 # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:8080/
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo
//! curl http://127.0.0.1:8080/panic            # 500, and the server goes on
//! ```
//!
//! Options: `--addr ADDR` (default `127.0.0.1:8080`), `--header-timeout-ms
//! MS` (default 10,000: how long a client may take to send its request's
//! headers), `--drain-ms MS` (default 10,000: how long, after a stop, the
//! requests in flight get to finish). With `--self-test` it serves on a
//! free port, makes requests to itself over HTTP/1.1 and HTTP/2 (including
//! a 1 MiB body each way, larger than a socket buffer, and a request whose
//! handler panics), then sends itself SIGINT and shuts down:
//!
//! ```text
//! cargo run --example http -- --self-test
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::process::Command;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{Either, select};
use futures::{AsyncRead, AsyncWrite};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use xiio::TaskGroup;
use xiio::compat::{HyperExecutor, HyperIo, HyperTimer};
use xiio::net::{TcpListener, TcpStream};
use xiio::signal::{self, SIGINT, SIGTERM};
use xiio::sync::Promise;
use xiio::task::catch_panic;

/// The first bytes of an HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The server's settings, from the command line.
#[derive(Clone, Copy)]
struct Config {
    /// How long a client may take to send its request's headers (and,
    /// before its first request, the bytes that say its protocol).
    header_timeout: Duration,
    /// How long, after a stop, open connections get to finish the requests
    /// in flight.
    drain: Duration,
}

#[xiio::main]
async fn main() -> io::Result<()> {
    let mut self_test = false;
    let mut addr = "127.0.0.1:8080".to_string();
    let mut config = Config {
        header_timeout: Duration::from_secs(10),
        drain: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&arg));
        match arg.as_str() {
            "--self-test" => (self_test, addr) = (true, "127.0.0.1:0".to_string()),
            "--addr" => addr = value()?,
            "--header-timeout-ms" => config.header_timeout = millis(&value()?)?,
            "--drain-ms" => config.drain = millis(&value()?)?,
            _ => return Err(usage(&arg)),
        }
    }
    // Subscribed first, so that no Ctrl-C is missed.
    let mut signals = xiio::signal::subscribe_signals(&[SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(addr.as_str())?;
    let addr = listener.local_addr()?;
    println!("serving HTTP/1.1 and HTTP/2 on http://{addr}");

    // Set when the server stops accepting and its connections wind down.
    let stop = Promise::new();
    xiio::task_group!(|tg| {
        tg.add_task(accept_loop(&listener, &stop, config, tg));
        if self_test {
            tg.add_task(requests_to_self(addr));
        }
        let signal = signals.recv().await?;
        println!(
            "{}: stopping; open connections finish their requests",
            signal::name(signal).unwrap_or("signal")
        );
        drop(signals); // a second Ctrl-C ends the program at once
        let _ = stop.set(());
        Ok::<_, io::Error>(())
    })?;
    println!("all connections closed");
    Ok(())
}

/// The error for a bad command line.
fn usage(arg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "bad argument {arg:?}; usage: http [--self-test] [--addr ADDR] \
             [--header-timeout-ms MS] [--drain-ms MS]"
        ),
    )
}

/// A number of milliseconds from the command line.
fn millis(value: &str) -> io::Result<Duration> {
    value
        .parse()
        .map(Duration::from_millis)
        .map_err(|_| usage(value))
}

/// Accepts connections until `stop` is set; each is a child of `tg`.
async fn accept_loop<'s, 'e>(
    listener: &'e TcpListener,
    stop: &'e Promise<()>,
    config: Config,
    tg: &'s TaskGroup<'s, 'e, io::Error>,
) -> io::Result<()> {
    loop {
        let accepted = match select(pin!(listener.accept()), pin!(stop.wait())).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => return Ok(()), // stop accepting
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: back off instead of failing the server.
                eprintln!("accept: {e}");
                xiio::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        println!("{peer}: connected");
        let executor = HyperExecutor::new(tg);
        tg.add_task(async move {
            // A failed connection (a client that reset it, or a bug) is
            // logged, not returned: an error, or a panic let through, would
            // cancel every other connection.
            match catch_panic(serve(stream, stop, config, executor)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => println!("{peer}: {e}"),
                Err(panicked) => println!("{peer}: a bug: {panicked}"),
            }
        });
    }
}

/// Serves one connection, in the protocol its first bytes announce.
async fn serve(
    stream: TcpStream,
    stop: &Promise<()>,
    config: Config,
    executor: HyperExecutor<'_, '_, io::Error>,
) -> io::Result<()> {
    // Until the client said which protocol it speaks, it has no request in
    // flight: a stop ends the connection at once.
    let sniffing = xiio::timeout(config.header_timeout, sniff(&stream));
    let sniffed = match select(pin!(sniffing), pin!(stop.wait())).await {
        Either::Left((sniffed, _)) => sniffed,
        Either::Right(_) => return Ok(()),
    };
    let (http2, first_bytes) = match sniffed {
        Ok(Ok(Some(sniffed))) => sniffed,
        Ok(Ok(None)) => return Err(io::Error::other("closed before it sent a request")),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            let timeout = config.header_timeout;
            return Err(io::Error::other(format!(
                "sent no request for {timeout:?}: closing"
            )));
        }
    };
    let io = HyperIo::new(Rewind {
        first_bytes,
        stream,
    });
    let service = hyper::service::service_fn(respond);
    if http2 {
        let conn = hyper::server::conn::http2::Builder::new(executor)
            .timer(HyperTimer)
            .serve_connection(io, service);
        until_stopped(conn, stop, config, |conn| conn.graceful_shutdown()).await
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(HyperTimer)
            .header_read_timeout(config.header_timeout)
            .serve_connection(io, service);
        until_stopped(conn, stop, config, |conn| conn.graceful_shutdown()).await
    }
}

/// Reads a connection's first bytes until they show its protocol: `true`
/// for HTTP/2's preface, `false` for anything else (HTTP/1), with the
/// bytes read; `None` if the client closed first. Reads, not peeks: a peek
/// finds the same partial bytes again and again, and has no way to wait
/// for more.
async fn sniff(stream: &TcpStream) -> io::Result<Option<(bool, Vec<u8>)>> {
    let mut buf = vec![0; PREFACE.len()];
    let mut len = 0;
    while len < PREFACE.len() && buf[..len] == PREFACE[..len] {
        match stream.read(&mut buf[len..]).await? {
            0 => return Ok(None),
            n => len += n,
        }
    }
    buf.truncate(len);
    Ok(Some((buf == PREFACE, buf)))
}

/// A connection whose first bytes were already read (to tell its
/// protocol): hyper reads them first, then the rest of the stream.
struct Rewind {
    /// The bytes read and not yet given to hyper.
    first_bytes: Vec<u8>,
    /// The connection.
    stream: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.first_bytes.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = buf.len().min(self.first_bytes.len());
        buf[..n].copy_from_slice(&self.first_bytes[..n]);
        self.first_bytes.drain(..n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_close(cx)
    }
}

/// Drives a hyper connection; once `stop` is set, asks it to shut down
/// gracefully (finish the requests in flight, take no new ones) and drives
/// it to its end, or to the drain deadline, whichever comes first.
async fn until_stopped<C>(
    conn: C,
    stop: &Promise<()>,
    config: Config,
    shutdown: fn(Pin<&mut C>),
) -> io::Result<()>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut conn = pin!(conn);
    if let Either::Left((done, _)) = select(conn.as_mut(), pin!(stop.wait())).await {
        return done.map_err(io::Error::other);
    }
    shutdown(conn.as_mut());
    match xiio::timeout(config.drain, conn).await {
        Ok(done) => done.map_err(io::Error::other),
        Err(_) => Err(io::Error::other("drain deadline passed: closing")),
    }
}

/// Answers one request; a panic in the application becomes a 500, and
/// only this request sees it.
async fn respond(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    match catch_panic(handle(req)).await {
        Ok(response) => response,
        Err(panicked) => {
            let body = format!("internal error: {panicked}\n");
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            Ok(response)
        }
    }
}

/// The application: `GET /` greets, `POST /echo` sends the body back, and
/// `GET /panic` has a bug.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Response::new(Full::new(Bytes::from(format!(
            "hello from xiio over {:?}\n",
            req.version()
        )))),
        (&Method::POST, "/echo") => {
            let body = req.into_body().collect().await?.to_bytes();
            Response::new(Full::new(body))
        }
        (&Method::GET, "/panic") => {
            let items: Vec<&str> = Vec::new();
            Response::new(Full::new(Bytes::from(items[0]))) // the bug
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from("not found\n")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

/// The self-test: requests to the server over both protocols, then
/// SIGINT to ourselves.
async fn requests_to_self(addr: SocketAddr) -> io::Result<()> {
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    xiio::task_group!(|tg| {
        // HTTP/1.1: the connection's driver is a child; the requests go
        // through `sender`.
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tg.add_task(async move { conn.await.map_err(io::Error::other) });
        let (_, greeting) = request(&mut sender, Request::get("/"), Bytes::new()).await?;
        print!("HTTP/1.1 GET /: {greeting}");
        // A handler that panics: this request gets a 500, the connection
        // and the server go on.
        let (status, error) = request(&mut sender, Request::get("/panic"), Bytes::new()).await?;
        print!("HTTP/1.1 GET /panic: {} {error}", status.as_u16());
        let (_, echoed) = request(&mut sender, Request::post("/echo"), big.clone()).await?;
        assert_eq!(echoed.len(), big.len());
        println!("HTTP/1.1 POST /echo: {} bytes back", echoed.len());
        drop(sender); // ends this client connection
        Ok::<_, io::Error>(())
    })?;
    xiio::task_group!(|tg| {
        // HTTP/2 needs an executor for its streams: the group.
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor::new(tg), HyperIo::new(stream))
                .await
                .map_err(io::Error::other)?;
        tg.add_task(async move { conn.await.map_err(io::Error::other) });
        let (_, greeting) = request(&mut sender, Request::get("/"), Bytes::new()).await?;
        print!("HTTP/2 GET /: {greeting}");
        // A handler that panics: this request gets a 500, the connection
        // and the server go on.
        let (status, error) = request(&mut sender, Request::get("/panic"), Bytes::new()).await?;
        print!("HTTP/2 GET /panic: {} {error}", status.as_u16());
        let (_, echoed) = request(&mut sender, Request::post("/echo"), big.clone()).await?;
        assert_eq!(echoed.len(), big.len());
        println!("HTTP/2 POST /echo: {} bytes back", echoed.len());
        drop(sender);
        Ok::<_, io::Error>(())
    })?;
    let kill = format!("kill -INT {}", std::process::id());
    xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?;
    Ok(())
}

/// A sender of requests, HTTP/1 or HTTP/2.
trait Sender {
    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>>;
}

impl Sender for hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        self.send_request(req).await
    }
}

impl Sender for hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        self.send_request(req).await
    }
}

/// Sends one request: the response's status, and its body as text.
async fn request(
    sender: &mut impl Sender,
    builder: hyper::http::request::Builder,
    body: Bytes,
) -> io::Result<(StatusCode, String)> {
    let req = builder
        .header("host", "localhost")
        .body(Full::new(body))
        .map_err(io::Error::other)?;
    let response = sender.send(req).await.map_err(io::Error::other)?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(io::Error::other)?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}
